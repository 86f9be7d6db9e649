/*
 * mcp_stream: see mcp_stream.h. A stream is an exchange that never completes by itself: its
 * ctx is the mcp_stream record, whose free function unlinks it, so every way the exchange can
 * end (client gone, write error, drain) leaves the registry consistent.
 */
#include "front/mcp_stream.h"

#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <event2/event_struct.h>

#include "base/log.h"
#include "base/util.h"
#include "core/catalog.h"
#include "core/jsonrpc.h"
#include "spec/config.h"

struct mcp_stream {
    struct exchange *x;
    const struct front_listener *fl; /* owned by the worker, outlives its streams */
    char *path;                      /* the endpoint's path */
    uint64_t tools_hash;             /* of the tools/list answer the client last could see */
    struct event keepalive;
    bool ended; /* exchange_stream_end called: the exchange ends once that is flushed */
    struct mcp_stream *prev, *next;
};

static _Thread_local struct mcp_stream *streams; /* this thread's loop's streams */
static atomic_long nstreams;                     /* every thread's */

static const char list_changed[] =
    "event: message\ndata: {\"jsonrpc\":\"2.0\",\"method\":\"notifications/tools/list_changed\"}"
    "\n\n";
static const char keepalive_comment[] = ": keep-alive\n\n";

/* Enough to tell two tool lists apart (a collision only loses one notification). */
static uint64_t text_hash(const char *s)
{
    return util_fnv1a(s, strlen(s));
}

static void stream_free(void *arg)
{
    struct mcp_stream *s = arg;
    if (s->prev)
        s->prev->next = s->next;
    else
        streams = s->next;
    if (s->next)
        s->next->prev = s->prev;
    event_del(&s->keepalive);
    atomic_fetch_sub(&nstreams, 1);
    free(s->path);
    free(s);
}

static void stream_end(struct mcp_stream *s)
{
    s->ended = true;
    event_del(&s->keepalive);
    exchange_stream_end(s->x);
}

static void arm_keepalive(struct mcp_stream *s)
{
    long ms = exchange_config(s->x)->mcp_keepalive_ms;
    if (ms <= 0) {
        event_del(&s->keepalive);
        return;
    }
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
    event_add(&s->keepalive, &tv);
}

static void on_keepalive(evutil_socket_t fd, short what, void *arg)
{
    struct mcp_stream *s = arg;
    exchange_stream_send(s->x, keepalive_comment, sizeof keepalive_comment - 1);
    arm_keepalive(s);
}

/* The endpoint at <path> of the listener <fl> serves in the runtime <x> pins, or NULL. */
static const struct rt_mcp_endpoint *
stream_endpoint(struct exchange *x, const struct front_listener *fl, const char *path)
{
    const struct rt_listener *l = front_listener_get(fl, exchange_runtime(x));
    for (size_t i = 0; l && i < l->nendpoints; i++)
        if (str_eq(l->endpoints[i].path, path))
            return &l->endpoints[i];
    return NULL;
}

void mcp_stream_open(struct exchange *x, const struct front_listener *fl, const char *path)
{
    if (loop_draining(exchange_loop(x))) {
        /* Stopping: the streams were closed (mcp_stream_close_all) and a new one would outlive
         * the loop. The client reconnects to another instance. */
        evhttp_add_header(evhttp_request_get_output_headers(exchange_req(x)), "Retry-After", "1");
        exchange_reply_json(x, 503, "application/json",
                            jsonrpc_error(NULL, JSONRPC_SERVER_ERROR,
                                          "Service Unavailable: the server is stopping"));
        return;
    }
    long max = exchange_config(x)->mcp_max_streams;
    if (atomic_fetch_add(&nstreams, 1) >= max) {
        atomic_fetch_sub(&nstreams, 1);
        LOG_W("mcp: refused a GET stream: %ld open (mcp.maxStreams)", max);
        evhttp_add_header(evhttp_request_get_output_headers(exchange_req(x)), "Retry-After", "5");
        exchange_reply_json(x, 503, "application/json",
                            jsonrpc_error(NULL, JSONRPC_SERVER_ERROR,
                                          "Service Unavailable: too many open streams "
                                          "(mcp.maxStreams)"));
        return;
    }
    const struct rt_mcp_endpoint *ep = stream_endpoint(x, fl, path);
    struct mcp_stream *s = xcalloc(1, sizeof *s);
    s->x = x;
    s->fl = fl;
    s->path = xstrdup(path);
    s->tools_hash = text_hash(catalog_tools_json(ep->catalog));
    evtimer_assign(&s->keepalive, loop_base(exchange_loop(x)), on_keepalive, s);
    s->next = streams;
    if (streams)
        streams->prev = s;
    streams = s;
    exchange_set_ctx(x, s, stream_free);
    exchange_set_route(x, "stream");
    exchange_stream_start(x, 200, "text/event-stream");
    arm_keepalive(s);
}

void mcp_stream_reloaded(void)
{
    const struct catalog *last = NULL;
    uint64_t last_hash = 0;
    for (struct mcp_stream *s = streams, *next; s; s = next) {
        next = s->next;
        if (s->ended)
            continue;
        exchange_repin(s->x);
        const struct rt_mcp_endpoint *ep = stream_endpoint(s->x, s->fl, s->path);
        if (!ep) {
            stream_end(s); /* the endpoint is gone: the client's GET gets 404 */
            continue;
        }
        if (ep->catalog != last) { /* the streams of one endpoint share its catalog */
            last = ep->catalog;
            last_hash = text_hash(catalog_tools_json(last));
        }
        if (last_hash != s->tools_hash) {
            s->tools_hash = last_hash;
            exchange_stream_send(s->x, list_changed, sizeof list_changed - 1);
        }
        arm_keepalive(s); /* the interval may have changed */
    }
}

void mcp_stream_close_all(void)
{
    for (struct mcp_stream *s = streams, *next; s; s = next) {
        next = s->next;
        if (!s->ended)
            stream_end(s);
    }
}

long mcp_stream_count(void)
{
    return atomic_load(&nstreams);
}
