/*
 * jwt: see jwt.h. Every cryptographic step is libcrypto's: JWK parameters become an EVP_PKEY
 * through OSSL_PARAM (RSA, EC) or the raw public key (Ed25519/Ed448), and EVP_DigestVerify
 * checks the signature. JOSE's ECDSA signature is r||s; libcrypto wants DER, so it is re-encoded
 * with ECDSA_SIG, never by hand.
 */
#include "core/jwt.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/rsa.h>

#include "base/b64.h"
#include "base/util.h"

/* Smallest RSA modulus accepted (RFC 7518 3.3: 2048 bits or larger). */
#define JWT_MIN_RSA_BITS 2048

enum jwt_family { FAM_RSA, FAM_EC_P256, FAM_OKP };

struct jwt_key {
    char *kid; /* NULL when the JWK has none */
    char *alg; /* the JWK's "alg", NULL when absent */
    enum jwt_family fam;
    EVP_PKEY *pkey;
};

/* The accepted algorithms and what each needs. */
static const struct {
    const char *name;
    enum jwt_family fam;
    bool pss;
} algs[] = {
    {"RS256", FAM_RSA, false}, {"PS256", FAM_RSA, true},    {"ES256", FAM_EC_P256, false},
    {"EdDSA", FAM_OKP, false}, {"Ed25519", FAM_OKP, false},
};

static int alg_index(const char *alg)
{
    for (size_t i = 0; alg && i < UTIL_ARRAY_LEN(algs); i++)
        if (str_eq(algs[i].name, alg))
            return (int)i;
    return -1;
}

/* Decode base64url <in>[0..len) (unpadded) into a new buffer; NULL when malformed. */
static unsigned char *b64url_dup(const char *in, size_t len, size_t *outlen)
{
    if (len % 4 == 1)
        return NULL;
    size_t n = len / 4 * 3 + (len % 4 ? len % 4 - 1 : 0);
    unsigned char *out = xmalloc(n + 1);
    if (b64_url_decode(in, len, out, n) < 0) {
        free(out);
        return NULL;
    }
    out[n] = '\0';
    *outlen = n;
    return out;
}

/* A base64url JWK member <name> of <jwk> decoded, NULL when absent or malformed. */
static unsigned char *jwk_bytes(const cJSON *jwk, const char *name, size_t *len)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(jwk, name);
    if (!cJSON_IsString(v))
        return NULL;
    return b64url_dup(v->valuestring, strlen(v->valuestring), len);
}

static EVP_PKEY *pkey_fromdata(const char *type, OSSL_PARAM_BLD *bld)
{
    EVP_PKEY *pkey = NULL;
    OSSL_PARAM *params = OSSL_PARAM_BLD_to_param(bld);
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL);
    if (params && ctx && EVP_PKEY_fromdata_init(ctx) == 1)
        if (EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) != 1)
            pkey = NULL;
    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_free(params);
    return pkey;
}

static EVP_PKEY *rsa_key(const cJSON *jwk)
{
    size_t nlen = 0, elen = 0;
    unsigned char *n = jwk_bytes(jwk, "n", &nlen), *e = jwk_bytes(jwk, "e", &elen);
    EVP_PKEY *pkey = NULL;
    BIGNUM *bn = NULL, *be = NULL;
    OSSL_PARAM_BLD *bld = NULL;
    if (!n || !e || nlen == 0 || elen == 0)
        goto out;
    bn = BN_bin2bn(n, (int)nlen, NULL);
    be = BN_bin2bn(e, (int)elen, NULL);
    if (!bn || !be || BN_num_bits(bn) < JWT_MIN_RSA_BITS)
        goto out;
    bld = OSSL_PARAM_BLD_new();
    if (bld && OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn) &&
        OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, be))
        pkey = pkey_fromdata("RSA", bld);
out:
    OSSL_PARAM_BLD_free(bld);
    BN_free(bn);
    BN_free(be);
    free(n);
    free(e);
    return pkey;
}

static EVP_PKEY *ec_key(const cJSON *jwk)
{
    const cJSON *crv = cJSON_GetObjectItemCaseSensitive(jwk, "crv");
    if (!cJSON_IsString(crv) || !str_eq(crv->valuestring, "P-256"))
        return NULL;
    size_t xlen = 0, ylen = 0;
    unsigned char *x = jwk_bytes(jwk, "x", &xlen), *y = jwk_bytes(jwk, "y", &ylen);
    EVP_PKEY *pkey = NULL;
    if (x && y && xlen == 32 && ylen == 32) {
        unsigned char point[65];
        point[0] = 0x04; /* uncompressed: the point is checked to be on the curve */
        memcpy(point + 1, x, 32);
        memcpy(point + 33, y, 32);
        OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
        if (bld &&
            OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0) &&
            OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, point, sizeof point))
            pkey = pkey_fromdata("EC", bld);
        OSSL_PARAM_BLD_free(bld);
    }
    free(x);
    free(y);
    return pkey;
}

static EVP_PKEY *okp_key(const cJSON *jwk)
{
    const cJSON *crv = cJSON_GetObjectItemCaseSensitive(jwk, "crv");
    int type;
    size_t want;
    if (cJSON_IsString(crv) && str_eq(crv->valuestring, "Ed25519"))
        type = EVP_PKEY_ED25519, want = 32;
    else if (cJSON_IsString(crv) && str_eq(crv->valuestring, "Ed448"))
        type = EVP_PKEY_ED448, want = 57;
    else
        return NULL; /* X25519 and X448 are for key agreement, not signatures */
    size_t xlen = 0;
    unsigned char *x = jwk_bytes(jwk, "x", &xlen);
    EVP_PKEY *pkey = x && xlen == want ? EVP_PKEY_new_raw_public_key(type, NULL, x, xlen) : NULL;
    free(x);
    return pkey;
}

/* One JWK as a usable key into <k>; false when it is not one (left out of the set). */
static bool key_from_jwk(const cJSON *jwk, struct jwt_key *k)
{
    const cJSON *kty = cJSON_GetObjectItemCaseSensitive(jwk, "kty");
    const cJSON *use = cJSON_GetObjectItemCaseSensitive(jwk, "use");
    const cJSON *alg = cJSON_GetObjectItemCaseSensitive(jwk, "alg");
    const cJSON *kid = cJSON_GetObjectItemCaseSensitive(jwk, "kid");
    if (!cJSON_IsObject(jwk) || !cJSON_IsString(kty))
        return false;
    if (use && !(cJSON_IsString(use) && str_eq(use->valuestring, "sig")))
        return false; /* an encryption key never verifies a signature */
    if (alg && (!cJSON_IsString(alg) || alg_index(alg->valuestring) < 0))
        return false; /* meant for an algorithm not accepted here (HS256, RSA-OAEP...) */
    /* A private member means someone published a private key: never trust that set's key. */
    if (cJSON_GetObjectItemCaseSensitive(jwk, "d"))
        return false;
    const char *t = kty->valuestring;
    if (str_eq(t, "RSA"))
        k->fam = FAM_RSA, k->pkey = rsa_key(jwk);
    else if (str_eq(t, "EC"))
        k->fam = FAM_EC_P256, k->pkey = ec_key(jwk);
    else if (str_eq(t, "OKP"))
        k->fam = FAM_OKP, k->pkey = okp_key(jwk);
    else
        return false; /* "oct": a symmetric key is never a resource server's to verify with */
    if (!k->pkey)
        return false;
    if (alg && algs[alg_index(alg->valuestring)].fam != k->fam) {
        EVP_PKEY_free(k->pkey);
        return false;
    }
    k->kid = cJSON_IsString(kid) ? xstrdup(kid->valuestring) : NULL;
    k->alg = alg ? xstrdup(alg->valuestring) : NULL;
    return true;
}

int jwt_keyset_parse(const char *json, size_t len, struct jwt_keyset *out, char *why, size_t cap)
{
    out->keys = NULL;
    out->n = 0;
    cJSON *doc = cJSON_ParseWithLength(json, len);
    const cJSON *keys = cJSON_GetObjectItemCaseSensitive(doc, "keys");
    if (!cJSON_IsArray(keys)) {
        snprintf(why, cap, "%s", doc ? "the JWK set has no \"keys\" array" : "not JSON");
        cJSON_Delete(doc);
        return -1;
    }
    out->keys = xcalloc(JWT_MAX_KEYS, sizeof *out->keys);
    const cJSON *jwk;
    cJSON_ArrayForEach(jwk, keys)
    {
        if (out->n == JWT_MAX_KEYS)
            break;
        if (key_from_jwk(jwk, &out->keys[out->n]))
            out->n++;
    }
    cJSON_Delete(doc);
    return 0;
}

void jwt_keyset_free(struct jwt_keyset *ks)
{
    for (size_t i = 0; i < ks->n; i++) {
        free(ks->keys[i].kid);
        free(ks->keys[i].alg);
        EVP_PKEY_free(ks->keys[i].pkey);
    }
    free(ks->keys);
    ks->keys = NULL;
    ks->n = 0;
}

/* A base64url part holding one JSON object. */
static cJSON *json_part(const char *in, size_t len)
{
    size_t n;
    unsigned char *raw = b64url_dup(in, len, &n);
    if (!raw)
        return NULL;
    cJSON *v = cJSON_ParseWithLength((const char *)raw, n);
    free(raw);
    if (v && !cJSON_IsObject(v)) {
        cJSON_Delete(v);
        return NULL;
    }
    return v;
}

int jwt_parse(const char *token, size_t len, struct jwt *out, const char **why)
{
    memset(out, 0, sizeof *out);
    if (len > JWT_MAX_TOKEN) {
        *why = "the token is too long";
        return -1;
    }
    const char *d1 = memchr(token, '.', len);
    const char *d2 = d1 ? memchr(d1 + 1, '.', len - (size_t)(d1 + 1 - token)) : NULL;
    if (!d2 || memchr(d2 + 1, '.', len - (size_t)(d2 + 1 - token))) {
        *why = "the token is not a JWS in compact form (three dot-separated parts)";
        return -1;
    }
    out->header = json_part(token, (size_t)(d1 - token));
    if (!out->header) {
        *why = "the token's header is not a base64url JSON object";
        return -1;
    }
    out->claims = json_part(d1 + 1, (size_t)(d2 - d1 - 1));
    if (!out->claims) {
        *why = "the token's payload is not a base64url JSON object";
        return -1;
    }
    const cJSON *alg = cJSON_GetObjectItemCaseSensitive(out->header, "alg");
    if (!cJSON_IsString(alg) || alg_index(alg->valuestring) < 0) {
        *why = "the token's alg is not one of RS256, PS256, ES256, EdDSA";
        return -1;
    }
    /* RFC 7515 4.1.11: extensions we do not understand must not be ignored. */
    if (cJSON_GetObjectItemCaseSensitive(out->header, "crit")) {
        *why = "the token has critical header extensions";
        return -1;
    }
    out->alg = alg->valuestring;
    const cJSON *kid = cJSON_GetObjectItemCaseSensitive(out->header, "kid");
    if (kid && !cJSON_IsString(kid)) {
        *why = "the token's kid is not a string";
        return -1;
    }
    out->kid = kid ? kid->valuestring : NULL;
    out->signing_input = token;
    out->signing_len = (size_t)(d2 - token);
    out->sig = b64url_dup(d2 + 1, len - (size_t)(d2 + 1 - token), &out->siglen);
    if (!out->sig || out->siglen == 0) {
        *why = "the token's signature is not base64url";
        return -1;
    }
    return 0;
}

void jwt_free(struct jwt *t)
{
    cJSON_Delete(t->header);
    cJSON_Delete(t->claims);
    free(t->sig);
    memset(t, 0, sizeof *t);
}

/* JOSE's ES256 signature (r||s, 32 bytes each) as the DER that libcrypto verifies; NULL when
 * it is not 64 bytes. */
static unsigned char *ecdsa_der(const unsigned char *sig, size_t len, size_t *derlen)
{
    if (len != 64)
        return NULL;
    ECDSA_SIG *es = ECDSA_SIG_new();
    BIGNUM *r = BN_bin2bn(sig, 32, NULL), *s = BN_bin2bn(sig + 32, 32, NULL);
    unsigned char *der = NULL;
    if (es && r && s && ECDSA_SIG_set0(es, r, s) == 1) {
        r = s = NULL; /* owned by es now */
        int n = i2d_ECDSA_SIG(es, &der);
        if (n <= 0)
            der = NULL;
        else
            *derlen = (size_t)n;
    }
    BN_free(r);
    BN_free(s);
    ECDSA_SIG_free(es);
    return der;
}

/* Whether <k>'s signature over <t>'s signing input is right, with algorithm <ai>. */
static bool verify_with(const struct jwt *t, const struct jwt_key *k, int ai)
{
    const unsigned char *sig = t->sig;
    size_t siglen = t->siglen;
    unsigned char *der = NULL;
    if (k->fam == FAM_EC_P256) {
        der = ecdsa_der(t->sig, t->siglen, &siglen);
        if (!der)
            return false;
        sig = der;
    }
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    EVP_PKEY_CTX *pctx = NULL;
    bool ok = false;
    /* EdDSA hashes internally: no digest is named. */
    const EVP_MD *digest = k->fam == FAM_OKP ? NULL : EVP_sha256();
    if (md && EVP_DigestVerifyInit(md, &pctx, digest, NULL, k->pkey) == 1) {
        bool set = true;
        if (algs[ai].pss) /* RFC 7518 3.5: MGF1 with SHA-256, salt as long as the hash */
            set = EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) == 1 &&
                  EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) == 1 &&
                  EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, EVP_sha256()) == 1;
        else if (k->fam == FAM_RSA)
            set = EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) == 1;
        ok = set && EVP_DigestVerify(md, sig, siglen, (const unsigned char *)t->signing_input,
                                     t->signing_len) == 1;
    }
    EVP_MD_CTX_free(md);
    OPENSSL_free(der);
    return ok;
}

enum jwt_verdict jwt_verify(const struct jwt *t, const struct jwt_keyset *ks, const char **why)
{
    int ai = alg_index(t->alg);
    if (ai < 0) {
        *why = "the token's alg is not accepted";
        return JWT_BAD;
    }
    bool tried = false;
    for (size_t i = 0; i < ks->n; i++) {
        const struct jwt_key *k = &ks->keys[i];
        if (t->kid && !(k->kid && str_eq(k->kid, t->kid)))
            continue;
        if (k->fam != algs[ai].fam)
            continue;
        if (k->alg && !str_eq(k->alg, t->alg) &&
            !(algs[ai].fam == FAM_OKP && alg_index(k->alg) >= 0))
            continue; /* a key restricted to another algorithm (EdDSA and Ed25519 are one) */
        tried = true;
        if (verify_with(t, k, ai))
            return JWT_VALID;
        if (t->kid)
            break; /* the key it names said no */
    }
    *why = tried ? "the token's signature does not verify"
                 : "no key of the authorization server matches the token's kid and alg";
    return tried ? JWT_BAD : JWT_NO_KEY;
}

static size_t trim_slash(const char *s)
{
    size_t n = strlen(s);
    return n && s[n - 1] == '/' ? n - 1 : n;
}

static bool aud_has(const cJSON *aud, const char *want)
{
    if (cJSON_IsString(aud))
        return str_eq(aud->valuestring, want);
    const cJSON *a;
    cJSON_ArrayForEach(a, aud)
    {
        if (cJSON_IsString(a) && str_eq(a->valuestring, want))
            return true;
    }
    return false;
}

/* Whether scope <want> is granted: a word of the space-separated `scope`, or an element (or a
 * word) of `scp`, the spelling some servers use. */
static bool scope_has(const cJSON *claims, const char *want)
{
    const cJSON *sources[2] = {cJSON_GetObjectItemCaseSensitive(claims, "scope"),
                               cJSON_GetObjectItemCaseSensitive(claims, "scp")};
    size_t wl = strlen(want);
    for (int i = 0; i < 2; i++) {
        const cJSON *s = sources[i];
        if (cJSON_IsArray(s)) {
            const cJSON *e;
            cJSON_ArrayForEach(e, s)
            {
                if (cJSON_IsString(e) && str_eq(e->valuestring, want))
                    return true;
            }
            continue;
        }
        if (!cJSON_IsString(s))
            continue;
        for (const char *p = s->valuestring; *p;) {
            size_t n = strcspn(p, " ");
            if (n == wl && memcmp(p, want, n) == 0)
                return true;
            p += n;
            while (*p == ' ')
                p++;
        }
    }
    return false;
}

/* NumericDate member <name>: 1 with <*out> set, 0 when absent, -1 when not a finite number. */
static int numeric_date(const cJSON *claims, const char *name, double *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(claims, name);
    if (!v)
        return 0;
    if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble))
        return -1;
    *out = v->valuedouble;
    return 1;
}

enum jwt_claims_result jwt_check_claims(const cJSON *claims, const struct jwt_expect *e, char *why,
                                        size_t cap)
{
    double exp = 0, nbf = 0;
    int has_exp = numeric_date(claims, "exp", &exp);
    int has_nbf = numeric_date(claims, "nbf", &nbf);
    if (has_exp < 0 || has_nbf < 0) {
        snprintf(why, cap, "the token's %s is not a number", has_exp < 0 ? "exp" : "nbf");
        return JWT_CLAIMS_INVALID;
    }
    if (!has_exp && e->require_exp) {
        snprintf(why, cap, "the token has no exp claim");
        return JWT_CLAIMS_INVALID;
    }
    if (has_exp && (double)e->now - (double)e->leeway_s >= exp) {
        snprintf(why, cap, "the token has expired");
        return JWT_CLAIMS_INVALID;
    }
    if (has_nbf && (double)e->now + (double)e->leeway_s < nbf) {
        snprintf(why, cap, "the token is not valid yet (nbf)");
        return JWT_CLAIMS_INVALID;
    }
    if (e->issuer) {
        const cJSON *iss = cJSON_GetObjectItemCaseSensitive(claims, "iss");
        size_t want = trim_slash(e->issuer);
        if (!cJSON_IsString(iss) || trim_slash(iss->valuestring) != want ||
            memcmp(iss->valuestring, e->issuer, want) != 0) {
            snprintf(why, cap, "the token's issuer (iss) is not the authorization server");
            return JWT_CLAIMS_INVALID;
        }
    }
    if (e->audience && !aud_has(cJSON_GetObjectItemCaseSensitive(claims, "aud"), e->audience)) {
        snprintf(why, cap, "the token's audience (aud) is not this resource");
        return JWT_CLAIMS_INVALID;
    }
    for (size_t i = 0; i < e->nscopes; i++)
        if (!scope_has(claims, e->scopes[i])) {
            snprintf(why, cap, "the token lacks scope '%s'", e->scopes[i]);
            return JWT_CLAIMS_SCOPE;
        }
    return JWT_CLAIMS_OK;
}
