/*
 * admin: see admin.h.
 */
#include "app/admin.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/keyvalq_struct.h>
#include <event2/listener.h>

#include "app/listen.h"
#include "base/httpstatus.h"
#include "base/metrics.h"
#include "base/util.h"
#include "http/ratelimit.h"

static void admin_reply(struct evhttp_request *req, int status, const char *ctype, const char *body)
{
    struct evbuffer *b = evbuffer_new();
    evbuffer_add(b, body, strlen(body));
    evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", ctype);
    evhttp_add_header(evhttp_request_get_output_headers(req), "Cache-Control", "no-store");
    evhttp_send_reply(req, status, httpstatus_text(status),
                      evhttp_request_get_command(req) == EVHTTP_REQ_HEAD ? NULL : b);
    evbuffer_free(b);
}

bool admin_ready(const struct admin_view *v, const char **state)
{
    bool draining = atomic_load(&v->shared->draining);
    bool ready = atomic_load(v->ready) && !draining;
    if (state)
        *state = ready ? "ready" : draining ? "draining" : "starting";
    return ready;
}

void admin_metrics(const struct admin_view *v, struct strbuf *out)
{
    struct metrics **shards = xcalloc(v->nloops ? v->nloops : 1, sizeof *shards);
    long inflight = 0;
    for (size_t k = 0; k < v->nloops; k++) {
        shards[k] = loop_metrics(v->loops[k]);
        inflight += loop_inflight(v->loops[k]);
    }
    struct metrics_gauges g = {
        .inflight = inflight,
        .connections = atomic_load(&v->shared->connections),
        .ready = admin_ready(v, NULL),
        .version = CAPPROXY_VERSION,
    };
    metrics_render(shards, v->nloops, &g, out);
    ratelimit_metrics(v->shared->ratelimit, out);
    resil_metrics_render(v->shared->resil, out);
    free(shards);
}

static void admin_handle(struct evhttp_request *req, void *arg)
{
    const struct admin_view *v = arg;
    const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
    const char *path = uri ? evhttp_uri_get_path(uri) : "";
    if (str_eq(path, "/healthz")) {
        admin_reply(req, 200, "application/json", "{\"status\":\"ok\"}");
    } else if (str_eq(path, "/readyz")) {
        const char *state;
        bool ready = admin_ready(v, &state);
        char body[64];
        snprintf(body, sizeof body, "{\"status\":\"%s\"}", state);
        admin_reply(req, ready ? 200 : 503, "application/json", body);
    } else if (str_eq(path, "/metrics")) {
        struct strbuf out;
        strbuf_init(&out, 0);
        admin_metrics(v, &out);
        admin_reply(req, 200, "text/plain; version=0.0.4; charset=utf-8", out.data ? out.data : "");
        strbuf_deinit(&out);
    } else {
        admin_reply(req, 404, "application/json", "{\"status\":\"not found\"}");
    }
}

int admin_start(struct event_base *base, int fd, const struct admin_view *v, struct evhttp **out)
{
    *out = evhttp_new(base);
    if (!*out) {
        close(fd);
        return -1;
    }
    struct timeval tv = {10, 0};
    evhttp_set_timeout_tv(*out, &tv);
    evhttp_set_max_headers_size(*out, 16384);
    evhttp_set_max_body_size(*out, 0);
    evhttp_set_allowed_methods(*out, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD);
    evhttp_set_gencb(*out, admin_handle, (void *)v);
    struct evconnlistener *lev =
        evconnlistener_new(base, NULL, NULL, LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, -1, fd);
    if (!lev) {
        close(fd);
        return -1;
    }
    evconnlistener_set_error_cb(lev, listen_on_accept_error);
    if (!evhttp_bind_listener(*out, lev))
        return -1;
    return 0;
}
