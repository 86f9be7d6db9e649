/*
 * jwt: what a resource server checks of a JWT access token, with no I/O. A JWS compact
 * serialization (RFC 7515) is parsed, its signature verified with a public key of a JWK set
 * (RFC 7517) through OpenSSL's libcrypto, and its claims (RFC 7519) checked against what the
 * adapter expects. Only asymmetric algorithms are accepted: RS256, PS256, ES256 and EdDSA
 * (Ed25519, Ed448); never "none" nor an HMAC, whose "key" would be the public one.
 */
#ifndef CAPPROXY_JWT_H
#define CAPPROXY_JWT_H

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

/* A longer token is refused unread (a header already bounds it; this bounds the work). */
#define JWT_MAX_TOKEN 16384
/* A key set with more usable keys keeps the first ones (kid lookups stay cheap). */
#define JWT_MAX_KEYS 32
/* The default clock skew allowed on exp and nbf, in seconds. */
#define JWT_DEFAULT_LEEWAY_S 60

struct jwt_key;

/* The usable signing keys of a JWK set. */
struct jwt_keyset {
    struct jwt_key *keys;
    size_t n;
};

/* Parse JWK set <json>[0..len) into <out> (jwt_keyset_free it either way). Keys that cannot
 * verify a signature here (another kty or curve, `use` other than sig, an RSA modulus under
 * 2048 bits, a private or symmetric key) are left out. 0, or -1 with <why> when the text is
 * not a JWK set (no "keys" array). A set with no usable key is not an error: every token then
 * fails with JWT_NO_KEY. */
int jwt_keyset_parse(const char *json, size_t len, struct jwt_keyset *out, char *why, size_t cap);
void jwt_keyset_free(struct jwt_keyset *ks);

/* A parsed, not yet verified token. */
struct jwt {
    cJSON *header;
    cJSON *claims;
    const char *alg;           /* borrowed from header */
    const char *kid;           /* borrowed from header; NULL when absent */
    const char *signing_input; /* borrowed from the token: "<header>.<payload>" */
    size_t signing_len;
    unsigned char *sig;
    size_t siglen;
};

/* Parse <token>[0..len) (three base64url parts, header and payload JSON objects, "alg" one of
 * the accepted algorithms, no "crit"). 0, or -1 with <*why> set (a static text safe to show);
 * jwt_free <out> either way. */
int jwt_parse(const char *token, size_t len, struct jwt *out, const char **why);
void jwt_free(struct jwt *t);

enum jwt_verdict {
    JWT_VALID,  /* signed by a key of the set */
    JWT_NO_KEY, /* no key of the set fits (unknown kid): worth refreshing the set once */
    JWT_BAD,    /* a key fits and the signature is wrong, or the token cannot be verified */
};

/* Verify <t>'s signature with the key of <ks> it names (its kid; without one, every key of a
 * fitting type is tried). A key's "alg", when it has one, must be the token's. <*why> is set
 * unless JWT_VALID. */
enum jwt_verdict jwt_verify(const struct jwt *t, const struct jwt_keyset *ks, const char **why);

/* What the claims must say. */
struct jwt_expect {
    const char *issuer;   /* `iss` must equal it (one trailing '/' ignored); NULL: not checked */
    const char *audience; /* `aud` (a string or an array) must hold it; NULL: not checked */
    const char *const *scopes; /* each must be in `scope` (space-separated) or `scp` */
    size_t nscopes;
    long long now;    /* seconds since the epoch */
    long leeway_s;    /* clock skew allowed on exp and nbf */
    bool require_exp; /* a JWT access token must expire (RFC 9068); introspection need not */
};

enum jwt_claims_result {
    JWT_CLAIMS_OK,
    JWT_CLAIMS_INVALID, /* expired, not yet valid, wrong issuer or audience: 401 invalid_token */
    JWT_CLAIMS_SCOPE,   /* valid but a required scope is missing: 403 insufficient_scope */
};

/* Check <claims> (a JSON object: a token's payload or an introspection answer) against <e>.
 * Unless JWT_CLAIMS_OK, <why> gets a short reason naming the claim (no token content beyond
 * the missing scope's name). */
enum jwt_claims_result jwt_check_claims(const cJSON *claims, const struct jwt_expect *e, char *why,
                                        size_t cap);

#endif
