/*
 * fuzz_jwt: the caller's bearer token on an adapter with oauth2 authentication (core/jwt.h):
 * jwt_parse (compact JWS, header checks), jwt_verify against a key set, jwt_check_claims; and
 * the authorization server's JWK set (jwt_keyset_parse), untrusted too.
 *
 * The key set is built once: an Ed25519 key made from a fixed seed (kid "d1"), so that tokens
 * it signs are valid in every run and the seeds reach the claims checks verified; an RSA key
 * (kid "r1" RS256, "p1" PS256) and a P-256 key (kid "e1") made at random, so that fuzzed
 * tokens reach every verification path but can never be signed by them.
 *
 * Input: a mode byte, then
 *   mode & 3 == 0, 1: a token;
 *   mode & 3 == 2:    a JWK set, a NUL byte, a token verified with that set instead;
 *   mode & 3 == 3:    a key byte (RS256, PS256, ES256 or EdDSA), two position bytes, then a
 *                     payload: the target signs it with that key, then flips one bit of the
 *                     token at the position.
 * Bits 2..3 of the mode choose what the claims must say (exp required or not, scopes or not).
 * Properties (abort on violation):
 *  - a parsed token has an accepted alg, a kid string or none, a signing input that is the
 *    token up to its second '.', and a signature;
 *  - a token verifies only when its signature is the one the Ed25519 key makes for its signing
 *    input (recomputed here): nothing else this target never signed, whatever the key set;
 *  - a token this target signs over a JSON-object payload parses and verifies; with one bit of
 *    its signing input flipped it never verifies;
 *  - claims accepted have an exp after now (when required or present), nbf before now, the
 *    issuer, the audience and the scopes; a refusal has a reason;
 *  - a JWK set never holds more than JWT_MAX_KEYS keys.
 * FUZZ_JWT_VERBOSE=1 prints each verdict; FUZZ_JWT_SEEDS=<dir> writes seed tokens signed by the
 * fixed key into <dir> and exits.
 */
#include "fuzz.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>

#include "base/b64.h"
#include "base/crypto.h"
#include "base/util.h"
#include "core/jwt.h"

#define NOW    1800000000LL
#define ISSUER "https://as.example.test/"
#define AUD    "https://mcp.example.test"

static EVP_PKEY *ed_key, *rsa_key, *ec_key;
static struct jwt_keyset keyset;
static bool verbose; /* FUZZ_JWT_VERBOSE: print each verdict (to check the seeds) */

static char *b64u(const void *p, size_t n)
{
    char *s = xmalloc(B64_URL_LEN(n) + 1);
    b64_url_encode(p, n, s);
    return s;
}

static char *bn_b64u(const BIGNUM *bn, int pad)
{
    unsigned char buf[1024];
    int n = pad ? BN_bn2binpad(bn, buf, pad) : BN_bn2bin(bn, buf);
    return b64u(buf, (size_t)n);
}

/* The public JWK of the three keys, as the authorization server would publish them. */
static char *jwks_text(void)
{
    BIGNUM *n = NULL, *e = NULL, *x = NULL, *y = NULL;
    EVP_PKEY_get_bn_param(rsa_key, OSSL_PKEY_PARAM_RSA_N, &n);
    EVP_PKEY_get_bn_param(rsa_key, OSSL_PKEY_PARAM_RSA_E, &e);
    EVP_PKEY_get_bn_param(ec_key, OSSL_PKEY_PARAM_EC_PUB_X, &x);
    EVP_PKEY_get_bn_param(ec_key, OSSL_PKEY_PARAM_EC_PUB_Y, &y);
    unsigned char raw[32];
    size_t rlen = sizeof raw;
    EVP_PKEY_get_raw_public_key(ed_key, raw, &rlen);
    char *ns = bn_b64u(n, 0), *es = bn_b64u(e, 0), *xs = bn_b64u(x, 32), *ys = bn_b64u(y, 32),
         *ds = b64u(raw, rlen);
    char *set = xasprintf(
        "{\"keys\":[{\"kid\":\"r1\",\"alg\":\"RS256\",\"kty\":\"RSA\",\"n\":\"%s\",\"e\":\"%s\"},"
        "{\"kid\":\"p1\",\"alg\":\"PS256\",\"kty\":\"RSA\",\"n\":\"%s\",\"e\":\"%s\"},"
        "{\"kid\":\"e1\",\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"%s\",\"y\":\"%s\"},"
        "{\"kid\":\"d1\",\"alg\":\"EdDSA\",\"use\":\"sig\",\"kty\":\"OKP\",\"crv\":\"Ed25519\","
        "\"x\":\"%s\"}]}",
        ns, es, ns, es, xs, ys, ds);
    free(ns);
    free(es);
    free(xs);
    free(ys);
    free(ds);
    BN_free(n);
    BN_free(e);
    BN_free(x);
    BN_free(y);
    return set;
}

/* The signature of <input> by <k> as JOSE writes it (ES256: r||s), or NULL. */
static unsigned char *sign_raw(EVP_PKEY *k, bool pss, const char *input, size_t len, size_t *siglen)
{
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    EVP_PKEY_CTX *pctx = NULL;
    bool ed = EVP_PKEY_is_a(k, "ED25519");
    unsigned char *sig = xmalloc(1024);
    *siglen = 1024;
    bool ok = md && EVP_DigestSignInit(md, &pctx, ed ? NULL : EVP_sha256(), NULL, k) == 1;
    if (ok && pss)
        ok = EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) == 1 &&
             EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) == 1;
    ok = ok && EVP_DigestSign(md, sig, siglen, (const unsigned char *)input, len) == 1;
    EVP_MD_CTX_free(md);
    if (ok && EVP_PKEY_is_a(k, "EC")) { /* DER -> r||s */
        const unsigned char *pp = sig;
        ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &pp, (long)*siglen);
        ok = es != NULL;
        if (ok) {
            BN_bn2binpad(ECDSA_SIG_get0_r(es), sig, 32);
            BN_bn2binpad(ECDSA_SIG_get0_s(es), sig + 32, 32);
            *siglen = 64;
        }
        ECDSA_SIG_free(es);
    }
    if (!ok) {
        free(sig);
        return NULL;
    }
    return sig;
}

/* A compact JWS of <payload>[0..plen) with <header>, signed by <k>. */
static char *sign_token(EVP_PKEY *k, bool pss, const char *header, const void *payload, size_t plen)
{
    char *h = b64u(header, strlen(header)), *p = b64u(payload, plen);
    char *input = xasprintf("%s.%s", h, p);
    size_t siglen;
    unsigned char *sig = sign_raw(k, pss, input, strlen(input), &siglen);
    FUZZ_ASSERT(sig != NULL, "signing failed");
    char *s = b64u(sig, siglen);
    char *tok = xasprintf("%s.%s", input, s);
    free(sig);
    free(s);
    free(h);
    free(p);
    free(input);
    return tok;
}

static void write_seed(const char *dir, const char *name, const void *a, size_t alen, const void *b,
                       size_t blen)
{
    char *path = xasprintf("%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(a, 1, alen, f) != alen || (blen && fwrite(b, 1, blen, f) != blen) ||
        fclose(f) != 0) {
        perror(path);
        exit(1);
    }
    free(path);
}

/* Seeds: mode byte 0 and a token signed by the fixed key (or not signed at all). */
static void write_seeds(const char *dir)
{
    static const struct {
        const char *name, *header, *claims;
    } seeds[] = {
        {"ok", "{\"alg\":\"EdDSA\",\"kid\":\"d1\",\"typ\":\"at+jwt\"}",
         "{\"iss\":\"" ISSUER "\",\"aud\":\"" AUD "\",\"scope\":\"read write\",\"exp\":1800000600,"
         "\"nbf\":1799999000,\"sub\":\"agent\"}"},
        {"ok-no-kid-aud-array-scp", "{\"alg\":\"Ed25519\"}",
         "{\"iss\":\"https://as.example.test\",\"aud\":[\"x\",\"" AUD "\"],\"scp\":[\"read\","
         "\"write\"],\"exp\":1800000600}"},
        {"expired", "{\"alg\":\"EdDSA\",\"kid\":\"d1\"}",
         "{\"iss\":\"" ISSUER "\",\"aud\":\"" AUD
         "\",\"scope\":\"read write\",\"exp\":1799999000}"},
        {"no-exp", "{\"alg\":\"EdDSA\",\"kid\":\"d1\"}",
         "{\"iss\":\"" ISSUER "\",\"aud\":\"" AUD "\",\"scope\":\"read write\"}"},
        {"scope-missing", "{\"alg\":\"EdDSA\",\"kid\":\"d1\"}",
         "{\"iss\":\"" ISSUER "\",\"aud\":\"" AUD "\",\"scope\":\"read\",\"exp\":1800000600}"},
        {"wrong-issuer-nbf", "{\"alg\":\"EdDSA\",\"kid\":\"d1\"}",
         "{\"iss\":\"https://evil.test/\",\"aud\":\"" AUD "\",\"nbf\":1900000000,\"exp\":1e308}"},
        {"rs256-kid-r1", "{\"alg\":\"RS256\",\"kid\":\"r1\"}", "{\"exp\":1800000600}"},
        {"ps256-kid-p1", "{\"alg\":\"PS256\",\"kid\":\"p1\"}", "{\"exp\":1800000600}"},
        {"es256-kid-e1", "{\"alg\":\"ES256\",\"kid\":\"e1\"}", "{\"exp\":1800000600}"},
        {"es256-no-kid", "{\"alg\":\"ES256\"}", "{\"exp\":1800000600}"},
        {"unknown-kid", "{\"alg\":\"EdDSA\",\"kid\":\"zz\"}", "{\"exp\":1800000600}"},
        {"alg-none", "{\"alg\":\"none\"}", "{\"exp\":1800000600}"},
        {"alg-hs256", "{\"alg\":\"HS256\",\"kid\":\"r1\"}", "{\"exp\":1800000600}"},
        {"crit", "{\"alg\":\"EdDSA\",\"crit\":[\"b64\"],\"b64\":false}", "{\"exp\":1800000600}"},
    };
    for (size_t i = 0; i < UTIL_ARRAY_LEN(seeds); i++) {
        /* Signed by the fixed key whatever the header says: a wrong signature for the others. */
        char *tok =
            sign_token(ed_key, false, seeds[i].header, seeds[i].claims, strlen(seeds[i].claims));
        char *name = xasprintf("token-%s", seeds[i].name);
        write_seed(dir, name, "\0", 1, tok, strlen(tok));
        free(name);
        if (i == 0) {
            /* The same token against a key set as an authorization server might serve it. */
            unsigned char raw[32];
            size_t rlen = sizeof raw;
            EVP_PKEY_get_raw_public_key(ed_key, raw, &rlen);
            char *x = b64u(raw, rlen);
            char *set = xasprintf(
                "\2{\"keys\":[{\"kty\":\"oct\",\"k\":\"c2VjcmV0\",\"kid\":\"h\"},"
                "{\"kty\":\"RSA\",\"use\":\"enc\",\"kid\":\"x\",\"n\":\"AQ\",\"e\":\"AQAB\"},"
                "{\"kty\":\"EC\",\"crv\":\"P-256\",\"kid\":\"e\",\"x\":\"AAAA\",\"y\":\"AAAA\"},"
                "{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"kid\":\"d1\",\"x\":\"%s\",\"d\":\"AA\"},"
                "{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"kid\":\"d1\",\"x\":\"%s\"}]}",
                x, x);
            write_seed(dir, "jwks-ed25519", set, strlen(set) + 1, tok, strlen(tok));
            free(set);
            free(x);
        }
        free(tok);
    }
    /* Sign mode: each key, a payload. */
    static const char payload[] = "{\"iss\":\"" ISSUER "\",\"aud\":\"" AUD "\",\"scope\":\"read "
                                  "write\",\"exp\":1800000600}";
    for (int k = 0; k < 4; k++) {
        char head[4] = {3, (char)(k == 3 ? 5 : k), 0, 40};
        char *name = xasprintf("sign-%d", k);
        write_seed(dir, name, head, sizeof head, payload, sizeof payload - 1);
        free(name);
    }
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    log_init(LOG_ERROR, false, false);
    verbose = getenv("FUZZ_JWT_VERBOSE") != NULL;
    uint8_t seed[CRYPTO_SHA256_LEN];
    static const char label[] = "capproxy fuzz_jwt fixed Ed25519 key";
    crypto_sha256(label, sizeof label - 1, seed);
    ed_key = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, seed, sizeof seed);
    rsa_key = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
    ec_key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    if (!ed_key || !rsa_key || !ec_key) {
        fprintf(stderr, "fuzz_jwt: cannot make the keys\n");
        exit(1);
    }
    const char *dir = getenv("FUZZ_JWT_SEEDS");
    if (dir && *dir) {
        write_seeds(dir);
        exit(0);
    }
    char *set = jwks_text();
    char why[128];
    if (jwt_keyset_parse(set, strlen(set), &keyset, why, sizeof why) < 0 || keyset.n != 4) {
        fprintf(stderr, "fuzz_jwt: the key set does not load (%zu keys)\n", keyset.n);
        exit(1);
    }
    free(set);
    return 0;
}

/* Whether <t>'s signature is the one the fixed Ed25519 key makes (deterministic). */
static bool signed_by_fixed_key(const struct jwt *t)
{
    size_t siglen;
    unsigned char *sig = sign_raw(ed_key, false, t->signing_input, t->signing_len, &siglen);
    bool same = sig && siglen == t->siglen && memcmp(sig, t->sig, siglen) == 0;
    free(sig);
    return same;
}

static void check_claims(const cJSON *claims, unsigned mode)
{
    static const char *const scopes[] = {"read", "write"};
    struct jwt_expect e = {
        .issuer = ISSUER,
        .audience = mode & 8 ? NULL : AUD,
        .scopes = scopes,
        .nscopes = mode & 8 ? 0 : 2,
        .now = NOW,
        .leeway_s = 60,
        .require_exp = !(mode & 4), /* introspection answers need not expire */
    };
    char why[160] = "";
    enum jwt_claims_result r = jwt_check_claims(claims, &e, why, sizeof why);
    if (verbose)
        fprintf(stderr, "fuzz_jwt: claims %d %s\n", (int)r, why);
    if (r != JWT_CLAIMS_OK) {
        FUZZ_ASSERT(why[0], "refused without a reason");
        return;
    }
    const cJSON *exp = cJSON_GetObjectItemCaseSensitive(claims, "exp");
    FUZZ_ASSERT(exp || !e.require_exp, "accepted without exp");
    FUZZ_ASSERT(!exp || (cJSON_IsNumber(exp) && exp->valuedouble > (double)(NOW - 60)),
                "accepted an expired token");
    const cJSON *nbf = cJSON_GetObjectItemCaseSensitive(claims, "nbf");
    FUZZ_ASSERT(!nbf || (cJSON_IsNumber(nbf) && nbf->valuedouble <= (double)(NOW + 60)),
                "accepted a token not valid yet");
    const char *iss = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(claims, "iss"));
    FUZZ_ASSERT(iss && (str_eq(iss, ISSUER) || str_eq(iss, "https://as.example.test")),
                "accepted issuer %s", iss ? iss : "(none)");
    if (e.audience) {
        const cJSON *aud = cJSON_GetObjectItemCaseSensitive(claims, "aud");
        bool has = str_eq(cJSON_GetStringValue(aud) ? cJSON_GetStringValue(aud) : "", AUD);
        const cJSON *list = cJSON_IsArray(aud) ? aud : NULL, *a;
        cJSON_ArrayForEach(a, list)
        {
            has |= cJSON_IsString(a) && str_eq(a->valuestring, AUD);
        }
        FUZZ_ASSERT(has, "accepted without the audience");
    }
    if (e.nscopes) {
        const cJSON *sc = cJSON_GetObjectItemCaseSensitive(claims, "scope");
        const cJSON *scp = cJSON_GetObjectItemCaseSensitive(claims, "scp");
        FUZZ_ASSERT(cJSON_IsString(sc) || cJSON_IsString(scp) || cJSON_IsArray(scp) ||
                        cJSON_IsArray(sc),
                    "scopes accepted with no scope claim");
    }
}

/* Parse and check <token>; verify with <ks>. The verdict. */
static enum jwt_verdict run_token(const char *token, size_t len, const struct jwt_keyset *ks,
                                  unsigned mode, bool *parsed)
{
    struct jwt t;
    const char *why = NULL;
    enum jwt_verdict v = JWT_BAD;
    *parsed = jwt_parse(token, len, &t, &why) == 0;
    if (!*parsed) {
        FUZZ_ASSERT(why && *why, "refused without a reason");
        goto out;
    }
    FUZZ_ASSERT(t.alg &&
                    (str_eq(t.alg, "RS256") || str_eq(t.alg, "PS256") || str_eq(t.alg, "ES256") ||
                     str_eq(t.alg, "EdDSA") || str_eq(t.alg, "Ed25519")),
                "alg %s accepted", t.alg ? t.alg : "(none)");
    FUZZ_ASSERT(t.signing_input == token && t.signing_len < len && token[t.signing_len] == '.' &&
                    memchr(token, '.', t.signing_len) != NULL &&
                    memchr(token + t.signing_len + 1, '.', len - t.signing_len - 1) == NULL,
                "the signing input is not the token up to its second '.'");
    FUZZ_ASSERT(t.sig && t.siglen > 0, "no signature");
    FUZZ_ASSERT(cJSON_IsObject(t.header) && cJSON_IsObject(t.claims), "not objects");
    why = NULL;
    v = jwt_verify(&t, ks, &why);
    FUZZ_ASSERT(v == JWT_VALID || (why && *why), "refused without a reason");
    if (verbose)
        fprintf(stderr, "fuzz_jwt: verdict %d %s\n", (int)v, v == JWT_VALID ? "" : why);
    if (v == JWT_VALID && ks == &keyset)
        FUZZ_ASSERT(signed_by_fixed_key(&t) || (mode & 3) == 3,
                    "a token this target never signed verifies (alg %s)", t.alg);
    if (v == JWT_VALID && ks != &keyset)
        FUZZ_ASSERT(signed_by_fixed_key(&t), "a token verifies with a fuzzed key set (alg %s)",
                    t.alg);
    check_claims(t.claims, mode);
out:
    jwt_free(&t);
    return v;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    unsigned mode = data[0];
    bool parsed;
    if ((mode & 3) < 2) {
        run_token((const char *)data + 1, size - 1, &keyset, mode, &parsed);
    } else if ((mode & 3) == 2) {
        char *set, *token;
        size_t slen, tlen;
        fuzz_split(data + 1, size - 1, &set, &slen, &token, &tlen);
        struct jwt_keyset ks;
        char why[128] = "";
        if (jwt_keyset_parse(set, slen, &ks, why, sizeof why) == 0) {
            FUZZ_ASSERT(ks.n <= JWT_MAX_KEYS, "%zu keys", ks.n);
            run_token(token, tlen, &ks, mode, &parsed);
        } else {
            FUZZ_ASSERT(why[0] && ks.n == 0, "refused without a reason");
        }
        jwt_keyset_free(&ks);
        free(set);
        free(token);
    } else if (size >= 4) {
        /* Sign what the input says, check it verifies, then that a flipped bit never does. */
        static const struct {
            const char *alg, *kid;
            bool pss;
        } how[] = {{"RS256", "r1", false},   {"PS256", "p1", true},  {"ES256", "e1", false},
                   {"ES256", NULL, false},   {"ES256", "e1", false}, {"EdDSA", "d1", false},
                   {"Ed25519", NULL, false}, {"EdDSA", "d1", false}};
        unsigned k = data[1] & 7;
        EVP_PKEY *key = k < 2 ? rsa_key : k < 5 ? ec_key : ed_key;
        char header[64];
        if (how[k].kid)
            snprintf(header, sizeof header, "{\"alg\":\"%s\",\"kid\":\"%s\"}", how[k].alg,
                     how[k].kid);
        else
            snprintf(header, sizeof header, "{\"alg\":\"%s\"}", how[k].alg);
        char *tok = sign_token(key, how[k].pss, header, data + 4, size - 4);
        size_t len = strlen(tok);
        cJSON *j = cJSON_ParseWithLength((const char *)data + 4, size - 4);
        bool object = cJSON_IsObject(j);
        cJSON_Delete(j);
        enum jwt_verdict v = run_token(tok, len, &keyset, mode, &parsed);
        if (object && len <= JWT_MAX_TOKEN)
            FUZZ_ASSERT(parsed && v == JWT_VALID, "a token signed here does not verify: %s", tok);
        size_t signing = (size_t)(strrchr(tok, '.') - tok);
        size_t pos = ((size_t)data[2] << 8 | data[3]) % signing;
        tok[pos] ^= (char)(1u << (data[3] & 7));
        if (tok[pos] != '\0') {
            v = run_token(tok, len, &keyset, mode, &parsed);
            FUZZ_ASSERT(v != JWT_VALID, "verifies with bit %u of byte %zu flipped", data[3] & 7,
                        pos);
        }
        free(tok);
    }
    return 0;
}
