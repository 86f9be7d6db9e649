/*
 * upstream: the HTTP client to consumed APIs, libcurl's multi interface driven by one libevent
 * loop (CURLMOPT_SOCKETFUNCTION / TIMERFUNCTION, curl_multi_socket_action). One per worker
 * thread: its connection cache, DNS cache and TLS session cache serve every exchange of that
 * loop, so upstream connections are reused. Nothing here blocks the loop. The rules followed:
 * curl says which sockets to watch and when to wake it, and the loop answers with
 * curl_multi_socket_action; curl is never called again from inside one of its own callbacks
 * (finished transfers are collected after each action, and user callbacks run there); a
 * cancelled transfer leaves the multi handle at once and its callback never runs.
 */
#ifndef CAPPROXY_UPSTREAM_H
#define CAPPROXY_UPSTREAM_H

#include "core/outreq.h"
#include <stdbool.h>
#include <stddef.h>

#include <event2/event.h>

struct evbuffer;

struct upstream_opts {
    long connect_timeout_ms; /* CURLOPT_CONNECTTIMEOUT_MS */
    long timeout_ms;         /* CURLOPT_TIMEOUT_MS: the whole transfer */
    long max_connects;       /* CURLMOPT_MAXCONNECTS: idle cache size */
    long max_idle_ms;        /* CURLOPT_MAXAGE_CONN, in ms (rounded up to seconds) */
    size_t
        max_response_bytes; /* a larger upstream body fails the transfer (UPSTREAM_ERR_TOO_BIG) */
    int verify_tls;         /* 1: verify peer and host (default); 0 only for tests on loopback */
    /* CURLOPT_CAINFO (NULL: the system's bundle); borrowed from the config, which outlives the
     * upstream */
    const char *ca_file;
};

/* Fill <o> with the defaults, which are the configuration's (config_defaults): connect 3 s,
 * total 30 s, 256 idle, 30 s idle, 16 MiB responses, TLS verified. */
void upstream_opts_defaults(struct upstream_opts *o);
struct config;
/* The defaults overridden by <cfg>'s upstream settings. Upstream concurrency is bounded per
 * consumed API by http/resil.h, not here: curl's CURLMOPT_MAX_HOST_CONNECTIONS queue cost 30-70 %
 * more CPU (issue 13), so curl's per-host count stays unlimited. <nloops> is unused. */
void upstream_opts_from_config(struct upstream_opts *o, const struct config *cfg, int nloops);

enum upstream_error {
    UPSTREAM_OK = 0,
    UPSTREAM_ERR_REFUSED, /* connection refused / could not connect / could not resolve */
    UPSTREAM_ERR_RESET,   /* connection reset, empty reply, send/recv failure */
    UPSTREAM_ERR_TIMEOUT, /* connect or total time-out */
    UPSTREAM_ERR_TOO_BIG, /* the response exceeded max_response_bytes */
    UPSTREAM_ERR_TLS,     /* certificate or handshake failure */
    UPSTREAM_ERR_OTHER
};
const char *upstream_error_name(enum upstream_error e); /* "refused", "reset", "timeout", ... */

/* One response header, hop-by-hop and framing headers already removed (Connection, Keep-Alive,
 * Proxy-*, TE, Trailer, Transfer-Encoding, Upgrade, Content-Length). */
struct upstream_header {
    char *name;
    char *value;
};

/* The outcome of a transfer, valid only during the done callback (the callback may take the
 * body with evbuffer_add_buffer: it is a plain evbuffer owned by the transfer). */
struct upstream_result {
    enum upstream_error error;
    const char *error_detail; /* curl's message for errors (never contains request headers) */
    long status;              /* HTTP status when error == UPSTREAM_OK */
    const char *content_type; /* NULL when the upstream sent none */
    struct upstream_header *headers;
    size_t nheaders;
    struct evbuffer *body;
    double total_ms; /* time from start to done */
    /* Any byte of a response arrived (a status line at least): the upstream started to answer,
     * so the request is not retried (http/resil.c), whatever the error. */
    bool answered;
    /* Set when capproxy answered itself without reaching the upstream (http/resil.c):
     * "circuit_open", "queue_full" or "queue_timeout", for the access log; NULL otherwise. */
    const char *refused;
    /* The address the transfer went to (the access log's upstream_addr): NULL and 0 when no
     * connection was made. */
    const char *primary_ip;
    long primary_port;
};

struct upstream;
struct upstream_xfer;

typedef void (*upstream_done_fn)(const struct upstream_result *res, void *arg);

/* Create the client on <base>. Call from the loop's thread. NULL on failure. */
struct upstream *upstream_new(struct event_base *base, const struct upstream_opts *opts);
/* Cancel every live transfer (their callbacks are not called) and clean up. Call before
 * event_base_free: curl calls back into the loop while closing cached connections. */
void upstream_free(struct upstream *u);

/* Start a transfer; <done> is called exactly once from the loop, later (never from inside this
 * call), unless upstream_cancel is called first. NULL if the request could not be set up. */
/* <req> is borrowed and must stay valid until the done callback or cancel (its body in
 * particular is not copied). A header name or value holding CR or LF refuses the request. */
struct upstream_xfer *upstream_start(struct upstream *u, const struct outreq *req,
                                     upstream_done_fn done, void *arg);
/* Abort a transfer that has not completed; its done callback will not be called. Safe from any
 * libevent callback and from within the done callback of another transfer. */
void upstream_cancel(struct upstream_xfer *x);

/* Number of transfers started and not yet done or cancelled. */
size_t upstream_inflight(const struct upstream *u);
/* Number of new upstream connections curl has opened since creation (reuse checks). */
long upstream_connects(const struct upstream *u);

#endif
