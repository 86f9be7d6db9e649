/* Unit tests for sha256: SHA-256 (FIPS 180-2 vectors) and HMAC-SHA256 (RFC 4231 vectors). */
#include "harness.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "base/sha256.h"

static void hex(const uint8_t *d, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++)
        sprintf(out + 2 * i, "%02x", d[i]);
}

static const char *sha_hex(const void *data, size_t len)
{
    static char out[2 * SHA256_DIGEST_SIZE + 1];
    uint8_t d[SHA256_DIGEST_SIZE];
    sha256(data, len, d);
    hex(d, sizeof d, out);
    return out;
}

static size_t unhex(const char *s, uint8_t *out)
{
    size_t n = strlen(s) / 2;
    for (size_t i = 0; i < n; i++) {
        unsigned v;
        sscanf(s + 2 * i, "%2x", &v);
        out[i] = (uint8_t)v;
    }
    return n;
}

static const char *hmac_hex(const void *key, size_t klen, const void *msg, size_t mlen)
{
    static char out[2 * SHA256_DIGEST_SIZE + 1];
    uint8_t d[SHA256_DIGEST_SIZE];
    sha256_hmac(key, klen, msg, mlen, d);
    hex(d, sizeof d, out);
    return out;
}

static void test_sha256(void)
{
    CHECK_STR(sha_hex("", 0), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    CHECK_STR(sha_hex("abc", 3),
              "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    const char *m448 = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    CHECK_STR(sha_hex(m448, strlen(m448)),
              "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    const char *m896 = "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnop"
                       "jklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu";
    CHECK_STR(sha_hex(m896, strlen(m896)),
              "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1");

    /* One million 'a', fed in uneven pieces to exercise the block buffer. */
    struct sha256 s;
    char chunk[997];
    memset(chunk, 'a', sizeof chunk);
    sha256_init(&s);
    size_t left = 1000000;
    for (size_t step = 1; left > 0; step = step % sizeof chunk + 13) {
        size_t n = step < left ? step : left;
        if (n > sizeof chunk)
            n = sizeof chunk;
        sha256_update(&s, chunk, n);
        left -= n;
    }
    uint8_t d[SHA256_DIGEST_SIZE];
    char out[65];
    sha256_final(&s, d);
    hex(d, sizeof d, out);
    CHECK_STR(out, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");

    /* Lengths around the padding boundary (55, 56, 63, 64, 65 bytes): one shot == in pieces. */
    for (size_t len = 54; len <= 66; len++) {
        char buf[80];
        memset(buf, 'x', sizeof buf);
        char one[65];
        snprintf(one, sizeof one, "%s", sha_hex(buf, len));
        sha256_init(&s);
        for (size_t i = 0; i < len; i++)
            sha256_update(&s, buf + i, 1);
        sha256_final(&s, d);
        hex(d, sizeof d, out);
        CHECK_STR(out, one);
    }
}

static void test_hmac(void)
{
    uint8_t key[256], msg[256];
    size_t kl, ml;
    /* RFC 4231 test cases 1-4, 6 and 7 (case 5 is a truncated output). */
    kl = unhex("0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b", key);
    CHECK_STR(hmac_hex(key, kl, "Hi There", 8),
              "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
    CHECK_STR(hmac_hex("Jefe", 4, "what do ya want for nothing?", 28),
              "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    kl = unhex("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", key);
    memset(msg, 0xdd, 50);
    CHECK_STR(hmac_hex(key, kl, msg, 50),
              "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe");
    kl = unhex("0102030405060708090a0b0c0d0e0f10111213141516171819", key);
    memset(msg, 0xcd, 50);
    CHECK_STR(hmac_hex(key, kl, msg, 50),
              "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b");
    memset(key, 0xaa, 131);
    kl = 131;
    const char *m6 = "Test Using Larger Than Block-Size Key - Hash Key First";
    CHECK_STR(hmac_hex(key, kl, m6, strlen(m6)),
              "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
    const char *m7 = "This is a test using a larger than block-size key and a larger than "
                     "block-size data. The key needs to be hashed before being used by the HMAC "
                     "algorithm.";
    CHECK_STR(hmac_hex(key, kl, m7, strlen(m7)),
              "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2");
    /* Case 5, first 128 bits. */
    memset(key, 0x0c, 20);
    ml = strlen("Test With Truncation");
    const char *h5 = hmac_hex(key, 20, "Test With Truncation", ml);
    CHECK(strncmp(h5, "a3b6167473100ee06e0c796c2955552b", 32) == 0);
}

int main(void)
{
    RUN(test_sha256());
    RUN(test_hmac());
    return harness_report();
}
