/*
 * crypto: see crypto.h. Thin wrappers: each call is one libcrypto function, so the algorithms
 * are OpenSSL's tested ones. A failure there is an allocation failure (the default provider
 * always has SHA-256, MD5 and HMAC), which aborts as everywhere else in capproxy.
 */
#include "base/crypto.h"

#include <stdio.h>
#include <stdlib.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
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

void crypto_hmac_sha256(const void *key, size_t keylen, const void *msg, size_t msglen,
                        uint8_t out[CRYPTO_SHA256_LEN])
{
    static const uint8_t empty[1] = {0}; /* HMAC() wants a non-NULL key even when it is empty */
    unsigned int len = 0;
    if (keylen > (size_t)INT32_MAX ||
        !HMAC(EVP_sha256(), keylen ? key : empty, (int)keylen, msg, msglen, out, &len) ||
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
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * n] = '\0';
}
