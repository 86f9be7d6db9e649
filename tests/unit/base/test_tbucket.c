/*
 * Unit tests for tbucket: refill arithmetic, the burst cap, the reset time, waits in debt and a
 * clock read out of order.
 */
#include "base/tbucket.h"
#include "harness.h"

#define S  TBUCKET_NS_PER_S
#define MS (TBUCKET_NS_PER_S / 1000)

/* A full bucket of 3 lets 3 through at once, refuses the 4th with the wait until a token. */
static void test_burst(void)
{
    struct tbucket b;
    struct tbucket_verdict v;
    tbucket_init(&b, 3, 0);
    CHECK(tbucket_take(&b, 1.0, 3, 0, 0, &v) && v.wait_ns == 0 && v.remaining == 2);
    CHECK(tbucket_take(&b, 1.0, 3, 0, 0, &v) && v.remaining == 1);
    CHECK(tbucket_take(&b, 1.0, 3, 0, 0, &v) && v.remaining == 0);
    CHECK(v.full_ns == 3 * S); /* empty, 1 a second: 3 s to full */
    CHECK(!tbucket_take(&b, 1.0, 3, 0, 0, &v));
    CHECK(!v.ok && v.wait_ns == S && v.remaining == 0 && v.full_ns == 3 * S);
    /* A refusal takes nothing: half a second later the wait is half a second. */
    CHECK(!tbucket_take(&b, 1.0, 3, S / 2, 0, &v) && v.wait_ns == S / 2);
}

/* Tokens come back at the rate, never above the burst. */
static void test_refill(void)
{
    struct tbucket b;
    struct tbucket_verdict v;
    tbucket_init(&b, 2, 0);
    tbucket_take(&b, 10.0, 2, 0, 0, &v);
    tbucket_take(&b, 10.0, 2, 0, 0, &v);
    CHECK(!tbucket_take(&b, 10.0, 2, 50 * MS, 0, &v) && v.wait_ns == 50 * MS);
    CHECK(tbucket_take(&b, 10.0, 2, 100 * MS, 0, &v) && v.remaining == 0);
    CHECK(v.full_ns == 200 * MS);
    /* An hour idle: full at 2, not 36000. */
    CHECK(tbucket_is_full(&b, 10.0, 2, 3600 * S));
    CHECK(tbucket_take(&b, 10.0, 2, 3600 * S, 0, &v) && v.remaining == 1);
    CHECK(v.full_ns == 100 * MS);
    CHECK(!tbucket_is_full(&b, 10.0, 2, 3600 * S + 50 * MS));
    CHECK(tbucket_is_full(&b, 10.0, 2, 3600 * S + 100 * MS));
    /* 600 a minute: 10 a second, the same numbers. */
    tbucket_init(&b, 600, 0);
    for (int i = 0; i < 600; i++)
        tbucket_take(&b, 600.0 / 60, 600, 0, 0, &v);
    CHECK(v.ok && v.remaining == 0 && v.full_ns == 60 * S);
    CHECK(!tbucket_take(&b, 10.0, 600, 0, 0, &v) && v.wait_ns == 100 * MS);
}

/* In debt: takers within the allowed wait go after it, one token apart; beyond it, refused. */
static void test_debt(void)
{
    struct tbucket b;
    struct tbucket_verdict v;
    tbucket_init(&b, 1, 0);
    CHECK(tbucket_take(&b, 4.0, 1, 0, S, &v) && v.wait_ns == 0);
    CHECK(tbucket_take(&b, 4.0, 1, 0, S, &v) && v.wait_ns == 250 * MS);
    CHECK(tbucket_take(&b, 4.0, 1, 0, S, &v) && v.wait_ns == 500 * MS);
    CHECK(tbucket_take(&b, 4.0, 1, 0, S, &v) && v.wait_ns == 750 * MS);
    CHECK(tbucket_take(&b, 4.0, 1, 0, S, &v) && v.wait_ns == S);
    CHECK(!tbucket_take(&b, 4.0, 1, 0, S, &v) && v.wait_ns == 1250 * MS);
    CHECK(v.remaining == 0 && v.full_ns == 1250 * MS);
    /* Time passes: the debt is paid at the rate. */
    CHECK(tbucket_take(&b, 4.0, 1, S, S, &v) && v.wait_ns == 250 * MS);
}

/* A waiting taker that gives up returns its token: the next new taker's wait shrinks by one
 * token's time; a refund never fills the bucket past its burst. */
static void test_refund(void)
{
    struct tbucket b;
    struct tbucket_verdict v;
    tbucket_init(&b, 1, 0);
    for (int64_t i = 0; i < 3; i++) /* now, in 250 ms, in 500 ms */
        CHECK(tbucket_take(&b, 4.0, 1, 0, S, &v) && v.wait_ns == i * 250 * MS);
    tbucket_refund(&b, 4.0, 1, 0); /* the 500 ms one gave up */
    CHECK(tbucket_take(&b, 4.0, 1, 0, S, &v) && v.wait_ns == 500 * MS);
    tbucket_init(&b, 2, 0);
    tbucket_refund(&b, 4.0, 2, S);
    CHECK(b.tokens == 2 && b.last_ns == S);
}

/* A time before the last one (a clock read on another thread) neither refills nor moves the
 * bucket backwards; a smaller burst after a reload caps what is held. */
static void test_clock_order(void)
{
    struct tbucket b;
    struct tbucket_verdict v;
    tbucket_init(&b, 1, 10 * S);
    CHECK(tbucket_take(&b, 1.0, 1, 10 * S, 0, &v));
    CHECK(!tbucket_take(&b, 1.0, 1, 9 * S, 0, &v) && v.wait_ns == S);
    CHECK(b.last_ns == 10 * S);
    CHECK(tbucket_take(&b, 1.0, 1, 11 * S, 0, &v));
    tbucket_init(&b, 100, 0);
    CHECK(tbucket_take(&b, 1.0, 5, 0, 0, &v) && v.remaining == 4);
}

/* The slowest rate the configuration allows (1 a day) and its largest burst (10^9): the time to
 * refill an empty bucket, about 8.6e22 ns, is beyond int64_t. It saturates, never wraps to a
 * negative RateLimit-Reset. */
static void test_reset_beyond_int64(void)
{
    struct tbucket b;
    struct tbucket_verdict v;
    tbucket_init(&b, 1e9, 0);
    b.tokens = 0;
    CHECK(!tbucket_take(&b, 1.0 / 86400, 1e9, 0, 0, &v));
    CHECK(v.wait_ns == 86400 * S); /* one token: a day */
    CHECK(v.full_ns == INT64_MAX);
    /* Just below the limit still exact. */
    tbucket_init(&b, 9e9, 0);
    b.tokens = 0;
    CHECK(!tbucket_take(&b, 1.0, 9e9, 0, 0, &v) && v.full_ns == 9000000000LL * S);
}

int main(void)
{
    RUN(test_burst());
    RUN(test_refill());
    RUN(test_debt());
    RUN(test_refund());
    RUN(test_clock_order());
    RUN(test_reset_beyond_int64());
    return harness_report();
}
