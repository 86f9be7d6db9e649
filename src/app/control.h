/*
 * control: the control adapter's endpoints (`type: control`), each served only when its
 * `management` or `observability` switch is on: /health/live and /health/ready (health),
 * /status (info), POST /config/reload (reload: the same reload as SIGHUP, answered with its
 * outcome), POST /config/validate (validate: a document in the body, loaded and checked, not
 * applied), GET /logs and PUT /logs/ROOT (logs: the process log level), /metrics
 * (observability: the admin listener's Prometheus text). With the adapter's `authentication`
 * every request must carry it; without, the endpoints that change or load something (POST,
 * PUT) answer only loopback peers.
 */
#ifndef CAPPROXY_CONTROL_H
#define CAPPROXY_CONTROL_H

#include <event2/http.h>

#include "http/loop.h"

struct server;

/* A control listener's handler argument (one per worker). */
struct control_listener {
    const struct front_listener *fl;
    struct server *srv;
};

/* evhttp generic callback; <arg> is a struct control_listener. */
void control_handle(struct evhttp_request *req, void *arg);

#endif
