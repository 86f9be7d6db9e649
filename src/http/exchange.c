/*
 * exchange: see exchange.h.
 *
 * Connections: capproxy creates each accepted connection's bufferevent (evhttp_set_bevcb), so
 * a connection is counted against maxConnections from accept, and a callback on its input
 * buffer sees every byte read before evhttp's read callback does. That callback moves new
 * bytes aside (<held>) until framing.c has a whole, checked request, and only then puts it
 * back where evhttp parses it: evhttp never sees a partial or refused request. A refused one
 * is replaced by a small synthetic request marked "Connection: close", which exchange_begin
 * recognises (by its position on the connection) and answers with the refusal, so the answer
 * goes through evhttp's own reply path (Date, keep-alive handling, access log). The same
 * path answers the head and body deadlines with 408.
 *
 * The connection is known to evhttp as an evhttp_connection, which exists only after the
 * bevcb returns: it is found through the bufferevent's callback argument (evhttp's own) on
 * the first of: a zero-delay timer after accept, the first bytes, the first request. Its close
 * callback then uncounts the connection and frees this state.
 */
#include "http/exchange.h"

#include <stdint.h>
#include <strings.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/event_struct.h>
#include <event2/keyvalq_struct.h>

#include "http/framing.h"
#include "base/httpstatus.h"
#include "base/log.h"
#include "spec/urlenc.h"

/* What a connection's <deadline> timer is armed for. */
enum conn_timer {
    CONN_TIMER_NONE,
    CONN_TIMER_SETUP, /* zero delay after accept: find the evhttp_connection */
    CONN_TIMER_HEAD,  /* limits.headerTimeout: from accept or a head's first bytes */
    CONN_TIMER_BODY,  /* limits.bodyTimeout: from the end of the head */
};

struct conn {
    struct bufferevent *bev;         /* created at accept; referenced until conn_release */
    struct evhttp_connection *evcon; /* NULL until attached */
    struct loop *l;
    struct exchange *x;    /* the exchange currently using this connection, or NULL */
    struct conn *next;     /* hash chain */
    struct evbuffer *held; /* bytes of a request not yet complete and checked */
    struct evbuffer_cb_entry *input_cb;
    struct event deadline;
    enum conn_timer timer;
    struct framing_state fs;
    size_t passed;            /* checked bytes in the input buffer that evhttp has not read */
    unsigned long npassed;    /* requests handed to evhttp, synthetic ones included */
    unsigned long nseen;      /* requests that reached exchange_begin */
    unsigned long refused_at; /* which of those is the synthetic refusal (0: none) */
    int refusal;              /* its status */
    bool busy;                /* moving bytes in the input buffer ourselves */
    bool over;                /* over maxConnections at accept: the first request gets 503 */
    bool continue_sent;       /* "100 Continue" sent for the request being received */
    char why[192];            /* the refusal's detail */
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

/* Stands in for a refused request: evhttp parses it and exchange_begin answers the refusal.
 * "Connection: close" makes evhttp close the connection once the answer is flushed. */
static const char synthetic_request[] =
    "GET / HTTP/1.1\r\nHost: capproxy\r\nConnection: close\r\n\r\n";

struct exchange {
    struct loop *l;
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

struct conn_table *exchange_conn_table_new(void)
{
    struct conn_table *t = xcalloc(1, sizeof *t);
    t->nbuckets = 1024;
    t->buckets = xcalloc(t->nbuckets, sizeof(struct conn *));
    return t;
}

static void conn_table_grow(struct conn_table *t)
{
    size_t n = t->nbuckets * 2;
    struct conn **b = xcalloc(n, sizeof *b);
    for (size_t i = 0; i < t->nbuckets; i++)
        for (struct conn *c = t->buckets[i], *next; c; c = next) {
            next = c->next;
            size_t h = conn_hash(c->bev, n);
            c->next = b[h];
            b[h] = c;
        }
    free(t->buckets);
    t->buckets = b;
    t->nbuckets = n;
}

static struct conn *conn_find(struct conn_table *t, const struct bufferevent *bev)
{
    for (struct conn *c = t->buckets[conn_hash(bev, t->nbuckets)]; c; c = c->next)
        if (c->bev == bev)
            return c;
    return NULL;
}

static void conn_remove(struct conn_table *t, struct conn *c)
{
    struct conn **pp = &t->buckets[conn_hash(c->bev, t->nbuckets)];
    while (*pp && *pp != c)
        pp = &(*pp)->next;
    if (*pp) {
        *pp = c->next;
        t->n--;
    }
}

static void exchange_free(struct exchange *x);

/* Free what <c> holds; the bufferevent itself goes with evhttp's (or the last) reference. */
static void conn_free(struct conn *c)
{
    event_del(&c->deadline);
    evbuffer_remove_cb_entry(bufferevent_get_input(c->bev), c->input_cb);
    evbuffer_free(c->held);
    bufferevent_decref(c->bev);
    free(c);
}

static void conn_release(struct conn *c)
{
    conn_remove(loop_conns(c->l), c);
    loop_conn_down(c->l);
    conn_free(c);
}

/* The connection is being freed by evhttp (client gone, write error, keep-alive ended). */
static void on_conn_close(struct evhttp_connection *evcon, void *arg)
{
    struct conn *c = arg;
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
    conn_release(c);
}

/* Find <c>'s evhttp_connection (evhttp's callback argument on the bufferevent) and watch for
 * its end. false when evhttp has already dropped the connection. */
static bool conn_attach(struct conn *c)
{
    if (c->evcon)
        return true;
    bufferevent_data_cb rcb, wcb;
    bufferevent_event_cb ecb;
    void *arg = NULL;
    bufferevent_getcb(c->bev, &rcb, &wcb, &ecb, &arg);
    if (!arg)
        return false;
    c->evcon = arg;
    evhttp_connection_set_closecb(c->evcon, on_conn_close, c);
    return true;
}

static void conn_arm(struct conn *c, enum conn_timer t)
{
    if (c->timer == t)
        return; /* a deadline runs from when it was first armed */
    c->timer = t;
    long ms = t == CONN_TIMER_HEAD   ? loop_config(c->l)->header_timeout_ms
              : t == CONN_TIMER_BODY ? loop_config(c->l)->body_timeout_ms
                                     : 0;
    if (t == CONN_TIMER_NONE || (t != CONN_TIMER_SETUP && ms <= 0)) {
        event_del(&c->deadline); /* none, or that deadline is off (0): not the previous one */
        return;
    }
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
    event_add(&c->deadline, &tv);
}

/* The deadline <c> needs now: the head's from accept until the first request is in, and
 * from a head's first bytes after that; the body's from the end of its head. */
static void conn_rearm(struct conn *c)
{
    enum conn_timer t = CONN_TIMER_NONE;
    if (c->refused_at)
        t = CONN_TIMER_NONE;
    else if (c->fs.phase != FRAMING_HEAD)
        t = CONN_TIMER_BODY;
    else if (evbuffer_get_length(c->held) > 0 || c->npassed == 0)
        t = CONN_TIMER_HEAD;
    conn_arm(c, t);
}

/* Replace whatever is held by the synthetic request that carries the refusal. */
static void conn_refuse(struct conn *c, int status, const char *detail)
{
    evbuffer_drain(c->held, evbuffer_get_length(c->held));
    c->refusal = status;
    snprintf(c->why, sizeof c->why, "%s", detail);
    c->refused_at = ++c->npassed;
    struct evbuffer *in = bufferevent_get_input(c->bev);
    bool was = c->busy;
    c->busy = true;
    /* The socket bufferevent keeps the end of its input frozen between its own reads; a
     * deadline adds there outside a read. Frozen again at once, as it expects. */
    evbuffer_unfreeze(in, 0);
    evbuffer_add(in, synthetic_request, sizeof synthetic_request - 1);
    evbuffer_freeze(in, 0);
    c->busy = was;
    c->passed += sizeof synthetic_request - 1;
    conn_arm(c, CONN_TIMER_NONE);
    LOG_D("refused a request: %d %s", status, c->why);
}

/* Move the bytes of <in> after its first <keep> to <dst> (NULL: discard them). */
static void take_tail(struct evbuffer *in, size_t keep, struct evbuffer *dst)
{
    if (keep == 0) {
        if (dst)
            evbuffer_add_buffer(dst, in);
        else
            evbuffer_drain(in, evbuffer_get_length(in));
        return;
    }
    /* Pipelined: checked bytes evhttp has not read yet stay in front. */
    struct evbuffer *front = evbuffer_new();
    evbuffer_remove_buffer(in, front, keep);
    if (dst)
        evbuffer_add_buffer(dst, in);
    else
        evbuffer_drain(in, evbuffer_get_length(in));
    evbuffer_add_buffer(in, front);
    evbuffer_free(front);
}

/* A client that sent "Expect: 100-continue" waits for this before the body. Sent straight to
 * the socket, and only when nothing else is being written on the connection; a client that
 * does not get it sends the body after its own short wait anyway. */
static void conn_send_continue(struct conn *c)
{
    static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
    c->continue_sent = true;
    evutil_socket_t fd = bufferevent_getfd(c->bev);
    if (fd < 0 || c->x || c->passed || evbuffer_get_length(bufferevent_get_output(c->bev)))
        return;
    if (send(fd, cont, sizeof cont - 1, MSG_NOSIGNAL | MSG_DONTWAIT) != (ssize_t)sizeof cont - 1)
        LOG_D("could not send 100 Continue at once; the client sends its body anyway");
}

static struct framing_limits conn_limits(const struct conn *c)
{
    const struct config *cfg = loop_config(c->l);
    return (struct framing_limits){
        .max_head = cfg->max_header_size,
        .max_headers = (size_t)cfg->max_headers,
        .max_body = cfg->max_body_size,
    };
}

/* A whole, checked request of <len> bytes is now in the input, where evhttp reads it. */
static void conn_passed(struct conn *c, size_t len)
{
    c->passed += len;
    c->npassed++;
    c->continue_sent = false;
    conn_arm(c, CONN_TIMER_NONE); /* the next request's deadline starts afresh */
}

/* Hand every complete, checked request in <held> to evhttp; refuse a bad one. */
static void conn_process(struct conn *c, struct evbuffer *in)
{
    const struct framing_limits lim = conn_limits(c);
    while (evbuffer_get_length(c->held) > 0) {
        size_t len = 0;
        struct framing_refusal why;
        enum framing_result r = framing_scan(&c->fs, c->held, &lim, &len, &why);
        if (r == FRAMING_MORE) {
            if (c->fs.phase != FRAMING_HEAD && c->fs.expect_100 && !c->continue_sent)
                conn_send_continue(c);
            break;
        }
        if (r == FRAMING_REFUSED) {
            conn_refuse(c, why.status, why.detail);
            return;
        }
        evbuffer_remove_buffer(c->held, in, len);
        conn_passed(c, len);
    }
    conn_rearm(c);
}

/* The usual case: nothing held, nothing unread, and the bytes just read are one whole request.
 * It is checked where it lies, and nothing is moved. Anything else goes through <held>. */
static void conn_process_in_place(struct conn *c, struct evbuffer *in)
{
    const struct framing_limits lim = conn_limits(c);
    size_t len = 0;
    struct framing_refusal why;
    enum framing_result r = framing_scan(&c->fs, in, &lim, &len, &why);
    if (r == FRAMING_REFUSED) {
        evbuffer_drain(in, evbuffer_get_length(in));
        conn_refuse(c, why.status, why.detail);
        return;
    }
    if (r == FRAMING_DONE) {
        conn_passed(c, len);
        if (len == evbuffer_get_length(in)) {
            conn_rearm(c);
            return;
        }
    }
    /* Incomplete (the scan state stays valid: the bytes keep their offsets in <held>), or
     * more requests behind this one. */
    take_tail(in, c->passed, c->held);
    conn_process(c, in);
}

/* Bytes were added to (read) or removed from (parsed by evhttp) a connection's input. */
static void on_input(struct evbuffer *in, const struct evbuffer_cb_info *info, void *arg)
{
    struct conn *c = arg;
    if (c->busy)
        return;
    c->passed = info->n_deleted >= c->passed ? 0 : c->passed - info->n_deleted;
    if (!info->n_added)
        return;
    c->busy = true;
    conn_attach(c);
    size_t len = evbuffer_get_length(in);
    if (c->passed > len)
        c->passed = len;
    if (c->refused_at) {
        /* Nothing more is read from this connection: it closes after the answer. */
        take_tail(in, c->passed, NULL);
    } else if (c->passed == 0 && evbuffer_get_length(c->held) == 0) {
        conn_process_in_place(c, in);
    } else {
        take_tail(in, c->passed, c->held);
        conn_process(c, in);
    }
    c->busy = false;
}

static void on_deadline(evutil_socket_t fd, short what, void *arg)
{
    struct conn *c = arg;
    enum conn_timer t = c->timer;
    c->timer = CONN_TIMER_NONE;
    if (t == CONN_TIMER_SETUP) {
        if (!conn_attach(c)) {
            conn_release(c); /* evhttp dropped it before it ever ran */
            return;
        }
        conn_rearm(c);
        return;
    }
    if (c->refused_at)
        return;
    conn_refuse(c, 408,
                t == CONN_TIMER_BODY
                    ? "the request body did not arrive within the configured time (bodyTimeout)"
                    : "the request head did not arrive within the configured time "
                      "(headerTimeout)");
    /* evhttp reads the synthetic request now when it is waiting for one (reading enabled),
     * else once it has answered the request in progress (it looks at its input then). Never
     * while it handles a request: bufferevent_trigger ignores the disabled state, and evhttp
     * aborts the process on a read in that state. Last: the answer may free <c>. */
    if (bufferevent_get_enabled(c->bev) & EV_READ)
        bufferevent_trigger(c->bev, EV_READ, 0);
}

struct bufferevent *exchange_accept(struct event_base *base, void *arg)
{
    struct loop *l = arg;
    /* Without a bufferevent evhttp would make its own, unchecked: out of memory is fatal
     * here as everywhere else (xmalloc). */
    struct bufferevent *bev = bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
    struct evbuffer *held = evbuffer_new();
    if (!bev || !held) {
        LOG_E("out of memory accepting a connection");
        abort();
    }
    struct conn *c = xcalloc(1, sizeof *c);
    c->bev = bev;
    c->l = l;
    c->held = held;
    struct conn_table *t = loop_conns(l);
    if (t->n * 2 >= t->nbuckets)
        conn_table_grow(t);
    size_t h = conn_hash(bev, t->nbuckets);
    c->next = t->buckets[h];
    t->buckets[h] = c;
    t->n++;
    c->over = loop_conn_up(l);
    bufferevent_incref(bev); /* ours, until conn_release: evhttp may free it first */
    c->input_cb = evbuffer_add_cb(bufferevent_get_input(bev), on_input, c);
    evtimer_assign(&c->deadline, base, on_deadline, c);
    conn_arm(c, CONN_TIMER_SETUP);
    return bev;
}

void exchange_conn_table_free(struct conn_table *t)
{
    if (!t)
        return;
    /* Only connections evhttp never got to attach are left (evhttp_free closed the others). */
    for (size_t i = 0; i < t->nbuckets; i++)
        for (struct conn *c = t->buckets[i], *next; c; c = next) {
            next = c->next;
            conn_free(c);
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
    unwatch(x);
    if (x->xfer)
        upstream_cancel(x->xfer);
    if (x->conn && x->conn->x == x)
        x->conn->x = NULL;
    if (x->ctx_free)
        x->ctx_free(x->ctx);
    mapping_out_deinit(&x->out);
    loop_exchange_end(x->l, x->rt);
    free(x);
}

/* evhttp has flushed the reply; the request is freed right after this returns. */
static void on_complete(struct evhttp_request *req, void *arg)
{
    struct exchange *x = arg;
    int m = exchange_method(req);
    const char *method = m >= 0 ? model_method_name((enum model_method)m) : "OTHER";
    metrics_request(loop_metrics(x->l), x->adapter, x->route, method, x->status);
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
 * upstream headers), else a new one: a random per-process prefix, the loop and a counter. */
static void request_id(struct loop *l, struct evhttp_request *req, char *out)
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
        loop_new_rid(l, out, EXCHANGE_RID_MAX + 1);
}

const char *exchange_request_id(struct exchange *x)
{
    return x->rid;
}

struct exchange *exchange_begin(struct loop *l, struct evhttp_request *req, const char *adapter)
{
    struct evhttp_connection *evcon = evhttp_request_get_connection(req);
    struct conn *c = conn_find(loop_conns(l), evhttp_connection_get_bufferevent(evcon));
    struct exchange *x = xcalloc(1, sizeof *x);
    x->rt = loop_exchange_begin(l);
    request_id(l, req, x->rid);
    x->l = l;
    x->req = req;
    x->conn = c;
    x->adapter = adapter;
    x->upstream_status = -1;
    mapping_out_init(&x->out);
    clock_gettime(CLOCK_MONOTONIC, &x->start);
    evhttp_request_set_on_complete_cb(req, on_complete, x);
    if (!c) {
        /* Every connection of a front-end listener is made by exchange_accept. */
        LOG_E("a request on a connection capproxy did not accept; refused");
        evhttp_add_header(evhttp_request_get_output_headers(req), "Connection", "close");
        exchange_problem(x, 500, "internal error", NULL, NULL);
        return NULL;
    }
    conn_attach(c);
    c->x = x;
    c->nseen++;
    if (c->refused_at && c->nseen == c->refused_at) {
        evhttp_add_header(evhttp_request_get_output_headers(req), "Connection", "close");
        exchange_problem(x, c->refusal, c->why, NULL, NULL);
        return NULL;
    }
    if (c->over) {
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

struct loop *exchange_loop(struct exchange *x)
{
    return x->l;
}

const struct runtime *exchange_runtime(struct exchange *x)
{
    return x->rt;
}

const struct config *exchange_config(struct exchange *x)
{
    return x->rt->config;
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
    metrics_upstream(loop_metrics(x->l), x->route, res->total_ms / 1000.0, x->upstream_error);
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
    x->xfer = upstream_start(loop_upstream(x->l), &ur, on_upstream_done, x);
    if (!x->xfer)
        return -1;
    struct evhttp_connection *evcon = evhttp_request_get_connection(x->req);
    struct bufferevent *bev = evcon ? evhttp_connection_get_bufferevent(evcon) : NULL;
    evutil_socket_t fd = bev ? bufferevent_getfd(bev) : -1;
    if (fd >= 0) {
        static const struct timeval delay = {0, (long)EXCHANGE_WATCH_DELAY_MS * 1000};
        event_assign(&x->watch, loop_base(x->l), fd, EV_CLOSED, on_client_closed, x);
        evtimer_assign(&x->watch_timer, loop_base(x->l), on_watch_timer, x);
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
    if (loop_draining(x->l) && !evhttp_find_header(h, "Connection"))
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
