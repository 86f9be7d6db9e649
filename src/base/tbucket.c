/*
 * tbucket: see tbucket.h.
 */
#include "base/tbucket.h"

#include "base/fnum.h"

/* <b>'s tokens at <now_ns> (at most <burst>), without changing it. */
static double tokens_at(const struct tbucket *b, double rate, double burst, int64_t now_ns)
{
    double t = b->tokens;
    if (now_ns > b->last_ns)
        t += (double)(now_ns - b->last_ns) * rate / (double)TBUCKET_NS_PER_S;
    return t > burst ? burst : t;
}

/* Nanoseconds until <have> tokens grow to <want> at <rate> a second (0 when already there);
 * rounded up, so that a taker woken after it finds its token. */
static int64_t ns_until(double have, double want, double rate)
{
    if (have >= want)
        return 0;
    return fnum_ceil_i64((want - have) * (double)TBUCKET_NS_PER_S / rate);
}

void tbucket_init(struct tbucket *b, double burst, int64_t now_ns)
{
    b->tokens = burst;
    b->last_ns = now_ns;
}

bool tbucket_take(struct tbucket *b, double rate, double burst, int64_t now_ns, int64_t max_wait_ns,
                  struct tbucket_verdict *v)
{
    b->tokens = tokens_at(b, rate, burst, now_ns);
    if (now_ns > b->last_ns)
        b->last_ns = now_ns;
    int64_t wait = ns_until(b->tokens, 1.0, rate);
    v->ok = wait == 0 || wait <= max_wait_ns;
    v->wait_ns = wait;
    if (v->ok)
        b->tokens -= 1.0;
    v->remaining = b->tokens >= 1.0 ? (long)b->tokens : 0; /* truncation: floor, as positive */
    v->full_ns = ns_until(b->tokens, burst, rate);
    return v->ok;
}

void tbucket_refund(struct tbucket *b, double rate, double burst, int64_t now_ns)
{
    b->tokens = tokens_at(b, rate, burst, now_ns) + 1.0;
    if (b->tokens > burst)
        b->tokens = burst;
    if (now_ns > b->last_ns)
        b->last_ns = now_ns;
}

bool tbucket_is_full(const struct tbucket *b, double rate, double burst, int64_t now_ns)
{
    return tokens_at(b, rate, burst, now_ns) >= burst;
}
