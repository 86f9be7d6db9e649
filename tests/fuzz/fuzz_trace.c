/*
 * fuzz_trace: the W3C trace context a caller sends (traceparent, tracestate), with properties:
 *  - a traceparent that parses formats back to its own first 55 bytes, flags read as 00
 *    would (version 00 exactly; a later version's first 55 bytes with "00" as version);
 *  - parsed ids are never all zero;
 *  - trace_begin always yields non-zero trace and span ids, continues exactly the trace it
 *    parsed, and keeps a tracestate only when the traceparent was valid and the state passes
 *    trace_state_ok: at most TRACE_STATE_MAX printable bytes (tab as optional white space),
 *    forwarded as sent.
 * Input: traceparent, '\n', tracestate. Any violation aborts.
 */
#include "fuzz.h"

#include "base/trace.h"

static bool all_zero(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i])
            return false;
    return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *in = malloc(size + 1);
    memcpy(in, data, size);
    in[size] = '\0';
    char *nl = memchr(in, '\n', size);
    const char *state = NULL;
    if (nl) {
        *nl = '\0';
        state = nl + 1;
    }
    const char *parent = in;

    uint8_t tid[TRACE_ID_LEN], pid[TRACE_SPAN_LEN], flags = 0;
    bool ok = trace_parse_parent(parent, tid, pid, &flags) == 0;
    if (ok) {
        FUZZ_ASSERT(!all_zero(tid, sizeof tid) && !all_zero(pid, sizeof pid), "zero id taken");
        char out[TRACE_PARENT_LEN + 1];
        trace_format_parent(tid, pid, flags, out);
        FUZZ_ASSERT(strlen(parent) >= TRACE_PARENT_LEN, "short traceparent taken");
        FUZZ_ASSERT(memcmp(out + 2, parent + 2, TRACE_PARENT_LEN - 2 - 2) == 0,
                    "ids do not round-trip: '%s' -> '%s'", parent, out);
        FUZZ_ASSERT(memcmp(out, "00", 2) == 0, "formatted version is not 00: '%s'", out);
    }
    bool sok = state && trace_state_ok(state);
    if (sok) {
        size_t n = strlen(state);
        FUZZ_ASSERT(n >= 1 && n <= TRACE_STATE_MAX, "tracestate of %zu bytes taken", n);
        for (size_t i = 0; i < n; i++)
            FUZZ_ASSERT((state[i] >= 0x20 && state[i] < 0x7f) || state[i] == '\t',
                        "control byte in tracestate");
    }
    for (int sample = 0; sample < 2; sample++) {
        struct trace_ctx t;
        trace_begin(&t, parent, state, sample);
        FUZZ_ASSERT(!all_zero(t.trace_id, sizeof t.trace_id), "zero trace id");
        FUZZ_ASSERT(!all_zero(t.span_id, sizeof t.span_id), "zero span id");
        FUZZ_ASSERT(t.remote == ok, "remote %d for a traceparent parsed %d", t.remote, ok);
        if (ok)
            FUZZ_ASSERT(memcmp(t.trace_id, tid, sizeof tid) == 0, "not the caller's trace");
        if (ok && sok)
            FUZZ_ASSERT(strcmp(t.state, state) == 0, "tracestate changed");
        else
            FUZZ_ASSERT(t.state[0] == '\0', "tracestate kept without a valid traceparent+state");
    }
    free(in);
    return 0;
}
