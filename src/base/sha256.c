/*
 * sha256: see sha256.h. A straightforward transcription of FIPS 180-4 section 6.2; speed is
 * not a concern (one HMAC per MCP request), clarity is.
 */
#include "base/sha256.h"

#include <string.h>

#include "base/secret.h"

static const uint32_t K[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

#define ROTR(x, n) (((x) >> (n)) | ((x) << (32 - (n))))

static void compress(uint32_t h[8], const uint8_t block[SHA256_BLOCK_SIZE])
{
    uint32_t w[64];
    for (size_t i = 0; i < 16; i++)
        w[i] = (uint32_t)block[4 * i] << 24 | (uint32_t)block[4 * i + 1] << 16 |
               (uint32_t)block[4 * i + 2] << 8 | (uint32_t)block[4 * i + 3];
    for (int i = 16; i < 64; i++) {
        uint32_t s0 = ROTR(w[i - 15], 7) ^ ROTR(w[i - 15], 18) ^ (w[i - 15] >> 3);
        uint32_t s1 = ROTR(w[i - 2], 17) ^ ROTR(w[i - 2], 19) ^ (w[i - 2] >> 10);
        w[i] = w[i - 16] + s0 + w[i - 7] + s1;
    }
    uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], k = h[7];
    for (int i = 0; i < 64; i++) {
        uint32_t S1 = ROTR(e, 6) ^ ROTR(e, 11) ^ ROTR(e, 25);
        uint32_t ch = (e & f) ^ (~e & g);
        uint32_t t1 = k + S1 + ch + K[i] + w[i];
        uint32_t S0 = ROTR(a, 2) ^ ROTR(a, 13) ^ ROTR(a, 22);
        uint32_t maj = (a & b) ^ (a & c) ^ (b & c);
        uint32_t t2 = S0 + maj;
        k = g;
        g = f;
        f = e;
        e = d + t1;
        d = c;
        c = b;
        b = a;
        a = t1 + t2;
    }
    h[0] += a;
    h[1] += b;
    h[2] += c;
    h[3] += d;
    h[4] += e;
    h[5] += f;
    h[6] += g;
    h[7] += k;
}

void sha256_init(struct sha256 *s)
{
    static const uint32_t iv[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                                   0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
    memcpy(s->_h, iv, sizeof iv);
    s->_len = 0;
    s->_nbuf = 0;
}

void sha256_update(struct sha256 *s, const void *data, size_t len)
{
    const uint8_t *p = data;
    s->_len += len;
    if (s->_nbuf) {
        size_t take = SHA256_BLOCK_SIZE - s->_nbuf;
        if (take > len)
            take = len;
        memcpy(s->_buf + s->_nbuf, p, take);
        s->_nbuf += take;
        p += take;
        len -= take;
        if (s->_nbuf < SHA256_BLOCK_SIZE)
            return;
        compress(s->_h, s->_buf);
        s->_nbuf = 0;
    }
    for (; len >= SHA256_BLOCK_SIZE; p += SHA256_BLOCK_SIZE, len -= SHA256_BLOCK_SIZE)
        compress(s->_h, p);
    memcpy(s->_buf, p, len);
    s->_nbuf = len;
}

void sha256_final(struct sha256 *s, uint8_t out[SHA256_DIGEST_SIZE])
{
    uint64_t bits = s->_len * 8;
    s->_buf[s->_nbuf++] = 0x80;
    if (s->_nbuf > SHA256_BLOCK_SIZE - 8) {
        memset(s->_buf + s->_nbuf, 0, SHA256_BLOCK_SIZE - s->_nbuf);
        compress(s->_h, s->_buf);
        s->_nbuf = 0;
    }
    memset(s->_buf + s->_nbuf, 0, SHA256_BLOCK_SIZE - 8 - s->_nbuf);
    for (int i = 0; i < 8; i++)
        s->_buf[SHA256_BLOCK_SIZE - 1 - i] = (uint8_t)(bits >> (8 * i));
    compress(s->_h, s->_buf);
    for (size_t i = 0; i < 8; i++) {
        out[4 * i] = (uint8_t)(s->_h[i] >> 24);
        out[4 * i + 1] = (uint8_t)(s->_h[i] >> 16);
        out[4 * i + 2] = (uint8_t)(s->_h[i] >> 8);
        out[4 * i + 3] = (uint8_t)s->_h[i];
    }
    /* The state holds key material when hashing HMAC pads. */
    secret_wipe(s, sizeof *s);
}

void sha256(const void *data, size_t len, uint8_t out[SHA256_DIGEST_SIZE])
{
    struct sha256 s;
    sha256_init(&s);
    sha256_update(&s, data, len);
    sha256_final(&s, out);
}

void sha256_hmac(const void *key, size_t keylen, const void *msg, size_t msglen,
                 uint8_t out[SHA256_DIGEST_SIZE])
{
    uint8_t k[SHA256_BLOCK_SIZE] = {0}, pad[SHA256_BLOCK_SIZE], inner[SHA256_DIGEST_SIZE];
    if (keylen > SHA256_BLOCK_SIZE)
        sha256(key, keylen, k);
    else if (keylen)
        memcpy(k, key, keylen);
    struct sha256 s;
    for (int i = 0; i < SHA256_BLOCK_SIZE; i++)
        pad[i] = k[i] ^ 0x36;
    sha256_init(&s);
    sha256_update(&s, pad, sizeof pad);
    sha256_update(&s, msg, msglen);
    sha256_final(&s, inner);
    for (int i = 0; i < SHA256_BLOCK_SIZE; i++)
        pad[i] = k[i] ^ 0x5c;
    sha256_init(&s);
    sha256_update(&s, pad, sizeof pad);
    sha256_update(&s, inner, sizeof inner);
    sha256_final(&s, out);
    secret_wipe(k, sizeof k);
    secret_wipe(pad, sizeof pad);
}
