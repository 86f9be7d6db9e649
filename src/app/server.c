/*
 * server: see server.h. Sockets are created by the main thread before the workers start, so a
 * port 0 request resolves to one real port shared by every worker (SO_REUSEPORT), and a bind
 * error is reported before anything runs.
 */
#include "app/server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/keyvalq_struct.h>
#include <event2/listener.h>
#include <event2/thread.h>
#include <sys/random.h>

#include "http/conn.h"
#include "http/exchange.h"
#include "base/log.h"
#include "front/mcp_http.h"
#include "front/rest.h"

/* One listener of one worker: the evhttp object serving one rt_listener, and what its handler
 * receives. */
struct worker_listener {
    struct front_listener fl;
    struct evhttp *http;
    struct evhttp_bound_socket *bound;
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

/* A resolved listen address; the port is the actual one once a probe has bound it. */
struct listen_addr {
    struct sockaddr_storage ss;
    socklen_t len;
};

static int addr_port(const struct listen_addr *a)
{
    if (a->ss.ss_family == AF_INET6) {
        struct sockaddr_in6 s6;
        memcpy(&s6, &a->ss, sizeof s6);
        return ntohs(s6.sin6_port);
    }
    struct sockaddr_in s4;
    memcpy(&s4, &a->ss, sizeof s4);
    return ntohs(s4.sin_port);
}

/* A TCP socket for <a>'s family with the options every listener has. */
static int new_socket(const struct listen_addr *a, bool reuseport)
{
    int fd = socket(a->ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    int one = 1;
    /* A previous run's connections in TIME_WAIT must not stop a restart. */
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    /* One socket per worker on the same port; the kernel spreads connections. */
    if (reuseport)
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
    /* Accepted sockets inherit TCP_NODELAY; evhttp never sets it itself. */
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}

/* Claim <host>:<port> for this process: resolve it and bind a probe socket *without*
 * SO_REUSEPORT to the first address that takes it. On Linux that bind fails with EADDRINUSE
 * while anyone listens there, including another process's SO_REUSEPORT sockets (which the
 * workers' own sockets would silently join: the kernel would then split connections between
 * two processes holding different secrets). Once our workers listen, a later process's probe
 * fails the same way. Port 0 gets its real port here, once, and the workers join it. Two
 * processes of the same user that probe within the same instant (before either listens) can
 * still both pass: the check guards against a second start, not against that race. Returns
 * the bound, not listening, probe socket with <*out> set, or -1 (logged). */
static int listen_probe(const char *what, const char *host, int port, struct listen_addr *out)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    struct addrinfo *res = NULL;
    char portstr[16];
    snprintf(portstr, sizeof portstr, "%d", port);
    int rc = getaddrinfo(host, portstr, &hints, &res);
    if (rc != 0) {
        LOG_E("cannot resolve the %s listen address %s: %s", what, host, gai_strerror(rc));
        return -1;
    }
    int fd = -1, err = 0;
    bool in_use = false;
    for (struct addrinfo *ai = res; ai && fd < 0; ai = ai->ai_next) {
        if (ai->ai_addrlen > sizeof out->ss)
            continue;
        memcpy(&out->ss, ai->ai_addr, ai->ai_addrlen);
        out->len = (socklen_t)ai->ai_addrlen;
        fd = new_socket(out, false);
        if (fd < 0) {
            err = errno;
            continue;
        }
        if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0)
            break;
        err = errno;
        in_use |= err == EADDRINUSE;
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    if (fd < 0) {
        if (in_use)
            LOG_E("cannot listen on %s:%d (%s): address in use by another process (only "
                  "capproxy's own workers share a port)",
                  host, port, what);
        else
            LOG_E("cannot listen on %s:%d (%s): %s", host, port, what, strerror(err));
        return -1;
    }
    out->len = sizeof out->ss;
    if (getsockname(fd, (struct sockaddr *)&out->ss, &out->len) < 0) {
        LOG_E("cannot listen on %s:%d (%s): %s", host, port, what, strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

static bool wildcard_host(const char *h)
{
    return !h || !*h || str_eq(h, "0.0.0.0") || str_eq(h, "::");
}

/* Whether two of our own listeners would claim the same address: the probe would then blame
 * "another process" for what is a configuration mistake. */
static bool same_address(const char *h1, int p1, const char *h2, int p2)
{
    return p1 == p2 && p1 != 0 && (wildcard_host(h1) || wildcard_host(h2) || str_eq(h1, h2));
}

/* One worker's SO_REUSEPORT listening socket on the address a probe has claimed. */
static int listen_worker_socket(const char *what, const char *host, const struct listen_addr *a)
{
    int fd = new_socket(a, true);
    if (fd >= 0 && bind(fd, (const struct sockaddr *)&a->ss, a->len) == 0 &&
        listen(fd, SOMAXCONN) == 0)
        return fd;
    LOG_E("cannot listen on %s:%d (%s): %s", host, addr_port(a), what, strerror(errno));
    if (fd >= 0)
        close(fd);
    return -1;
}

/* EMFILE and friends: without this callback libevent 2.1 spins on the readable listener. */
static void on_accept_error(struct evconnlistener *lev, void *arg)
{
    struct event_base *base = evconnlistener_get_base(lev);
    int err = EVUTIL_SOCKET_ERROR();
    LOG_W("accept failed: %s; pausing accepts for 100 ms", evutil_socket_error_to_string(err));
    evconnlistener_disable(lev);
    struct timeval tv = {0, 100000};
    event_base_once(base, -1, EV_TIMEOUT, (event_callback_fn)(void (*)(void))evconnlistener_enable,
                    lev, &tv);
    (void)arg;
}

static void worker_stop_cb(evutil_socket_t fd, short what, void *arg);
static void worker_reload_cb(evutil_socket_t fd, short what, void *arg);
static atomic_int workers_running; /* worker threads still in their loop */
static void admin_handle(struct evhttp_request *req, void *arg);

static void apply_limits(struct evhttp *http, const struct config *cfg)
{
    struct timeval tv = {cfg->client_timeout_ms / 1000, (cfg->client_timeout_ms % 1000) * 1000};
    evhttp_set_timeout_tv(http, &tv);
    /* evhttp's own limits are hard caps answered with its HTML pages; ours, checked in the
     * handlers below them, answer JSON 431 and 413. */
    evhttp_set_max_headers_size(http, (ev_ssize_t)cfg->max_header_size * 2 + 1024);
    evhttp_set_max_body_size(http, (ev_ssize_t)cfg->max_body_size * 4 + 1024);
}

/* The listener of <rt> that serves what <old> served (same kind, host and port), or NULL. */
static const struct rt_listener *same_listener(const struct runtime *rt,
                                               const struct rt_listener *old)
{
    for (size_t i = 0; i < rt->nlisteners; i++) {
        const struct rt_listener *l = &rt->listeners[i];
        if (l->type == old->type && str_eq(l->host, old->host) &&
            (l->port == old->port || l->port == 0))
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
        const struct rt_listener *l = same_listener(rt, front_listener_get(fl, old));
        if (l) /* always: server_reload checked listeners_match */
            fl->index = (size_t)(l - rt->listeners);
        apply_limits(w->listeners[i].http, rt->config);
    }
    loop_set_runtime(w->loop, rt);
}

static int worker_init(struct worker *w, struct server *s, int id)
{
    w->id = id;
    w->srv = s;
    /* The client-abort watcher needs EV_CLOSED (EPOLLRDHUP). */
    w->loop = loop_new(id, &s->shared, s->rt, s->nworkers, LOOP_EARLY_CLOSE);
    if (!w->loop)
        return -1;
    struct event_base *base = loop_base(w->loop);
    w->wake = event_new(base, -1, 0, worker_stop_cb, w);
    w->reload_ev = event_new(base, -1, 0, worker_reload_cb, w);

    const struct runtime *rt = s->rt;
    w->listeners = xcalloc(rt->nlisteners ? rt->nlisteners : 1, sizeof *w->listeners);
    for (size_t i = 0; i < rt->nlisteners; i++) {
        const struct rt_listener *l = &rt->listeners[i];
        struct worker_listener *wl = &w->listeners[w->nlisteners++];
        wl->fl = (struct front_listener){.loop = w->loop, .index = i};
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
        if (l->type == MODEL_EXPOSE_REST)
            evhttp_set_gencb(wl->http, rest_handle, &wl->fl);
        else
            evhttp_set_gencb(wl->http, mcp_handle, &wl->fl);
        int fd = s->fds[(size_t)id * rt->nlisteners + i];
        struct evconnlistener *lev = evconnlistener_new(
            base, NULL, NULL, LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, -1, fd);
        if (!lev)
            return -1;
        s->fds[(size_t)id * rt->nlisteners + i] = -1; /* the listener owns it now */
        evconnlistener_set_error_cb(lev, on_accept_error);
        wl->bound = evhttp_bind_listener(wl->http, lev);
        if (!wl->bound)
            return -1;
    }
    if (id == 0 && s->admin_fd >= 0) {
        w->admin = evhttp_new(base);
        if (!w->admin)
            return -1;
        struct timeval tv = {10, 0};
        evhttp_set_timeout_tv(w->admin, &tv);
        evhttp_set_max_headers_size(w->admin, 16384);
        evhttp_set_max_body_size(w->admin, 0);
        evhttp_set_allowed_methods(w->admin, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD);
        evhttp_set_gencb(w->admin, admin_handle, s);
        struct evconnlistener *lev = evconnlistener_new(
            base, NULL, NULL, LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, -1, s->admin_fd);
        if (!lev)
            return -1;
        s->admin_fd = -1;
        evconnlistener_set_error_cb(lev, on_accept_error);
        if (!evhttp_bind_listener(w->admin, lev))
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

/* ---- the admin listener (worker 0): health, readiness, metrics ---- */

static void admin_reply(struct evhttp_request *req, int status, const char *ctype, const char *body)
{
    struct evbuffer *b = evbuffer_new();
    evbuffer_add(b, body, strlen(body));
    evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", ctype);
    evhttp_add_header(evhttp_request_get_output_headers(req), "Cache-Control", "no-store");
    evhttp_send_reply(req, status,
                      status == 200   ? "OK"
                      : status == 503 ? "Service Unavailable"
                                      : "Not Found",
                      evhttp_request_get_command(req) == EVHTTP_REQ_HEAD ? NULL : b);
    evbuffer_free(b);
}

static void admin_handle(struct evhttp_request *req, void *arg)
{
    struct server *s = arg;
    const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
    const char *path = uri ? evhttp_uri_get_path(uri) : "";
    if (str_eq(path, "/healthz")) {
        admin_reply(req, 200, "application/json", "{\"status\":\"ok\"}");
    } else if (str_eq(path, "/readyz")) {
        bool draining = atomic_load(&s->shared.draining);
        bool ready = atomic_load(&s->ready) && !draining;
        admin_reply(req, ready ? 200 : 503, "application/json",
                    ready      ? "{\"status\":\"ready\"}"
                    : draining ? "{\"status\":\"draining\"}"
                               : "{\"status\":\"starting\"}");
    } else if (str_eq(path, "/metrics")) {
        struct metrics **shards = xcalloc((size_t)s->nworkers, sizeof *shards);
        long inflight = 0;
        for (int k = 0; k < s->nworkers; k++) {
            shards[k] = loop_metrics(s->workers[k].loop);
            inflight += loop_inflight(s->workers[k].loop);
        }
        struct metrics_gauges g = {
            .inflight = inflight,
            .connections = atomic_load(&s->shared.connections),
            .ready = atomic_load(&s->ready) && !atomic_load(&s->shared.draining),
            .version = CAPPROXY_VERSION,
        };
        struct strbuf out;
        strbuf_init(&out, 0);
        metrics_render(shards, (size_t)s->nworkers, &g, &out);
        free(shards);
        admin_reply(req, 200, "text/plain; version=0.0.4; charset=utf-8", out.data ? out.data : "");
        strbuf_deinit(&out);
    } else {
        admin_reply(req, 404, "application/json", "{\"status\":\"not found\"}");
    }
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
    if (loop_inflight(w->loop) == 0) {
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
    long ms = loop_config(w->loop)->drain_timeout_ms;
    struct timeval deadline = {ms / 1000, (ms % 1000) * 1000};
    event_base_loopexit(loop_base(w->loop), &deadline);
    worker_drain_tick(-1, EV_TIMEOUT, w);
}

int server_start(struct server *s, const struct config *cfg, struct runtime *rt,
                 server_reload_fn reload, void *reload_arg)
{
    memset(s, 0, sizeof *s);
    s->cfg = cfg;
    s->rt = rt;
    s->reload = reload;
    s->reload_arg = reload_arg;
    s->nworkers = cfg->workers > 0 ? cfg->workers : 1;
    atomic_init(&s->shared.connections, 0);
    size_t nfds = (size_t)s->nworkers * rt->nlisteners;
    s->nfds = nfds;
    s->admin_fd = -1;
    s->fds = xcalloc(nfds ? nfds : 1, sizeof *s->fds);
    for (size_t i = 0; i < nfds; i++)
        s->fds[i] = -1;
    for (size_t i = 0; i < rt->nlisteners; i++) {
        struct rt_listener *l = &rt->listeners[i];
        const char *what = l->type == MODEL_EXPOSE_REST ? "rest" : "mcp";
        const char *other = NULL, *other_host = NULL;
        int other_port = 0;
        for (size_t j = 0; j < i && !other; j++)
            if (same_address(l->host, l->port, rt->listeners[j].host, rt->listeners[j].port)) {
                other = rt->listeners[j].type == MODEL_EXPOSE_REST ? "rest" : "mcp";
                other_host = rt->listeners[j].host;
                other_port = rt->listeners[j].port;
            }
        const char *admin_host = cfg->admin_listen.host ? cfg->admin_listen.host : "127.0.0.1";
        if (!other && cfg->admin_listen.port >= 0 &&
            same_address(l->host, l->port, admin_host, cfg->admin_listen.port)) {
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
        l->port = addr_port(&a);
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
            LOG_E("cannot listen on %s:%d (admin): %s", host, addr_port(&a), strerror(errno));
            return -1;
        }
        LOG_I("admin listening on %s:%d (/healthz /readyz /metrics)", host, addr_port(&a));
    }
    unsigned char rnd[8] = {0};
    if (getrandom(rnd, sizeof rnd, 0) != (ssize_t)sizeof rnd)
        LOG_W("getrandom failed: request ids are less unique");
    for (size_t i = 0; i < sizeof rnd; i++)
        snprintf(s->shared.rid_prefix + 2 * i, 3, "%02x", rnd[i]);
    s->workers = xcalloc((size_t)s->nworkers, sizeof *s->workers);
    for (int k = 0; k < s->nworkers; k++)
        if (worker_init(&s->workers[k], s, k) < 0) {
            LOG_E("cannot set up worker %d", k);
            return -1;
        }
    for (size_t i = 0; i < rt->nlisteners; i++) {
        const struct rt_listener *l = &rt->listeners[i];
        if (l->type == MODEL_EXPOSE_REST) {
            LOG_I("rest listening on %s:%d (%zu routes)", l->host, l->port, l->nroutes);
        } else {
            size_t ntools = 0;
            for (size_t j = 0; j < l->nendpoints; j++)
                if (str_eq(l->endpoints[j].path, "/mcp"))
                    ntools = l->endpoints[j].ntools;
            LOG_I("mcp listening on %s:%d (%zu tools)", l->host, l->port, ntools);
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
    atomic_store(&s->ready, 1);
    LOG_I("ready, %d workers", s->nworkers);
    return 0;
}

/* Whether <rt> serves exactly the listeners running now; copies their actual ports (port 0). */
static bool listeners_match(struct server *s, struct runtime *rt)
{
    if (rt->nlisteners != s->rt->nlisteners)
        return false;
    for (size_t i = 0; i < s->rt->nlisteners; i++) {
        struct rt_listener *l = (struct rt_listener *)same_listener(rt, &s->rt->listeners[i]);
        if (!l)
            return false;
        l->port = s->rt->listeners[i].port;
    }
    return true;
}

static void server_reload(struct server *s)
{
    LOG_I("SIGHUP: reloading configuration and capabilities");
    struct runtime *rt = s->reload ? s->reload(s->reload_arg) : NULL;
    if (!rt) {
        LOG_E("reload failed; the previous configuration keeps serving");
        return;
    }
    if (!listeners_match(s, rt)) {
        LOG_E("reload changes the listen addresses or ports; restart to apply them. The previous "
              "configuration keeps serving");
        runtime_unref(rt);
        return;
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
    runtime_unref(old);
    size_t routes = 0;
    for (size_t i = 0; i < rt->nlisteners; i++)
        routes += rt->listeners[i].nroutes;
    LOG_I("reloaded: %zu documents, %zu routes", rt->model->ncaps, routes);
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
        if (sigwait(&set, &sig) != 0)
            continue;
        if (sig == SIGHUP) {
            server_reload(s);
            continue;
        }
        LOG_I("%s: draining (up to %ld ms), then exiting", sig == SIGTERM ? "SIGTERM" : "SIGINT",
              s->cfg->drain_timeout_ms);
        break;
    }
    server_stop(s);
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
    for (size_t i = 0; i < s->nfds; i++)
        if (s->fds[i] >= 0)
            close(s->fds[i]);
    free(s->fds);
    s->fds = NULL;
    if (s->admin_fd >= 0)
        close(s->admin_fd); /* not adopted by worker 0: server_start failed */
    s->admin_fd = -1;
}
