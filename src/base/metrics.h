/*
 * metrics: Prometheus counters and histograms. Each worker thread records into its own shard
 * (one uncontended mutex per shard, so updates never wait on another worker); the admin
 * endpoint merges the shards when /metrics is read.
 */
#ifndef CAPPROXY_METRICS_H
#define CAPPROXY_METRICS_H

#include <stddef.h>

#include "base/util.h"

struct metrics;

struct metrics *metrics_new(void);
void metrics_free(struct metrics *m); /* NULL-safe */

/* One finished client request. <route> may be NULL (no route matched). */
void metrics_request(struct metrics *m, const char *adapter, const char *route, const char *method,
                     int status);
/* One finished upstream transfer: its duration, and the error kind ("refused", "reset",
 * "timeout", ...) or NULL when an HTTP answer came back. */
void metrics_upstream(struct metrics *m, const char *route, double seconds, const char *error);
/* One MCP tools/call: <outcome> is "ok", "tool_error" (upstream status >= 400),
 * "upstream_error" (unreachable, time-out) or "invalid_arguments". */
void metrics_mcp_call(struct metrics *m, const char *tool, const char *outcome);
/* <n> spans meant for the OTLP collector: <outcome> is "exported", "queue_full" (dropped: the
 * exporter's queue was full) or "export_failed" (dropped: the collector did not take them). */
void metrics_otlp_spans(struct metrics *m, const char *outcome, size_t n);

/* Gauges and constant series rendered along with the shards. */
struct metrics_gauges {
    long inflight;    /* client requests being served */
    long connections; /* open client connections */
    int ready;        /* 1 when serving, 0 when starting or draining */
    const char *version;
};

/* Append <v> escaped as a Prometheus label value (backslash, quote, newline) to <out>: for
 * modules rendering series of their own (http/resil.c). */
void metrics_label_value(struct strbuf *out, const char *v);

/* Render every shard merged, plus <g>, in the Prometheus text format into <out>. */
void metrics_render(struct metrics *const *shards, size_t n, const struct metrics_gauges *g,
                    struct strbuf *out);

#endif
