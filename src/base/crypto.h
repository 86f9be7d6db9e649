/*
 * crypto: the hashes, MACs, random bytes and constant-time comparison capproxy needs, all from
 * OpenSSL's libcrypto (already loaded by libcurl): no hand-written cryptography. MCP session
 * ids are HMAC-SHA256-signed (core/session), digest authentication hashes with SHA-256 or MD5
 * and signs its nonces (core/digest). Pure and thread-safe; allocation failures inside
 * libcrypto abort, like xmalloc.
 */
#ifndef CAPPROXY_CRYPTO_H
#define CAPPROXY_CRYPTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CRYPTO_SHA256_LEN 32
#define CRYPTO_MD5_LEN    16
#define CRYPTO_MAX_LEN    CRYPTO_SHA256_LEN

enum crypto_hash { CRYPTO_MD5, CRYPTO_SHA256 };

/* One piece of a message hashed as the concatenation of several (no copy of secrets). */
struct crypto_part {
    const void *data;
    size_t len;
};

/* The digest length of <h> in bytes. */
size_t crypto_hash_len(enum crypto_hash h);
/* The digest of <parts>[0..n) concatenated, into <out> (crypto_hash_len(h) bytes). */
void crypto_hash(enum crypto_hash h, const struct crypto_part *parts, size_t n, uint8_t *out);
/* One-shot SHA-256 and MD5 (RFC 1321: only where a protocol demands it, as HTTP digest does). */
void crypto_sha256(const void *data, size_t len, uint8_t out[CRYPTO_SHA256_LEN]);
void crypto_md5(const void *data, size_t len, uint8_t out[CRYPTO_MD5_LEN]);
/* HMAC-SHA256 (RFC 2104) of <msg> under <key> (any length). */
void crypto_hmac_sha256(const void *key, size_t keylen, const void *msg, size_t msglen,
                        uint8_t out[CRYPTO_SHA256_LEN]);
/* Fill <out>[0..len) from the CSPRNG. 0, or -1 when it could not be seeded. */
int crypto_random(void *out, size_t len);
/* Whether <a> and <b> hold the same <len> bytes, in time that depends only on <len>. */
bool crypto_equal(const void *a, const void *b, size_t len);
/* Lowercase hex of <in>[0..n) into <out> (2n + 1 bytes, NUL-terminated). */
void crypto_hex(const uint8_t *in, size_t n, char *out);

#endif
