/*
 * mcp_stdio: see mcp_stdio.h. One session, one loop: stdin is read line by line, each message
 * answered through the protocol steps of mcp_proto.h, and a tools/call forwarded through
 * loop_forward like an HTTP one (without a request id, and without metrics: there is no
 * /metrics to read them).
 */
#include "front/mcp_stdio.h"

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "base/log.h"
#include "core/mcptool.h"
#include "front/mcp_proto.h"
#include "front/steps.h"
#include "http/loop.h"

#define MCP_STDIO_MAX_PENDING (16u << 20) /* bytes queued for stdout before stdin pauses */

struct stdio_srv;

/* A tools/call in flight on stdio. */
struct stdio_call {
    struct stdio_srv *s;
    struct stdio_call *prev, *next;
    const struct rt_call *call;
    cJSON *id;
    struct outreq out;
    struct resil_call *xfer;
    struct orch *orch; /* an orchestrated tool's steps, else NULL */
    char *uri;         /* a resources/read: the uri read (the call is the resource's) */
};

struct stdio_srv {
    const struct runtime *rt;
    /* Run mode (mcp_stdio_spawn): served on a thread of its own, stopped by the main thread,
     * and on the end of the session <on_end> tells the server to stop; no signal handling. */
    bool threaded;
    void (*on_end)(void *arg);
    void *end_arg;
    atomic_bool stopping; /* mcp_stdio_join asked the loop to exit */
    pthread_t thread;
    int in_flags, out_flags; /* stdin's and stdout's file flags, restored at the end */
    const struct config *cfg;
    struct loop *loop; /* event base and upstream client; no connection limit, no metrics */
    struct bufferevent *in, *out;
    struct event *sigterm, *sigint;
    const struct rt_mcp_endpoint *ep; /* every MCP tool of the runtime: rt->stdio_ep */
    struct stdio_call *calls;
    size_t ninflight;
    bool eof;        /* stdin ended: finish in-flight calls, then exit */
    bool discarding; /* skipping the rest of an oversized line */
    int rc;
};

static void stdio_maybe_finish(struct stdio_srv *s)
{
    if (s->eof && s->ninflight == 0 && evbuffer_get_length(bufferevent_get_output(s->out)) == 0)
        event_base_loopexit(loop_base(s->loop), NULL);
}

/* Queue one line for stdout. A client that stops reading must not make us buffer without
 * bound: past the limit, stdin is not read until stdout has drained (stdio_written). */
static void stdio_write_line(struct stdio_srv *s, const char *text)
{
    struct evbuffer *o = bufferevent_get_output(s->out);
    evbuffer_add(o, text, strlen(text));
    evbuffer_add(o, "\n", 1);
    if (evbuffer_get_length(o) > MCP_STDIO_MAX_PENDING && !s->eof)
        bufferevent_disable(s->in, EV_READ);
}

static void stdio_send(struct stdio_srv *s, cJSON *msg)
{
    /* Unformatted JSON has no raw newline (cJSON escapes them in strings): one line each. */
    char *t = cJSON_PrintUnformatted(msg);
    cJSON_Delete(msg);
    stdio_write_line(s, t);
    cJSON_free(t);
}

static void stdio_call_free(struct stdio_call *sc)
{
    struct stdio_srv *s = sc->s;
    if (sc->prev)
        sc->prev->next = sc->next;
    else
        s->calls = sc->next;
    if (sc->next)
        sc->next->prev = sc->prev;
    s->ninflight--;
    if (sc->xfer)
        resil_cancel(sc->xfer);
    outreq_deinit(&sc->out);
    orch_free(sc->orch);
    cJSON_Delete(sc->id);
    free(sc->uri);
    free(sc);
}

static void stdio_step(struct stdio_call *sc);

/* <sc>'s upstream transfer could not start: say so (as a tool error, or the resources/read
 * error) and end the call. */
static void stdio_not_started(struct stdio_call *sc)
{
    struct stdio_srv *s = sc->s;
    static const char msg[] = "the upstream request could not be started";
    stdio_send(s, sc->uri ? mcpp_read_setup_error(sc->id, sc->uri)
                          : jsonrpc_result(sc->id, mcptool_text_result(msg, sizeof msg - 1, true)));
    stdio_call_free(sc);
    stdio_maybe_finish(s);
}

/* One step's transfer is done: feed the executor, then send the next step or answer. */
static void stdio_on_step(const struct upstream_result *res, void *arg)
{
    struct stdio_call *sc = arg;
    sc->xfer = NULL;
    LOG_D("mcp-stdio: tool %s step %s: %s %ld", sc->call->name, orch_step_name(sc->orch),
          res->error == UPSTREAM_OK ? "upstream status" : upstream_error_name(res->error),
          res->error == UPSTREAM_OK ? res->status : -1L);
    steps_feed(sc->orch, res, &sc->out);
    stdio_step(sc);
}

static void stdio_step(struct stdio_call *sc)
{
    struct stdio_srv *s = sc->s;
    enum orch_state st = orch_next(sc->orch, &sc->out);
    if (st == ORCH_SEND) {
        uint8_t span[TRACE_SPAN_LEN];
        loop_hop_headers(s->loop, &sc->out, NULL, NULL, span);
        sc->xfer = loop_forward(s->loop, &sc->out, NULL, stdio_on_step, sc);
        if (!sc->xfer)
            stdio_not_started(sc);
        return;
    }
    stdio_send(s, sc->uri ? mcpp_read_orch_response(sc->call, sc->orch, st, sc->id, sc->uri)
                          : mcpp_orch_response(sc->orch, st, sc->id));
    stdio_call_free(sc);
    stdio_maybe_finish(s);
}

/* The one upstream transfer of a tools/call or resources/read is done: answer it. */
static void stdio_on_upstream(const struct upstream_result *res, void *arg)
{
    struct stdio_call *sc = arg;
    struct stdio_srv *s = sc->s;
    sc->xfer = NULL;
    LOG_D("mcp-stdio: %s %s: %s %ld", sc->uri ? "resource" : "tool", sc->call->name,
          res->error == UPSTREAM_OK ? "upstream status" : upstream_error_name(res->error),
          res->error == UPSTREAM_OK ? res->status : -1L);
    stdio_send(s, sc->uri ? mcpp_read_response(sc->call, sc->id, sc->uri, res)
                          : mcpp_call_response(sc->call, sc->id, res));
    stdio_call_free(sc);
    stdio_maybe_finish(s);
}

/* Track <sc> as in flight and start it: its steps, or its one upstream transfer (no request id
 * travels upstream from stdio). A transfer that cannot start is answered at once. */
static void stdio_call_start(struct stdio_srv *s, struct stdio_call *sc)
{
    sc->next = s->calls;
    if (s->calls)
        s->calls->prev = sc;
    s->calls = sc;
    s->ninflight++;
    if (sc->orch) {
        stdio_step(sc);
        return;
    }
    uint8_t span[TRACE_SPAN_LEN];
    loop_hop_headers(s->loop, &sc->out, NULL, NULL, span); /* no caller trace on stdio */
    sc->xfer = loop_forward(s->loop, &sc->out, NULL, stdio_on_upstream, sc);
    if (!sc->xfer)
        stdio_not_started(sc);
}

static void stdio_tools_call(struct stdio_srv *s, const struct jsonrpc_msg *m)
{
    struct stdio_call *sc = xcalloc(1, sizeof *sc);
    sc->s = s;
    outreq_init(&sc->out, MAPPING_MAX_URL);
    /* No headers: over stdio, credentials come from configuration only. */
    cJSON *now = mcpp_prepare_call(s->rt, s->ep, m, NULL, 0, &sc->out, &sc->call);
    if (now) {
        stdio_send(s, now);
        outreq_deinit(&sc->out);
        free(sc);
        return;
    }
    if (sc->call->kind != MODEL_CALL_SIMPLE) {
        now = mcpp_start_orch(s->rt, sc->call, m, NULL, 0, &sc->orch);
        if (now) {
            stdio_send(s, now);
            outreq_deinit(&sc->out);
            free(sc);
            return;
        }
    }
    sc->id = cJSON_Duplicate(m->id, 1);
    stdio_call_start(s, sc);
}

/* resources/read of a dynamic resource: in flight like a tools/call (cancellable too). */
static void stdio_resource_read(struct stdio_srv *s, const struct jsonrpc_msg *m)
{
    struct stdio_call *sc = xcalloc(1, sizeof *sc);
    const char *uri;
    sc->s = s;
    outreq_init(&sc->out, MAPPING_MAX_URL);
    cJSON *now = mcpp_prepare_read(s->rt, s->ep, m, NULL, 0, &sc->out, &sc->call, &uri, &sc->orch);
    if (now) {
        stdio_send(s, now);
        outreq_deinit(&sc->out);
        free(sc);
        return;
    }
    sc->id = cJSON_Duplicate(m->id, 1);
    sc->uri = xstrdup(uri);
    stdio_call_start(s, sc);
}

/* notifications/cancelled: drop the call; the spec says no response is sent for it. */
static void stdio_cancel(struct stdio_srv *s, const struct jsonrpc_msg *m)
{
    const cJSON *rid =
        cJSON_IsObject(m->params) ? cJSON_GetObjectItemCaseSensitive(m->params, "requestId") : NULL;
    for (struct stdio_call *sc = s->calls; rid && sc; sc = sc->next)
        if (cJSON_Compare(sc->id, rid, true)) {
            LOG_D("mcp-stdio: tool %s cancelled by the client", sc->call->name);
            stdio_call_free(sc);
            return;
        }
}

static void stdio_message(struct stdio_srv *s, const char *line, size_t len)
{
    struct jsonrpc_msg m;
    cJSON *err = NULL;
    if (jsonrpc_parse(line, len, &m, &err) < 0) {
        stdio_send(s, err);
        return;
    }
    if (m.kind == JSONRPC_NOTIFICATION) {
        if (str_eq(m.method, "notifications/cancelled"))
            stdio_cancel(s, &m);
    } else if (m.kind == JSONRPC_REQUEST) {
        struct mcpp_answer a;
        switch (mcpp_dispatch(s->ep, &m, &a)) {
        case MCPP_REPLY:
            stdio_send(s, a.msg);
            break;
        case MCPP_REPLY_TEXT:
            stdio_write_line(s, a.text);
            free(a.text);
            break;
        case MCPP_TOOLS_CALL:
            stdio_tools_call(s, &m);
            break;
        case MCPP_RESOURCE_READ:
            stdio_resource_read(s, &m);
            break;
        }
    }
    jsonrpc_msg_free(&m);
}

static void stdio_line(struct stdio_srv *s, char *line, size_t len)
{
    if (len && line[len - 1] == '\r')
        line[--len] = '\0';
    size_t i = 0;
    while (i < len && (line[i] == ' ' || line[i] == '\t'))
        i++;
    if (i == len)
        return; /* blank lines are allowed between messages */
    stdio_message(s, line, len);
}

static void stdio_read(struct bufferevent *bev, void *arg)
{
    struct stdio_srv *s = arg;
    struct evbuffer *in = bufferevent_get_input(bev);
    for (;;) {
        size_t len;
        char *line = evbuffer_readln(in, &len, EVBUFFER_EOL_LF);
        if (!line)
            break;
        if (s->discarding)
            s->discarding = false; /* the end of the oversized line */
        else
            stdio_line(s, line, len);
        free(line);
    }
    size_t pending = evbuffer_get_length(in);
    if (pending > s->cfg->max_body_size) {
        /* No newline within the limit: refuse the message, skip to its end. */
        if (!s->discarding)
            stdio_send(s, jsonrpc_error(NULL, JSONRPC_INVALID_REQUEST,
                                        "Invalid Request: message larger than the configured "
                                        "limit"));
        s->discarding = true;
        evbuffer_drain(in, pending);
    }
}

static void stdio_in_event(struct bufferevent *bev, short what, void *arg)
{
    struct stdio_srv *s = arg;
    if (!(what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)))
        return;
    if (what & BEV_EVENT_ERROR)
        LOG_W("mcp-stdio: reading stdin failed; finishing");
    stdio_read(bev, s);
    struct evbuffer *in = bufferevent_get_input(bev);
    size_t len = evbuffer_get_length(in);
    if (len && !s->discarding) {
        /* A last message without its newline. */
        char *line = xmalloc(len + 1);
        evbuffer_remove(in, line, len);
        line[len] = '\0';
        stdio_line(s, line, len);
        free(line);
    }
    bufferevent_disable(bev, EV_READ);
    s->eof = true;
    LOG_D("mcp-stdio: end of input, %zu call(s) in flight", s->ninflight);
    stdio_maybe_finish(s);
}

/* stdout has drained. */
static void stdio_written(struct bufferevent *bev, void *arg)
{
    struct stdio_srv *s = arg;
    if (!s->eof)
        bufferevent_enable(s->in, EV_READ);
    stdio_maybe_finish(s);
}

static void stdio_out_event(struct bufferevent *bev, short what, void *arg)
{
    struct stdio_srv *s = arg;
    if (what & (BEV_EVENT_ERROR | BEV_EVENT_EOF)) {
        LOG_W("mcp-stdio: stdout is closed; exiting");
        s->rc = 1;
        event_base_loopexit(loop_base(s->loop), NULL);
    }
}

static void stdio_signal(evutil_socket_t sig, short what, void *arg)
{
    struct stdio_srv *s = arg;
    LOG_I("mcp-stdio: %s: stopping", sig == SIGTERM ? "SIGTERM" : "SIGINT");
    event_base_loopexit(loop_base(s->loop), NULL);
}

/* The runtime built the stdio endpoint (the first tool of each name); say which were left out. */
static void stdio_warn_dups(const struct rt_mcp_endpoint *ep)
{
    for (size_t i = 0; i < ep->ndups; i++) {
        const struct rt_tool_dup *d = &ep->dups[i];
        LOG_W("mcp-stdio: tool '%s' is defined by '%s' and '%s'; serving the first",
              d->dropped->name, d->kept->expose->ns, d->dropped->expose->ns);
    }
}

/* Watch stdin and stdout on a new poll(2) loop (and, outside the run mode, SIGTERM and SIGINT);
 * <s>'s runtime and endpoint are set. 0, or -1 (logged; stdio_close cleans up). */
static int stdio_open(struct stdio_srv *s)
{
    s->cfg = s->rt->config;
    s->in_flags = fcntl(STDIN_FILENO, F_GETFL);
    s->out_flags = fcntl(STDOUT_FILENO, F_GETFL);
    stdio_warn_dups(s->ep);
    /* epoll refuses regular files and /dev/null, and stdin may well be one of them: poll(2)
     * takes any descriptor, and a desktop client's one session needs no more. */
    s->loop = loop_new(0, NULL, s->rt, 1, LOOP_POLL);
    if (!s->loop) {
        LOG_E("mcp-stdio: cannot create an event loop");
        return -1;
    }
    struct event_base *base = loop_base(s->loop);
    /* The loop must never block on a pipe; the flags live on the open file (shared with a
     * terminal or the parent), so they are restored on the way out. */
    evutil_make_socket_nonblocking(STDIN_FILENO);
    evutil_make_socket_nonblocking(STDOUT_FILENO);
    s->in = bufferevent_socket_new(base, STDIN_FILENO, 0);
    s->out = bufferevent_socket_new(base, STDOUT_FILENO, 0);
    if (!s->in || !s->out) {
        LOG_E("mcp-stdio: cannot watch stdin/stdout");
        return -1;
    }
    bufferevent_setcb(s->in, stdio_read, NULL, stdio_in_event, s);
    bufferevent_setcb(s->out, NULL, stdio_written, stdio_out_event, s);
    if (bufferevent_enable(s->in, EV_READ) < 0 || bufferevent_enable(s->out, EV_WRITE) < 0) {
        LOG_E("mcp-stdio: cannot watch stdin/stdout");
        return -1;
    }
    if (!s->threaded) {
        /* In the run mode the main thread waits for the signals (app/server.c). */
        s->sigterm = evsignal_new(base, SIGTERM, stdio_signal, s);
        s->sigint = evsignal_new(base, SIGINT, stdio_signal, s);
        event_add(s->sigterm, NULL);
        event_add(s->sigint, NULL);
    }
    LOG_I("mcp-stdio: serving %zu tools, %zu resources, %zu prompts on stdin/stdout", s->ep->ntools,
          s->ep->nresources, s->ep->nprompts);
    return 0;
}

/* The loop has ended: hand over what is buffered, drop abandoned calls, restore the flags. */
static void stdio_close(struct stdio_srv *s)
{
    if (s->ninflight)
        LOG_W("mcp-stdio: %zu call(s) abandoned", s->ninflight);
    /* Stopped by a signal: hand over what is buffered if stdout takes it now (non-blocking,
     * so a client that stopped reading cannot hold the exit). */
    if (s->rc == 0 && s->out) {
        struct evbuffer *o = bufferevent_get_output(s->out);
        while (evbuffer_get_length(o) > 0 && evbuffer_write(o, STDOUT_FILENO) > 0)
            ;
    }
    for (struct stdio_call *sc = s->calls, *next; sc; sc = next) {
        next = sc->next;
        stdio_call_free(sc); /* abandoned by a signal: no answer */
    }
    if (s->in)
        bufferevent_free(s->in);
    if (s->out)
        bufferevent_free(s->out);
    if (s->sigterm)
        event_free(s->sigterm);
    if (s->sigint)
        event_free(s->sigint);
    loop_free(s->loop); /* after what watches its base */
    if (s->in_flags >= 0)
        fcntl(STDIN_FILENO, F_SETFL, s->in_flags);
    if (s->out_flags >= 0)
        fcntl(STDOUT_FILENO, F_SETFL, s->out_flags);
}

int mcp_stdio_run(const struct runtime *rt)
{
    struct stdio_srv s = {.rt = rt, .ep = rt->stdio_ep};
    if (stdio_open(&s) < 0)
        s.rc = 1;
    else
        event_base_dispatch(loop_base(s.loop));
    stdio_close(&s);
    return s.rc;
}

static void *stdio_thread_main(void *arg)
{
    struct stdio_srv *s = arg;
    event_base_dispatch(loop_base(s->loop));
    /* The session ended by itself (stdin's end, stdout closed): the process ends with it, as a
     * desktop client that spawned it expects. */
    if (!atomic_load(&s->stopping) && s->on_end) {
        LOG_I("mcp-stdio: the stdio session ended; stopping the process");
        s->on_end(s->end_arg);
    }
    return NULL;
}

struct mcp_stdio_thread *mcp_stdio_spawn(const struct runtime *rt, const struct rt_mcp_endpoint *ep,
                                         void (*on_end)(void *arg), void *arg)
{
    struct stdio_srv *s = xcalloc(1, sizeof *s);
    s->rt = rt;
    s->ep = ep;
    s->threaded = true;
    s->on_end = on_end;
    s->end_arg = arg;
    atomic_init(&s->stopping, false);
    runtime_ref(rt); /* a reload swaps the server's runtime; this session keeps its own */
    if (stdio_open(s) < 0 || pthread_create(&s->thread, NULL, stdio_thread_main, s) != 0) {
        LOG_E("mcp-stdio: cannot serve the stdio adapter");
        stdio_close(s);
        runtime_unref(rt);
        free(s);
        return NULL;
    }
    return (struct mcp_stdio_thread *)s;
}

void mcp_stdio_join(struct mcp_stdio_thread *t)
{
    struct stdio_srv *s = (struct stdio_srv *)t;
    if (!s)
        return;
    atomic_store(&s->stopping, true);
    /* Thread-safe: the base was made after evthread_use_pthreads, and an exit is a no-op on a
     * loop that has ended already. */
    event_base_loopexit(loop_base(s->loop), NULL);
    pthread_join(s->thread, NULL);
    stdio_close(s);
    runtime_unref(s->rt);
    free(s);
}
