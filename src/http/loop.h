/*
 * loop: one event loop's context, what the exchange and the front ends need from the thread
 * they run on: the event base, the upstream client, the metrics shard, the current runtime,
 * the connection table and the process-wide limits. Created, run and freed by its owner thread
 * (app/server.c for the workers, front/mcp_stdio.c for stdio); everyone else reads it through
 * these functions only.
 */
#ifndef CAPPROXY_LOOP_H
#define CAPPROXY_LOOP_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include <event2/event.h>

#include "base/metrics.h"
#include "base/trace.h"
#include "core/mapping.h"
#include "core/runtime.h"
#include "http/resil.h"
#include "http/upstream.h"

/* What every loop of the process shares; owned by the process (app/server.c), outlives every
 * loop. */
struct loop_shared {
    atomic_long connections; /* open client connections, all loops */
    atomic_int draining;     /* SIGTERM received: finish in-flight requests, then exit */
    char rid_prefix[17];     /* random per process: request ids are unique across replicas */
    /* The rate limits of every loop (http/ratelimit.h). */
    struct ratelimit *ratelimit;
    struct resil_shared *resil; /* breakers, retry budgets, per-API counters (http/resil.h) */
};

struct loop;
struct conn_table;

enum loop_flags {
    LOOP_EARLY_CLOSE = 1, /* ask for EV_CLOSED (the client-abort watcher); warn without it */
    LOOP_POLL = 2,        /* avoid epoll: stdin may be a regular file or /dev/null */
};

/* A loop numbered <id> (in request ids) sharing <sh> (NULL: no connection limit, never
 * draining), serving <rt> (a reference is taken). <nloops> loops share the upstream per-host
 * connection cap. NULL when the event base or the upstream client cannot be made (logged). */
struct loop *loop_new(int id, struct loop_shared *sh, const struct runtime *rt, int nloops,
                      int flags);
/* Free the upstream client, the runtime references, the connection table, the metrics shard and
 * the event base, in that order. Free the evhttp objects and events on the base first: closing
 * their connections calls back into the upstream client and the connection table. */
void loop_free(struct loop *l);

struct event_base *loop_base(const struct loop *l);
struct upstream *loop_upstream(const struct loop *l);
struct metrics *loop_metrics(const struct loop *l);
/* The current runtime and its configuration (a new request pins it: loop_exchange_begin). */
const struct runtime *loop_runtime(const struct loop *l);
const struct config *loop_config(const struct loop *l);
/* Switch to <rt>, whose reference the loop takes over; the old one is released. From the loop's
 * own thread only. */
void loop_set_runtime(struct loop *l, const struct runtime *rt);
/* Client requests in progress on this loop (read from any thread: /metrics, the drain). */
long loop_inflight(const struct loop *l);
bool loop_draining(const struct loop *l);
/* A new request id: the per-process prefix, this loop's id and a counter. */
void loop_new_rid(struct loop *l, char *out, size_t cap);

struct ratelimit;
/* The process's rate limits (http/ratelimit.h); NULL without a shared part (stdio). */
struct ratelimit *loop_ratelimit(const struct loop *l);

struct oauth_state;
/* This loop's OAuth resource-server state (http/oauth.h), made on first use. */
struct oauth_state *loop_oauth(struct loop *l);

/* For the exchange and its connections only. */
/* Count a new client connection; true when it is over limits.maxConnections (of the current
 * configuration, so it follows reloads). loop_conn_down uncounts it. */
bool loop_conn_up(struct loop *l);
void loop_conn_down(struct loop *l);
/* A request starts: counted in flight, and the current runtime pinned (returned, referenced)
 * so that a reload cannot free what it uses. loop_exchange_end undoes both. */
const struct runtime *loop_exchange_begin(struct loop *l);
void loop_exchange_end(struct loop *l, const struct runtime *rt);
struct conn_table *loop_conns(struct loop *l);

/* Start the upstream call <out> describes (borrowed until <done> runs or the call is cancelled
 * with resil_cancel), through the resilience layer (http/resil.h: retries, circuit breaker,
 * per-API concurrency cap) under the loop's current configuration. With a <rid>, an
 * X-Request-Id header carries it upstream so that both sides' logs can be joined (the HTTP
 * front ends); stdio passes NULL and sends none. NULL when the transfer could not start.
 * Records no metrics: that is the caller's business. */
struct resil_call *loop_forward(struct loop *l, struct outreq *out, const char *rid,
                                upstream_done_fn done, void *arg);

/* Add the headers of one upstream hop to <out>, before loop_forward: a traceparent in trace <t>
 * with a new span id (stored in <span_id>; <t> NULL: a new trace of its own), <t>'s tracestate,
 * and User-Agent: the caller's <ua> (NULL when none; left out when over 512 bytes or holding
 * control bytes) with " capproxy/<version>" appended, unless the document maps a User-Agent. */
void loop_hop_headers(struct loop *l, struct outreq *out, const struct trace_ctx *t,
                      const char *ua, uint8_t span_id[TRACE_SPAN_LEN]);
struct otlp;
/* This loop's span exporter (http/otlp.h); NULL when export is off. */
struct otlp *loop_otlp(const struct loop *l);
/* At shutdown, once no request is in flight: send the spans still waiting; true when nothing is
 * left (the loop may then exit). */
bool loop_tracing_drained(struct loop *l);

/* What a front end's evhttp callback receives for one listener: the loop and which listener of
 * the runtime it serves. Owned by whoever made the evhttp object (app/server.c). */
struct front_listener {
    struct loop *loop;
    size_t index; /* into runtime.listeners of the loop's current runtime */
    int port;     /* the port bound for it (a configured port 0 resolved) */
};

/* The listener <fl> serves in <rt> (the runtime a request pinned, which is the loop's current
 * one while the front end's handler runs). */
const struct rt_listener *front_listener_get(const struct front_listener *fl,
                                             const struct runtime *rt);

#endif
