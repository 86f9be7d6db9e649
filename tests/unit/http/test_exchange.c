/*
 * In-process tests of the exchange and its connections on real loopback sockets, one event loop
 * (struct loop) serving an evhttp listener the way a worker does (conn_accept as the bevcb):
 *  - a client that hangs up while its upstream transfer is pending cancels that transfer (the
 *    upstream sees its connection closed), and the exchange and the connection are freed;
 *  - over limits.maxConnections a connection's request is answered 503 with Connection: close,
 *    and its slot is given back, so a later connection is served again.
 * The clients and the silent upstream are plain non-blocking sockets of this thread; the loop
 * runs in short slices between their steps.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <curl/curl.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/listener.h>

#include "base/diag.h"
#include "core/runtime.h"
#include "harness.h"
#include "http/conn.h"
#include "http/exchange.h"
#include "http/loop.h"
#include "spec/config.h"
#include "spec/model.h"

static struct loop *lp;
static int upstream_port;
static int upstream_done_calls;

/* Run the loop for about <ms> milliseconds. */
static void run_for(int ms)
{
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
    event_base_loopexit(loop_base(lp), &tv);
    event_base_dispatch(loop_base(lp));
}

static void on_upstream(const struct upstream_result *res, void *arg)
{
    (void)res;
    upstream_done_calls++;
    exchange_reply_text(arg, 200, "text/plain", "upstream answered");
}

/* /slow goes to the upstream that never answers; anything else is answered at once. */
static void handle(struct evhttp_request *req, void *arg)
{
    struct exchange *x = exchange_begin(arg, req, "test");
    if (!x)
        return;
    if (strcmp(evhttp_request_get_uri(req), "/slow") == 0) {
        struct outreq *o = exchange_out(x);
        o->method = MODEL_GET;
        strbuf_addf(&o->url, "http://127.0.0.1:%d/never", upstream_port);
        if (exchange_forward(x, on_upstream) < 0)
            exchange_reply_text(x, 502, "text/plain", "not started");
        return;
    }
    exchange_reply_text(x, 200, "text/plain", "ok");
}

static int listen_loopback(int *port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) < 0 || listen(fd, 16) < 0 ||
        getsockname(fd, (struct sockaddr *)&a, &len) < 0)
        return -1;
    *port = ntohs(a.sin_port);
    return fd;
}

static int client(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) < 0)
        return -1;
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    return fd;
}

static void send_str(int fd, const char *s)
{
    CHECK(send(fd, s, strlen(s), MSG_NOSIGNAL) == (ssize_t)strlen(s));
}

/* What <fd> has received so far (the loop runs in between); "" when nothing. */
static void receive(int fd, char *buf, size_t cap, bool *eof)
{
    size_t n = strlen(buf);
    for (int i = 0; i < 50 && !*eof; i++) {
        ssize_t r = recv(fd, buf + n, cap - 1 - n, MSG_DONTWAIT);
        if (r > 0) {
            n += (size_t)r;
            buf[n] = '\0';
        } else if (r == 0) {
            *eof = true;
        } else {
            if (n > 0 && strstr(buf, "\r\n\r\n"))
                break;
            run_for(10);
        }
    }
}

static void test_client_abort_cancels_upstream(int front_port, int up_fd)
{
    int c = client(front_port);
    CHECK(c >= 0);
    send_str(c, "GET /slow HTTP/1.1\r\nHost: a\r\n\r\n");
    /* Longer than the watch delay: the EV_CLOSED watcher is armed. */
    int up = -1;
    for (int i = 0; i < 50 && up < 0; i++) {
        run_for(10);
        up = accept(up_fd, NULL, NULL);
    }
    CHECK(up >= 0);
    run_for(60);
    CHECK(loop_inflight(lp) == 1);
    close(c);
    bool closed = false;
    char buf[4096];
    for (int i = 0; i < 100 && !closed; i++) {
        run_for(10);
        ssize_t r;
        while ((r = recv(up, buf, sizeof buf, MSG_DONTWAIT)) > 0)
            ;
        closed = r == 0 || (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK);
    }
    CHECK(closed); /* curl dropped the upstream connection: the transfer was cancelled */
    CHECK(upstream_done_calls == 0);
    CHECK(loop_inflight(lp) == 0);
    if (up >= 0)
        close(up);
}

static void test_connection_limit(int front_port, struct loop_shared *sh)
{
    int c1 = client(front_port);
    run_for(20);
    CHECK(atomic_load(&sh->connections) == 1);
    int c2 = client(front_port);
    send_str(c2, "GET / HTTP/1.1\r\nHost: a\r\n\r\n");
    char buf[4096] = "";
    bool eof = false;
    receive(c2, buf, sizeof buf, &eof);
    CHECK(strncmp(buf, "HTTP/1.1 503 ", 13) == 0);
    CHECK(strstr(buf, "Connection: close") != NULL);
    CHECK(strstr(buf, "too many client connections") != NULL);
    for (int i = 0; i < 50 && !eof; i++)
        receive(c2, buf, sizeof buf, &eof);
    CHECK(eof); /* evhttp closed it after the answer */
    close(c2);
    run_for(20);
    CHECK(atomic_load(&sh->connections) == 1); /* the refused connection's slot is free */

    close(c1);
    for (int i = 0; i < 20 && atomic_load(&sh->connections) > 0; i++)
        run_for(10);
    CHECK(atomic_load(&sh->connections) == 0);
    int c3 = client(front_port);
    send_str(c3, "GET / HTTP/1.1\r\nHost: a\r\n\r\n");
    char ok[4096] = "";
    eof = false;
    receive(c3, ok, sizeof ok, &eof);
    CHECK(strncmp(ok, "HTTP/1.1 200 ", 13) == 0);
    close(c3);
    for (int i = 0; i < 20 && atomic_load(&sh->connections) > 0; i++)
        run_for(10);
    CHECK(atomic_load(&sh->connections) == 0);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    struct config cfg;
    config_defaults(&cfg);
    cfg.max_connections = 1;
    struct diag d;
    diag_init(&d);
    struct runtime *rt = runtime_build(model_new(), &cfg, &d);
    CHECK(rt != NULL);
    diag_deinit(&d);
    if (!rt)
        return harness_report();

    struct loop_shared sh = {.rid_prefix = "test"};
    lp = loop_new(0, &sh, rt, 1, LOOP_EARLY_CLOSE);
    CHECK(lp != NULL);
    int up_fd = listen_loopback(&upstream_port);
    int front_port = 0;
    int front_fd = listen_loopback(&front_port);
    CHECK(up_fd >= 0 && front_fd >= 0);

    struct evhttp *http = evhttp_new(loop_base(lp));
    evhttp_set_bevcb(http, conn_accept, lp);
    evhttp_set_gencb(http, handle, lp);
    struct evconnlistener *lev =
        evconnlistener_new(loop_base(lp), NULL, NULL, LEV_OPT_CLOSE_ON_FREE, -1, front_fd);
    CHECK(evhttp_bind_listener(http, lev) != NULL);

    RUN(test_client_abort_cancels_upstream(front_port, up_fd));
    RUN(test_connection_limit(front_port, &sh));

    evhttp_free(http); /* closes connections: before the loop (upstream, connection table) */
    loop_free(lp);
    close(up_fd);
    runtime_unref(rt);
    config_deinit(&cfg);
    curl_global_cleanup();
    return harness_report();
}
