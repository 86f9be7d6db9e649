/* Unit tests for inbound: the expected values rendered at load and the pure checks of what a
 * caller presents (scheme tokens, constant-time match, the challenge, our own headers). */
#include "harness.h"
#include "testrt.h"

#include <stdlib.h>

#include "core/inbound.h"
#include "core/runtime.h"
#include "spec/config.h"

static const char *doc_yaml =
    "naftiko: 1.0.0-alpha2\n"
    "binds:\n"
    "  - namespace: env\n"
    "    keys: {IN_TOKEN: CPX_IN_TOKEN, IN_USER: CPX_IN_USER, IN_PASS: "
    "CPX_IN_PASS, IN_KEY: CPX_IN_KEY}\n"
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
    "      namespace: bearer-rest\n"
    "      port: 8080\n"
    "      authentication: {type: bearer, token: '{{IN_TOKEN}}'}\n"
    "      resources:\n"
    "        - path: /a\n"
    "          operations: [{method: GET, call: api.list}]\n"
    "    - type: rest\n"
    "      namespace: basic-rest\n"
    "      port: 8081\n"
    "      authentication: {type: basic, username: '{{IN_USER}}', "
    "password: '{{IN_PASS}}'}\n"
    "      resources:\n"
    "        - path: /b\n"
    "          operations: [{method: GET, call: api.list}]\n"
    "    - type: rest\n"
    "      namespace: key-rest\n"
    "      port: 8082\n"
    "      authentication: {type: apikey, key: X-Key, value: '{{IN_KEY}}'}\n"
    "      resources:\n"
    "        - path: /c\n"
    "          operations: [{method: GET, call: api.list}]\n"
    "    - type: rest\n"
    "      namespace: query-rest\n"
    "      port: 8083\n"
    "      authentication: {type: apikey, key: key, placement: query, value: "
    "'{{IN_KEY}}'}\n"
    "      resources:\n"
    "        - path: /d\n"
    "          operations: [{method: GET, call: api.list}]\n"
    "    - type: rest\n"
    "      namespace: open-rest\n"
    "      port: 8084\n"
    "      resources:\n"
    "        - path: /e\n"
    "          operations: [{method: GET, call: api.list}]\n";

static const struct rt_inbound *of(const struct runtime *rt, const char *ns)
{
    for (size_t i = 0; i < rt->model->ncaps; i++)
        for (size_t e = 0; e < rt->model->caps[i]->nexposes; e++)
            if (str_eq(rt->model->caps[i]->exposes[e].ns, ns))
                return runtime_inbound(rt, &rt->model->caps[i]->exposes[e]);
    return NULL;
}

static void test_token(void)
{
    CHECK_STR(inbound_token("Bearer abc", "Bearer"), "abc");
    CHECK_STR(inbound_token("bearer \t abc", "Bearer"), "abc");
    CHECK(inbound_token("Bearerabc", "Bearer") == NULL);
    CHECK(inbound_token("Basic abc", "Bearer") == NULL);
    CHECK(inbound_token(NULL, "Bearer") == NULL);
    CHECK_STR(inbound_token("Bearer ", "Bearer"), "");
}

static void test_built(void)
{
    struct config cfg;
    config_defaults(&cfg);
    setenv("CPX_IN_TOKEN", "tok", 1);
    setenv("CPX_IN_USER", "Aladdin", 1);
    setenv("CPX_IN_PASS", "open sesame", 1);
    setenv("CPX_IN_KEY", "k-1", 1);
    struct runtime *rt = testrt_load("in.yaml", doc_yaml, &cfg);
    CHECK(rt != NULL);
    if (!rt) {
        config_deinit(&cfg);
        return;
    }
    const struct rt_inbound *b = of(rt, "bearer-rest"), *ba = of(rt, "basic-rest");
    const struct rt_inbound *k = of(rt, "key-rest"), *q = of(rt, "query-rest");
    CHECK(b && ba && k && q);
    CHECK(of(rt, "open-rest") == NULL);
    if (!b || !ba || !k || !q)
        goto out;
    /* bearer: the token after the scheme */
    CHECK_STR(b->name, "Authorization");
    CHECK(inbound_matches(b, "Bearer tok"));
    CHECK(inbound_matches(b, "bearer  tok"));
    CHECK(!inbound_matches(b, "tok"));
    CHECK(!inbound_matches(b, "Bearer to"));
    CHECK(!inbound_matches(b, "Bearer tokk"));
    CHECK(!inbound_matches(b, NULL));
    /* basic: base64(user:pass), RFC 7617's example */
    CHECK_STR(ba->expected, "QWxhZGRpbjpvcGVuIHNlc2FtZQ==");
    CHECK(inbound_matches(ba, "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ=="));
    CHECK(!inbound_matches(ba, "Bearer QWxhZGRpbjpvcGVuIHNlc2FtZQ=="));
    /* apikey: the whole value, no scheme */
    CHECK_STR(k->name, "X-Key");
    CHECK(!k->in_query);
    CHECK(inbound_matches(k, "k-1"));
    CHECK(!inbound_matches(k, "Bearer k-1"));
    CHECK(q->in_query);
    CHECK(inbound_matches(q, "k-1"));
    CHECK(!inbound_matches(q, ""));

    char v[256];
    inbound_challenge(b, v, sizeof v);
    CHECK_STR(v, "Bearer realm=\"capproxy\"");
    inbound_challenge(ba, v, sizeof v);
    CHECK_STR(v, "Basic realm=\"capproxy\", charset=\"UTF-8\"");
    inbound_challenge(k, v, sizeof v);
    CHECK_STR(v, "ApiKey realm=\"capproxy\", header=\"X-Key\"");
    inbound_challenge(q, v, sizeof v);
    CHECK_STR(v, "ApiKey realm=\"capproxy\", query=\"key\"");

    const struct rt_inbound *all[] = {b, k, q};
    CHECK(inbound_is_header(all, 3, "authorization"));
    CHECK(inbound_is_header(all, 3, "x-key"));
    CHECK(!inbound_is_header(all, 3, "key")); /* a query credential is no header */
    CHECK(!inbound_is_header(all, 0, "authorization"));
out:
    runtime_free(rt);
    config_deinit(&cfg);
}

static void test_unset(void)
{
    /* A missing bind leaves the expected value unset (build warns; every request gets 401):
     * nothing matches, not even "". */
    struct rt_inbound k = {.kind = MODEL_AUTH_APIKEY, .name = "X-Key"};
    CHECK(!inbound_matches(&k, ""));
    CHECK(!inbound_matches(&k, "k-1"));
    struct rt_inbound b = {.kind = MODEL_AUTH_BEARER, .name = "Authorization"};
    CHECK(!inbound_matches(&b, "Bearer "));
}

int main(void)
{
    RUN(test_token());
    RUN(test_built());
    RUN(test_unset());
    return harness_report();
}
