/*
 * mcp_proto: see mcp_proto.h. Nothing here blocks or knows a transport: what an endpoint serves
 * (tool list, credentials, tool index) is its catalog, built with the runtime and only read.
 */
#include "front/mcp_proto.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "base/util.h"
#include "core/catalog.h"
#include "core/mcptool.h"
#include "core/session.h"

/* The response to an initialize request; <*version> gets the negotiated version. */
static cJSON *do_initialize(const struct rt_mcp_endpoint *ep, const struct jsonrpc_msg *m,
                            const char **version)
{
    const cJSON *pv = cJSON_IsObject(m->params)
                          ? cJSON_GetObjectItemCaseSensitive(m->params, "protocolVersion")
                          : NULL;
    if (!pv || !cJSON_IsString(pv))
        return jsonrpc_error(m->id, JSONRPC_INVALID_PARAMS,
                             "initialize params need a string \"protocolVersion\"");
    *version = session_negotiate_version(pv->valuestring);
    return jsonrpc_result(m->id, mcptool_initialize_result(*version, ep->description));
}

cJSON *mcpp_prepare_call(const struct runtime *rt, const struct rt_mcp_endpoint *ep,
                         const struct jsonrpc_msg *m, const struct mapping_kv *headers,
                         size_t nheaders, struct outreq *out, const struct rt_call **callp)
{
    const char *name;
    const cJSON *args;
    const char *bad = mcptool_call_params(m->params, &name, &args);
    *callp = NULL;
    if (bad)
        return jsonrpc_error(m->id, JSONRPC_INVALID_PARAMS, bad);
    const struct rt_call *call = catalog_find_tool(ep->catalog, name);
    if (!call) {
        /* The name is the client's text: cut it short and keep the reply valid UTF-8. */
        char *safe = utf8_sanitize(name, strnlen(name, 200));
        char *msg = xasprintf("Unknown tool: %s", safe);
        cJSON *r = jsonrpc_error(m->id, JSONRPC_INVALID_PARAMS, msg);
        free(msg);
        free(safe);
        return r;
    }
    *callp = call;
    if (call->kind != MODEL_CALL_SIMPLE)
        return NULL; /* no one request: the transport runs mcpp_start_orch */
    struct mapping_input in = {
        .mcp = true,
        .headers = headers,
        .nheaders = nheaders,
        .args = args,
    };
    struct mapping_error err;
    if (mapping_build(rt, call, &in, out, &err) < 0) {
        if (err.status == 400 || err.status == 401)
            return jsonrpc_result(m->id, mcptool_text_result(err.detail, strlen(err.detail), true));
        return jsonrpc_error(m->id, JSONRPC_INTERNAL_ERROR, "the call could not be prepared");
    }
    return NULL;
}

/* <answer> (taken; NULL: nothing) as a tool result: its JSON text, and the object itself as
 * structuredContent. */
static cJSON *json_result(cJSON *answer)
{
    char *t = answer ? cJSON_PrintUnformatted(answer) : NULL;
    cJSON *r = mcptool_text_result(t ? t : "", t ? strlen(t) : 0, false);
    cJSON_free(t);
    if (cJSON_IsObject(answer))
        cJSON_AddItemToObject(r, "structuredContent", answer);
    else
        cJSON_Delete(answer);
    return r;
}

cJSON *mcpp_start_orch(const struct runtime *rt, const struct rt_call *call,
                       const struct jsonrpc_msg *m, const struct mapping_kv *headers,
                       size_t nheaders, struct orch **op)
{
    const char *name;
    const cJSON *args;
    *op = NULL;
    mcptool_call_params(m->params, &name, &args); /* checked by mcpp_prepare_call */
    struct mapping_input in = {.mcp = true, .headers = headers, .nheaders = nheaders, .args = args};
    struct mapping_error err;
    if (mapping_check_inputs(rt, call, &in, &err) < 0)
        return jsonrpc_result(m->id, mcptool_text_result(err.detail, strlen(err.detail), true));
    cJSON *scope = mapping_scope(call, &in);
    if (call->kind == MODEL_CALL_MOCK) {
        cJSON *answer = orch_mock(call, scope);
        cJSON_Delete(scope);
        return jsonrpc_result(m->id, json_result(answer));
    }
    *op = orch_new(rt, call, scope, headers, nheaders);
    return NULL;
}

cJSON *mcpp_orch_response(struct orch *o, enum orch_state st, const cJSON *id)
{
    if (st == ORCH_FAILED) {
        const struct orch_failure *f = orch_failure(o);
        return jsonrpc_result(id, mcptool_text_result(f->message, strlen(f->message), true));
    }
    int status;
    return jsonrpc_result(id, json_result(orch_answer(o, &status)));
}

cJSON *mcpp_call_response(const struct rt_call *call, const cJSON *id,
                          const struct upstream_result *res)
{
    if (res->error != UPSTREAM_OK) {
        char msg[160];
        const char *what = res->error == UPSTREAM_ERR_TIMEOUT
                               ? "the upstream did not answer in time"
                               : "the upstream could not be reached or failed";
        int n = snprintf(msg, sizeof msg, "%s (%s)", what, upstream_error_name(res->error));
        return jsonrpc_result(id, mcptool_text_result(msg, (size_t)n, true));
    }
    size_t len = evbuffer_get_length(res->body);
    const char *body = len ? (const char *)evbuffer_pullup(res->body, -1) : "";
    /* A redirect is passed on, not followed: the tool result must say where it points. */
    const char *location = NULL;
    for (size_t i = 0; res->status >= 300 && res->status < 400 && i < res->nheaders; i++)
        if (str_eq_ci(res->headers[i].name, "location"))
            location = res->headers[i].value;
    return jsonrpc_result(id, mcptool_upstream_result(call, res->status, location, body, len));
}

static const char *const mcp_methods[] = {
    "initialize",
    "ping",
    "tools/list",
    "tools/call",
    "notifications/initialized",
    "notifications/cancelled",
    "notifications/progress",
    "notifications/roots/list_changed",
    "resources/list",
    "resources/templates/list",
    "resources/read",
    "prompts/list",
    "prompts/get",
    "logging/setLevel",
    "completion/complete",
};

const char *mcpp_method_route(const char *method)
{
    for (size_t i = 0; i < UTIL_ARRAY_LEN(mcp_methods); i++)
        if (str_eq(method, mcp_methods[i]))
            return mcp_methods[i];
    return "unknown-method";
}

enum mcpp_action mcpp_dispatch(const struct rt_mcp_endpoint *ep, const struct jsonrpc_msg *m,
                               struct mcpp_answer *a)
{
    *a = (struct mcpp_answer){0};
    if (str_eq(m->method, "initialize")) {
        a->msg = do_initialize(ep, m, &a->version);
        return MCPP_REPLY;
    }
    if (str_eq(m->method, "ping")) {
        a->msg = jsonrpc_result(m->id, cJSON_CreateObject());
        return MCPP_REPLY;
    }
    if (str_eq(m->method, "tools/list")) {
        a->text = jsonrpc_result_text(m->id, catalog_tools_json(ep->catalog));
        return MCPP_REPLY_TEXT;
    }
    if (str_eq(m->method, "tools/call"))
        return MCPP_TOOLS_CALL;
    a->msg = jsonrpc_error(m->id, JSONRPC_METHOD_NOT_FOUND, "Method not found");
    return MCPP_REPLY;
}
