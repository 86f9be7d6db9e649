/* Unit tests for crypto, the libcrypto wrapper: known vectors for SHA-256 (FIPS 180-2), MD5
 * (RFC 1321), HMAC-SHA256 (RFC 4231), multi-part hashing, random bytes and comparison. */
#include "harness.h"

#include <stdint.h>
#include <string.h>

#include "base/crypto.h"

static char hexbuf[2 * CRYPTO_MAX_LEN + 1];

static const char *sha_hex(const char *s, size_t len)
{
    uint8_t d[CRYPTO_SHA256_LEN];
    crypto_sha256(s, len, d);
    crypto_hex(d, sizeof d, hexbuf);
    return hexbuf;
}

static const char *md5_hex(const char *s)
{
    uint8_t d[CRYPTO_MD5_LEN];
    crypto_md5(s, strlen(s), d);
    crypto_hex(d, sizeof d, hexbuf);
    return hexbuf;
}

static const char *hmac_hex(const char *key, size_t klen, const char *msg, size_t mlen)
{
    uint8_t d[CRYPTO_SHA256_LEN];
    crypto_hmac_sha256(key, klen, msg, mlen, d);
    crypto_hex(d, sizeof d, hexbuf);
    return hexbuf;
}

static void test_sha256(void)
{
    CHECK_STR(sha_hex("", 0), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    /* FIPS 180-2 appendix B.1 and B.2 */
    CHECK_STR(sha_hex("abc", 3),
              "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    const char *m448 = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    CHECK_STR(sha_hex(m448, strlen(m448)),
              "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    CHECK(crypto_hash_len(CRYPTO_SHA256) == 32);
}

static void test_parts(void)
{
    /* Hashing pieces is hashing their concatenation; empty pieces change nothing. */
    const struct crypto_part parts[] = {{"a", 1}, {"", 0}, {"bc", 2}};
    uint8_t d[CRYPTO_SHA256_LEN];
    crypto_hash(CRYPTO_SHA256, parts, 3, d);
    crypto_hex(d, sizeof d, hexbuf);
    CHECK_STR(hexbuf, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    uint8_t m[CRYPTO_MD5_LEN];
    crypto_hash(CRYPTO_MD5, parts, 3, m);
    crypto_hex(m, sizeof m, hexbuf);
    CHECK_STR(hexbuf, "900150983cd24fb0d6963f7d28e17f72");
}

static void test_md5(void)
{
    /* RFC 1321 appendix A.5 */
    CHECK_STR(md5_hex(""), "d41d8cd98f00b204e9800998ecf8427e");
    CHECK_STR(md5_hex("a"), "0cc175b9c0f1b6a831c399e269772661");
    CHECK_STR(md5_hex("abc"), "900150983cd24fb0d6963f7d28e17f72");
    CHECK_STR(md5_hex("message digest"), "f96b697d7cb7938d525a2f31aaf161d0");
    CHECK_STR(
        md5_hex("12345678901234567890123456789012345678901234567890123456789012345678901234567890"),
        "57edf4a22be3c955ac49da2e2107b67a");
    CHECK(crypto_hash_len(CRYPTO_MD5) == 16);
}

static void test_hmac(void)
{
    /* RFC 4231 test case 2: key "Jefe" */
    const char *m2 = "what do ya want for nothing?";
    CHECK_STR(hmac_hex("Jefe", 4, m2, strlen(m2)),
              "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    /* test case 1: 20 bytes of 0x0b, "Hi There" */
    char k1[20];
    memset(k1, 0x0b, sizeof k1);
    CHECK_STR(hmac_hex(k1, sizeof k1, "Hi There", 8),
              "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
    /* test case 6: a 131-byte key (longer than a block: hashed first) */
    char k6[131];
    memset(k6, 0xaa, sizeof k6);
    const char *m6 = "Test Using Larger Than Block-Size Key - Hash Key First";
    CHECK_STR(hmac_hex(k6, sizeof k6, m6, strlen(m6)),
              "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
    /* An empty key is allowed (RFC 2104 pads it with zeros). */
    CHECK_STR(hmac_hex("", 0, "", 0),
              "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad");
}

static void test_random(void)
{
    uint8_t a[32], b[32], zero[32] = {0};
    CHECK(crypto_random(a, sizeof a) == 0);
    CHECK(crypto_random(b, sizeof b) == 0);
    CHECK(!crypto_equal(a, b, sizeof a));
    CHECK(!crypto_equal(a, zero, sizeof a));
    CHECK(crypto_random(a, 0) == 0);
}

static void test_equal(void)
{
    CHECK(crypto_equal("secret", "secret", 6));
    CHECK(!crypto_equal("secreT", "secret", 6));
    CHECK(!crypto_equal("Secret", "secret", 6));
    CHECK(crypto_equal("", "", 0));
    uint8_t d[3] = {0x00, 0x7f, 0xff};
    crypto_hex(d, 3, hexbuf);
    CHECK_STR(hexbuf, "007fff");
}

int main(void)
{
    RUN(test_sha256());
    RUN(test_parts());
    RUN(test_md5());
    RUN(test_hmac());
    RUN(test_random());
    RUN(test_equal());
    return harness_report();
}
