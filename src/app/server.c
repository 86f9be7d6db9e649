/*
 * server: see server.h. Sockets are created by the main thread before the workers start, so a
 * port 0 request resolves to one real port shared by every worker (SO_REUSEPORT), and a bind
 * error is reported before anything runs.
 */
#include "app/server.h"
#include "app/rtdiff.h"
#include "app/watch.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/listener.h>

#include "app/listen.h"
#include "base/crypto.h"
#include "base/log.h"
#include "app/control.h"
#include "base/clock.h"
#include "front/mcp_http.h"
#include "front/skill.h"
#include "front/mcp_stream.h"
#include "front/rest.h"
#include "http/conn.h"
#include "http/oauth.h"
#include "http/ratelimit.h"

/* One listener of one worker: the evhttp object serving one rt_listener, and what its handler
 * receives. */
struct worker_listener {
    struct front_listener fl;
    struct evhttp *http;
    struct evhttp_bound_socket *bound;
    struct control_listener ctl; /* a control listener's handler argument */
};

struct worker {
    int id;
    struct server *srv;
    struct loop *loop; /* event base, upstream client, metrics shard, current runtime */
    struct worker_listener *listeners;
    size_t nlisteners;
    struct event *wake;                /* activated from the main thread to stop the loop */
    struct evhttp *admin;              /* worker 0 only: /healthz, /readyz, /metrics */
    struct event *reload_ev;           /* activated from the main thread: switch to <pending> */
    _Atomic(struct runtime *) pending; /* a reloaded runtime (with a reference for us) */
    pthread_t thread;
};

static void worker_stop_cb(evutil_socket_t fd, short what, void *arg);
static void worker_reload_cb(evutil_socket_t fd, short what, void *arg);
static atomic_int workers_running; /* worker threads still in their loop */

static void apply_limits(struct evhttp *http, const struct config *cfg)
{
    struct timeval tv = {cfg->client_timeout_ms / 1000, (cfg->client_timeout_ms % 1000) * 1000};
    evhttp_set_timeout_tv(http, &tv);
    /* evhttp's own limits are hard caps answered with its HTML pages; ours, checked in the
     * handlers below them, answer JSON 431 and 413. */
    evhttp_set_max_headers_size(http, (ev_ssize_t)cfg->max_header_size * 2 + 1024);
    evhttp_set_max_body_size(http, (ev_ssize_t)cfg->max_body_size * 4 + 1024);
}

/* The listener of <rt> that serves what <old> served (same kind, host and port: <old_port>, the
 * one bound for it), or NULL. */
static const struct rt_listener *same_listener(const struct runtime *rt,
                                               const struct rt_listener *old, int old_port)
{
    for (size_t i = 0; i < rt->nlisteners; i++) {
        const struct rt_listener *l = &rt->listeners[i];
        if (l->type == old->type && str_eq(l->host, old->host) &&
            (l->port == old_port || l->port == 0))
            return l;
    }
    return NULL;
}

/* Switch this worker to the reloaded runtime. Requests already in progress keep the runtime
 * they started on (each exchange holds a reference), so they finish unchanged. */
static void worker_reload_cb(evutil_socket_t fd, short what, void *arg)
{
    struct worker *w = arg;
    struct runtime *rt = atomic_exchange(&w->pending, NULL);
    if (!rt)
        return;
    const struct runtime *old = loop_runtime(w->loop);
    for (size_t i = 0; i < w->nlisteners; i++) {
        struct front_listener *fl = &w->listeners[i].fl;
        const struct rt_listener *l = same_listener(rt, front_listener_get(fl, old), fl->port);
        if (l) /* always: server_reload checked listeners_match */
            fl->index = (size_t)(l - rt->listeners);
        apply_limits(w->listeners[i].http, rt->config);
    }
    loop_set_runtime(w->loop, rt);
    oauth_prefetch(w->loop, rt); /* a new authorization server's keys before its requests */
    mcp_stream_reloaded();       /* tools/list_changed to this worker's streams */
}

const char *server_adapter_kind(enum model_expose_type t)
{
    switch (t) {
    case MODEL_EXPOSE_REST:
        return "rest";
    case MODEL_EXPOSE_SKILL:
        return "skill";
    case MODEL_EXPOSE_CONTROL:
        return "control";
    default:
        return "mcp";
    }
}

static int worker_init(struct worker *w, struct server *s, int id)
{
    w->id = id;
    w->srv = s;
    /* The client-abort watcher needs EV_CLOSED (EPOLLRDHUP). */
    w->loop = loop_new(id, &s->shared, s->rt, s->nworkers, LOOP_EARLY_CLOSE);
    if (!w->loop)
        return -1;
    s->loops[id] = w->loop;
    struct event_base *base = loop_base(w->loop);
    w->wake = event_new(base, -1, 0, worker_stop_cb, w);
    w->reload_ev = event_new(base, -1, 0, worker_reload_cb, w);

    const struct runtime *rt = s->rt;
    w->listeners = xcalloc(rt->nlisteners ? rt->nlisteners : 1, sizeof *w->listeners);
    for (size_t i = 0; i < rt->nlisteners; i++) {
        const struct rt_listener *l = &rt->listeners[i];
        struct worker_listener *wl = &w->listeners[w->nlisteners++];
        wl->fl = (struct front_listener){.loop = w->loop, .index = i, .port = s->bound_port[i]};
        wl->http = evhttp_new(base);
        if (!wl->http)
            return -1;
        apply_limits(wl->http, s->cfg);
        /* Every request's framing is checked on the raw bytes before evhttp parses them. */
        evhttp_set_bevcb(wl->http, conn_accept, w->loop);
        evhttp_set_allowed_methods(wl->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_PUT |
                                                 EVHTTP_REQ_PATCH | EVHTTP_REQ_DELETE |
                                                 EVHTTP_REQ_HEAD | EVHTTP_REQ_OPTIONS);
        evhttp_set_default_content_type(wl->http, NULL);
        if (l->type == MODEL_EXPOSE_REST) {
            evhttp_set_gencb(wl->http, rest_handle, &wl->fl);
        } else if (l->type == MODEL_EXPOSE_SKILL) {
            evhttp_set_gencb(wl->http, skill_handle, &wl->fl);
        } else if (l->type == MODEL_EXPOSE_CONTROL) {
            wl->ctl = (struct control_listener){.fl = &wl->fl, .srv = s};
            evhttp_set_gencb(wl->http, control_handle, &wl->ctl);
        } else {
            evhttp_set_gencb(wl->http, mcp_handle, &wl->fl);
        }
        int fd = s->fds[(size_t)id * rt->nlisteners + i];
        struct evconnlistener *lev = evconnlistener_new(
            base, NULL, NULL, LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, -1, fd);
        if (!lev)
            return -1;
        s->fds[(size_t)id * rt->nlisteners + i] = -1; /* the listener owns it now */
        evconnlistener_set_error_cb(lev, listen_on_accept_error);
        wl->bound = evhttp_bind_listener(wl->http, lev);
        if (!wl->bound)
            return -1;
    }
    oauth_prefetch(w->loop, rt); /* so that the first requests do not wait for the keys */
    if (id == 0 && s->admin_fd >= 0) {
        int fd = s->admin_fd;
        s->admin_fd = -1; /* admin_start owns it now */
        if (admin_start(base, fd, &s->admin, &w->admin) < 0)
            return -1;
    }
    return 0;
}

static void worker_deinit(struct worker *w)
{
    if (w->admin)
        evhttp_free(w->admin);
    for (size_t i = 0; i < w->nlisteners; i++)
        if (w->listeners[i].http)
            evhttp_free(w->listeners[i].http); /* closes connections: before the upstream */
    free(w->listeners);
    runtime_unref(atomic_exchange(&w->pending, NULL));
    if (w->reload_ev)
        event_free(w->reload_ev);
    if (w->wake)
        event_free(w->wake);
    loop_free(w->loop); /* upstream, runtime, connections, metrics, then the event base */
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    event_base_dispatch(loop_base(w->loop));
    atomic_fetch_sub(&workers_running, 1);
    return NULL;
}

/* Leave the loop once every accepted request has been answered and flushed (an exchange ends
 * only then), or at the drain deadline set in worker_stop_cb. */
static void worker_drain_tick(evutil_socket_t fd, short what, void *arg)
{
    struct worker *w = arg;
    static const struct timeval tick = {0, 20000};
    struct event_base *base = loop_base(w->loop);
    /* Spans still waiting go to the collector too, within the same deadline. */
    if (loop_inflight(w->loop) == 0 && loop_tracing_drained(w->loop)) {
        event_base_loopexit(base, NULL);
        return;
    }
    event_base_once(base, -1, EV_TIMEOUT, worker_drain_tick, w, &tick);
}

static void worker_stop_cb(evutil_socket_t fd, short what, void *arg)
{
    struct worker *w = arg;
    for (size_t i = 0; i < w->nlisteners; i++)
        if (w->listeners[i].bound) {
            evhttp_del_accept_socket(w->listeners[i].http, w->listeners[i].bound);
            w->listeners[i].bound = NULL;
        }
    mcp_stream_close_all(); /* they never end by themselves: the drain would wait for them */
    long ms = loop_config(w->loop)->drain_timeout_ms;
    struct timeval deadline = {ms / 1000, (ms % 1000) * 1000};
    event_base_loopexit(loop_base(w->loop), &deadline);
    worker_drain_tick(-1, EV_TIMEOUT, w);
}

int server_start(struct server *s, const struct config *cfg, struct runtime *rt,
                 server_reload_fn reload, void *reload_arg)
{
    memset(s, 0, sizeof *s);
    pthread_mutex_init(&s->reload_lock, NULL);
    s->reload_lock_init = true;
    clock_mono(&s->started);
    s->cfg = cfg;
    s->rt = rt;
    s->reload = reload;
    s->reload_arg = reload_arg;
    s->nworkers = cfg->workers > 0 ? cfg->workers : 1;
    atomic_init(&s->shared.connections, 0);
    s->shared.ratelimit = ratelimit_new();
    s->shared.resil = resil_shared_new();
    size_t nfds = (size_t)s->nworkers * rt->nlisteners;
    s->nfds = nfds;
    s->admin_fd = -1;
    s->fds = xcalloc(nfds ? nfds : 1, sizeof *s->fds);
    s->bound_port = xcalloc(rt->nlisteners ? rt->nlisteners : 1, sizeof *s->bound_port);
    for (size_t i = 0; i < nfds; i++)
        s->fds[i] = -1;
    for (size_t i = 0; i < rt->nlisteners; i++) {
        const struct rt_listener *l = &rt->listeners[i];
        const char *what = server_adapter_kind(l->type);
        const char *other = NULL, *other_host = NULL;
        int other_port = 0;
        for (size_t j = 0; j < i && !other; j++)
            if (listen_same_address(l->host, l->port, rt->listeners[j].host, s->bound_port[j])) {
                other = server_adapter_kind(rt->listeners[j].type);
                other_host = rt->listeners[j].host;
                other_port = s->bound_port[j];
            }
        const char *admin_host = cfg->admin_listen.host ? cfg->admin_listen.host : "127.0.0.1";
        if (!other && cfg->admin_listen.port >= 0 &&
            listen_same_address(l->host, l->port, admin_host, cfg->admin_listen.port)) {
            other = "admin";
            other_host = admin_host;
            other_port = cfg->admin_listen.port;
        }
        if (other) {
            LOG_E("cannot listen on %s:%d (%s): the %s listener is on %s:%d too; give them "
                  "different ports",
                  l->host, l->port, what, other, other_host, other_port);
            return -1;
        }
        struct listen_addr a;
        int probe = listen_probe(what, l->host, l->port, &a);
        if (probe < 0)
            return -1;
        /* The probe stays bound until every worker listens: the port (chosen by the kernel
         * for port 0) cannot be handed to anyone else meanwhile. */
        for (int k = 0; k < s->nworkers; k++) {
            int fd = listen_worker_socket(what, l->host, &a);
            if (fd < 0) {
                close(probe);
                return -1;
            }
            s->fds[(size_t)k * rt->nlisteners + i] = fd;
        }
        close(probe);
        s->bound_port[i] = listen_addr_port(&a); /* the runtime keeps the configured one */
    }
    if (cfg->admin_listen.port >= 0) {
        /* Loopback unless configured otherwise: /metrics shows route names and traffic. */
        const char *host = cfg->admin_listen.host ? cfg->admin_listen.host : "127.0.0.1";
        struct listen_addr a;
        /* One socket, no SO_REUSEPORT: the probe itself becomes the listener. */
        s->admin_fd = listen_probe("admin", host, cfg->admin_listen.port, &a);
        if (s->admin_fd < 0)
            return -1;
        if (listen(s->admin_fd, SOMAXCONN) < 0) {
            LOG_E("cannot listen on %s:%d (admin): %s", host, listen_addr_port(&a),
                  strerror(errno));
            return -1;
        }
        LOG_I("admin listening on %s:%d (/healthz /readyz /metrics)", host, listen_addr_port(&a));
    }
    unsigned char rnd[8] = {0};
    if (crypto_random(rnd, sizeof rnd) < 0)
        LOG_W("no random bytes (libcrypto RAND_bytes failed): request ids are less unique");
    for (size_t i = 0; i < sizeof rnd; i++)
        snprintf(s->shared.rid_prefix + 2 * i, 3, "%02x", rnd[i]);
    s->workers = xcalloc((size_t)s->nworkers, sizeof *s->workers);
    s->loops = xcalloc((size_t)s->nworkers, sizeof *s->loops);
    s->admin = (struct admin_view){
        .loops = s->loops, .nloops = (size_t)s->nworkers, .shared = &s->shared, .ready = &s->ready};
    for (int k = 0; k < s->nworkers; k++)
        if (worker_init(&s->workers[k], s, k) < 0) {
            LOG_E("cannot set up worker %d", k);
            return -1;
        }
    for (size_t i = 0; i < rt->nlisteners; i++) {
        const struct rt_listener *l = &rt->listeners[i];
        if (l->type == MODEL_EXPOSE_REST) {
            LOG_I("rest listening on %s:%d (%zu routes)", l->host, s->bound_port[i], l->nroutes);
        } else if (l->type == MODEL_EXPOSE_SKILL || l->type == MODEL_EXPOSE_CONTROL) {
            LOG_I("%s listening on %s:%d%s%s", server_adapter_kind(l->type), l->host,
                  s->bound_port[i], l->expose->ns ? " for " : "",
                  l->expose->ns ? l->expose->ns : "");
        } else {
            size_t ntools = 0;
            for (size_t j = 0; j < l->nendpoints; j++)
                if (str_eq(l->endpoints[j].path, "/mcp"))
                    ntools = l->endpoints[j].ntools;
            LOG_I("mcp listening on %s:%d (%zu tools)", l->host, s->bound_port[i], ntools);
        }
    }
    /* Signals go to the main thread only (sigwait in server_run). */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    for (int k = 0; k < s->nworkers; k++)
        if (atomic_fetch_add(&workers_running, 1) < 0 ||
            pthread_create(&s->workers[k].thread, NULL, worker_main, &s->workers[k]) != 0) {
            LOG_E("cannot start worker thread %d", k);
            return -1;
        }
    /* Made even with reload.watch off, which a reload may turn on (watch_arm reads it). */
    s->watch = watch_new();
    watch_arm(s->watch, rt);
    atomic_store(&s->ready, 1);
    LOG_I("ready, %d workers", s->nworkers);
    return 0;
}

/* Whether <rt> serves exactly the listeners running now; if so, the bound ports follow their
 * listeners to <rt>'s order. */
static bool listeners_match(struct server *s, const struct runtime *rt)
{
    if (rt->nlisteners != s->rt->nlisteners)
        return false;
    int *bound = xcalloc(rt->nlisteners ? rt->nlisteners : 1, sizeof *bound);
    for (size_t i = 0; i < s->rt->nlisteners; i++) {
        const struct rt_listener *l = same_listener(rt, &s->rt->listeners[i], s->bound_port[i]);
        if (!l) {
            free(bound);
            return false;
        }
        bound[l - rt->listeners] = s->bound_port[i];
    }
    free(s->bound_port);
    s->bound_port = bound;
    return true;
}

enum server_reload_result server_reload_now(struct server *s)
{
    enum server_reload_result res = SERVER_RELOADED;
    pthread_mutex_lock(&s->reload_lock);
    struct runtime *rt = s->reload ? s->reload(s->reload_arg) : NULL;
    if (!rt) {
        LOG_E("reload failed; the previous configuration keeps serving");
        res = SERVER_RELOAD_FAILED;
        goto out;
    }
    if (!listeners_match(s, rt)) {
        LOG_E("reload changes the listen addresses or ports; restart to apply them. The previous "
              "configuration keeps serving");
        runtime_unref(rt);
        res = SERVER_RELOAD_LISTENERS;
        goto out;
    }
    if (rt->config->workers != s->nworkers)
        LOG_W("reload: the number of workers changes only on restart (still %d)", s->nworkers);
    for (int k = 0; k < s->nworkers; k++) {
        runtime_ref(rt);
        runtime_unref(atomic_exchange(&s->workers[k].pending, rt));
        event_active(s->workers[k].reload_ev, EV_TIMEOUT, 0);
    }
    struct runtime *old = s->rt;
    s->rt = rt;
    s->cfg = rt->config;
    size_t routes = 0;
    for (size_t i = 0; i < rt->nlisteners; i++)
        routes += rt->listeners[i].nroutes;
    struct strbuf what;
    strbuf_init(&what, 0);
    rtdiff_describe(old, rt, &what);
    LOG_I("reloaded: %zu documents, %zu routes; %s", rt->model->ncaps, routes, what.data);
    strbuf_deinit(&what);
    runtime_unref(old);
out:
    /* Again after a failure too: a directory replaced since is watched anew. */
    watch_arm(s->watch, s->rt);
    pthread_mutex_unlock(&s->reload_lock);
    return res;
}

static void server_reload(struct server *s)
{
    LOG_I("SIGHUP: reloading configuration and capabilities");
    server_reload_now(s);
}

void server_run(struct server *s)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    for (;;) {
        int sig = 0;
        int got = s->watch ? watch_wait(s->watch, &set, &sig) : sigwait(&set, &sig) == 0 ? 1 : -1;
        if (got == 0)
            server_reload_now(s); /* a watched file changed (logged) */
        if (got <= 0)
            continue;
        if (sig == SIGHUP) {
            server_reload(s);
            continue;
        }
        const char *why = atomic_exchange(&s->stop_why, NULL);
        if (!why)
            why = sig == SIGTERM ? "SIGTERM" : "SIGINT";
        LOG_I("%s: draining (up to %ld ms), then exiting", why, s->cfg->drain_timeout_ms);
        break;
    }
    server_stop(s);
}

void server_request_stop(struct server *s, const char *why)
{
    atomic_store(&s->stop_why, why);
    /* Every thread blocks SIGTERM; server_run's sigwait takes this one. */
    kill(getpid(), SIGTERM);
}

void server_stop(struct server *s)
{
    atomic_store(&s->shared.draining, 1);
    for (int k = 0; k < s->nworkers; k++)
        if (s->workers && s->workers[k].wake && s->workers[k].thread)
            event_active(s->workers[k].wake, EV_TIMEOUT, 0);
    /* A second SIGTERM or SIGINT during the drain stops at once. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    struct timespec poll_ts = {0, 50L * 1000 * 1000};
    while (atomic_load(&workers_running) > 0) {
        if (sigtimedwait(&set, NULL, &poll_ts) > 0) {
            LOG_W("second signal: stopping without waiting for in-flight requests");
            for (int k = 0; k < s->nworkers; k++)
                if (s->workers && s->workers[k].loop)
                    event_base_loopbreak(loop_base(s->workers[k].loop));
            break;
        }
    }
    for (int k = 0; k < s->nworkers; k++)
        if (s->workers && s->workers[k].thread)
            pthread_join(s->workers[k].thread, NULL);
    for (int k = 0; s->workers && k < s->nworkers; k++)
        worker_deinit(&s->workers[k]);
    free(s->workers);
    s->workers = NULL;
    free(s->loops);
    s->loops = NULL;
    resil_shared_free(s->shared.resil); /* after every loop that used it */
    s->shared.resil = NULL;
    free(s->bound_port);
    s->bound_port = NULL;
    for (size_t i = 0; i < s->nfds; i++)
        if (s->fds[i] >= 0)
            close(s->fds[i]);
    free(s->fds);
    s->fds = NULL;
    if (s->admin_fd >= 0)
        close(s->admin_fd); /* not adopted by worker 0: server_start failed */
    s->admin_fd = -1;
    if (s->reload_lock_init)
        pthread_mutex_destroy(&s->reload_lock);
    s->reload_lock_init = false;
    watch_free(s->watch);
    s->watch = NULL;
    ratelimit_free(s->shared.ratelimit); /* after every loop: they count into it */
    s->shared.ratelimit = NULL;
}
