/* bench/ceiling/ceiling.c: the ceiling reference of bench/run.sh (issue 13).
 *
 * A MEASURING INSTRUMENT, not part of capproxy: it is not built by meson, not in src/, not
 * checked by the layer rules. It is the smallest evhttp + libcurl multi reverse proxy that does
 * capproxy's proxy job (GET /v1/<path> -> upstream <path>, one secret header injected), tuned
 * with every technique of issue 13, so that "what the core can do" is measured in the same run
 * as capproxy and nginx. If capproxy comes close to it, the remaining gap to nginx is the core's.
 *
 *   ceiling -l PORT -u http://127.0.0.1:8081 -H 'x-cal-secret-key: s' [-w N] [-c ca.pem]
 *
 * Techniques (see issue 13): one libevent loop per worker thread, SO_REUSEPORT listeners; the
 * epoll changelist; curl multi socket interface; pooled easy handles that are never reset, each
 * with its own pre-parsed CURLU where only path and query change; lazy removal of curl's sockets
 * (the event stays after CURL_POLL_REMOVE and goes when it fires unwanted, or when curl closes
 * the socket: CLOSESOCKETFUNCTION); NOSIGNAL; PROXY ""; HTTP/1.1 pinned (curl would pick h2 by
 * ALPN over TLS); CAINFO for a private CA. No limits, no logs, no metrics: it is a yardstick.
 *
 * Build (bench/run.sh does it): cc -O2 -std=c11 ceiling.c $(pkg-config --cflags --libs libevent
 * libcurl) -lpthread */
#define _GNU_SOURCE
#include <curl/curl.h>
#include <errno.h>
#include <event2/event.h>
#include <event2/event_struct.h>
#include <event2/http.h>
#include <event2/buffer.h>
#include <event2/keyvalq_struct.h>
#include <event2/listener.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#define PREFIX "/v1"
#define MAX_FD 65536

static const char *g_base;   /* upstream base URL, e.g. http://127.0.0.1:8081 */
static const char *g_headers[8]; /* -H "name: value": injected in every upstream request */
static int g_nheaders;
static const char *g_cafile; /* CAINFO, NULL: system bundle */
static int g_port;

/* One curl socket: the libevent event stays registered after CURL_POLL_REMOVE (want = 0), so a
 * reused connection usually needs no epoll_ctl at all. */
struct sock {
    struct event ev;
    short have; /* events registered now (0: not added) */
    short want; /* events curl asked for (0: removed) */
};

struct xfer {
    CURL *easy;
    CURLU *url;
    struct worker *w;
    struct evhttp_request *req;
    struct evbuffer *body;
    char ctype[128];
    struct xfer *next; /* free list */
};

struct worker {
    struct event_base *base;
    struct evhttp *http;
    CURLM *multi;
    struct event *timer;
    struct curl_slist *headers; /* the same list for every transfer */
    struct sock *socks[MAX_FD];
    struct xfer *free;
    int running;
};

static void on_sock(evutil_socket_t fd, short what, void *arg);

static void die(const char *what)
{
    fprintf(stderr, "ceiling: %s\n", what);
    exit(1);
}

static void sock_arm(struct worker *w, struct sock *s, curl_socket_t fd, short ev)
{
    if (s->have == ev)
        return;
    if (s->have)
        event_del(&s->ev);
    s->have = ev;
    if (!ev)
        return;
    event_assign(&s->ev, w->base, fd, ev | EV_PERSIST, on_sock, w);
    event_add(&s->ev, NULL);
}

static int socket_cb(CURL *e, curl_socket_t fd, int what, void *up, void *sp)
{
    struct worker *w = up;
    (void)e, (void)sp;
    if (fd < 0 || fd >= MAX_FD)
        return -1;
    struct sock *s = w->socks[fd];
    if (what == CURL_POLL_REMOVE) {
        if (s)
            s->want = 0; /* lazy: keep the event, see on_sock and close_cb */
        return 0;
    }
    if (!s) {
        s = calloc(1, sizeof *s);
        if (!s)
            return -1;
        w->socks[fd] = s;
    }
    s->want =
        (short)(((what & CURL_POLL_IN) ? EV_READ : 0) | ((what & CURL_POLL_OUT) ? EV_WRITE : 0));
    /* a read interest kept from before is fine for a wanted read: only widen or narrow when the
     * set differs */
    sock_arm(w, s, fd, s->want);
    return 0;
}

/* curl closes a socket: drop its event first, or a new socket with the same number would inherit
 * a stale registration and hang. */
static int close_cb(void *clientp, curl_socket_t fd)
{
    struct worker *w = clientp;
    if (fd >= 0 && fd < MAX_FD && w->socks[fd]) {
        sock_arm(w, w->socks[fd], fd, 0);
        free(w->socks[fd]);
        w->socks[fd] = NULL;
    }
    return close(fd);
}

static int timer_cb(CURLM *m, long ms, void *up)
{
    struct worker *w = up;
    (void)m;
    if (ms < 0) {
        evtimer_del(w->timer);
        return 0;
    }
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
    evtimer_add(w->timer, &tv);
    return 0;
}

static void reply(struct xfer *x, CURLcode rc)
{
    struct evhttp_request *req = x->req;
    long status = 0;
    if (rc == CURLE_OK)
        curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &status);
    if (rc != CURLE_OK || status < 100) {
        evbuffer_drain(x->body, evbuffer_get_length(x->body));
        evbuffer_add_printf(x->body, "{\"error\":\"%s\"}", curl_easy_strerror(rc));
        evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
                          "application/json");
        evhttp_send_reply(req, 502, "Bad Gateway", x->body);
    } else {
        if (x->ctype[0])
            evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", x->ctype);
        evhttp_send_reply(req, (int)status, NULL, x->body); /* moves the chains, no copy */
    }
    x->req = NULL;
    x->next = x->w->free;
    x->w->free = x;
}

static void drain_done(struct worker *w)
{
    CURLMsg *msg;
    int left;
    while ((msg = curl_multi_info_read(w->multi, &left))) {
        if (msg->msg != CURLMSG_DONE)
            continue;
        CURL *e = msg->easy_handle;
        CURLcode rc = msg->data.result;
        struct xfer *x;
        curl_easy_getinfo(e, CURLINFO_PRIVATE, (char **)&x);
        curl_multi_remove_handle(w->multi, e);
        reply(x, rc);
    }
}

static void on_sock(evutil_socket_t fd, short what, void *arg)
{
    struct worker *w = arg;
    struct sock *s = w->socks[fd];
    if (s && !(what & s->want)) { /* fired after CURL_POLL_REMOVE: now remove it */
        sock_arm(w, s, fd, s->want);
        return;
    }
    int act = ((what & EV_READ) ? CURL_CSELECT_IN : 0) | ((what & EV_WRITE) ? CURL_CSELECT_OUT : 0);
    curl_multi_socket_action(w->multi, fd, act, &w->running);
    drain_done(w);
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
    struct worker *w = arg;
    (void)fd, (void)what;
    curl_multi_socket_action(w->multi, CURL_SOCKET_TIMEOUT, 0, &w->running);
    drain_done(w);
}

static size_t on_body(char *p, size_t sz, size_t n, void *arg)
{
    struct xfer *x = arg;
    return evbuffer_add(x->body, p, sz * n) == 0 ? sz * n : 0;
}

static size_t on_header(char *p, size_t sz, size_t n, void *arg)
{
    struct xfer *x = arg;
    size_t len = sz * n;
    if (len > 5 && memcmp(p, "HTTP/", 5) == 0)
        x->ctype[0] = '\0'; /* a new response (after a 100): forget the last one's */
    else if (len > 13 && strncasecmp(p, "content-type:", 13) == 0) {
        const char *v = p + 13;
        size_t vl = len - 13;
        while (vl && (*v == ' ' || *v == '\t'))
            v++, vl--;
        while (vl && (v[vl - 1] == '\r' || v[vl - 1] == '\n' || v[vl - 1] == ' '))
            vl--;
        if (vl < sizeof x->ctype) {
            memcpy(x->ctype, v, vl);
            x->ctype[vl] = '\0';
        }
    }
    return len;
}

/* A new pooled transfer: every option that does not change per request is set here, once. */
static struct xfer *xfer_new(struct worker *w)
{
    struct xfer *x = calloc(1, sizeof *x);
    if (!x || !(x->easy = curl_easy_init()) || !(x->url = curl_url()) ||
        !(x->body = evbuffer_new()))
        die("out of memory");
    x->w = w;
    if (curl_url_set(x->url, CURLUPART_URL, g_base, 0) != CURLUE_OK)
        die("bad upstream URL");
    CURL *e = x->easy;
    curl_easy_setopt(e, CURLOPT_CURLU, x->url);
    curl_easy_setopt(e, CURLOPT_PRIVATE, x);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_PROXY, "");
    curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
    curl_easy_setopt(e, CURLOPT_TCP_NODELAY, 1L);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, 30000L);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, w->headers);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, x);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, x);
    curl_easy_setopt(e, CURLOPT_CLOSESOCKETFUNCTION, close_cb);
    curl_easy_setopt(e, CURLOPT_CLOSESOCKETDATA, w);
    if (g_cafile)
        curl_easy_setopt(e, CURLOPT_CAINFO, g_cafile);
    return x;
}

static void on_request(struct evhttp_request *req, void *arg)
{
    struct worker *w = arg;
    const char *uri = evhttp_request_get_uri(req);
    if (evhttp_request_get_command(req) != EVHTTP_REQ_GET || strncmp(uri, PREFIX "/", 4) != 0) {
        evhttp_send_error(req, 404, NULL);
        return;
    }
    struct xfer *x = w->free;
    if (x)
        w->free = x->next;
    else
        x = xfer_new(w);
    /* only path and query change: curl rebuilds nothing else (CURLU instead of a URL string) */
    const char *path = uri + sizeof PREFIX - 1, *q = strchr(path, '?');
    char buf[2048];
    size_t plen = q ? (size_t)(q - path) : strlen(path);
    if (plen >= sizeof buf) {
        x->next = w->free, w->free = x;
        evhttp_send_error(req, 414, NULL);
        return;
    }
    memcpy(buf, path, plen);
    buf[plen] = '\0';
    curl_url_set(x->url, CURLUPART_PATH, buf, 0);
    curl_url_set(x->url, CURLUPART_QUERY, q ? q + 1 : NULL, 0);
    x->req = req;
    x->ctype[0] = '\0';
    if (curl_multi_add_handle(w->multi, x->easy) != CURLM_OK) {
        x->req = NULL;
        x->next = w->free, w->free = x;
        evhttp_send_error(req, 500, NULL);
    }
}

static void *worker_run(void *arg)
{
    struct worker *w = arg;
    event_base_dispatch(w->base);
    return NULL;
}

static struct worker *worker_new(void)
{
    struct worker *w = calloc(1, sizeof *w);
    struct event_config *cfg = event_config_new();
    if (!w || !cfg)
        die("out of memory");
    event_config_set_flag(cfg, EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST);
    event_config_set_flag(cfg, EVENT_BASE_FLAG_NOLOCK);
    if (!(w->base = event_base_new_with_config(cfg)))
        die("event_base_new");
    event_config_free(cfg);

    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((unsigned short)g_port)};
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    struct evconnlistener *l = evconnlistener_new_bind(
        w->base, NULL, NULL,
        LEV_OPT_REUSEABLE | LEV_OPT_REUSEABLE_PORT | LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC,
        4096, (struct sockaddr *)&sin, sizeof sin);
    if (!l)
        die("cannot listen (port in use?)");
    int one = 1; /* inherited by accepted sockets */
    setsockopt(evconnlistener_get_fd(l), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    w->http = evhttp_new(w->base);
    if (!w->http || !evhttp_bind_listener(w->http, l))
        die("evhttp");
    evhttp_set_allowed_methods(w->http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD);
    evhttp_set_gencb(w->http, on_request, w);

    w->multi = curl_multi_init();
    w->timer = evtimer_new(w->base, on_timer, w);
    if (!w->multi || !w->timer)
        die("curl_multi_init");
    curl_multi_setopt(w->multi, CURLMOPT_SOCKETFUNCTION, socket_cb);
    curl_multi_setopt(w->multi, CURLMOPT_SOCKETDATA, w);
    curl_multi_setopt(w->multi, CURLMOPT_TIMERFUNCTION, timer_cb);
    curl_multi_setopt(w->multi, CURLMOPT_TIMERDATA, w);
    curl_multi_setopt(w->multi, CURLMOPT_MAXCONNECTS, 1024L); /* no MAX_HOST_CONNECTIONS: costly */
    for (int i = 0; i < g_nheaders; i++)
        w->headers = curl_slist_append(w->headers, g_headers[i]);
    return w;
}

int main(int argc, char **argv)
{
    const char *env = getenv("BENCH_WORKERS");
    int nworkers = env ? atoi(env) : 1, opt;
    while ((opt = getopt(argc, argv, "l:u:H:w:c:")) != -1) {
        switch (opt) {
        case 'l':
            g_port = atoi(optarg);
            break;
        case 'u':
            g_base = optarg;
            break;
        case 'H': /* repeatable: the secret, and any header a comparison needs to send too */
            if (g_nheaders == (int)(sizeof g_headers / sizeof *g_headers))
                goto usage;
            g_headers[g_nheaders++] = optarg;
            break;
        case 'w':
            nworkers = atoi(optarg);
            break;
        case 'c':
            g_cafile = optarg;
            break;
        default:
            goto usage;
        }
    }
    if (g_port <= 0 || !g_base || !g_nheaders || nworkers < 1 || nworkers > 256)
        goto usage;
    signal(SIGPIPE, SIG_IGN);
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        die("curl_global_init");
    struct worker **ws = calloc((size_t)nworkers, sizeof *ws);
    if (!ws)
        die("out of memory");
    for (int i = 0; i < nworkers; i++) /* all listeners bound before the first accept */
        ws[i] = worker_new();
    for (int i = 1; i < nworkers; i++) {
        pthread_t t;
        if (pthread_create(&t, NULL, worker_run, ws[i]) != 0)
            die("pthread_create");
    }
    fprintf(stderr, "ceiling listening on 127.0.0.1:%d, %d worker(s), upstream %s\n", g_port,
            nworkers, g_base);
    worker_run(ws[0]);
    return 0;
usage:
    fprintf(stderr,
            "usage: %s -l PORT -u UPSTREAM_BASE_URL -H 'name: value' [-w WORKERS] "
            "[-c CA_FILE]\n",
            argv[0]);
    return 2;
}
