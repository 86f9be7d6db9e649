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
#include "core/mcpres.h"
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
    unsigned caps = (catalog_has_resources(ep->catalog) ? MCPTOOL_CAP_RESOURCES : 0) |
                    (catalog_has_prompts(ep->catalog) ? MCPTOOL_CAP_PROMPTS : 0);
    return jsonrpc_result(m->id, mcptool_initialize_result(*version, ep->description, caps));
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

char *mcpp_call_response_text(const struct rt_call *call, const cJSON *id,
                              const struct upstream_result *res, size_t *outlen)
{
    if (res->error != UPSTREAM_OK || res->status < 200 || res->status >= 300 || !call->passthrough)
        return NULL;
    size_t len = evbuffer_get_length(res->body);
    const char *body = len ? (const char *)evbuffer_pullup(res->body, -1) : "";
    char *head = jsonrpc_result_head(id);
    char *r = mcptool_passthrough_text(call, res->status, body, len, head, "}", outlen);
    free(head);
    return r;
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
        if (method[0] == mcp_methods[i][0] && str_eq(method, mcp_methods[i]))
            return mcp_methods[i];
    return "unknown-method";
}

/* -32002 for <uri>, the client's text cut short and kept valid UTF-8. */
static cJSON *not_found(const cJSON *id, const char *uri)
{
    char *safe = utf8_sanitize(uri, strnlen(uri, 200));
    char *msg = xasprintf("Resource not found: %s", safe);
    cJSON *r = jsonrpc_error(id, MCPRES_NOT_FOUND, msg);
    free(msg);
    free(safe);
    return r;
}

/* resources/read: a static file's contents at once, MCPP_RESOURCE_READ for a dynamic one. */
static enum mcpp_action do_read(const struct rt_mcp_endpoint *ep, const struct jsonrpc_msg *m,
                                struct mcpp_answer *a)
{
    const char *uri;
    const char *bad = mcpres_read_params(m->params, &uri);
    if (bad) {
        a->msg = jsonrpc_error(m->id, JSONRPC_INVALID_PARAMS, bad);
        return MCPP_REPLY;
    }
    const struct model_mcp_file *file;
    const struct rt_call *call;
    const struct model_mcp_resource *r =
        catalog_find_resource(ep->catalog, uri, NULL, &file, &call);
    if (file) {
        a->msg = jsonrpc_result(m->id, mcpres_file_result(file));
        return MCPP_REPLY;
    }
    if (r && call)
        return MCPP_RESOURCE_READ;
    a->msg = not_found(m->id, uri);
    return MCPP_REPLY;
}

/* prompts/get: the rendered messages, or -32602 naming the prompt or argument at fault. */
static cJSON *do_prompt_get(const struct rt_mcp_endpoint *ep, const struct jsonrpc_msg *m)
{
    const cJSON *name =
        cJSON_IsObject(m->params) ? cJSON_GetObjectItemCaseSensitive(m->params, "name") : NULL;
    if (!cJSON_IsString(name))
        return jsonrpc_error(m->id, JSONRPC_INVALID_PARAMS,
                             "prompts/get params need a string \"name\"");
    const struct model_mcp_prompt *p = catalog_find_prompt(ep->catalog, name->valuestring);
    char *err = NULL;
    cJSON *r = NULL;
    if (!p) {
        char *safe = utf8_sanitize(name->valuestring, strnlen(name->valuestring, 200));
        err = xasprintf("Unknown prompt: %s", safe);
        free(safe);
    } else {
        r = mcpres_prompt_get(p, cJSON_GetObjectItemCaseSensitive(m->params, "arguments"), &err);
    }
    cJSON *msg = r ? jsonrpc_result(m->id, r) : jsonrpc_error(m->id, JSONRPC_INVALID_PARAMS, err);
    free(err);
    return msg;
}

/* Resources and prompts methods; MCPP_REPLY with nothing set when <m> is none of them. An
 * endpoint without resources (prompts) answers theirs "Method not found", as it does not
 * advertise the capability. */
static enum mcpp_action dispatch_extras(const struct rt_mcp_endpoint *ep,
                                        const struct jsonrpc_msg *m, struct mcpp_answer *a)
{
    const struct catalog *c = ep->catalog;
    if (catalog_has_resources(c)) {
        if (str_eq(m->method, "resources/list")) {
            a->text = jsonrpc_result_text(m->id, catalog_resources_json(c));
            return MCPP_REPLY_TEXT;
        }
        if (str_eq(m->method, "resources/templates/list")) {
            a->text = jsonrpc_result_text(m->id, catalog_templates_json(c));
            return MCPP_REPLY_TEXT;
        }
        if (str_eq(m->method, "resources/read"))
            return do_read(ep, m, a);
    }
    if (catalog_has_prompts(c)) {
        if (str_eq(m->method, "prompts/list")) {
            a->text = jsonrpc_result_text(m->id, catalog_prompts_json(c));
            return MCPP_REPLY_TEXT;
        }
        if (str_eq(m->method, "prompts/get"))
            a->msg = do_prompt_get(ep, m);
    }
    return MCPP_REPLY;
}

cJSON *mcpp_prepare_read(const struct runtime *rt, const struct rt_mcp_endpoint *ep,
                         const struct jsonrpc_msg *m, const struct mapping_kv *headers,
                         size_t nheaders, struct outreq *out, const struct rt_call **callp,
                         const char **urip, struct orch **op)
{
    const struct model_mcp_file *file;
    *callp = NULL;
    *op = NULL;
    *urip = "";
    if (mcpres_read_params(m->params, urip))
        return jsonrpc_error(m->id, JSONRPC_INVALID_PARAMS, "resources/read needs a \"uri\"");
    cJSON *vars = cJSON_CreateObject();
    catalog_find_resource(ep->catalog, *urip, vars, &file, callp);
    const struct rt_call *call = *callp;
    cJSON *now = NULL;
    if (!call) {
        now = not_found(m->id, *urip);
        goto out;
    }
    struct mapping_input in = {.mcp = true, .headers = headers, .nheaders = nheaders, .args = vars};
    struct mapping_error err;
    int rc = call->kind == MODEL_CALL_SIMPLE ? mapping_build(rt, call, &in, out, &err)
                                             : mapping_check_inputs(rt, call, &in, &err);
    if (rc < 0) {
        now = jsonrpc_error(m->id,
                            err.status == 400 || err.status == 401 ? JSONRPC_INVALID_PARAMS
                                                                   : JSONRPC_INTERNAL_ERROR,
                            err.status == 400 || err.status == 401
                                ? err.detail
                                : "the resource read could not be prepared");
        goto out;
    }
    if (call->kind != MODEL_CALL_SIMPLE) {
        cJSON *scope = mapping_scope(call, &in);
        *op = orch_new(rt, call, scope, headers, nheaders);
    }
out:
    cJSON_Delete(vars);
    return now;
}

/* A JSON-RPC error for a failed read of <uri> (client text, kept short): <what> says why. */
static cJSON *read_error(const cJSON *id, int code, const char *uri, const char *what)
{
    char *safe = utf8_sanitize(uri, strnlen(uri, 200));
    char *msg = xasprintf("Resource read failed: %s (%s)", safe, what);
    cJSON *r = jsonrpc_error(id, code, msg);
    free(msg);
    free(safe);
    return r;
}

cJSON *mcpp_read_setup_error(const cJSON *id, const char *uri)
{
    return read_error(id, JSONRPC_INTERNAL_ERROR, uri, "the upstream request could not be started");
}

cJSON *mcpp_read_response(const struct rt_call *call, const cJSON *id, const char *uri,
                          const struct upstream_result *res)
{
    if (res->error != UPSTREAM_OK) {
        char what[160];
        snprintf(what, sizeof what, "%s: %s",
                 res->error == UPSTREAM_ERR_TIMEOUT ? "the upstream did not answer in time"
                                                    : "the upstream could not be reached or failed",
                 upstream_error_name(res->error));
        return read_error(id, JSONRPC_INTERNAL_ERROR, uri, what);
    }
    size_t len = evbuffer_get_length(res->body);
    const char *body = len ? (const char *)evbuffer_pullup(res->body, -1) : "";
    int code;
    char *msg;
    cJSON *r =
        mcpres_upstream_result(call, uri, res->status, res->content_type, body, len, &code, &msg);
    if (r)
        return jsonrpc_result(id, r);
    cJSON *e = jsonrpc_error(id, code, msg);
    free(msg);
    return e;
}

cJSON *mcpp_read_orch_response(const struct rt_call *call, struct orch *o, enum orch_state st,
                               const cJSON *id, const char *uri)
{
    if (st == ORCH_FAILED)
        return read_error(id, JSONRPC_INTERNAL_ERROR, uri, orch_failure(o)->message);
    int status;
    return jsonrpc_result(id, mcpres_answer_result(call->resource, uri, orch_answer(o, &status)));
}

enum mcpp_action mcpp_dispatch(const struct rt_mcp_endpoint *ep, const struct jsonrpc_msg *m,
                               struct mcpp_answer *a)
{
    *a = (struct mcpp_answer){0};
    if (str_eq(m->method, "tools/call")) /* the one method of every tool use: asked first */
        return MCPP_TOOLS_CALL;
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
    enum mcpp_action act = dispatch_extras(ep, m, a);
    if (act != MCPP_REPLY || a->msg)
        return act;
    a->msg = jsonrpc_error(m->id, JSONRPC_METHOD_NOT_FOUND, "Method not found");
    return MCPP_REPLY;
}
