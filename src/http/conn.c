/*
 * conn: see conn.h.
 *
 * Connections: capproxy creates each accepted connection's bufferevent (evhttp_set_bevcb), so
 * a connection is counted against maxConnections from accept, and a callback on its input
 * buffer sees every byte read before evhttp's read callback does. That callback moves new
 * bytes aside (<held>) until framing.c has a whole, checked request, and only then puts it
 * back where evhttp parses it: evhttp never sees a partial or refused request. A refused one
 * is replaced by a small synthetic request marked "Connection: close", which conn_begin
 * recognises (by its position on the connection) and the exchange answers with the refusal, so
 * the answer goes through evhttp's own reply path (Date, keep-alive handling, access log). The same
 * path answers the head and body deadlines with 408.
 *
 * The connection is known to evhttp as an evhttp_connection, which exists only after the
 * bevcb returns: it is found through the bufferevent's callback argument (evhttp's own) on
 * the first of: a zero-delay timer after accept, the first bytes, the first request. Its close
 * callback then uncounts the connection and frees this state.
 */
#include "http/conn.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/event_struct.h>

#include "base/log.h"
#include "http/framing.h"
#include "http/loop.h"

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
    void *user;             /* the exchange currently using this connection, or NULL */
    conn_close_fn on_close; /* called with <user> if the connection dies under it */
    struct conn *next;      /* hash chain */
    struct evbuffer *held;  /* bytes of a request not yet complete and checked */
    struct evbuffer_cb_entry *input_cb;
    struct event deadline;
    enum conn_timer timer;
    struct framing_state fs;
    size_t passed;            /* checked bytes in the input buffer that evhttp has not read */
    unsigned long npassed;    /* requests handed to evhttp, synthetic ones included */
    unsigned long nseen;      /* requests that reached conn_begin */
    unsigned long refused_at; /* which of those is the synthetic refusal (0: none) */
    int refusal;              /* its status */
    bool busy;                /* moving bytes in the input buffer ourselves */
    bool over;                /* over maxConnections at accept: the first request gets 503 */
    bool continue_sent;       /* "100 Continue" sent for the request being received */
    char why[192];            /* the refusal's detail */
    struct conn *flush_next;  /* in the table's flush queue (conn_flush_later) */
    struct conn **flush_at;   /* what points at it; NULL: not queued */
};

struct conn_table {
    struct conn **buckets;
    size_t nbuckets;
    size_t n;
    struct conn *flush_head; /* connections with a reply to write at the end of this pass */
    struct event flush;      /* runs on_flush; assigned on first use */
    bool flush_assigned;
};

/* Stands in for a refused request: evhttp parses it and the exchange answers the refusal.
 * "Connection: close" makes evhttp close the connection once the answer is flushed. */
static const char synthetic_request[] =
    "GET / HTTP/1.1\r\nHost: capproxy\r\nConnection: close\r\n\r\n";

/* ---- connection table ---- */

static size_t conn_hash(const void *p, size_t n)
{
    uintptr_t v = (uintptr_t)p;
    v ^= v >> 17;
    v *= 0x9E3779B97F4A7C15ull;
    return (size_t)(v >> 7) & (n - 1);
}

struct conn_table *conn_table_new(void)
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

static void flush_unlink(struct conn *c)
{
    if (!c->flush_at)
        return;
    *c->flush_at = c->flush_next;
    if (c->flush_next)
        c->flush_next->flush_at = c->flush_at;
    c->flush_next = NULL;
    c->flush_at = NULL;
}

/* Free what <c> holds; the bufferevent itself goes with evhttp's (or the last) reference. */
static void conn_free(struct conn *c)
{
    flush_unlink(c);
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
    if (c->user) {
        /* A reply was being written when the connection died: evhttp frees the request. */
        void *user = c->user;
        c->user = NULL;
        c->on_close(user);
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
    if (fd < 0 || c->user || c->passed || evbuffer_get_length(bufferevent_get_output(c->bev)))
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

struct bufferevent *conn_accept(struct event_base *base, void *arg)
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

void conn_table_free(struct conn_table *t)
{
    if (!t)
        return;
    if (t->flush_assigned)
        event_del(&t->flush);
    /* Only connections evhttp never got to attach are left (evhttp_free closed the others). */
    for (size_t i = 0; i < t->nbuckets; i++)
        for (struct conn *c = t->buckets[i], *next; c; c = next) {
            next = c->next;
            conn_free(c);
        }
    free(t->buckets);
    free(t);
}

struct conn *conn_of(struct loop *l, struct evhttp_request *req)
{
    struct evhttp_connection *evcon = evhttp_request_get_connection(req);
    return conn_find(loop_conns(l), evhttp_connection_get_bufferevent(evcon));
}

int conn_begin(struct conn *c, void *user, conn_close_fn on_close, const char **why)
{
    conn_attach(c);
    c->user = user;
    c->on_close = on_close;
    c->nseen++;
    if (c->refused_at && c->nseen == c->refused_at) {
        *why = c->why;
        return c->refusal;
    }
    if (c->over) {
        *why = "too many client connections";
        return 503;
    }
    return 0;
}

void conn_end(struct conn *c, void *user)
{
    if (c && c->user == user)
        c->user = NULL;
}

struct evhttp_connection *conn_evcon(const struct conn *c)
{
    return c->evcon;
}

/* ---- one flush per loop pass ----
 *
 * evhttp_send_reply only fills the bufferevent's output and registers it for writing; the
 * socket bufferevent then writes in a later pass of the loop, when epoll reports the socket
 * writable, and only after that write does evhttp finish the request and read the next one.
 * Instead, every reply of a pass is written at the end of that same pass, from one event
 * activated when the first one is queued: the client gets its answer a loop pass earlier,
 * and the write event registered and removed again in the same pass costs no epoll_ctl with
 * the epoll changelist. What the socket does not take at once is left to the bufferevent. */

/* Write <c>'s pending output now, as the bufferevent's own write callback would; when all of
 * it went out, tell evhttp (its write callback ends the request, and may free <c>). */
static void conn_flush_now(struct conn *c)
{
    struct bufferevent *bev = c->bev;
    struct evbuffer *out = bufferevent_get_output(bev);
    evutil_socket_t fd = bufferevent_getfd(bev);
    if (fd < 0 || evbuffer_get_length(out) == 0 || !(bufferevent_get_enabled(bev) & EV_WRITE))
        return;
    /* The socket bufferevent keeps the start of its output frozen outside its own writes. */
    evbuffer_unfreeze(out, 1);
    int n = evbuffer_write(out, fd);
    evbuffer_freeze(out, 1);
    if (n > 0 && evbuffer_get_length(out) == 0)
        bufferevent_trigger(bev, EV_WRITE, 0);
}

static void on_flush(evutil_socket_t fd, short what, void *arg)
{
    struct conn_table *t = arg;
    /* A write may end a request, start the next pipelined one and queue its immediate reply
     * (a refusal): that one is written in this same run. */
    struct conn *c;
    while ((c = t->flush_head) != NULL) {
        flush_unlink(c);
        conn_flush_now(c); /* last use: it may free <c> */
    }
}

void conn_flush_later(struct conn *c)
{
    if (!c || c->flush_at)
        return;
    struct conn_table *t = loop_conns(c->l);
    if (!t->flush_assigned) {
        event_assign(&t->flush, bufferevent_get_base(c->bev), -1, 0, on_flush, t);
        t->flush_assigned = true;
    }
    if (!t->flush_head)
        event_active(&t->flush, EV_TIMEOUT, 0); /* runs after what is already active */
    c->flush_next = t->flush_head;
    if (c->flush_next)
        c->flush_next->flush_at = &c->flush_next;
    c->flush_at = &t->flush_head;
    t->flush_head = c;
}
