/*
 * Unit tests of `authentication: {type: oauth2}` (the loader) and the configuration's oauth2
 * section: what lands in the model, and each error with its exact text and position.
 */
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "testrt.h"
#include "spec/checks.h"
#include "spec/config.h"
#include "spec/loader.h"

#define HEAD                                                                                       \
    "naftiko: 1.0.0-alpha2\n"                                                                      \
    "capability:\n"                                                                                \
    "  exposes:\n"                                                                                 \
    "  - type: mcp\n"                                                                              \
    "    namespace: secure\n"                                                                      \
    "    tools:\n"                                                                                 \
    "    - name: hello\n"                                                                          \
    "      outputParameters: [{name: m, type: string, value: hi}]\n"                               \
    "    authentication:\n"
/* HEAD is 9 lines: the authentication's keys start at line 10, column 7. */

static void bad(const char *doc, const char *want)
{
    CHECK(testrt_fails_with(doc, want, false));
}

static void test_model(void)
{
    static const char doc[] = HEAD "      type: oauth2\n"
                                   "      authorizationServerUri: https://auth.example.com/\n"
                                   "      resource: https://mcp.example.com/mcp\n"
                                   "      scopes: [tools:read, 'tools:write']\n"
                                   "      tokenEndpoint: https://auth.example.com/token\n"
                                   "      tokenValidation: introspection\n";
    struct model *m;
    struct diag d;
    CHECK(testrt_load_model(doc, &m, &d) == 0);
    CHECK(d.n == 0);
    const struct model_auth *a = &m->caps[0]->exposes[0].auth;
    CHECK(a->kind == MODEL_AUTH_OAUTH2);
    const struct model_oauth2 *o = a->oauth2;
    CHECK(o != NULL);
    if (o) {
        CHECK_STR(o->as_uri, "https://auth.example.com/");
        CHECK_STR(o->resource, "https://mcp.example.com/mcp");
        CHECK(o->audience == NULL);
        CHECK(o->nscopes == 2);
        CHECK_STR(o->scopes[1], "tools:write");
        CHECK_STR(o->token_endpoint, "https://auth.example.com/token");
        CHECK(o->introspection);
    }
    diag_deinit(&d);
    model_free(m);
    /* http names a loopback host only; jwks is the default. */
    static const char local[] = HEAD "      type: oauth2\n"
                                     "      authorizationServerUri: http://127.0.0.1:8080\n"
                                     "      resource: http://localhost:9090/mcp\n"
                                     "      audience: capproxy\n";
    CHECK(testrt_load_model(local, &m, &d) == 0);
    o = m->caps[0]->exposes[0].auth.oauth2;
    CHECK(o && !o->introspection && o->nscopes == 0 && str_eq(o->audience, "capproxy"));
    diag_deinit(&d);
    model_free(m);
}

static void test_errors(void)
{
    bad(HEAD "      type: oauth2\n"
             "      resource: https://mcp.example.com/mcp\n",
        "f.yaml:10:7: error: missing required key 'authorizationServerUri' in oauth2 "
        "authentication");
    bad(HEAD "      type: oauth2\n"
             "      authorizationServerUri: http://auth.example.com\n"
             "      resource: https://mcp.example.com/mcp\n",
        "f.yaml:11:31: error: 'authorizationServerUri' must use https (http only for a loopback "
        "host): keys and token answers fetched in clear could be replaced on the way");
    bad(HEAD "      type: oauth2\n"
             "      authorizationServerUri: https://auth.example.com\n"
             "      resource: /mcp\n",
        "f.yaml:12:17: error: 'resource' must be an absolute http(s) URI without user info or "
        "fragment, got '/mcp'");
    bad(HEAD "      type: oauth2\n"
             "      authorizationServerUri: https://auth.example.com\n"
             "      resource: https://mcp.example.com/mcp\n"
             "      tokenValidation: jwt\n",
        "f.yaml:13:24: error: unknown tokenValidation 'jwt', expected jwks or introspection");
    bad(HEAD "      type: oauth2\n"
             "      authorizationServerUri: https://auth.example.com\n"
             "      resource: https://mcp.example.com/mcp\n"
             "      scopes: [\"tools read\"]\n",
        "f.yaml:13:16: error: a scope is a non-empty word of printable ASCII without spaces, "
        "quotes or backslashes, got tools read");
    bad(HEAD "      type: oauth2\n"
             "      authorizationServerUri: https://auth.example.com\n"
             "      resource: https://mcp.example.com/mcp\n"
             "      scope: [read]\n",
        "f.yaml:13:7: error: unknown key 'scope' in oauth2 authentication (did you mean "
        "'scopes'?)");
    bad("naftiko: 1.0.0-alpha2\n"
        "capability:\n"
        "  consumes:\n"
        "  - namespace: api\n"
        "    baseUri: https://api.example.com\n"
        "    authentication:\n"
        "      type: oauth2\n"
        "      authorizationServerUri: https://auth.example.com\n"
        "      resource: https://api.example.com\n"
        "    resources: [{path: /x, operations: [{name: x, method: GET}]}]\n"
        "  exposes: []\n",
        "f.yaml:7:13: error: oauth2 makes capproxy check the tokens of its own callers: it belongs "
        "on an exposes adapter, not on a consumed API");
}

static void test_config(void)
{
    static const char yaml[] = "oauth2:\n"
                               "  fetchTimeout: 2s\n"
                               "  keysMinRefresh: 10s\n"
                               "  leeway: 30s\n"
                               "  introspectionClients:\n"
                               "    - authorizationServer: 'https://auth.example.com*'\n"
                               "      clientId: capproxy\n"
                               "      clientSecretFromEnv: CPX_TEST_OAUTH_SECRET\n";
    struct config c;
    struct diag d;
    diag_init(&d);
    config_defaults(&c);
    CHECK(c.oauth_fetch_timeout_ms == 5000 && c.oauth_min_refresh_ms == 30000 &&
          c.oauth_leeway_ms == 60000);
    setenv("CPX_TEST_OAUTH_SECRET", "s3cr3t-value", 1);
    CHECK(config_load_buffer(&c, "c.yaml", yaml, sizeof yaml - 1, &d) == 0);
    CHECK(config_finish(&c, &d) == 0);
    CHECK(c.oauth_fetch_timeout_ms == 2000 && c.oauth_min_refresh_ms == 10000 &&
          c.oauth_leeway_ms == 30000);
    const struct config_oauth_client *oc = config_oauth_client_for(&c, "https://auth.example.com");
    CHECK(oc && str_eq(oc->client_id, "capproxy") && str_eq(oc->secret.value, "s3cr3t-value"));
    CHECK(config_oauth_client_for(&c, "https://other.example.com") == NULL);
    unsetenv("CPX_TEST_OAUTH_SECRET");
    config_deinit(&c);
    diag_deinit(&d);

    static const char bad_yaml[] = "oauth2:\n"
                                   "  keysMinRefresh: 100ms\n"
                                   "  introspectionClients:\n"
                                   "    - clientSecretFromEnv: X\n";
    diag_init(&d);
    config_defaults(&c);
    CHECK(config_load_buffer(&c, "c.yaml", bad_yaml, sizeof bad_yaml - 1, &d) < 0);
    CHECK(diag_contains(&d, "c.yaml:2:19: error: 'keysMinRefresh' must be at least 1s"));
    CHECK(diag_contains(&d, "c.yaml:4:7: error: an introspection client needs 'clientId'"));
    config_deinit(&c);
    diag_deinit(&d);
}

int main(void)
{
    RUN(test_model());
    RUN(test_errors());
    RUN(test_config());
    return harness_report();
}
