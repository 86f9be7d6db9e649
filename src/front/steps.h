/*
 * steps: what the front ends share to run an orchestrated call (core/orch.h) on their loop:
 * an upstream transfer's outcome as the executor reads it.
 */
#ifndef CAPPROXY_STEPS_H
#define CAPPROXY_STEPS_H

#include <event2/buffer.h>

#include "core/orch.h"
#include "http/upstream.h"

/* <res> as orch_feed takes it; the body stays <res>'s (valid during the done callback). */
static inline struct orch_outcome steps_outcome(const struct upstream_result *res)
{
    size_t len = res->body ? evbuffer_get_length(res->body) : 0;
    return (struct orch_outcome){
        .transport = res->error == UPSTREAM_OK            ? ORCH_OK
                     : res->error == UPSTREAM_ERR_TIMEOUT ? ORCH_ERR_TIMEOUT
                                                          : ORCH_ERR_UNREACHABLE,
        .error_name = res->error == UPSTREAM_OK ? NULL : upstream_error_name(res->error),
        .status = res->status,
        .content_type = res->content_type,
        .body = len ? (const char *)evbuffer_pullup(res->body, -1) : "",
        .len = len,
    };
}

#endif
