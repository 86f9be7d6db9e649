/*
 * resil: see resil.h.
 *
 * A call's life: admitted by its host's breaker (else a 503 at once), given one of its API's
 * slots on this loop (else a place in the FIFO queue, else a 503 at once), then attempts. Each
 * attempt's outcome feeds the breaker; a retryable one is retried after a back-off (or the
 * upstream's Retry-After) when the deadline, the retry count, the breaker and the budget allow.
 * One event per call serves as the queue's deadline, the back-off timer and the delivery of
 * capproxy's own answers (the done callback never runs inside resil_start).
 */
#include "http/resil.h"

#include <ctype.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <event2/buffer.h>
#include <event2/event_struct.h>

#include "base/clock.h"
#include "base/crypto.h"
#include "base/log.h"
#include "base/metrics.h"
#include "http/ratelimit.h"

/* Distinct APIs and hosts tracked per process; beyond, a call goes without breaker and budget
 * (the names come from the capability documents, so this is never reached in practice). */
#define RESIL_MAX_KEYS 1024
#define RESIL_HOST_MAX 300

/* ---- pure parts ---- */

long resil_backoff_ms(long base_ms, long cap_ms, int attempt, uint32_t rnd)
{
    if (base_ms <= 0 || cap_ms <= 0)
        return 0;
    long ceil_ms = base_ms;
    for (int i = 1; i < attempt && ceil_ms < cap_ms; i++)
        ceil_ms *= 2;
    if (ceil_ms > cap_ms)
        ceil_ms = cap_ms;
    return (long)((uint64_t)rnd * (uint64_t)(ceil_ms + 1) >> 32);
}

long resil_retry_after_ms(const char *v, int64_t now_s)
{
    if (!v)
        return -1;
    while (*v == ' ' || *v == '\t')
        v++;
    if (isdigit((unsigned char)*v)) {
        long s = 0;
        for (; isdigit((unsigned char)*v); v++) {
            if (s > 100000000L)
                return -1;
            s = s * 10 + (*v - '0');
        }
        while (*v == ' ' || *v == '\t')
            v++;
        return *v ? -1 : s * 1000;
    }
    /* An HTTP date: IMF-fixdate, or the obsolete RFC 850 and asctime forms recipients must
     * still accept (RFC 9110 section 5.6.7). libcurl reads them (curl_getdate). */
    time_t at = curl_getdate(v, NULL);
    if (at == (time_t)-1)
        return -1;
    return (int64_t)at <= now_s ? 0 : (long)(((int64_t)at - now_s) * 1000);
}

static size_t budget_slot(struct resil_budget *b, int64_t now_s)
{
    size_t i = (size_t)(now_s % RESIL_BUDGET_WINDOW);
    if (b->sec[i] != now_s) { /* a bucket from an older window: reuse it */
        b->sec[i] = now_s;
        b->requests[i] = 0;
        b->retries[i] = 0;
    }
    return i;
}

void resil_budget_request(struct resil_budget *b, int64_t now_s)
{
    b->requests[budget_slot(b, now_s)]++;
}

bool resil_budget_take(struct resil_budget *b, int64_t now_s, long percent, long min_per_s)
{
    size_t cur = budget_slot(b, now_s);
    long reqs = 0, rets = 0;
    for (size_t i = 0; i < RESIL_BUDGET_WINDOW; i++)
        if (b->sec[i] > now_s - RESIL_BUDGET_WINDOW && b->sec[i] <= now_s) {
            reqs += b->requests[i];
            rets += b->retries[i];
        }
    long allowed = min_per_s * RESIL_BUDGET_WINDOW + reqs * percent / 100;
    if (rets >= allowed)
        return false;
    b->retries[cur]++;
    return true;
}

enum resil_admit resil_breaker_admit(struct resil_breaker *b, const struct config_resil *s,
                                     int64_t now_ms, long *retry_after_ms)
{
    if (s->breaker_failures <= 0)
        return RESIL_ADMIT;
    switch (b->state) {
    case RESIL_CLOSED:
        return RESIL_ADMIT;
    case RESIL_OPEN:
        if (now_ms < b->until_ms) {
            *retry_after_ms = (long)(b->until_ms - now_ms);
            return RESIL_REJECT;
        }
        b->state = RESIL_HALF_OPEN;
        b->probing = true;
        return RESIL_ADMIT_PROBE;
    case RESIL_HALF_OPEN:
        if (b->probing) {
            *retry_after_ms = 1000; /* the probe's answer decides, any moment now */
            return RESIL_REJECT;
        }
        b->probing = true;
        return RESIL_ADMIT_PROBE;
    }
    return RESIL_ADMIT;
}

static void breaker_open(struct resil_breaker *b, long cooldown_ms, int64_t now_ms)
{
    b->state = RESIL_OPEN;
    b->cooldown_ms = cooldown_ms;
    b->until_ms = now_ms + cooldown_ms;
    b->probing = false;
}

int resil_breaker_record(struct resil_breaker *b, const struct config_resil *s, bool probe,
                         bool failure, int64_t now_ms)
{
    if (s->breaker_failures <= 0)
        return -1;
    if (probe && b->state == RESIL_HALF_OPEN) {
        if (failure) {
            long next = b->cooldown_ms * 2;
            if (next > s->breaker_max_cooldown_ms)
                next = s->breaker_max_cooldown_ms;
            if (next < s->breaker_cooldown_ms)
                next = s->breaker_cooldown_ms;
            breaker_open(b, next, now_ms);
            return RESIL_OPEN;
        }
        b->state = RESIL_CLOSED;
        b->failures = 0;
        b->probing = false;
        return RESIL_CLOSED;
    }
    if (b->state != RESIL_CLOSED)
        return -1; /* a call admitted before the circuit opened: the probe decides */
    if (!failure) {
        b->failures = 0;
        return -1;
    }
    if (++b->failures < s->breaker_failures)
        return -1;
    breaker_open(b, s->breaker_cooldown_ms, now_ms);
    return RESIL_OPEN;
}

void resil_breaker_abandon(struct resil_breaker *b)
{
    b->probing = false;
}

const char *resil_bstate_name(enum resil_bstate st)
{
    return st == RESIL_OPEN ? "open" : st == RESIL_HALF_OPEN ? "half_open" : "closed";
}

/* ---- process-wide state ---- */

enum reason { R_REFUSED, R_RESET, R_TIMEOUT, R_429, R_502, R_503, R_504, R_COUNT };
static const char *const reason_names[R_COUNT] = {"refused", "reset", "timeout", "429",
                                                  "502",     "503",   "504"};
enum refusal { REF_OPEN, REF_FULL, REF_TIMEOUT, REF_COUNT };
static const char *const refusal_names[REF_COUNT] = {"circuit_open", "queue_full", "queue_timeout"};

struct sapi {
    char *key;
    uint64_t hash;
    struct resil_budget budget; /* under the mutex */
    atomic_long retries[R_COUNT];
    atomic_long budget_exhausted;
    atomic_long rejected[REF_COUNT];
    atomic_long active; /* calls holding a slot, all loops */
    atomic_long queued; /* calls waiting for one, all loops */
};

struct shost {
    char *key;
    uint64_t hash;
    struct resil_breaker br; /* under the mutex */
    atomic_long transitions[3];
    /* <br> is closed with no failure counted: admitting a call or recording a success changes
     * nothing, so the request path skips the mutex. Written under the mutex (set_healthy). */
    atomic_bool healthy;
};

/* After any change to <s>'s breaker, under the mutex. */
static void set_healthy(struct shost *s)
{
    atomic_store_explicit(&s->healthy, s->br.state == RESIL_CLOSED && s->br.failures == 0,
                          memory_order_release);
}

struct resil_shared {
    pthread_mutex_t mu;
    struct sapi *apis[RESIL_MAX_KEYS];
    size_t napis;
    struct shost *hosts[RESIL_MAX_KEYS];
    size_t nhosts;
};

struct resil_shared *resil_shared_new(void)
{
    struct resil_shared *sh = xcalloc(1, sizeof *sh);
    pthread_mutex_init(&sh->mu, NULL);
    return sh;
}

void resil_shared_free(struct resil_shared *sh)
{
    if (!sh)
        return;
    for (size_t i = 0; i < sh->napis; i++) {
        free(sh->apis[i]->key);
        free(sh->apis[i]);
    }
    for (size_t i = 0; i < sh->nhosts; i++) {
        free(sh->hosts[i]->key);
        free(sh->hosts[i]);
    }
    pthread_mutex_destroy(&sh->mu);
    free(sh);
}

/* The entry for <key> in <tab> (made when new, NULL when the table is full). Under the mutex;
 * each loop caches what it found, so this runs once per loop and key. */
static void *shared_get(struct resil_shared *sh, bool host, const char *key, uint64_t hash)
{
    void **tab = host ? (void **)sh->hosts : (void **)sh->apis;
    size_t *n = host ? &sh->nhosts : &sh->napis;
    void *found = NULL;
    pthread_mutex_lock(&sh->mu);
    for (size_t i = 0; i < *n && !found; i++) {
        const char *k = host ? ((struct shost *)tab[i])->key : ((struct sapi *)tab[i])->key;
        uint64_t h = host ? ((struct shost *)tab[i])->hash : ((struct sapi *)tab[i])->hash;
        if (h == hash && str_eq(k, key))
            found = tab[i];
    }
    if (!found && *n < RESIL_MAX_KEYS) {
        if (host) {
            struct shost *e = xcalloc(1, sizeof *e);
            atomic_init(&e->healthy, true); /* a new breaker is closed, no failure */
            e->key = xstrdup(key);
            e->hash = hash;
            found = e;
        } else {
            struct sapi *e = xcalloc(1, sizeof *e);
            e->key = xstrdup(key);
            e->hash = hash;
            found = e;
        }
        tab[(*n)++] = found;
    }
    pthread_mutex_unlock(&sh->mu);
    return found;
}

static void render_help(struct strbuf *out, const char *name, const char *type, const char *help)
{
    strbuf_addf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void render_series(struct strbuf *out, const char *name, const char *l1, const char *v1,
                          const char *l2, const char *v2, long value)
{
    strbuf_addf(out, "%s{%s=\"", name, l1);
    metrics_label_value(out, v1);
    if (l2) {
        strbuf_addf(out, "\",%s=\"", l2);
        metrics_label_value(out, v2);
    }
    strbuf_addf(out, "\"} %ld\n", value);
}

void resil_metrics_render(struct resil_shared *sh, struct strbuf *out)
{
    if (!sh)
        return;
    pthread_mutex_lock(&sh->mu); /* the tables only grow; the values are atomics */
    size_t napis = sh->napis, nhosts = sh->nhosts;
    enum resil_bstate states[RESIL_MAX_KEYS];
    for (size_t i = 0; i < nhosts; i++)
        states[i] = sh->hosts[i]->br.state;
    pthread_mutex_unlock(&sh->mu);

    const char *n = "capproxy_upstream_retries_total";
    render_help(out, n, "counter", "Upstream attempts retried, by consumed API and cause.");
    for (size_t i = 0; i < napis; i++)
        for (int r = 0; r < R_COUNT; r++) {
            long v = atomic_load(&sh->apis[i]->retries[r]);
            if (v)
                render_series(out, n, "api", sh->apis[i]->key, "reason", reason_names[r], v);
        }
    n = "capproxy_upstream_retry_budget_exhausted_total";
    render_help(out, n, "counter", "Retries not made because the API's retry budget was spent.");
    for (size_t i = 0; i < napis; i++)
        render_series(out, n, "api", sh->apis[i]->key, NULL, NULL,
                      atomic_load(&sh->apis[i]->budget_exhausted));
    n = "capproxy_upstream_rejected_total";
    render_help(out, n, "counter",
                "Calls answered 503 (circuit open, queue full) or 504 (deadline in the queue) "
                "without reaching the upstream.");
    for (size_t i = 0; i < napis; i++)
        for (int r = 0; r < REF_COUNT; r++)
            render_series(out, n, "api", sh->apis[i]->key, "reason", refusal_names[r],
                          atomic_load(&sh->apis[i]->rejected[r]));
    n = "capproxy_upstream_active_calls";
    render_help(out, n, "gauge", "Calls holding one of the API's concurrency slots.");
    for (size_t i = 0; i < napis; i++)
        render_series(out, n, "api", sh->apis[i]->key, NULL, NULL,
                      atomic_load(&sh->apis[i]->active));
    n = "capproxy_upstream_queue_length";
    render_help(out, n, "gauge", "Calls waiting for a concurrency slot of the API.");
    for (size_t i = 0; i < napis; i++)
        render_series(out, n, "api", sh->apis[i]->key, NULL, NULL,
                      atomic_load(&sh->apis[i]->queued));
    n = "capproxy_circuit_state";
    render_help(out, n, "gauge",
                "Circuit breaker per upstream host: 0 closed, 1 open, 2 half-open.");
    for (size_t i = 0; i < nhosts; i++)
        render_series(out, n, "host", sh->hosts[i]->key, NULL, NULL, (long)states[i]);
    n = "capproxy_circuit_transitions_total";
    render_help(out, n, "counter", "Circuit breaker transitions per upstream host, by new state.");
    for (size_t i = 0; i < nhosts; i++)
        for (int s = 0; s < 3; s++)
            render_series(out, n, "host", sh->hosts[i]->key, "to",
                          resil_bstate_name((enum resil_bstate)s),
                          atomic_load(&sh->hosts[i]->transitions[s]));
}

/* ---- one loop's state ---- */

struct lapi { /* an API as this loop sees it */
    struct lapi *next;
    struct sapi *s;
    uint64_t hash;
    char *key;
    long active; /* this loop's calls holding a slot */
    long qlen;
    struct resil_call *qhead, *qtail;
};

struct lhost {
    struct lhost *next;
    struct shost *s;
    uint64_t hash;
    char *key;
    char *raw; /* the URL's "scheme://authority" as first seen: the per-request fast path */
    size_t rawlen;
};

struct resil {
    struct event_base *base;
    struct upstream *u;
    struct resil_shared *sh;
    int nloops;
    struct lapi *apis;
    struct lhost *hosts;
    struct resil_call *calls; /* live, for resil_free */
    uint64_t rng;
    struct ratelimit *rl;  /* resil_set_ratelimit; NULL: none */
    struct lapi *last_api; /* the API loop_api found last (apis live as long as <r>) */
};

enum cstate {
    C_QUEUED,  /* waiting for a slot; <ev> is the deadline */
    C_GRANTED, /* a slot was freed for it; <ev> is active */
    C_RUNNING, /* an attempt is out */
    C_BACKOFF, /* between attempts; <ev> is the back-off */
    C_REFUSE,  /* capproxy answers itself; <ev> is active */
    C_CALLING, /* its done callback runs */
};

struct resil_call {
    struct resil *r;
    struct resil_call *next, *prev;   /* the loop's live calls */
    struct resil_call *qnext, *qprev; /* its API's queue */
    struct outreq *req;
    upstream_done_fn done;
    void *arg;
    struct upstream_xfer *xfer;
    struct event ev;
    enum cstate st;
    struct lapi *api;   /* NULL: no api, or the tables are full */
    struct lhost *host; /* NULL: no breaker */
    struct config_resil set;
    bool may_retry; /* the method or the call is idempotent */
    bool slot;      /* holds one of the API's slots */
    bool probe;     /* is the half-open probe of its host */
    int retries;
    struct timespec t0;
    long deadline_ms; /* from t0 */
    enum refusal refusal;
    long retry_after_ms;
    resil_retry_fn on_retry;  /* resil_on_retry; NULL: none */
    const struct config *cfg; /* resil_start's (the caller pins it until done or cancel) */
    bool rate_held;           /* the back-off holds a turn of the API's outbound rate */
};

struct resil *resil_new(struct event_base *base, struct upstream *u, struct resil_shared *sh,
                        int nloops)
{
    struct resil *r = xcalloc(1, sizeof *r);
    r->base = base;
    r->u = u;
    r->sh = sh;
    r->nloops = nloops > 0 ? nloops : 1;
    if (crypto_random(&r->rng, sizeof r->rng) != 0 || r->rng == 0)
        r->rng = 0x9e3779b97f4a7c15ULL ^ (uint64_t)(uintptr_t)r;
    return r;
}

static void call_free(struct resil_call *c);

void resil_free(struct resil *r)
{
    if (!r)
        return;
    while (r->calls)
        call_free(r->calls);
    for (struct lapi *a = r->apis, *n; a; a = n) {
        n = a->next;
        free(a->key);
        free(a);
    }
    for (struct lhost *h = r->hosts, *n; h; h = n) {
        n = h->next;
        free(h->key);
        free(h->raw);
        free(h);
    }
    free(r);
}

static uint32_t rng_next(struct resil *r)
{
    uint64_t x = r->rng; /* xorshift64: jitter needs spread, not secrecy */
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    r->rng = x;
    return (uint32_t)(x >> 32);
}

static struct lapi *loop_api(struct resil *r, const char *key)
{
    /* Calls mostly go to the API the last one went to: a strcmp, not a hash of the name. */
    if (r->last_api && str_eq(r->last_api->key, key))
        return r->last_api;
    uint64_t h = util_fnv1a(key, strlen(key));
    for (struct lapi *a = r->apis; a; a = a->next)
        if (a->hash == h && str_eq(a->key, key))
            return r->last_api = a;
    struct sapi *s = shared_get(r->sh, false, key, h);
    if (!s)
        return NULL;
    struct lapi *a = xcalloc(1, sizeof *a);
    a->s = s;
    a->hash = h;
    a->key = xstrdup(key);
    a->next = r->apis;
    r->apis = a;
    return r->last_api = a;
}

/* "scheme://host:port" of absolute URL <url>, lower-cased, the default port made explicit, as
 * libcurl reads the URL (the same reading the transfer gets). Only when a host is first seen. */
static bool host_key(const char *url, char *out, size_t cap)
{
    CURLU *u = curl_url();
    char *scheme = NULL, *host = NULL, *port = NULL;
    bool ok = u && curl_url_set(u, CURLUPART_URL, url, CURLU_NON_SUPPORT_SCHEME) == CURLUE_OK &&
              curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
              curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK &&
              curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) == CURLUE_OK;
    if (ok) {
        int n = snprintf(out, cap, "%s://%s:%s", scheme, host, port);
        ok = n > 0 && (size_t)n < cap;
    }
    if (ok)
        for (char *q = out; *q; q++)
            *q = (char)tolower((unsigned char)*q);
    curl_free(scheme);
    curl_free(host);
    curl_free(port);
    curl_url_cleanup(u);
    return ok;
}

static struct lhost *loop_host(struct resil *r, const char *url)
{
    /* Fast path: the URL starts with the very "scheme://authority" a known host was first
     * seen with (the same base URI on every request), so no key to build. */
    const char *p = strstr(url, "://");
    size_t rawlen = p ? (size_t)(p + 3 - url) + strcspn(p + 3, "/?#") : 0;
    for (struct lhost *x = r->hosts; x && rawlen; x = x->next)
        if (x->rawlen == rawlen && memcmp(x->raw, url, rawlen) == 0)
            return x;
    char key[RESIL_HOST_MAX];
    if (!host_key(url, key, sizeof key))
        return NULL;
    uint64_t h = util_fnv1a(key, strlen(key));
    for (struct lhost *x = r->hosts; x; x = x->next)
        if (x->hash == h && str_eq(x->key, key))
            return x;
    struct shost *s = shared_get(r->sh, true, key, h);
    if (!s)
        return NULL;
    struct lhost *x = xcalloc(1, sizeof *x);
    x->s = s;
    x->hash = h;
    x->key = xstrdup(key);
    x->raw = xstrndup(url, rawlen);
    x->rawlen = rawlen;
    x->next = r->hosts;
    r->hosts = x;
    return x;
}

/* ---- the breaker, under the mutex, with transitions counted and logged outside it ---- */

static void log_transition(const struct resil_call *c, int to, enum resil_bstate from,
                           long cooldown_ms, long failures)
{
    atomic_fetch_add(&c->host->s->transitions[to], 1);
    const char *api = c->req->api;
    if (to == RESIL_OPEN)
        LOG_W("circuit breaker for %s (API %s) open%s after %ld failure(s) in a row; next probe "
              "in %ld ms",
              c->host->key, api, from == RESIL_HALF_OPEN ? "ed again: the probe failed," : "ed",
              failures, cooldown_ms);
    else if (to == RESIL_CLOSED)
        LOG_I("circuit breaker for %s (API %s) closed: the probe succeeded", c->host->key, api);
    else
        LOG_I("circuit breaker for %s (API %s) half-open: one probe goes through", c->host->key,
              api);
}

static enum resil_admit admit(struct resil_call *c, long *retry_after_ms)
{
    if (!c->host || c->probe)
        return RESIL_ADMIT;
    if (atomic_load_explicit(&c->host->s->healthy, memory_order_acquire))
        return RESIL_ADMIT; /* closed: resil_breaker_admit would admit and change nothing */
    pthread_mutex_t *mu = &c->r->sh->mu;
    pthread_mutex_lock(mu);
    enum resil_bstate from = c->host->s->br.state;
    enum resil_admit a =
        resil_breaker_admit(&c->host->s->br, &c->set, clock_mono_ns() / 1000000, retry_after_ms);
    enum resil_bstate to = c->host->s->br.state;
    set_healthy(c->host->s);
    pthread_mutex_unlock(mu);
    if (to != from)
        log_transition(c, (int)to, from, 0, 0);
    c->probe = a == RESIL_ADMIT_PROBE;
    return a;
}

static void record(struct resil_call *c, bool failure)
{
    if (!c->host)
        return;
    /* A success on a healthy breaker would only set its failure count to the 0 it is. */
    if (!failure && !c->probe && atomic_load_explicit(&c->host->s->healthy, memory_order_acquire))
        return;
    pthread_mutex_t *mu = &c->r->sh->mu;
    pthread_mutex_lock(mu);
    struct resil_breaker *b = &c->host->s->br;
    enum resil_bstate from = b->state;
    long failures = b->failures;
    int to = resil_breaker_record(b, &c->set, c->probe, failure, clock_mono_ns() / 1000000);
    long cooldown = b->cooldown_ms;
    set_healthy(c->host->s);
    pthread_mutex_unlock(mu);
    c->probe = false;
    if (to >= 0)
        log_transition(c, to, from, cooldown, from == RESIL_CLOSED ? failures + 1 : 1);
}

static void abandon_probe(struct resil_call *c)
{
    if (!c->probe)
        return;
    pthread_mutex_lock(&c->r->sh->mu);
    resil_breaker_abandon(&c->host->s->br);
    set_healthy(c->host->s);
    pthread_mutex_unlock(&c->r->sh->mu);
    c->probe = false;
}

static bool circuit_closed(const struct resil_call *c)
{
    if (!c->host)
        return true;
    pthread_mutex_lock(&c->r->sh->mu);
    bool closed = c->host->s->br.state == RESIL_CLOSED;
    pthread_mutex_unlock(&c->r->sh->mu);
    return closed;
}

/* ---- slots and the queue ---- */

/* A loop's share of a per-process <total>: rounded down, so that the loops together stay within
 * it (rounding up let 2 workers run 4 calls under maxConcurrent 3), but at least 1 so that
 * every worker can make progress (a total below the workers is exceeded: documented). 0 stays 0. */
static long per_loop(long total, int nloops)
{
    if (total <= 0)
        return 0; /* queue 0: none */
    long share = total / nloops;
    return share > 0 ? share : 1;
}

static void dequeue(struct resil_call *c)
{
    struct lapi *a = c->api;
    if (c->qprev)
        c->qprev->qnext = c->qnext;
    else
        a->qhead = c->qnext;
    if (c->qnext)
        c->qnext->qprev = c->qprev;
    else
        a->qtail = c->qprev;
    c->qnext = c->qprev = NULL;
    a->qlen--;
    atomic_fetch_sub(&a->s->queued, 1);
}

static void take_slot(struct resil_call *c)
{
    c->slot = true;
    c->api->active++;
    atomic_fetch_add(&c->api->s->active, 1);
}

/* Give <c>'s slot to the head of its API's queue, started from the loop (never from inside the
 * caller that freed the slot). */
static void release_slot(struct resil_call *c)
{
    if (!c->slot)
        return;
    c->slot = false;
    struct lapi *a = c->api;
    a->active--;
    atomic_fetch_sub(&a->s->active, 1);
    struct resil_call *w = a->qhead;
    if (!w)
        return;
    dequeue(w);
    take_slot(w);
    event_del(&w->ev);
    w->st = C_GRANTED;
    event_active(&w->ev, EV_TIMEOUT, 1);
}

/* ---- delivering ---- */

static void call_free(struct resil_call *c)
{
    struct resil *r = c->r;
    event_del(&c->ev);
    if (c->st == C_QUEUED)
        dequeue(c);
    if (c->xfer)
        upstream_cancel(c->xfer);
    if (c->rate_held) /* cancelled in the back-off: the turn goes to the transfers after it */
        ratelimit_out_refund(c->r->rl, c->cfg, c->req->api);
    abandon_probe(c);
    release_slot(c);
    if (c->prev)
        c->prev->next = c->next;
    else
        r->calls = c->next;
    if (c->next)
        c->next->prev = c->prev;
    free(c);
}

/* Hand <res> to the caller and end <c>. */
static void finish(struct resil_call *c, const struct upstream_result *res)
{
    abandon_probe(c);
    release_slot(c);
    c->st = C_CALLING;
    c->done(res, c->arg);
    call_free(c);
}

/* capproxy's own answer: a 503 problem with Retry-After (circuit open, queue full), or a
 * time-out (the deadline passed in the queue). */
static void refuse(struct resil_call *c)
{
    struct sapi *s = c->api ? c->api->s : NULL;
    if (s)
        atomic_fetch_add(&s->rejected[c->refusal], 1);
    struct upstream_result res = {.refused = refusal_names[c->refusal]};
    char detail[512], after[24];
    struct upstream_header hdr = {"Retry-After", after};
    if (c->refusal == REF_TIMEOUT) {
        snprintf(detail, sizeof detail,
                 "no free upstream slot for API '%s' within the deadline (maxConcurrent)",
                 c->req->api);
        res.error = UPSTREAM_ERR_TIMEOUT;
        res.error_detail = detail;
        res.total_ms = clock_ms_since(&c->t0);
        finish(c, &res);
        return;
    }
    if (c->refusal == REF_OPEN)
        snprintf(detail, sizeof detail,
                 "the circuit breaker for API '%s' is open: its upstream %s failed repeatedly; "
                 "capproxy answers at once until a probe succeeds",
                 c->req->api, c->host ? c->host->key : "");
    else
        snprintf(detail, sizeof detail,
                 "too many calls to API '%s' are waiting already (maxConcurrent and queue)",
                 c->req->api);
    long secs = (c->retry_after_ms + 999) / 1000;
    snprintf(after, sizeof after, "%ld", secs > 0 ? secs : 1);
    cJSON *p = cJSON_CreateObject();
    cJSON_AddStringToObject(p, "type", "about:blank");
    cJSON_AddStringToObject(p, "title", "Service Unavailable");
    cJSON_AddNumberToObject(p, "status", 503);
    cJSON_AddStringToObject(p, "detail", detail);
    cJSON_AddStringToObject(p, "api", c->req->api);
    cJSON_AddStringToObject(p, "reason", refusal_names[c->refusal]);
    char *text = cJSON_PrintUnformatted(p);
    cJSON_Delete(p);
    res.body = evbuffer_new();
    if (text)
        evbuffer_add(res.body, text, strlen(text));
    cJSON_free(text);
    res.status = 503;
    res.content_type = "application/problem+json";
    res.headers = &hdr;
    res.nheaders = 1;
    struct evbuffer *body = res.body;
    finish(c, &res);
    evbuffer_free(body);
}

/* Refuse <c> from the loop: resil_start must not call back. */
static void refuse_later(struct resil_call *c, enum refusal why, long retry_after_ms)
{
    c->refusal = why;
    c->retry_after_ms = retry_after_ms;
    c->st = C_REFUSE;
    event_active(&c->ev, EV_TIMEOUT, 1);
}

/* ---- attempts ---- */

static void on_attempt_done(const struct upstream_result *res, void *arg);

static long remaining_ms(const struct resil_call *c)
{
    return c->deadline_ms - (long)clock_ms_since(&c->t0);
}

static int attempt(struct resil_call *c)
{
    long left = remaining_ms(c);
    c->req->timeout_ms = left > 1 ? left : 1;
    c->st = C_RUNNING;
    c->rate_held = false; /* its turn is now */
    c->xfer = upstream_start(c->r->u, c->req, on_attempt_done, c);
    return c->xfer ? 0 : -1;
}

/* An attempt from the loop (a granted slot, the end of a back-off): admitted again by the
 * breaker, and answered at once when it cannot go. */
static void attempt_now(struct resil_call *c)
{
    long ra = 0;
    if (admit(c, &ra) == RESIL_REJECT) {
        c->refusal = REF_OPEN;
        c->retry_after_ms = ra;
        refuse(c);
        return;
    }
    if (attempt(c) == 0)
        return;
    struct upstream_result res = {.error = UPSTREAM_ERR_OTHER,
                                  .error_detail = "the upstream request could not be started",
                                  .total_ms = clock_ms_since(&c->t0)};
    finish(c, &res);
}

static void on_event(evutil_socket_t fd, short what, void *arg)
{
    struct resil_call *c = arg;
    (void)fd;
    (void)what;
    switch (c->st) {
    case C_QUEUED:
        dequeue(c);
        c->refusal = REF_TIMEOUT;
        refuse(c);
        return;
    case C_GRANTED:
    case C_BACKOFF:
        attempt_now(c);
        return;
    case C_REFUSE:
        refuse(c);
        return;
    case C_RUNNING:
    case C_CALLING:
        return;
    }
}

static bool is_failure(const struct upstream_result *res)
{
    if (res->error == UPSTREAM_OK)
        return res->status >= 500;
    return res->error != UPSTREAM_ERR_TOO_BIG;
}

/* Why <res> may be retried, or -1: a connection that failed before any response byte, or one of
 * the statuses that say "try again" received in full. */
static int retry_reason(const struct upstream_result *res)
{
    if (res->error == UPSTREAM_OK) {
        switch (res->status) {
        case 429:
            return R_429;
        case 502:
            return R_502;
        case 503:
            return R_503;
        case 504:
            return R_504;
        default:
            return -1;
        }
    }
    if (res->answered)
        return -1; /* the upstream started to answer: it may have acted */
    switch (res->error) {
    case UPSTREAM_ERR_REFUSED:
        return R_REFUSED;
    case UPSTREAM_ERR_RESET:
        return R_RESET;
    case UPSTREAM_ERR_TIMEOUT:
        return R_TIMEOUT;
    default:
        return -1;
    }
}

static const char *find_header(const struct upstream_result *res, const char *name)
{
    for (size_t i = 0; i < res->nheaders; i++)
        if (str_eq_ci(res->headers[i].name, name))
            return res->headers[i].value;
    return NULL;
}

/* The delay before retrying <c> after <res> (reason <why>), or -1 when it is not retried. */
static long retry_delay(struct resil_call *c, const struct upstream_result *res, int why)
{
    if (!c->may_retry || c->retries >= c->set.retries || !circuit_closed(c))
        return -1;
    long delay = resil_backoff_ms(c->set.backoff_base_ms, c->set.backoff_cap_ms, c->retries + 1,
                                  rng_next(c->r));
    if (why == R_429 || why == R_503) {
        long ra = resil_retry_after_ms(find_header(res, "Retry-After"), clock_now_s());
        if (ra >= 0)
            delay = ra; /* the upstream said when; too late for the deadline: it goes back */
    }
    if (delay >= remaining_ms(c))
        return -1;
    /* The retry's turn under the outbound rate: it waits for it like a first attempt (the
     * longer of that and the back-off, within the deadline), and is not made when the rate
     * would refuse it (the last answer goes back). */
    int64_t wait_ns = 0;
    enum ratelimit_out ro = ratelimit_out_take(c->r->rl, c->cfg, c->req->api, &wait_ns);
    if (ro == RATELIMIT_REFUSE)
        return -1;
    long wait_ms = (long)((wait_ns + 999999) / 1000000);
    if (wait_ms > delay)
        delay = wait_ms;
    bool ok = delay < remaining_ms(c);
    if (ok && c->api) {
        pthread_mutex_lock(&c->r->sh->mu);
        ok = resil_budget_take(&c->api->s->budget, clock_now_s(), c->set.budget_percent,
                               c->set.budget_min_per_s);
        pthread_mutex_unlock(&c->r->sh->mu);
        if (!ok)
            atomic_fetch_add(&c->api->s->budget_exhausted, 1);
        else
            atomic_fetch_add(&c->api->s->retries[why], 1);
    }
    if (!ok) {
        if (ro == RATELIMIT_WAIT)
            ratelimit_out_refund(c->r->rl, c->cfg, c->req->api);
        return -1;
    }
    c->rate_held = ro == RATELIMIT_WAIT;
    return delay;
}

static void on_attempt_done(const struct upstream_result *res, void *arg)
{
    struct resil_call *c = arg;
    c->xfer = NULL;
    record(c, is_failure(res));
    int why = retry_reason(res);
    long delay = why >= 0 ? retry_delay(c, res, why) : -1;
    if (delay < 0) {
        finish(c, res);
        return;
    }
    c->retries++;
    LOG_D("retrying %s call to %s in %ld ms (%s, retry %d of %ld)", c->req->api,
          c->host ? c->host->key : "?", delay, reason_names[why], c->retries, c->set.retries);
    c->st = C_BACKOFF;
    if (c->on_retry)
        c->on_retry(res, delay, c->arg);
    struct timeval tv = {delay / 1000, (delay % 1000) * 1000};
    evtimer_add(&c->ev, &tv);
}

struct resil_call *resil_start(struct resil *r, const struct config *cfg, struct outreq *req,
                               upstream_done_fn done, void *arg)
{
    struct resil_call *c = xcalloc(1, sizeof *c);
    c->r = r;
    c->req = req;
    c->done = done;
    c->arg = arg;
    c->cfg = cfg;
    clock_mono(&c->t0);
    c->deadline_ms = cfg->upstream_timeout_ms;
    evtimer_assign(&c->ev, r->base, on_event, c);
    c->next = r->calls;
    if (r->calls)
        r->calls->prev = c;
    r->calls = c;
    enum model_method m = req->method;
    c->may_retry = req->idempotent || m == MODEL_GET || m == MODEL_HEAD || m == MODEL_PUT ||
                   m == MODEL_DELETE || m == MODEL_OPTIONS;
    if (!req->api) { /* capproxy's own fetch: none of this */
        c->set.retries = 0;
        goto go;
    }
    config_resil_for(cfg, req->api, &c->set);
    c->api = loop_api(r, req->api);
    c->host = req->url.data ? loop_host(r, req->url.data) : NULL;
    long ra = 0;
    if (admit(c, &ra) == RESIL_REJECT) {
        refuse_later(c, REF_OPEN, ra);
        return c;
    }
    if (!c->api)
        goto go;
    pthread_mutex_lock(&r->sh->mu);
    resil_budget_request(&c->api->s->budget, clock_now_s());
    pthread_mutex_unlock(&r->sh->mu);
    if (c->set.max_concurrent > 0 && c->api->active >= per_loop(c->set.max_concurrent, r->nloops)) {
        if (c->api->qlen >= per_loop(c->set.queue, r->nloops)) {
            refuse_later(c, REF_FULL, 1000);
            return c;
        }
        struct lapi *a = c->api;
        c->qprev = a->qtail;
        if (a->qtail)
            a->qtail->qnext = c;
        else
            a->qhead = c;
        a->qtail = c;
        a->qlen++;
        atomic_fetch_add(&a->s->queued, 1);
        c->st = C_QUEUED;
        long left = remaining_ms(c);
        struct timeval tv = {left / 1000, (left % 1000) * 1000};
        evtimer_add(&c->ev, &tv);
        return c;
    }
    take_slot(c);
go:
    if (attempt(c) == 0)
        return c;
    c->st = C_CALLING; /* nothing pending: free without a callback */
    call_free(c);
    return NULL;
}

void resil_cancel(struct resil_call *c)
{
    if (!c || c->st == C_CALLING)
        return;
    call_free(c);
}

void resil_on_retry(struct resil_call *c, resil_retry_fn fn)
{
    if (c)
        c->on_retry = fn;
}

void resil_set_ratelimit(struct resil *r, struct ratelimit *rl)
{
    r->rl = rl;
}
