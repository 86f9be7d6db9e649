/*
 * listen: the listening sockets of the process. The main thread claims each address with a
 * probe socket before any worker runs, so a bind error is reported before anything starts and a
 * port 0 request resolves to one real port that every worker then joins (SO_REUSEPORT).
 */
#ifndef CAPPROXY_LISTEN_H
#define CAPPROXY_LISTEN_H

#include <stdbool.h>
#include <sys/socket.h>

#include <event2/listener.h>

/* A resolved listen address; the port is the actual one once a probe has bound it. */
struct listen_addr {
    struct sockaddr_storage ss;
    socklen_t len;
};

/* The port of <a>, in host order. */
int listen_addr_port(const struct listen_addr *a);

/* Claim <host>:<port> for this process: resolve it and bind a probe socket *without*
 * SO_REUSEPORT to the first address that takes it. On Linux that bind fails with EADDRINUSE
 * while anyone listens there, including another process's SO_REUSEPORT sockets (which the
 * workers' own sockets would silently join: the kernel would then split connections between
 * two processes holding different secrets). Once our workers listen, a later process's probe
 * fails the same way. Port 0 gets its real port here, once, and the workers join it. Two
 * processes of the same user that probe within the same instant (before either listens) can
 * still both pass: the check guards against a second start, not against that race. Returns
 * the bound, not listening, probe socket with <*out> set, or -1 (logged). */
int listen_probe(const char *what, const char *host, int port, struct listen_addr *out);

/* Whether two of our own listeners would claim the same address: the probe would then blame
 * "another process" for what is a configuration mistake. */
bool listen_same_address(const char *h1, int p1, const char *h2, int p2);

/* One worker's SO_REUSEPORT listening socket on the address a probe has claimed. */
int listen_worker_socket(const char *what, const char *host, const struct listen_addr *a);

/* EMFILE and friends: without this callback libevent 2.1 spins on the readable listener. */
void listen_on_accept_error(struct evconnlistener *lev, void *arg);

#endif
