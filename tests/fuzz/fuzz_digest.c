/*
 * fuzz_digest: the `Authorization: Digest ...` value a caller sends to an adapter with digest
 * authentication (core/digest.h): digest_parse, then digest_verify as core/inbound does, against
 * one fixed credential (user "Mufasa", password "Circle of Life", adapter "fuzz") whose nonces
 * use a fixed key (digest_set_key), so that a nonce made once is valid in every run.
 *
 * Input: a flags byte (bit 0: verify long after the nonces were issued, so they are stale;
 * bit 1: method POST instead of GET), the Authorization value up to a NUL, then the request
 * target (empty: "/mcp"). The seeds answer the fixed nonces correctly for GET /mcp.
 * Properties (abort on violation):
 *  - a parsed value's fields each lie in the parse buffer, hold no control byte, and a field
 *    name we read is never set by a value that did not name it;
 *  - an answer is accepted (ok, or stale) only with a nonce this target made (no forged nonce
 *    passes), the user name, realm, opaque and target it was asked about, and the response
 *    recomputed here from the password; stale answers are never ok;
 *  - the same answer is refused by another adapter's credential (its nonces are not the other's)
 *    and by a credential whose password bind is missing;
 *  - the status is one of enum digest_status, with a name.
 * FUZZ_DIGEST_VERBOSE=1 prints each verdict; FUZZ_DIGEST_NEW_NONCE=1 prints a fresh nonce for the
 * fixed key and exits (to make seeds).
 */
#include "fuzz.h"

#include <ctype.h>
#include <strings.h>

#include "base/util.h"
#include "core/digest.h"

#define USER   "Mufasa"
#define PASS   "Circle of Life"
#define ISSUED ((int64_t)1800000000) /* when the known nonces were made */

/* Nonces made by digest_nonce for the credential below at ISSUED (see the header comment). */
static const char *const known_nonces[] = {
    "AAAAAGtJ0gCic_2IIttVKeRW0fseJOm-Bjmc7qMBHqRFxDjH",
};

static struct digest_cred *cred, *other, *unusable;
static bool verbose; /* FUZZ_DIGEST_VERBOSE: print each verdict (to check the seeds) */

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    log_init(LOG_ERROR, false, false);
    verbose = getenv("FUZZ_DIGEST_VERBOSE") != NULL;
    static const char key[] = "capproxy fuzz_digest fixed nonce key";
    digest_set_key(key, sizeof key - 1);
    cred = digest_cred_new("fuzz", USER, PASS, 300);
    other = digest_cred_new("other", USER, PASS, 300);
    unusable = digest_cred_new("fuzz", USER, NULL, 300);
    if (getenv("FUZZ_DIGEST_NEW_NONCE")) {
        char nonce[DIGEST_NONCE_LEN + 1];
        if (digest_nonce(cred, ISSUED, nonce) < 0)
            exit(1);
        char ha1[DIGEST_HEX_MAX], resp[DIGEST_HEX_MAX];
        digest_ha1(CRYPTO_SHA256, USER, DIGEST_REALM, PASS, ha1);
        digest_response(CRYPTO_SHA256, ha1, "GET", "/mcp", nonce, "00000001", "c1", "auth", resp);
        printf("nonce %s\nDigest username=\"%s\", realm=\"%s\", nonce=\"%s\", uri=\"/mcp\", "
               "response=\"%s\", algorithm=SHA-256, qop=auth, nc=00000001, cnonce=\"c1\", "
               "opaque=\"%s\"\n",
               nonce, USER, DIGEST_REALM, nonce, resp, cred->opaque);
        exit(0);
    }
    return 0;
}

static void check_field(const struct digest_params *p, const char *f, const char *name)
{
    if (!f)
        return;
    FUZZ_ASSERT(f >= p->buf && f < p->buf + sizeof p->buf, "%s outside the buffer", name);
    size_t n = strnlen(f, (size_t)(p->buf + sizeof p->buf - f));
    FUZZ_ASSERT(f + n < p->buf + sizeof p->buf, "%s not terminated", name);
    for (size_t i = 0; i < n; i++)
        FUZZ_ASSERT((unsigned char)f[i] >= 0x20 && f[i] != 0x7f, "control byte in %s", name);
}

/* Whether <authz> names directive <name> (case-insensitive, followed by optional space and
 * '='), as a plain substring check: a field the parser sets must appear so. */
static bool names(const char *authz, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = authz; (p = strcasestr(p, name)); p++) {
        const char *q = p + n;
        while (*q == ' ' || *q == '\t')
            q++;
        if (*q == '=')
            return true;
    }
    return false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    uint8_t flags = data[0];
    char *authz, *uri;
    size_t alen, ulen;
    fuzz_split(data + 1, size - 1, &authz, &alen, &uri, &ulen);
    const char *target = ulen ? uri : "/mcp";
    const char *method = flags & 2 ? "POST" : "GET";
    int64_t now = flags & 1 ? ISSUED + 100000 : ISSUED + 10;

    /* The parser on its own, after the scheme when there is one. */
    struct digest_params *p = malloc(sizeof *p);
    if (!p)
        abort();
    const char *v = strncasecmp(authz, "Digest ", 7) == 0 ? authz + 7 : authz;
    bool parsed = digest_parse(v, p) == 0;
    if (parsed) {
        const char *const f[] = {p->username, p->realm,     p->nonce,   p->uri,
                                 p->response, p->algorithm, p->cnonce,  p->opaque,
                                 p->qop,      p->nc,        p->userhash};
        static const char *const fname[] = {"username", "realm",     "nonce",   "uri",
                                            "response", "algorithm", "cnonce",  "opaque",
                                            "qop",      "nc",        "userhash"};
        for (size_t i = 0; i < UTIL_ARRAY_LEN(f); i++) {
            check_field(p, f[i], fname[i]);
            FUZZ_ASSERT(!f[i] || names(v, fname[i]), "%s set without being named", fname[i]);
        }
    }

    enum digest_status st = digest_verify(cred, authz, method, target, now);
    FUZZ_ASSERT(st >= DIGEST_OK && st <= DIGEST_STALE && digest_status_name(st)[0] != '?',
                "status %d", (int)st);
    if (verbose)
        fprintf(stderr, "fuzz_digest: %s\n", digest_status_name(st));
    if (st == DIGEST_OK || st == DIGEST_STALE) {
        FUZZ_ASSERT(parsed && strncasecmp(authz, "Digest", 6) == 0, "accepted unparsed");
        bool known = false;
        for (size_t i = 0; i < UTIL_ARRAY_LEN(known_nonces); i++)
            known |= p->nonce && str_eq(p->nonce, known_nonces[i]);
        FUZZ_ASSERT(known, "accepted nonce '%s' this target never made", p->nonce);
        FUZZ_ASSERT(str_eq(p->username, USER) && str_eq(p->realm, DIGEST_REALM) &&
                        str_eq(p->opaque, cred->opaque) && str_eq(p->uri, target),
                    "accepted for another user, realm, adapter or target");
        FUZZ_ASSERT(st == DIGEST_STALE || !(flags & 1), "an expired nonce accepted as fresh");
        enum crypto_hash h =
            p->algorithm && !strcasecmp(p->algorithm, "SHA-256") ? CRYPTO_SHA256 : CRYPTO_MD5;
        char ha1[DIGEST_HEX_MAX], want[DIGEST_HEX_MAX];
        digest_ha1(h, USER, DIGEST_REALM, PASS, ha1);
        digest_response(h, ha1, method, target, p->nonce, p->nc, p->cnonce, p->qop, want);
        FUZZ_ASSERT(!strcasecmp(p->response, want), "accepted response %s, the right one is %s",
                    p->response, want);
    }
    enum digest_status so = digest_verify(other, authz, method, target, now);
    FUZZ_ASSERT(so != DIGEST_OK && so != DIGEST_STALE, "another adapter accepted the answer");
    enum digest_status su = digest_verify(unusable, authz, method, target, now);
    FUZZ_ASSERT(su != DIGEST_OK && su != DIGEST_STALE, "a credential with no password accepted");

    free(p);
    free(authz);
    free(uri);
    return 0;
}
