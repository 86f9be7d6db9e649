/*
 * trace: W3C Trace Context (https://www.w3.org/TR/trace-context/): the traceparent and
 * tracestate headers parsed strictly and written, and the random trace and span ids. An
 * invalid traceparent is never forwarded: the request starts a new trace instead, and its
 * tracestate is dropped with it (the spec forbids reading tracestate without a valid parent).
 * Pure; the ids come from a per-thread generator seeded from the CSPRNG (base/crypto.h).
 */
#ifndef CAPPROXY_TRACE_H
#define CAPPROXY_TRACE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TRACE_ID_LEN       16
#define TRACE_SPAN_LEN     8
#define TRACE_PARENT_LEN   55 /* "00-" 32 hex "-" 16 hex "-" 2 hex */
#define TRACE_STATE_MAX    512
#define TRACE_FLAG_SAMPLED 0x01

/* One request's trace: the caller's (when it sent a valid traceparent) or a new one. */
struct trace_ctx {
    uint8_t trace_id[TRACE_ID_LEN];
    uint8_t parent_id[TRACE_SPAN_LEN]; /* the caller's span; zero when the trace starts here */
    uint8_t span_id[TRACE_SPAN_LEN];   /* this request's own (server) span */
    uint8_t flags;                     /* only TRACE_FLAG_SAMPLED is kept */
    bool remote;                       /* the caller sent a valid traceparent */
    char state[TRACE_STATE_MAX + 1];   /* tracestate to forward; "" when none */
};

/* Parse traceparent <s>: version 00 exactly 55 characters; a later version (not ff) at least
 * 55, read as 00 (the spec's forward compatibility). Lowercase hex only, trace and parent ids
 * not all zero. 0, or -1 when invalid (outputs untouched). */
int trace_parse_parent(const char *s, uint8_t trace_id[TRACE_ID_LEN],
                       uint8_t parent_id[TRACE_SPAN_LEN], uint8_t *flags);
/* Whether tracestate <s> looks valid: 1 to TRACE_STATE_MAX bytes, at most 32 comma-separated
 * key=value members, keys of [a-z0-9_*-/@], values of printable ASCII without ',' and '='. */
bool trace_state_ok(const char *s);
/* Begin a request's trace from the caller's headers (either may be NULL): continue a valid
 * traceparent (its sampled flag followed), else start a new trace, sampled when <sample_new>.
 * A new span id for this request either way. */
void trace_begin(struct trace_ctx *t, const char *traceparent, const char *tracestate,
                 bool sample_new);
/* "00-<trace>-<span>-<flags>" into <out> (TRACE_PARENT_LEN + 1 bytes). */
void trace_format_parent(const uint8_t trace_id[TRACE_ID_LEN],
                         const uint8_t span_id[TRACE_SPAN_LEN], uint8_t flags, char *out);
/* A new random, non-zero span id. */
void trace_new_span(uint8_t span_id[TRACE_SPAN_LEN]);
/* A new random, non-zero trace id. */
void trace_new_trace(uint8_t trace_id[TRACE_ID_LEN]);

#endif
