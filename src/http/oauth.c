/*
 * oauth: see oauth.h.
 *
 * Per loop, one record per authorization server (its issuer URI): its metadata, its key set
 * and at most one fetch in flight, with the requests waiting for that fetch. Introspection
 * answers live in a small per-loop table keyed by (server, SHA-256 of the token). Nothing is
 * shared between loops, so nothing is locked; each loop fetches for itself (a handful of
 * requests per worker and key rotation).
 */
#include "http/oauth.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/event_struct.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "base/crypto.h"
#include "base/b64.h"
#include "base/clock.h"
#include "base/log.h"
#include "base/secret.h"
#include "base/util.h"
#include "core/inbound.h"
#include "core/jwt.h"
#include "spec/config.h"
#include "spec/urlenc.h"

/* A key set is kept max-age seconds (Cache-Control), within these bounds; this without one. */
#define OAUTH_KEYS_TTL_MIN_S     60
#define OAUTH_KEYS_TTL_MAX_S     86400
#define OAUTH_KEYS_TTL_DEFAULT_S 300
/* After a failed fetch, requests get 503 at once for this long instead of each fetching. */
#define OAUTH_RETRY_S 5
/* Requests waiting for one fetch; more get 503 (the connection limit bounds them anyway). */
#define OAUTH_MAX_WAITERS 4096
/* Introspection answers kept per loop, and for how long: an active token until its exp but at
 * most OAUTH_INTROSPECT_TTL_S (a revocation is seen that late), an inactive one as long, an
 * error briefly. */
#define OAUTH_INTROSPECT_CACHE     1024
#define OAUTH_INTROSPECT_TTL_S     60
#define OAUTH_INTROSPECT_ERR_TTL_S 5

struct waiter {
    struct exchange *x;
    oauth_resume_fn fn;
    void *arg;
    struct fetch *f;
    struct waiter *prev, *next;
};

/* One HTTP fetch towards an authorization server, and the requests waiting for it. */
struct fetch {
    struct oauth_state *s;
    struct upstream_xfer *xfer;
    struct outreq req;
    struct event timer; /* oauth2.fetchTimeout */
    bool timer_set;
    void (*done)(struct fetch *f, const struct upstream_result *res); /* res NULL: timed out */
    struct waiter *waiters;
    size_t nwaiters;
};

struct issuer {
    char *uri;      /* authorizationServerUri, one trailing '/' removed */
    bool want_keys; /* a jwks adapter uses it (else only its metadata is needed) */
    /* metadata */
    bool have_meta;
    char *jwks_uri;
    char *introspection_uri;
    int meta_step; /* which of the discovery URLs is being tried */
    /* keys */
    struct jwt_keyset ks;
    bool have_keys;
    int64_t keys_until;   /* refetch after this (the set stays usable meanwhile) */
    int64_t last_fetch;   /* the last key fetch's end: unknown kids refetch after min refresh */
    int64_t failed_until; /* the last fetch failed: 503 until then */
    char failure[160];
    struct fetch f;
    bool busy;
};

struct intro_entry {
    const struct issuer *iss;
    unsigned char hash[32];
    int64_t until; /* 0: slot free */
    cJSON *answer; /* active: the introspection answer; NULL: inactive or error */
    bool error;
};

/* An introspection request in flight. */
struct intro {
    struct fetch f; /* first: a struct fetch * is a struct intro * */
    struct issuer *iss;
    unsigned char hash[32];
    struct intro *next;
};

struct oauth_state {
    struct loop *l;
    struct issuer **iss;
    size_t niss;
    struct intro *intros;
    struct intro_entry *cache; /* OAUTH_INTROSPECT_CACHE slots, allocated on first use */
};

/* ---- state ---- */

struct oauth_state *oauth_state_new(struct loop *l)
{
    struct oauth_state *s = xcalloc(1, sizeof *s);
    s->l = l;
    return s;
}

static void fetch_stop(struct fetch *f)
{
    if (f->xfer)
        upstream_cancel(f->xfer);
    f->xfer = NULL;
    if (f->timer_set)
        event_del(&f->timer);
    f->timer_set = false;
    if (f->req.body)
        secret_wipe(f->req.body, f->req.body_len); /* an introspected token */
    outreq_deinit(&f->req);
}

/* Forget the waiters of <f> without resuming them (the loop is going away). */
static void fetch_drop_waiters(struct fetch *f)
{
    while (f->waiters) {
        struct waiter *w = f->waiters;
        f->waiters = w->next;
        exchange_unpark(w->x);
        free(w);
    }
    f->nwaiters = 0;
}

void oauth_state_free(struct oauth_state *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->niss; i++) {
        struct issuer *is = s->iss[i];
        fetch_stop(&is->f);
        fetch_drop_waiters(&is->f);
        jwt_keyset_free(&is->ks);
        free(is->uri);
        free(is->jwks_uri);
        free(is->introspection_uri);
        free(is);
    }
    free(s->iss);
    while (s->intros) {
        struct intro *in = s->intros;
        s->intros = in->next;
        fetch_stop(&in->f);
        fetch_drop_waiters(&in->f);
        free(in);
    }
    for (size_t i = 0; s->cache && i < OAUTH_INTROSPECT_CACHE; i++)
        cJSON_Delete(s->cache[i].answer);
    free(s->cache);
    free(s);
}

static size_t trimmed_len(const char *s)
{
    size_t n = strlen(s);
    return n && s[n - 1] == '/' ? n - 1 : n;
}

static struct issuer *issuer_get(struct oauth_state *s, const char *uri)
{
    size_t n = trimmed_len(uri);
    for (size_t i = 0; i < s->niss; i++)
        if (strlen(s->iss[i]->uri) == n && memcmp(s->iss[i]->uri, uri, n) == 0)
            return s->iss[i];
    struct issuer *is = xcalloc(1, sizeof *is);
    is->uri = xstrndup(uri, n);
    is->f.s = s;
    s->iss = xrealloc(s->iss, (s->niss + 1) * sizeof *s->iss);
    s->iss[s->niss++] = is;
    return is;
}

/* ---- fetches ---- */

static void on_waiter_gone(void *arg)
{
    struct waiter *w = arg;
    struct fetch *f = w->f;
    if (w->prev)
        w->prev->next = w->next;
    else
        f->waiters = w->next;
    if (w->next)
        w->next->prev = w->prev;
    f->nwaiters--;
    free(w);
    LOG_D("oauth2: a client waiting for the authorization server went away");
}

/* Park <x> on <f>: false when too many already wait. */
static bool fetch_wait(struct fetch *f, struct exchange *x, oauth_resume_fn fn, void *arg)
{
    if (f->nwaiters >= OAUTH_MAX_WAITERS)
        return false;
    struct waiter *w = xcalloc(1, sizeof *w);
    *w = (struct waiter){x, fn, arg, f, NULL, f->waiters};
    if (f->waiters)
        f->waiters->prev = w;
    f->waiters = w;
    f->nwaiters++;
    exchange_park(x, on_waiter_gone, w);
    return true;
}

/* Resume every request waiting for <f>, in arrival order. */
static void fetch_resume(struct fetch *f)
{
    struct waiter *w = f->waiters, *last = NULL;
    f->waiters = NULL;
    f->nwaiters = 0;
    for (; w; w = w->next)
        last = w;
    while (last) {
        struct waiter *prev = last->prev;
        exchange_unpark(last->x);
        last->fn(last->x, last->arg);
        free(last);
        last = prev;
    }
}

static void on_fetch_done(const struct upstream_result *res, void *arg)
{
    struct fetch *f = arg;
    f->xfer = NULL;
    if (f->timer_set)
        event_del(&f->timer);
    f->timer_set = false;
    f->done(f, res);
}

static void on_fetch_timeout(evutil_socket_t fd, short what, void *arg)
{
    struct fetch *f = arg;
    f->timer_set = false;
    if (f->xfer)
        upstream_cancel(f->xfer);
    f->xfer = NULL;
    f->done(f, NULL);
}

/* Send <f>->req (built by the caller) within oauth2.fetchTimeout. -1 when it cannot start. */
static int fetch_send(struct fetch *f)
{
    struct loop *l = f->s->l;
    f->xfer = upstream_start(loop_upstream(l), &f->req, on_fetch_done, f);
    if (!f->xfer)
        return -1;
    long ms = loop_config(l)->oauth_fetch_timeout_ms;
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
    evtimer_assign(&f->timer, loop_base(l), on_fetch_timeout, f);
    evtimer_add(&f->timer, &tv);
    f->timer_set = true;
    return 0;
}

static void fetch_get(struct fetch *f, const char *url)
{
    outreq_deinit(&f->req);
    outreq_init(&f->req, 0);
    f->req.method = MODEL_GET;
    strbuf_adds(&f->req.url, url);
    outreq_add_header(&f->req, "Accept", "application/json", 16);
}

/* The JSON object a fetch answered, or NULL (<why> says what went wrong). */
static cJSON *fetch_json(const struct upstream_result *res, const char *what, char *why, size_t cap)
{
    if (!res) {
        snprintf(why, cap, "%s: no answer in time", what);
        return NULL;
    }
    if (res->error != UPSTREAM_OK) {
        snprintf(why, cap, "%s: %s", what, upstream_error_name(res->error));
        return NULL;
    }
    if (res->status != 200) {
        snprintf(why, cap, "%s: HTTP %ld", what, res->status);
        return NULL;
    }
    size_t len = evbuffer_get_length(res->body);
    cJSON *j = cJSON_ParseWithLength((const char *)evbuffer_pullup(res->body, -1), len);
    if (!cJSON_IsObject(j)) {
        snprintf(why, cap, "%s: not a JSON object", what);
        cJSON_Delete(j);
        return NULL;
    }
    return j;
}

/* ---- authorization server metadata and keys ---- */

/* The discovery URL number <step> of issuer <uri> (RFC 8414 3.1: the well-known part goes
 * between the host and the issuer's path; OpenID discovery appends it), or NULL after the
 * last. The order is the MCP authorization specification's. */
static char *meta_url(const char *uri, int step)
{
    const char *auth = strstr(uri, "://") + 3;
    const char *path = auth + strcspn(auth, "/");
    int origin = (int)(path - uri);
    if (!*path) {
        static const char *const wk[] = {"oauth-authorization-server", "openid-configuration"};
        return step < 2 ? xasprintf("%.*s/.well-known/%s", origin, uri, wk[step]) : NULL;
    }
    switch (step) {
    case 0:
        return xasprintf("%.*s/.well-known/oauth-authorization-server%s", origin, uri, path);
    case 1:
        return xasprintf("%.*s/.well-known/openid-configuration%s", origin, uri, path);
    case 2:
        return xasprintf("%s/.well-known/openid-configuration", uri);
    default:
        return NULL;
    }
}

static void issuer_fetch_next(struct issuer *is);

static void issuer_fail(struct issuer *is, const char *why)
{
    int64_t now = clock_now_s();
    if (is->have_keys || (is->have_meta && !is->want_keys)) {
        /* Keep what works: the old key set until the next try, OAUTH_RETRY_S from now (else
         * every request after keys_until would start a fetch of its own, and log it). */
        LOG_W("oauth2: %s (keeping the keys fetched before)", why);
        is->last_fetch = now;
        if (is->keys_until < now + OAUTH_RETRY_S)
            is->keys_until = now + OAUTH_RETRY_S;
    } else {
        LOG_W("oauth2: %s", why);
        is->failed_until = now + OAUTH_RETRY_S;
        snprintf(is->failure, sizeof is->failure, "%s", why);
    }
    is->busy = false;
    fetch_stop(&is->f);
    fetch_resume(&is->f);
}

static void issuer_done(struct issuer *is)
{
    is->busy = false;
    is->failed_until = 0;
    fetch_stop(&is->f);
    fetch_resume(&is->f);
}

/* Seconds a key set may be kept, from the Cache-Control of its answer. */
static int64_t keys_ttl(const struct upstream_result *res)
{
    for (size_t i = 0; i < res->nheaders; i++) {
        if (!str_eq_ci(res->headers[i].name, "cache-control"))
            continue;
        const char *v = res->headers[i].value;
        if (strcasestr(v, "no-store") || strcasestr(v, "no-cache"))
            return OAUTH_KEYS_TTL_MIN_S;
        const char *m = strcasestr(v, "max-age=");
        if (m) {
            long long age = strtoll(m + 8, NULL, 10);
            return age < OAUTH_KEYS_TTL_MIN_S   ? OAUTH_KEYS_TTL_MIN_S
                   : age > OAUTH_KEYS_TTL_MAX_S ? OAUTH_KEYS_TTL_MAX_S
                                                : age;
        }
    }
    return OAUTH_KEYS_TTL_DEFAULT_S;
}

static void on_keys(struct fetch *f, const struct upstream_result *res)
{
    struct issuer *is = (struct issuer *)((char *)f - offsetof(struct issuer, f));
    char why[200];
    cJSON *j = fetch_json(res, is->jwks_uri, why, sizeof why);
    if (!j) {
        issuer_fail(is, why);
        return;
    }
    cJSON_Delete(j); /* parsed again by jwt_keyset_parse: it wants the text */
    struct jwt_keyset ks;
    size_t len = evbuffer_get_length(res->body);
    char kwhy[96];
    if (jwt_keyset_parse((const char *)evbuffer_pullup(res->body, -1), len, &ks, kwhy,
                         sizeof kwhy) < 0) {
        jwt_keyset_free(&ks);
        snprintf(why, sizeof why, "%s: %s", is->jwks_uri, kwhy);
        issuer_fail(is, why);
        return;
    }
    if (ks.n == 0)
        LOG_W("oauth2: %s has no key capproxy can verify with (RS256, PS256, ES256, EdDSA)",
              is->jwks_uri);
    jwt_keyset_free(&is->ks);
    is->ks = ks;
    is->have_keys = true;
    int64_t now = clock_now_s();
    is->last_fetch = now;
    is->keys_until = now + keys_ttl(res);
    LOG_D("oauth2: %zu keys from %s", ks.n, is->jwks_uri);
    issuer_done(is);
}

static void on_meta(struct fetch *f, const struct upstream_result *res)
{
    struct issuer *is = (struct issuer *)((char *)f - offsetof(struct issuer, f));
    char *url = meta_url(is->uri, is->meta_step);
    char why[200];
    cJSON *j = fetch_json(res, url, why, sizeof why);
    free(url);
    if (!j) {
        /* A network failure or time-out will not be better at the next URL. */
        bool http = res && res->error == UPSTREAM_OK;
        is->meta_step++;
        char *next = http ? meta_url(is->uri, is->meta_step) : NULL;
        if (next) {
            free(next);
            issuer_fetch_next(is);
            return;
        }
        char msg[256];
        snprintf(msg, sizeof msg, "no authorization server metadata for %s (%s)", is->uri, why);
        issuer_fail(is, msg);
        return;
    }
    const cJSON *iss = cJSON_GetObjectItemCaseSensitive(j, "issuer");
    const cJSON *jwks = cJSON_GetObjectItemCaseSensitive(j, "jwks_uri");
    const cJSON *intro = cJSON_GetObjectItemCaseSensitive(j, "introspection_endpoint");
    /* RFC 8414 3.3: metadata naming another issuer must not be used (an impersonation). */
    if (!cJSON_IsString(iss) || trimmed_len(iss->valuestring) != strlen(is->uri) ||
        memcmp(iss->valuestring, is->uri, strlen(is->uri)) != 0) {
        char msg[256];
        snprintf(msg, sizeof msg, "the metadata of %s names another issuer", is->uri);
        cJSON_Delete(j);
        issuer_fail(is, msg);
        return;
    }
    free(is->jwks_uri);
    free(is->introspection_uri);
    is->jwks_uri = cJSON_IsString(jwks) ? xstrdup(jwks->valuestring) : NULL;
    is->introspection_uri = cJSON_IsString(intro) ? xstrdup(intro->valuestring) : NULL;
    is->have_meta = true;
    cJSON_Delete(j);
    issuer_fetch_next(is);
}

/* The next fetch <is> needs (metadata, then keys when wanted), or done. */
static void issuer_fetch_next(struct issuer *is)
{
    char *url = NULL;
    if (!is->have_meta) {
        url = meta_url(is->uri, is->meta_step);
        is->f.done = on_meta;
    } else if (is->want_keys) {
        if (!is->jwks_uri) {
            char msg[200];
            snprintf(msg, sizeof msg, "the metadata of %s has no jwks_uri", is->uri);
            issuer_fail(is, msg);
            return;
        }
        url = xstrdup(is->jwks_uri);
        is->f.done = on_keys;
    } else {
        issuer_done(is);
        return;
    }
    fetch_get(&is->f, url);
    free(url);
    if (fetch_send(&is->f) < 0) {
        char msg[200];
        snprintf(msg, sizeof msg, "cannot start a fetch from %s", is->uri);
        issuer_fail(is, msg);
    }
}

/* Start a fetch for <is> unless one runs: its metadata when not known, then its keys. */
static void issuer_refresh(struct issuer *is)
{
    if (is->busy)
        return;
    is->busy = true;
    is->meta_step = 0;
    issuer_fetch_next(is); /* when it cannot start, busy is false again */
}

/* ---- the challenge ---- */

/* The URL of the Protected Resource Metadata for endpoint path <prm_path>: the origin of the
 * adapter's resource URI (the public name; the Host header is not trusted) and the path. */
static char *prm_url(const struct model_oauth2 *o, const char *prm_path)
{
    const char *auth = strstr(o->resource, "://") + 3;
    int origin = (int)(auth + strcspn(auth, "/?#") - o->resource);
    return xasprintf("%.*s%s%s", origin, o->resource, OAUTH_PRM_PATH,
                     str_eq(prm_path, "/") ? "" : prm_path);
}

static void add_param(struct strbuf *b, const char *name, const char *value)
{
    strbuf_adds(b, b->len > 7 ? ", " : "");
    strbuf_addf(b, "%s=\"", name);
    for (const char *p = value; *p; p++) /* a quoted-string: escape '"' and '\\' */
        if (*p == '"' || *p == '\\')
            strbuf_addf(b, "\\%c", *p);
        else if ((unsigned char)*p >= 0x20)
            strbuf_addc(b, *p);
    strbuf_addc(b, '"');
}

/* Add WWW-Authenticate: Bearer ... for a refusal by <o>; <error> NULL when no token was sent
 * (RFC 6750 3.1: then no error code). */
static void challenge(struct exchange *x, const struct model_oauth2 *o, const char *prm_path,
                      const char *error, const char *desc)
{
    struct strbuf b;
    strbuf_init(&b, 4096);
    strbuf_adds(&b, "Bearer ");
    if (error)
        add_param(&b, "error", error);
    if (desc)
        add_param(&b, "error_description", desc);
    if (o->nscopes) {
        struct strbuf sc;
        strbuf_init(&sc, 2048);
        for (size_t i = 0; i < o->nscopes; i++)
            strbuf_addf(&sc, "%s%s", i ? " " : "", o->scopes[i]);
        add_param(&b, "scope", sc.data);
        strbuf_deinit(&sc);
    }
    if (prm_path) {
        char *u = prm_url(o, prm_path);
        add_param(&b, "resource_metadata", u);
        free(u);
    }
    if (b.len == 7)
        strbuf_adds(&b, "realm=\"capproxy\"");
    evhttp_add_header(evhttp_request_get_output_headers(exchange_req(x)), "WWW-Authenticate",
                      b.data);
    strbuf_deinit(&b);
}

static bool refuse(struct exchange *x, const struct model_oauth2 *o, const char *prm_path,
                   struct oauth_verdict *v, int status, const char *error, const char *why)
{
    v->status = status;
    snprintf(v->detail, sizeof v->detail, "%s", why);
    if (status == 503)
        evhttp_add_header(evhttp_request_get_output_headers(exchange_req(x)), "Retry-After", "5");
    else
        challenge(x, o, prm_path, error, error ? why : NULL);
    return true;
}

/* ---- introspection ---- */

static struct intro_entry *cache_find(struct oauth_state *s, const struct issuer *is,
                                      const unsigned char *hash, int64_t now)
{
    for (size_t i = 0; s->cache && i < OAUTH_INTROSPECT_CACHE; i++) {
        struct intro_entry *e = &s->cache[i];
        if (e->until > now && e->iss == is && memcmp(e->hash, hash, 32) == 0)
            return e;
    }
    return NULL;
}

/* A slot for a new answer: a free or expired one, else the one expiring first. */
static struct intro_entry *cache_slot(struct oauth_state *s, int64_t now)
{
    if (!s->cache)
        s->cache = xcalloc(OAUTH_INTROSPECT_CACHE, sizeof *s->cache);
    struct intro_entry *best = &s->cache[0];
    for (size_t i = 0; i < OAUTH_INTROSPECT_CACHE; i++) {
        struct intro_entry *e = &s->cache[i];
        if (e->until <= now) {
            best = e;
            break;
        }
        if (e->until < best->until)
            best = e;
    }
    cJSON_Delete(best->answer);
    memset(best, 0, sizeof *best);
    return best;
}

static void on_introspected(struct fetch *f, const struct upstream_result *res)
{
    struct intro *in = (struct intro *)f;
    struct oauth_state *s = f->s;
    char why[200];
    cJSON *j = fetch_json(res, in->iss->introspection_uri, why, sizeof why);
    int64_t now = clock_now_s();
    struct intro_entry *e = cache_slot(s, now);
    e->iss = in->iss;
    memcpy(e->hash, in->hash, 32);
    const cJSON *active = cJSON_GetObjectItemCaseSensitive(j, "active");
    if (!j || !cJSON_IsBool(active)) {
        if (j)
            snprintf(why, sizeof why, "%s: the answer has no boolean \"active\"",
                     in->iss->introspection_uri);
        LOG_W("oauth2: introspection failed: %s", why);
        e->error = true;
        e->until = now + OAUTH_INTROSPECT_ERR_TTL_S;
        cJSON_Delete(j);
    } else if (cJSON_IsTrue(active)) {
        const cJSON *exp = cJSON_GetObjectItemCaseSensitive(j, "exp");
        e->until = now + OAUTH_INTROSPECT_TTL_S;
        if (cJSON_IsNumber(exp) && exp->valuedouble < (double)e->until)
            e->until = exp->valuedouble > (double)now ? (int64_t)exp->valuedouble : now + 1;
        e->answer = j;
    } else {
        e->until = now + OAUTH_INTROSPECT_TTL_S;
        cJSON_Delete(j);
    }
    for (struct intro **pp = &s->intros; *pp; pp = &(*pp)->next)
        if (*pp == in) {
            *pp = in->next;
            break;
        }
    fetch_stop(f);
    fetch_resume(f);
    free(in);
}

/* POST the token to the introspection endpoint, authenticated as the configured client. */
static int introspect_start(struct oauth_state *s, struct intro *in, const char *token)
{
    in->f.s = s;
    in->f.done = on_introspected;
    struct outreq *r = &in->f.req;
    outreq_init(r, 0);
    r->method = MODEL_POST;
    strbuf_adds(&r->url, in->iss->introspection_uri);
    struct strbuf body;
    strbuf_init(&body, 0);
    strbuf_adds(&body, "token=");
    urlenc_query(token, strlen(token), &body);
    strbuf_adds(&body, "&token_type_hint=access_token");
    r->body = strbuf_detach(&body, &r->body_len);
    static const char form[] = "application/x-www-form-urlencoded";
    outreq_add_header(r, "Content-Type", form, sizeof form - 1);
    outreq_add_header(r, "Accept", "application/json", 16);
    const struct config_oauth_client *c = config_oauth_client_for(loop_config(s->l), in->iss->uri);
    if (c && c->secret.value) {
        /* RFC 6749 2.3.1: client_secret_basic, each part form-encoded first. */
        struct strbuf up;
        strbuf_init(&up, 0);
        urlenc_query(c->client_id, strlen(c->client_id), &up);
        strbuf_addc(&up, ':');
        urlenc_query(c->secret.value, strlen(c->secret.value), &up);
        char *enc = b64_encode(up.data, up.len);
        char *h = xasprintf("Basic %s", enc);
        outreq_add_header(r, "Authorization", h, strlen(h));
        secret_wipe(up.data, up.len);
        strbuf_deinit(&up);
        secret_free(enc);
        secret_free(h);
    }
    return fetch_send(&in->f);
}

/* ---- the check ---- */

static struct oauth_state *state_of(struct loop *l)
{
    return loop_oauth(l);
}

static void expect_of(const struct model_oauth2 *o, const struct config *cfg, bool require_exp,
                      struct jwt_expect *e)
{
    *e = (struct jwt_expect){
        .issuer = o->as_uri,
        .audience = o->audience ? o->audience : o->resource,
        .scopes = o->scopes,
        .nscopes = o->nscopes,
        .now = clock_now_s(),
        .leeway_s = cfg->oauth_leeway_ms / 1000,
        .require_exp = require_exp,
    };
}

static bool claims_verdict(struct exchange *x, const struct model_oauth2 *o, const char *prm_path,
                           const cJSON *claims, const struct jwt_expect *e, struct oauth_verdict *v)
{
    char why[160];
    switch (jwt_check_claims(claims, e, why, sizeof why)) {
    case JWT_CLAIMS_OK:
        return false;
    case JWT_CLAIMS_SCOPE:
        return refuse(x, o, prm_path, v, 403, "insufficient_scope", why);
    case JWT_CLAIMS_INVALID:
        break;
    }
    return refuse(x, o, prm_path, v, 401, "invalid_token", why);
}

/* Check <token> against one jwks credential <o>. true: decided (refused) or parked (*parked);
 * false: this credential is satisfied. */
static bool check_jwks(struct exchange *x, const struct model_oauth2 *o, const char *prm_path,
                       const char *token, oauth_resume_fn resume, void *arg, bool *parked,
                       struct oauth_verdict *v)
{
    struct oauth_state *s = state_of(exchange_loop(x));
    struct issuer *is = issuer_get(s, o->as_uri);
    is->want_keys = true;
    int64_t now = clock_now_s();
    if (!is->have_keys) {
        if (!is->busy && now >= is->failed_until)
            issuer_refresh(is); /* may fail at once: then not busy */
        if (is->busy && fetch_wait(&is->f, x, resume, arg)) {
            *parked = true;
            return true;
        }
        return refuse(x, o, prm_path, v, 503, NULL,
                      "the authorization server could not be reached; try again shortly");
    }
    if (now >= is->keys_until)
        issuer_refresh(is); /* in the background: the current keys serve meanwhile */
    struct jwt t;
    const char *why = NULL;
    bool decided = false;
    if (jwt_parse(token, strlen(token), &t, &why) < 0) {
        decided = refuse(x, o, prm_path, v, 401, "invalid_token", why);
        goto out;
    }
    switch (jwt_verify(&t, &is->ks, &why)) {
    case JWT_VALID:
        break;
    case JWT_NO_KEY: {
        /* A key rotated in since the last fetch: refetch, at most once per min refresh, so
         * that tokens with made-up kids cannot make us hammer the server. */
        long min = loop_config(exchange_loop(x))->oauth_min_refresh_ms / 1000;
        if (!is->busy && now - is->last_fetch >= min)
            issuer_refresh(is);
        if (is->busy && fetch_wait(&is->f, x, resume, arg)) {
            *parked = true;
            decided = true;
            goto out;
        }
        decided = refuse(x, o, prm_path, v, 401, "invalid_token", why);
        goto out;
    }
    case JWT_BAD:
        decided = refuse(x, o, prm_path, v, 401, "invalid_token", why);
        goto out;
    }
    struct jwt_expect e;
    expect_of(o, loop_config(exchange_loop(x)), true, &e);
    decided = claims_verdict(x, o, prm_path, t.claims, &e, v);
out:
    jwt_free(&t);
    return decided;
}

static bool check_introspection(struct exchange *x, const struct model_oauth2 *o,
                                const char *prm_path, const char *token, oauth_resume_fn resume,
                                void *arg, bool *parked, struct oauth_verdict *v)
{
    struct oauth_state *s = state_of(exchange_loop(x));
    struct issuer *is = issuer_get(s, o->as_uri);
    int64_t now = clock_now_s();
    if (!is->have_meta) {
        if (!is->busy && now >= is->failed_until)
            issuer_refresh(is);
        if (is->busy && fetch_wait(&is->f, x, resume, arg)) {
            *parked = true;
            return true;
        }
        return refuse(x, o, prm_path, v, 503, NULL,
                      "the authorization server could not be reached; try again shortly");
    }
    if (!is->introspection_uri)
        return refuse(x, o, prm_path, v, 503, NULL,
                      "the authorization server has no introspection_endpoint");
    unsigned char hash[CRYPTO_SHA256_LEN];
    crypto_sha256(token, strlen(token), hash);
    const struct intro_entry *e = cache_find(s, is, hash, now);
    if (!e) {
        struct intro *in = NULL;
        for (struct intro *i = s->intros; i && !in; i = i->next)
            if (i->iss == is && memcmp(i->hash, hash, 32) == 0)
                in = i;
        if (!in) {
            in = xcalloc(1, sizeof *in);
            in->iss = is;
            memcpy(in->hash, hash, 32);
            if (introspect_start(s, in, token) < 0) {
                fetch_stop(&in->f);
                free(in);
                return refuse(x, o, prm_path, v, 503, NULL,
                              "the introspection request could not be started");
            }
            in->next = s->intros;
            s->intros = in;
        }
        if (!fetch_wait(&in->f, x, resume, arg))
            return refuse(x, o, prm_path, v, 503, NULL,
                          "too many requests wait for the authorization server");
        *parked = true;
        return true;
    }
    if (e->error)
        return refuse(x, o, prm_path, v, 503, NULL,
                      "the authorization server's introspection failed; try again shortly");
    if (!e->answer)
        return refuse(x, o, prm_path, v, 401, "invalid_token", "the token is not active");
    /* The answer's iss and aud are checked when it gives them (RFC 7662 makes them optional);
     * exp too, and the scopes always. */
    struct jwt_expect ex;
    expect_of(o, loop_config(exchange_loop(x)), false, &ex);
    if (!cJSON_GetObjectItemCaseSensitive(e->answer, "iss"))
        ex.issuer = NULL;
    if (!cJSON_GetObjectItemCaseSensitive(e->answer, "aud"))
        ex.audience = NULL;
    return claims_verdict(x, o, prm_path, e->answer, &ex, v);
}

bool oauth_any(const struct rt_inbound *const *auth, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (auth[i]->kind == MODEL_AUTH_OAUTH2)
            return true;
    return false;
}

bool oauth_check(struct exchange *x, const struct rt_inbound *const *auth, size_t n,
                 const char *prm_path, oauth_resume_fn resume, void *arg, struct oauth_verdict *v)
{
    v->status = 0;
    v->detail[0] = '\0';
    const char *hv =
        evhttp_find_header(evhttp_request_get_input_headers(exchange_req(x)), "Authorization");
    const char *tok = inbound_token(hv, "Bearer");
    char *token = NULL;
    if (tok) {
        size_t len = strlen(tok);
        while (len && (tok[len - 1] == ' ' || tok[len - 1] == '\t'))
            len--;
        token = len ? xstrndup(tok, len) : NULL;
    }
    bool decided = false, parked = false;
    for (size_t i = 0; i < n && !decided; i++) {
        if (auth[i]->kind != MODEL_AUTH_OAUTH2)
            continue;
        const struct model_oauth2 *o = auth[i]->expose->auth.oauth2;
        if (!token) {
            decided = refuse(x, o, prm_path, v, 401, NULL,
                             hv ? "send the access token as Authorization: Bearer <token>"
                                : "an access token is required (Authorization: Bearer)");
            break;
        }
        decided = o->introspection
                      ? check_introspection(x, o, prm_path, token, resume, arg, &parked, v)
                      : check_jwks(x, o, prm_path, token, resume, arg, &parked, v);
    }
    if (token)
        secret_free(token);
    return !parked;
}

/* ---- metadata and prefetch ---- */

char *oauth_prm(const struct rt_inbound *const *auth, size_t n)
{
    cJSON *doc = NULL, *servers = NULL, *scopes = NULL;
    for (size_t i = 0; i < n; i++) {
        if (auth[i]->kind != MODEL_AUTH_OAUTH2)
            continue;
        const struct model_oauth2 *o = auth[i]->expose->auth.oauth2;
        if (!doc) {
            doc = cJSON_CreateObject();
            cJSON_AddStringToObject(doc, "resource", o->resource);
            servers = cJSON_AddArrayToObject(doc, "authorization_servers");
            scopes = cJSON_CreateArray();
        }
        bool seen = false;
        const cJSON *e;
        cJSON_ArrayForEach(e, servers) seen = seen || str_eq(e->valuestring, o->as_uri);
        if (!seen)
            cJSON_AddItemToArray(servers, cJSON_CreateString(o->as_uri));
        for (size_t k = 0; k < o->nscopes; k++) {
            seen = false;
            cJSON_ArrayForEach(e, scopes) seen = seen || str_eq(e->valuestring, o->scopes[k]);
            if (!seen)
                cJSON_AddItemToArray(scopes, cJSON_CreateString(o->scopes[k]));
        }
    }
    if (!doc)
        return NULL;
    if (cJSON_GetArraySize(scopes))
        cJSON_AddItemToObject(doc, "scopes_supported", scopes);
    else
        cJSON_Delete(scopes);
    cJSON *methods = cJSON_AddArrayToObject(doc, "bearer_methods_supported");
    cJSON_AddItemToArray(methods, cJSON_CreateString("header"));
    char *s = cJSON_PrintUnformatted(doc);
    cJSON_Delete(doc);
    char *out = xstrdup(s);
    cJSON_free(s);
    return out;
}

void oauth_prefetch(struct loop *l, const struct runtime *rt)
{
    struct oauth_state *s = state_of(l);
    for (size_t i = 0; i < rt->ninbound; i++) {
        const struct rt_inbound *in = &rt->inbound[i];
        if (in->kind != MODEL_AUTH_OAUTH2)
            continue;
        const struct model_oauth2 *o = in->expose->auth.oauth2;
        struct issuer *is = issuer_get(s, o->as_uri);
        if (!o->introspection)
            is->want_keys = true;
        if (!is->have_meta || (is->want_keys && !is->have_keys))
            issuer_refresh(is);
    }
}
