/*
 * mcp_proto: the MCP protocol steps both transports share, free of any transport: the answer
 * to each request method on an endpoint (whose catalog, core/catalog.h, holds the tool list,
 * credentials and tool index), the preparation
 * of a tools/call into an upstream request, and the tool result made of the upstream's answer.
 * The transports are mcp_http.h (Streamable HTTP on the MCP listeners) and mcp_stdio.h
 * (newline-delimited JSON-RPC on stdin/stdout); both send a tools/call through loop_forward
 * (http/loop.h), as REST does.
 */
#ifndef CAPPROXY_MCP_PROTO_H
#define CAPPROXY_MCP_PROTO_H

#include <stddef.h>

#include "core/jsonrpc.h"
#include "core/mapping.h"
#include "core/orch.h"
#include "core/runtime.h"
#include "http/upstream.h"

/* What a transport does with a request (mcpp_dispatch). */
enum mcpp_action {
    MCPP_REPLY,         /* send <msg> */
    MCPP_REPLY_TEXT,    /* send <text>, a serialised message (tools/list) */
    MCPP_TOOLS_CALL,    /* a tools/call: the transport prepares and forwards it */
    MCPP_RESOURCE_READ, /* a resources/read of a dynamic resource: mcpp_prepare_read, then as a
                           tools/call (a static one is answered at once, MCPP_REPLY) */
};

struct mcpp_answer {
    cJSON *msg;          /* MCPP_REPLY: the caller's to send and delete */
    char *text;          /* MCPP_REPLY_TEXT: the caller's to send and free */
    const char *version; /* initialize: the negotiated version (NULL when refused) */
};

/* The answer to request <m> (kind JSONRPC_REQUEST) on <ep> (its catalog built): initialize,
 * ping, tools/list, "Method not found" for anything else, or MCPP_TOOLS_CALL. */
enum mcpp_action mcpp_dispatch(const struct rt_mcp_endpoint *ep, const struct jsonrpc_msg *m,
                               struct mcpp_answer *a);

/* Check a tools/call request and map it to the upstream request in <out>. NULL when the
 * transfer should start (<*callp> set); otherwise the response to send at once: a JSON-RPC
 * error for bad params or an unknown tool, a tool error (isError) for invalid arguments.
 * <headers> are where credentials come from (NULL for stdio: configuration only). */
cJSON *mcpp_prepare_call(const struct runtime *rt, const struct rt_mcp_endpoint *ep,
                         const struct jsonrpc_msg *m, const struct mapping_kv *headers,
                         size_t nheaders, struct outreq *out, const struct rt_call **callp);
/* A tools/call of an orchestrated or mock tool <call> (mcpp_prepare_call found it and built
 * nothing): its arguments checked, then a mock's response, or NULL with <*op> started (the
 * transport sends each request orch_next fills, and answers with mcpp_orch_response). */
cJSON *mcpp_start_orch(const struct runtime *rt, const struct rt_call *call,
                       const struct jsonrpc_msg *m, const struct mapping_kv *headers,
                       size_t nheaders, struct orch **op);
/* The response once <o> is done (the answer as text and, an object, structuredContent) or
 * failed (a tool error naming the step). */
cJSON *mcpp_orch_response(struct orch *o, enum orch_state st, const cJSON *id);
/* The response for a finished upstream transfer. Failures name their kind, never a secret. */
cJSON *mcpp_call_response(const struct rt_call *call, const cJSON *id,
                          const struct upstream_result *res);
/* The same response as text, for a 2xx answer the tool passes through whole (the common case,
 * mcptool_passthrough_text): no tree built and printed. NULL otherwise: use
 * mcpp_call_response. <*outlen> gets its length. */
char *mcpp_call_response_text(const struct rt_call *call, const cJSON *id,
                              const struct upstream_result *res, size_t *outlen);
/* A resources/read that mcpp_dispatch left to the transport (MCPP_RESOURCE_READ): the
 * resource found again by its uri (<*urip> points into <m>), its call (<*callp>) and either its
 * upstream request in <out> or, for `steps`, the started orchestration in <*op>. NULL when that
 * should start; else the response to send at once (-32602 for a URI variable the call refuses,
 * MCPRES_NOT_FOUND when nothing serves the uri any more). */
cJSON *mcpp_prepare_read(const struct runtime *rt, const struct rt_mcp_endpoint *ep,
                         const struct jsonrpc_msg *m, const struct mapping_kv *headers,
                         size_t nheaders, struct outreq *out, const struct rt_call **callp,
                         const char **urip, struct orch **op);
/* The resources/read response for a finished upstream transfer of resource <call> read as
 * <uri>: its contents, or a JSON-RPC error saying what the upstream did (never a secret). */
cJSON *mcpp_read_response(const struct rt_call *call, const cJSON *id, const char *uri,
                          const struct upstream_result *res);
/* The same once an orchestrated resource's <o> is done or failed (its step named). */
cJSON *mcpp_read_orch_response(const struct rt_call *call, struct orch *o, enum orch_state st,
                               const cJSON *id, const char *uri);
/* The resources/read error when the upstream request could not be started. */
cJSON *mcpp_read_setup_error(const cJSON *id, const char *uri);

/* A static name for the access log: never echo a client's method text into it. */
const char *mcpp_method_route(const char *method);

#endif
