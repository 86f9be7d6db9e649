/*
 * resil: the resilience layer between the callers (loop_forward) and upstream_start, per
 * consumed API (outreq.api): bounded retries with full-jitter back-off, Retry-After and a retry
 * budget; a circuit breaker per upstream host (scheme://host:port); a cap on the calls in
 * progress with a bounded FIFO wait queue. A request without an api (capproxy's own fetches) goes
 * straight through.
 *
 * Two kinds of state. The process's (struct resil_shared, owned by app/server.c through
 * loop_shared, or by the stdio loop): breakers, retry budgets and the counters /metrics shows,
 * behind one mutex held for a few instructions, never across a loop turn. Each loop's (struct
 * resil): the calls it runs, its wait queues and its share of each API's concurrency cap (the cap
 * divided evenly among the loops, like the connections SO_REUSEPORT spreads over them), touched
 * by that loop's thread only.
 *
 * A call is cancellable whatever it is doing (a transfer, a back-off, a place in the queue):
 * resil_cancel frees its timer and the done callback never runs.
 */
#ifndef CAPPROXY_RESIL_H
#define CAPPROXY_RESIL_H

#include <stdbool.h>
#include <stdint.h>

#include <event2/event.h>

#include "base/util.h"
#include "core/outreq.h"
#include "http/upstream.h"
#include "spec/config.h"

/* ---- pure parts (unit-tested) ---- */

/* The back-off before retry <attempt> (1 for the first retry): full jitter, a uniform draw from
 * [0, min(cap, base * 2^(attempt-1))], <rnd> the random draw. */
long resil_backoff_ms(long base_ms, long cap_ms, int attempt, uint32_t rnd);
/* A Retry-After value (RFC 9110 10.2.3: delta seconds or an HTTP date) as ms from <now_s>
 * (wall-clock seconds); a date in the past is 0. -1 when it is neither. */
long resil_retry_after_ms(const char *v, int64_t now_s);

/* The retry budget of one API: requests and retries over the last RESIL_BUDGET_WINDOW
 * seconds, in one-second buckets. */
#define RESIL_BUDGET_WINDOW 10
struct resil_budget {
    int64_t sec[RESIL_BUDGET_WINDOW];
    long requests[RESIL_BUDGET_WINDOW];
    long retries[RESIL_BUDGET_WINDOW];
};
/* Count a first attempt at second <now_s>. */
void resil_budget_request(struct resil_budget *b, int64_t now_s);
/* Whether one more retry fits (<percent> of the window's requests plus <min_per_s> per second of
 * the window); counts it when it does. */
bool resil_budget_take(struct resil_budget *b, int64_t now_s, long percent, long min_per_s);

enum resil_bstate { RESIL_CLOSED, RESIL_OPEN, RESIL_HALF_OPEN };
struct resil_breaker {
    enum resil_bstate state;
    long failures;    /* consecutive, while closed */
    int64_t until_ms; /* open: when a probe may go */
    long cooldown_ms; /* the current one (doubles while probes fail) */
    bool probing;     /* half-open: the one probe is out */
};
enum resil_admit { RESIL_ADMIT, RESIL_ADMIT_PROBE, RESIL_REJECT };
/* May a call go to the host now (<now_ms> monotonic)? A reject sets <*retry_after_ms>. */
enum resil_admit resil_breaker_admit(struct resil_breaker *b, const struct config_resil *s,
                                     int64_t now_ms, long *retry_after_ms);
/* The outcome of an attempt (<probe>: it was the half-open probe). Returns the new state when
 * this changed it, else -1. */
int resil_breaker_record(struct resil_breaker *b, const struct config_resil *s, bool probe,
                         bool failure, int64_t now_ms);
/* The probe went away without an outcome (cancelled): let the next call probe. */
void resil_breaker_abandon(struct resil_breaker *b);
const char *resil_bstate_name(enum resil_bstate st); /* "closed", "open", "half_open" */

/* ---- process-wide state ---- */

struct resil_shared;
struct resil_shared *resil_shared_new(void);
void resil_shared_free(struct resil_shared *sh); /* after every loop using it */
/* The resilience series of /metrics, in the Prometheus text format, appended to <out>. */
void resil_metrics_render(struct resil_shared *sh, struct strbuf *out);

/* ---- one loop's ---- */

struct resil;
struct resil_call;

/* For the loop on <base> sending through <u>, one of <nloops> loops sharing <sh>. */
struct resil *resil_new(struct event_base *base, struct upstream *u, struct resil_shared *sh,
                        int nloops);
/* Cancel every call still live (no callbacks). Before upstream_free. */
void resil_free(struct resil *r);
struct ratelimit;
/* Retries take their turn under the consumed API's outbound rate (consumers[].rate) from <rl>
 * (borrowed; NULL: no rate), like first attempts do in exchange.c: a retry is a transfer the
 * upstream's quota counts. */
void resil_set_ratelimit(struct resil *r, struct ratelimit *rl);

/* Send <req> (borrowed until <done> or cancel; its timeout_ms is set per attempt) under the
 * settings <cfg> has for req->api. <done> runs exactly once, later, from the loop, with the
 * final attempt's result or capproxy's own answer: a 503 problem with Retry-After when the
 * circuit is open or the queue is full (res->refused says which), a time-out when the deadline
 * passed in the queue. NULL when the first transfer could not be set up. */
struct resil_call *resil_start(struct resil *r, const struct config *cfg, struct outreq *req,
                               upstream_done_fn done, void *arg);
/* Stop <c> wherever it is; <done> will not run. NULL-safe; a no-op from inside its own done. */
void resil_cancel(struct resil_call *c);
/* An attempt of a call ended with <res> and is retried after <delay_ms>: the caller's chance to
 * close that attempt's client span and give the next one a new span id (one span per attempt,
 * as W3C trace context and OpenTelemetry ask). It must not cancel the call. <arg> is done's. */
typedef void (*resil_retry_fn)(const struct upstream_result *res, long delay_ms, void *arg);
/* Set after resil_start (no attempt ends inside it); NULL-safe. */
void resil_on_retry(struct resil_call *c, resil_retry_fn fn);

#endif
