/*
 * test_resil: the pure parts of http/resil.c (back-off bounds, Retry-After in both forms, the
 * retry budget's arithmetic, the breaker's state machine) and the resilience settings of the
 * configuration (process-wide, per consumer, the deprecated maxConnectionsPerHost).
 */
#include "http/resil.h"

#include <stdlib.h>
#include <string.h>

#include "base/diag.h"
#include "harness.h"
#include "spec/config.h"

static void test_backoff_bounds(void)
{
    /* rnd 0 is the bottom, UINT32_MAX the top of [0, min(cap, base * 2^(n-1))]. */
    CHECK(resil_backoff_ms(100, 2000, 1, 0) == 0);
    CHECK(resil_backoff_ms(100, 2000, 1, UINT32_MAX) == 100);
    CHECK(resil_backoff_ms(100, 2000, 2, UINT32_MAX) == 200);
    CHECK(resil_backoff_ms(100, 2000, 3, UINT32_MAX) == 400);
    CHECK(resil_backoff_ms(100, 2000, 5, UINT32_MAX) == 1600);
    CHECK(resil_backoff_ms(100, 2000, 6, UINT32_MAX) == 2000);  /* capped */
    CHECK(resil_backoff_ms(100, 2000, 60, UINT32_MAX) == 2000); /* no overflow */
    CHECK(resil_backoff_ms(100, 2000, 1, UINT32_MAX / 2) == 50);
    CHECK(resil_backoff_ms(0, 2000, 3, UINT32_MAX) == 0); /* no back-off configured */
    /* Any draw stays within the bound. */
    uint32_t x = 12345;
    for (int i = 0; i < 1000; i++) {
        x = x * 1664525u + 1013904223u;
        long d = resil_backoff_ms(100, 1000, 1 + i % 8, x);
        long top = 100L << (i % 8);
        CHECK(d >= 0 && d <= (top < 1000 ? top : 1000));
    }
}

static void test_retry_after(void)
{
    CHECK(resil_retry_after_ms("0", 0) == 0);
    CHECK(resil_retry_after_ms("3", 0) == 3000);
    CHECK(resil_retry_after_ms(" 120 ", 0) == 120000);
    CHECK(resil_retry_after_ms("", 0) == -1);
    CHECK(resil_retry_after_ms(NULL, 0) == -1);
    CHECK(resil_retry_after_ms("-1", 0) == -1);
    CHECK(resil_retry_after_ms("1.5", 0) == -1);
    CHECK(resil_retry_after_ms("99999999999999", 0) == -1);
    /* Sun, 06 Nov 1994 08:49:37 GMT is 784111777. */
    CHECK(resil_retry_after_ms("Sun, 06 Nov 1994 08:49:37 GMT", 784111770) == 7000);
    CHECK(resil_retry_after_ms("Sun, 06 Nov 1994 08:49:37 GMT", 784111777) == 0);
    CHECK(resil_retry_after_ms("Sun, 06 Nov 1994 08:49:37 GMT", 784111800) == 0); /* past */
    CHECK(resil_retry_after_ms("Wed, 31 Dec 2025 23:59:59 GMT", 1767225599 - 2) == 2000);
    /* libcurl's curl_getdate reads the date: the obsolete forms too (RFC 9110 5.6.7) */
    CHECK(resil_retry_after_ms("Sunday, 06-Nov-94 08:49:37 GMT", 784111770) == 7000);
    CHECK(resil_retry_after_ms("Sun Nov  6 08:49:37 1994", 784111770) == 7000);
    CHECK(resil_retry_after_ms("Sun, 06 Nov 1994 08:49:37 UTC", 784111770) == 7000);
    CHECK(resil_retry_after_ms("Sun, 06 Foo 1994 08:49:37 GMT", 0) == -1);
    CHECK(resil_retry_after_ms("Sun, 06 Nov 1994 25:49:37 GMT", 0) == -1);
    CHECK(resil_retry_after_ms("soon", 0) == -1);
}

static void test_budget(void)
{
    struct resil_budget b;
    memset(&b, 0, sizeof b);
    /* No requests: only the minimum, 1 per second over the 10 s window. */
    int got = 0;
    for (int i = 0; i < 50; i++)
        got += resil_budget_take(&b, 1000, 20, 1);
    CHECK(got == 10);
    /* 100 requests in the window at 20 %: 20 more. */
    memset(&b, 0, sizeof b);
    for (int i = 0; i < 100; i++)
        resil_budget_request(&b, 2000 + i % 5);
    got = 0;
    for (int i = 0; i < 100; i++)
        got += resil_budget_take(&b, 2004, 20, 0);
    CHECK(got == 20);
    /* The window moves on: 10 s later the old requests and retries no longer count. */
    CHECK(!resil_budget_take(&b, 2004, 20, 0));
    CHECK(!resil_budget_take(&b, 2015, 20, 0));
    for (int i = 0; i < 10; i++)
        resil_budget_request(&b, 2015);
    CHECK(resil_budget_take(&b, 2015, 20, 0));
    CHECK(resil_budget_take(&b, 2015, 20, 0));
    CHECK(!resil_budget_take(&b, 2015, 20, 0));
    /* 0 % and no minimum: never. */
    memset(&b, 0, sizeof b);
    resil_budget_request(&b, 5);
    CHECK(!resil_budget_take(&b, 5, 0, 0));
}

static void test_breaker(void)
{
    struct config_resil s = {
        .breaker_failures = 3, .breaker_cooldown_ms = 1000, .breaker_max_cooldown_ms = 3000};
    struct resil_breaker b;
    memset(&b, 0, sizeof b);
    long ra = 0;
    CHECK(resil_breaker_admit(&b, &s, 0, &ra) == RESIL_ADMIT);
    /* Failures must be consecutive: a success resets the count. */
    CHECK(resil_breaker_record(&b, &s, false, true, 0) == -1);
    CHECK(resil_breaker_record(&b, &s, false, true, 0) == -1);
    CHECK(resil_breaker_record(&b, &s, false, false, 0) == -1);
    CHECK(resil_breaker_record(&b, &s, false, true, 0) == -1);
    CHECK(resil_breaker_record(&b, &s, false, true, 0) == -1);
    CHECK(b.state == RESIL_CLOSED);
    CHECK(resil_breaker_record(&b, &s, false, true, 100) == RESIL_OPEN);
    /* Open: rejected, with the time left as Retry-After. */
    CHECK(resil_breaker_admit(&b, &s, 600, &ra) == RESIL_REJECT && ra == 500);
    /* A call admitted before it opened does not change it. */
    CHECK(resil_breaker_record(&b, &s, false, false, 700) == -1 && b.state == RESIL_OPEN);
    /* After the cool-down: one probe, the others rejected. */
    CHECK(resil_breaker_admit(&b, &s, 1100, &ra) == RESIL_ADMIT_PROBE);
    CHECK(b.state == RESIL_HALF_OPEN);
    CHECK(resil_breaker_admit(&b, &s, 1101, &ra) == RESIL_REJECT);
    /* The probe fails: open again for twice the cool-down. */
    CHECK(resil_breaker_record(&b, &s, true, true, 1200) == RESIL_OPEN);
    CHECK(b.cooldown_ms == 2000);
    CHECK(resil_breaker_admit(&b, &s, 3199, &ra) == RESIL_REJECT && ra == 1);
    CHECK(resil_breaker_admit(&b, &s, 3200, &ra) == RESIL_ADMIT_PROBE);
    CHECK(resil_breaker_record(&b, &s, true, true, 3200) == RESIL_OPEN);
    CHECK(b.cooldown_ms == 3000); /* capped */
    /* A cancelled probe lets the next call probe. */
    CHECK(resil_breaker_admit(&b, &s, 6200, &ra) == RESIL_ADMIT_PROBE);
    resil_breaker_abandon(&b);
    CHECK(resil_breaker_admit(&b, &s, 6201, &ra) == RESIL_ADMIT_PROBE);
    /* Its success closes the circuit and resets the cool-down. */
    CHECK(resil_breaker_record(&b, &s, true, false, 6300) == RESIL_CLOSED);
    CHECK(b.state == RESIL_CLOSED && b.failures == 0);
    CHECK(resil_breaker_admit(&b, &s, 6301, &ra) == RESIL_ADMIT);
    for (int i = 0; i < 3; i++)
        resil_breaker_record(&b, &s, false, true, 7000);
    CHECK(b.state == RESIL_OPEN && b.cooldown_ms == 1000);
    /* breakerFailures 0: no breaker at all. */
    struct config_resil off = s;
    off.breaker_failures = 0;
    memset(&b, 0, sizeof b);
    for (int i = 0; i < 100; i++)
        CHECK(resil_breaker_record(&b, &off, false, true, 0) == -1);
    CHECK(resil_breaker_admit(&b, &off, 0, &ra) == RESIL_ADMIT);
    CHECK_STR(resil_bstate_name(RESIL_HALF_OPEN), "half_open");
}

static int load(struct config *c, const char *yaml, struct diag *d)
{
    config_defaults(c);
    diag_init(d);
    return config_load_buffer(c, "c.yaml", yaml, strlen(yaml), d);
}

static void test_config(void)
{
    struct config c;
    struct diag d;
    CHECK(load(&c,
               "upstream:\n"
               "  retries: 1\n"
               "  retryBackoff: 50ms\n"
               "  maxConcurrent: 10\n"
               "  breakerCooldown: 2s\n"
               "consumers:\n"
               "  - namespace: 'slow-*'\n"
               "    retries: 0\n"
               "    queue: 5\n",
               &d) == 0);
    CHECK(d.n == 0);
    struct config_resil r;
    config_resil_for(&c, "other", &r);
    CHECK(r.retries == 1 && r.backoff_base_ms == 50 && r.max_concurrent == 10 && r.queue == 1024);
    CHECK(r.breaker_cooldown_ms == 2000 && r.breaker_failures == 5 && r.budget_percent == 20);
    config_resil_for(&c, "slow-api", &r);
    CHECK(r.retries == 0 && r.queue == 5 && r.max_concurrent == 10 && r.backoff_base_ms == 50);
    config_resil_for(&c, NULL, &r);
    CHECK(r.retries == 1);
    config_deinit(&c);
    diag_deinit(&d);

    /* The old per-host cap is a deprecated alias, with a warning at its place. */
    CHECK(load(&c, "upstream:\n  maxConnectionsPerHost: 64\n", &d) == 0);
    CHECK(c.resil.max_concurrent == 64);
    CHECK(d.n == 1 && diag_contains(&d, "c.yaml:2:26") &&
          diag_contains(&d, "'maxConnectionsPerHost' is deprecated"));
    config_deinit(&c);
    diag_deinit(&d);

    /* Bad values: file:line:col, and "did you mean". */
    CHECK(load(&c,
               "upstream:\n"
               "  retries: 11\n"
               "  breakerCooldown: soon\n"
               "consumers:\n"
               "  - namespace: x\n"
               "    maxConcurent: 3\n",
               &d) == -1);
    CHECK(diag_contains(&d, "c.yaml:2:12") &&
          diag_contains(&d, "'retries' expects a whole number"));
    CHECK(diag_contains(&d, "c.yaml:3:20") && diag_contains(&d, "'breakerCooldown' expects a"));
    CHECK(diag_contains(&d, "c.yaml:6:5") && diag_contains(&d, "did you mean 'maxConcurrent'?"));
    config_deinit(&c);
    diag_deinit(&d);

    /* The environment wins. */
    setenv("CAPPROXY_UPSTREAM_RETRIES", "4", 1);
    setenv("CAPPROXY_UPSTREAM_MAX_CONCURRENT", "0", 1);
    setenv("CAPPROXY_UPSTREAM_BREAKER_COOLDOWN", "3s", 1);
    CHECK(load(&c, "upstream:\n  retries: 1\n", &d) == 0);
    CHECK(config_apply_env(&c, &d) == 0);
    CHECK(c.resil.retries == 4 && c.resil.max_concurrent == 0);
    CHECK(c.resil.breaker_cooldown_ms == 3000);
    setenv("CAPPROXY_UPSTREAM_QUEUE", "lots", 1);
    CHECK(config_apply_env(&c, &d) == -1);
    CHECK(diag_contains(&d, "CAPPROXY_UPSTREAM_QUEUE"));
    unsetenv("CAPPROXY_UPSTREAM_RETRIES");
    unsetenv("CAPPROXY_UPSTREAM_MAX_CONCURRENT");
    unsetenv("CAPPROXY_UPSTREAM_BREAKER_COOLDOWN");
    unsetenv("CAPPROXY_UPSTREAM_QUEUE");
    config_deinit(&c);
    diag_deinit(&d);
}

int main(void)
{
    RUN(test_backoff_bounds());
    RUN(test_retry_after());
    RUN(test_budget());
    RUN(test_breaker());
    RUN(test_config());
    return harness_report();
}
