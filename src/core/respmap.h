/*
 * respmap: how the upstream answer becomes the reply: the exposed call's output mapping
 * (outputParameters) applied to a JSON upstream body. Pure, shared by the REST and MCP front
 * ends, unit-tested directly.
 */
#ifndef CAPPROXY_RESPMAP_H
#define CAPPROXY_RESPMAP_H

#include <stddef.h>

#include <cjson/cJSON.h>

#include "core/runtime.h"

/* Apply the call's output mapping to a JSON upstream body. Returns a new cJSON (caller
 * deletes), or NULL when the body is not JSON (the caller then passes it through). Integers
 * beyond 2^53 keep the upstream's digits. */
cJSON *respmap_apply(const struct rt_call *call, const char *body, size_t len);

#endif
