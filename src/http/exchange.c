/*
 * exchange: see exchange.h.
 *
 * Connections and their framing checks: conn.c. The exchange starts once evhttp has parsed a
 * checked request, and owns it until the reply is flushed or the connection dies.
 */
#include "http/exchange.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <arpa/inet.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/event_struct.h>
#include <event2/keyvalq_struct.h>

#include "base/clock.h"
#include "base/httpstatus.h"
#include "base/log.h"
#include "base/crypto.h"
#include "http/conn.h"
#include "http/ratelimit.h"
#include "http/otlp.h"
#include "http/reqcheck.h"

/* Most upstream answers come back within a few milliseconds: arming the client-abort watcher
 * only after this delay spares two epoll_ctl calls per request on the fast path, and a client
 * that hung up is still noticed (EPOLLRDHUP is level-triggered) this much later at most. */
#define EXCHANGE_WATCH_DELAY_MS 20

#define EXCHANGE_RID_MAX 128

struct exchange {
    struct loop *l;
    struct evhttp_request *req;
    struct conn *conn;
    struct event watch;       /* EV_CLOSED on the client socket: upstream pending, parked, stream */
    struct event watch_timer; /* arms <watch> after EXCHANGE_WATCH_DELAY_MS */
    bool watching;            /* <watch> and <watch_timer> are assigned */
    struct resil_call *xfer;  /* the upstream call (http/resil.h), retries included */
    upstream_done_fn done;
    struct outreq out;
    const char *adapter;
    const char *route;
    void *ctx;
    exchange_free_fn ctx_free;
    exchange_free_fn park_cancel; /* parked (exchange_park): tells the waker we are gone */
    void *park_arg;
    struct timespec start;
    const struct runtime *rt; /* pinned: a reload must not free what this request uses */
    int status;
    int upstream_status;
    const char *upstream_error;
    char rid[EXCHANGE_RID_MAX + 1]; /* X-Request-Id: the caller's when acceptable, else ours */
    struct strbuf fixed;     /* exchange_fix_header: "name\0value\0" pairs set on the reply */
    struct event rate_timer; /* the outbound rate's wait, or its refusal delivered later */
    bool rate_waiting;       /* <rate_timer> is pending */
    int64_t rate_refused_ns; /* >= 0: the rate refused the transfer, a token after this */
    /* tracing and the access log (exchange_trace_*) */
    struct trace_ctx trace;
    uint64_t start_ns;                        /* wall clock, for the server span */
    uint8_t hop_span[TRACE_SPAN_LEN];         /* the upstream hop in flight: its span id */
    uint64_t hop_start_ns;                    /* and its start */
    size_t bytes_in, bytes_out;               /* request and reply body bytes */
    double upstream_ms;                       /* every hop's transfer time; -1: none */
    char upstream_addr[INET6_ADDRSTRLEN + 9]; /* "ip:port" or "[v6]:port" of the last hop */
    char client[INET6_ADDRSTRLEN + 1];        /* the client's address */
    /* The last hop's IP and port, made into <upstream_addr> only when the access log is
     * written (no printf per request when it is off). */
    char upstream_ip[INET6_ADDRSTRLEN + 1];
    long upstream_port;
    int hop_resends;                          /* retries of the hop in flight so far */
    /* The first X-Request-Id and User-Agent fields of the request (NULL: none), found by
     * exchange_trace_begin's walk of the headers instead of a walk per name. */
    const char *rid_in, *user_agent;
};

/* NUL-terminated copy of <src> into out[cap], cut to fit (cap > 0). */
static void copy_cut(char *out, size_t cap, const char *src)
{
    size_t n = strnlen(src, cap - 1);
    memcpy(out, src, n);
    out[n] = '\0';
}

/* ---- exchanges ---- */

static void unwatch(struct exchange *x)
{
    if (x->watching) {
        event_del(&x->watch_timer);
        event_del(&x->watch);
        x->watching = false;
    }
}

/* Stop waiting for the outbound rate: a transfer held back gives its token back (it never
 * went). Whether <x> was waiting. */
static bool rate_unwait(struct exchange *x)
{
    if (!x->rate_waiting)
        return false;
    event_del(&x->rate_timer);
    x->rate_waiting = false;
    if (x->rate_refused_ns < 0)
        ratelimit_out_refund(loop_ratelimit(x->l), exchange_config(x), x->out.api);
    return true;
}

static void exchange_free(struct exchange *x)
{
    conn_end(x->conn, x);
    unwatch(x);
    if (x->xfer)
        resil_cancel(x->xfer);
    if (x->park_cancel)
        x->park_cancel(x->park_arg);
    rate_unwait(x);
    if (x->ctx_free)
        x->ctx_free(x->ctx);
    outreq_deinit(&x->out);
    strbuf_deinit(&x->fixed);
    loop_exchange_end(x->l, x->rt);
    free(x);
}

/* ---- tracing ---- */

/* The request's trace from the caller's traceparent and tracestate (a new one when absent or
 * invalid), and what the access log reports about the client. */
static void exchange_trace_begin(struct exchange *x)
{
    struct evkeyvalq *in = evhttp_request_get_input_headers(x->req);
    /* Two traceparent fields are ambiguous: neither is followed, a new trace starts. tracestate
     * may be split over several fields (W3C trace context 3.3.1.1): they are joined (and a
     * joined value longer than trace_begin accepts is dropped like any other). */
    const char *parent = NULL, *state = NULL;
    int nparent = 0, nstate = 0;
    struct strbuf joined;
    strbuf_init(&joined, 0);
    for (const struct evkeyval *h = in->tqh_first; h; h = h->next.tqe_next) {
        /* One walk also finds the first X-Request-Id and User-Agent (what evhttp_find_header
         * would return): the first letter sorts out the usual fields before any strcasecmp. */
        char c0 = (char)(h->key[0] | 0x20);
        if (c0 == 'x' || c0 == 'u') {
            const char **first = c0 == 'x' ? &x->rid_in : &x->user_agent;
            if (!*first && strcasecmp(h->key, c0 == 'x' ? "X-Request-Id" : "User-Agent") == 0)
                *first = h->value;
            continue;
        }
        if (c0 != 't')
            continue;
        if (strcasecmp(h->key, "traceparent") == 0) {
            nparent++;
            parent = h->value;
        } else if (strcasecmp(h->key, "tracestate") == 0) {
            if (nstate++ == 0) {
                state = h->value;
                continue;
            }
            if (nstate == 2)
                strbuf_adds(&joined, state);
            strbuf_adds(&joined, ",");
            strbuf_adds(&joined, h->value);
        }
    }
    if (nparent > 1)
        parent = NULL;
    if (nstate > 1)
        state = joined.data;
    trace_begin(&x->trace, parent, state, x->rt->config->trace_sample_new);
    strbuf_deinit(&joined);
    x->start_ns = otlp_now_ns();
    x->upstream_ms = -1;
    x->bytes_in = evbuffer_get_length(evhttp_request_get_input_buffer(x->req));
    struct evhttp_connection *evcon = evhttp_request_get_connection(x->req);
    const char *addr = NULL;
    ev_uint16_t port = 0;
    if (evcon)
        evhttp_connection_get_peer(evcon, (char **)&addr, &port);
    copy_cut(x->client, sizeof x->client, addr ? addr : "-");
}

/* One upstream hop finished: its address and time for the access log, its client span. */
static void exchange_trace_hop(struct exchange *x, const struct upstream_result *res)
{
    if (res->refused)
        return; /* capproxy answered itself (resil): nothing went upstream, no span, no time */
    x->upstream_ms = (x->upstream_ms < 0 ? 0 : x->upstream_ms) + res->total_ms;
    if (res->primary_ip) {
        copy_cut(x->upstream_ip, sizeof x->upstream_ip, res->primary_ip);
        x->upstream_port = res->primary_port;
    }
    struct otlp *o = loop_otlp(x->l);
    if (!o || !(x->trace.flags & TRACE_FLAG_SAMPLED))
        return;
    const char *method = model_method_name(x->out.method);
    char host[256];
    long port = -1;
    struct otlp_attr a[9];
    size_t n = 0;
    a[n++] = (struct otlp_attr){"http.request.method", method, 0};
    if (x->out.url.data && otlp_url_host(x->out.url.data, host, sizeof host, &port)) {
        a[n++] = (struct otlp_attr){"server.address", host, 0};
        if (port >= 0)
            a[n++] = (struct otlp_attr){"server.port", NULL, port};
    }
    if (res->primary_ip) {
        a[n++] = (struct otlp_attr){"network.peer.address", res->primary_ip, 0};
        a[n++] = (struct otlp_attr){"network.peer.port", NULL, res->primary_port};
    }
    if (res->error == UPSTREAM_OK)
        a[n++] = (struct otlp_attr){"http.response.status_code", NULL, res->status};
    else
        a[n++] = (struct otlp_attr){"error.type", upstream_error_name(res->error), 0};
    if (x->out.api)
        a[n++] = (struct otlp_attr){"capproxy.api", x->out.api, 0};
    if (x->hop_resends > 0)
        a[n++] = (struct otlp_attr){"http.request.resend_count", NULL, x->hop_resends};
    struct otlp_span sp = {
        .trace_id = x->trace.trace_id,
        .span_id = x->hop_span,
        .parent_id = x->trace.span_id,
        .name = method,
        .kind = OTLP_KIND_CLIENT,
        .start_ns = x->hop_start_ns,
        .end_ns = otlp_now_ns(),
        .error = res->error != UPSTREAM_OK || res->status >= 400,
        .attrs = a,
        .nattrs = n,
    };
    otlp_record(o, &sp);
}

/* The request is answered: its server span. */
static void exchange_trace_server(struct exchange *x, const char *method, const char *path)
{
    struct otlp *o = loop_otlp(x->l);
    if (!o || !(x->trace.flags & TRACE_FLAG_SAMPLED))
        return;
    char name[300];
    snprintf(name, sizeof name, "%s%s%s", method, x->route ? " " : "", x->route ? x->route : "");
    struct otlp_attr a[8];
    size_t n = 0;
    a[n++] = (struct otlp_attr){"http.request.method", method, 0};
    a[n++] = (struct otlp_attr){"url.path", path ? path : "", 0};
    a[n++] = (struct otlp_attr){"url.scheme", "http", 0};
    a[n++] = (struct otlp_attr){"http.response.status_code", NULL, x->status};
    a[n++] = (struct otlp_attr){"client.address", x->client, 0};
    a[n++] = (struct otlp_attr){"capproxy.adapter", x->adapter, 0};
    a[n++] = (struct otlp_attr){"capproxy.request_id", x->rid, 0};
    if (x->route)
        a[n++] = (struct otlp_attr){"capproxy.route", x->route, 0};
    struct otlp_span sp = {
        .trace_id = x->trace.trace_id,
        .span_id = x->trace.span_id,
        .parent_id = x->trace.remote ? x->trace.parent_id : NULL,
        .name = name,
        .kind = OTLP_KIND_SERVER,
        .start_ns = x->start_ns,
        .end_ns = otlp_now_ns(),
        .error = x->status >= 500,
        .attrs = a,
        .nattrs = n,
    };
    otlp_record(o, &sp);
}

/* evhttp has flushed the reply; the request is freed right after this returns. */
static void on_complete(struct evhttp_request *req, void *arg)
{
    struct exchange *x = arg;
    int m = reqcheck_method(req);
    const char *method = m >= 0 ? model_method_name((enum model_method)m) : "OTHER";
    metrics_request(loop_metrics(x->l), x->adapter, x->route, method, x->status);
    const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
    exchange_trace_server(x, method, uri ? evhttp_uri_get_path(uri) : "");
    if (log_access_enabled()) {
        char tid[2 * TRACE_ID_LEN + 1];
        crypto_hex(x->trace.trace_id, TRACE_ID_LEN, tid);
        if (x->upstream_ip[0])
            snprintf(x->upstream_addr, sizeof x->upstream_addr,
                     strchr(x->upstream_ip, ':') ? "[%s]:%ld" : "%s:%ld", x->upstream_ip,
                     x->upstream_port);
        struct log_access_rec rec = {
            .adapter = x->adapter,
            .method = method,
            .request_id = x->rid,
            .path = uri ? evhttp_uri_get_path(uri) : "",
            .status = x->status,
            .upstream_status = x->upstream_status,
            .duration_ms = clock_ms_since(&x->start),
            .route = x->route,
            .upstream_error = x->upstream_error,
            .client = x->client,
            .bytes_in = x->bytes_in,
            .bytes_out = x->bytes_out,
            .upstream_addr = x->upstream_addr[0] ? x->upstream_addr : NULL,
            .upstream_ms = x->upstream_ms,
            .user_agent = x->user_agent,
            .trace_id = tid,
        };
        log_access(&rec);
    }
    x->req = NULL;
    exchange_free(x);
}

/* The caller's X-Request-Id when it is a plain token of sane length (it goes into logs and
 * upstream headers), else a new one: a random per-process prefix, the loop and a counter. */
static void request_id(struct loop *l, const char *v, char *out)
{
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

/* The connection died before <x>'s reply was done. evhttp frees the request with the connection
 * (right after this callback), except one it detached first: a connection that fails with EOF or
 * a time-out while its request is still being answered (a stream, a reply not yet sent) leaves
 * the request without a connection (http.c evhttp_connection_incoming_fail), and its owner must
 * free it. */
static void on_conn_lost(void *arg)
{
    struct exchange *x = arg;
    if (x->req && !evhttp_request_get_connection(x->req))
        evhttp_request_free(x->req);
    x->req = NULL;
    x->conn = NULL;
    if (x->xfer) {
        resil_cancel(x->xfer);
        x->xfer = NULL;
    }
    exchange_free(x);
}

struct exchange *exchange_begin(struct loop *l, struct evhttp_request *req, const char *adapter)
{
    struct conn *c = conn_of(l, req);
    struct exchange *x = xcalloc(1, sizeof *x);
    x->rt = loop_exchange_begin(l);
    x->l = l;
    x->req = req;
    exchange_trace_begin(x);
    request_id(l, x->rid_in, x->rid);
    x->conn = c;
    x->adapter = adapter;
    x->upstream_status = -1;
    outreq_init(&x->out, MAPPING_MAX_URL);
    clock_mono(&x->start);
    evhttp_request_set_on_complete_cb(req, on_complete, x);
    if (!c) {
        /* Every connection of a front-end listener is made by conn_accept. */
        LOG_E("a request on a connection capproxy did not accept; refused");
        evhttp_add_header(evhttp_request_get_output_headers(req), "Connection", "close");
        exchange_problem(x, 500, "internal error", NULL, NULL);
        return NULL;
    }
    const char *why = NULL;
    int refusal = conn_begin(c, x, on_conn_lost, &why);
    if (refusal) {
        evhttp_add_header(evhttp_request_get_output_headers(req), "Connection", "close");
        exchange_problem(x, refusal, why, NULL, NULL);
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

struct outreq *exchange_out(struct exchange *x)
{
    return &x->out;
}

void exchange_fix_header(struct exchange *x, const char *name, const char *value)
{
    strbuf_add(&x->fixed, name, strlen(name) + 1);
    strbuf_add(&x->fixed, value, strlen(value) + 1);
}

/* Put the exchange_fix_header fields on the reply headers <h>, replacing their namesakes. */
static void apply_fixed(struct exchange *x, struct evkeyvalq *h)
{
    for (size_t at = 0; at < x->fixed.len;) {
        const char *name = x->fixed.data + at;
        const char *value = name + strlen(name) + 1;
        while (evhttp_remove_header(h, name) == 0)
            ;
        evhttp_add_header(h, name, value);
        at = (size_t)(value + strlen(value) + 1 - x->fixed.data);
    }
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
    struct evhttp_connection *evcon = c ? conn_evcon(c) : NULL;
    if (x->xfer) {
        resil_cancel(x->xfer);
        x->xfer = NULL;
    }
    x->upstream_error = "client_closed";
    conn_end(c, x); /* the connection's close must not free this exchange a second time */
    x->req = NULL;
    exchange_free(x);
    if (evcon)
        evhttp_connection_free(evcon); /* runs on_conn_close: count and table entry */
}

static void watch(struct exchange *x, bool now);

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
    x->upstream_status = res->error == UPSTREAM_OK && !res->refused ? (int)res->status : -1;
    x->upstream_error = res->refused                ? res->refused
                        : res->error == UPSTREAM_OK ? NULL
                                                    : upstream_error_name(res->error);
    metrics_upstream(loop_metrics(x->l), x->route, res->total_ms / 1000.0, x->upstream_error);
    exchange_trace_hop(x, res);
    x->hop_resends = 0;
    x->done(res, x);
}

/* resil retries the hop after <delay_ms>: the attempt that failed gets its own client span (and
 * counts in the access log's upstream time), the next one a new span id in its traceparent, so
 * that the upstream's spans hang off the attempt that reached it. */
static void on_upstream_retry(const struct upstream_result *res, long delay_ms, void *arg)
{
    struct exchange *x = arg;
    exchange_trace_hop(x, res);
    x->hop_resends++;
    trace_new_span(x->hop_span);
    char hex[2 * TRACE_SPAN_LEN + 1];
    crypto_hex(x->hop_span, TRACE_SPAN_LEN, hex);
    for (size_t i = 0; i < x->out.nheaders; i++) {
        struct outreq_header *h = &x->out.headers[i];
        if (h->len == TRACE_PARENT_LEN && strcasecmp(h->name, "traceparent") == 0)
            memcpy(h->value + 36, hex, 2 * TRACE_SPAN_LEN); /* "00-<trace>-" is 36 chars */
    }
    x->hop_start_ns = otlp_now_ns() + (uint64_t)delay_ms * 1000000u;
}

/* The outbound rate refused the transfer: answer <done> with a 429 of our own, as the upstream
 * would (REST passes it on with its Retry-After, MCP makes it a tool error). Nothing was sent. */
static void rate_refusal(struct exchange *x)
{
    char ra[24], name[] = "Retry-After";
    long s = (long)((x->rate_refused_ns + TBUCKET_NS_PER_S - 1) / TBUCKET_NS_PER_S);
    snprintf(ra, sizeof ra, "%ld", s > 0 ? s : 1);
    struct upstream_header h = {name, ra};
    struct evbuffer *body = evbuffer_new();
    evbuffer_add_printf(body,
                        "{\"type\":\"about:blank\",\"title\":\"Too Many Requests\",\"status\":429,"
                        "\"detail\":\"capproxy holds requests to this API under its configured "
                        "rate (consumers[].rate); retry after %s s\"}",
                        ra);
    struct upstream_result res = {.error = UPSTREAM_OK,
                                  .status = 429,
                                  .content_type = "application/problem+json",
                                  .headers = &h,
                                  .nheaders = 1,
                                  .body = body};
    x->upstream_error = "rate_limited";
    x->done(&res, x);
    evbuffer_free(body);
}

static void on_rate_timer(evutil_socket_t fd, short what, void *arg)
{
    struct exchange *x = arg;
    x->rate_waiting = false;
    unwatch(x);
    if (x->rate_refused_ns >= 0) {
        rate_refusal(x);
        return;
    }
    x->xfer = loop_forward(x->l, &x->out, x->rid, on_upstream_done, x);
    if (x->xfer) {
        resil_on_retry(x->xfer, on_upstream_retry);
        watch(x, false);
        return;
    }
    struct upstream_result res = {.error = UPSTREAM_ERR_OTHER,
                                  .error_detail = "the upstream request could not be started"};
    x->upstream_error = "setup";
    x->done(&res, x);
}

/* Whether the outbound rate of the consumed API holds the transfer back or refuses it; either
 * way <x> then waits on a timer (a refusal too: <done> never runs inside exchange_forward). */
static bool rate_gate(struct exchange *x)
{
    int64_t wait;
    enum ratelimit_out r =
        ratelimit_out_take(loop_ratelimit(x->l), exchange_config(x), x->out.api, &wait);
    if (r == RATELIMIT_GO)
        return false;
    x->rate_refused_ns = r == RATELIMIT_REFUSE ? wait : -1;
    if (r == RATELIMIT_REFUSE)
        wait = 0;
    struct timeval tv = {(time_t)(wait / TBUCKET_NS_PER_S),
                         (suseconds_t)((wait % TBUCKET_NS_PER_S + 999) / 1000)};
    evtimer_assign(&x->rate_timer, loop_base(x->l), on_rate_timer, x);
    evtimer_add(&x->rate_timer, &tv);
    x->rate_waiting = true;
    watch(x, false);
    return true;
}

int exchange_forward(struct exchange *x, upstream_done_fn done)
{
    x->done = done;
    /* The trace continues upstream with a new span for this hop. */
    loop_hop_headers(x->l, &x->out, &x->trace, x->user_agent, x->hop_span);
    x->hop_start_ns = otlp_now_ns();
    if (rate_gate(x))
        return 0;
    /* The request id travels upstream, so both sides' logs can be joined. */
    x->xfer = loop_forward(x->l, &x->out, x->rid, on_upstream_done, x);
    if (!x->xfer)
        return -1;
    resil_on_retry(x->xfer, on_upstream_retry);
    watch(x, false);
    return 0;
}

void exchange_park(struct exchange *x, exchange_free_fn cancel, void *arg)
{
    x->park_cancel = cancel;
    x->park_arg = arg;
    watch(x, false);
}

void exchange_unpark(struct exchange *x)
{
    x->park_cancel = NULL;
    x->park_arg = NULL;
    unwatch(x); /* evhttp notices closes itself once we reply */
}

/* Watch <x>'s client socket for a hang-up while nothing of evhttp reads it: after
 * EXCHANGE_WATCH_DELAY_MS, or at once when <now>. */
static void watch(struct exchange *x, bool now)
{
    if (x->watching)
        return;
    struct evhttp_connection *evcon = evhttp_request_get_connection(x->req);
    struct bufferevent *bev = evcon ? evhttp_connection_get_bufferevent(evcon) : NULL;
    evutil_socket_t fd = bev ? bufferevent_getfd(bev) : -1;
    if (fd >= 0) {
        static const struct timeval delay = {0, (long)EXCHANGE_WATCH_DELAY_MS * 1000};
        event_assign(&x->watch, loop_base(x->l), fd, EV_CLOSED, on_client_closed, x);
        evtimer_assign(&x->watch_timer, loop_base(x->l), on_watch_timer, x);
        x->watching = true;
        if (now)
            event_add(&x->watch, NULL);
        else
            evtimer_add(&x->watch_timer, &delay);
    }
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
    apply_fixed(x, h);
    if (loop_draining(x->l) && !evhttp_find_header(h, "Connection"))
        evhttp_add_header(h, "Connection", "close"); /* let keep-alive clients go elsewhere */
    /* HEAD, 204 and 304 replies carry no body on the wire; evhttp would write one anyway. */
    bool no_body = evhttp_request_get_command(req) == EVHTTP_REQ_HEAD || status == 204 ||
                   status == 304 || (status >= 100 && status < 200);
    if (no_body && body)
        evbuffer_drain(body, evbuffer_get_length(body));
    if (!evhttp_find_header(h, "Date")) /* evhttp would format one per reply */
        evhttp_add_header(h, "Date", clock_http_date());
    struct conn *c = x->conn; /* <x> may be gone once the reply is sent */
    x->bytes_out += body ? evbuffer_get_length(body) : 0;
    evhttp_send_reply(req, status, httpstatus_text(status), body);
    conn_flush_later(c);
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

static void free_text(const void *data, size_t len, void *arg)
{
    (void)len, (void)arg;
    free((void *)data);
}

void exchange_reply_owned(struct exchange *x, int status, const char *ctype, char *text, size_t len)
{
    struct evbuffer *b = evbuffer_new();
    if (evbuffer_add_reference(b, text, len, free_text, NULL) < 0)
        free(text);
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

/* ---- long-lived replies ---- */

void exchange_stream_start(struct exchange *x, int status, const char *ctype)
{
    struct evhttp_request *req = x->req;
    x->status = status;
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    evhttp_add_header(h, "Content-Type", ctype);
    evhttp_add_header(h, "Cache-Control", "no-cache");
    evhttp_remove_header(h, "X-Request-Id");
    evhttp_add_header(h, "X-Request-Id", x->rid);
    apply_fixed(x, h);
    evhttp_send_reply_start(req, status, httpstatus_text(status));
    /* evhttp does not read while it answers, so only this watcher sees the client go. */
    watch(x, true);
}

void exchange_stream_send(struct exchange *x, const char *data, size_t len)
{
    struct evbuffer *b = evbuffer_new();
    evbuffer_add(b, data, len);
    x->bytes_out += len;
    evhttp_send_reply_chunk(x->req, b);
    evbuffer_free(b);
}

void exchange_stream_end(struct exchange *x)
{
    unwatch(x); /* evhttp reads again once the reply is done, and sees closes itself */
    evhttp_send_reply_end(x->req);
}

void exchange_repin(struct exchange *x)
{
    const struct runtime *rt = loop_exchange_begin(x->l);
    loop_exchange_end(x->l, x->rt); /* the in-flight count stays the same */
    x->rt = rt;
}

void exchange_cancel_upstream(struct exchange *x)
{
    unwatch(x);
    if (rate_unwait(x))
        x->upstream_error = "cancelled";
    if (x->xfer) {
        resil_cancel(x->xfer);
        x->xfer = NULL;
        x->upstream_error = "cancelled";
    }
}
