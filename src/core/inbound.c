/*
 * inbound: see inbound.h. The expected value is rendered once per load; matching a presented
 * credential is a constant-time comparison so timing does not reveal how much of it was right.
 */
#include "core/inbound.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/b64.h"
#include "base/clock.h"
#include "base/log.h"
#include "base/secret.h"
#include "core/digest.h"
#include "core/secrets.h"

/* Digest: only the hashes of the password are kept (core/digest.h). */
static void inbound_build_digest(struct runtime *rt, const struct model_expose *e,
                                 struct rt_inbound *in)
{
    char *user = secrets_render(rt, "", e->auth.username);
    char *pass = secrets_render(rt, "", e->auth.password);
    /* limits.digestNonceTtl in whole seconds (nonces carry seconds), at least one */
    long ms = rt->config ? rt->config->digest_nonce_ttl_ms : 0;
    long ttl = ms > 0 ? (ms + 999) / 1000 : 0;
    in->digest = digest_cred_new(e->ns, user, pass, ttl);
    secret_free(user);
    secret_free(pass);
}

void inbound_build(struct runtime *rt, const struct model_expose *e)
{
    const struct model_auth *a = &e->auth;
    if (a->kind == MODEL_AUTH_NONE)
        return;
    struct rt_inbound in = {.expose = e, .kind = a->kind, .name = "Authorization"};
    switch (a->kind) {
    case MODEL_AUTH_BEARER:
        in.expected = secrets_render(rt, "", a->token);
        break;
    case MODEL_AUTH_BASIC: {
        char *user = secrets_render(rt, "", a->username);
        char *pass = secrets_render(rt, "", a->password);
        if (user && pass) {
            char *up = xasprintf("%s:%s", user, pass);
            in.expected = b64_encode(up, strlen(up));
            secret_free(up);
        }
        secret_free(user);
        secret_free(pass);
        break;
    }
    case MODEL_AUTH_APIKEY:
        in.name = a->key && *a->key ? a->key : "Authorization";
        in.in_query = a->in_query;
        in.expected = secrets_render(rt, "", a->value);
        break;
    case MODEL_AUTH_DIGEST:
        inbound_build_digest(rt, e, &in);
        break;
    case MODEL_AUTH_OAUTH2: /* nothing to render: tokens are verified (http/oauth.h) */
    case MODEL_AUTH_NONE:
        break;
    }
    if (!in.expected && !(in.digest && in.digest->usable) && a->kind != MODEL_AUTH_OAUTH2)
        LOG_W("adapter '%s': its authentication value is not set (missing bind); every request "
              "to it gets 401",
              e->ns);
    rt->inbound = xrealloc(rt->inbound, (rt->ninbound + 1) * sizeof *rt->inbound);
    rt->inbound[rt->ninbound++] = in;
}

const struct rt_inbound *runtime_inbound(const struct runtime *rt, const struct model_expose *e)
{
    for (size_t i = 0; i < rt->ninbound; i++)
        if (rt->inbound[i].expose == e)
            return &rt->inbound[i];
    return NULL;
}

const char *inbound_token(const char *v, const char *scheme)
{
    size_t n = strlen(scheme);
    if (!v || strncasecmp(v, scheme, n) != 0 || (v[n] != ' ' && v[n] != '\t'))
        return NULL;
    v += n;
    while (*v == ' ' || *v == '\t')
        v++;
    return v;
}

bool inbound_matches(const struct rt_inbound *a, const char *presented)
{
    const char *v = presented;
    if (!a->in_query && a->kind == MODEL_AUTH_BEARER)
        v = inbound_token(v, "Bearer");
    else if (!a->in_query && a->kind == MODEL_AUTH_BASIC)
        v = inbound_token(v, "Basic");
    return v && a->expected && str_ct_eq(v, strlen(v), a->expected, strlen(a->expected));
}

void inbound_challenge(const struct rt_inbound *a, char *out, size_t cap)
{
    if (a->kind == MODEL_AUTH_BEARER || a->kind == MODEL_AUTH_OAUTH2)
        snprintf(out, cap, "Bearer realm=\"capproxy\"");
    else if (a->kind == MODEL_AUTH_BASIC)
        snprintf(out, cap, "Basic realm=\"capproxy\", charset=\"UTF-8\"");
    else
        snprintf(out, cap, "ApiKey realm=\"capproxy\", %s=\"%.100s\"",
                 a->in_query ? "query" : "header", a->name);
}

bool inbound_is_header(const struct rt_inbound *const *auth, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (!auth[i]->in_query && str_eq_ci(auth[i]->name, name))
            return true;
    return false;
}

bool inbound_digest_check(const struct rt_inbound *a, const char *authz, const char *method,
                          const char *uri, char out[2][INBOUND_CHALLENGE_MAX])
{
    int64_t now = clock_now_s();
    enum digest_status st = digest_verify(a->digest, authz, method, uri, now);
    if (st == DIGEST_OK)
        return true;
    /* The reason, never the header: it holds the user name and a password-derived response. */
    if (st != DIGEST_MISSING)
        LOG_D("adapter '%s': digest authentication failed: %s", a->expose->ns,
              digest_status_name(st));
    char nonce[DIGEST_NONCE_LEN + 1];
    if (digest_nonce(a->digest, now, nonce) < 0)
        nonce[0] = '\0'; /* no random bytes: a challenge nobody can answer */
    /* RFC 7616 section 3.7: the preferred algorithm first. */
    digest_challenge(a->digest, CRYPTO_SHA256, nonce, st == DIGEST_STALE, out[0],
                     INBOUND_CHALLENGE_MAX);
    digest_challenge(a->digest, CRYPTO_MD5, nonce, st == DIGEST_STALE, out[1],
                     INBOUND_CHALLENGE_MAX);
    return false;
}
