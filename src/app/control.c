/*
 * control: see control.h. JSON shapes follow the reference engine where it serves the endpoint
 * (health, status, metrics) and its control-port blueprint where it does not yet (reload,
 * validate, logs).
 */
#include "app/control.h"

#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <cjson/cJSON.h>
#include <event2/buffer.h>
#include <event2/keyvalq_struct.h>

#include "app/admin.h"
#include "app/server.h"
#include "base/clock.h"
#include "base/diag.h"
#include "base/log.h"
#include "base/util.h"
#include "http/exchange.h"
#include "http/reqcheck.h"
#include "spec/checks.h"
#include "spec/loader.h"

/* Every adapter of every document: type, namespace, port and state ("started" once the
 * process serves; a stdio MCP adapter is served by `capproxy mcp-stdio` instead). */
static cJSON *adapters_json(const struct runtime *rt, bool ready)
{
    cJSON *list = cJSON_CreateArray();
    for (size_t i = 0; i < rt->model->ncaps; i++)
        for (size_t j = 0; j < rt->model->caps[i]->nexposes; j++) {
            const struct model_expose *e = &rt->model->caps[i]->exposes[j];
            cJSON *o = cJSON_CreateObject();
            cJSON_AddStringToObject(o, "type", server_adapter_kind(e->type));
            if (e->ns)
                cJSON_AddStringToObject(o, "namespace", e->ns);
            if (e->port > 0)
                cJSON_AddNumberToObject(o, "port", e->port);
            bool stdio = e->transport && str_eq(e->transport, "stdio");
            cJSON_AddStringToObject(o, "state", stdio ? "stdio" : ready ? "started" : "stopped");
            cJSON_AddItemToArray(list, o);
        }
    return list;
}

static void reply_ready(struct exchange *x, const struct control_listener *cl)
{
    const char *state;
    bool ready = admin_ready(&cl->srv->admin, &state);
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "status", ready ? "UP" : "DEGRADED");
    if (!ready)
        cJSON_AddStringToObject(root, "reason", state);
    cJSON_AddItemToObject(root, "adapters", adapters_json(exchange_runtime(x), ready));
    exchange_reply_json(x, ready ? 200 : 503, "application/json", root);
}

static void reply_status(struct exchange *x, const struct control_listener *cl,
                         const struct model_expose *e)
{
    const struct model_capability *cap = e->cap;
    cJSON *root = cJSON_CreateObject();
    cJSON *c = cJSON_AddObjectToObject(root, "capability");
    if (cap->label)
        cJSON_AddStringToObject(c, "label", cap->label);
    if (cap->version)
        cJSON_AddStringToObject(c, "specVersion", cap->version);
    cJSON *eng = cJSON_AddObjectToObject(root, "engine");
    cJSON_AddStringToObject(eng, "name", "capproxy");
    cJSON_AddStringToObject(eng, "version", CAPPROXY_VERSION);
    char up[48];
    snprintf(up, sizeof up, "PT%.3fS", clock_ms_since(&cl->srv->started) / 1000.0);
    cJSON_AddStringToObject(root, "uptime", up);
    cJSON_AddStringToObject(cJSON_AddObjectToObject(root, "otel"), "status", "inactive");
    cJSON_AddItemToObject(root, "adapters",
                          adapters_json(exchange_runtime(x), admin_ready(&cl->srv->admin, NULL)));
    exchange_reply_json(x, 200, "application/json", root);
}

static void reply_reload(struct exchange *x, const struct control_listener *cl)
{
    LOG_I("control: reloading configuration and capabilities");
    enum server_reload_result r = server_reload_now(cl->srv);
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "status", r == SERVER_RELOADED ? "applied" : "rejected");
    if (r == SERVER_RELOAD_FAILED)
        cJSON_AddStringToObject(root, "reason",
                                "the configuration or a document does not load (the log says "
                                "why); the previous one keeps serving");
    else if (r == SERVER_RELOAD_LISTENERS)
        cJSON_AddStringToObject(root, "reason",
                                "the listen addresses or ports change; restart to apply them");
    /* This request still runs on the runtime it started on; the next one sees the new one. */
    exchange_reply_json(x, r == SERVER_RELOADED ? 200 : 409, "application/json", root);
}

static cJSON *diag_json(const struct diag_entry *e)
{
    cJSON *o = cJSON_CreateObject();
    if (e->line > 0) {
        cJSON_AddNumberToObject(o, "line", e->line);
        cJSON_AddNumberToObject(o, "col", e->col);
    }
    cJSON_AddStringToObject(o, "message", e->message);
    return o;
}

/* Load the YAML document of the body through the loader, the checks and a runtime build with
 * the running configuration, as `capproxy validate` would, and apply nothing. */
static void reply_validate(struct exchange *x, struct evhttp_request *req)
{
    size_t len;
    if (!reqcheck_body_fits(req, exchange_config(x), &len)) {
        exchange_problem(x, 413, "request body is larger than the configured limit", NULL, NULL);
        return;
    }
    if (len == 0) {
        exchange_problem(x, 400, "send the capability document (YAML) as the request body", "body",
                         NULL);
        return;
    }
    struct evbuffer *in = evhttp_request_get_input_buffer(req);
    const char *buf = (const char *)evbuffer_pullup(in, -1);
    struct diag d;
    diag_init(&d);
    struct model *m = model_new();
    loader_load_buffer(m, "request", buf, len, &d);
    if (d.nerrors == 0)
        checks_validate(m, &d);
    if (d.nerrors == 0) {
        runtime_free(runtime_build(m, exchange_config(x), &d));
        m = NULL; /* the runtime owned it */
    }
    model_free(m);
    cJSON *root = cJSON_CreateObject();
    cJSON_AddBoolToObject(root, "valid", d.nerrors == 0);
    cJSON *errors = cJSON_AddArrayToObject(root, "errors");
    cJSON *warnings = cJSON_AddArrayToObject(root, "warnings");
    for (size_t i = 0; i < d.n; i++)
        cJSON_AddItemToArray(d.v[i].level == DIAG_ERROR ? errors : warnings, diag_json(&d.v[i]));
    diag_deinit(&d);
    exchange_reply_json(x, 200, "application/json", root);
}

static cJSON *logs_json(void)
{
    char level[8];
    snprintf(level, sizeof level, "%s", log_level_name(log_level_get()));
    for (char *c = level; *c; c++)
        *c = (char)(*c - ('a' <= *c && *c <= 'z' ? 'a' - 'A' : 0));
    cJSON *root = cJSON_CreateObject();
    cJSON *r = cJSON_AddObjectToObject(cJSON_AddObjectToObject(root, "loggers"), "ROOT");
    cJSON_AddStringToObject(r, "configuredLevel", level);
    cJSON_AddStringToObject(r, "effectiveLevel", level);
    return root;
}

/* PUT /logs/ROOT {"level": "DEBUG"}: capproxy has one logger, the process's. */
static void reply_set_level(struct exchange *x, struct evhttp_request *req, const char *logger)
{
    if (!str_eq(logger, "ROOT")) {
        exchange_problem(x, 404, "capproxy has one logger: ROOT", "logger", NULL);
        return;
    }
    size_t len;
    if (!reqcheck_body_fits(req, exchange_config(x), &len)) {
        exchange_problem(x, 413, "request body is larger than the configured limit", NULL, NULL);
        return;
    }
    struct evbuffer *in = evhttp_request_get_input_buffer(req);
    cJSON *body = cJSON_ParseWithLength((const char *)evbuffer_pullup(in, -1), len);
    const cJSON *lv = cJSON_GetObjectItemCaseSensitive(body, "level");
    int level = cJSON_IsString(lv) ? log_level_parse(lv->valuestring) : -1;
    cJSON_Delete(body);
    if (level < 0) {
        exchange_problem(x, 400, "'level' must be one of ERROR, WARN, INFO, DEBUG", "level", NULL);
        return;
    }
    log_level_set((enum log_level)level);
    LOG_I("control: log level set to %s", log_level_name((enum log_level)level));
    exchange_reply_json(x, 200, "application/json", logs_json());
}

/* Whether the peer of <req> is on this host. */
static bool peer_is_loopback(struct evhttp_request *req)
{
    struct evhttp_connection *conn = evhttp_request_get_connection(req);
    const struct sockaddr *sa = conn ? evhttp_connection_get_addr(conn) : NULL;
    if (!sa)
        return false;
    if (sa->sa_family == AF_INET)
        return (ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr) >> 24) == 127;
    if (sa->sa_family == AF_INET6) {
        const struct in6_addr *a = &((const struct sockaddr_in6 *)sa)->sin6_addr;
        return IN6_IS_ADDR_LOOPBACK(a) || (IN6_IS_ADDR_V4MAPPED(a) && a->s6_addr[12] == 127);
    }
    return false;
}

/* Name the matched route <p>; answer 405 with the methods <allow> the path takes; false when
 * <cmd> is the one it takes. */
static bool wrong_method(struct exchange *x, struct evhttp_request *req, const char *p,
                         enum evhttp_cmd_type cmd, enum evhttp_cmd_type want, const char *allow)
{
    /* The route label of the metrics: a fixed set, whatever logger a PUT names. */
    exchange_set_route(x, strncmp(p, "/logs/", 6) == 0 ? "/logs/{logger}" : p);
    if (cmd == want || (want == EVHTTP_REQ_GET && cmd == EVHTTP_REQ_HEAD))
        return false;
    evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", allow);
    exchange_problem(x, 405, "method not allowed on this path", NULL, NULL);
    return true;
}

void control_handle(struct evhttp_request *req, void *arg)
{
    const struct control_listener *cl = arg;
    struct exchange *x = exchange_begin(cl->fl->loop, req, "control");
    if (!x)
        return;
    const struct runtime *rt = exchange_runtime(x);
    const struct model_expose *e = front_listener_get(cl->fl, rt)->expose;
    const struct model_control *mc = &e->control;
    const struct rt_inbound *inbound = runtime_inbound(rt, e);
    if (inbound && reqcheck_auth(req, &inbound, 1)) {
        exchange_problem(x, 401, "missing or wrong credentials for the control port", NULL, NULL);
        return;
    }
    const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
    const char *p = uri ? evhttp_uri_get_path(uri) : NULL;
    enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
    if (!p)
        p = "/";
    /* What changes or loads something answers only this host, unless the port authenticates. */
    if ((cmd == EVHTTP_REQ_POST || cmd == EVHTTP_REQ_PUT) && !inbound && !peer_is_loopback(req)) {
        exchange_problem(x, 403,
                         "the control port takes POST and PUT from loopback only, unless it has "
                         "authentication",
                         NULL, NULL);
        return;
    }
    if (mc->health && str_eq(p, "/health/live")) {
        if (!wrong_method(x, req, p, cmd, EVHTTP_REQ_GET, "GET, HEAD"))
            exchange_reply_text(x, 200, "application/json", "{\"status\":\"UP\"}");
    } else if (mc->health && str_eq(p, "/health/ready")) {
        if (!wrong_method(x, req, p, cmd, EVHTTP_REQ_GET, "GET, HEAD"))
            reply_ready(x, cl);
    } else if (mc->info && str_eq(p, "/status")) {
        if (!wrong_method(x, req, p, cmd, EVHTTP_REQ_GET, "GET, HEAD"))
            reply_status(x, cl, e);
    } else if (mc->reload && str_eq(p, "/config/reload")) {
        if (!wrong_method(x, req, p, cmd, EVHTTP_REQ_POST, "POST"))
            reply_reload(x, cl);
    } else if (mc->validate && str_eq(p, "/config/validate")) {
        if (!wrong_method(x, req, p, cmd, EVHTTP_REQ_POST, "POST"))
            reply_validate(x, req);
    } else if (mc->logs && str_eq(p, "/logs")) {
        if (!wrong_method(x, req, p, cmd, EVHTTP_REQ_GET, "GET, HEAD"))
            exchange_reply_json(x, 200, "application/json", logs_json());
    } else if (mc->logs && strncmp(p, "/logs/", 6) == 0 && !str_eq(p, "/logs/stream")) {
        if (!wrong_method(x, req, p, cmd, EVHTTP_REQ_PUT, "PUT"))
            reply_set_level(x, req, p + 6);
    } else if (mc->metrics && str_eq(p, "/metrics")) {
        if (!wrong_method(x, req, p, cmd, EVHTTP_REQ_GET, "GET, HEAD")) {
            struct strbuf out;
            strbuf_init(&out, 0);
            admin_metrics(&cl->srv->admin, &out);
            exchange_reply_text(x, 200, "text/plain; version=0.0.4; charset=utf-8",
                                out.data ? out.data : "");
            strbuf_deinit(&out);
        }
    } else {
        exchange_problem(x, 404, "no such control endpoint, or it is not enabled", NULL, NULL);
    }
}
