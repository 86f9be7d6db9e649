/*
 * sha256: SHA-256 (FIPS 180-4) and HMAC-SHA256 (RFC 2104), enough to sign MCP session ids
 * without a crypto library dependency. Pure, no allocation, safe from any thread.
 */
#ifndef CAPPROXY_SHA256_H
#define CAPPROXY_SHA256_H

#include <stddef.h>
#include <stdint.h>

#define SHA256_BLOCK_SIZE  64
#define SHA256_DIGEST_SIZE 32

struct sha256 {
    uint32_t _h[8];
    uint64_t _len; /* bytes hashed so far */
    uint8_t _buf[SHA256_BLOCK_SIZE];
    size_t _nbuf;
};

void sha256_init(struct sha256 *s);
void sha256_update(struct sha256 *s, const void *data, size_t len);
/* Write the digest into <out> and wipe <s>. */
void sha256_final(struct sha256 *s, uint8_t out[SHA256_DIGEST_SIZE]);
/* One-shot digest of <data>[0..len). */
void sha256(const void *data, size_t len, uint8_t out[SHA256_DIGEST_SIZE]);

/* HMAC-SHA256 of <msg> under <key> (any length; keys longer than a block are hashed first). */
void sha256_hmac(const void *key, size_t keylen, const void *msg, size_t msglen,
                 uint8_t out[SHA256_DIGEST_SIZE]);

#endif
