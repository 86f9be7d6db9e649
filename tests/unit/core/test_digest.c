/* Unit tests for digest (RFC 7616): the section 3.9.1 example values, parsing Authorization
 * values, verifying answers (right, wrong, replayed on another target, forged and stale nonces),
 * the challenges, and the document and configuration that set it up. */
#include "harness.h"
#include "testrt.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/digest.h"
#include "core/inbound.h"
#include "core/runtime.h"
#include "spec/config.h"

/* RFC 7616 section 3.9.1 */
#define RFC_USER   "Mufasa"
#define RFC_PASS   "Circle of Life"
#define RFC_REALM  "http-auth@example.org"
#define RFC_URI    "/dir/index.html"
#define RFC_NONCE  "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v"
#define RFC_CNONCE "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ"
#define RFC_OPAQUE "FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"

static void test_rfc_example(void)
{
    char ha1[DIGEST_HEX_MAX], resp[DIGEST_HEX_MAX];
    digest_ha1(CRYPTO_SHA256, RFC_USER, RFC_REALM, RFC_PASS, ha1);
    digest_response(CRYPTO_SHA256, ha1, "GET", RFC_URI, RFC_NONCE, "00000001", RFC_CNONCE, "auth",
                    resp);
    CHECK_STR(resp, "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1");
    digest_ha1(CRYPTO_MD5, RFC_USER, RFC_REALM, RFC_PASS, ha1);
    digest_response(CRYPTO_MD5, ha1, "GET", RFC_URI, RFC_NONCE, "00000001", RFC_CNONCE, "auth",
                    resp);
    CHECK_STR(resp, "8ca523f5e9506fed4657c9700eebdbec");
}

static void test_parse(void)
{
    struct digest_params *p = malloc(sizeof *p);
    /* The RFC's own example answer (SHA-256), as sent. */
    CHECK(digest_parse(
              " username=\"Mufasa\", realm=\"http-auth@example.org\", "
              "uri=\"/dir/index.html\", algorithm=SHA-256, nonce=\"" RFC_NONCE "\", "
              "nc=00000001, cnonce=\"" RFC_CNONCE "\", qop=auth, "
              "response=\"753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1\", "
              "opaque=\"" RFC_OPAQUE "\"",
              p) == 0);
    CHECK_STR(p->username, "Mufasa");
    CHECK_STR(p->realm, RFC_REALM);
    CHECK_STR(p->uri, RFC_URI);
    CHECK_STR(p->algorithm, "SHA-256");
    CHECK_STR(p->nc, "00000001");
    CHECK_STR(p->qop, "auth");
    CHECK_STR(p->opaque, RFC_OPAQUE);
    CHECK(p->userhash == NULL);
    /* quoted-pair, blanks around '=', empty list elements, names case-insensitive, unknown
     * directives ignored */
    CHECK(digest_parse("USERNAME = \"a\\\"b\\\\c\" ,, x-ext=\"1\", Realm=r,", p) == 0);
    CHECK_STR(p->username, "a\"b\\c");
    CHECK_STR(p->realm, "r");
    CHECK(p->nonce == NULL);
    CHECK(digest_parse("", p) == 0);
    /* malformed */
    CHECK(digest_parse("username", p) < 0);
    CHECK(digest_parse("username=", p) < 0);
    CHECK(digest_parse("username=\"open", p) < 0);
    CHECK(digest_parse("username=\"a\" realm=\"b\"", p) < 0); /* no comma */
    CHECK(digest_parse("username=a b", p) < 0);
    CHECK(digest_parse("=a", p) < 0);
    CHECK(digest_parse("username=\"a\tb\x01\"", p) < 0);          /* a control character */
    CHECK(digest_parse("username=\"a\", username=\"b\"", p) < 0); /* twice */
    CHECK(digest_parse(NULL, p) < 0);
    char *big = malloc(DIGEST_HEADER_MAX + 16);
    memset(big, 'a', DIGEST_HEADER_MAX + 15);
    memcpy(big, "username=", 9);
    big[DIGEST_HEADER_MAX + 15] = '\0';
    CHECK(digest_parse(big, p) < 0);
    free(big);
    free(p);
}

/* An Authorization value answering <c>'s challenge with <nonce>, as a client computes it. */
static char *answer(const struct digest_cred *c, const char *alg, const char *user,
                    const char *pass, const char *method, const char *uri, const char *nonce,
                    const char *extra)
{
    enum crypto_hash h = alg && str_eq(alg, "SHA-256") ? CRYPTO_SHA256 : CRYPTO_MD5;
    char ha1[DIGEST_HEX_MAX], resp[DIGEST_HEX_MAX];
    digest_ha1(h, user, DIGEST_REALM, pass, ha1);
    digest_response(h, ha1, method, uri, nonce, "00000001", "0a4f113b", "auth", resp);
    char alg_part[64] = "";
    if (alg)
        snprintf(alg_part, sizeof alg_part, "algorithm=%s, ", alg);
    return xasprintf("Digest username=\"%s\", realm=\"capproxy\", nonce=\"%s\", uri=\"%s\", "
                     "%sqop=auth, nc=00000001, cnonce=\"0a4f113b\", response=\"%s\", "
                     "opaque=\"%s\"%s",
                     user, nonce, uri, alg_part, resp, c->opaque, extra ? extra : "");
}

static enum digest_status try(const struct digest_cred *c, char *authz, const char *method,
                              const char *uri, int64_t now)
{
    enum digest_status st = digest_verify(c, authz, method, uri, now);
    free(authz);
    return st;
}

static void test_verify(void)
{
    const int64_t t0 = 1700000000;
    struct digest_cred *c = digest_cred_new("rest-a", RFC_USER, RFC_PASS, 300);
    struct digest_cred *other = digest_cred_new("rest-b", RFC_USER, RFC_PASS, 300);
    char n[DIGEST_NONCE_LEN + 1], n2[DIGEST_NONCE_LEN + 1];
    CHECK(digest_nonce(c, t0, n) == 0);
    CHECK(strlen(n) == DIGEST_NONCE_LEN);
    CHECK(digest_nonce(c, t0, n2) == 0);
    CHECK(strcmp(n, n2) != 0); /* random part */
    const char *u = "/things?x=1";

    /* right answers: SHA-256, MD5, MD5 by default */
    CHECK(try(c, answer(c, "SHA-256", RFC_USER, RFC_PASS, "GET", u, n, NULL), "GET", u, t0) ==
          DIGEST_OK);
    CHECK(try(c, answer(c, "MD5", RFC_USER, RFC_PASS, "GET", u, n, NULL), "GET", u, t0 + 299) ==
          DIGEST_OK);
    CHECK(try(c, answer(c, NULL, RFC_USER, RFC_PASS, "POST", u, n, NULL), "POST", u, t0) ==
          DIGEST_OK);
    CHECK(try(c, answer(c, "SHA-256", RFC_USER, RFC_PASS, "GET", u, n, ", userhash=false"), "GET",
              u, t0) == DIGEST_OK);
    /* the scheme is case-insensitive; so is the response's hex */
    char *a = answer(c, "SHA-256", RFC_USER, RFC_PASS, "GET", u, n, NULL);
    memcpy(a, "dIGEST", 6);
    for (char *r = strstr(a, "response=\"") + 10; *r != '"'; r++)
        *r = (char)toupper((unsigned char)*r);
    CHECK(try(c, a, "GET", u, t0) == DIGEST_OK);

    /* wrong password, user, method */
    CHECK(try(c, answer(c, "SHA-256", RFC_USER, "circle of life", "GET", u, n, NULL), "GET", u,
              t0) == DIGEST_WRONG);
    CHECK(try(c, answer(c, "MD5", "Mufasa2", RFC_PASS, "GET", u, n, NULL), "GET", u, t0) ==
          DIGEST_WRONG);
    CHECK(try(c, answer(c, "SHA-256", RFC_USER, RFC_PASS, "GET", u, n, NULL), "DELETE", u, t0) ==
          DIGEST_WRONG);
    /* an answer for another target is refused, even when it is right for that target */
    CHECK(try(c, answer(c, "SHA-256", RFC_USER, RFC_PASS, "GET", "/other", n, NULL), "GET", u,
              t0) == DIGEST_REFUSED);
    /* what we do not offer: -sess, unknown algorithms, userhash, no qop */
    CHECK(try(c, answer(c, "SHA-256-sess", RFC_USER, RFC_PASS, "GET", u, n, NULL), "GET", u, t0) ==
          DIGEST_REFUSED);
    CHECK(try(c, answer(c, "SHA-512-256", RFC_USER, RFC_PASS, "GET", u, n, NULL), "GET", u, t0) ==
          DIGEST_REFUSED);
    CHECK(try(c, answer(c, "SHA-256", RFC_USER, RFC_PASS, "GET", u, n, ", userhash=true"), "GET", u,
              t0) == DIGEST_REFUSED);
    char ha1[DIGEST_HEX_MAX], ha2[DIGEST_HEX_MAX], resp[DIGEST_HEX_MAX];
    digest_ha1(CRYPTO_MD5, RFC_USER, DIGEST_REALM, RFC_PASS, ha1);
    {
        /* RFC 2069 style: H(HA1:nonce:HA2), no qop, nc or cnonce */
        char *a2 = xasprintf("GET:%s", u);
        uint8_t d[CRYPTO_MD5_LEN];
        crypto_md5(a2, strlen(a2), d);
        crypto_hex(d, sizeof d, ha2);
        free(a2);
        char *kd = xasprintf("%s:%s:%s", ha1, n, ha2);
        crypto_md5(kd, strlen(kd), d);
        crypto_hex(d, sizeof d, resp);
        free(kd);
        CHECK(try(c,
                  xasprintf("Digest username=\"Mufasa\", realm=\"capproxy\", nonce=\"%s\", "
                            "uri=\"%s\", response=\"%s\", opaque=\"%s\"",
                            n, u, resp, c->opaque),
                  "GET", u, t0) == DIGEST_REFUSED);
    }
    /* a bad nc, a missing cnonce, a wrong realm or opaque */
    a = answer(c, "MD5", RFC_USER, RFC_PASS, "GET", u, n, NULL);
    memcpy(strstr(a, "nc=00000001"), "nc=0000000g", 11);
    CHECK(try(c, a, "GET", u, t0) == DIGEST_REFUSED);
    a = answer(c, "MD5", RFC_USER, RFC_PASS, "GET", u, n, NULL);
    memcpy(strstr(a, "realm=\"capproxy\""), "realm=\"capprox_\"", 16);
    CHECK(try(c, a, "GET", u, t0) == DIGEST_REFUSED);
    a = answer(other, "MD5", RFC_USER, RFC_PASS, "GET", u, n, NULL); /* the other opaque */
    CHECK(try(c, a, "GET", u, t0) == DIGEST_REFUSED);

    /* forged nonces: one changed character, another adapter's, not base64url */
    char forged[DIGEST_NONCE_LEN + 1];
    memcpy(forged, n, sizeof forged);
    forged[20] = forged[20] == 'A' ? 'B' : 'A';
    CHECK(try(c, answer(c, "SHA-256", RFC_USER, RFC_PASS, "GET", u, forged, NULL), "GET", u, t0) ==
          DIGEST_FORGED);
    char on[DIGEST_NONCE_LEN + 1];
    CHECK(digest_nonce(other, t0, on) == 0);
    CHECK(try(c, answer(c, "SHA-256", RFC_USER, RFC_PASS, "GET", u, on, NULL), "GET", u, t0) ==
          DIGEST_FORGED);
    CHECK(try(c, answer(c, "SHA-256", RFC_USER, RFC_PASS, "GET", u, RFC_NONCE, NULL), "GET", u,
              t0) == DIGEST_FORGED);

    /* stale: the right answer to an expired nonce; a wrong one stays wrong */
    CHECK(try(c, answer(c, "SHA-256", RFC_USER, RFC_PASS, "GET", u, n, NULL), "GET", u, t0 + 300) ==
          DIGEST_STALE);
    CHECK(try(c, answer(c, "SHA-256", RFC_USER, "nope", "GET", u, n, NULL), "GET", u, t0 + 300) ==
          DIGEST_WRONG);
    /* issued in the future (a clock step back): fresh within the skew, stale beyond it */
    CHECK(try(c, answer(c, "MD5", RFC_USER, RFC_PASS, "GET", u, n, NULL), "GET", u,
              t0 - DIGEST_MAX_SKEW_S) == DIGEST_OK);
    CHECK(try(c, answer(c, "MD5", RFC_USER, RFC_PASS, "GET", u, n, NULL), "GET", u,
              t0 - DIGEST_MAX_SKEW_S - 1) == DIGEST_STALE);

    /* no credential, another scheme, malformed */
    CHECK(digest_verify(c, NULL, "GET", u, t0) == DIGEST_MISSING);
    CHECK(digest_verify(c, "Basic TXVmYXNhOkNpcmNsZSBvZiBMaWZl", "GET", u, t0) == DIGEST_MISSING);
    CHECK(digest_verify(c, "Digestusername=\"a\"", "GET", u, t0) == DIGEST_MISSING);
    CHECK(digest_verify(c, "Digest username=\"a", "GET", u, t0) == DIGEST_MALFORMED);
    CHECK(digest_verify(c, "Digest username=\"Mufasa\"", "GET", u, t0) == DIGEST_REFUSED);
    digest_cred_free(c);
    digest_cred_free(other);
}

static void test_unset_and_challenge(void)
{
    struct digest_cred *c = digest_cred_new("rest-a", NULL, "pw", 0);
    CHECK(!c->usable);
    CHECK(c->ttl_s == DIGEST_NONCE_TTL_DEFAULT_S);
    char n[DIGEST_NONCE_LEN + 1];
    CHECK(digest_nonce(c, 1000, n) == 0);
    /* an empty user name and password do not open an adapter whose binds are missing */
    CHECK(try(c, answer(c, "SHA-256", "", "", "GET", "/", n, NULL), "GET", "/", 1000) ==
          DIGEST_WRONG);
    CHECK(try(c, answer(c, "SHA-256", "", "pw", "GET", "/", n, NULL), "GET", "/", 1000) ==
          DIGEST_WRONG);
    char ch[INBOUND_CHALLENGE_MAX], want[INBOUND_CHALLENGE_MAX];
    digest_challenge(c, CRYPTO_SHA256, n, false, ch, sizeof ch);
    snprintf(want, sizeof want,
             "Digest realm=\"capproxy\", qop=\"auth\", algorithm=SHA-256, nonce=\"%s\", "
             "opaque=\"%s\"",
             n, c->opaque);
    CHECK_STR(ch, want);
    digest_challenge(c, CRYPTO_MD5, n, true, ch, sizeof ch);
    snprintf(want, sizeof want,
             "Digest realm=\"capproxy\", qop=\"auth\", algorithm=MD5, nonce=\"%s\", "
             "opaque=\"%s\", stale=true",
             n, c->opaque);
    CHECK_STR(ch, want);
    CHECK(strlen(c->opaque) == DIGEST_OPAQUE_LEN);
    CHECK_STR(digest_status_name(DIGEST_STALE), "stale");
    digest_cred_free(c);
}

static const char *doc_yaml =
    "naftiko: 1.0.0-alpha2\n"
    "binds:\n"
    "  - namespace: env\n"
    "    keys: {D_USER: CPX_D_USER, D_PASS: CPX_D_PASS}\n"
    "capability:\n"
    "  consumes:\n"
    "    - type: http\n"
    "      namespace: api\n"
    "      baseUri: http://up.example\n"
    "      resources:\n"
    "        - name: things\n"
    "          path: /things\n"
    "          operations:\n"
    "            - {name: list, method: GET}\n"
    "  exposes:\n"
    "    - type: rest\n"
    "      namespace: digest-rest\n"
    "      port: 8080\n"
    "      authentication: {type: digest, username: '{{D_USER}}', password: '{{D_PASS}}'}\n"
    "      resources:\n"
    "        - path: /a\n"
    "          operations: [{method: GET, call: api.list}]\n";

static void test_built(void)
{
    struct config cfg;
    config_defaults(&cfg);
    CHECK(cfg.digest_nonce_ttl_ms == 300000);
    struct diag d;
    diag_init(&d);
    const char *cy = "limits: {digestNonceTtl: 1500ms}\n";
    CHECK(config_load_buffer(&cfg, "c.yaml", cy, strlen(cy), &d) == 0);
    diag_deinit(&d);
    CHECK(cfg.digest_nonce_ttl_ms == 1500);
    setenv("CPX_D_USER", RFC_USER, 1);
    setenv("CPX_D_PASS", RFC_PASS, 1);
    struct runtime *rt = testrt_load("d.yaml", doc_yaml, &cfg);
    CHECK(rt != NULL);
    if (!rt)
        goto out;
    const struct rt_inbound *in = runtime_inbound(rt, &rt->model->caps[0]->exposes[0]);
    CHECK(in && in->kind == MODEL_AUTH_DIGEST && in->digest && in->digest->usable);
    if (!in || !in->digest)
        goto free_rt;
    CHECK(in->digest->ttl_s == 2); /* rounded up to whole seconds */
    CHECK(in->expected == NULL);   /* the password is not kept, only its hashes */
    CHECK_STR(in->name, "Authorization");
    const struct rt_inbound *auth[] = {in};
    CHECK(inbound_is_header(auth, 1, "authorization"));
    /* the two challenges, SHA-256 first, from the request's point of view */
    char ch[2][INBOUND_CHALLENGE_MAX];
    CHECK(!inbound_digest_check(in, NULL, "GET", "/a", ch));
    CHECK(strncmp(ch[0], "Digest realm=\"capproxy\", qop=\"auth\", algorithm=SHA-256, nonce=\"",
                  62) == 0);
    CHECK(strncmp(ch[1], "Digest realm=\"capproxy\", qop=\"auth\", algorithm=MD5, nonce=\"", 58) ==
          0);
    CHECK(strstr(ch[0], "stale") == NULL);
    /* answer the challenge's nonce */
    char nonce[DIGEST_NONCE_LEN + 1];
    const char *np = strstr(ch[1], "nonce=\"") + 7;
    memcpy(nonce, np, DIGEST_NONCE_LEN);
    nonce[DIGEST_NONCE_LEN] = '\0';
    char *a = answer(in->digest, "MD5", RFC_USER, RFC_PASS, "GET", "/a", nonce, NULL);
    CHECK(inbound_digest_check(in, a, "GET", "/a", ch));
    CHECK(!inbound_digest_check(in, a, "GET", "/b", ch));
    free(a);
free_rt:
    runtime_free(rt);
out:
    config_deinit(&cfg);
}

/* The load errors, each at its place with what was expected. */
static void check_load_error(const char *yaml, const char *want)
{
    struct diag d;
    diag_init(&d);
    struct model *m = model_new();
    int rc = loader_load_buffer(m, "e.yaml", yaml, strlen(yaml), &d);
    CHECK(rc < 0);
    if (!diag_contains(&d, want)) {
        fprintf(stderr, "want \"%s\", got:\n", want);
        diag_print(&d, stderr);
        CHECK(0);
    }
    diag_deinit(&d);
    model_free(m);
}

static void test_load_errors(void)
{
    char *doc;
    /* no password */
    doc = xasprintf("%.*s      authentication: {type: digest, username: u}\n%s",
                    (int)(strstr(doc_yaml, "      authentication") - doc_yaml), doc_yaml,
                    strstr(doc_yaml, "      resources:\n        - path: /a"));
    check_load_error(doc, "e.yaml:19:23: error: missing required key 'password' in digest "
                          "authentication");
    free(doc);
    /* a key of another type */
    doc = xasprintf(
        "%.*s      authentication: {type: digest, username: u, password: p, token: t}\n%s",
        (int)(strstr(doc_yaml, "      authentication") - doc_yaml), doc_yaml,
        strstr(doc_yaml, "      resources:\n        - path: /a"));
    check_load_error(doc, "unknown key 'token' in digest authentication");
    free(doc);
    /* digest towards a consumed API: the credentials the upstream client answers with */
    doc = xasprintf("%.*s      authentication: {type: digest, username: u, password: p}\n%s",
                    (int)(strstr(doc_yaml, "      resources:\n        - name: things") - doc_yaml),
                    doc_yaml, strstr(doc_yaml, "      resources:\n        - name: things"));
    struct config cfg;
    config_defaults(&cfg);
    struct runtime *rt = testrt_load("c.yaml", doc, &cfg);
    CHECK(rt != NULL);
    if (rt) {
        CHECK_STR(rt->consumers[0].digest_user, "u");
        CHECK_STR(rt->consumers[0].digest_pass, "p");
        runtime_free(rt);
    }
    config_deinit(&cfg);
    free(doc);
}

int main(void)
{
    digest_set_key("unit-test key", 13);
    RUN(test_rfc_example());
    RUN(test_parse());
    RUN(test_verify());
    RUN(test_unset_and_challenge());
    RUN(test_built());
    RUN(test_load_errors());
    return harness_report();
}
