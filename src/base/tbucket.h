/*
 * tbucket: a token bucket, pure arithmetic on a time the caller passes (nanoseconds of the
 * monotonic clock), so that it is exact to test and cheap under a lock. A bucket holds at most
 * <burst> tokens and gains <rate> tokens a second; a request takes one. A taker may be allowed to
 * go into debt (the bucket below zero) when the wait until its token exists is short enough:
 * it then goes after that wait, and every later taker waits behind it, which spaces requests
 * evenly without a queue (the outbound rate per consumed API).
 */
#ifndef CAPPROXY_TBUCKET_H
#define CAPPROXY_TBUCKET_H

#include <stdbool.h>
#include <stdint.h>

#define TBUCKET_NS_PER_S 1000000000LL

struct tbucket {
    double tokens;   /* may be negative: tokens promised to takers that are waiting */
    int64_t last_ns; /* when <tokens> was last brought up to date */
};

/* The outcome of one tbucket_take. */
struct tbucket_verdict {
    bool ok;         /* the request may go (after <wait_ns>) */
    int64_t wait_ns; /* ok: how long to wait first (0: now); refused: until a token exists */
    long remaining;  /* whole tokens left after this take (never negative) */
    int64_t full_ns; /* until the bucket is full again (the RateLimit-Reset of the draft) */
};

/* A full bucket of <burst> tokens at <now_ns>. */
void tbucket_init(struct tbucket *b, double burst, int64_t now_ns);
/* Take one token at <now_ns> from <b>, which refills at <rate> tokens a second (> 0) up to
 * <burst> (>= 1). Without a token, the take still succeeds, in debt, when the token would exist
 * within <max_wait_ns> (0: never in debt). A refused take changes nothing but the refill. A
 * <now_ns> before the last one (another thread read the clock earlier) counts as no time. */
bool tbucket_take(struct tbucket *b, double rate, double burst, int64_t now_ns, int64_t max_wait_ns,
                  struct tbucket_verdict *v);
/* Give back the token of a take that never went (its taker gave up while waiting): the takers
 * behind it keep their turns, the next new one goes a token's time sooner. */
void tbucket_refund(struct tbucket *b, double rate, double burst, int64_t now_ns);
/* Whether <b> is full at <now_ns>: it then holds nothing a new bucket would not (an idle key
 * that may be forgotten). */
bool tbucket_is_full(const struct tbucket *b, double rate, double burst, int64_t now_ns);

#endif
