/*
 * otlp: spans exported to an OpenTelemetry collector over OTLP/HTTP with the JSON encoding
 * (resourceSpans / scopeSpans / spans, ids in hex, times as strings of Unix nanoseconds). One
 * exporter per event loop, sending with that loop's own upstream client (the same curl multi
 * handle as every upstream call), one export request in flight at a time. Recording never
 * blocks and never waits: spans queue up to tracing.queueSize and beyond that are dropped,
 * as are the spans of an export the collector did not take; both show in /metrics
 * (capproxy_otlp_spans_total{outcome}). Attributes follow the OpenTelemetry HTTP semantic
 * conventions; callers never pass headers, credentials or query strings.
 */
#ifndef CAPPROXY_OTLP_H
#define CAPPROXY_OTLP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <event2/event.h>

#include "base/metrics.h"
#include "base/trace.h"
#include "http/upstream.h"
#include "spec/config.h"

enum otlp_kind { OTLP_KIND_SERVER = 2, OTLP_KIND_CLIENT = 3 };

/* One attribute: a string (<str> non-NULL) or else the integer <num>. */
struct otlp_attr {
    const char *key;
    const char *str;
    long long num;
};

/* A finished span, copied by otlp_record. */
struct otlp_span {
    const uint8_t *trace_id;  /* TRACE_ID_LEN bytes */
    const uint8_t *span_id;   /* TRACE_SPAN_LEN bytes */
    const uint8_t *parent_id; /* TRACE_SPAN_LEN bytes; NULL for a root span */
    const char *name;
    enum otlp_kind kind;
    uint64_t start_ns, end_ns; /* Unix time in nanoseconds (otlp_now_ns) */
    bool error;                /* status ERROR; else left unset, as the conventions say */
    const struct otlp_attr *attrs;
    size_t nattrs;
};

struct otlp;

/* The exporter of <cfg>'s tracing settings on the loop of <base>, sending through <up> and
 * counting into <m> (all borrowed, outliving it); NULL when no endpoint is configured. */
struct otlp *otlp_new(struct event_base *base, struct upstream *up, struct metrics *m,
                      const struct config *cfg);
/* Cancel an export in flight and free what waits (call before upstream_free). NULL-safe. */
void otlp_free(struct otlp *o);
/* Queue span <s>, or drop it (counted) when the queue is full. A full batch is sent at once. */
void otlp_record(struct otlp *o, const struct otlp_span *s);
/* Shutdown: send what waits now rather than at the next interval. True when nothing is left
 * to send or in flight (so the loop may exit). */
bool otlp_drain(struct otlp *o);
/* The wall clock in Unix nanoseconds. */
uint64_t otlp_now_ns(void);
/* The host and port of absolute URL <url> (userinfo, path and query left out), for the
 * server.address and server.port attributes. False when it has none. */
bool otlp_url_host(const char *url, char *host, size_t cap, long *port);

#endif
