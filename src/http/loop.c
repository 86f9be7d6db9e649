/*
 * loop: see loop.h.
 */
#include "http/loop.h"

#include <stdio.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "base/util.h"
#include "http/conn.h"
#include "http/oauth.h"
#include "http/otlp.h"
#include "spec/urlenc.h"

struct loop {
    int id;
    struct loop_shared *sh; /* NULL: no connection limit, never draining */
    struct event_base *base;
    struct upstream *upstream;
    const struct runtime *rt; /* current; the loop holds one reference */
    struct metrics *metrics;  /* this loop's shard */
    struct conn_table *conns; /* client connections this loop has accepted */
    atomic_long inflight;     /* client requests in progress */
    unsigned long long rid_seq;
    struct oauth_state *oauth; /* made on first use (http/oauth.h) */
    struct resil *resil;
    struct resil_shared *own_resil; /* without a loop_shared (stdio): the loop's own */
    struct otlp *otlp;              /* span exporter; NULL when tracing.otlpEndpoint is not set */
};

static struct event_base *new_base(int flags)
{
    struct event_config *ec = event_config_new();
    if (flags & LOOP_EARLY_CLOSE)
        event_config_require_features(ec, EV_FEATURE_EARLY_CLOSE);
    if (flags & LOOP_POLL)
        event_config_avoid_method(ec, "epoll");
    /* epoll: batch the interest changes of a loop pass into one epoll_ctl per fd at dispatch
     * (a del then add of the same events costs none). Safe here: nothing dup()s a watched fd,
     * and curl's sockets leave the base before they are closed (http/upstream.c). Ignored by
     * the other backends (the stdio loop's poll). */
    event_config_set_flag(ec, EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST);
    struct event_base *base = event_base_new_with_config(ec);
    event_config_free(ec);
    if (!base && (flags & LOOP_EARLY_CLOSE))
        LOG_W("event backend without early-close detection; client aborts are noticed late");
    return base ? base : event_base_new();
}

struct loop *loop_new(int id, struct loop_shared *sh, const struct runtime *rt, int nloops,
                      int flags)
{
    struct loop *l = xcalloc(1, sizeof *l);
    l->id = id;
    l->sh = sh;
    l->rt = rt;
    runtime_ref(rt);
    atomic_init(&l->inflight, 0);
    l->metrics = metrics_new();
    l->conns = conn_table_new();
    l->base = new_base(flags);
    if (!l->base)
        goto fail;
    struct upstream_opts uo;
    upstream_opts_from_config(&uo, rt->config, nloops);
    l->upstream = upstream_new(l->base, &uo);
    if (!l->upstream)
        goto fail;
    if (!sh || !sh->resil)
        l->own_resil = resil_shared_new();
    l->resil = resil_new(l->base, l->upstream, l->own_resil ? l->own_resil : sh->resil, nloops);
    resil_set_ratelimit(l->resil, loop_ratelimit(l));
    l->otlp = otlp_new(l->base, l->upstream, l->metrics, rt->config);
    return l;
fail:
    loop_free(l);
    return NULL;
}

void loop_free(struct loop *l)
{
    if (!l)
        return;
    oauth_state_free(l->oauth); /* cancels its fetches: before the upstream client */
    resil_free(l->resil);       /* cancels its calls' transfers: before the upstream client */
    resil_shared_free(l->own_resil);
    otlp_free(l->otlp);         /* the same for its export */
    upstream_free(l->upstream); /* curl calls back into the loop: before event_base_free */
    runtime_unref(l->rt);
    conn_table_free(l->conns);
    metrics_free(l->metrics);
    if (l->base)
        event_base_free(l->base);
    free(l);
}

struct event_base *loop_base(const struct loop *l)
{
    return l->base;
}

struct upstream *loop_upstream(const struct loop *l)
{
    return l->upstream;
}

struct metrics *loop_metrics(const struct loop *l)
{
    return l->metrics;
}

const struct runtime *loop_runtime(const struct loop *l)
{
    return l->rt;
}

const struct config *loop_config(const struct loop *l)
{
    return l->rt->config;
}

struct ratelimit *loop_ratelimit(const struct loop *l)
{
    return l->sh ? l->sh->ratelimit : NULL;
}

struct oauth_state *loop_oauth(struct loop *l)
{
    if (!l->oauth)
        l->oauth = oauth_state_new(l);
    return l->oauth;
}

void loop_set_runtime(struct loop *l, const struct runtime *rt)
{
    const struct runtime *old = l->rt;
    l->rt = rt;
    runtime_unref(old);
}

long loop_inflight(const struct loop *l)
{
    return atomic_load(&l->inflight);
}

bool loop_draining(const struct loop *l)
{
    return l->sh && atomic_load(&l->sh->draining);
}

/* <v> in decimal at <p>; returns the end. */
/* "<prefix>-<loop>-<sequence>", as snprintf("%s-%d-%llu") would write it, which cost more than
 * the rest of a request's own bookkeeping. */
void loop_new_rid(struct loop *l, char *out, size_t cap)
{
    const char *prefix = l->sh ? l->sh->rid_prefix : "";
    size_t plen = strlen(prefix);
    char buf[sizeof l->sh->rid_prefix + 48];
    memcpy(buf, prefix, plen);
    char *p = buf + plen;
    *p++ = '-';
    p += util_fmt_ll(l->id, p);
    *p++ = '-';
    p += util_fmt_ll((long long)(++l->rid_seq & (unsigned long long)LLONG_MAX), p);
    size_t n = (size_t)(p - buf);
    if (cap == 0)
        return;
    if (n >= cap)
        n = cap - 1;
    memcpy(out, buf, n);
    out[n] = '\0';
}

bool loop_conn_up(struct loop *l)
{
    if (!l->sh)
        return false;
    return atomic_fetch_add(&l->sh->connections, 1) >= loop_config(l)->max_connections;
}

void loop_conn_down(struct loop *l)
{
    if (l->sh)
        atomic_fetch_sub(&l->sh->connections, 1);
}

const struct runtime *loop_exchange_begin(struct loop *l)
{
    atomic_fetch_add(&l->inflight, 1);
    runtime_ref(l->rt);
    return l->rt;
}

void loop_exchange_end(struct loop *l, const struct runtime *rt)
{
    atomic_fetch_sub(&l->inflight, 1);
    runtime_unref(rt);
}

struct conn_table *loop_conns(struct loop *l)
{
    return l->conns;
}

struct resil_call *loop_forward(struct loop *l, struct outreq *out, const char *rid,
                                upstream_done_fn done, void *arg)
{
    if (rid)
        outreq_add_header(out, "X-Request-Id", rid, strlen(rid));
    return resil_start(l->resil, loop_config(l), out, done, arg);
}

/* The caller's User-Agent is kept when it is a plain header value of sane length. */
#define LOOP_UA_MAX 512

void loop_hop_headers(struct loop *l, struct outreq *out, const struct trace_ctx *t, const char *ua,
                      uint8_t span_id[TRACE_SPAN_LEN])
{
    char tp[TRACE_PARENT_LEN + 1];
    trace_new_span(span_id);
    if (t) {
        trace_format_parent(t->trace_id, span_id, t->flags, tp);
    } else {
        uint8_t tid[TRACE_ID_LEN];
        trace_new_trace(tid);
        trace_format_parent(tid, span_id, loop_config(l)->trace_sample_new ? TRACE_FLAG_SAMPLED : 0,
                            tp);
    }
    outreq_add_header(out, "traceparent", tp, TRACE_PARENT_LEN);
    if (t && t->state[0])
        outreq_add_header(out, "tracestate", t->state, strlen(t->state));
    /* A User-Agent the document maps (a header parameter) is the document's decision. */
    if (outreq_find_header(out, "User-Agent"))
        return;
    static const char own[] = "capproxy/" CAPPROXY_VERSION;
    size_t n = ua ? strlen(ua) : 0;
    if (n == 0 || n > LOOP_UA_MAX || !urlenc_header_value_ok(ua, n)) {
        outreq_add_header(out, "User-Agent", own, sizeof own - 1);
        return;
    }
    char v[LOOP_UA_MAX + sizeof own + 1]; /* "<caller's> capproxy/x.y.z": no printf, no malloc */
    memcpy(v, ua, n);
    v[n] = ' ';
    memcpy(v + n + 1, own, sizeof own - 1);
    outreq_add_header(out, "User-Agent", v, n + sizeof own);
}

struct otlp *loop_otlp(const struct loop *l)
{
    return l->otlp;
}

bool loop_tracing_drained(struct loop *l)
{
    return otlp_drain(l->otlp);
}

const struct rt_listener *front_listener_get(const struct front_listener *fl,
                                             const struct runtime *rt)
{
    return &rt->listeners[fl->index];
}
