/*
 * upstream: see upstream.h. The structure of curl's hiperfifo example, on one
 * event_base: curl tells us which sockets to watch (socket_cb) and when to wake it (timer_cb);
 * libevent tells curl what happened (curl_multi_socket_action); finished transfers are drained
 * from curl_multi_info_read after every action, outside any curl callback, which is the only
 * place user callbacks run. Transfers (with their easy handle, header arrays and body evbuffer)
 * are pooled, so a request in steady state allocates nothing but body chains.
 */
#include "http/upstream.h"

#include "base/clock.h"
#include "base/util.h"
#include "spec/config.h"
#include "spec/urlenc.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/event_struct.h>

/* Response header limits: a header flood fails the transfer (UPSTREAM_ERR_TOO_BIG) rather than
 * being forwarded truncated, as nginx does with "upstream sent too big header". */
#define HDR_MAX_COUNT 100
#define HDR_MAX_BYTES ((size_t)64 * 1024)
/* Tokens of the upstream's Connection header, to drop the headers it names (RFC 9110 7.6.1). */
#define CONN_TOKENS_MAX 256
/* Idle transfers kept for reuse; each holds an easy handle with its buffers, so bound it. */
#define POOL_MAX 256

enum xfer_state {
    XS_FREE,      /* in the pool */
    XS_ACTIVE,    /* added to the multi */
    XS_CALLING,   /* its done callback is running */
    XS_CANCELLED, /* cancelled inside a curl callback; removal deferred */
};

struct hdr_span {
    uint32_t name; /* offsets into hbuf: "name\0value\0" */
    uint32_t value;
};

struct upstream_xfer {
    struct upstream *u;
    struct upstream_xfer *next; /* active, deferred or pool list */
    struct upstream_xfer **pprev;
    CURL *easy;
    enum xfer_state state;
    bool idempotent;
    bool retried;
    bool body_too_big;
    bool hdr_too_big;
    bool hdr_done;  /* the blank line after the final headers: later lines are trailers */
    bool last_kept; /* the previous header line was stored (obs-fold continues it) */
    upstream_done_fn done;
    void *arg;
    struct timespec t0;
    long timeout_ms;

    struct curl_slist *reqh; /* request header nodes, pointing into <reqh_text> */
    size_t reqh_cap;
    struct strbuf reqh_text; /* the request's header lines, each NUL-terminated */

    struct evbuffer *body;

    char *hbuf; /* collected response headers */
    size_t hlen, hcap;
    struct hdr_span spans[HDR_MAX_COUNT];
    size_t nspans;
    struct upstream_header out[HDR_MAX_COUNT];
    char conn_tokens[CONN_TOKENS_MAX];
    size_t conn_len;

    char errbuf[CURL_ERROR_SIZE];

    /* The handle is never curl_easy_reset while pooled (it costs a full re-init per request):
     * what a request changes is tracked here and undone for the next one (setup_easy,
     * xfer_put). */
    CURLU *uh;            /* CURLOPT_CURLU: the URL, pre-parsed (set_url) */
    struct strbuf origin; /* "scheme://authority" currently in <uh>; empty: parse in full */
    struct strbuf path;   /* NUL-terminated copy of the path handed to curl_url_set */
    bool custom_set;      /* CURLOPT_CUSTOMREQUEST is non-NULL */
    bool post_set;        /* CURLOPT_POSTFIELDS points at a caller's body */
    bool needs_reinit;    /* digest state: reset and re-apply the constant options */
};

/* One per socket curl asked us to watch, found by fd (u->fds): never through curl_multi_assign,
 * whose pointer would outlive a socket closed before its REMOVE. */
struct sockctx {
    struct event ev; /* embedded: no event_new per socket state change */
    int what;        /* the CURL_POLL_* interest registered with libevent (0: none) */
    int want;        /* what curl wants now (0 after CURL_POLL_REMOVE) */
    bool owned;      /* opened through opensocket_cb: its close is seen (closesocket_cb) */
    struct upstream *u;
};

struct upstream {
    struct event_base *base;
    char *ca_file; /* opts.ca_file's own copy: the configuration it came from may be reloaded */
    CURLM *multi;
    CURLSH *share;
    struct event timer;
    bool adding; /* inside upstream_start's curl_multi_add_handle (see timer_cb) */
    bool timer_ready;
    struct upstream_opts opts;
    long maxage_s;
    struct upstream_xfer *active;
    struct upstream_xfer *deferred;
    struct upstream_xfer *pool;
    size_t npool;
    size_t inflight;
    long connects;
    int depth; /* > 0 while inside curl_multi_socket_action: multi calls are forbidden */

    /* The socket contexts, indexed by fd number (lazy removal: see sock_find). */
    struct sockctx **fds;
    size_t nfds;
};

void upstream_opts_defaults(struct upstream_opts *o)
{
    /* The defaults are the configuration's (spec/config.c): one place says what they are. */
    struct config c;
    config_defaults(&c);
    upstream_opts_from_config(o, &c, 1);
    config_deinit(&c);
}

void upstream_opts_from_config(struct upstream_opts *o, const struct config *cfg, int nloops)
{
    o->connect_timeout_ms = cfg->upstream_connect_timeout_ms;
    o->timeout_ms = cfg->upstream_timeout_ms;
    (void)nloops;
    o->max_connects = cfg->upstream_max_idle_connections;
    o->max_idle_ms = cfg->upstream_idle_timeout_ms;
    o->max_response_bytes = cfg->upstream_max_response_size;
    o->verify_tls = cfg->upstream_tls_verify;
    o->ca_file = cfg->upstream_ca_file;
}

const char *upstream_error_name(enum upstream_error e)
{
    switch (e) {
    case UPSTREAM_OK:
        return "ok";
    case UPSTREAM_ERR_REFUSED:
        return "refused";
    case UPSTREAM_ERR_RESET:
        return "reset";
    case UPSTREAM_ERR_TIMEOUT:
        return "timeout";
    case UPSTREAM_ERR_TOO_BIG:
        return "too_big";
    case UPSTREAM_ERR_TLS:
        return "tls";
    case UPSTREAM_ERR_OTHER:
        break;
    }
    return "other";
}

/* ---- intrusive lists ---------------------------------------------------------------------- */

static void xfer_link(struct upstream_xfer **head, struct upstream_xfer *x)
{
    x->next = *head;
    if (x->next)
        x->next->pprev = &x->next;
    *head = x;
    x->pprev = head;
}

static void xfer_unlink(struct upstream_xfer *x)
{
    *x->pprev = x->next;
    if (x->next)
        x->next->pprev = x->pprev;
    x->next = NULL;
    x->pprev = NULL;
}

/* Unlink and return the first element of <head>, or NULL. */
static struct upstream_xfer *xfer_pop(struct upstream_xfer **head)
{
    struct upstream_xfer *x = *head;
    if (!x)
        return NULL;
    *head = x->next;
    if (x->next)
        x->next->pprev = head;
    x->next = NULL;
    x->pprev = NULL;
    return x;
}

/* ---- libevent <-> curl glue ---------------------------------------------------------------- */

static void drain_done(struct upstream *u);
static void run_deferred(struct upstream *u);
static void fail_all(struct upstream *u, CURLMcode mc);

static void multi_action(struct upstream *u, curl_socket_t fd, int act)
{
    int running;
    u->depth++;
    CURLMcode mc = curl_multi_socket_action(u->multi, fd, act, &running);
    u->depth--;
    run_deferred(u);
    if (mc != CURLM_OK) {
        /* Every transfer is now in an unknown state (doc section 2.7): fail them all. */
        fail_all(u, mc);
        return;
    }
    drain_done(u);
}

/* Lazy removal: when curl drops interest in a connection it keeps for reuse (CURL_POLL_REMOVE),
 * the event stays registered, so reusing the connection costs no epoll_ctl. If the event fires
 * while curl does not want it (the upstream closed the idle connection, say), it is removed
 * then. A socket curl closes goes through closesocket_cb, which removes the event before the
 * close: otherwise a new socket with the same fd number would be believed registered. Only
 * sockets opened through opensocket_cb get this treatment; curl's other fds (the threaded
 * resolver's socketpair) are closed behind our back and are removed eagerly. */
static struct sockctx *sock_find(struct upstream *u, curl_socket_t s)
{
    return (s >= 0 && (size_t)s < u->nfds) ? u->fds[s] : NULL;
}

static struct sockctx *sock_get(struct upstream *u, curl_socket_t s)
{
    if ((size_t)s >= u->nfds) {
        size_t n = u->nfds ? u->nfds : 64;
        while (n <= (size_t)s)
            n *= 2;
        u->fds = xrealloc(u->fds, n * sizeof *u->fds);
        memset(u->fds + u->nfds, 0, (n - u->nfds) * sizeof *u->fds);
        u->nfds = n;
    }
    if (!u->fds[s]) {
        u->fds[s] = xcalloc(1, sizeof *u->fds[s]);
        u->fds[s]->u = u;
    }
    return u->fds[s];
}

static void sock_unwatch(struct sockctx *sc)
{
    if (sc->what)
        event_del(&sc->ev);
    sc->what = 0;
}

static void sock_drop(struct upstream *u, curl_socket_t s)
{
    struct sockctx *sc = sock_find(u, s);
    if (!sc)
        return;
    sock_unwatch(sc);
    free(sc);
    u->fds[s] = NULL;
}

static void on_sock_event(evutil_socket_t fd, short what, void *arg)
{
    struct sockctx *sc = arg;
    if (!sc->want) {
        sock_unwatch(sc); /* kept after REMOVE and fired: now it goes */
        return;
    }
    int act = ((what & EV_READ) ? CURL_CSELECT_IN : 0) | ((what & EV_WRITE) ? CURL_CSELECT_OUT : 0);
    multi_action(sc->u, fd, act);
}

static void on_timeout(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    multi_action(arg, CURL_SOCKET_TIMEOUT, 0);
}

static int socket_cb(CURL *e, curl_socket_t s, int what, void *up, void *sp)
{
    struct upstream *u = up;
    (void)e;
    (void)sp;

    if (what == CURL_POLL_REMOVE) {
        /* Tolerate REMOVE for a socket never seen (curl#17949) or already closed (curl#6237). */
        struct sockctx *sc = sock_find(u, s);
        if (sc && sc->owned)
            sc->want = 0;
        else if (sc)
            sock_drop(u, s);
        return 0;
    }
    struct sockctx *sc = sock_get(u, s);
    sc->want = what;
    /* Registered already (unchanged, or kept since REMOVE): no epoll_ctl. */
    if (sc->what == what)
        return 0;
    sock_unwatch(sc); /* event_assign on a pending event corrupts the base */
    short ev = EV_PERSIST | ((what & CURL_POLL_IN) ? EV_READ : 0) |
               ((what & CURL_POLL_OUT) ? EV_WRITE : 0);
    event_assign(&sc->ev, u->base, s, ev, on_sock_event, sc);
    if (event_add(&sc->ev, NULL) != 0)
        return -1;
    sc->what = what;
    return 0;
}

static curl_socket_t opensocket_cb(void *up, curlsocktype purpose, struct curl_sockaddr *a)
{
    struct upstream *u = up;
    (void)purpose;
    curl_socket_t s = socket(a->family, a->socktype | SOCK_CLOEXEC, a->protocol);
    if (s < 0)
        return CURL_SOCKET_BAD;
    /* A context left on this fd number belonged to a socket closed without us: not ours. */
    sock_drop(u, s);
    sock_get(u, s)->owned = true;
    return s;
}

static int closesocket_cb(void *up, curl_socket_t s)
{
    sock_drop(up, s); /* before the close: the fd number may be reused at once */
    return close(s);
}

static int timer_cb(CURLM *m, long ms, void *up)
{
    struct upstream *u = up;
    (void)m;
    if (ms < 0) {
        evtimer_del(&u->timer);
        return 0;
    }
    if (ms == 0 && u->adding) {
        /* A transfer was just added. Run curl's timeout at the end of this loop pass rather
         * than on a 0 ms timer (one epoll_wait later) or at once (one curl_multi_socket_action
         * per request): every request that arrived in this pass is started by one call, and a
         * lone request is still written without waiting for the next poll. At c64 and c256,
         * starting each transfer at once measured 13 % fewer requests per second. An activated
         * event goes to the tail of libevent's active queue, after the events of this pass. */
        evtimer_del(&u->timer);
        event_active(&u->timer, EV_TIMEOUT, 0);
        return 0;
    }
    /* One timer, re-added: a new value replaces the old one. Never call curl from here. */
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
    return evtimer_add(&u->timer, &tv) == 0 ? 0 : -1;
}

/* ---- response collection (curl callbacks: no multi calls, no user code) ---------------------- */

static size_t on_body(char *data, size_t size, size_t n, void *arg)
{
    struct upstream_xfer *x = arg;
    size_t len = size * n;
    if (x->state != XS_ACTIVE)
        return 0; /* cancelled while curl still delivers: abort the transfer */
    size_t have = evbuffer_get_length(x->body);
    size_t max = x->u->opts.max_response_bytes;
    if (len > max - have) {
        x->body_too_big = true;
        return 0; /* CURLE_WRITE_ERROR, mapped to UPSTREAM_ERR_TOO_BIG */
    }
    if (evbuffer_add(x->body, data, len) != 0)
        return 0;
    return len;
}

/* Hop-by-hop and framing headers: evhttp frames the reply itself, and a copied
 * Transfer-Encoding or Content-Length would break the client's framing (doc section 7).
 * Server too: the upstream's software and version are not the client's business (nginx
 * hides it as well). The one list for REST and MCP. */
static bool is_dropped(const char *name, size_t len)
{
    /* With their lengths: a response header is compared only with the names of its length
     * (each line of each response comes through here). */
    static const struct {
        const char *s;
        size_t n;
    } drop[] = {{"connection", 10},
                {"keep-alive", 10},
                {"te", 2},
                {"trailer", 7},
                {"transfer-encoding", 17},
                {"upgrade", 7},
                {"content-length", 14},
                {"server", 6}};
    /* Every name listed starts with one of "ckptsu": most headers (Date, Content-Type, ...)
     * are told apart by their first byte and length alone, without a strncasecmp. */
    char c0 = (char)(name[0] | 0x20);
    if (c0 == 'p')
        return len >= 6 && strncasecmp(name, "proxy-", 6) == 0;
    for (size_t i = 0; i < UTIL_ARRAY_LEN(drop); i++)
        if (drop[i].n == len && drop[i].s[0] == c0 && strncasecmp(name, drop[i].s, len) == 0)
            return true;
    return false;
}

static bool hbuf_reserve(struct upstream_xfer *x, size_t extra)
{
    if (extra > HDR_MAX_BYTES - x->hlen)
        return false;
    if (x->hlen + extra > x->hcap) {
        size_t cap = x->hcap ? x->hcap : 2048;
        while (cap < x->hlen + extra)
            cap *= 2;
        if (cap > HDR_MAX_BYTES)
            cap = HDR_MAX_BYTES;
        x->hbuf = xrealloc(x->hbuf, cap);
        x->hcap = cap;
    }
    return true;
}

static void headers_reset(struct upstream_xfer *x)
{
    x->hlen = 0;
    x->nspans = 0;
    x->conn_len = 0;
    x->hdr_done = false;
    x->last_kept = false;
}

static void conn_tokens_add(struct upstream_xfer *x, const char *v, size_t len)
{
    /* Overflow only loses the ability to drop extra Connection-named headers: harmless. */
    if (len + 1 > sizeof x->conn_tokens - x->conn_len)
        return;
    x->conn_tokens[x->conn_len++] = ',';
    memcpy(x->conn_tokens + x->conn_len, v, len);
    x->conn_len += len;
}

static size_t on_header(char *data, size_t size, size_t n, void *arg)
{
    struct upstream_xfer *x = arg;
    size_t total = size * n, len = total;

    if (x->state != XS_ACTIVE)
        return 0;
    /* Every response of the exchange comes through here (1xx, redirects): keep the last one. */
    if (len >= 5 && memcmp(data, "HTTP/", 5) == 0) {
        headers_reset(x);
        return total;
    }
    while (len && (data[len - 1] == '\n' || data[len - 1] == '\r'))
        len--;
    if (len == 0) {
        x->hdr_done = true;
        return total;
    }
    if (x->hdr_done)
        return total; /* a trailer: the reply is framed by evhttp, trailers are not forwarded */

    if (data[0] == ' ' || data[0] == '\t') {
        /* obs-fold: join with a space onto the previous value, which ends hbuf. */
        if (!x->last_kept)
            return total;
        size_t i = 0;
        while (i < len && (data[i] == ' ' || data[i] == '\t'))
            i++;
        if (i == len)
            return total;
        if (!hbuf_reserve(x, len - i + 1)) {
            x->hdr_too_big = true;
            return 0;
        }
        x->hbuf[x->hlen - 1] = ' '; /* replaces the value's NUL */
        memcpy(x->hbuf + x->hlen, data + i, len - i);
        x->hlen += len - i;
        x->hbuf[x->hlen++] = '\0';
        return total;
    }

    x->last_kept = false;
    size_t nl = 0;
    while (nl < len && urlenc_is_tchar((unsigned char)data[nl]))
        nl++;
    if (nl == 0 || nl == len || data[nl] != ':')
        return total; /* not "token:": curl tolerated it, we do not forward it */
    size_t vb = nl + 1, ve = len;
    while (vb < ve && (data[vb] == ' ' || data[vb] == '\t'))
        vb++;
    while (ve > vb && (data[ve - 1] == ' ' || data[ve - 1] == '\t'))
        ve--;

    if (is_dropped(data, nl)) {
        if (str_eq_ci_n(data, nl, "connection"))
            conn_tokens_add(x, data + vb, ve - vb);
        return total;
    }
    if (x->nspans == HDR_MAX_COUNT || !hbuf_reserve(x, nl + 1 + (ve - vb) + 1)) {
        x->hdr_too_big = true;
        return 0;
    }
    struct hdr_span *sp = &x->spans[x->nspans++];
    sp->name = (uint32_t)x->hlen;
    memcpy(x->hbuf + x->hlen, data, nl);
    x->hlen += nl;
    x->hbuf[x->hlen++] = '\0';
    sp->value = (uint32_t)x->hlen;
    memcpy(x->hbuf + x->hlen, data + vb, ve - vb);
    x->hlen += ve - vb;
    x->hbuf[x->hlen++] = '\0';
    x->last_kept = true;
    return total;
}

/* Whether <name> is listed in the upstream's Connection header (other than close/keep-alive,
 * which name no header we keep anyway). */
static bool named_by_connection(const struct upstream_xfer *x, const char *name)
{
    const char *p = x->conn_tokens, *end = x->conn_tokens + x->conn_len;
    while (p < end) {
        while (p < end && (*p == ',' || *p == ' ' || *p == '\t'))
            p++;
        const char *t = p;
        while (p < end && *p != ',' && *p != ' ' && *p != '\t')
            p++;
        if (p > t && str_eq_ci_n(t, (size_t)(p - t), name))
            return true;
    }
    return false;
}

/* Resolve the collected spans into x->out (pointers are stable now: hbuf no longer grows). */
static size_t headers_finish(struct upstream_xfer *x, const char **content_type)
{
    size_t n = 0;
    *content_type = NULL;
    for (size_t i = 0; i < x->nspans; i++) {
        char *name = x->hbuf + x->spans[i].name;
        char *value = x->hbuf + x->spans[i].value;
        if (x->conn_len && named_by_connection(x, name))
            continue;
        if (!*content_type && str_eq_ci(name, "Content-Type")) /* the usual case first */
            *content_type = value;
        x->out[n].name = name;
        x->out[n].value = value;
        n++;
    }
    return n;
}

/* ---- transfer pool ------------------------------------------------------------------------- */

static void xfer_destroy(struct upstream_xfer *x)
{
    curl_easy_cleanup(x->easy);
    curl_url_cleanup(x->uh);
    strbuf_deinit(&x->origin);
    strbuf_deinit(&x->path);
    if (x->body)
        evbuffer_free(x->body);
    free(x->reqh);
    strbuf_deinit(&x->reqh_text);
    free(x->hbuf);
    free(x);
}

/* The options no request changes, set once per handle (and again after a reset). */
static int easy_init_const(struct upstream *u, struct upstream_xfer *x)
{
    CURL *e = x->easy;
    int bad = 0;
#define SET(opt, val) bad |= curl_easy_setopt(e, opt, val) != CURLE_OK
    SET(CURLOPT_PRIVATE, x);
    SET(CURLOPT_SHARE, u->share);
    SET(CURLOPT_NOSIGNAL, 1L); /* also spares 7 rt_sigaction per request */
    SET(CURLOPT_PROTOCOLS_STR, "http,https");
    /* Straight to the configured upstream: never through a proxy named by http_proxy and
     * friends in the environment (a credential must go nowhere else), and no getenv calls per
     * request. */
    SET(CURLOPT_PROXY, "");
    /* And an explicit (empty) no-proxy list: without one, curl looks up no_proxy and NO_PROXY
     * with getenv on every transfer, although the proxy is already none. */
    SET(CURLOPT_NOPROXY, "");
    /* HTTP/1.1 on https too: 7.88 would pick h2 by ALPN, which measured no faster here, and
     * without multiplexing PIPEWAIT (which serialised the first burst) has nothing to wait for. */
    SET(CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
    SET(CURLOPT_CONNECTTIMEOUT_MS, u->opts.connect_timeout_ms);
    SET(CURLOPT_TIMEOUT_MS, u->opts.timeout_ms);
    SET(CURLOPT_MAXAGE_CONN, u->maxage_s);
    SET(CURLOPT_TCP_KEEPALIVE, 1L);
    SET(CURLOPT_TCP_NODELAY, 1L);
    SET(CURLOPT_FOLLOWLOCATION, 0L); /* a 301 and its Location go back to the client */
    SET(CURLOPT_SSL_VERIFYPEER, u->opts.verify_tls ? 1L : 0L);
    SET(CURLOPT_SSL_VERIFYHOST, u->opts.verify_tls ? 2L : 0L);
    if (u->opts.ca_file)
        SET(CURLOPT_CAINFO, u->opts.ca_file); /* upstream.caFile, else curl's built-in bundle */
    SET(CURLOPT_ERRORBUFFER, x->errbuf);
    SET(CURLOPT_WRITEFUNCTION, on_body);
    SET(CURLOPT_WRITEDATA, x);
    SET(CURLOPT_HEADERFUNCTION, on_header);
    SET(CURLOPT_HEADERDATA, x);
    SET(CURLOPT_OPENSOCKETFUNCTION, opensocket_cb);
    SET(CURLOPT_OPENSOCKETDATA, u);
    SET(CURLOPT_CLOSESOCKETFUNCTION, closesocket_cb);
    SET(CURLOPT_CLOSESOCKETDATA, u);
    SET(CURLOPT_CURLU, x->uh);
#undef SET
    strbuf_reset(&x->origin);
    x->custom_set = false;
    x->post_set = false;
    x->needs_reinit = false;
    return bad ? -1 : 0;
}

static struct upstream_xfer *xfer_get(struct upstream *u)
{
    struct upstream_xfer *x = u->pool;
    if (x) {
        u->pool = x->next;
        u->npool--;
        x->next = NULL;
        return x;
    }
    x = xcalloc(1, sizeof *x);
    x->u = u;
    x->easy = curl_easy_init();
    x->uh = curl_url();
    x->body = evbuffer_new();
    strbuf_init(&x->reqh_text, 0);
    strbuf_init(&x->origin, 0);
    strbuf_init(&x->path, 0);
    if (!x->easy || !x->uh || !x->body || easy_init_const(u, x) != 0) {
        xfer_destroy(x);
        return NULL;
    }
    return x;
}

/* Back to the pool, without curl_easy_reset. What a request set and the next one might not
 * undo is undone here: the borrowed body pointer (an idle handle keeps no pointer to a caller's
 * memory: the URL is in our own CURLU, the header nodes and text are the transfer's own) and a
 * retry's FRESH_CONNECT and shortened timeout. Digest authentication leaves state in the handle
 * (nonce, picked scheme) that only a reset clears: those handles are reset. */
static void xfer_put(struct upstream *u, struct upstream_xfer *x)
{
    x->state = XS_FREE;
    x->done = NULL;
    x->arg = NULL;
    size_t blen = evbuffer_get_length(x->body);
    if (blen)
        evbuffer_drain(x->body, blen);
    if (u->npool >= POOL_MAX) {
        xfer_destroy(x);
        return;
    }
    int bad = 0;
    if (x->needs_reinit) {
        curl_easy_reset(x->easy);
        bad = easy_init_const(u, x);
    } else {
        if (x->post_set) {
            bad |= curl_easy_setopt(x->easy, CURLOPT_POSTFIELDS, NULL) != CURLE_OK;
            bad |=
                curl_easy_setopt(x->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)-1) != CURLE_OK;
            x->post_set = false;
        }
        if (x->retried) {
            bad |= curl_easy_setopt(x->easy, CURLOPT_FRESH_CONNECT, 0L) != CURLE_OK;
            bad |= curl_easy_setopt(x->easy, CURLOPT_TIMEOUT_MS, u->opts.timeout_ms) != CURLE_OK;
            x->retried = false;
        }
    }
    if (bad) {
        xfer_destroy(x);
        return;
    }
    x->next = u->pool;
    x->pprev = NULL;
    u->pool = x;
    u->npool++;
}

static long easy_num_connects(CURL *e)
{
    long n = 0;
    if (curl_easy_getinfo(e, CURLINFO_NUM_CONNECTS, &n) != CURLE_OK)
        return 0;
    return n;
}

/* ---- request setup ------------------------------------------------------------------------- */

/* Add one curl header line to x->reqh_text; its offset in <*at>. curl drops "Name:" with an empty
 * value and sends "Name;" as the header with an empty value (CURLOPT_HTTPHEADER). */
static void header_line(struct upstream_xfer *x, const char *name, size_t nlen, const char *value,
                        size_t len, size_t *at)
{
    /* One append of the whole line (no printf, no append per piece): this runs for every
     * header of every request. The line is "Name: value" or "Name;", then its NUL, kept in
     * the buffer (strbuf_add puts another NUL after it, outside the line). */
    size_t line = nlen + (len ? 2 + len : 1) + 1;
    char stack[256], *p = line <= sizeof stack ? stack : xmalloc(line), *w = p;
    memcpy(w, name, nlen);
    w += nlen;
    if (len) {
        memcpy(w, ": ", 2);
        memcpy(w + 2, value, len);
        w += 2 + len;
    } else {
        *w++ = ';';
    }
    *w = '\0';
    *at = x->reqh_text.len;
    strbuf_add(&x->reqh_text, p, line);
    if (p != stack)
        free(p);
}

/* Build the header list in the transfer's own node array: no curl_slist_append (two mallocs
 * per line). curl only reads the nodes and their strings (it copies a "Name;" line before
 * editing it), and both outlive the transfer by contract. Returns -1 on a CR or LF. */
static int build_headers(struct upstream_xfer *x, const struct outreq *req, bool has_body,
                         bool empty_body)
{
    size_t need = req->nheaders + 2;
    if (need > x->reqh_cap) {
        x->reqh = xrealloc(x->reqh, need * sizeof *x->reqh);
        x->reqh_cap = need;
    }
    size_t at[need]; /* offsets first: the text buffer may move while it grows */
    const char *fixed[2] = {NULL, NULL};
    size_t n = 0;
    strbuf_reset(&x->reqh_text);
    bool have_ct = false;
    for (size_t i = 0; i < req->nheaders; i++) {
        const struct outreq_header *h = &req->headers[i];
        size_t nlen = strcspn(h->name, "\r\n");
        /* curl does not sanitise CURLOPT_HTTPHEADER: never split a request */
        if (h->name[nlen] || memchr(h->value, '\r', h->len) || memchr(h->value, '\n', h->len))
            return -1;
        have_ct = have_ct || (nlen == 12 && str_eq_ci(h->name, "Content-Type"));
        header_line(x, h->name, nlen, h->value, h->len, &at[n++]);
    }
    size_t nlines = n;
    /* An empty "Expect:" removes curl's Expect: 100-continue (bodies over 1 MiB). */
    fixed[0] = "Expect:";
    if (!have_ct && has_body) {
        const char *ct = outreq_content_type(req);
        header_line(x, "Content-Type", 12, ct, strlen(ct), &at[n++]);
        nlines = n;
    } else if (!have_ct && empty_body) {
        /* POSTFIELDS would add x-www-form-urlencoded; an empty "Content-Type:" removes it. */
        fixed[1] = "Content-Type:";
    }
    for (size_t i = 0; i < nlines; i++)
        x->reqh[i].data = x->reqh_text.data + at[i];
    n = nlines;
    for (size_t i = 0; i < 2; i++)
        if (fixed[i])
            x->reqh[n++].data = (char *)fixed[i];
    for (size_t i = 0; i + 1 < n; i++)
        x->reqh[i].next = &x->reqh[i + 1];
    x->reqh[n - 1].next = NULL;
    return 0;
}

/* Bytes a path or query may hold for curl_url_set to take it as it is: curl lower-cases
 * percent-encodings it is handed as a part (it keeps them in a full URL), and removes dot
 * segments only from a full URL. Anything else goes through the full parse, as CURLOPT_URL did. */
static bool url_part_plain(const char *p, const char *end, bool path)
{
    for (; p < end; p++) {
        unsigned char c = (unsigned char)*p;
        if (!(urlenc_class[c] & URLENC_C_URLPART))
            return false;
        if (path && c == '/' && p + 1 < end && p[1] == '.')
            return false;
    }
    return true;
}

/* Point the handle's CURLU at <url> (absolute, encoded). The scheme, host and port stay parsed
 * from the last request with the same origin: only the path and the query are set, which spares
 * curl 7.88 parsing, rebuilding and splitting the whole URL on every transfer. (curl's
 * CURLINFO_EFFECTIVE_URL then no longer follows: the request's own URL is what gets logged.) */
static int set_url(struct upstream_xfer *x, const char *url, size_t len)
{
    const char *end = url + len;
    const char *sep = strstr(url, "://");
    if (sep) {
        const char *path = sep + 3 + strcspn(sep + 3, "/?#");
        size_t olen = (size_t)(path - url);
        const char *q = memchr(path, '?', (size_t)(end - path));
        const char *pend = q ? q : end;
        if (*path == '/' && olen == x->origin.len && memcmp(url, x->origin.data, olen) == 0 &&
            (!q || q + 1 < end) && url_part_plain(path, pend, true) &&
            (!q || url_part_plain(q + 1, end, false))) {
            strbuf_reset(&x->path);
            strbuf_add(&x->path, path, (size_t)(pend - path));
            if (curl_url_set(x->uh, CURLUPART_PATH, x->path.data, 0) == CURLUE_OK &&
                curl_url_set(x->uh, CURLUPART_QUERY, q ? q + 1 : NULL, 0) == CURLUE_OK)
                return 0;
        }
        strbuf_reset(&x->origin);
        /* The flags curl 7.88 parses CURLOPT_URL with (url.c). */
        if (curl_url_set(x->uh, CURLUPART_URL, url,
                         CURLU_GUESS_SCHEME | CURLU_NON_SUPPORT_SCHEME) != CURLUE_OK)
            return -1;
        if (*path == '/')
            strbuf_add(&x->origin, url, olen);
        return 0;
    }
    strbuf_reset(&x->origin);
    return curl_url_set(x->uh, CURLUPART_URL, url, CURLU_GUESS_SCHEME | CURLU_NON_SUPPORT_SCHEME) ==
                   CURLUE_OK
               ? 0
               : -1;
}

static int setup_easy(struct upstream *u, struct upstream_xfer *x, const struct outreq *req)
{
    CURL *e = x->easy;
    int bad = 0;

    if (!req || !req->url.data || (unsigned)req->method >= MODEL_METHOD_COUNT)
        return -1;
    const enum model_method m = req->method;
    bool has_body = req->body != NULL && m != MODEL_HEAD;
    /* POST, PUT and PATCH always carry a Content-Length, 0 when empty: some servers answer 411
     * otherwise. Nothing else gets a body unless one is given. */
    bool empty_body = !has_body && (m == MODEL_POST || m == MODEL_PUT || m == MODEL_PATCH);
    if (build_headers(x, req, has_body, empty_body) != 0)
        return -1;

        /* Only what changes per request; the constant options are set once (easy_init_const). */
#define SET(opt, val) bad |= curl_easy_setopt(e, opt, val) != CURLE_OK
    if (set_url(x, req->url.data, req->url.len) != 0) {
        /* A URL curl refuses fails in the done callback with curl's own error, as it always
         * did: hand curl the string for this transfer; xfer_put restores the CURLU. */
        x->needs_reinit = true;
        SET(CURLOPT_CURLU, NULL);
        SET(CURLOPT_URL, req->url.data);
    }
    /* A retried call (http/resil.c) gets only what is left of its deadline. */
    long timeout_ms = req->timeout_ms > 0 ? req->timeout_ms : u->opts.timeout_ms;
    SET(CURLOPT_TIMEOUT_MS, timeout_ms);
    SET(CURLOPT_HTTPHEADER, x->reqh);
    if (req->digest_user) {
        /* curl answers the API's digest challenge; xfer_put resets the handle afterwards. */
        x->needs_reinit = true;
        SET(CURLOPT_HTTPAUTH, (long)CURLAUTH_DIGEST);
        SET(CURLOPT_USERNAME, req->digest_user);
        SET(CURLOPT_PASSWORD, req->digest_pass ? req->digest_pass : "");
    }

    /* The method from a known start: HTTPGET clears NOBODY and a POST left by the last request,
     * and a custom verb sticks until cleared (CURLOPT_CUSTOMREQUEST.3). */
    SET(CURLOPT_HTTPGET, 1L);
    const char *custom = NULL;
    switch (m) {
    case MODEL_GET:
        if (has_body)
            custom = "GET"; /* POSTFIELDS below makes it a POST otherwise */
        break;
    case MODEL_HEAD:
        SET(CURLOPT_NOBODY, 1L); /* CUSTOMREQUEST "HEAD" would wait for a body that never comes */
        break;
    case MODEL_POST:
        SET(CURLOPT_POST, 1L);
        break;
    case MODEL_PUT:
        custom = "PUT";
        break;
    case MODEL_PATCH:
        custom = "PATCH";
        break;
    case MODEL_DELETE:
        custom = "DELETE";
        break;
    case MODEL_OPTIONS:
        custom = "OPTIONS";
        break;
    case MODEL_METHOD_COUNT:
        return -1; /* refused above */
    }
    if (custom || x->custom_set)
        SET(CURLOPT_CUSTOMREQUEST, custom);
    x->custom_set = custom != NULL;
    if (has_body || empty_body) {
        /* Borrowed, not copied (CURLOPT_POSTFIELDS.3): the caller keeps it until done; xfer_put
         * clears it. */
        x->post_set = true;
        SET(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)(has_body ? req->body_len : 0));
        SET(CURLOPT_POSTFIELDS, has_body ? req->body : "");
    }
#undef SET

    x->idempotent = m == MODEL_GET || m == MODEL_HEAD || m == MODEL_PUT || m == MODEL_DELETE ||
                    m == MODEL_OPTIONS;
    x->timeout_ms = timeout_ms;
    return bad ? -1 : 0;
}

struct upstream_xfer *upstream_start(struct upstream *u, const struct outreq *req,
                                     upstream_done_fn done, void *arg)
{
    struct upstream_xfer *x = xfer_get(u);
    if (!x)
        return NULL;
    x->retried = false;
    x->body_too_big = false;
    x->hdr_too_big = false;
    x->errbuf[0] = '\0';
    headers_reset(x);
    if (setup_easy(u, x, req) != 0)
        goto fail;
    x->done = done;
    x->arg = arg;
    x->state = XS_ACTIVE;
    clock_mono(&x->t0);
    u->adding = true;
    CURLMcode mc = curl_multi_add_handle(u->multi, x->easy);
    u->adding = false;
    if (mc != CURLM_OK)
        goto fail;
    xfer_link(&u->active, x);
    u->inflight++;
    return x;

fail:
    xfer_put(u, x);
    return NULL;
}

/* ---- completion ---------------------------------------------------------------------------- */

static enum upstream_error map_error(CURLcode rc, const struct upstream_xfer *x)
{
    switch (rc) {
    case CURLE_OK:
        return UPSTREAM_OK;
    case CURLE_COULDNT_CONNECT:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
        return UPSTREAM_ERR_REFUSED;
    case CURLE_OPERATION_TIMEDOUT:
        return UPSTREAM_ERR_TIMEOUT;
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_HTTP2_STREAM: /* RST_STREAM from an HTTP/2 upstream */
        return UPSTREAM_ERR_RESET;
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_SSL_ENGINE_NOTFOUND:
    case CURLE_SSL_ENGINE_SETFAILED:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_ENGINE_INITFAILED:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_SHUTDOWN_FAILED:
    case CURLE_SSL_CRL_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
    case CURLE_SSL_CLIENTCERT:
    case CURLE_USE_SSL_FAILED:
        return UPSTREAM_ERR_TLS;
    case CURLE_WRITE_ERROR:
        return (x->body_too_big || x->hdr_too_big) ? UPSTREAM_ERR_TOO_BIG : UPSTREAM_ERR_OTHER;
    default:
        return UPSTREAM_ERR_OTHER;
    }
}

/* Debian's 7.88.1 lacks the fix for curl#10646: a dead cached connection can fail a request
 * after curl's own retries picked more dead ones. Retry idempotent requests once, on a fresh
 * connection, when the failed attempt reused a connection and got no response at all. */
static bool try_retry(struct upstream *u, struct upstream_xfer *x, CURLcode rc, long nconnects)
{
    if (x->retried || !x->idempotent || nconnects != 0)
        return false;
    if (rc != CURLE_SEND_ERROR && rc != CURLE_GOT_NOTHING && rc != CURLE_RECV_ERROR)
        return false;
    if (x->nspans || evbuffer_get_length(x->body))
        return false; /* something arrived: not a dead connection */
    long remaining = 0;
    if (x->timeout_ms > 0) {
        remaining = x->timeout_ms - (long)clock_ms_since(&x->t0);
        if (remaining <= 0)
            return false;
    }
    x->retried = true;
    headers_reset(x);
    x->errbuf[0] = '\0';
    if (curl_easy_setopt(x->easy, CURLOPT_FRESH_CONNECT, 1L) != CURLE_OK ||
        curl_easy_setopt(x->easy, CURLOPT_TIMEOUT_MS, remaining) != CURLE_OK)
        return false;
    return curl_multi_add_handle(u->multi, x->easy) == CURLM_OK;
}

/* Report a finished (already removed) transfer and return it to the pool. A <failure> message
 * means the multi itself failed (not this transfer): the result is UPSTREAM_ERR_OTHER. */
static void xfer_complete(struct upstream *u, struct upstream_xfer *x, CURLcode rc,
                          const char *failure)
{
    struct upstream_result res;
    memset(&res, 0, sizeof res);

    xfer_unlink(x);
    u->inflight--;
    res.error = failure ? UPSTREAM_ERR_OTHER : map_error(rc, x);
    if (res.error != UPSTREAM_OK) {
        if (failure)
            res.error_detail = failure;
        else if (x->body_too_big)
            res.error_detail = "response body exceeds max_response_bytes";
        else if (x->hdr_too_big)
            res.error_detail = "response headers exceed the header limits";
        else if (x->errbuf[0])
            res.error_detail = x->errbuf;
        else
            res.error_detail = curl_easy_strerror(rc);
    }
    curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &res.status);
    res.nheaders = headers_finish(x, &res.content_type);
    res.headers = x->out;
    res.body = x->body;
    res.total_ms = clock_ms_since(&x->t0);
    res.answered = res.status != 0 || evbuffer_get_length(x->body) > 0;
    char *ip = NULL;
    if (curl_easy_getinfo(x->easy, CURLINFO_PRIMARY_IP, &ip) == CURLE_OK && ip && *ip)
        res.primary_ip = ip;
    curl_easy_getinfo(x->easy, CURLINFO_PRIMARY_PORT, &res.primary_port);

    x->state = XS_CALLING; /* upstream_cancel(x) from its own callback is a no-op */
    if (x->done)
        x->done(&res, x->arg);
    xfer_put(u, x);
}

static void drain_done(struct upstream *u)
{
    CURLMsg *msg;
    int left;
    while ((msg = curl_multi_info_read(u->multi, &left))) {
        if (msg->msg != CURLMSG_DONE)
            continue;
        CURL *e = msg->easy_handle;
        CURLcode rc = msg->data.result; /* msg is invalid after remove_handle */
        char *p = NULL;
        curl_easy_getinfo(e, CURLINFO_PRIVATE, &p);
        struct upstream_xfer *x = (struct upstream_xfer *)p;
        curl_multi_remove_handle(u->multi, e);
        long nc = easy_num_connects(e);
        u->connects += nc;
        if (x->state != XS_ACTIVE)
            continue; /* cannot happen: cancelled transfers are removed before draining */
        if (rc != CURLE_OK && try_retry(u, x, rc, nc))
            continue;
        xfer_complete(u, x, rc, NULL);
    }
}

static void run_deferred(struct upstream *u)
{
    struct upstream_xfer *x;
    while ((x = xfer_pop(&u->deferred))) {
        curl_multi_remove_handle(u->multi, x->easy);
        u->connects += easy_num_connects(x->easy);
        xfer_put(u, x);
    }
}

static void fail_all(struct upstream *u, CURLMcode mc)
{
    /* Detach the list first: callbacks may start transfers, which must not be failed too. */
    struct upstream_xfer *list = u->active;
    u->active = NULL;
    if (list)
        list->pprev = &list;
    while (list) {
        struct upstream_xfer *x = list;
        curl_multi_remove_handle(u->multi, x->easy);
        u->connects += easy_num_connects(x->easy);
        /* xfer_complete unlinks from <list>; a callback cancelling the next one does too. */
        xfer_complete(u, x, CURLE_OK, curl_multi_strerror(mc));
    }
}

void upstream_cancel(struct upstream_xfer *x)
{
    if (!x || x->state != XS_ACTIVE)
        return; /* finished (or inside its own done callback): nothing to abort */
    struct upstream *u = x->u;
    u->inflight--;
    xfer_unlink(x);
    if (u->depth > 0) {
        /* Inside curl_multi_socket_action remove_handle would fail with
         * CURLM_RECURSIVE_API_CALL: finish the job when it returns. */
        x->state = XS_CANCELLED;
        xfer_link(&u->deferred, x);
        return;
    }
    /* Removing an unfinished transfer closes its connection: the upstream sees the abort. */
    curl_multi_remove_handle(u->multi, x->easy);
    u->connects += easy_num_connects(x->easy);
    xfer_put(u, x);
}

/* ---- lifecycle ----------------------------------------------------------------------------- */

struct upstream *upstream_new(struct event_base *base, const struct upstream_opts *opts)
{
    struct upstream_opts def;
    struct upstream *u = xcalloc(1, sizeof *u);

    upstream_opts_defaults(&def);
    u->base = base;
    u->opts = *opts;
    u->ca_file = opts->ca_file ? xstrdup(opts->ca_file) : NULL;
    u->opts.ca_file = u->ca_file;
    /* Zero means "default" except where zero has a meaning of its own (verify_tls: off), so a
     * zero-initialised struct is never a footgun. */
    if (u->opts.connect_timeout_ms <= 0)
        u->opts.connect_timeout_ms = def.connect_timeout_ms;
    if (u->opts.timeout_ms <= 0)
        u->opts.timeout_ms = def.timeout_ms;
    if (u->opts.max_connects <= 0)
        u->opts.max_connects = def.max_connects;
    if (u->opts.max_idle_ms <= 0)
        u->opts.max_idle_ms = def.max_idle_ms;
    if (u->opts.max_response_bytes == 0)
        u->opts.max_response_bytes = def.max_response_bytes;
    u->maxage_s = (u->opts.max_idle_ms + 999) / 1000;

    if (evtimer_assign(&u->timer, base, on_timeout, u) != 0)
        goto fail;
    u->timer_ready = true;
    u->multi = curl_multi_init();
    u->share = curl_share_init();
    if (!u->multi || !u->share)
        goto fail;
    /* Single-threaded loop: no lock callbacks. The TLS session cache is per easy handle in 7.88
     * unless shared (doc section 4). */
    if (curl_share_setopt(u->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION) != CURLSHE_OK ||
        curl_share_setopt(u->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS) != CURLSHE_OK)
        goto fail;
    if (curl_multi_setopt(u->multi, CURLMOPT_SOCKETFUNCTION, socket_cb) != CURLM_OK ||
        curl_multi_setopt(u->multi, CURLMOPT_SOCKETDATA, u) != CURLM_OK ||
        curl_multi_setopt(u->multi, CURLMOPT_TIMERFUNCTION, timer_cb) != CURLM_OK ||
        curl_multi_setopt(u->multi, CURLMOPT_TIMERDATA, u) != CURLM_OK ||
        curl_multi_setopt(u->multi, CURLMOPT_MAXCONNECTS, u->opts.max_connects) != CURLM_OK)
        goto fail;
    return u;

fail:
    upstream_free(u);
    return NULL;
}

void upstream_free(struct upstream *u)
{
    if (!u)
        return;
    struct upstream_xfer *x;
    while ((x = xfer_pop(&u->active))) {
        curl_multi_remove_handle(u->multi, x->easy);
        xfer_destroy(x);
    }
    while ((x = xfer_pop(&u->deferred))) {
        curl_multi_remove_handle(u->multi, x->easy);
        xfer_destroy(x);
    }
    while ((x = u->pool)) {
        u->pool = x->next;
        xfer_destroy(x);
    }
    u->npool = 0;
    u->inflight = 0;
    /* Easy handles go first: curl_share_cleanup refuses while a handle still uses the share.
     * curl_multi_cleanup closes cached connections and calls socket_cb (REMOVE) for them, so
     * the socket contexts and the base must still be alive here. */
    if (u->multi)
        curl_multi_cleanup(u->multi);
    for (size_t i = 0; i < u->nfds; i++)
        sock_drop(u, (curl_socket_t)i);
    free(u->fds);
    if (u->share)
        curl_share_cleanup(u->share);
    if (u->timer_ready) {
        evtimer_del(&u->timer);
    }
    free(u->ca_file);
    free(u);
}

size_t upstream_inflight(const struct upstream *u)
{
    return u->inflight;
}

long upstream_connects(const struct upstream *u)
{
    return u->connects;
}
