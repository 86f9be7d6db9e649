/*
 * Unit tests for digest_verify's comparison of the presented response (found by fuzz_digest):
 * a response longer than the hash was cut to the hash's length before the comparison, so the
 * right SHA-256 answer followed by any tail was accepted. Any other length is wrong.
 */
#include <stdio.h>
#include <stdlib.h>

#include "base/util.h"
#include "core/digest.h"
#include "harness.h"

#define USER "Mufasa"
#define PASS "Circle of Life"
#define URI  "/mcp"
#define T0   ((int64_t)1700000000)

/* An Authorization value answering <nonce> for GET URI with <alg>, the response followed by
 * <tail> (NULL: the right response dropped its last character). */
static char *answer(const struct digest_cred *c, enum crypto_hash h, const char *nonce,
                    const char *tail)
{
    char ha1[DIGEST_HEX_MAX], resp[DIGEST_HEX_MAX];
    digest_ha1(h, USER, DIGEST_REALM, PASS, ha1);
    digest_response(h, ha1, "GET", URI, nonce, "00000001", "c1", "auth", resp);
    if (!tail)
        resp[strlen(resp) - 1] = '\0';
    return xasprintf("Digest username=\"" USER "\", realm=\"" DIGEST_REALM "\", nonce=\"%s\", "
                     "uri=\"" URI "\", algorithm=%s, qop=auth, nc=00000001, cnonce=\"c1\", "
                     "response=\"%s%s\", opaque=\"%s\"",
                     nonce, h == CRYPTO_SHA256 ? "SHA-256" : "MD5", resp, tail ? tail : "",
                     c->opaque);
}

static enum digest_status verify(const struct digest_cred *c, char *authz)
{
    enum digest_status st = digest_verify(c, authz, "GET", URI, T0 + 1);
    free(authz);
    return st;
}

static void test_response_length(void)
{
    struct digest_cred *c = digest_cred_new("fuzz", USER, PASS, 300);
    char n[DIGEST_NONCE_LEN + 1];
    CHECK(digest_nonce(c, T0, n) == 0);
    for (int h = CRYPTO_MD5; h <= CRYPTO_SHA256; h++) {
        CHECK(verify(c, answer(c, (enum crypto_hash)h, n, "")) == DIGEST_OK);
        CHECK(verify(c, answer(c, (enum crypto_hash)h, n, "0")) == DIGEST_WRONG);
        CHECK(verify(c, answer(c, (enum crypto_hash)h, n, "00000000000000000000")) == DIGEST_WRONG);
        CHECK(verify(c, answer(c, (enum crypto_hash)h, n, NULL)) == DIGEST_WRONG);
    }
    digest_cred_free(c);
}

int main(void)
{
    digest_set_key("unit-test key", 13);
    RUN(test_response_length());
    return harness_report();
}
