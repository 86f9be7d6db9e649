/*
 * digest: HTTP Digest access authentication (RFC 7616) on exposed adapters, the pure part:
 * parsing an `Authorization: Digest ...` value, verifying its `response` with qop=auth and
 * SHA-256 or MD5, and making nonces and challenges. The HTTP side (http/reqcheck) only hands
 * over the header, the method and the request target, and sends the challenges.
 *
 * Nonces are stateless: base64url(issue time (64-bit big-endian seconds) || 12 random bytes ||
 * the first 16 bytes of HMAC-SHA256 over the adapter's opaque value, the time and the random
 * bytes). The HMAC key is derived from env CAPPROXY_SESSION_KEY when it is set (so replicas
 * sharing it accept each other's nonces), else made once per process; any worker thread
 * validates any nonce. A nonce older than the adapter's lifetime answers 401 with stale=true
 * when the rest of the answer was right, so clients retry without asking the user again.
 *
 * The nonce count (nc) is checked for its form only: tracking it per nonce needs state shared
 * by every worker and replica, so a captured request can be replayed until its nonce expires
 * (limits.digestNonceTtl, 300 s by default). Thread-safe.
 */
#ifndef CAPPROXY_DIGEST_H
#define CAPPROXY_DIGEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/crypto.h"

#define DIGEST_REALM               "capproxy"
#define DIGEST_NONCE_TTL_DEFAULT_S 300
#define DIGEST_NONCE_RAW_LEN       (8 + 12 + 16)
#define DIGEST_NONCE_LEN           48 /* B64_URL_LEN(DIGEST_NONCE_RAW_LEN) */
#define DIGEST_OPAQUE_LEN          32
#define DIGEST_HEX_MAX             (2 * CRYPTO_MAX_LEN + 1)
/* A longer Authorization value is refused (its fields are copied into digest_params). */
#define DIGEST_HEADER_MAX 4096
/* A nonce issued this far in the future (a clock step back) is still taken as fresh. */
#define DIGEST_MAX_SKEW_S 5

/* What an adapter's callers must prove, made at load: the password itself is not kept. */
struct digest_cred {
    char *username;
    char ha1[2][DIGEST_HEX_MAX]; /* hex H(username:realm:password), by enum crypto_hash */
    char opaque[DIGEST_OPAQUE_LEN + 1];
    long ttl_s;  /* nonce lifetime */
    bool usable; /* false when the user name or password bind was missing: nothing matches */
};

/* The fields of a Digest credential (NULL: absent), pointing into <buf>. */
struct digest_params {
    const char *username, *realm, *nonce, *uri, *response, *algorithm, *cnonce, *opaque, *qop, *nc,
        *userhash;
    char buf[DIGEST_HEADER_MAX];
};

enum digest_status {
    DIGEST_OK,
    DIGEST_MISSING,   /* no Digest credential */
    DIGEST_MALFORMED, /* not a list of auth-params, a field twice, or too long */
    DIGEST_REFUSED,   /* well-formed but not what we accept (no qop, unknown algorithm, ...) */
    DIGEST_FORGED,    /* a nonce we did not make (or for another adapter) */
    DIGEST_WRONG,     /* wrong user name or response */
    DIGEST_STALE,     /* right answer to an expired nonce: challenge again with stale=true */
};

/* The credential of adapter <ns> for <username>/<password>, nonces living <ttl_s> seconds
 * (<= 0: the default). A NULL <username> or <password> (a missing bind) makes one that still
 * challenges but accepts nothing. Free with digest_cred_free (it wipes the hashes). */
struct digest_cred *digest_cred_new(const char *ns, const char *username, const char *password,
                                    long ttl_s);
void digest_cred_free(struct digest_cred *c);

/* Use <key> for nonces instead of CAPPROXY_SESSION_KEY or a random one (tests). Call before
 * the first nonce. */
void digest_set_key(const void *key, size_t len);

/* Parse the auth-params after "Digest " (<v>) into <p>. 0, or -1 when malformed. */
int digest_parse(const char *v, struct digest_params *p);

/* hex H(user:realm:password) and the qop=auth response
 * hex H(ha1:nonce:nc:cnonce:qop:H(method:uri)) (RFC 7616 section 3.4.1), into out[DIGEST_HEX_MAX].
 */
void digest_ha1(enum crypto_hash h, const char *user, const char *realm, const char *password,
                char *out);
void digest_response(enum crypto_hash h, const char *ha1, const char *method, const char *uri,
                     const char *nonce, const char *nc, const char *cnonce, const char *qop,
                     char *out);

/* A fresh nonce for <c> issued at <now>, into out[DIGEST_NONCE_LEN + 1]. -1 without random
 * bytes. */
int digest_nonce(const struct digest_cred *c, int64_t now, char *out);

/* Check Authorization value <authz> (NULL: none) for <method> on request target <uri>. */
enum digest_status digest_verify(const struct digest_cred *c, const char *authz, const char *method,
                                 const char *uri, int64_t now);

/* The WWW-Authenticate value for algorithm <h> with <nonce>, into out[cap]. */
void digest_challenge(const struct digest_cred *c, enum crypto_hash h, const char *nonce,
                      bool stale, char *out, size_t cap);

const char *digest_status_name(enum digest_status s);

#endif
