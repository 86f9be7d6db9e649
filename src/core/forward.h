/*
 * forward: how a request to a REST `forward` resource becomes the upstream request. The rest
 * of the path, the query string, the method and the raw body go to the consumed API's
 * effective base URI as received; of the caller's headers only the resource's trustedHeaders
 * travel, and the consumed namespace adds its own fixed parameters and credentials. Pure: no
 * event loop, unit-tested directly. The rules are docs/capability-format.md's "Forward
 * resources".
 */
#ifndef CAPPROXY_FORWARD_H
#define CAPPROXY_FORWARD_H

#include <stdbool.h>
#include <stddef.h>

#include "core/mapping.h"
#include "core/outreq.h"
#include "core/runtime.h"

/* What the REST front end received for a forward route. All borrowed. */
struct forward_input {
    enum model_method method;
    const char *rest; /* the rest of the path, raw (still percent-encoded); NULL: none */
    size_t rest_len;
    const char *query;                /* the raw query string (after '?'), NULL when none */
    const char *skip_query;           /* a query parameter never forwarded (the adapter's own
                                         credential), NULL when none */
    const struct mapping_kv *headers; /* the request's headers, the adapter's own inbound
                                         credential already left out (reqcheck_headers) */
    size_t nheaders;
    const char *body; /* raw request body, NULL when none */
    size_t body_len;
};

/* Build the upstream request of forward call <call> (call->forward set) into <out>
 * (outreq_init(out, MAPPING_MAX_URL) by the caller). 0, or -1 with <err> filled: 400 for a
 * path or query that could escape the base URI or is badly encoded, or a header value with a
 * control character; 414 for a URL over the cap; 401 for a missing required credential; 500
 * for a configured value that cannot be sent. Nothing must be sent on -1. */
int forward_build(const struct runtime *rt, const struct rt_call *call,
                  const struct forward_input *in, struct outreq *out, struct mapping_error *err);

/* Whether request header <name> is never forwarded, trusted or not: Host, the hop-by-hop and
 * framing headers (the upstream connection has its own), X-Request-Id (sent as capproxy's own)
 * and Content-Type (it goes with the body). */
bool forward_header_never(const char *name);

#endif
