/* Unit tests for secrets: which bind variables a document uses (and as what), and where a
 * consumer's credential comes from. Both read a template's placeholders exactly as
 * template_render looks them up: the last "{{" before the first "}}" opens one, names are
 * trimmed of spaces and tabs, an unclosed "{{" is text. */
#include "harness.h"

#include <stdlib.h>
#include <string.h>

#include "base/diag.h"
#include "core/runtime.h"
#include "spec/checks.h"
#include "spec/config.h"
#include "spec/loader.h"

/* Load <yaml> and build its runtime, collecting diagnostics into <d>. NULL when either fails. */
static struct runtime *build(const char *yaml, struct config *cfg, struct diag *d)
{
    struct model *m = model_new();
    if (loader_load_buffer(m, "s.yaml", yaml, strlen(yaml), d) != 0 || checks_validate(m, d) != 0) {
        model_free(m);
        return NULL;
    }
    return runtime_build(m, cfg, d);
}

static const char *source_yaml =
    "naftiko: 1.0.0-alpha2\n"
    "binds:\n"
    "  - namespace: env\n"
    "    keys: {TOK: CPX_SEC_TOK}\n"
    "capability:\n"
    "  consumes:\n"
    "    - {type: http, namespace: plain, baseUri: 'http://up.example',\n"
    "       authentication: {type: bearer, token: '{{TOK}}'},\n"
    "       resources: [{name: r, path: /r, operations: [{name: o, method: GET}]}]}\n"
    "    - {type: http, namespace: spaced, baseUri: 'http://up.example',\n"
    "       authentication: {type: bearer, token: '{{ TOK }}'},\n"
    "       resources: [{name: r, path: /r, operations: [{name: o, method: GET}]}]}\n"
    "    - {type: http, namespace: braced, baseUri: 'http://up.example',\n"
    "       authentication: {type: apikey, key: X-Key, value: '{{{TOK}}}'},\n"
    "       resources: [{name: r, path: /r, operations: [{name: o, method: GET}]}]}\n"
    "    - {type: http, namespace: tabbed, baseUri: 'http://up.example',\n"
    "       authentication: {type: basic, username: u, password: '{{\tTOK\t}}'},\n"
    "       resources: [{name: r, path: /r, operations: [{name: o, method: GET}]}]}\n"
    "    - {type: http, namespace: unclosed, baseUri: 'http://up.example',\n"
    "       authentication: {type: bearer, token: 'abc{{TOK'},\n"
    "       resources: [{name: r, path: /r, operations: [{name: o, method: GET}]}]}\n"
    "    - {type: http, namespace: literal, baseUri: 'http://up.example',\n"
    "       authentication: {type: bearer, token: abc},\n"
    "       resources: [{name: r, path: /r, operations: [{name: o, method: GET}]}]}\n";

static const char *source_of(const struct runtime *rt, const char *ns)
{
    for (size_t i = 0; i < rt->nconsumers; i++)
        if (str_eq(rt->consumers[i].mc->ns, ns))
            return rt->consumers[i].ncreds ? rt->consumers[i].creds[0].source : NULL;
    return NULL;
}

static const char *value_of(const struct runtime *rt, const char *ns)
{
    for (size_t i = 0; i < rt->nconsumers; i++)
        if (str_eq(rt->consumers[i].mc->ns, ns))
            return rt->consumers[i].ncreds ? rt->consumers[i].creds[0].value : NULL;
    return NULL;
}

/* The source printed by `capproxy routes` and the missing-credential warning names the
 * variable the credential is rendered from, trimmed as rendering trims it; a template that
 * reads no variable (an unclosed "{{" is text) is the document's own literal value. */
static void test_source(void)
{
    struct config cfg;
    struct diag d;
    config_defaults(&cfg);
    diag_init(&d);
    setenv("CPX_SEC_TOK", "s3cr3t", 1);
    struct runtime *rt = build(source_yaml, &cfg, &d);
    CHECK(rt != NULL);
    if (!rt) {
        diag_print(&d, stderr);
        goto out;
    }
    CHECK_STR(source_of(rt, "plain"), "bind TOK");
    CHECK_STR(source_of(rt, "spaced"), "bind TOK");
    CHECK_STR(source_of(rt, "braced"), "bind TOK");
    CHECK_STR(source_of(rt, "tabbed"), "bind TOK");
    CHECK_STR(source_of(rt, "unclosed"), "capability document");
    CHECK_STR(source_of(rt, "literal"), "capability document");
    /* ... which is what the value is rendered from. */
    CHECK_STR(value_of(rt, "spaced"), "Bearer s3cr3t");
    CHECK_STR(value_of(rt, "braced"), "{s3cr3t}");
    CHECK_STR(value_of(rt, "tabbed"), "Basic dTpzM2NyM3Q="); /* base64("u:s3cr3t") */
    CHECK_STR(value_of(rt, "unclosed"), "Bearer abc{{TOK");
    runtime_free(rt);
out:
    unsetenv("CPX_SEC_TOK");
    diag_deinit(&d);
    config_deinit(&cfg);
}

static const char *uses_yaml =
    "naftiko: 1.0.0-alpha2\n"
    "binds:\n"
    "  - namespace: env\n"
    "    keys: {BRACED: CPX_SEC_BRACED, TABBED: CPX_SEC_TABBED, OPEN: CPX_SEC_OPEN, "
    "HDR: CPX_SEC_HDR}\n"
    "capability:\n"
    "  consumes:\n"
    "    - type: http\n"
    "      namespace: api\n"
    "      baseUri: http://up.example\n"
    "      resources:\n"
    "        - name: r\n"
    "          path: /r\n"
    "          operations:\n"
    "            - name: o\n"
    "              method: GET\n"
    "              inputParameters:\n"
    "                - {name: a, in: query, value: '{{{BRACED}}}'}\n"
    "                - {name: b, in: query, value: '{{\tTABBED\t}}'}\n"
    "                - {name: c, in: query, value: '{{OPEN'}\n"
    "                - {name: x-h, in: header, value: '{{{HDR}}}'}\n";

/* A bind variable is used wherever rendering reads it: unset, that is an error, not the
 * "nothing uses it" warning; a credential use (a header parameter's value) refuses a
 * placeholder. An unclosed "{{" reads nothing. */
static void test_uses(void)
{
    struct config cfg;
    struct diag d;
    config_defaults(&cfg);
    diag_init(&d);
    unsetenv("CPX_SEC_BRACED");
    unsetenv("CPX_SEC_TABBED");
    unsetenv("CPX_SEC_OPEN");
    setenv("CPX_SEC_HDR", "<your-key>", 1);
    struct runtime *rt = build(uses_yaml, &cfg, &d);
    CHECK(rt == NULL);
    CHECK(diag_contains(&d, "error: bind variable 'BRACED' is used by this document but "
                            "environment variable 'CPX_SEC_BRACED' is not set"));
    CHECK(diag_contains(&d, "error: bind variable 'TABBED' is used by this document but "
                            "environment variable 'CPX_SEC_TABBED' is not set"));
    CHECK(diag_contains(&d, "warning: bind variable 'OPEN' (CPX_SEC_OPEN) is not set; nothing "
                            "uses it"));
    CHECK(diag_contains(&d, "error: bind variable 'HDR' is a credential but environment "
                            "variable 'CPX_SEC_HDR' holds a placeholder"));
    if (rt)
        runtime_free(rt);
    unsetenv("CPX_SEC_HDR");
    diag_deinit(&d);
    config_deinit(&cfg);
}

int main(void)
{
    RUN(test_source());
    RUN(test_uses());
    return harness_report();
}
