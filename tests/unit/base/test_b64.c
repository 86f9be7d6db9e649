/*
 * Unit tests for b64: the RFC 4648 section 10 vectors in both alphabets, and the strictness of
 * the URL-safe decoder that session ids rely on (one spelling per value).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/b64.h"
#include "harness.h"

static const char *const plain[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
static const char *const std[] = {"", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};
static const char *const url[] = {"", "Zg", "Zm8", "Zm9v", "Zm9vYg", "Zm9vYmE", "Zm9vYmFy"};

static void test_vectors(void)
{
    for (size_t i = 0; i < sizeof plain / sizeof *plain; i++) {
        size_t n = strlen(plain[i]);
        char *s = b64_encode(plain[i], n);
        CHECK_STR(s, std[i]);
        free(s);
        char u[16];
        b64_url_encode(plain[i], n, u);
        CHECK_STR(u, url[i]);
        CHECK(strlen(u) == B64_URL_LEN(n));
        char back[8] = {0};
        CHECK(b64_url_decode(u, strlen(u), back, n) == 0);
        CHECK(memcmp(back, plain[i], n) == 0);
    }
}

static void test_alphabets(void)
{
    /* The two alphabets differ only in 62 and 63. */
    const uint8_t b[] = {0xFB, 0xFF, 0xBF};
    char *s = b64_encode(b, 2);
    CHECK_STR(s, "+/8=");
    free(s);
    s = b64_encode(b, 3);
    CHECK_STR(s, "+/+/");
    free(s);
    char u[8];
    b64_url_encode(b, 2, u);
    CHECK_STR(u, "-_8");
    b64_url_encode(b, 3, u);
    CHECK_STR(u, "-_-_");
    uint8_t back[3];
    CHECK(b64_url_decode("-_-_", 4, back, 3) == 0 && memcmp(back, b, 3) == 0);
    /* Standard-alphabet characters are not URL-safe input. */
    CHECK(b64_url_decode("+/+/", 4, back, 3) == -1);
    /* A Basic credential: user:password, as HTTP sends it. */
    s = b64_encode("Aladdin:open sesame", 19);
    CHECK_STR(s, "QWxhZGRpbjpvcGVuIHNlc2FtZQ==");
    free(s);
}

static void test_url_decode_strict(void)
{
    uint8_t out[8];
    CHECK(b64_url_decode("Zg", 2, out, 1) == 0 && out[0] == 'f');
    CHECK(b64_url_decode("Zh", 2, out, 1) == -1);    /* leftover bits set: a second spelling */
    CHECK(b64_url_decode("Zg==", 4, out, 1) == -1);  /* padding is not part of the alphabet */
    CHECK(b64_url_decode("Zm9", 3, out, 1) == -1);   /* wrong length for one byte */
    CHECK(b64_url_decode("Zm9", 3, out, 3) == -1);   /* wrong length for three bytes */
    CHECK(b64_url_decode("Zm\0v", 4, out, 3) == -1); /* NUL is not in the alphabet */
    CHECK(b64_url_decode("Zm9 ", 4, out, 3) == -1);  /* neither is a space */
    CHECK(b64_url_decode("", 0, out, 0) == 0);
}

int main(void)
{
    RUN(test_vectors());
    RUN(test_alphabets());
    RUN(test_url_decode_strict());
    return harness_report();
}
