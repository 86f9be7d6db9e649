/*
 * server: the process. N worker threads, each with its own event loop, its own listeners on
 * SO_REUSEPORT sockets (the kernel spreads connections), its own upstream client (curl multi)
 * and nothing shared but the read-only runtime. The main thread handles signals.
 */
#ifndef CAPPROXY_SERVER_H
#define CAPPROXY_SERVER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <time.h>
#include <stddef.h>

#include <event2/event.h>
#include <event2/http.h>

#include "spec/config.h"
#include "core/runtime.h"
#include "app/admin.h"
#include "http/loop.h"

struct worker; /* one thread and its loop (server.c) */

/* Load the configuration and documents again; returns a runtime owning its configuration, or
 * NULL after logging why (the current one then keeps serving). */
typedef struct runtime *(*server_reload_fn)(void *arg);

struct server {
    const struct config *cfg; /* the current runtime's */
    struct runtime *rt;       /* the current runtime; the server holds one reference */
    server_reload_fn reload;
    void *reload_arg;
    size_t nfds;
    struct worker *workers;
    int nworkers;
    int *fds; /* listening sockets: nworkers x rt->nlisteners */
    int admin_fd;
    atomic_int ready;          /* listening and not draining */
    struct loop_shared shared; /* connection count, draining, request-id prefix */
    int *bound_port;           /* per listener of <rt>: the port bound (port 0 resolved) */
    struct loop **loops;       /* every worker's loop, for the admin endpoints */
    struct admin_view admin;
    /* A reload runs on the main thread (SIGHUP) or on a worker (the control adapter's POST
     * /config/reload): one at a time. */
    pthread_mutex_t reload_lock;
    bool reload_lock_init;
    struct timespec started;        /* monotonic, for the control adapter's uptime */
    _Atomic(const char *) stop_why; /* server_request_stop's reason, for server_run's log */
    struct watch *watch; /* reload.watch: file changes reload (app/watch.h); NULL when off */
};

/* The outcome of a reload. */
enum server_reload_result {
    SERVER_RELOADED,
    SERVER_RELOAD_FAILED,   /* the configuration or a document does not load (logged) */
    SERVER_RELOAD_LISTENERS /* the listen addresses or ports change: restart to apply */
};

/* Bind every listener of <rt> (the ports bound, port 0 resolved, are kept in <s>: the runtime
 * is not written), start the workers and log "ready". 0 or -1 (logged). */
int server_start(struct server *s, const struct config *cfg, struct runtime *rt,
                 server_reload_fn reload, void *reload_arg);
/* Load everything again and switch every worker to it, as SIGHUP does; safe from any thread.
 * A worker that calls it answers its own request on the old runtime. */
enum server_reload_result server_reload_now(struct server *s);
/* Block until SIGTERM or SIGINT (drain, then stop the workers); SIGHUP reloads. */
void server_run(struct server *s);
/* From any thread: make server_run drain and stop as on SIGTERM, logging <why> (a static
 * string, e.g. "stdin closed") instead of the signal's name. */
void server_request_stop(struct server *s, const char *why);
/* The name of an adapter type as the logs and the control adapter show it ("rest", "mcp",
 * "skill", "control"). */
const char *server_adapter_kind(enum model_expose_type t);
/* Stop the workers and close the listeners; also after a failed server_start, to close what it
 * bound. */
void server_stop(struct server *s);

#endif
