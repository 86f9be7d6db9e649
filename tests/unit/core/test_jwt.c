/*
 * Unit tests for core/jwt: keys made here with libcrypto, published as a JWK set, tokens signed
 * with them; then every way a token can be wrong.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>

#include "base/b64.h"
#include "base/util.h"
#include "core/jwt.h"
#include "harness.h"

static EVP_PKEY *rsa_priv, *ec_priv, *ed_priv, *rsa_small;

static char *b64u(const void *p, size_t n)
{
    char *s = xmalloc(B64_URL_LEN(n) + 1);
    b64_url_encode(p, n, s);
    return s;
}

static char *bn_b64u(EVP_PKEY *k, const char *name)
{
    BIGNUM *bn = NULL;
    EVP_PKEY_get_bn_param(k, name, &bn);
    int n = BN_num_bytes(bn);
    unsigned char buf[1024];
    BN_bn2bin(bn, buf);
    BN_free(bn);
    return b64u(buf, (size_t)n);
}

/* The public JWK of <k> as a JSON object text, with <kid> and <alg> (either may be NULL). */
static char *jwk_of(EVP_PKEY *k, const char *kid, const char *alg)
{
    struct strbuf b;
    strbuf_init(&b, 0);
    strbuf_addf(&b, "{");
    if (kid)
        strbuf_addf(&b, "\"kid\":\"%s\",", kid);
    if (alg)
        strbuf_addf(&b, "\"alg\":\"%s\",", alg);
    if (EVP_PKEY_is_a(k, "RSA")) {
        char *n = bn_b64u(k, OSSL_PKEY_PARAM_RSA_N), *e = bn_b64u(k, OSSL_PKEY_PARAM_RSA_E);
        strbuf_addf(&b, "\"kty\":\"RSA\",\"n\":\"%s\",\"e\":\"%s\"}", n, e);
        free(n);
        free(e);
    } else if (EVP_PKEY_is_a(k, "EC")) {
        BIGNUM *x = NULL, *y = NULL;
        EVP_PKEY_get_bn_param(k, OSSL_PKEY_PARAM_EC_PUB_X, &x);
        EVP_PKEY_get_bn_param(k, OSSL_PKEY_PARAM_EC_PUB_Y, &y);
        unsigned char xb[32], yb[32];
        BN_bn2binpad(x, xb, 32);
        BN_bn2binpad(y, yb, 32);
        char *xs = b64u(xb, 32), *ys = b64u(yb, 32);
        strbuf_addf(&b, "\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"%s\",\"y\":\"%s\"}", xs, ys);
        free(xs);
        free(ys);
        BN_free(x);
        BN_free(y);
    } else {
        unsigned char raw[64];
        size_t n = sizeof raw;
        EVP_PKEY_get_raw_public_key(k, raw, &n);
        char *xs = b64u(raw, n);
        strbuf_addf(&b, "\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"%s\"}", xs);
        free(xs);
    }
    return strbuf_detach(&b, NULL);
}

/* A compact JWS of <claims> signed by <k> with <alg> (header has <kid> when not NULL). */
static char *sign(EVP_PKEY *k, const char *alg, const char *kid, const char *claims)
{
    char header[256];
    if (kid)
        snprintf(header, sizeof header, "{\"alg\":\"%s\",\"typ\":\"JWT\",\"kid\":\"%s\"}", alg,
                 kid);
    else
        snprintf(header, sizeof header, "{\"alg\":\"%s\",\"typ\":\"JWT\"}", alg);
    char *h = b64u(header, strlen(header)), *p = b64u(claims, strlen(claims));
    char *input = xasprintf("%s.%s", h, p);
    free(h);
    free(p);
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    EVP_PKEY_CTX *pctx = NULL;
    bool ed = EVP_PKEY_is_a(k, "ED25519");
    EVP_DigestSignInit(md, &pctx, ed ? NULL : EVP_sha256(), NULL, k);
    if (!strcmp(alg, "PS256")) {
        EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING);
        EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST);
    }
    unsigned char sig[1024];
    size_t siglen = sizeof sig;
    EVP_DigestSign(md, sig, &siglen, (unsigned char *)input, strlen(input));
    EVP_MD_CTX_free(md);
    if (EVP_PKEY_is_a(k, "EC")) { /* DER -> r||s */
        const unsigned char *pp = sig;
        ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &pp, (long)siglen);
        BN_bn2binpad(ECDSA_SIG_get0_r(es), sig, 32);
        BN_bn2binpad(ECDSA_SIG_get0_s(es), sig + 32, 32);
        siglen = 64;
        ECDSA_SIG_free(es);
    }
    char *s = b64u(sig, siglen);
    char *tok = xasprintf("%s.%s", input, s);
    free(s);
    free(input);
    return tok;
}

static long long now_s(void)
{
    return (long long)time(NULL);
}

/* A claims set: issuer, audience, scope, exp/nbf relative to now. */
static char *claims(const char *iss, const char *aud, const char *scope, long exp_in, long nbf_in)
{
    long long n = now_s();
    return xasprintf("{\"iss\":\"%s\",\"aud\":\"%s\",\"scope\":\"%s\",\"exp\":%lld,\"nbf\":%lld,"
                     "\"sub\":\"agent\"}",
                     iss, aud, scope, n + exp_in, n + nbf_in);
}

static struct jwt_keyset keyset(void)
{
    char *k1 = jwk_of(rsa_priv, "r1", "RS256"), *k2 = jwk_of(ec_priv, "e1", NULL),
         *k3 = jwk_of(ed_priv, "d1", "EdDSA"), *k4 = jwk_of(rsa_priv, "p1", "PS256");
    char *set = xasprintf("{\"keys\":[%s,%s,%s,%s,{\"kty\":\"oct\",\"k\":\"c2VjcmV0\",\"kid\":"
                          "\"h1\"},{\"kty\":\"RSA\",\"use\":\"enc\",\"kid\":\"x\",\"n\":\"AQ\","
                          "\"e\":\"AQAB\"}]}",
                          k1, k2, k3, k4);
    struct jwt_keyset ks;
    char why[128];
    CHECK(jwt_keyset_parse(set, strlen(set), &ks, why, sizeof why) == 0);
    free(k1);
    free(k2);
    free(k3);
    free(k4);
    free(set);
    return ks;
}

static enum jwt_verdict verify(const char *tok, const struct jwt_keyset *ks, const char **why)
{
    struct jwt t;
    enum jwt_verdict v = JWT_BAD;
    if (jwt_parse(tok, strlen(tok), &t, why) == 0)
        v = jwt_verify(&t, ks, why);
    jwt_free(&t);
    return v;
}

static void test_keyset_keeps_usable_keys(void)
{
    struct jwt_keyset ks = keyset();
    CHECK(ks.n == 4); /* the oct and the enc keys are left out */
    jwt_keyset_free(&ks);
    char why[128];
    CHECK(jwt_keyset_parse("{\"nokeys\":1}", 12, &ks, why, sizeof why) < 0);
    CHECK_STR(why, "the JWK set has no \"keys\" array");
    jwt_keyset_free(&ks);
    /* A 1024-bit RSA key is too small to trust. */
    char *k = jwk_of(rsa_small, "s", NULL), *set = xasprintf("{\"keys\":[%s]}", k);
    CHECK(jwt_keyset_parse(set, strlen(set), &ks, why, sizeof why) == 0 && ks.n == 0);
    jwt_keyset_free(&ks);
    free(k);
    free(set);
}

static void test_each_algorithm_verifies(void)
{
    struct jwt_keyset ks = keyset();
    char *c = claims("https://as", "https://rs", "read", 300, -10);
    const char *why = NULL;
    char *t;
    t = sign(rsa_priv, "RS256", "r1", c);
    CHECK(verify(t, &ks, &why) == JWT_VALID);
    free(t);
    t = sign(rsa_priv, "PS256", "p1", c);
    CHECK(verify(t, &ks, &why) == JWT_VALID);
    free(t);
    t = sign(ec_priv, "ES256", "e1", c);
    CHECK(verify(t, &ks, &why) == JWT_VALID);
    free(t);
    t = sign(ed_priv, "EdDSA", "d1", c);
    CHECK(verify(t, &ks, &why) == JWT_VALID);
    free(t);
    /* Without a kid, every key of the right type is tried. */
    t = sign(ec_priv, "ES256", NULL, c);
    CHECK(verify(t, &ks, &why) == JWT_VALID);
    free(t);
    free(c);
    jwt_keyset_free(&ks);
}

static void test_bad_signatures(void)
{
    struct jwt_keyset ks = keyset();
    char *c = claims("https://as", "https://rs", "read", 300, -10);
    const char *why = NULL;
    /* Signed by the EC key but claiming the RSA key's kid. */
    char *t = sign(ec_priv, "ES256", "r1", c);
    CHECK(verify(t, &ks, &why) == JWT_NO_KEY); /* r1 is an RS256 key: no ES256 key named r1 */
    free(t);
    /* A payload changed after signing. */
    t = sign(rsa_priv, "RS256", "r1", c);
    char *dot = strchr(t, '.');
    dot[3] = dot[3] == 'A' ? 'B' : 'A';
    CHECK(verify(t, &ks, &why) == JWT_BAD);
    free(t);
    /* An unknown kid: the caller may refresh the key set. */
    t = sign(rsa_priv, "RS256", "rotated", c);
    CHECK(verify(t, &ks, &why) == JWT_NO_KEY);
    CHECK_STR(why, "no key of the authorization server matches the token's kid and alg");
    free(t);
    /* A key restricted to RS256 does not verify PS256 made with the same key pair. */
    t = sign(rsa_priv, "PS256", "r1", c);
    CHECK(verify(t, &ks, &why) == JWT_NO_KEY);
    free(t);
    free(c);
    jwt_keyset_free(&ks);
}

static void test_refused_algorithms_and_forms(void)
{
    struct jwt t;
    const char *why = NULL;
    /* alg none, and HS256 (the public key must never become an HMAC secret). */
    const char *none = "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.";
    CHECK(jwt_parse(none, strlen(none), &t, &why) < 0);
    jwt_free(&t);
    const char *hs = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln";
    CHECK(jwt_parse(hs, strlen(hs), &t, &why) < 0);
    CHECK_STR(why, "the token's alg is not one of RS256, PS256, ES256, EdDSA");
    jwt_free(&t);
    CHECK(jwt_parse("abc", 3, &t, &why) < 0);
    CHECK_STR(why, "the token is not a JWS in compact form (three dot-separated parts)");
    jwt_free(&t);
    CHECK(jwt_parse("a.b.c.d", 7, &t, &why) < 0);
    jwt_free(&t);
    const char *notjson = "bm90anNvbg.eyJzdWIiOiJ4In0.c2ln";
    CHECK(jwt_parse(notjson, strlen(notjson), &t, &why) < 0);
    CHECK_STR(why, "the token's header is not a base64url JSON object");
    jwt_free(&t);
    /* {"alg":"RS256","crit":["exp"]} */
    const char *crit = "eyJhbGciOiJSUzI1NiIsImNyaXQiOlsiZXhwIl19.eyJzdWIiOiJ4In0.c2ln";
    CHECK(jwt_parse(crit, strlen(crit), &t, &why) < 0);
    CHECK_STR(why, "the token has critical header extensions");
    jwt_free(&t);
}

static enum jwt_claims_result check(const char *json, const struct jwt_expect *e, char *why)
{
    cJSON *c = cJSON_Parse(json);
    enum jwt_claims_result r = jwt_check_claims(c, e, why, 128);
    cJSON_Delete(c);
    return r;
}

static void test_claims(void)
{
    static const char *const scopes[] = {"read", "write"};
    struct jwt_expect e = {"https://as/", "https://rs", scopes, 2, now_s(), 60, true};
    char why[128];
    char *c = claims("https://as", "https://rs", "write read other", 300, -10);
    CHECK(check(c, &e, why) == JWT_CLAIMS_OK); /* issuer's trailing slash ignored */
    free(c);
    c = claims("https://as", "https://rs", "read", 300, -10);
    CHECK(check(c, &e, why) == JWT_CLAIMS_SCOPE);
    CHECK_STR(why, "the token lacks scope 'write'");
    free(c);
    c = claims("https://as", "https://rs", "read write", -61, -100);
    CHECK(check(c, &e, why) == JWT_CLAIMS_INVALID);
    CHECK_STR(why, "the token has expired");
    free(c);
    c = claims("https://as", "https://rs", "read write", -30, -100);
    CHECK(check(c, &e, why) == JWT_CLAIMS_OK); /* within the leeway */
    free(c);
    c = claims("https://as", "https://rs", "read write", 300, 90);
    CHECK(check(c, &e, why) == JWT_CLAIMS_INVALID);
    CHECK_STR(why, "the token is not valid yet (nbf)");
    free(c);
    c = claims("https://evil", "https://rs", "read write", 300, -10);
    CHECK(check(c, &e, why) == JWT_CLAIMS_INVALID);
    CHECK_STR(why, "the token's issuer (iss) is not the authorization server");
    free(c);
    c = claims("https://as.evil", "https://rs", "read write", 300, -10);
    CHECK(check(c, &e, why) == JWT_CLAIMS_INVALID);
    free(c);
    c = claims("https://as", "https://other", "read write", 300, -10);
    CHECK(check(c, &e, why) == JWT_CLAIMS_INVALID);
    CHECK_STR(why, "the token's audience (aud) is not this resource");
    free(c);
    CHECK(check("{\"iss\":\"https://as\",\"aud\":[\"x\",\"https://rs\"],\"scp\":[\"read\","
                "\"write\"],\"exp\":99999999999}",
                &e, why) == JWT_CLAIMS_OK);
    CHECK(check("{\"iss\":\"https://as\",\"aud\":\"https://rs\",\"scope\":\"read write\"}", &e,
                why) == JWT_CLAIMS_INVALID);
    CHECK_STR(why, "the token has no exp claim");
    e.require_exp = false; /* an introspection answer */
    CHECK(check("{\"iss\":\"https://as\",\"aud\":\"https://rs\",\"scope\":\"read write\"}", &e,
                why) == JWT_CLAIMS_OK);
    CHECK(check("{\"exp\":\"soon\"}", &e, why) == JWT_CLAIMS_INVALID);
    CHECK_STR(why, "the token's exp is not a number");
}

int main(void)
{
    rsa_priv = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
    rsa_small = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)1024);
    ec_priv = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    ed_priv = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    RUN(test_keyset_keeps_usable_keys());
    RUN(test_each_algorithm_verifies());
    RUN(test_bad_signatures());
    RUN(test_refused_algorithms_and_forms());
    RUN(test_claims());
    EVP_PKEY_free(rsa_priv);
    EVP_PKEY_free(rsa_small);
    EVP_PKEY_free(ec_priv);
    EVP_PKEY_free(ed_priv);
    return harness_report();
}
