/*
 * steps: what the front ends share to run an orchestrated call (core/orch.h) on their loop:
 * an upstream transfer's outcome fed to the executor.
 */
#ifndef CAPPROXY_STEPS_H
#define CAPPROXY_STEPS_H

#include <event2/buffer.h>

#include "core/orch.h"
#include "http/upstream.h"

/* Feed the outcome of one step's transfer <res> to <o> (the body stays <res>'s, read during
 * the done callback), then make <out> ready for the next step's request: the finished transfer
 * no longer reads it. */
static inline void steps_feed(struct orch *o, const struct upstream_result *res, struct outreq *out)
{
    size_t len = res->body ? evbuffer_get_length(res->body) : 0;
    struct orch_outcome oc = {
        .transport = res->error == UPSTREAM_OK            ? ORCH_OK
                     : res->error == UPSTREAM_ERR_TIMEOUT ? ORCH_ERR_TIMEOUT
                                                          : ORCH_ERR_UNREACHABLE,
        .error_name = res->error == UPSTREAM_OK ? NULL : upstream_error_name(res->error),
        .status = res->status,
        .content_type = res->content_type,
        .body = len ? (const char *)evbuffer_pullup(res->body, -1) : "",
        .len = len,
    };
    orch_feed(o, &oc);
    outreq_deinit(out);
    outreq_init(out, MAPPING_MAX_URL);
}

#endif
