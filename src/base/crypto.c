/*
 * crypto: see crypto.h. Thin wrappers: each call is one libcrypto function, so the algorithms
 * are OpenSSL's tested ones. A failure there is an allocation failure (the default provider
 * always has SHA-256, MD5 and HMAC), which aborts as everywhere else in capproxy.
 */
#include "base/crypto.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/core_names.h>
#include <openssl/params.h>
#include <openssl/rand.h>

static _Noreturn void crypto_die(const char *what)
{
    fprintf(stderr, "capproxy: libcrypto %s failed\n", what);
    abort();
}

size_t crypto_hash_len(enum crypto_hash h)
{
    return h == CRYPTO_MD5 ? CRYPTO_MD5_LEN : CRYPTO_SHA256_LEN;
}

void crypto_hash(enum crypto_hash h, const struct crypto_part *parts, size_t n, uint8_t *out)
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (!ctx || !EVP_DigestInit_ex(ctx, h == CRYPTO_MD5 ? EVP_md5() : EVP_sha256(), NULL))
        crypto_die("digest init");
    for (size_t i = 0; i < n; i++)
        if (parts[i].len && !EVP_DigestUpdate(ctx, parts[i].data, parts[i].len))
            crypto_die("digest update");
    unsigned int len = 0;
    if (!EVP_DigestFinal_ex(ctx, out, &len) || len != crypto_hash_len(h))
        crypto_die("digest final");
    EVP_MD_CTX_free(ctx);
}

void crypto_sha256(const void *data, size_t len, uint8_t out[CRYPTO_SHA256_LEN])
{
    struct crypto_part p = {data, len};
    crypto_hash(CRYPTO_SHA256, &p, 1, out);
}

void crypto_md5(const void *data, size_t len, uint8_t out[CRYPTO_MD5_LEN])
{
    struct crypto_part p = {data, len};
    crypto_hash(CRYPTO_MD5, &p, 1, out);
}

/* HMAC through EVP_MAC with the keyed contexts kept per thread: HMAC() fetches the algorithm
 * and sets the key up on every call, several microseconds that each MCP request paid twice
 * (session ids). A kept context restarts from its keyed state (EVP_MAC_init with no key). The
 * few keys capproxy uses (session ids, digest nonces) each get a slot; a thread's contexts are
 * freed when it exits. */
#define HMAC_SLOTS 4

struct hmac_slot {
    EVP_MAC_CTX *ctx;
    uint8_t key[64];
    size_t keylen;
    bool cached; /* <key> is the context's key (a longer one is not kept: set up each time) */
};

static pthread_once_t hmac_once = PTHREAD_ONCE_INIT;
static pthread_key_t hmac_tls;
static EVP_MAC *hmac_mac;

static void hmac_slots_free(void *arg)
{
    struct hmac_slot *slots = arg;
    for (size_t i = 0; i < HMAC_SLOTS; i++) {
        EVP_MAC_CTX_free(slots[i].ctx);
        OPENSSL_cleanse(slots[i].key, sizeof slots[i].key);
    }
    free(slots);
}

static void hmac_init(void)
{
    hmac_mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    if (!hmac_mac || pthread_key_create(&hmac_tls, hmac_slots_free) != 0)
        crypto_die("HMAC fetch");
}

/* This thread's context keyed with <key>, ready for updates. */
static EVP_MAC_CTX *hmac_ctx(const void *key, size_t keylen)
{
    pthread_once(&hmac_once, hmac_init);
    struct hmac_slot *slots = pthread_getspecific(hmac_tls);
    if (!slots) {
        slots = calloc(HMAC_SLOTS, sizeof *slots);
        if (!slots || pthread_setspecific(hmac_tls, slots) != 0)
            crypto_die("HMAC slots");
    }
    struct hmac_slot *s = NULL;
    for (size_t i = 0; i < HMAC_SLOTS && !s; i++)
        if (slots[i].ctx && slots[i].keylen == keylen &&
            CRYPTO_memcmp(slots[i].key, key, keylen) == 0)
            s = &slots[i];
    if (s) {
        if (!EVP_MAC_init(s->ctx, NULL, 0, NULL)) /* the same key: its prepared state */
            crypto_die("HMAC init");
        return s->ctx;
    }
    s = &slots[0];
    for (size_t i = 0; i < HMAC_SLOTS; i++)
        if (!slots[i].ctx) {
            s = &slots[i];
            break;
        }
    EVP_MAC_CTX_free(s->ctx);
    s->ctx = EVP_MAC_CTX_new(hmac_mac);
    char digest[] = "SHA256";
    OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string("digest", digest, 0),
                           OSSL_PARAM_construct_end()};
    if (!s->ctx || !EVP_MAC_init(s->ctx, key, keylen, params))
        crypto_die("HMAC init");
    /* Keys longer than the slot are set up every time (none of capproxy's is). */
    s->cached = keylen <= sizeof s->key;
    s->keylen = s->cached ? keylen : 0;
    if (s->cached && keylen)
        memcpy(s->key, key, keylen);
    return s->ctx;
}

void crypto_hmac_sha256(const void *key, size_t keylen, const void *msg, size_t msglen,
                        uint8_t out[CRYPTO_SHA256_LEN])
{
    if (keylen == 0) {
        /* EVP_MAC_init takes an empty key as "keep the previous one": the one-shot call. */
        static const uint8_t empty[1] = {0};
        unsigned int n = 0;
        if (!HMAC(EVP_sha256(), empty, 0, msg, msglen, out, &n) || n != CRYPTO_SHA256_LEN)
            crypto_die("HMAC");
        return;
    }
    EVP_MAC_CTX *ctx = hmac_ctx(key, keylen);
    size_t len = 0;
    if (!EVP_MAC_update(ctx, msg, msglen) || !EVP_MAC_final(ctx, out, &len, CRYPTO_SHA256_LEN) ||
        len != CRYPTO_SHA256_LEN)
        crypto_die("HMAC");
}

int crypto_random(void *out, size_t len)
{
    uint8_t *p = out;
    /* RAND_bytes takes an int length: feed larger requests in pieces. */
    while (len > 0) {
        int n = len > 65536 ? 65536 : (int)len;
        if (RAND_bytes(p, n) != 1)
            return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

bool crypto_equal(const void *a, const void *b, size_t len)
{
    return CRYPTO_memcmp(a, b, len) == 0;
}

void crypto_hex(const uint8_t *in, size_t n, char *out)
{
    /* Both digits of a byte in one copy (every request formats its trace and span ids). */
    static const char pairs[513] =
        "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
        "202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f"
        "404142434445464748494a4b4c4d4e4f505152535455565758595a5b5c5d5e5f"
        "606162636465666768696a6b6c6d6e6f707172737475767778797a7b7c7d7e7f"
        "808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f"
        "a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebf"
        "c0c1c2c3c4c5c6c7c8c9cacbcccdcecfd0d1d2d3d4d5d6d7d8d9dadbdcdddedf"
        "e0e1e2e3e4e5e6e7e8e9eaebecedeeeff0f1f2f3f4f5f6f7f8f9fafbfcfdfeff";
    for (size_t i = 0; i < n; i++)
        memcpy(out + 2 * i, pairs + 2 * in[i], 2);
    out[2 * n] = '\0';
}
