/*
 * exchange: see exchange.h.
 *
 * Connections: evhttp 2.1 has one close callback per connection and no hook for new ones, so
 * the first request seen on a connection registers it in the worker's table and installs a
 * permanent close callback. That callback keeps the process-wide connection count (the limit
 * is enforced with a 503 on the first request of a connection over it) and tells a pending
 * exchange that its request is gone.
 */
#include "exchange.h"

#include <stdint.h>
#include <strings.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/event_struct.h>
#include <event2/keyvalq_struct.h>

#include "httpstatus.h"
#include "log.h"
#include "urlenc.h"

struct conn {
    struct evhttp_connection *evcon;
    struct worker *w;
    struct exchange *x; /* the exchange currently using this connection, or NULL */
    struct conn *next;  /* hash chain */
};

struct conn_table {
    struct conn **buckets;
    size_t nbuckets;
    size_t n;
};

/* Most upstream answers come back within a few milliseconds: arming the client-abort watcher
 * only after this delay spares two epoll_ctl calls per request on the fast path, and a client
 * that hung up is still noticed (EPOLLRDHUP is level-triggered) this much later at most. */
#define EXCHANGE_WATCH_DELAY_MS 20

#define EXCHANGE_RID_MAX 128

struct exchange {
    struct worker *w;
    struct evhttp_request *req;
    struct conn *conn;
    struct event watch;       /* EV_CLOSED on the client socket, while the upstream is pending */
    struct event watch_timer; /* arms <watch> after EXCHANGE_WATCH_DELAY_MS */
    bool watching;            /* <watch> and <watch_timer> are assigned */
    struct upstream_xfer *xfer;
    upstream_done_fn done;
    struct mapping_out out;
    const char *adapter;
    const char *route;
    void *ctx;
    exchange_free_fn ctx_free;
    struct timespec start;
    const struct runtime *rt; /* pinned: a reload must not free what this request uses */
    int status;
    int upstream_status;
    const char *upstream_error;
    char rid[EXCHANGE_RID_MAX + 1]; /* X-Request-Id: the caller's when acceptable, else ours */
};

/* ---- connection table ---- */

static size_t conn_hash(const void *p, size_t n)
{
    uintptr_t v = (uintptr_t)p;
    v ^= v >> 17;
    v *= 0x9E3779B97F4A7C15ull;
    return (size_t)(v >> 7) & (n - 1);
}

static struct conn_table *conn_table_get(struct worker *w)
{
    if (!w->conns) {
        w->conns = xcalloc(1, sizeof *w->conns);
        w->conns->nbuckets = 1024;
        w->conns->buckets = xcalloc(w->conns->nbuckets, sizeof(struct conn *));
    }
    return w->conns;
}

static void conn_table_grow(struct conn_table *t)
{
    size_t n = t->nbuckets * 2;
    struct conn **b = xcalloc(n, sizeof *b);
    for (size_t i = 0; i < t->nbuckets; i++)
        for (struct conn *c = t->buckets[i], *next; c; c = next) {
            next = c->next;
            size_t h = conn_hash(c->evcon, n);
            c->next = b[h];
            b[h] = c;
        }
    free(t->buckets);
    t->buckets = b;
    t->nbuckets = n;
}

static struct conn *conn_find(struct conn_table *t, struct evhttp_connection *evcon)
{
    for (struct conn *c = t->buckets[conn_hash(evcon, t->nbuckets)]; c; c = c->next)
        if (c->evcon == evcon)
            return c;
    return NULL;
}

static void conn_remove(struct conn_table *t, struct conn *c)
{
    struct conn **pp = &t->buckets[conn_hash(c->evcon, t->nbuckets)];
    while (*pp && *pp != c)
        pp = &(*pp)->next;
    if (*pp) {
        *pp = c->next;
        t->n--;
    }
}

static void exchange_free(struct exchange *x);

/* The connection is being freed by evhttp (client gone, write error, keep-alive ended). */
static void on_conn_close(struct evhttp_connection *evcon, void *arg)
{
    struct conn *c = arg;
    struct worker *w = c->w;
    conn_remove(w->conns, c);
    atomic_fetch_sub(&w->srv->connections, 1);
    if (c->x) {
        /* A reply was being written when the connection died: evhttp frees the request. */
        struct exchange *x = c->x;
        x->req = NULL;
        x->conn = NULL;
        if (x->xfer) {
            upstream_cancel(x->xfer);
            x->xfer = NULL;
        }
        exchange_free(x);
    }
    free(c);
}

void exchange_conn_table_free(struct conn_table *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->nbuckets; i++)
        for (struct conn *c = t->buckets[i], *next; c; c = next) {
            next = c->next;
            free(c);
        }
    free(t->buckets);
    free(t);
}

/* ---- exchanges ---- */

static double ms_since(const struct timespec *t0)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)(now.tv_sec - t0->tv_sec) * 1e3 + (double)(now.tv_nsec - t0->tv_nsec) / 1e6;
}

static void unwatch(struct exchange *x)
{
    if (x->watching) {
        event_del(&x->watch_timer);
        event_del(&x->watch);
        x->watching = false;
    }
}

static void exchange_free(struct exchange *x)
{
    atomic_fetch_sub(&x->w->nexchanges, 1);
    unwatch(x);
    if (x->xfer)
        upstream_cancel(x->xfer);
    if (x->conn && x->conn->x == x)
        x->conn->x = NULL;
    if (x->ctx_free)
        x->ctx_free(x->ctx);
    mapping_out_deinit(&x->out);
    runtime_unref(x->rt);
    free(x);
}

/* evhttp has flushed the reply; the request is freed right after this returns. */
static void on_complete(struct evhttp_request *req, void *arg)
{
    struct exchange *x = arg;
    int m = exchange_method(req);
    const char *method = m >= 0 ? model_method_name((enum model_method)m) : "OTHER";
    metrics_request(x->w->metrics, x->adapter, x->route, method, x->status);
    if (log_access_enabled()) {
        const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
        struct log_access_rec rec = {
            .adapter = x->adapter,
            .method = method,
            .request_id = x->rid,
            .path = uri ? evhttp_uri_get_path(uri) : "",
            .status = x->status,
            .upstream_status = x->upstream_status,
            .duration_ms = ms_since(&x->start),
            .route = x->route,
            .upstream_error = x->upstream_error,
        };
        log_access(&rec);
    }
    x->req = NULL;
    exchange_free(x);
}

/* The caller's X-Request-Id when it is a plain token of sane length (it goes into logs and
 * upstream headers), else a new one: a random per-process prefix, the worker and a counter. */
static void request_id(struct worker *w, struct evhttp_request *req, char *out)
{
    const char *v = evhttp_find_header(evhttp_request_get_input_headers(req), "X-Request-Id");
    size_t n = v ? strlen(v) : 0;
    bool ok = n > 0 && n <= EXCHANGE_RID_MAX;
    for (size_t i = 0; ok && i < n; i++)
        ok = (v[i] >= 'a' && v[i] <= 'z') || (v[i] >= 'A' && v[i] <= 'Z') ||
             (v[i] >= '0' && v[i] <= '9') || strchr("-_.:+=/", v[i]);
    if (ok)
        memcpy(out, v, n + 1);
    else
        snprintf(out, EXCHANGE_RID_MAX + 1, "%s-%d-%llu", w->srv->rid_prefix, w->id, ++w->rid_seq);
}

const char *exchange_request_id(struct exchange *x)
{
    return x->rid;
}

struct exchange *exchange_begin(struct worker *w, struct evhttp_request *req, const char *adapter)
{
    struct evhttp_connection *evcon = evhttp_request_get_connection(req);
    struct conn_table *t = conn_table_get(w);
    struct conn *c = conn_find(t, evcon);
    bool over = false;
    if (!c) {
        c = xcalloc(1, sizeof *c);
        c->evcon = evcon;
        c->w = w;
        if (t->n * 2 >= t->nbuckets)
            conn_table_grow(t);
        size_t h = conn_hash(evcon, t->nbuckets);
        c->next = t->buckets[h];
        t->buckets[h] = c;
        t->n++;
        evhttp_connection_set_closecb(evcon, on_conn_close, c);
        over = atomic_fetch_add(&w->srv->connections, 1) >= w->cfg->max_connections;
    }
    struct exchange *x = xcalloc(1, sizeof *x);
    atomic_fetch_add(&w->nexchanges, 1);
    x->rt = w->rt;
    runtime_ref(x->rt);
    request_id(w, req, x->rid);
    x->w = w;
    x->req = req;
    x->conn = c;
    x->adapter = adapter;
    x->upstream_status = -1;
    mapping_out_init(&x->out);
    clock_gettime(CLOCK_MONOTONIC, &x->start);
    c->x = x;
    evhttp_request_set_on_complete_cb(req, on_complete, x);
    if (over) {
        evhttp_add_header(evhttp_request_get_output_headers(req), "Connection", "close");
        exchange_problem(x, 503, "too many client connections", NULL, NULL);
        return NULL;
    }
    return x;
}

struct evhttp_request *exchange_req(struct exchange *x)
{
    return x->req;
}

struct worker *exchange_worker(struct exchange *x)
{
    return x->w;
}

void exchange_set_route(struct exchange *x, const char *route)
{
    x->route = route;
}

void exchange_set_ctx(struct exchange *x, void *ctx, exchange_free_fn fn)
{
    x->ctx = ctx;
    x->ctx_free = fn;
}

void *exchange_ctx(struct exchange *x)
{
    return x->ctx;
}

struct mapping_out *exchange_out(struct exchange *x)
{
    return &x->out;
}

void exchange_note_upstream(struct exchange *x, int status, const char *error)
{
    x->upstream_status = status;
    x->upstream_error = error;
}

/* The client hung up while the upstream was pending: evhttp has reading disabled and would
 * not notice, so this watcher does (EPOLLRDHUP). Cancel the transfer, free the connection
 * (which frees the pending request) and the exchange. */
static void on_client_closed(evutil_socket_t fd, short what, void *arg)
{
    struct exchange *x = arg;
    struct conn *c = x->conn;
    struct evhttp_connection *evcon = c ? c->evcon : NULL;
    if (x->xfer) {
        upstream_cancel(x->xfer);
        x->xfer = NULL;
    }
    x->upstream_error = "client_closed";
    if (c)
        c->x = NULL; /* on_conn_close must not free this exchange a second time */
    x->req = NULL;
    exchange_free(x);
    if (evcon)
        evhttp_connection_free(evcon); /* runs on_conn_close: count and table entry */
}

static void on_watch_timer(evutil_socket_t fd, short what, void *arg)
{
    struct exchange *x = arg;
    event_add(&x->watch, NULL);
}

static void on_upstream_done(const struct upstream_result *res, void *arg)
{
    struct exchange *x = arg;
    x->xfer = NULL;
    unwatch(x); /* evhttp re-enables reading when we reply and then notices closes itself */
    x->upstream_status = res->error == UPSTREAM_OK ? (int)res->status : -1;
    x->upstream_error = res->error == UPSTREAM_OK ? NULL : upstream_error_name(res->error);
    metrics_upstream(x->w->metrics, x->route, res->total_ms / 1000.0, x->upstream_error);
    x->done(res, x);
}

int exchange_forward(struct exchange *x, upstream_done_fn done)
{
    /* The request id travels upstream, so both sides' logs can be joined. */
    x->out.headers = xrealloc(x->out.headers, (x->out.nheaders + 1) * sizeof *x->out.headers);
    x->out.headers[x->out.nheaders++] = xasprintf("X-Request-Id: %s", x->rid);
    struct upstream_request ur = {
        .method = x->out.method,
        .url = x->out.url.data,
        .headers = (const char *const *)x->out.headers,
        .nheaders = x->out.nheaders,
        .body = x->out.body,
        .body_len = x->out.body_len,
    };
    x->done = done;
    x->xfer = upstream_start(x->w->upstream, &ur, on_upstream_done, x);
    if (!x->xfer)
        return -1;
    struct evhttp_connection *evcon = evhttp_request_get_connection(x->req);
    struct bufferevent *bev = evcon ? evhttp_connection_get_bufferevent(evcon) : NULL;
    evutil_socket_t fd = bev ? bufferevent_getfd(bev) : -1;
    if (fd >= 0) {
        static const struct timeval delay = {0, (long)EXCHANGE_WATCH_DELAY_MS * 1000};
        event_assign(&x->watch, x->w->base, fd, EV_CLOSED, on_client_closed, x);
        evtimer_assign(&x->watch_timer, x->w->base, on_watch_timer, x);
        x->watching = true;
        evtimer_add(&x->watch_timer, &delay);
    }
    return 0;
}

void exchange_reply(struct exchange *x, int status, const char *ctype, struct evbuffer *body)
{
    struct evhttp_request *req = x->req;
    x->status = status;
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    if (ctype)
        evhttp_add_header(h, "Content-Type", ctype);
    evhttp_remove_header(h, "X-Request-Id");
    evhttp_add_header(h, "X-Request-Id", x->rid);
    if (atomic_load(&x->w->srv->draining) && !evhttp_find_header(h, "Connection"))
        evhttp_add_header(h, "Connection", "close"); /* let keep-alive clients go elsewhere */
    /* HEAD, 204 and 304 replies carry no body on the wire; evhttp would write one anyway. */
    bool no_body = evhttp_request_get_command(req) == EVHTTP_REQ_HEAD || status == 204 ||
                   status == 304 || (status >= 100 && status < 200);
    if (no_body && body)
        evbuffer_drain(body, evbuffer_get_length(body));
    evhttp_send_reply(req, status, httpstatus_text(status), body);
}

void exchange_problem(struct exchange *x, int status, const char *detail, const char *param,
                      cJSON *extra)
{
    cJSON *p = cJSON_CreateObject();
    cJSON_AddStringToObject(p, "type", "about:blank");
    cJSON_AddStringToObject(p, "title", httpstatus_text(status));
    cJSON_AddNumberToObject(p, "status", status);
    if (detail)
        cJSON_AddStringToObject(p, "detail", detail);
    if (param && *param)
        cJSON_AddStringToObject(p, "parameter", param);
    if (extra) {
        cJSON *e = extra->child;
        while (e) {
            cJSON *next = e->next;
            cJSON_DetachItemViaPointer(extra, e);
            cJSON_AddItemToObject(p, e->string, e);
            e = next;
        }
        cJSON_Delete(extra);
    }
    exchange_reply_json(x, status, "application/problem+json", p);
}

void exchange_reply_text(struct exchange *x, int status, const char *ctype, const char *text)
{
    struct evbuffer *b = evbuffer_new();
    evbuffer_add(b, text, strlen(text));
    exchange_reply(x, status, ctype, b);
    evbuffer_free(b);
}

void exchange_reply_json(struct exchange *x, int status, const char *ctype, cJSON *json)
{
    char *s = cJSON_PrintUnformatted(json);
    cJSON_Delete(json);
    exchange_reply_text(x, status, ctype, s ? s : "null");
    cJSON_free(s);
}

int exchange_method(struct evhttp_request *req)
{
    switch (evhttp_request_get_command(req)) {
    case EVHTTP_REQ_GET:
        return MODEL_GET;
    case EVHTTP_REQ_POST:
        return MODEL_POST;
    case EVHTTP_REQ_PUT:
        return MODEL_PUT;
    case EVHTTP_REQ_PATCH:
        return MODEL_PATCH;
    case EVHTTP_REQ_DELETE:
        return MODEL_DELETE;
    case EVHTTP_REQ_HEAD:
        return MODEL_HEAD;
    case EVHTTP_REQ_OPTIONS:
        return MODEL_OPTIONS;
    default:
        return -1;
    }
}

int exchange_check_headers(struct exchange *x, size_t max, const char **why)
{
    const struct evkeyvalq *h = evhttp_request_get_input_headers(x->req);
    size_t total = 0, ncl = 0;
    int status = 0;
    for (const struct evkeyval *kv = h->tqh_first; kv; kv = kv->next.tqe_next) {
        total += strlen(kv->key) + strlen(kv->value) + 4;
        if (str_eq_ci(kv->key, "content-length")) {
            ncl++;
            for (const char *p = kv->value; *p && !status; p++)
                if (*p < '0' || *p > '9') {
                    *why = "Content-Length must be digits only";
                    status = 400;
                }
        }
    }
    if (!status && ncl > 1) {
        *why = "more than one Content-Length header";
        status = 400;
    } else if (!status && total > max) {
        *why = "request headers are larger than the configured limit";
        status = 431;
    }
    /* Whatever follows a bad framing header on this connection cannot be trusted. */
    if (status == 400)
        evhttp_add_header(evhttp_request_get_output_headers(x->req), "Connection", "close");
    return status;
}

/* The token after "<scheme> " in an Authorization value, or NULL. */
static const char *auth_token(const char *v, const char *scheme)
{
    size_t n = strlen(scheme);
    if (!v || strncasecmp(v, scheme, n) != 0 || (v[n] != ' ' && v[n] != '\t'))
        return NULL;
    v += n;
    while (*v == ' ' || *v == '\t')
        v++;
    return v;
}

/* The decoded value of query parameter <name> (caller frees), or NULL. */
static char *query_param(struct evhttp_request *req, const char *name)
{
    const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
    const char *q = uri ? evhttp_uri_get_query(uri) : NULL;
    for (const char *s = q; s && *s;) {
        size_t plen = strcspn(s, "&");
        const char *eq = memchr(s, '=', plen);
        size_t klen = eq ? (size_t)(eq - s) : plen;
        struct strbuf k;
        strbuf_init(&k, 1024);
        if (urlenc_decode(s, klen, true, &k) == 0 && k.len && str_eq(k.data, name)) {
            struct strbuf v;
            strbuf_init(&v, 8192);
            int rc = eq ? urlenc_decode(eq + 1, plen - klen - 1, true, &v) : 0;
            strbuf_deinit(&k);
            if (rc < 0) {
                strbuf_deinit(&v);
                return NULL;
            }
            return strbuf_detach(&v, NULL);
        }
        strbuf_deinit(&k);
        s += plen;
        if (*s == '&')
            s++;
    }
    return NULL;
}

static void www_authenticate(struct evhttp_request *req, const struct rt_inbound *a)
{
    char v[256];
    if (a->kind == MODEL_AUTH_BEARER)
        snprintf(v, sizeof v, "Bearer realm=\"capproxy\"");
    else if (a->kind == MODEL_AUTH_BASIC)
        snprintf(v, sizeof v, "Basic realm=\"capproxy\", charset=\"UTF-8\"");
    else
        snprintf(v, sizeof v, "ApiKey realm=\"capproxy\", %s=\"%.100s\"",
                 a->in_query ? "query" : "header", a->name);
    evhttp_add_header(evhttp_request_get_output_headers(req), "WWW-Authenticate", v);
}

const struct rt_inbound *exchange_check_auth(struct exchange *x,
                                             const struct rt_inbound *const *auth, size_t n)
{
    const struct evkeyvalq *h = evhttp_request_get_input_headers(x->req);
    for (size_t i = 0; i < n; i++) {
        const struct rt_inbound *a = auth[i];
        bool ok = false;
        if (a->in_query) {
            char *v = query_param(x->req, a->name);
            ok = v && a->expected && str_ct_eq(v, strlen(v), a->expected, strlen(a->expected));
            free(v);
        } else {
            const char *v = evhttp_find_header(h, a->name);
            if (a->kind == MODEL_AUTH_BEARER)
                v = auth_token(v, "Bearer");
            else if (a->kind == MODEL_AUTH_BASIC)
                v = auth_token(v, "Basic");
            ok = v && a->expected && str_ct_eq(v, strlen(v), a->expected, strlen(a->expected));
        }
        if (!ok) {
            www_authenticate(x->req, a);
            return a;
        }
    }
    return NULL;
}

bool exchange_is_inbound_header(const struct rt_inbound *const *auth, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (!auth[i]->in_query && str_eq_ci(auth[i]->name, name))
            return true;
    return false;
}
