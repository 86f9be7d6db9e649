/*
 * mcp_http: see mcp_http.h. The handler never blocks: the tool list is built once per endpoint
 * and then only read, session ids are checked by their signature (no table), and a tool call is
 * one asynchronous upstream transfer (exchange_forward), exactly as a REST call.
 */
#include "front/mcp_http.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/buffer.h>
#include <event2/keyvalq_struct.h>

#include "base/clock.h"
#include "base/log.h"
#include "base/util.h"
#include "core/catalog.h"
#include "core/mcptool.h"
#include "core/session.h"
#include "front/mcp_cancel.h"
#include "front/mcp_proto.h"
#include "front/mcp_stream.h"
#include "front/steps.h"
#include "http/exchange.h"
#include "http/oauth.h"
#include "http/ratelimit.h"
#include "http/reqcheck.h"
#include "spec/config.h"

/* The framing checks refuse (431) more header fields than limits.maxHeaders, at most this. */
#define MCP_MAX_HEADERS CONFIG_MAX_HEADERS_LIMIT
#define MCP_SESSION_HDR "Mcp-Session-Id"
#define MCP_VERSION_HDR "MCP-Protocol-Version"
#define MCP_ALLOW       "GET, POST, DELETE, OPTIONS"
#define MCP_ALLOW_POST  "POST, DELETE, OPTIONS" /* mcp.maxStreams 0: no GET */

/* Reply with JSON-RPC message <msg> (deleted). */
static void reply_msg(struct exchange *x, int status, cJSON *msg)
{
    exchange_reply_json(x, status, "application/json", msg);
}

/* A transport-level refusal: HTTP <status> with a JSON-RPC error body (id null), the shape
 * the MCP SDKs use, so clients show <message>. */
static void http_error(struct exchange *x, int status, int code, const char *message)
{
    reply_msg(x, status, jsonrpc_error(NULL, code, message));
}

static bool is_loopback_name(const char *host)
{
    return str_eq_ci(host, "localhost") || str_eq(host, "127.0.0.1") || str_eq_ci(host, "[::1]");
}

/* Whether Host value <v> is "127.0.0.1:<port>" or "localhost:<port>" (the usual local client)
 * with <port> in plain digits: what host_ok accepts without splitting it. */
static bool host_is_local_port(const char *v, int port)
{
    const char *p =
        strncmp(v, "127.0.0.1:", 10) == 0 || strncmp(v, "localhost:", 10) == 0 ? v + 10 : NULL;
    if (!p || *p < '1' || *p > '9')
        return false;
    long n = 0;
    for (int i = 0; p[i]; i++) {
        if (i == 5 || p[i] < '0' || p[i] > '9')
            return false;
        n = n * 10 + (p[i] - '0');
    }
    return n == port;
}

/* DNS-rebinding guard: the Host must name this listener (or an allowed host). */
static bool host_ok(const struct rt_listener *l, int bound_port, const struct config *cfg,
                    const char *value)
{
    char host[CONFIG_HOST_MAX];
    long port;
    if (!value)
        return true; /* HTTP/1.0 without Host: not a browser, nothing to rebind */
    if (host_is_local_port(value, bound_port))
        return true;
    if (!hostport_split(value, strlen(value), host, sizeof host, &port))
        return false;
    long eff = port < 0 ? 80 : port;
    if (eff == bound_port) {
        if (is_loopback_name(host))
            return true;
        char lh[260];
        snprintf(lh, sizeof lh, strchr(l->host, ':') ? "[%s]" : "%s", l->host);
        if (str_eq_ci(lh, host) && !str_eq(l->host, "0.0.0.0") && !str_eq(l->host, "::"))
            return true;
    }
    return config_mcp_host_allowed(cfg, host, eff);
}

/* A browser page may only talk to us from a local (or explicitly allowed) origin. */
static bool origin_ok(const struct config *cfg, const char *origin)
{
    const char *rest;
    if (str_has_prefix(origin, "http://"))
        rest = origin + 7;
    else if (str_has_prefix(origin, "https://"))
        rest = origin + 8;
    else
        return false; /* "null", file:, chrome-extension: ... */
    size_t len = strcspn(rest, "/?#");
    if (rest[len] == '/' && rest[len + 1])
        return false; /* an origin has no path */
    if (memchr(rest, '@', len))
        return false;
    char host[CONFIG_HOST_MAX];
    long port;
    if (!hostport_split(rest, len, host, sizeof host, &port))
        return false;
    return is_loopback_name(host) || config_mcp_host_allowed(cfg, host, -1);
}

/* Whether media type <v> (parameters allowed) is <want>. */
static bool media_is(const char *v, const char *want)
{
    while (*v == ' ' || *v == '\t')
        v++;
    size_t n = strlen(want);
    if (strncasecmp(v, want, n) != 0)
        return false;
    v += n;
    while (*v == ' ' || *v == '\t')
        v++;
    return *v == '\0' || *v == ';';
}

/* Whether an Accept header admits media type <type> (whose "major/any" range is <range>). */
static bool accepts_media(const char *accept, const char *type, const char *any_sub)
{
    for (const char *p = accept; p && *p;) {
        size_t n = strcspn(p, ",");
        char range[128];
        if (n < sizeof range) {
            memcpy(range, p, n);
            range[n] = '\0';
            if (media_is(range, type) || media_is(range, any_sub) || media_is(range, "*/*"))
                return true;
        }
        p += n;
        if (*p == ',')
            p++;
    }
    return false;
}

/* Whether an Accept header admits application/json. */
static bool accepts_json(const char *accept)
{
    /* The SDK clients' "application/json, text/event-stream": its first range says yes. Not
     * with parameters (';'): accepts_media skips a range too long for its buffer, and the
     * answer must stay the one it gives. */
    if (strncmp(accept, "application/json", 16) == 0 && (accept[16] == ',' || accept[16] == '\0'))
        return true;
    return accepts_media(accept, "application/json", "application/*");
}

/* The request header fields MCP reads, each the first of its name as evhttp_find_header would
 * give it (NULL: absent), found in one pass over the list instead of one walk per name. */
struct mcp_hdrs {
    const char *host, *origin, *ctype, *accept, *session, *version;
};

static void mcp_hdrs_read(const struct evkeyvalq *in, struct mcp_hdrs *h)
{
    *h = (struct mcp_hdrs){0};
    for (const struct evkeyval *kv = in->tqh_first; kv; kv = kv->next.tqe_next) {
        const char *k = kv->key, **slot = NULL;
        switch (strlen(k)) {
        case 4:
            slot = str_eq_ci(k, "Host") ? &h->host : NULL;
            break;
        case 6:
            slot = str_eq_ci(k, "Origin") ? &h->origin : str_eq_ci(k, "Accept") ? &h->accept : NULL;
            break;
        case 12:
            slot = str_eq_ci(k, "Content-Type") ? &h->ctype : NULL;
            break;
        case sizeof MCP_SESSION_HDR - 1:
            slot = str_eq_ci(k, MCP_SESSION_HDR) ? &h->session : NULL;
            break;
        case sizeof MCP_VERSION_HDR - 1:
            slot = str_eq_ci(k, MCP_VERSION_HDR) ? &h->version : NULL;
            break;
        }
        if (slot && !*slot)
            *slot = kv->value;
    }
}

static const struct rt_mcp_endpoint *endpoint_for(const struct rt_listener *l, const char *path)
{
    for (size_t i = 0; i < l->nendpoints; i++)
        if (str_eq(l->endpoints[i].path, path))
            return &l->endpoints[i];
    return NULL;
}

/* CORS for local browser clients (the Origin was already checked): let them read our replies
 * and the session header, and answer their preflights. */
static void cors_headers(struct evhttp_request *req, const char *origin)
{
    struct evkeyvalq *out = evhttp_request_get_output_headers(req);
    evhttp_add_header(out, "Access-Control-Allow-Origin", origin);
    evhttp_add_header(out, "Vary", "Origin");
    evhttp_add_header(out, "Access-Control-Expose-Headers", MCP_SESSION_HDR ", WWW-Authenticate");
}

static void preflight(struct exchange *x, struct evhttp_request *req)
{
    const struct evkeyvalq *in = evhttp_request_get_input_headers(req);
    struct evkeyvalq *out = evhttp_request_get_output_headers(req);
    const char *want = evhttp_find_header(in, "Access-Control-Request-Headers");
    evhttp_add_header(out, "Access-Control-Allow-Methods", MCP_ALLOW);
    /* Echo the requested headers when they are plain tokens (the origin is local anyway). */
    bool plain = want && strlen(want) < 1024;
    for (const char *p = want; plain && *p; p++)
        plain = isalnum((unsigned char)*p) || strchr("-_, ", *p);
    evhttp_add_header(out, "Access-Control-Allow-Headers",
                      plain ? want
                            : "Content-Type, Accept, Authorization, " MCP_SESSION_HDR
                              ", " MCP_VERSION_HDR);
    evhttp_add_header(out, "Access-Control-Max-Age", "600");
    exchange_reply(x, 204, NULL, NULL);
}

/* State of a tools/call waiting for its upstream transfer (the exchange's ctx). */
struct http_call {
    const struct rt_call *call;
    cJSON *id;
    struct orch *orch; /* an orchestrated tool's steps, else NULL */
    /* Where notifications/cancelled finds it (NULL: no session). */
    struct mcp_cancel *cancel;
    char *uri; /* a resources/read: the uri read (the call is the resource's) */
};

static void http_call_free(void *arg)
{
    struct http_call *hc = arg;
    mcp_cancel_remove(hc->cancel);
    cJSON_Delete(hc->id);
    orch_free(hc->orch);
    free(hc->uri);
    free(hc);
}

static void http_step(struct exchange *x);

/* One step's transfer is done: feed the executor, then send the next step or answer. */
static void on_step_upstream(const struct upstream_result *res, void *arg)
{
    struct exchange *x = arg;
    struct http_call *hc = exchange_ctx(x);
    steps_feed(hc->orch, res, exchange_out(x));
    http_step(x);
}

static void http_step(struct exchange *x)
{
    struct http_call *hc = exchange_ctx(x);
    struct metrics *metrics = loop_metrics(exchange_loop(x));
    enum orch_state st = orch_next(hc->orch, exchange_out(x));
    if (st == ORCH_SEND) {
        if (exchange_forward(x, on_step_upstream) == 0)
            return;
        static const char msg[] = "the upstream request could not be started";
        exchange_note_upstream(x, -1, "setup");
        if (hc->uri) {
            reply_msg(x, 200, mcpp_read_setup_error(hc->id, hc->uri));
            return;
        }
        metrics_mcp_call(metrics, hc->call->name, "upstream_error");
        reply_msg(x, 200, jsonrpc_result(hc->id, mcptool_text_result(msg, sizeof msg - 1, true)));
        return;
    }
    if (hc->uri) {
        reply_msg(x, 200, mcpp_read_orch_response(hc->call, hc->orch, st, hc->id, hc->uri));
        return;
    }
    metrics_mcp_call(metrics, hc->call->name, st == ORCH_DONE ? "ok" : "tool_error");
    reply_msg(x, 200, mcpp_orch_response(hc->orch, st, hc->id));
}

static void on_tool_upstream(const struct upstream_result *res, void *arg)
{
    struct exchange *x = arg;
    struct http_call *hc = exchange_ctx(x);
    metrics_mcp_call(loop_metrics(exchange_loop(x)), hc->call->name,
                     res->error != UPSTREAM_OK ? "upstream_error"
                     : res->status >= 400      ? "tool_error"
                                               : "ok");
    size_t len;
    char *text = mcpp_call_response_text(hc->call, hc->id, res, &len);
    if (text)
        exchange_reply_owned(x, 200, "application/json", text, len);
    else
        reply_msg(x, 200, mcpp_call_response(hc->call, hc->id, res));
}

/* notifications/cancelled named this call (mcp_cancel.h; on the call's own loop): stop its
 * upstream transfer. The spec wants no JSON-RPC response for a cancelled request, but its POST
 * still needs an HTTP answer: an event stream that ends without any event when the client
 * accepts one (the SDK clients read it as "nothing more for this request"), else the error
 * -32800 "Request cancelled" (the client has already given up on the id and ignores it). */
static void http_cancelled(void *arg)
{
    struct exchange *x = arg;
    struct http_call *hc = exchange_ctx(x);
    mcp_cancel_remove(hc->cancel);
    hc->cancel = NULL;
    exchange_cancel_upstream(x);
    LOG_D("mcp: tool %s cancelled by the client", hc->call->name);
    metrics_mcp_call(loop_metrics(exchange_loop(x)), hc->call->name, "cancelled");
    const char *accept =
        evhttp_find_header(evhttp_request_get_input_headers(exchange_req(x)), "Accept");
    if (accepts_media(accept, "text/event-stream", "text/*")) {
        exchange_reply(x, 200, "text/event-stream", NULL);
        return;
    }
    reply_msg(x, 200, jsonrpc_error(hc->id, JSONRPC_REQUEST_CANCELLED, "Request cancelled"));
}

static void http_tools_call(struct exchange *x, const struct rt_mcp_endpoint *ep,
                            const struct jsonrpc_msg *m, const char *sid)
{
    struct metrics *metrics = loop_metrics(exchange_loop(x));
    struct mapping_kv headers[MCP_MAX_HEADERS];
    size_t nheaders = 0;
    /* The endpoint's inbound credentials never travel upstream. */
    size_t nauth;
    const struct rt_inbound *const *auth = catalog_auth(ep->catalog, &nauth);
    if (reqcheck_headers(exchange_req(x), auth, nauth, headers, MCP_MAX_HEADERS, &nheaders)) {
        http_error(x, 431, JSONRPC_SERVER_ERROR, "too many header fields");
        return;
    }
    const struct rt_call *call;
    cJSON *now =
        mcpp_prepare_call(exchange_runtime(x), ep, m, headers, nheaders, exchange_out(x), &call);
    exchange_set_route(x, call ? call->name : "tools/call");
    if (now) {
        if (call) /* a known tool refused before sending: its arguments were wrong */
            metrics_mcp_call(metrics, call->name, "invalid_arguments");
        reply_msg(x, 200, now);
        return;
    }
    struct http_call *hc = xcalloc(1, sizeof *hc);
    hc->call = call;
    /* The id moves out of the message (freed when http_post returns) instead of a copy: <m->id>
     * stays valid, as long as <hc>. */
    hc->id = cJSON_DetachItemViaPointer(m->doc, (cJSON *)m->id);
    exchange_set_ctx(x, hc, http_call_free);
    hc->cancel = mcp_cancel_add(loop_base(exchange_loop(x)), sid, m->id, http_cancelled, x);
    if (call->kind != MODEL_CALL_SIMPLE) {
        now = mcpp_start_orch(exchange_runtime(x), call, m, headers, nheaders, &hc->orch);
        if (now) {
            const cJSON *res = cJSON_GetObjectItemCaseSensitive(now, "result");
            bool refused = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(res, "isError"));
            metrics_mcp_call(metrics, call->name, refused ? "invalid_arguments" : "ok");
            reply_msg(x, 200, now);
            return;
        }
        http_step(x);
        return;
    }
    if (exchange_forward(x, on_tool_upstream) < 0) {
        static const char msg[] = "the upstream request could not be started";
        exchange_note_upstream(x, -1, "setup");
        metrics_mcp_call(metrics, call ? call->name : "", "upstream_error");
        reply_msg(x, 200, jsonrpc_result(m->id, mcptool_text_result(msg, sizeof msg - 1, true)));
    }
}

static void on_read_upstream(const struct upstream_result *res, void *arg)
{
    struct exchange *x = arg;
    struct http_call *hc = exchange_ctx(x);
    reply_msg(x, 200, mcpp_read_response(hc->call, hc->id, hc->uri, res));
}

/* resources/read of a dynamic resource: its call goes upstream as a tools/call does, with the
 * same credentials rules; the answer becomes the resource's contents. */
static void http_resource_read(struct exchange *x, const struct rt_mcp_endpoint *ep,
                               const struct jsonrpc_msg *m)
{
    struct mapping_kv headers[MCP_MAX_HEADERS];
    size_t nheaders = 0, nauth;
    const struct rt_inbound *const *auth = catalog_auth(ep->catalog, &nauth);
    if (reqcheck_headers(exchange_req(x), auth, nauth, headers, MCP_MAX_HEADERS, &nheaders)) {
        http_error(x, 431, JSONRPC_SERVER_ERROR, "too many header fields");
        return;
    }
    const struct rt_call *call;
    const char *uri;
    struct orch *orch;
    cJSON *now = mcpp_prepare_read(exchange_runtime(x), ep, m, headers, nheaders, exchange_out(x),
                                   &call, &uri, &orch);
    if (now) {
        reply_msg(x, 200, now);
        return;
    }
    exchange_set_route(x, call->name);
    struct http_call *hc = xcalloc(1, sizeof *hc);
    hc->call = call;
    hc->id = cJSON_Duplicate(m->id, 1);
    hc->orch = orch;
    hc->uri = xstrdup(uri);
    exchange_set_ctx(x, hc, http_call_free);
    if (orch) {
        http_step(x);
        return;
    }
    if (exchange_forward(x, on_read_upstream) < 0) {
        exchange_note_upstream(x, -1, "setup");
        reply_msg(x, 200, mcpp_read_setup_error(m->id, hc->uri));
    }
}

/* The session header of a non-initialize message: 0 when valid, else answered (400/404). */
static int check_session(struct exchange *x, const char *sid)
{
    if (!sid) {
        http_error(x, 400, JSONRPC_SERVER_ERROR,
                   "Bad Request: Mcp-Session-Id header is required (send initialize first)");
        return -1;
    }
    enum session_status st = session_check(sid, clock_now_s());
    if (st != SESSION_OK) {
        LOG_D("mcp: session id refused: %s", session_status_name(st));
        http_error(x, 404, JSONRPC_SESSION_NOT_FOUND, "Session not found");
        return -1;
    }
    return 0;
}

/* GET streams deliver notifications/tools/list_changed after a reload (mcp_stream.h): say so in
 * the initialize result <msg> (mcptool's default says false, right for stdio, which has no
 * reload). */
static void advertise_list_changed(cJSON *msg)
{
    cJSON *res = cJSON_GetObjectItemCaseSensitive(msg, "result");
    cJSON *caps = cJSON_GetObjectItemCaseSensitive(res, "capabilities");
    cJSON *tools = cJSON_GetObjectItemCaseSensitive(caps, "tools");
    if (cJSON_IsObject(tools))
        cJSON_ReplaceItemInObjectCaseSensitive(tools, "listChanged", cJSON_CreateTrue());
}

/* The MCP-Protocol-Version header <pv> of a non-initialize message: 0 when absent or
 * supported, else answered (400). */
static int check_version(struct exchange *x, const char *pv)
{
    if (!pv || session_version_supported(pv))
        return 0;
    char msg[200];
    snprintf(msg, sizeof msg,
             "Bad Request: unsupported MCP-Protocol-Version (supported: %s, %s, %s)",
             session_versions[0], session_versions[1], session_versions[2]);
    http_error(x, 400, JSONRPC_SERVER_ERROR, msg);
    return -1;
}

static void http_post(struct exchange *x, const struct rt_mcp_endpoint *ep,
                      const struct mcp_hdrs *h)
{
    struct evhttp_request *req = exchange_req(x);
    struct jsonrpc_msg m = {0};
    cJSON *err = NULL;

    const char *ct = h->ctype;
    if (!ct || !media_is(ct, "application/json")) {
        http_error(x, 415, JSONRPC_SERVER_ERROR,
                   "Unsupported Media Type: Content-Type must be application/json");
        return;
    }
    const char *accept = h->accept;
    if (accept && !accepts_json(accept)) {
        http_error(x, 406, JSONRPC_SERVER_ERROR,
                   "Not Acceptable: Accept must include application/json");
        return;
    }
    struct evbuffer *in_b = evhttp_request_get_input_buffer(req);
    size_t blen;
    if (!reqcheck_body_fits(req, exchange_config(x), &blen)) {
        http_error(x, 413, JSONRPC_SERVER_ERROR,
                   "Payload Too Large: the message is larger than the configured limit");
        return;
    }
    const char *body = blen ? (const char *)evbuffer_pullup(in_b, -1) : "";
    if (jsonrpc_parse(body, blen, &m, &err) < 0) {
        exchange_set_route(x, "invalid");
        reply_msg(x, 400, err);
        return;
    }
    const char *sid = h->session;
    struct mcpp_answer a;
    if (m.kind == JSONRPC_REQUEST && str_eq(m.method, "initialize")) {
        exchange_set_route(x, "initialize");
        mcpp_dispatch(ep, &m, &a);
        cJSON *r = a.msg;
        if (exchange_config(x)->mcp_max_streams > 0)
            advertise_list_changed(r);
        if (a.version) {
            char id[SESSION_ID_MAX];
            if (session_issue(clock_now_s(), id) < 0) {
                cJSON_Delete(r);
                r = jsonrpc_error(m.id, JSONRPC_INTERNAL_ERROR, "cannot issue a session id");
            } else {
                evhttp_add_header(evhttp_request_get_output_headers(req), MCP_SESSION_HDR, id);
            }
        }
        reply_msg(x, 200, r);
        goto out;
    }
    exchange_set_route(x, m.kind == JSONRPC_RESPONSE ? "response" : mcpp_method_route(m.method));
    if (check_session(x, sid) < 0)
        goto out;
    if (check_version(x, h->version) < 0)
        goto out;
    if (m.kind == JSONRPC_NOTIFICATION && str_eq(m.method, "notifications/cancelled")) {
        const cJSON *rid = cJSON_IsObject(m.params)
                               ? cJSON_GetObjectItemCaseSensitive(m.params, "requestId")
                               : NULL;
        if (!mcp_cancel_request(sid, rid))
            LOG_D("mcp: notifications/cancelled for no request in flight");
    }
    if (m.kind != JSONRPC_REQUEST) {
        /* Notifications (initialized, cancelled, ...) and responses need no answer. */
        exchange_reply(x, 202, NULL, NULL);
        goto out;
    }
    switch (mcpp_dispatch(ep, &m, &a)) {
    case MCPP_REPLY:
        reply_msg(x, 200, a.msg);
        break;
    case MCPP_REPLY_TEXT:
        exchange_reply_text(x, 200, "application/json", a.text);
        free(a.text);
        break;
    case MCPP_TOOLS_CALL:
        http_tools_call(x, ep, &m, sid);
        break;
    case MCPP_RESOURCE_READ:
        http_resource_read(x, ep, &m);
        break;
    }
out:
    jsonrpc_msg_free(&m);
}

/* GET: the session's server-to-client stream (mcp_stream.h), where list changes arrive. */
static void http_get(struct exchange *x, const struct front_listener *fl,
                     const struct rt_mcp_endpoint *ep, const struct mcp_hdrs *h)
{
    exchange_set_route(x, "stream");
    if (!accepts_media(h->accept, "text/event-stream", "text/*")) {
        http_error(x, 406, JSONRPC_SERVER_ERROR,
                   "Not Acceptable: Accept must include text/event-stream");
        return;
    }
    if (check_session(x, h->session) < 0 || check_version(x, h->version) < 0)
        return;
    mcp_stream_open(x, fl, ep->path);
}

static void http_delete(struct exchange *x, const char *sid)
{
    exchange_set_route(x, "session/delete");
    if (!sid) {
        http_error(x, 400, JSONRPC_SERVER_ERROR, "Bad Request: Mcp-Session-Id header is required");
        return;
    }
    enum session_status st = session_end(sid, clock_now_s());
    if (st != SESSION_OK) {
        LOG_D("mcp: session end refused: %s", session_status_name(st));
        http_error(x, 404, JSONRPC_SESSION_NOT_FOUND, "Session not found");
        return;
    }
    exchange_reply(x, 200, NULL, NULL);
}

/* GET <OAUTH_PRM_PATH><suffix>: the Protected Resource Metadata (RFC 9728) of the endpoint at
 * <suffix> ("" is /mcp), when oauth2 protects it. Public: any origin may read it. */
static void serve_prm(struct exchange *x, const struct rt_listener *l, const char *suffix)
{
    struct evhttp_request *req = exchange_req(x);
    exchange_set_route(x, "oauth-protected-resource");
    const struct rt_mcp_endpoint *ep = endpoint_for(l, *suffix ? suffix : "/mcp");
    size_t nauth = 0;
    const struct rt_inbound *const *auth = ep ? catalog_auth(ep->catalog, &nauth) : NULL;
    char *prm = auth ? oauth_prm(auth, nauth) : NULL;
    if (!prm) {
        exchange_problem(x, 404, "no OAuth-protected MCP endpoint at this path", NULL, NULL);
        return;
    }
    struct evkeyvalq *out = evhttp_request_get_output_headers(req);
    enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
    if (cmd != EVHTTP_REQ_GET && cmd != EVHTTP_REQ_HEAD) {
        evhttp_add_header(out, "Allow", "GET, HEAD");
        exchange_problem(x, 405, "the resource metadata is read with GET", NULL, NULL);
    } else {
        evhttp_add_header(out, "Access-Control-Allow-Origin", "*");
        evhttp_add_header(out, "Cache-Control", "max-age=300");
        exchange_reply_text(x, 200, "application/json", prm);
    }
    free(prm);
}

static void mcp_serve(struct exchange *x, const struct front_listener *fl,
                      const struct rt_mcp_endpoint *ep, const struct mcp_hdrs *h);

/* What a request parked by its oauth2 check resumes with (the exchange's ctx meanwhile, so
 * that it is freed if the client goes away). <ep> is in the runtime the exchange pinned. */
struct mcp_wait {
    const struct front_listener *fl;
    const struct rt_mcp_endpoint *ep;
};

/* oauth2 (http/oauth.h): true when the bearer token satisfies the endpoint; else the request
 * was answered (401, 403, 503) or parked until mcp_resume. */
static bool mcp_oauth(struct exchange *x, const struct front_listener *fl,
                      const struct rt_mcp_endpoint *ep);

static void mcp_resume(struct exchange *x, void *arg)
{
    struct mcp_wait w = *(struct mcp_wait *)arg;
    exchange_set_ctx(x, NULL, NULL);
    free(arg);
    if (mcp_oauth(x, w.fl, w.ep)) {
        struct mcp_hdrs h;
        mcp_hdrs_read(evhttp_request_get_input_headers(exchange_req(x)), &h);
        mcp_serve(x, w.fl, w.ep, &h);
    }
}

static bool mcp_oauth(struct exchange *x, const struct front_listener *fl,
                      const struct rt_mcp_endpoint *ep)
{
    size_t nauth;
    const struct rt_inbound *const *auth = catalog_auth(ep->catalog, &nauth);
    struct oauth_verdict v;
    struct mcp_wait *w = xmalloc(sizeof *w);
    *w = (struct mcp_wait){fl, ep};
    if (!oauth_check(x, auth, nauth, ep->path, mcp_resume, w, &v)) {
        exchange_set_ctx(x, w, free);
        return false;
    }
    free(w);
    if (v.status == 0)
        return true;
    char msg[256];
    snprintf(msg, sizeof msg, "%s: %s",
             v.status == 401   ? "Unauthorized"
             : v.status == 403 ? "Forbidden"
                               : "Service Unavailable",
             v.detail);
    http_error(x, v.status, JSONRPC_SERVER_ERROR, msg);
    return false;
}

void mcp_handle(struct evhttp_request *req, void *arg)
{
    const struct front_listener *fl = arg;
    struct exchange *x = exchange_begin(fl->loop, req, "mcp");
    if (!x)
        return;
    const struct runtime *rt = exchange_runtime(x);
    const struct rt_listener *l = front_listener_get(fl, rt);
    struct mcp_hdrs h;
    mcp_hdrs_read(evhttp_request_get_input_headers(req), &h);
    /* DNS rebinding: a page of a foreign site whose name resolves to us must get nothing. The
     * framing checks (framing.c) let through one Host at most, so this one is the only one. */
    if (!host_ok(l, fl->port, rt->config, h.host)) {
        http_error(x, 403, JSONRPC_SERVER_ERROR, "Forbidden: Host header not allowed");
        return;
    }
    const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
    const char *path = uri ? evhttp_uri_get_path(uri) : NULL;
    if (path && str_has_prefix(path, OAUTH_PRM_PATH) &&
        (!path[strlen(OAUTH_PRM_PATH)] || path[strlen(OAUTH_PRM_PATH)] == '/')) {
        serve_prm(x, l, path + strlen(OAUTH_PRM_PATH));
        return;
    }
    const char *origin = h.origin;
    if (origin && !origin_ok(rt->config, origin)) {
        http_error(x, 403, JSONRPC_SERVER_ERROR, "Forbidden: Origin not allowed");
        return;
    }
    const struct rt_mcp_endpoint *ep = endpoint_for(l, path && *path ? path : "/");
    if (!ep) {
        exchange_problem(x, 404, "no MCP endpoint at this path (use /mcp or /mcp/<namespace>)",
                         NULL, NULL);
        return;
    }
    if (origin)
        cors_headers(req, origin);
    enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
    if (cmd == EVHTTP_REQ_OPTIONS) {
        preflight(x, req);
        return;
    }
    size_t nauth;
    const struct rt_inbound *const *auth = catalog_auth(ep->catalog, &nauth);
    const struct rt_inbound *fail = reqcheck_auth_static(req, auth, nauth);
    if (fail) {
        http_error(x, 401, JSONRPC_SERVER_ERROR, "Unauthorized: missing or wrong credentials");
        return;
    }
    if (oauth_any(auth, nauth) && !mcp_oauth(x, fl, ep))
        return;
    mcp_serve(x, fl, ep, &h);
}

/* An authorized request to endpoint <ep> of listener <fl>. */
static void mcp_serve(struct exchange *x, const struct front_listener *fl,
                      const struct rt_mcp_endpoint *ep, const struct mcp_hdrs *h)
{
    struct evhttp_request *req = exchange_req(x);
    const struct runtime *rt = exchange_runtime(x);
    size_t nauth;
    const struct rt_inbound *const *auth = catalog_auth(ep->catalog, &nauth);
    /* HTTP 429 with Retry-After, as any HTTP client expects; the body is the JSON-RPC error
     * shape of the other transport refusals, so MCP clients show its message. */
    if (!ratelimit_in(x, auth, nauth)) {
        http_error(x, 429, JSONRPC_SERVER_ERROR,
                   "Too Many Requests: this client is over the rate limit; retry after the time "
                   "in Retry-After");
        return;
    }
    switch (evhttp_request_get_command(req)) {
    case EVHTTP_REQ_POST:
        http_post(x, ep, h);
        return;
    case EVHTTP_REQ_DELETE:
        http_delete(x, h->session);
        return;
    case EVHTTP_REQ_GET:
        if (rt->config->mcp_max_streams > 0) {
            http_get(x, fl, ep, h);
            return;
        }
        /* mcp.maxStreams 0: no server-to-client stream is offered (the spec's 405 answer). */
        /* fall through */
    default: {
        bool streams = rt->config->mcp_max_streams > 0;
        evhttp_add_header(evhttp_request_get_output_headers(req), "Allow",
                          streams ? MCP_ALLOW : MCP_ALLOW_POST);
        http_error(x, 405, JSONRPC_SERVER_ERROR,
                   streams
                       ? "Method Not Allowed: POST JSON-RPC messages; GET opens the SSE stream"
                       : "Method Not Allowed: POST JSON-RPC messages; no SSE stream is offered");
        return;
    }
    }
}
