/*
 * ratelimit: see ratelimit.h. Both tables take the time before their lock, so the critical
 * sections are a hash lookup, the bucket arithmetic and at most one allocation and one free.
 */
#include "http/ratelimit.h"

#include <math.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "base/clock.h"
#include "base/crypto.h"
#include "base/log.h"
#include "base/metrics.h"
#include "base/secret.h"
#include "core/digest.h"
#include "core/inbound.h"
#include "http/exchange.h"

/* Shards of the client table: workers rarely meet on one mutex. A power of two. */
#define RL_SHARDS 64

struct rl_entry {
    uint8_t key[RATELIMIT_KEY_LEN];
    struct tbucket b;
    struct rl_entry *hnext;       /* hash chain */
    struct rl_entry *prev, *next; /* the shard's recency list, most recent first */
};

struct rl_shard {
    pthread_mutex_t lock;
    struct rl_entry **slots;
    size_t nslots; /* a power of two, >= n */
    size_t n;
    struct rl_entry lru; /* sentinel of the recency list */
};

/* One consumed API's outbound bucket; the list only grows (the APIs of the documents). */
struct rl_api {
    char *name;
    struct tbucket b;
    long delayed, refused; /* under the api lock */
    struct rl_api *next;
};

struct ratelimit {
    struct rl_shard shards[RL_SHARDS];
    uint8_t hmac_key[32]; /* per process: a key never equals the HMAC of a guess elsewhere */
    atomic_long keys;
    atomic_long limited;
    atomic_long evicted;
    pthread_mutex_t api_lock;
    struct rl_api *apis;
};

struct ratelimit *ratelimit_new(void)
{
    struct ratelimit *rl = xcalloc(1, sizeof *rl);
    for (size_t i = 0; i < RL_SHARDS; i++) {
        struct rl_shard *s = &rl->shards[i];
        pthread_mutex_init(&s->lock, NULL);
        s->nslots = 16;
        s->slots = xcalloc(s->nslots, sizeof *s->slots);
        s->lru.prev = s->lru.next = &s->lru;
    }
    if (crypto_random(rl->hmac_key, sizeof rl->hmac_key) < 0)
        LOG_W("no random bytes for the rate-limit key: client keys are plain SHA-256 hashes");
    atomic_init(&rl->keys, 0);
    atomic_init(&rl->limited, 0);
    atomic_init(&rl->evicted, 0);
    pthread_mutex_init(&rl->api_lock, NULL);
    return rl;
}

void ratelimit_free(struct ratelimit *rl)
{
    if (!rl)
        return;
    for (size_t i = 0; i < RL_SHARDS; i++) {
        struct rl_shard *s = &rl->shards[i];
        for (struct rl_entry *e = s->lru.next, *next; e != &s->lru; e = next) {
            next = e->next;
            free(e);
        }
        free(s->slots);
        pthread_mutex_destroy(&s->lock);
    }
    for (struct rl_api *a = rl->apis, *next; a; a = next) {
        next = a->next;
        free(a->name);
        free(a);
    }
    pthread_mutex_destroy(&rl->api_lock);
    free(rl);
}

/* ---- the client table ---- */

static uint64_t key_word(const uint8_t *k)
{
    uint64_t w;
    memcpy(&w, k, sizeof w);
    return w;
}

static void lru_unlink(struct rl_entry *e)
{
    e->prev->next = e->next;
    e->next->prev = e->prev;
}

static void lru_push(struct rl_shard *s, struct rl_entry *e)
{
    e->next = s->lru.next;
    e->prev = &s->lru;
    s->lru.next->prev = e;
    s->lru.next = e;
}

static struct rl_entry **slot_of(struct rl_shard *s, const uint8_t *key)
{
    return &s->slots[key_word(key + 8) & (s->nslots - 1)];
}

/* Remove <e> from its hash chain. Lock held. */
static void chain_remove(struct rl_shard *s, struct rl_entry *e)
{
    for (struct rl_entry **pp = slot_of(s, e->key); *pp; pp = &(*pp)->hnext)
        if (*pp == e) {
            *pp = e->hnext;
            return;
        }
}

static void grow(struct rl_shard *s)
{
    size_t nb = s->nslots * 2;
    struct rl_entry **slots = xcalloc(nb, sizeof *slots);
    for (size_t i = 0; i < s->nslots; i++)
        for (struct rl_entry *e = s->slots[i], *next; e; e = next) {
            next = e->hnext;
            size_t j = key_word(e->key + 8) & (nb - 1);
            e->hnext = slots[j];
            slots[j] = e;
        }
    free(s->slots);
    s->slots = slots;
    s->nslots = nb;
}

bool ratelimit_take_key(struct ratelimit *rl, const uint8_t key[RATELIMIT_KEY_LEN],
                        const struct config_rate *r, long max_keys, int64_t now_ns,
                        struct tbucket_verdict *v)
{
    double burst = (double)(r->burst > 0 ? r->burst : r->count);
    double rate = (double)r->count * 1000.0 / (double)r->period_ms;
    size_t cap = (size_t)(max_keys + RL_SHARDS - 1) / RL_SHARDS;
    struct rl_shard *s = &rl->shards[key_word(key) & (RL_SHARDS - 1)];
    pthread_mutex_lock(&s->lock);
    struct rl_entry *e = *slot_of(s, key);
    while (e && memcmp(e->key, key, RATELIMIT_KEY_LEN) != 0)
        e = e->hnext;
    if (e) {
        lru_unlink(e);
    } else {
        /* A full shard forgets its least recently seen client: most likely one whose bucket
         * has filled up again, which a new entry equals. */
        if (s->n >= cap && s->lru.prev != &s->lru) {
            e = s->lru.prev;
            lru_unlink(e);
            chain_remove(s, e);
            s->n--;
            atomic_fetch_sub(&rl->keys, 1);
            atomic_fetch_add(&rl->evicted, 1);
        } else {
            e = xmalloc(sizeof *e);
        }
        if (s->n >= s->nslots)
            grow(s);
        memcpy(e->key, key, RATELIMIT_KEY_LEN);
        tbucket_init(&e->b, burst, now_ns);
        struct rl_entry **slot = slot_of(s, key);
        e->hnext = *slot;
        *slot = e;
        s->n++;
        atomic_fetch_add(&rl->keys, 1);
    }
    lru_push(s, e);
    bool ok = tbucket_take(&e->b, rate, burst, now_ns, 0, v);
    pthread_mutex_unlock(&s->lock);
    return ok;
}

long ratelimit_keys(const struct ratelimit *rl)
{
    return atomic_load(&((struct ratelimit *)rl)->keys);
}

/* ---- inbound ---- */

/* What <a> identifies the client by, once the request passed it: a static credential has one
 * value (the configured one, which the request presented), digest one user, and an oauth2
 * token is the client's own. */
static const char *identity(struct evhttp_request *req, const struct rt_inbound *a)
{
    const struct evkeyvalq *h = evhttp_request_get_input_headers(req);
    switch (a->kind) {
    case MODEL_AUTH_DIGEST:
        return a->digest && a->digest->username ? a->digest->username : "";
    case MODEL_AUTH_OAUTH2: {
        const char *t = inbound_token(evhttp_find_header(h, "Authorization"), "Bearer");
        return t ? t : "";
    }
    default:
        return a->expected ? a->expected : "";
    }
}

/* The client's key: an HMAC of its credentials (kind, name, value of each), else of its
 * address (without the port). */
static void client_key(struct ratelimit *rl, struct evhttp_request *req,
                       const struct rt_inbound *const *auth, size_t n,
                       uint8_t out[RATELIMIT_KEY_LEN])
{
    struct strbuf m;
    strbuf_init(&m, 0);
    for (size_t i = 0; i < n; i++) {
        const char *id = identity(req, auth[i]);
        strbuf_addf(&m, "cred %d %s", (int)auth[i]->kind, auth[i]->name ? auth[i]->name : "");
        strbuf_add(&m, "", 1);
        strbuf_add(&m, id, strlen(id) + 1);
    }
    if (n == 0) {
        struct evhttp_connection *evcon = evhttp_request_get_connection(req);
        const struct sockaddr *sa = evcon ? evhttp_connection_get_addr(evcon) : NULL;
        strbuf_adds(&m, "addr ");
        if (sa && sa->sa_family == AF_INET)
            strbuf_add(&m, &((const struct sockaddr_in *)sa)->sin_addr, 4);
        else if (sa && sa->sa_family == AF_INET6)
            strbuf_add(&m, &((const struct sockaddr_in6 *)sa)->sin6_addr, 16);
    }
    uint8_t mac[CRYPTO_SHA256_LEN];
    crypto_hmac_sha256(rl->hmac_key, sizeof rl->hmac_key, m.data ? m.data : "", m.len, mac);
    memcpy(out, mac, RATELIMIT_KEY_LEN);
    if (m.data)
        secret_wipe(m.data, m.len); /* it held credentials */
    strbuf_deinit(&m);
}

static long ceil_s(int64_t ns)
{
    /* Not (ns + S - 1) / S: a reset time saturated at INT64_MAX (base/tbucket.c) would wrap. */
    return (long)(ns / TBUCKET_NS_PER_S + (ns % TBUCKET_NS_PER_S > 0));
}

bool ratelimit_in(struct exchange *x, const struct rt_inbound *const *auth, size_t n)
{
    const struct config *cfg = exchange_config(x);
    struct ratelimit *rl = loop_ratelimit(exchange_loop(x));
    const struct config_rate *r = &cfg->rate_limit;
    if (!rl || r->count <= 0)
        return true;
    uint8_t key[RATELIMIT_KEY_LEN];
    client_key(rl, exchange_req(x), auth, n, key);
    struct tbucket_verdict v;
    bool ok = ratelimit_take_key(rl, key, r, cfg->rate_limit_clients, clock_mono_ns(), &v);
    char buf[64];
    snprintf(buf, sizeof buf, "%ld", r->burst > 0 ? r->burst : r->count);
    exchange_fix_header(x, "RateLimit-Limit", buf);
    snprintf(buf, sizeof buf, "%ld", v.remaining);
    exchange_fix_header(x, "RateLimit-Remaining", buf);
    snprintf(buf, sizeof buf, "%ld", ceil_s(v.full_ns));
    exchange_fix_header(x, "RateLimit-Reset", buf);
    if (r->period_ms % 1000 == 0) {
        snprintf(buf, sizeof buf, "%ld;w=%ld", r->count, r->period_ms / 1000);
        exchange_fix_header(x, "RateLimit-Policy", buf);
    }
    if (!ok) {
        long s = ceil_s(v.wait_ns);
        snprintf(buf, sizeof buf, "%ld", s > 0 ? s : 1);
        exchange_fix_header(x, "Retry-After", buf);
        atomic_fetch_add(&rl->limited, 1);
    }
    return ok;
}

/* ---- outbound ---- */

/* The rate of consumed API <api> under <cfg>: false when it has none. */
static bool api_rate(struct ratelimit *rl, const struct config *cfg, const char *api, double *rate,
                     double *burst, long *max_wait_ms)
{
    const struct config_consumer *cc = api && rl ? config_consumer_for(cfg, api) : NULL;
    if (!cc || cc->rate.count <= 0)
        return false;
    *burst = (double)(cc->rate.burst > 0 ? cc->rate.burst : 1);
    *rate = (double)cc->rate.count * 1000.0 / (double)cc->rate.period_ms;
    *max_wait_ms = cc->rate_max_wait_ms;
    return true;
}

/* <api>'s entry, NULL when none has been made. api_lock held. */
static struct rl_api *api_find(struct ratelimit *rl, const char *api)
{
    struct rl_api *a = rl->apis;
    while (a && strcmp(a->name, api) != 0)
        a = a->next;
    return a;
}

enum ratelimit_out ratelimit_out_take(struct ratelimit *rl, const struct config *cfg,
                                      const char *api, int64_t *wait_ns)
{
    *wait_ns = 0;
    double rate, burst;
    long max_wait_ms;
    if (!api_rate(rl, cfg, api, &rate, &burst, &max_wait_ms))
        return RATELIMIT_GO;
    int64_t now = clock_mono_ns();
    pthread_mutex_lock(&rl->api_lock);
    struct rl_api *a = api_find(rl, api);
    if (!a) {
        a = xcalloc(1, sizeof *a);
        a->name = xstrdup(api);
        tbucket_init(&a->b, burst, now);
        a->next = rl->apis;
        rl->apis = a;
    }
    struct tbucket_verdict v;
    bool ok = tbucket_take(&a->b, rate, burst, now, (int64_t)max_wait_ms * 1000000, &v);
    if (!ok)
        a->refused++;
    else if (v.wait_ns > 0)
        a->delayed++;
    pthread_mutex_unlock(&rl->api_lock);
    *wait_ns = v.wait_ns;
    return !ok ? RATELIMIT_REFUSE : v.wait_ns > 0 ? RATELIMIT_WAIT : RATELIMIT_GO;
}

void ratelimit_out_refund(struct ratelimit *rl, const struct config *cfg, const char *api)
{
    double rate, burst;
    long max_wait_ms;
    if (!api_rate(rl, cfg, api, &rate, &burst, &max_wait_ms))
        return; /* a reload took the rate away: nothing to give back */
    int64_t now = clock_mono_ns();
    pthread_mutex_lock(&rl->api_lock);
    struct rl_api *a = api_find(rl, api);
    if (a)
        tbucket_refund(&a->b, rate, burst, now);
    pthread_mutex_unlock(&rl->api_lock);
}

/* ---- metrics ---- */

void ratelimit_metrics(struct ratelimit *rl, struct strbuf *out)
{
    if (!rl)
        return;
    strbuf_addf(out,
                "# HELP capproxy_ratelimit_inbound_limited_total Client requests refused (429) by "
                "limits.rateLimit.\n# TYPE capproxy_ratelimit_inbound_limited_total counter\n"
                "capproxy_ratelimit_inbound_limited_total %ld\n",
                atomic_load(&rl->limited));
    strbuf_addf(out,
                "# HELP capproxy_ratelimit_inbound_clients Clients (credentials or addresses) "
                "tracked by limits.rateLimit.\n# TYPE capproxy_ratelimit_inbound_clients gauge\n"
                "capproxy_ratelimit_inbound_clients %ld\n",
                atomic_load(&rl->keys));
    strbuf_addf(out,
                "# HELP capproxy_ratelimit_inbound_evicted_total Clients forgotten to stay within "
                "limits.rateLimitClients.\n# TYPE capproxy_ratelimit_inbound_evicted_total "
                "counter\ncapproxy_ratelimit_inbound_evicted_total %ld\n",
                atomic_load(&rl->evicted));
    strbuf_adds(out, "# HELP capproxy_ratelimit_outbound_total Upstream transfers held back "
                     "(delayed) or refused (429) by a consumed API's rate.\n"
                     "# TYPE capproxy_ratelimit_outbound_total counter\n");
    pthread_mutex_lock(&rl->api_lock);
    for (const struct rl_api *a = rl->apis; a; a = a->next) {
        /* Escaped like every other label value (a namespace is the document's choice). */
        static const char *const outcome[2] = {"delayed", "refused"};
        for (int i = 0; i < 2; i++) {
            strbuf_adds(out, "capproxy_ratelimit_outbound_total{api=\"");
            metrics_label_value(out, a->name);
            strbuf_addf(out, "\",outcome=\"%s\"} %ld\n", outcome[i], i ? a->refused : a->delayed);
        }
    }
    pthread_mutex_unlock(&rl->api_lock);
}
