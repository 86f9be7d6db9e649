/*
 * listen: see listen.h.
 */
#include "app/listen.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "base/log.h"
#include "base/util.h"

int listen_addr_port(const struct listen_addr *a)
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

int listen_probe(const char *what, const char *host, int port, struct listen_addr *out)
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

bool listen_same_address(const char *h1, int p1, const char *h2, int p2)
{
    return p1 == p2 && p1 != 0 && (wildcard_host(h1) || wildcard_host(h2) || str_eq(h1, h2));
}

int listen_worker_socket(const char *what, const char *host, const struct listen_addr *a)
{
    int fd = new_socket(a, true);
    if (fd >= 0 && bind(fd, (const struct sockaddr *)&a->ss, a->len) == 0 &&
        listen(fd, SOMAXCONN) == 0)
        return fd;
    LOG_E("cannot listen on %s:%d (%s): %s", host, listen_addr_port(a), what, strerror(errno));
    if (fd >= 0)
        close(fd);
    return -1;
}

void listen_on_accept_error(struct evconnlistener *lev, void *arg)
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
