/*
 * mcp: see mcp.h. The handler never blocks: the tool list is built once per endpoint and then
 * only read, session ids are checked by their signature (no table), and a tool call is one
 * asynchronous upstream transfer (exchange_forward), exactly as a REST call.
 *
 * Both transports go through the same steps (initialize, ping, tools/list, prepare a call,
 * turn the upstream answer into a tool result); only framing, sessions and the HTTP checks
 * differ.
 */
#include "front/mcp.h"

#include <ctype.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/keyvalq_struct.h>

#include "http/exchange.h"
#include "core/jsonrpc.h"
#include "base/log.h"
#include "core/mapping.h"
#include "core/session.h"

/* The framing checks refuse (431) more header fields than limits.maxHeaders, at most this. */
#define MCP_MAX_HEADERS       CONFIG_MAX_HEADERS_LIMIT
#define MCP_SESSION_HDR       "Mcp-Session-Id"
#define MCP_VERSION_HDR       "MCP-Protocol-Version"
#define MCP_ALLOW             "POST, DELETE, OPTIONS"
#define MCP_STDIO_MAX_PENDING (16u << 20) /* bytes queued for stdout before stdin pauses */

/* ---- per-endpoint data built once ---- */

/* What an endpoint serves, derived from the immutable runtime at first use and kept in the
 * endpoint's cache slot (freed with the runtime). Never changed once published. */
struct ep_cache {
    const struct rt_mcp_endpoint *ep;
    char *tools_json;               /* the serialised tools/list result */
    const struct rt_inbound **auth; /* the credentials of every adapter behind the endpoint */
    size_t nauth;
};

/* Serialises the (rare) first builds; readers only do an acquire load of the slot. */
static pthread_mutex_t mcp_cache_lock = PTHREAD_MUTEX_INITIALIZER;

static void auth_add(struct ep_cache *c, const struct runtime *rt, const struct model_expose *e)
{
    const struct rt_inbound *in = runtime_inbound(rt, e);
    if (!in)
        return;
    /* The same adapter behind /mcp and /mcp/<ns> needs its credential once. */
    for (size_t i = 0; i < c->nauth; i++)
        if (c->auth[i] == in)
            return;
    c->auth = xrealloc(c->auth, (c->nauth + 1) * sizeof *c->auth);
    c->auth[c->nauth++] = in;
}

static void cache_free(void *arg)
{
    struct ep_cache *c = arg;
    if (!c)
        return;
    free(c->tools_json);
    free(c->auth);
    free(c);
}

static struct ep_cache *cache_build(const struct runtime *rt, const struct rt_mcp_endpoint *ep)
{
    struct ep_cache *c = xcalloc(1, sizeof *c);
    c->ep = ep;
    c->tools_json = jsonrpc_mcp_tools_list(ep->tools, ep->ntools);
    /* The aggregate /mcp serves several adapters: a request must satisfy each one's
     * authentication, or it could reach a protected adapter's tools through it. */
    for (size_t i = 0; i < ep->ntools; i++) {
        const struct model_expose *e = ep->tools[i]->expose;
        bool seen = false;
        for (size_t j = 0; j < i && !seen; j++)
            seen = ep->tools[j]->expose == e;
        if (!seen && e)
            auth_add(c, rt, e);
    }
    if (ep->expose && ep->ntools == 0)
        auth_add(c, rt, ep->expose);
    return c;
}

/* The endpoint's derived data, built by the first request that needs it. The runtime is
 * read-only except for this slot, which it reserves for the front end. */
static const struct ep_cache *cache_get(const struct runtime *rt, const struct rt_mcp_endpoint *ep)
{
    struct rt_mcp_endpoint *slot = (struct rt_mcp_endpoint *)ep;
    struct ep_cache *c = atomic_load_explicit(&slot->cache, memory_order_acquire);
    if (c)
        return c;
    pthread_mutex_lock(&mcp_cache_lock);
    c = atomic_load_explicit(&slot->cache, memory_order_acquire);
    if (!c) {
        c = cache_build(rt, ep);
        slot->cache_free = cache_free; /* before publishing: runtime_free reads it after */
        atomic_store_explicit(&slot->cache, c, memory_order_release);
    }
    pthread_mutex_unlock(&mcp_cache_lock);
    return c;
}

/* ---- the steps both transports share ---- */

static const struct rt_call *find_tool(const struct rt_mcp_endpoint *ep, const char *name)
{
    for (size_t i = 0; i < ep->ntools; i++)
        if (str_eq(ep->tools[i]->name, name))
            return ep->tools[i];
    return NULL;
}

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
    return jsonrpc_result(m->id, jsonrpc_mcp_initialize_result(*version, ep->description));
}

/* Check a tools/call request and map it to the upstream request in <out>. NULL when the
 * transfer should start (<*callp> set); otherwise the response to send at once: a JSON-RPC
 * error for bad params or an unknown tool, a tool error (isError) for invalid arguments.
 * <headers> are where credentials come from (NULL for stdio: configuration only). */
static cJSON *prepare_call(const struct runtime *rt, const struct rt_mcp_endpoint *ep,
                           const struct jsonrpc_msg *m, const struct mapping_kv *headers,
                           size_t nheaders, struct mapping_out *out, const struct rt_call **callp)
{
    const char *name;
    const cJSON *args;
    const char *bad = jsonrpc_mcp_call_params(m->params, &name, &args);
    *callp = NULL;
    if (bad)
        return jsonrpc_error(m->id, JSONRPC_INVALID_PARAMS, bad);
    const struct rt_call *call = find_tool(ep, name);
    if (!call) {
        /* The name is the client's text: cut it short and keep the reply valid UTF-8. */
        char *safe = jsonrpc_utf8_sanitize(name, strnlen(name, 200));
        char *msg = xasprintf("Unknown tool: %s", safe);
        cJSON *r = jsonrpc_error(m->id, JSONRPC_INVALID_PARAMS, msg);
        free(msg);
        free(safe);
        return r;
    }
    *callp = call;
    struct mapping_input in = {
        .mcp = true,
        .headers = headers,
        .nheaders = nheaders,
        .args = args,
    };
    struct mapping_error err;
    if (mapping_build(rt, call, &in, out, &err) < 0) {
        if (err.status == 400 || err.status == 401)
            return jsonrpc_result(m->id,
                                  jsonrpc_mcp_text_result(err.detail, strlen(err.detail), true));
        return jsonrpc_error(m->id, JSONRPC_INTERNAL_ERROR, "the call could not be prepared");
    }
    return NULL;
}

/* The response for a finished upstream transfer. Failures name their kind, never a secret. */
static cJSON *call_response(const struct rt_call *call, const cJSON *id,
                            const struct upstream_result *res)
{
    if (res->error != UPSTREAM_OK) {
        char msg[160];
        const char *what = res->error == UPSTREAM_ERR_TIMEOUT
                               ? "the upstream did not answer in time"
                               : "the upstream could not be reached or failed";
        int n = snprintf(msg, sizeof msg, "%s (%s)", what, upstream_error_name(res->error));
        return jsonrpc_result(id, jsonrpc_mcp_text_result(msg, (size_t)n, true));
    }
    size_t len = evbuffer_get_length(res->body);
    const char *body = len ? (const char *)evbuffer_pullup(res->body, -1) : "";
    /* A redirect is passed on, not followed: the tool result must say where it points. */
    const char *location = NULL;
    for (size_t i = 0; res->status >= 300 && res->status < 400 && i < res->nheaders; i++)
        if (str_eq_ci(res->headers[i].name, "location"))
            location = res->headers[i].value;
    return jsonrpc_result(id, jsonrpc_mcp_upstream_result(call, res->status, location, body, len));
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

/* A static name for the access log: never echo a client's method text into it. */
static const char *method_route(const char *method)
{
    for (size_t i = 0; i < UTIL_ARRAY_LEN(mcp_methods); i++)
        if (str_eq(method, mcp_methods[i]))
            return mcp_methods[i];
    return "unknown-method";
}

/* ---- HTTP transport ---- */

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

/* Split "host[:port]" or "[v6][:port]" into a host (brackets kept for IPv6) and a port (-1 when
 * absent). False when malformed. */
static bool split_hostport(const char *s, size_t len, char *host, size_t hostcap, long *port)
{
    const char *end = s + len, *colon = NULL;
    *port = -1;
    if (len == 0)
        return false;
    if (s[0] == '[') {
        const char *rb = memchr(s, ']', len);
        if (!rb)
            return false;
        if (rb + 1 < end) {
            if (rb[1] != ':')
                return false;
            colon = rb + 1;
        }
    } else {
        colon = memchr(s, ':', len);
        if (colon && memchr(colon + 1, ':', (size_t)(end - colon - 1)))
            return false; /* an unbracketed IPv6 address is not a valid Host */
    }
    size_t hlen = colon ? (size_t)(colon - s) : len;
    if (hlen == 0 || hlen >= hostcap)
        return false;
    memcpy(host, s, hlen);
    host[hlen] = '\0';
    if (colon) {
        char pbuf[8];
        size_t plen = (size_t)(end - colon - 1);
        if (plen == 0 || plen >= sizeof pbuf)
            return false;
        memcpy(pbuf, colon + 1, plen);
        pbuf[plen] = '\0';
        if (str_to_long(pbuf, 0, 65535, port) < 0)
            return false;
    }
    return true;
}

static bool is_loopback_name(const char *host)
{
    return str_eq_ci(host, "localhost") || str_eq(host, "127.0.0.1") || str_eq_ci(host, "[::1]");
}

/* Whether an allowedHosts entry admits <host> (and <port>, -1 for "any"). */
static bool allowed_entry(const char *entry, const char *host, long port)
{
    char eh[256];
    long ep;
    if (!split_hostport(entry, strlen(entry), eh, sizeof eh, &ep)) {
        /* A bare IPv6 address written without brackets. */
        char br[260];
        snprintf(br, sizeof br, "[%s]", entry);
        return str_eq_ci(br, host);
    }
    return str_eq_ci(eh, host) && (ep < 0 || port < 0 || ep == port);
}

/* DNS-rebinding guard: the Host must name this listener (or an allowed host). */
static bool host_ok(const struct rt_listener *l, const struct config *cfg, const char *value)
{
    char host[256];
    long port;
    if (!value)
        return true; /* HTTP/1.0 without Host: not a browser, nothing to rebind */
    if (!split_hostport(value, strlen(value), host, sizeof host, &port))
        return false;
    long eff = port < 0 ? 80 : port;
    if (eff == l->port) {
        if (is_loopback_name(host))
            return true;
        char lh[260];
        snprintf(lh, sizeof lh, strchr(l->host, ':') ? "[%s]" : "%s", l->host);
        if (str_eq_ci(lh, host) && !str_eq(l->host, "0.0.0.0") && !str_eq(l->host, "::"))
            return true;
    }
    for (size_t i = 0; i < cfg->nmcp_allowed_hosts; i++)
        if (allowed_entry(cfg->mcp_allowed_hosts[i], host, eff))
            return true;
    return false;
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
    char host[256];
    long port;
    if (!split_hostport(rest, len, host, sizeof host, &port))
        return false;
    if (is_loopback_name(host))
        return true;
    for (size_t i = 0; i < cfg->nmcp_allowed_hosts; i++)
        if (allowed_entry(cfg->mcp_allowed_hosts[i], host, -1))
            return true;
    return false;
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

/* Whether an Accept header admits application/json. */
static bool accepts_json(const char *accept)
{
    for (const char *p = accept; p && *p;) {
        size_t n = strcspn(p, ",");
        char range[128];
        if (n < sizeof range) {
            memcpy(range, p, n);
            range[n] = '\0';
            if (media_is(range, "application/json") || media_is(range, "application/*") ||
                media_is(range, "*/*"))
                return true;
        }
        p += n;
        if (*p == ',')
            p++;
    }
    return false;
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
};

static void http_call_free(void *arg)
{
    struct http_call *hc = arg;
    cJSON_Delete(hc->id);
    free(hc);
}

static void on_tool_upstream(const struct upstream_result *res, void *arg)
{
    struct exchange *x = arg;
    struct http_call *hc = exchange_ctx(x);
    metrics_mcp_call(loop_metrics(exchange_loop(x)), hc->call->name,
                     res->error != UPSTREAM_OK ? "upstream_error"
                     : res->status >= 400      ? "tool_error"
                                               : "ok");
    reply_msg(x, 200, call_response(hc->call, hc->id, res));
}

static void http_tools_call(struct exchange *x, const struct ep_cache *c,
                            const struct jsonrpc_msg *m)
{
    struct metrics *metrics = loop_metrics(exchange_loop(x));
    struct evhttp_request *req = exchange_req(x);
    struct mapping_kv headers[MCP_MAX_HEADERS];
    size_t nheaders = 0;
    const struct evkeyvalq *in_h = evhttp_request_get_input_headers(req);
    for (const struct evkeyval *kv = in_h->tqh_first; kv; kv = kv->next.tqe_next) {
        if (exchange_is_inbound_header(c->auth, c->nauth, kv->key))
            continue;
        if (nheaders == MCP_MAX_HEADERS) {
            http_error(x, 431, JSONRPC_SERVER_ERROR, "too many header fields");
            return;
        }
        headers[nheaders++] = (struct mapping_kv){kv->key, kv->value, strlen(kv->value)};
    }
    const struct rt_call *call;
    cJSON *now =
        prepare_call(exchange_runtime(x), c->ep, m, headers, nheaders, exchange_out(x), &call);
    exchange_set_route(x, call ? call->name : "tools/call");
    if (now) {
        if (call) /* a known tool refused before sending: its arguments were wrong */
            metrics_mcp_call(metrics, call->name, "invalid_arguments");
        reply_msg(x, 200, now);
        return;
    }
    struct http_call *hc = xcalloc(1, sizeof *hc);
    hc->call = call;
    hc->id = cJSON_Duplicate(m->id, 1);
    exchange_set_ctx(x, hc, http_call_free);
    if (exchange_forward(x, on_tool_upstream) < 0) {
        static const char msg[] = "the upstream request could not be started";
        exchange_note_upstream(x, -1, "setup");
        metrics_mcp_call(metrics, call ? call->name : "", "upstream_error");
        reply_msg(x, 200,
                  jsonrpc_result(m->id, jsonrpc_mcp_text_result(msg, sizeof msg - 1, true)));
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
    enum session_status st = session_check(sid, (int64_t)time(NULL));
    if (st != SESSION_OK) {
        LOG_D("mcp: session id refused: %s", session_status_name(st));
        http_error(x, 404, JSONRPC_SESSION_NOT_FOUND, "Session not found");
        return -1;
    }
    return 0;
}

static void http_post(struct exchange *x, const struct ep_cache *c)
{
    struct evhttp_request *req = exchange_req(x);
    const struct evkeyvalq *in_h = evhttp_request_get_input_headers(req);
    struct jsonrpc_msg m = {0};
    cJSON *err = NULL;

    const char *ct = evhttp_find_header(in_h, "Content-Type");
    if (!ct || !media_is(ct, "application/json")) {
        http_error(x, 415, JSONRPC_SERVER_ERROR,
                   "Unsupported Media Type: Content-Type must be application/json");
        return;
    }
    const char *accept = evhttp_find_header(in_h, "Accept");
    if (accept && !accepts_json(accept)) {
        http_error(x, 406, JSONRPC_SERVER_ERROR,
                   "Not Acceptable: Accept must include application/json");
        return;
    }
    struct evbuffer *in_b = evhttp_request_get_input_buffer(req);
    size_t blen = evbuffer_get_length(in_b);
    if (blen > exchange_config(x)->max_body_size) {
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
    const char *sid = evhttp_find_header(in_h, MCP_SESSION_HDR);
    if (m.kind == JSONRPC_REQUEST && str_eq(m.method, "initialize")) {
        exchange_set_route(x, "initialize");
        const char *version = NULL;
        cJSON *r = do_initialize(c->ep, &m, &version);
        if (version) {
            char id[SESSION_ID_MAX];
            if (session_issue((int64_t)time(NULL), id) < 0) {
                cJSON_Delete(r);
                r = jsonrpc_error(m.id, JSONRPC_INTERNAL_ERROR, "cannot issue a session id");
            } else {
                evhttp_add_header(evhttp_request_get_output_headers(req), MCP_SESSION_HDR, id);
            }
        }
        reply_msg(x, 200, r);
        goto out;
    }
    exchange_set_route(x, m.kind == JSONRPC_RESPONSE ? "response" : method_route(m.method));
    if (check_session(x, sid) < 0)
        goto out;
    const char *pv = evhttp_find_header(in_h, MCP_VERSION_HDR);
    if (pv && !session_version_supported(pv)) {
        char msg[200];
        snprintf(msg, sizeof msg,
                 "Bad Request: unsupported MCP-Protocol-Version (supported: %s, %s, %s)",
                 session_versions[0], session_versions[1], session_versions[2]);
        http_error(x, 400, JSONRPC_SERVER_ERROR, msg);
        goto out;
    }
    if (m.kind != JSONRPC_REQUEST) {
        /* Notifications (initialized, cancelled, ...) and responses need no answer. */
        exchange_reply(x, 202, NULL, NULL);
        goto out;
    }
    if (str_eq(m.method, "ping")) {
        reply_msg(x, 200, jsonrpc_result(m.id, cJSON_CreateObject()));
    } else if (str_eq(m.method, "tools/list")) {
        char *s = jsonrpc_result_text(m.id, c->tools_json);
        exchange_reply_text(x, 200, "application/json", s);
        free(s);
    } else if (str_eq(m.method, "tools/call")) {
        http_tools_call(x, c, &m);
    } else {
        reply_msg(x, 200, jsonrpc_error(m.id, JSONRPC_METHOD_NOT_FOUND, "Method not found"));
    }
out:
    jsonrpc_msg_free(&m);
}

static void http_delete(struct exchange *x)
{
    const char *sid =
        evhttp_find_header(evhttp_request_get_input_headers(exchange_req(x)), MCP_SESSION_HDR);
    exchange_set_route(x, "session/delete");
    if (!sid) {
        http_error(x, 400, JSONRPC_SERVER_ERROR, "Bad Request: Mcp-Session-Id header is required");
        return;
    }
    enum session_status st = session_end(sid, (int64_t)time(NULL));
    if (st != SESSION_OK) {
        LOG_D("mcp: session end refused: %s", session_status_name(st));
        http_error(x, 404, JSONRPC_SESSION_NOT_FOUND, "Session not found");
        return;
    }
    exchange_reply(x, 200, NULL, NULL);
}

void mcp_handle(struct evhttp_request *req, void *arg)
{
    const struct front_listener *fl = arg;
    struct exchange *x = exchange_begin(fl->loop, req, "mcp");
    if (!x)
        return;
    const struct runtime *rt = exchange_runtime(x);
    const struct rt_listener *l = front_listener_get(fl, rt);
    const struct evkeyvalq *in_h = evhttp_request_get_input_headers(req);
    /* DNS rebinding: a page of a foreign site whose name resolves to us must get nothing. The
     * framing checks (framing.c) let through one Host at most, so this one is the only one. */
    if (!host_ok(l, rt->config, evhttp_find_header(in_h, "Host"))) {
        http_error(x, 403, JSONRPC_SERVER_ERROR, "Forbidden: Host header not allowed");
        return;
    }
    const char *origin = evhttp_find_header(in_h, "Origin");
    if (origin && !origin_ok(rt->config, origin)) {
        http_error(x, 403, JSONRPC_SERVER_ERROR, "Forbidden: Origin not allowed");
        return;
    }
    const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
    const char *path = uri ? evhttp_uri_get_path(uri) : NULL;
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
    const struct ep_cache *c = cache_get(rt, ep);
    const struct rt_inbound *fail = exchange_check_auth(x, c->auth, c->nauth);
    if (fail) {
        http_error(x, 401, JSONRPC_SERVER_ERROR, "Unauthorized: missing or wrong credentials");
        return;
    }
    switch (cmd) {
    case EVHTTP_REQ_POST:
        http_post(x, c);
        return;
    case EVHTTP_REQ_DELETE:
        http_delete(x);
        return;
    default:
        /* GET would open a server-to-client SSE stream: this server never sends requests or
         * notifications of its own, so it offers none (the spec's 405 answer). */
        evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", MCP_ALLOW);
        http_error(x, 405, JSONRPC_SERVER_ERROR,
                   "Method Not Allowed: POST JSON-RPC messages; no SSE stream is offered");
        return;
    }
}

/* ---- stdio transport ---- */

struct stdio_srv;

/* A tools/call in flight on stdio. */
struct stdio_call {
    struct stdio_srv *s;
    struct stdio_call *prev, *next;
    const struct rt_call *call;
    cJSON *id;
    struct mapping_out out;
    struct upstream_xfer *xfer;
};

struct stdio_srv {
    const struct runtime *rt;
    const struct config *cfg;
    struct event_base *base;
    struct upstream *up;
    struct bufferevent *in, *out;
    struct event *sigterm, *sigint;
    struct rt_mcp_endpoint ep; /* every MCP tool of the runtime */
    char *instructions;
    const struct ep_cache *cache;
    struct stdio_call *calls;
    size_t ninflight;
    bool eof;        /* stdin ended: finish in-flight calls, then exit */
    bool discarding; /* skipping the rest of an oversized line */
    int rc;
};

static void stdio_maybe_finish(struct stdio_srv *s)
{
    if (s->eof && s->ninflight == 0 && evbuffer_get_length(bufferevent_get_output(s->out)) == 0)
        event_base_loopexit(s->base, NULL);
}

/* Queue one line for stdout. A client that stops reading must not make us buffer without
 * bound: past the limit, stdin is not read until stdout has drained (stdio_written). */
static void stdio_write_line(struct stdio_srv *s, const char *text)
{
    struct evbuffer *o = bufferevent_get_output(s->out);
    evbuffer_add(o, text, strlen(text));
    evbuffer_add(o, "\n", 1);
    if (evbuffer_get_length(o) > MCP_STDIO_MAX_PENDING && !s->eof)
        bufferevent_disable(s->in, EV_READ);
}

static void stdio_send(struct stdio_srv *s, cJSON *msg)
{
    /* Unformatted JSON has no raw newline (cJSON escapes them in strings): one line each. */
    char *t = cJSON_PrintUnformatted(msg);
    cJSON_Delete(msg);
    stdio_write_line(s, t);
    cJSON_free(t);
}

static void stdio_call_free(struct stdio_call *sc)
{
    struct stdio_srv *s = sc->s;
    if (sc->prev)
        sc->prev->next = sc->next;
    else
        s->calls = sc->next;
    if (sc->next)
        sc->next->prev = sc->prev;
    s->ninflight--;
    if (sc->xfer)
        upstream_cancel(sc->xfer);
    mapping_out_deinit(&sc->out);
    cJSON_Delete(sc->id);
    free(sc);
}

static void stdio_on_upstream(const struct upstream_result *res, void *arg)
{
    struct stdio_call *sc = arg;
    struct stdio_srv *s = sc->s;
    sc->xfer = NULL;
    LOG_D("mcp-stdio: tool %s: %s %ld", sc->call->name,
          res->error == UPSTREAM_OK ? "upstream status" : upstream_error_name(res->error),
          res->error == UPSTREAM_OK ? res->status : -1L);
    stdio_send(s, call_response(sc->call, sc->id, res));
    stdio_call_free(sc);
    stdio_maybe_finish(s);
}

static void stdio_tools_call(struct stdio_srv *s, const struct jsonrpc_msg *m)
{
    struct stdio_call *sc = xcalloc(1, sizeof *sc);
    sc->s = s;
    mapping_out_init(&sc->out);
    /* No headers: over stdio, credentials come from configuration only. */
    cJSON *now = prepare_call(s->rt, &s->ep, m, NULL, 0, &sc->out, &sc->call);
    if (now) {
        stdio_send(s, now);
        mapping_out_deinit(&sc->out);
        free(sc);
        return;
    }
    sc->id = cJSON_Duplicate(m->id, 1);
    sc->next = s->calls;
    if (s->calls)
        s->calls->prev = sc;
    s->calls = sc;
    s->ninflight++;
    struct upstream_request ur = {
        .method = sc->out.method,
        .url = sc->out.url.data,
        .headers = (const char *const *)sc->out.headers,
        .nheaders = sc->out.nheaders,
        .body = sc->out.body,
        .body_len = sc->out.body_len,
    };
    sc->xfer = upstream_start(s->up, &ur, stdio_on_upstream, sc);
    if (!sc->xfer) {
        static const char msg[] = "the upstream request could not be started";
        stdio_send(s, jsonrpc_result(m->id, jsonrpc_mcp_text_result(msg, sizeof msg - 1, true)));
        stdio_call_free(sc);
    }
}

/* notifications/cancelled: drop the call; the spec says no response is sent for it. */
static void stdio_cancel(struct stdio_srv *s, const struct jsonrpc_msg *m)
{
    const cJSON *rid =
        cJSON_IsObject(m->params) ? cJSON_GetObjectItemCaseSensitive(m->params, "requestId") : NULL;
    for (struct stdio_call *sc = s->calls; rid && sc; sc = sc->next)
        if (cJSON_Compare(sc->id, rid, true)) {
            LOG_D("mcp-stdio: tool %s cancelled by the client", sc->call->name);
            stdio_call_free(sc);
            return;
        }
}

static void stdio_message(struct stdio_srv *s, const char *line, size_t len)
{
    struct jsonrpc_msg m;
    cJSON *err = NULL;
    if (jsonrpc_parse(line, len, &m, &err) < 0) {
        stdio_send(s, err);
        return;
    }
    if (m.kind == JSONRPC_NOTIFICATION) {
        if (str_eq(m.method, "notifications/cancelled"))
            stdio_cancel(s, &m);
    } else if (m.kind == JSONRPC_REQUEST) {
        if (str_eq(m.method, "initialize")) {
            const char *version = NULL;
            stdio_send(s, do_initialize(&s->ep, &m, &version));
        } else if (str_eq(m.method, "ping")) {
            stdio_send(s, jsonrpc_result(m.id, cJSON_CreateObject()));
        } else if (str_eq(m.method, "tools/list")) {
            char *t = jsonrpc_result_text(m.id, s->cache->tools_json);
            stdio_write_line(s, t);
            free(t);
        } else if (str_eq(m.method, "tools/call")) {
            stdio_tools_call(s, &m);
        } else {
            stdio_send(s, jsonrpc_error(m.id, JSONRPC_METHOD_NOT_FOUND, "Method not found"));
        }
    }
    jsonrpc_msg_free(&m);
}

static void stdio_line(struct stdio_srv *s, char *line, size_t len)
{
    if (len && line[len - 1] == '\r')
        line[--len] = '\0';
    size_t i = 0;
    while (i < len && (line[i] == ' ' || line[i] == '\t'))
        i++;
    if (i == len)
        return; /* blank lines are allowed between messages */
    stdio_message(s, line, len);
}

static void stdio_read(struct bufferevent *bev, void *arg)
{
    struct stdio_srv *s = arg;
    struct evbuffer *in = bufferevent_get_input(bev);
    for (;;) {
        size_t len;
        char *line = evbuffer_readln(in, &len, EVBUFFER_EOL_LF);
        if (!line)
            break;
        if (s->discarding)
            s->discarding = false; /* the end of the oversized line */
        else
            stdio_line(s, line, len);
        free(line);
    }
    size_t pending = evbuffer_get_length(in);
    if (pending > s->cfg->max_body_size) {
        /* No newline within the limit: refuse the message, skip to its end. */
        if (!s->discarding)
            stdio_send(s, jsonrpc_error(NULL, JSONRPC_INVALID_REQUEST,
                                        "Invalid Request: message larger than the configured "
                                        "limit"));
        s->discarding = true;
        evbuffer_drain(in, pending);
    }
}

static void stdio_in_event(struct bufferevent *bev, short what, void *arg)
{
    struct stdio_srv *s = arg;
    if (!(what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)))
        return;
    if (what & BEV_EVENT_ERROR)
        LOG_W("mcp-stdio: reading stdin failed; finishing");
    stdio_read(bev, s);
    struct evbuffer *in = bufferevent_get_input(bev);
    size_t len = evbuffer_get_length(in);
    if (len && !s->discarding) {
        /* A last message without its newline. */
        char *line = xmalloc(len + 1);
        evbuffer_remove(in, line, len);
        line[len] = '\0';
        stdio_line(s, line, len);
        free(line);
    }
    bufferevent_disable(bev, EV_READ);
    s->eof = true;
    LOG_D("mcp-stdio: end of input, %zu call(s) in flight", s->ninflight);
    stdio_maybe_finish(s);
}

/* stdout has drained. */
static void stdio_written(struct bufferevent *bev, void *arg)
{
    struct stdio_srv *s = arg;
    if (!s->eof)
        bufferevent_enable(s->in, EV_READ);
    stdio_maybe_finish(s);
}

static void stdio_out_event(struct bufferevent *bev, short what, void *arg)
{
    struct stdio_srv *s = arg;
    if (what & (BEV_EVENT_ERROR | BEV_EVENT_EOF)) {
        LOG_W("mcp-stdio: stdout is closed; exiting");
        s->rc = 1;
        event_base_loopexit(s->base, NULL);
    }
}

static void stdio_signal(evutil_socket_t sig, short what, void *arg)
{
    struct stdio_srv *s = arg;
    LOG_I("mcp-stdio: %s: stopping", sig == SIGTERM ? "SIGTERM" : "SIGINT");
    event_base_loopexit(s->base, NULL);
}

/* Every MCP tool of the runtime once (first definition of a name wins), and the adapters'
 * descriptions as instructions. */
static void stdio_collect(struct stdio_srv *s)
{
    const struct runtime *rt = s->rt;
    struct strbuf instr;
    strbuf_init(&instr, 0);
    s->ep.path = "stdio";
    s->ep.tools = xcalloc(rt->ncalls ? rt->ncalls : 1, sizeof *s->ep.tools);
    for (size_t i = 0; i < rt->ncalls; i++) {
        struct rt_call *c = &rt->calls[i];
        if (!c->tool)
            continue;
        const struct rt_call *dup = find_tool(&s->ep, c->name);
        if (dup) {
            LOG_W("mcp-stdio: tool '%s' is defined by '%s' and '%s'; serving the first", c->name,
                  dup->expose->ns, c->expose->ns);
            continue;
        }
        bool first_of_adapter = true;
        for (size_t j = 0; j < s->ep.ntools && first_of_adapter; j++)
            first_of_adapter = s->ep.tools[j]->expose != c->expose;
        if (first_of_adapter && c->expose->description && *c->expose->description)
            strbuf_addf(&instr, "%s%s", instr.len ? "\n\n" : "", c->expose->description);
        s->ep.tools[s->ep.ntools++] = c;
    }
    s->instructions = strbuf_detach(&instr, NULL);
    s->ep.description = s->instructions;
}

static struct event_base *stdio_base(void)
{
    /* epoll refuses regular files and /dev/null, and stdin may well be one of them: poll(2)
     * takes any descriptor, and a desktop client's one session needs no more. */
    struct event_config *ec = event_config_new();
    event_config_avoid_method(ec, "epoll");
    struct event_base *base = event_base_new_with_config(ec);
    event_config_free(ec);
    return base ? base : event_base_new();
}

int mcp_stdio_run(const struct runtime *rt, const struct config *cfg)
{
    struct stdio_srv s = {.rt = rt, .cfg = cfg};
    int in_flags = fcntl(STDIN_FILENO, F_GETFL), out_flags = fcntl(STDOUT_FILENO, F_GETFL);
    stdio_collect(&s);
    s.base = stdio_base();
    if (!s.base) {
        LOG_E("mcp-stdio: cannot create an event loop");
        s.rc = 1;
        goto out;
    }
    struct upstream_opts uo;
    upstream_opts_from_config(&uo, cfg, 1);
    s.up = upstream_new(s.base, &uo);
    if (!s.up) {
        LOG_E("mcp-stdio: cannot create the upstream client");
        s.rc = 1;
        goto out;
    }
    s.cache = cache_get(rt, &s.ep);
    /* The loop must never block on a pipe; the flags live on the open file (shared with a
     * terminal or the parent), so they are restored on the way out. */
    evutil_make_socket_nonblocking(STDIN_FILENO);
    evutil_make_socket_nonblocking(STDOUT_FILENO);
    s.in = bufferevent_socket_new(s.base, STDIN_FILENO, 0);
    s.out = bufferevent_socket_new(s.base, STDOUT_FILENO, 0);
    if (!s.in || !s.out) {
        LOG_E("mcp-stdio: cannot watch stdin/stdout");
        s.rc = 1;
        goto out;
    }
    bufferevent_setcb(s.in, stdio_read, NULL, stdio_in_event, &s);
    bufferevent_setcb(s.out, NULL, stdio_written, stdio_out_event, &s);
    if (bufferevent_enable(s.in, EV_READ) < 0 || bufferevent_enable(s.out, EV_WRITE) < 0) {
        LOG_E("mcp-stdio: cannot watch stdin/stdout");
        s.rc = 1;
        goto out;
    }
    s.sigterm = evsignal_new(s.base, SIGTERM, stdio_signal, &s);
    s.sigint = evsignal_new(s.base, SIGINT, stdio_signal, &s);
    event_add(s.sigterm, NULL);
    event_add(s.sigint, NULL);
    LOG_I("mcp-stdio: serving %zu tools on stdin/stdout", s.ep.ntools);
    event_base_dispatch(s.base);
    if (s.ninflight)
        LOG_W("mcp-stdio: %zu call(s) abandoned", s.ninflight);
    /* Stopped by a signal: hand over what is buffered if stdout takes it now (non-blocking,
     * so a client that stopped reading cannot hold the exit). */
    if (s.rc == 0) {
        struct evbuffer *o = bufferevent_get_output(s.out);
        while (evbuffer_get_length(o) > 0 && evbuffer_write(o, STDOUT_FILENO) > 0)
            ;
    }
out:
    for (struct stdio_call *sc = s.calls, *next; sc; sc = next) {
        next = sc->next;
        stdio_call_free(sc); /* abandoned by a signal: no answer */
    }
    if (s.in)
        bufferevent_free(s.in);
    if (s.out)
        bufferevent_free(s.out);
    if (s.sigterm)
        event_free(s.sigterm);
    if (s.sigint)
        event_free(s.sigint);
    upstream_free(s.up); /* curl calls back into the loop: before event_base_free */
    if (s.base)
        event_base_free(s.base);
    cache_free(atomic_load(&s.ep.cache)); /* a local endpoint: not freed with the runtime */
    free(s.ep.tools);
    free(s.instructions);
    if (in_flags >= 0)
        fcntl(STDIN_FILENO, F_SETFL, in_flags);
    if (out_flags >= 0)
        fcntl(STDOUT_FILENO, F_SETFL, out_flags);
    return s.rc;
}
