/*
 * digest: see digest.h. Every comparison of something the caller sent with something derived
 * from the secret (user name, response, nonce MAC) is constant-time; hashes of the password are
 * wiped when the credential is freed.
 */
#include "core/digest.h"

#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/b64.h"
#include "base/log.h"
#include "base/secret.h"
#include "base/util.h"
#include "spec/urlenc.h"

_Static_assert(DIGEST_NONCE_LEN == B64_URL_LEN(DIGEST_NONCE_RAW_LEN), "nonce text length");

#define NONCE_RAND_LEN 12
#define NONCE_MAC_OFF  (8 + NONCE_RAND_LEN)
#define NONCE_MAC_LEN  (DIGEST_NONCE_RAW_LEN - NONCE_MAC_OFF)

/* ---- the nonce key ---- */

static uint8_t digest_key[CRYPTO_SHA256_LEN];
static bool digest_key_set;
static pthread_once_t digest_once = PTHREAD_ONCE_INIT;
static int digest_init_rc;

void digest_set_key(const void *key, size_t len)
{
    /* Domain-separated from the MCP session key made from the same operator string. */
    static const char label[] = "capproxy digest nonce key v1";
    const struct crypto_part parts[] = {{label, sizeof label}, {key, len}};
    crypto_hash(CRYPTO_SHA256, parts, 2, digest_key);
    digest_key_set = true;
}

static void digest_init_once(void)
{
    if (digest_key_set)
        return;
    const char *env = getenv("CAPPROXY_SESSION_KEY");
    if (env && *env) {
        digest_set_key(env, strlen(env));
        return;
    }
    if (crypto_random(digest_key, sizeof digest_key) < 0) {
        LOG_E("no random bytes (libcrypto RAND_bytes failed): cannot issue digest nonces");
        digest_init_rc = -1;
        return;
    }
    digest_key_set = true;
}

static int digest_global_init(void)
{
    pthread_once(&digest_once, digest_init_once);
    return digest_init_rc;
}

/* ---- credentials ---- */

struct digest_cred *digest_cred_new(const char *ns, const char *username, const char *password,
                                    long ttl_s)
{
    struct digest_cred *c = xcalloc(1, sizeof *c);
    c->usable = username && password;
    c->username = xstrdup(c->usable ? username : "");
    if (c->usable) {
        digest_ha1(CRYPTO_SHA256, username, DIGEST_REALM, password, c->ha1[CRYPTO_SHA256]);
        digest_ha1(CRYPTO_MD5, username, DIGEST_REALM, password, c->ha1[CRYPTO_MD5]);
    }
    /* Names the adapter, so that a nonce made for one adapter is refused by another. Not a
     * secret: the client only echoes it. */
    uint8_t h[CRYPTO_SHA256_LEN];
    static const char label[] = "capproxy digest opaque v1";
    const struct crypto_part parts[] = {{label, sizeof label}, {ns ? ns : "", ns ? strlen(ns) : 0}};
    crypto_hash(CRYPTO_SHA256, parts, 2, h);
    crypto_hex(h, DIGEST_OPAQUE_LEN / 2, c->opaque);
    c->ttl_s = ttl_s > 0 ? ttl_s : DIGEST_NONCE_TTL_DEFAULT_S;
    return c;
}

void digest_cred_free(struct digest_cred *c)
{
    if (!c)
        return;
    secret_free(c->username);
    secret_wipe(c->ha1, sizeof c->ha1);
    free(c);
}

/* ---- parsing ---- */

static void skip_ows(const char **s)
{
    while (**s == ' ' || **s == '\t')
        (*s)++;
}

/* The field of <p> named <name>[0..len), or NULL for one we do not read (ignored, RFC 7616
 * section 3.4: unknown directives are ignored). */
static const char **field(struct digest_params *p, const char *name, size_t len)
{
    static const struct {
        const char *name;
        size_t off;
    } fields[] = {
        {"username", offsetof(struct digest_params, username)},
        {"realm", offsetof(struct digest_params, realm)},
        {"nonce", offsetof(struct digest_params, nonce)},
        {"uri", offsetof(struct digest_params, uri)},
        {"response", offsetof(struct digest_params, response)},
        {"algorithm", offsetof(struct digest_params, algorithm)},
        {"cnonce", offsetof(struct digest_params, cnonce)},
        {"opaque", offsetof(struct digest_params, opaque)},
        {"qop", offsetof(struct digest_params, qop)},
        {"nc", offsetof(struct digest_params, nc)},
        {"userhash", offsetof(struct digest_params, userhash)},
    };
    for (size_t i = 0; i < UTIL_ARRAY_LEN(fields); i++)
        if (strlen(fields[i].name) == len && strncasecmp(fields[i].name, name, len) == 0)
            return (const char **)((char *)p + fields[i].off);
    return NULL;
}

int digest_parse(const char *v, struct digest_params *p)
{
    memset(p, 0, offsetof(struct digest_params, buf));
    if (!v || strlen(v) >= sizeof p->buf)
        return -1;
    char *out = p->buf;
    const char *s = v;
    for (;;) {
        /* #auth-param: empty list elements are allowed */
        while (*s == ' ' || *s == '\t' || *s == ',')
            s++;
        if (!*s)
            return 0;
        const char *name = s;
        while (urlenc_is_tchar((unsigned char)*s))
            s++;
        size_t nlen = (size_t)(s - name);
        skip_ows(&s);
        if (nlen == 0 || *s != '=')
            return -1;
        s++;
        skip_ows(&s);
        char *val = out;
        if (*s == '"') {
            for (s++; *s != '"'; s++) {
                if (*s == '\\' && s[1])
                    s++;
                if (!*s || (unsigned char)*s < 0x20 || *s == 0x7f) /* unterminated, or CTL */
                    return -1;
                *out++ = *s;
            }
            s++;
        } else {
            while (urlenc_is_tchar((unsigned char)*s))
                *out++ = *s++;
            if (out == val)
                return -1;
        }
        *out++ = '\0';
        const char **f = field(p, name, nlen);
        if (f) {
            if (*f) /* a directive twice: which one counts would be a guess */
                return -1;
            *f = val;
        }
        skip_ows(&s);
        if (*s && *s != ',')
            return -1;
    }
}

/* ---- hashing ---- */

static void hash_hex(enum crypto_hash h, const struct crypto_part *parts, size_t n, char *out)
{
    uint8_t d[CRYPTO_MAX_LEN];
    crypto_hash(h, parts, n, d);
    crypto_hex(d, crypto_hash_len(h), out);
    secret_wipe(d, sizeof d);
}

#define PART(s)                                                                                    \
    {                                                                                              \
        (s), strlen(s)                                                                             \
    }
#define COLON                                                                                      \
    {                                                                                              \
        ":", 1                                                                                     \
    }

void digest_ha1(enum crypto_hash h, const char *user, const char *realm, const char *password,
                char *out)
{
    const struct crypto_part parts[] = {PART(user), COLON, PART(realm), COLON, PART(password)};
    hash_hex(h, parts, UTIL_ARRAY_LEN(parts), out);
}

void digest_response(enum crypto_hash h, const char *ha1, const char *method, const char *uri,
                     const char *nonce, const char *nc, const char *cnonce, const char *qop,
                     char *out)
{
    char ha2[DIGEST_HEX_MAX];
    const struct crypto_part a2[] = {PART(method), COLON, PART(uri)};
    hash_hex(h, a2, UTIL_ARRAY_LEN(a2), ha2);
    const struct crypto_part kd[] = {PART(ha1),    COLON, PART(nonce), COLON, PART(nc), COLON,
                                     PART(cnonce), COLON, PART(qop),   COLON, PART(ha2)};
    hash_hex(h, kd, UTIL_ARRAY_LEN(kd), out);
}

/* ---- nonces ---- */

static void nonce_mac(const struct digest_cred *c, const uint8_t *raw, uint8_t *mac)
{
    uint8_t msg[DIGEST_OPAQUE_LEN + NONCE_MAC_OFF];
    memcpy(msg, c->opaque, DIGEST_OPAQUE_LEN);
    memcpy(msg + DIGEST_OPAQUE_LEN, raw, NONCE_MAC_OFF);
    uint8_t full[CRYPTO_SHA256_LEN];
    crypto_hmac_sha256(digest_key, sizeof digest_key, msg, sizeof msg, full);
    memcpy(mac, full, NONCE_MAC_LEN);
}

int digest_nonce(const struct digest_cred *c, int64_t now, char *out)
{
    uint8_t raw[DIGEST_NONCE_RAW_LEN];
    if (digest_global_init() < 0 || crypto_random(raw + 8, NONCE_RAND_LEN) < 0)
        return -1;
    uint64_t t = (uint64_t)now;
    for (int i = 0; i < 8; i++)
        raw[i] = (uint8_t)(t >> (56 - 8 * i));
    nonce_mac(c, raw, raw + NONCE_MAC_OFF);
    b64_url_encode(raw, sizeof raw, out);
    return 0;
}

/* DIGEST_OK, DIGEST_STALE (ours but expired) or DIGEST_FORGED. */
static enum digest_status nonce_check(const struct digest_cred *c, const char *nonce, int64_t now)
{
    uint8_t raw[DIGEST_NONCE_RAW_LEN], mac[NONCE_MAC_LEN];
    if (digest_global_init() < 0 || strlen(nonce) != DIGEST_NONCE_LEN ||
        b64_url_decode(nonce, DIGEST_NONCE_LEN, raw, sizeof raw) < 0)
        return DIGEST_FORGED;
    nonce_mac(c, raw, mac);
    if (!crypto_equal(mac, raw + NONCE_MAC_OFF, NONCE_MAC_LEN))
        return DIGEST_FORGED;
    uint64_t t = 0;
    for (int i = 0; i < 8; i++)
        t = (t << 8) | raw[i];
    int64_t issued = (int64_t)t;
    if (issued > now + DIGEST_MAX_SKEW_S || now - issued >= c->ttl_s)
        return DIGEST_STALE;
    return DIGEST_OK;
}

/* ---- verification ---- */

static bool is_nc(const char *nc)
{
    size_t i = 0;
    while (isxdigit((unsigned char)nc[i]))
        i++;
    return i == 8 && !nc[i];
}

enum digest_status digest_verify(const struct digest_cred *c, const char *authz, const char *method,
                                 const char *uri, int64_t now)
{
    static const char scheme[] = "Digest";
    const size_t sl = sizeof scheme - 1;
    if (!authz || strncasecmp(authz, scheme, sl) != 0 || (authz[sl] != ' ' && authz[sl] != '\t'))
        return DIGEST_MISSING;
    struct digest_params *p = xmalloc(sizeof *p);
    enum digest_status st = DIGEST_MALFORMED;
    if (digest_parse(authz + sl, p) < 0)
        goto out;
    st = DIGEST_REFUSED;
    if (!p->username || !p->realm || !p->nonce || !p->uri || !p->response || !p->cnonce ||
        !p->opaque || !p->nc)
        goto out;
    /* RFC 7616 keeps qop-less answers only for RFC 2069 clients; they prove less (no cnonce),
     * and every current client sends qop=auth when offered it. */
    if (!p->qop || strcasecmp(p->qop, "auth") != 0 || !is_nc(p->nc) || !*p->cnonce)
        goto out;
    enum crypto_hash h;
    if (!p->algorithm || strcasecmp(p->algorithm, "MD5") == 0)
        h = CRYPTO_MD5; /* RFC 7616 section 3.4: absent means MD5 */
    else if (strcasecmp(p->algorithm, "SHA-256") == 0)
        h = CRYPTO_SHA256;
    else
        goto out; /* -sess variants and others are not offered */
    if (p->userhash && strcasecmp(p->userhash, "false") != 0)
        goto out; /* not offered either */
    if (!str_eq(p->realm, DIGEST_REALM) || !str_eq(p->opaque, c->opaque) || !str_eq(p->uri, uri))
        goto out;
    enum digest_status ns = nonce_check(c, p->nonce, now);
    st = DIGEST_FORGED;
    if (ns == DIGEST_FORGED)
        goto out;
    /* Lowercase the presented response (hex is case-insensitive) and compare it with ours. A
     * longer one is wrong, not cut to the hash's length (which accepted ours plus any tail). */
    char want[DIGEST_HEX_MAX], got[DIGEST_HEX_MAX];
    size_t full = strlen(p->response), rlen = full;
    if (rlen >= sizeof got)
        rlen = sizeof got - 1;
    for (size_t i = 0; i < rlen; i++)
        got[i] = (char)tolower((unsigned char)p->response[i]);
    got[rlen] = '\0';
    digest_response(h, c->ha1[h], method, uri, p->nonce, p->nc, p->cnonce, p->qop, want);
    bool user_ok = str_ct_eq(p->username, strlen(p->username), c->username, strlen(c->username));
    bool resp_ok = full == rlen && str_ct_eq(got, rlen, want, strlen(want));
    secret_wipe(want, sizeof want);
    st = !(user_ok && resp_ok && c->usable) ? DIGEST_WRONG
         : ns == DIGEST_STALE               ? DIGEST_STALE
                                            : DIGEST_OK;
out:
    secret_wipe(p, sizeof *p);
    free(p);
    return st;
}

void digest_challenge(const struct digest_cred *c, enum crypto_hash h, const char *nonce,
                      bool stale, char *out, size_t cap)
{
    snprintf(out, cap,
             "Digest realm=\"" DIGEST_REALM "\", qop=\"auth\", algorithm=%s, nonce=\"%s\", "
             "opaque=\"%s\"%s",
             h == CRYPTO_SHA256 ? "SHA-256" : "MD5", nonce, c->opaque, stale ? ", stale=true" : "");
}

const char *digest_status_name(enum digest_status s)
{
    switch (s) {
    case DIGEST_OK:
        return "ok";
    case DIGEST_MISSING:
        return "missing";
    case DIGEST_MALFORMED:
        return "malformed";
    case DIGEST_REFUSED:
        return "refused";
    case DIGEST_FORGED:
        return "forged";
    case DIGEST_WRONG:
        return "wrong";
    case DIGEST_STALE:
        return "stale";
    }
    return "?";
}
