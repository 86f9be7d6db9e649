/*
 * admin: the admin listener (served by worker 0): /healthz, /readyz and /metrics, the last
 * summing every loop's metrics shard and requests in flight.
 */
#ifndef CAPPROXY_ADMIN_H
#define CAPPROXY_ADMIN_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include <event2/http.h>

#include "base/util.h"
#include "http/loop.h"

/* What the admin endpoints read; owned by the server, outlives the admin listener. */
struct admin_view {
    struct loop *const *loops; /* every worker's loop */
    size_t nloops;
    struct loop_shared *shared; /* connections, draining */
    const atomic_int *ready;    /* listening (and not draining) */
};

/* Whether the process serves traffic (listening, not draining); <*state> (may be NULL) gets
 * "ready", "draining" or "starting". The admin /readyz and the control /health/ready. */
bool admin_ready(const struct admin_view *v, const char **state);
/* The Prometheus text of /metrics into <out> (the admin listener's and the control adapter's). */
void admin_metrics(const struct admin_view *v, struct strbuf *out);

/* Serve the admin endpoints on listening socket <fd> (taken over, also on failure) on <base>.
 * 0 with <*out> the evhttp object to free at shutdown, or -1. */
int admin_start(struct event_base *base, int fd, const struct admin_view *v, struct evhttp **out);

#endif
