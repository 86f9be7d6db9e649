/*
 * test_upstream: the curl multi client against an in-process evhttp server (and a tiny raw TCP
 * server for responses evhttp cannot produce), all on one event_base, on 127.0.0.1 ports chosen
 * by the kernel.
 */
#include "harness.h"

#include "http/upstream.h"
#include "spec/config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/listener.h>

static struct event_base *base;
static struct evhttp *http;
static int http_port;
static int raw_port;
static const char *raw_response;

/* ---- test server --------------------------------------------------------------------------- */

struct hang {
    struct event *ev;
    struct evhttp_connection *evcon;
    struct hang *next;
};

static struct {
    int hang_seen;   /* /hang requests received */
    int hang_closed; /* /hang connections the client closed */
    struct hang *hangs;
    void *seen[512]; /* connections that have answered a request */
    int nseen;
    int drops; /* /drop-reused: reused connections shut down without an answer */
} srv;

static bool conn_seen(void *evcon)
{
    for (int i = 0; i < srv.nseen; i++)
        if (srv.seen[i] == evcon)
            return true;
    return false;
}

static void reply(struct evhttp_request *req, int code, const char *body, size_t len)
{
    struct evhttp_connection *evcon = evhttp_request_get_connection(req);
    if (!conn_seen(evcon) && srv.nseen < (int)(sizeof srv.seen / sizeof srv.seen[0]))
        srv.seen[srv.nseen++] = evcon;
    struct evbuffer *b = evbuffer_new();
    /* evhttp writes body bytes even for HEAD: never give it any. */
    if (evhttp_request_get_command(req) != EVHTTP_REQ_HEAD && len)
        evbuffer_add(b, body, len);
    evhttp_send_reply(req, code, NULL, b);
    evbuffer_free(b);
}

static const char *method_name(enum evhttp_cmd_type c)
{
    switch (c) {
    case EVHTTP_REQ_GET:
        return "GET";
    case EVHTTP_REQ_POST:
        return "POST";
    case EVHTTP_REQ_HEAD:
        return "HEAD";
    case EVHTTP_REQ_PUT:
        return "PUT";
    case EVHTTP_REQ_DELETE:
        return "DELETE";
    case EVHTTP_REQ_OPTIONS:
        return "OPTIONS";
    case EVHTTP_REQ_PATCH:
        return "PATCH";
    default:
        return "?";
    }
}

static void on_hang_closed(evutil_socket_t fd, short what, void *arg)
{
    struct hang *h = arg, **pp;
    (void)fd;
    (void)what;
    srv.hang_closed++;
    for (pp = &srv.hangs; *pp != h; pp = &(*pp)->next)
        ;
    *pp = h->next;
    event_free(h->ev);
    evhttp_connection_free(h->evcon); /* also frees the pending request */
    free(h);
}

static void handle_hang(struct evhttp_request *req)
{
    /* Never answer. evhttp stops reading while a reply is pending, so watch for the client's
     * close with EV_CLOSED, as the proxy does (doc section 8). */
    struct hang *h = calloc(1, sizeof *h);
    h->evcon = evhttp_request_get_connection(req);
    evutil_socket_t fd = bufferevent_getfd(evhttp_connection_get_bufferevent(h->evcon));
    h->ev = event_new(base, fd, EV_CLOSED, on_hang_closed, h);
    event_add(h->ev, NULL);
    h->next = srv.hangs;
    srv.hangs = h;
    srv.hang_seen++;
}

static void handle_echo(struct evhttp_request *req)
{
    struct evkeyvalq *in = evhttp_request_get_input_headers(req);
    struct evkeyvalq *out = evhttp_request_get_output_headers(req);
    struct evbuffer *body = evhttp_request_get_input_buffer(req);
    const char *v;
    char len[32];

    evhttp_add_header(out, "X-Method", method_name(evhttp_request_get_command(req)));
    evhttp_add_header(out, "X-Got-CT", (v = evhttp_find_header(in, "Content-Type")) ? v : "-");
    evhttp_add_header(out, "X-Got-CL", (v = evhttp_find_header(in, "Content-Length")) ? v : "-");
    evhttp_add_header(out, "X-Got-Expect", (v = evhttp_find_header(in, "Expect")) ? v : "-");
    evhttp_add_header(out, "X-Got-Req", (v = evhttp_find_header(in, "X-Req")) ? v : "-");
    evhttp_add_header(out, "X-Got-URI", evhttp_request_get_uri(req));
    snprintf(len, sizeof len, "%zu", evbuffer_get_length(body));
    evhttp_add_header(out, "X-Got-Len", len);
    size_t n = evbuffer_get_length(body);
    if (n > 4096)
        n = 4096;
    char *copy = malloc(n + 1);
    evbuffer_copyout(body, copy, n);
    reply(req, 200, copy, n);
    free(copy);
}

static void handle_hello(struct evhttp_request *req)
{
    struct evkeyvalq *out = evhttp_request_get_output_headers(req);
    evhttp_add_header(out, "Content-Type", "text/plain");
    evhttp_add_header(out, "X-Custom", "yes");
    evhttp_add_header(out, "Keep-Alive", "timeout=5");
    evhttp_add_header(out, "Proxy-Authenticate", "Basic");
    evhttp_add_header(out, "Connection", "X-Hop");
    evhttp_add_header(out, "X-Hop", "secret");
    evhttp_add_header(out, "Trailer", "X-T");
    evhttp_add_header(out, "Upgrade", "foo/1");
    evhttp_add_header(out, "Location", "/elsewhere");
    evhttp_add_header(out, "X-RateLimit-Remaining", "42");
    evhttp_add_header(out, "Set-Cookie", "a=1");
    evhttp_add_header(out, "Set-Cookie", "b=2");
    reply(req, 200, "hello world", 11);
}

static void handle_many_headers(struct evhttp_request *req)
{
    struct evkeyvalq *out = evhttp_request_get_output_headers(req);
    for (int i = 0; i < 150; i++) {
        char name[32];
        snprintf(name, sizeof name, "X-H-%d", i);
        evhttp_add_header(out, name, "v");
    }
    reply(req, 200, "x", 1);
}

static void handle_big(struct evhttp_request *req, size_t n)
{
    char *b = malloc(n);
    memset(b, 'x', n);
    reply(req, 200, b, n);
    free(b);
}

static void handle_drop_reused(struct evhttp_request *req)
{
    struct evhttp_connection *evcon = evhttp_request_get_connection(req);
    if (conn_seen(evcon)) {
        /* The dead-cached-connection case: the request is read, then the connection dies
         * without a byte of answer. The pending request is freed by evhttp_free. */
        shutdown(bufferevent_getfd(evhttp_connection_get_bufferevent(evcon)), SHUT_RDWR);
        srv.drops++;
        return;
    }
    reply(req, 200, "fresh", 5);
}

static void on_delay(evutil_socket_t fd, short what, void *arg)
{
    struct evhttp_request *req = arg;
    (void)fd;
    (void)what;
    reply(req, 200, "late", 4);
}

static void on_request(struct evhttp_request *req, void *arg)
{
    const char *path = evhttp_uri_get_path(evhttp_request_get_evhttp_uri(req));
    (void)arg;
    if (strcmp(path, "/hello") == 0) {
        handle_hello(req);
    } else if (strcmp(path, "/echo") == 0) {
        handle_echo(req);
    } else if (strncmp(path, "/status/", 8) == 0) {
        reply(req, atoi(path + 8), "s", 1);
    } else if (strcmp(path, "/redirect") == 0) {
        evhttp_add_header(evhttp_request_get_output_headers(req), "Location", "/hello");
        reply(req, 301, "moved", 5);
    } else if (strncmp(path, "/big/", 5) == 0) {
        handle_big(req, (size_t)atol(path + 5));
    } else if (strcmp(path, "/many-headers") == 0) {
        handle_many_headers(req);
    } else if (strcmp(path, "/hang") == 0) {
        handle_hang(req);
    } else if (strcmp(path, "/drop-reused") == 0) {
        handle_drop_reused(req);
    } else if (strcmp(path, "/delay") == 0) {
        struct timeval tv = {0, 50 * 1000};
        event_base_once(base, -1, EV_TIMEOUT, on_delay, req, &tv);
    } else {
        reply(req, 404, "no", 2);
    }
}

/* A raw HTTP server: reads one request head, writes raw_response, closes. */
static void raw_on_write(struct bufferevent *bev, void *arg)
{
    (void)arg;
    bufferevent_free(bev);
}

static void raw_on_read(struct bufferevent *bev, void *arg)
{
    struct evbuffer *in = bufferevent_get_input(bev);
    (void)arg;
    if (evbuffer_search(in, "\r\n\r\n", 4, NULL).pos < 0)
        return;
    if (!*raw_response) {
        bufferevent_free(bev); /* close without a byte */
        return;
    }
    bufferevent_setcb(bev, NULL, raw_on_write, NULL, NULL);
    bufferevent_write(bev, raw_response, strlen(raw_response));
}

static void raw_on_event(struct bufferevent *bev, short what, void *arg)
{
    (void)what;
    (void)arg;
    bufferevent_free(bev);
}

static void raw_on_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
                          int salen, void *arg)
{
    (void)l;
    (void)sa;
    (void)salen;
    (void)arg;
    struct bufferevent *bev = bufferevent_socket_new(base, fd, BEV_OPT_CLOSE_ON_FREE);
    bufferevent_setcb(bev, raw_on_read, NULL, raw_on_event, NULL);
    bufferevent_enable(bev, EV_READ);
}

static int local_port(evutil_socket_t fd)
{
    struct sockaddr_in sin;
    socklen_t len = sizeof sin;
    memset(&sin, 0, sizeof sin);
    if (getsockname(fd, (struct sockaddr *)&sin, &len) != 0)
        return 0;
    return ntohs(sin.sin_port);
}

/* A port nothing listens on: bind, read the port, close. */
static int unused_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int port = 0;
    if (bind(fd, (struct sockaddr *)&sin, sizeof sin) == 0)
        port = local_port(fd);
    close(fd);
    return port;
}

/* ---- client helpers ------------------------------------------------------------------------ */

struct got {
    int calls;
    enum upstream_error err;
    long status;
    char detail[CURL_ERROR_SIZE];
    char ctype[128];
    bool has_ctype;
    char body[8192];
    size_t body_len;
    char headers[16384]; /* "name: value\n" lines */
    size_t nheaders;
    double total_ms;
};

static void on_done(const struct upstream_result *r, void *arg)
{
    struct got *g = arg;
    g->calls++;
    g->err = r->error;
    g->status = r->status;
    snprintf(g->detail, sizeof g->detail, "%s", r->error_detail ? r->error_detail : "");
    g->has_ctype = r->content_type != NULL;
    snprintf(g->ctype, sizeof g->ctype, "%s", r->content_type ? r->content_type : "");
    g->nheaders = r->nheaders;
    g->headers[0] = '\0';
    for (size_t i = 0; i < r->nheaders; i++) {
        size_t l = strlen(g->headers);
        snprintf(g->headers + l, sizeof g->headers - l, "%s: %s\n", r->headers[i].name,
                 r->headers[i].value);
    }
    /* Take the body the way the exchange does, moving the chains. */
    struct evbuffer *mine = evbuffer_new();
    evbuffer_add_buffer(mine, r->body);
    g->body_len = evbuffer_get_length(mine);
    size_t n = g->body_len < sizeof g->body - 1 ? g->body_len : sizeof g->body - 1;
    evbuffer_remove(mine, g->body, n);
    g->body[n] = '\0';
    evbuffer_free(mine);
    g->total_ms = r->total_ms;
}

/* The value of the first header <name> (case-insensitive), or NULL. */
static const char *hdr(const struct got *g, const char *name)
{
    static char val[1024];
    size_t nl = strlen(name);
    for (const char *p = g->headers; *p;) {
        const char *eol = strchr(p, '\n');
        if (strncasecmp(p, name, nl) == 0 && p[nl] == ':') {
            size_t vl = (size_t)(eol - (p + nl + 2));
            memcpy(val, p + nl + 2, vl);
            val[vl] = '\0';
            return val;
        }
        p = eol + 1;
    }
    return NULL;
}

static int hdr_count(const struct got *g, const char *name)
{
    int n = 0;
    size_t nl = strlen(name);
    for (const char *p = g->headers; *p; p = strchr(p, '\n') + 1)
        if (strncasecmp(p, name, nl) == 0 && p[nl] == ':')
            n++;
    return n;
}

static const char *url_at(int port, const char *path)
{
    static char bufs[8][256];
    static int next;
    char *b = bufs[next++ % 8];
    snprintf(b, sizeof bufs[0], "http://127.0.0.1:%d%s", port, path);
    return b;
}

static const char *url(const char *path)
{
    return url_at(http_port, path);
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* Run the loop until *<v> >= <target> or <ms> have passed; true if reached. A persistent tick
 * timer (set up in main) makes each EVLOOP_ONCE return at least every 20 ms. */
static bool run_until(const int *v, int target, int ms)
{
    double end = now_ms() + ms;
    while (*v < target && now_ms() < end)
        event_base_loop(base, EVLOOP_ONCE);
    return *v >= target;
}

static void run_for(int ms)
{
    static const int never = 0;
    run_until(&never, 1, ms);
}

/* The request as these tests write it: a method name (exactly as model_method_name spells it;
 * anything else becomes a method the client does not know), a URL, "Name: value" / "Name;"
 * header lines and a borrowed body. Free it with req_free (the body stays the caller's). curl
 * copies the URL, and the client renders its own header lines, so only the body must outlive
 * the transfer. */
static void req_make(struct outreq *o, const char *method, const char *u_rl,
                     const char *const *headers, size_t nheaders, const char *body, size_t body_len)
{
    outreq_init(o, 0);
    o->method = MODEL_METHOD_COUNT;
    for (int m = 0; method && m < MODEL_METHOD_COUNT; m++)
        if (strcmp(method, model_method_name((enum model_method)m)) == 0)
            o->method = (enum model_method)m;
    if (u_rl)
        strbuf_adds(&o->url, u_rl);
    for (size_t i = 0; i < nheaders; i++) {
        const char *h = headers[i], *colon = strchr(h, ':');
        size_t hl = strlen(h);
        char *name = xstrndup(h, colon ? (size_t)(colon - h) : hl - 1); /* "Name;" */
        const char *v = colon ? colon + 1 : "";
        while (*v == ' ')
            v++;
        outreq_add_header(o, name, v, strlen(v));
        free(name);
    }
    o->body = (char *)body;
    o->body_len = body_len;
}

static void req_free(struct outreq *o)
{
    o->body = NULL; /* borrowed */
    outreq_deinit(o);
}

static struct upstream_xfer *start(struct upstream *u, const char *method, const char *u_rl,
                                   const char *const *headers, size_t nheaders, const char *body,
                                   size_t body_len, struct got *g)
{
    struct outreq req;
    req_make(&req, method, u_rl, headers, nheaders, body, body_len);
    memset(g, 0, sizeof *g);
    struct upstream_xfer *x = upstream_start(u, &req, on_done, g);
    req_free(&req);
    return x;
}

/* Start one request and wait for it. */
static void fetch(struct upstream *u, const char *method, const char *u_rl,
                  const char *const *headers, size_t nheaders, const char *body, size_t body_len,
                  struct got *g)
{
    if (!start(u, method, u_rl, headers, nheaders, body, body_len, g)) {
        g->calls = -1;
        return;
    }
    run_until(&g->calls, 1, 5000);
}

static struct upstream *new_upstream(long timeout_ms, size_t max_bytes)
{
    struct upstream_opts o;
    upstream_opts_defaults(&o);
    if (timeout_ms)
        o.timeout_ms = timeout_ms;
    if (max_bytes)
        o.max_response_bytes = max_bytes;
    return upstream_new(base, &o);
}

/* ---- tests --------------------------------------------------------------------------------- */

static void test_error_names(void)
{
    CHECK_STR(upstream_error_name(UPSTREAM_OK), "ok");
    CHECK_STR(upstream_error_name(UPSTREAM_ERR_REFUSED), "refused");
    CHECK_STR(upstream_error_name(UPSTREAM_ERR_RESET), "reset");
    CHECK_STR(upstream_error_name(UPSTREAM_ERR_TIMEOUT), "timeout");
    CHECK_STR(upstream_error_name(UPSTREAM_ERR_TOO_BIG), "too_big");
    CHECK_STR(upstream_error_name(UPSTREAM_ERR_TLS), "tls");
    CHECK_STR(upstream_error_name(UPSTREAM_ERR_OTHER), "other");
}

static void test_get(struct upstream *u)
{
    struct got g;
    const char *h[] = {"X-Req: abc"};
    CHECK(start(u, "GET", url("/hello"), h, 1, NULL, 0, &g) != NULL);
    CHECK(g.calls == 0); /* never synchronous */
    CHECK(upstream_inflight(u) == 1);
    CHECK(run_until(&g.calls, 1, 5000));
    CHECK(upstream_inflight(u) == 0);
    CHECK(g.err == UPSTREAM_OK);
    CHECK(g.status == 200);
    CHECK_STR(g.body, "hello world");
    CHECK(g.body_len == 11);
    CHECK(g.has_ctype);
    CHECK_STR(g.ctype, "text/plain");
    CHECK_STR(hdr(&g, "X-Custom"), "yes");
    CHECK_STR(hdr(&g, "Location"), "/elsewhere");
    CHECK_STR(hdr(&g, "X-RateLimit-Remaining"), "42");
    CHECK(hdr_count(&g, "Set-Cookie") == 2);
    CHECK(hdr(&g, "Content-Length") == NULL);
    CHECK(hdr(&g, "Connection") == NULL);
    CHECK(hdr(&g, "Keep-Alive") == NULL);
    CHECK(hdr(&g, "Proxy-Authenticate") == NULL);
    CHECK(hdr(&g, "Trailer") == NULL);
    CHECK(hdr(&g, "Upgrade") == NULL);
    CHECK(hdr(&g, "X-Hop") == NULL); /* named by Connection: hop-by-hop too */
    CHECK(g.detail[0] == '\0');
    CHECK(g.total_ms >= 0 && g.total_ms < 5000);

    fetch(u, "HEAD", url("/hello"), NULL, 0, NULL, 0, &g);
    CHECK(g.err == UPSTREAM_OK);
    CHECK(g.status == 200);
    CHECK(g.body_len == 0);
    CHECK(g.total_ms < 3000); /* NOBODY: no wait for a body that never comes */
}

static void test_bodies(struct upstream *u)
{
    struct got g;
    static const char json[] = "{\"a\":1}";
    const char *h_ct[] = {"Content-Type: application/json; charset=utf-8", "X-Req: r1"};

    fetch(u, "POST", url("/echo"), h_ct, 2, json, strlen(json), &g);
    CHECK(g.err == UPSTREAM_OK && g.status == 200);
    CHECK_STR(hdr(&g, "X-Method"), "POST");
    CHECK_STR(hdr(&g, "X-Got-CT"), "application/json; charset=utf-8");
    CHECK_STR(hdr(&g, "X-Got-CL"), "7");
    CHECK_STR(hdr(&g, "X-Got-Expect"), "-");
    CHECK_STR(hdr(&g, "X-Got-Req"), "r1");
    CHECK_STR(g.body, json);

    /* A body without a Content-Type: application/json, not curl's form type. */
    fetch(u, "POST", url("/echo"), NULL, 0, json, strlen(json), &g);
    CHECK_STR(hdr(&g, "X-Got-CT"), "application/json");
    CHECK_STR(g.body, json);

    /* POST without a body: Content-Length 0 and no Content-Type at all. */
    fetch(u, "POST", url("/echo"), NULL, 0, NULL, 0, &g);
    CHECK(g.err == UPSTREAM_OK && g.status == 200);
    CHECK_STR(hdr(&g, "X-Method"), "POST");
    CHECK_STR(hdr(&g, "X-Got-CT"), "-");
    CHECK_STR(hdr(&g, "X-Got-CL"), "0");
    CHECK_STR(hdr(&g, "X-Got-Len"), "0");

    /* Binary body with an embedded NUL arrives byte for byte. */
    static const char bin[] = {'a', '\0', 'b', '\n', 'c'};
    const char *h_bin[] = {"Content-Type: application/octet-stream"};
    fetch(u, "PUT", url("/echo"), h_bin, 1, bin, sizeof bin, &g);
    CHECK_STR(hdr(&g, "X-Method"), "PUT");
    CHECK_STR(hdr(&g, "X-Got-CT"), "application/octet-stream");
    CHECK_STR(hdr(&g, "X-Got-Len"), "5");
    CHECK(g.body_len == 5 && memcmp(g.body, bin, 5) == 0);

    fetch(u, "PATCH", url("/echo"), NULL, 0, "{\"b\":2}", 7, &g);
    CHECK(g.err == UPSTREAM_OK && g.status == 200);
    CHECK_STR(hdr(&g, "X-Method"), "PATCH");
    CHECK_STR(hdr(&g, "X-Got-CT"), "application/json");
    CHECK_STR(g.body, "{\"b\":2}");

    fetch(u, "DELETE", url("/echo"), NULL, 0, NULL, 0, &g);
    CHECK(g.err == UPSTREAM_OK && g.status == 200);
    CHECK_STR(hdr(&g, "X-Method"), "DELETE");
    CHECK_STR(hdr(&g, "X-Got-CT"), "-");
    CHECK_STR(hdr(&g, "X-Got-CL"), "-");

    fetch(u, "OPTIONS", url("/echo"), NULL, 0, NULL, 0, &g);
    CHECK_STR(hdr(&g, "X-Method"), "OPTIONS");

    fetch(u, "GET", url("/echo"), NULL, 0, NULL, 0, &g);
    CHECK_STR(hdr(&g, "X-Method"), "GET");
    CHECK_STR(hdr(&g, "X-Got-CT"), "-");
    CHECK_STR(hdr(&g, "X-Got-CL"), "-");

    /* Over 1 MiB curl would add Expect: 100-continue and stall; "Expect:" suppresses it. */
    size_t big = 1536 * 1024;
    char *data = malloc(big);
    memset(data, 'z', big);
    fetch(u, "POST", url("/echo"), NULL, 0, data, big, &g);
    CHECK(g.err == UPSTREAM_OK && g.status == 200);
    CHECK_STR(hdr(&g, "X-Got-Expect"), "-");
    CHECK_STR(hdr(&g, "X-Got-Len"), "1572864");
    free(data);
}

static void test_statuses(struct upstream *u)
{
    struct got g;
    static const int codes[] = {201, 404, 498, 503};
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++) {
        char path[32];
        snprintf(path, sizeof path, "/status/%d", codes[i]);
        fetch(u, "GET", url(path), NULL, 0, NULL, 0, &g);
        CHECK(g.err == UPSTREAM_OK);
        CHECK(g.status == codes[i]);
        CHECK_STR(g.body, "s");
    }
    fetch(u, "GET", url("/redirect"), NULL, 0, NULL, 0, &g);
    CHECK(g.err == UPSTREAM_OK);
    CHECK(g.status == 301);
    CHECK_STR(hdr(&g, "Location"), "/hello");
    CHECK_STR(g.body, "moved");
}

static void test_raw_responses(struct upstream *u)
{
    struct got g;
    /* An interim 103 with its own headers, an obs-folded header, a Connection-named header,
     * chunked framing and a trailer. */
    raw_response = "HTTP/1.1 103 Early Hints\r\n"
                   "Link: </style.css>; rel=preload\r\n"
                   "\r\n"
                   "HTTP/1.1 200 OK\r\n"
                   "Content-Type: text/plain\r\n"
                   "X-Folded: first\r\n"
                   "   second\r\n"
                   "Connection: close, X-Hop\r\n"
                   "X-Hop: 1\r\n"
                   "Transfer-Encoding: chunked\r\n"
                   "Trailer: X-Tr\r\n"
                   "X-Last:   spaced   \r\n"
                   "\r\n"
                   "2\r\nok\r\n0\r\nX-Tr: t\r\n\r\n";
    fetch(u, "GET", url_at(raw_port, "/raw"), NULL, 0, NULL, 0, &g);
    CHECK(g.err == UPSTREAM_OK);
    CHECK(g.status == 200);
    CHECK_STR(g.body, "ok");
    CHECK(hdr(&g, "Link") == NULL);
    CHECK_STR(hdr(&g, "X-Folded"), "first second");
    CHECK_STR(hdr(&g, "X-Last"), "spaced");
    CHECK(hdr(&g, "X-Hop") == NULL);
    CHECK(hdr(&g, "X-Tr") == NULL);
    CHECK(hdr(&g, "Transfer-Encoding") == NULL);
    CHECK(hdr(&g, "Trailer") == NULL);
    CHECK(g.nheaders == 3);
    CHECK_STR(g.ctype, "text/plain");

    /* No Content-Type from the upstream. */
    raw_response = "HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n";
    fetch(u, "DELETE", url_at(raw_port, "/raw"), NULL, 0, NULL, 0, &g);
    CHECK(g.err == UPSTREAM_OK && g.status == 204);
    CHECK(!g.has_ctype);
    CHECK(g.nheaders == 0);

    /* A closed connection in the middle of the body. */
    raw_response = "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort";
    fetch(u, "POST", url_at(raw_port, "/raw"), NULL, 0, NULL, 0, &g);
    CHECK(g.err == UPSTREAM_ERR_RESET);
    CHECK(g.detail[0] != '\0');

    /* Nothing at all. */
    raw_response = "";
    fetch(u, "POST", url_at(raw_port, "/raw"), NULL, 0, NULL, 0, &g);
    CHECK(g.err == UPSTREAM_ERR_RESET);
}

static void test_reuse(void)
{
    struct upstream *u = new_upstream(0, 0);
    struct got g;
    int ok = 0;
    for (int i = 0; i < 50; i++) {
        fetch(u, "GET", url("/hello"), NULL, 0, NULL, 0, &g);
        ok += g.err == UPSTREAM_OK && g.status == 200;
    }
    CHECK(ok == 50);
    CHECK(upstream_connects(u) == 1);
    printf("sequential: 50 requests, %ld connection(s)\n", upstream_connects(u));
    upstream_free(u);
}

struct many {
    int done;
    int ok;
};

static void on_many(const struct upstream_result *r, void *arg)
{
    struct many *m = arg;
    m->done++;
    m->ok += r->error == UPSTREAM_OK && r->status == 200 && evbuffer_get_length(r->body) == 11;
}

static void test_concurrent(int n)
{
    struct upstream *u = new_upstream(0, 0);
    struct many m = {0, 0};
    struct outreq req;
    req_make(&req, "GET", url("/hello"), NULL, 0, NULL, 0);
    int started = 0;
    for (int i = 0; i < n; i++)
        started += upstream_start(u, &req, on_many, &m) != NULL;
    CHECK(started == n);
    CHECK(upstream_inflight(u) == (size_t)n);
    CHECK(run_until(&m.done, n, 10000));
    CHECK(m.ok == n);
    CHECK(upstream_inflight(u) == 0);
    long c1 = upstream_connects(u);
    /* A second burst finds the connections cached. */
    m.done = m.ok = 0;
    for (int i = 0; i < n; i++)
        upstream_start(u, &req, on_many, &m);
    req_free(&req);
    CHECK(run_until(&m.done, n, 10000));
    CHECK(m.ok == n);
    printf("concurrent: %d requests: %ld connections; second burst +%ld\n", n, c1,
           upstream_connects(u) - c1);
    upstream_free(u);
}

static void test_refused(struct upstream *u)
{
    struct got g;
    fetch(u, "GET", url_at(unused_port(), "/x"), NULL, 0, NULL, 0, &g);
    CHECK(g.calls == 1);
    CHECK(g.err == UPSTREAM_ERR_REFUSED);
    CHECK(g.detail[0] != '\0');
    printf("refused detail: %s\n", g.detail);

    /* A malformed URL fails in the done callback, not in upstream_start. */
    fetch(u, "GET", "http://[::1", NULL, 0, NULL, 0, &g);
    CHECK(g.calls == 1);
    CHECK(g.err == UPSTREAM_ERR_OTHER);
    /* Only http and https. */
    fetch(u, "GET", "file:///etc/passwd", NULL, 0, NULL, 0, &g);
    CHECK(g.calls == 1);
    CHECK(g.err == UPSTREAM_ERR_OTHER);
    CHECK(g.body_len == 0);
}

static void test_invalid(struct upstream *u)
{
    struct got g;
    const char *bad[] = {"X-A: ok", "X-B: evil\r\nHost: other"};
    CHECK(start(u, "TRACE", url("/hello"), NULL, 0, NULL, 0, &g) == NULL);
    CHECK(start(u, "get", url("/hello"), NULL, 0, NULL, 0, &g) == NULL);
    CHECK(start(u, NULL, url("/hello"), NULL, 0, NULL, 0, &g) == NULL);
    CHECK(start(u, "GET", NULL, NULL, 0, NULL, 0, &g) == NULL);
    CHECK(start(u, "GET", url("/hello"), bad, 2, NULL, 0, &g) == NULL);
    CHECK(upstream_inflight(u) == 0);
    run_for(50);
    CHECK(g.calls == 0);
    /* The pooled transfer that failed setup works for the next request. */
    fetch(u, "GET", url("/hello"), NULL, 0, NULL, 0, &g);
    CHECK(g.err == UPSTREAM_OK && g.status == 200);
}

static void test_timeout(void)
{
    struct upstream *u = new_upstream(300, 0);
    struct got g;
    int closed = srv.hang_closed;
    fetch(u, "GET", url("/hang"), NULL, 0, NULL, 0, &g);
    CHECK(g.calls == 1);
    CHECK(g.err == UPSTREAM_ERR_TIMEOUT);
    CHECK(g.total_ms >= 290 && g.total_ms < 1500);
    printf("timeout after %.0f ms: %s\n", g.total_ms, g.detail);
    CHECK(run_until(&srv.hang_closed, closed + 1, 2000));
    upstream_free(u);
}

static void test_cancel(struct upstream *u)
{
    struct got g;
    int seen = srv.hang_seen, closed = srv.hang_closed;
    struct upstream_xfer *x = start(u, "GET", url("/hang"), NULL, 0, NULL, 0, &g);
    CHECK(x != NULL);
    CHECK(run_until(&srv.hang_seen, seen + 1, 2000));
    upstream_cancel(x);
    CHECK(upstream_inflight(u) == 0);
    CHECK(run_until(&srv.hang_closed, closed + 1, 2000)); /* the server sees the close */
    run_for(100);
    CHECK(g.calls == 0);

    /* Cancel before the loop even ran: nothing reaches the server, no callback. */
    seen = srv.hang_seen;
    x = start(u, "GET", url("/hang"), NULL, 0, NULL, 0, &g);
    upstream_cancel(x);
    run_for(100);
    CHECK(g.calls == 0);
    CHECK(srv.hang_seen == seen);

    /* The client still works (pooled handle reset). */
    fetch(u, "GET", url("/hello"), NULL, 0, NULL, 0, &g);
    CHECK(g.err == UPSTREAM_OK && g.status == 200);
}

struct pair {
    struct got a;
    struct got b;
    struct upstream_xfer *victim;
    struct upstream_xfer *self;
};

static void on_done_cancel_other(const struct upstream_result *r, void *arg)
{
    struct pair *p = arg;
    on_done(r, &p->a);
    upstream_cancel(p->victim); /* another transfer, from inside a done callback */
    upstream_cancel(p->self);   /* its own: a no-op */
}

static void test_cancel_from_done(struct upstream *u)
{
    struct pair p;
    memset(&p, 0, sizeof p);
    int seen = srv.hang_seen, closed = srv.hang_closed;
    struct outreq hang, hello;
    req_make(&hang, "GET", url("/hang"), NULL, 0, NULL, 0);
    p.victim = upstream_start(u, &hang, on_done, &p.b);
    req_free(&hang);
    CHECK(run_until(&srv.hang_seen, seen + 1, 2000));
    req_make(&hello, "GET", url("/hello"), NULL, 0, NULL, 0);
    p.self = upstream_start(u, &hello, on_done_cancel_other, &p);
    req_free(&hello);
    CHECK(run_until(&p.a.calls, 1, 2000));
    CHECK(p.a.err == UPSTREAM_OK && p.a.status == 200);
    CHECK(upstream_inflight(u) == 0);
    CHECK(run_until(&srv.hang_closed, closed + 1, 2000));
    run_for(50);
    CHECK(p.b.calls == 0);
}

static void test_too_big(void)
{
    struct upstream *u = new_upstream(0, 1000);
    struct got g;
    fetch(u, "GET", url("/big/1000"), NULL, 0, NULL, 0, &g);
    CHECK(g.err == UPSTREAM_OK && g.body_len == 1000); /* exactly the cap is fine */
    fetch(u, "GET", url("/big/5000"), NULL, 0, NULL, 0, &g);
    CHECK(g.err == UPSTREAM_ERR_TOO_BIG);
    CHECK(g.detail[0] != '\0');
    fetch(u, "GET", url("/many-headers"), NULL, 0, NULL, 0, &g);
    CHECK(g.err == UPSTREAM_ERR_TOO_BIG);
    /* And the client recovers. */
    fetch(u, "GET", url("/hello"), NULL, 0, NULL, 0, &g);
    CHECK(g.err == UPSTREAM_OK && g.status == 200);
    upstream_free(u);
}

static void test_free_in_flight(void)
{
    struct upstream *u = new_upstream(0, 0);
    struct got g[4];
    int seen = srv.hang_seen, closed = srv.hang_closed;
    for (int i = 0; i < 3; i++)
        start(u, "GET", url("/hang"), NULL, 0, NULL, 0, &g[i]);
    CHECK(run_until(&srv.hang_seen, seen + 3, 2000));
    /* One more that has not even connected yet, and an idle cached connection. */
    start(u, "POST", url("/echo"), NULL, 0, "{}", 2, &g[3]);
    CHECK(upstream_inflight(u) == 4);
    upstream_free(u);
    CHECK(run_until(&srv.hang_closed, closed + 3, 2000));
    run_for(50);
    CHECK(g[0].calls + g[1].calls + g[2].calls + g[3].calls == 0);
}

static void test_retry(void)
{
    struct got g;
    struct upstream *u = new_upstream(0, 0);

    /* One cached connection that dies when reused. */
    srv.nseen = 0;
    srv.drops = 0;
    fetch(u, "GET", url("/hello"), NULL, 0, NULL, 0, &g);
    CHECK(upstream_connects(u) == 1);
    fetch(u, "GET", url("/drop-reused"), NULL, 0, NULL, 0, &g);
    CHECK(g.err == UPSTREAM_OK && g.status == 200);
    CHECK_STR(g.body, "fresh");
    printf("retry, 1 dead cached connection: drops %d, connects %ld, %s\n", srv.drops,
           upstream_connects(u), upstream_error_name(g.err));

    /* Eight cached connections that all die when reused: curl 7.88.1 retries on other cached
     * ones and gives up after 5 (curl#10646); the module's own retry uses a fresh connection. */
    struct got d[8];
    for (int i = 0; i < 8; i++)
        start(u, "GET", url("/delay"), NULL, 0, NULL, 0, &d[i]);
    for (int i = 0; i < 8; i++)
        run_until(&d[i].calls, 1, 3000);
    long before = upstream_connects(u);
    srv.drops = 0;
    fetch(u, "GET", url("/drop-reused"), NULL, 0, NULL, 0, &g);
    CHECK(g.err == UPSTREAM_OK && g.status == 200);
    CHECK(upstream_connects(u) - before == 1);
    printf("retry, 8 dead cached connections, GET: drops %d, new connects %ld, %s %s\n", srv.drops,
           upstream_connects(u) - before, upstream_error_name(g.err), g.detail);

    /* Not for POST: the error is reported. */
    for (int i = 0; i < 8; i++)
        start(u, "GET", url("/delay"), NULL, 0, NULL, 0, &d[i]);
    for (int i = 0; i < 8; i++)
        run_until(&d[i].calls, 1, 3000);
    before = upstream_connects(u);
    srv.drops = 0;
    fetch(u, "POST", url("/drop-reused"), NULL, 0, "{}", 2, &g);
    printf("retry, 8 dead cached connections, POST: drops %d, new connects %ld, %s %s\n", srv.drops,
           upstream_connects(u) - before, upstream_error_name(g.err), g.detail);
    if (curl_version_info(CURLVERSION_NOW)->version_num == 0x075801) {
        /* 7.88.1 gives up after 5 retries on dead cached connections; POST is not retried. */
        CHECK(g.err == UPSTREAM_ERR_RESET);
        CHECK(srv.drops == 6);
    }
    upstream_free(u);
}

/* Pooled easy handles are not reset between requests (upstream.c, xfer_put): whatever one
 * request set must not leak into the next on the same handle (one transfer at a time here, so
 * every request below runs on the same handle and connection). */
static void test_handle_reuse(void)
{
    struct upstream *u = new_upstream(0, 0);
    struct got g;
    static const char json[] = "{\"a\":1}";
    const char *h_req[] = {"X-Req: r1"};

    fetch(u, "POST", url("/echo?a=1"), h_req, 1, json, strlen(json), &g);
    CHECK_STR(hdr(&g, "X-Method"), "POST");
    CHECK_STR(hdr(&g, "X-Got-Len"), "7");
    CHECK_STR(hdr(&g, "X-Got-URI"), "/echo?a=1");
    /* After a POST: a GET with no body, no Content-Length, no query, no X-Req. */
    fetch(u, "GET", url("/echo"), NULL, 0, NULL, 0, &g);
    CHECK_STR(hdr(&g, "X-Method"), "GET");
    CHECK_STR(hdr(&g, "X-Got-CL"), "-");
    CHECK_STR(hdr(&g, "X-Got-CT"), "-");
    CHECK_STR(hdr(&g, "X-Got-Req"), "-");
    CHECK_STR(hdr(&g, "X-Got-URI"), "/echo");
    fetch(u, "HEAD", url("/echo"), NULL, 0, NULL, 0, &g);
    CHECK(g.err == UPSTREAM_OK && g.status == 200);
    CHECK_STR(hdr(&g, "X-Method"), "HEAD");
    /* After a HEAD: a GET gets its body again (NOBODY cleared). */
    fetch(u, "GET", url("/hello"), NULL, 0, NULL, 0, &g);
    CHECK(g.err == UPSTREAM_OK && g.status == 200 && g.body_len > 0);
    fetch(u, "DELETE", url("/echo"), NULL, 0, NULL, 0, &g);
    CHECK_STR(hdr(&g, "X-Method"), "DELETE");
    CHECK_STR(hdr(&g, "X-Got-CL"), "-");
    /* After a custom verb: GET again, not DELETE. */
    fetch(u, "GET", url("/echo"), NULL, 0, NULL, 0, &g);
    CHECK_STR(hdr(&g, "X-Method"), "GET");
    fetch(u, "PUT", url("/echo"), NULL, 0, NULL, 0, &g);
    CHECK_STR(hdr(&g, "X-Method"), "PUT");
    CHECK_STR(hdr(&g, "X-Got-CL"), "0");
    fetch(u, "OPTIONS", url("/echo"), NULL, 0, NULL, 0, &g);
    CHECK_STR(hdr(&g, "X-Method"), "OPTIONS");
    CHECK_STR(hdr(&g, "X-Got-CL"), "-");
    fetch(u, "GET", url("/echo"), NULL, 0, json, strlen(json), &g);
    CHECK_STR(hdr(&g, "X-Method"), "GET");
    CHECK_STR(hdr(&g, "X-Got-Len"), "7");
    fetch(u, "POST", url("/echo"), NULL, 0, NULL, 0, &g);
    CHECK_STR(hdr(&g, "X-Method"), "POST");
    CHECK_STR(hdr(&g, "X-Got-CL"), "0");
    fetch(u, "GET", url("/echo"), NULL, 0, NULL, 0, &g);
    CHECK_STR(hdr(&g, "X-Method"), "GET");
    CHECK_STR(hdr(&g, "X-Got-CL"), "-");

    /* The URL: only path and query change on the pre-parsed handle; percent-encodings reach
     * the upstream as sent (curl would lower-case them in a part), a dot segment is resolved as
     * curl resolves it in a full URL. */
    fetch(u, "GET", url("/echo?x=%2Fy&b=%C3%A9"), NULL, 0, NULL, 0, &g);
    CHECK_STR(hdr(&g, "X-Got-URI"), "/echo?x=%2Fy&b=%C3%A9");
    fetch(u, "GET", url("/echo?k=v"), NULL, 0, NULL, 0, &g);
    CHECK_STR(hdr(&g, "X-Got-URI"), "/echo?k=v");
    fetch(u, "GET", url("/x/../echo"), NULL, 0, NULL, 0, &g);
    CHECK_STR(hdr(&g, "X-Got-URI"), "/echo");
    fetch(u, "GET", url("/status/204"), NULL, 0, NULL, 0, &g);
    CHECK(g.status == 204);
    /* Another origin on the same handle: scheme, host and port parsed again. */
    fetch(u, "GET", url_at(unused_port(), "/echo"), NULL, 0, NULL, 0, &g);
    CHECK(g.err == UPSTREAM_ERR_REFUSED);
    fetch(u, "GET", url("/echo?z=1"), NULL, 0, NULL, 0, &g);
    CHECK(g.err == UPSTREAM_OK);
    CHECK_STR(hdr(&g, "X-Got-URI"), "/echo?z=1");
    /* A URL curl refuses, then a good one on the same handle. */
    fetch(u, "GET", "http://[::1", NULL, 0, NULL, 0, &g);
    CHECK(g.err == UPSTREAM_ERR_OTHER);
    fetch(u, "GET", url("/echo"), NULL, 0, NULL, 0, &g);
    CHECK(g.err == UPSTREAM_OK);
    CHECK_STR(hdr(&g, "X-Got-URI"), "/echo");
    printf("handle reuse: %ld connection(s)\n", upstream_connects(u));
    upstream_free(u);
}

/* A transfer started while another waits on curl's timer (its 400 ms timeout): the start runs
 * curl's timeout at the end of the loop pass (upstream.c timer_cb), dropping the pending timer;
 * curl must have re-armed it after, or the hanging transfer would never time out. */
static void test_start_keeps_pending_timeout(void)
{
    struct upstream *u = new_upstream(400, 0);
    struct got hang, hello;
    int seen = srv.hang_seen;
    CHECK(start(u, "GET", url("/hang"), NULL, 0, NULL, 0, &hang) != NULL);
    CHECK(run_until(&srv.hang_seen, seen + 1, 2000));
    fetch(u, "GET", url("/hello"), NULL, 0, NULL, 0, &hello);
    CHECK(hello.calls == 1 && hello.err == UPSTREAM_OK && hello.status == 200);
    CHECK(hang.calls == 0);
    CHECK(run_until(&hang.calls, 1, 3000));
    CHECK(hang.err == UPSTREAM_ERR_TIMEOUT);
    CHECK(hang.total_ms >= 390 && hang.total_ms < 2500);
    upstream_free(u);
}

/* Each done callback starts the next transfer: the start comes from inside the curl timer's
 * own callback (or a socket event's), which activates that timer again; every link of the
 * chain must complete, none waiting for an unrelated wake-up. */
struct chain {
    struct upstream *u;
    int left;
    int ok;
};

static void on_chain(const struct upstream_result *r, void *arg)
{
    struct chain *c = arg;
    c->ok += r->error == UPSTREAM_OK && r->status == 200;
    if (--c->left > 0) {
        struct outreq req;
        req_make(&req, "GET", url("/hello"), NULL, 0, NULL, 0);
        if (!upstream_start(c->u, &req, on_chain, c))
            c->left = 0;
        req_free(&req);
    }
}

static void test_start_from_done(void)
{
    struct upstream *u = new_upstream(0, 0);
    struct chain c = {u, 50, 0};
    struct outreq req;
    req_make(&req, "GET", url("/hello"), NULL, 0, NULL, 0);
    CHECK(upstream_start(u, &req, on_chain, &c) != NULL);
    req_free(&req);
    double t0 = now_ms();
    while (c.left > 0 && now_ms() < t0 + 5000)
        event_base_loop(base, EVLOOP_ONCE);
    CHECK(c.left == 0 && c.ok == 50);
    CHECK(upstream_inflight(u) == 0);
    /* Started, then freed before the loop ran the activated timer: nothing left behind. */
    struct got g;
    CHECK(start(u, "GET", url("/hello"), NULL, 0, NULL, 0, &g) != NULL);
    upstream_free(u);
    run_for(50);
    CHECK(g.calls == 0);
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    (void)arg;
}

/* The configuration's upstream settings. */
static void test_opts_from_config(void)
{
    struct config cfg;
    config_defaults(&cfg);
    cfg.upstream_connect_timeout_ms = 1234;
    cfg.upstream_timeout_ms = 5678;
    cfg.upstream_max_idle_connections = 7;
    cfg.upstream_idle_timeout_ms = 999;
    cfg.upstream_max_response_size = 4096;
    cfg.upstream_tls_verify = 0;
    struct upstream_opts o;
    upstream_opts_from_config(&o, &cfg, 1);
    CHECK(o.connect_timeout_ms == 1234 && o.timeout_ms == 5678);
    CHECK(o.max_connects == 7 && o.max_idle_ms == 999 && o.max_response_bytes == 4096);
    CHECK(o.verify_tls == 0);
    config_deinit(&cfg);
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    base = event_base_new();

    http = evhttp_new(base);
    evhttp_set_allowed_methods(http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD |
                                         EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE | EVHTTP_REQ_PATCH |
                                         EVHTTP_REQ_OPTIONS);
    evhttp_set_gencb(http, on_request, NULL);
    struct evhttp_bound_socket *bs = evhttp_bind_socket_with_handle(http, "127.0.0.1", 0);
    http_port = local_port(evhttp_bound_socket_get_fd(bs));

    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    struct evconnlistener *raw = evconnlistener_new_bind(base, raw_on_accept, NULL,
                                                         LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE,
                                                         -1, (struct sockaddr *)&sin, sizeof sin);
    raw_port = local_port(evconnlistener_get_fd(raw));

    struct event *tick = event_new(base, -1, EV_PERSIST, on_tick, NULL);
    struct timeval tv = {0, 20 * 1000};
    event_add(tick, &tv);

    struct upstream_opts o;
    upstream_opts_defaults(&o);
    CHECK(o.connect_timeout_ms == 3000 && o.timeout_ms == 30000);
    CHECK(o.max_connects == 256 && o.max_idle_ms == 30000);
    CHECK(o.max_response_bytes == 16u * 1024 * 1024 && o.verify_tls == 1);
    RUN(test_opts_from_config());

    struct upstream *u = upstream_new(base, &o);
    CHECK(u != NULL);

    RUN(test_error_names());
    RUN(test_get(u));
    RUN(test_bodies(u));
    RUN(test_statuses(u));
    RUN(test_raw_responses(u));
    RUN(test_invalid(u));
    RUN(test_reuse());
    RUN(test_concurrent(100));
    RUN(test_refused(u));
    RUN(test_timeout());
    RUN(test_cancel(u));
    RUN(test_cancel_from_done(u));
    RUN(test_too_big());
    RUN(test_free_in_flight());
    RUN(test_retry());
    RUN(test_handle_reuse());
    RUN(test_start_keeps_pending_timeout());
    RUN(test_start_from_done());

    upstream_free(u);
    upstream_free(NULL);

    while (srv.hangs) {
        struct hang *h = srv.hangs;
        srv.hangs = h->next;
        event_free(h->ev);
        free(h);
    }
    event_free(tick);
    evconnlistener_free(raw);
    evhttp_free(http);
    event_base_free(base);
    curl_global_cleanup();
    return harness_report();
}
