/* Unit tests for catalog: per MCP endpoint, the tools/list JSON built at load equals
 * mcptool_tools_list of its tools, the credential list is every adapter's once, the tool index
 * finds every tool and nothing else; the stdio endpoint serves every tool, the first of each
 * name, one listed per upstream operation, with instructions naming each adapter. */
#include "harness.h"
#include "testrt.h"

#include <stdlib.h>
#include <string.h>

#include "core/catalog.h"
#include "core/mcptool.h"
#include "core/runtime.h"
#include "spec/config.h"

static void check_endpoint(const struct runtime *rt, const struct rt_mcp_endpoint *ep)
{
    const struct catalog *c = ep->catalog;
    CHECK(c != NULL);
    if (!c)
        return;
    char *want = mcptool_tools_list(ep->tools, ep->ntools);
    CHECK_STR(catalog_tools_json(c), want);
    free(want);
    /* The credentials: each adapter behind the endpoint once, in tool order. */
    const struct rt_inbound *exp[64];
    size_t nexp = 0;
    for (size_t i = 0; i < ep->ntools; i++) {
        const struct rt_inbound *in = runtime_inbound(rt, ep->tools[i]->expose);
        bool seen = false;
        for (size_t j = 0; j < nexp; j++)
            seen |= exp[j] == in;
        if (in && !seen && nexp < 64)
            exp[nexp++] = in;
    }
    if (ep->expose && ep->ntools == 0 && runtime_inbound(rt, ep->expose))
        exp[nexp++] = runtime_inbound(rt, ep->expose);
    size_t n;
    const struct rt_inbound *const *auth = catalog_auth(c, &n);
    CHECK(n == nexp);
    for (size_t i = 0; i < n && i < nexp; i++)
        CHECK(auth[i] == exp[i]);
    for (size_t i = 0; i < ep->ntools; i++)
        CHECK(catalog_find_tool(c, ep->tools[i]->name) == ep->tools[i]);
    CHECK(catalog_find_tool(c, "") == NULL);
    CHECK(catalog_find_tool(c, "no-such-tool") == NULL);
    CHECK(catalog_find_tool(c, "~~~") == NULL);
}

static size_t nendpoints;

static void check_runtime(const struct runtime *rt)
{
    for (size_t i = 0; i < rt->nlisteners; i++)
        for (size_t j = 0; j < rt->listeners[i].nendpoints; j++) {
            check_endpoint(rt, &rt->listeners[i].endpoints[j]);
            nendpoints++;
        }
    const struct rt_mcp_endpoint *s = rt->stdio_ep;
    CHECK(s != NULL);
    if (!s)
        return;
    CHECK_STR(s->path, "stdio");
    check_endpoint(rt, s);
    /* Every tool call is served or named as a duplicate of a served one. */
    size_t ntools = 0;
    for (size_t i = 0; i < rt->ncalls; i++)
        ntools += rt->calls[i].tool != NULL;
    CHECK(s->ntools + s->ndups + s->nsame_op == ntools);
    /* A tool not listed for its upstream operation stays callable by its own name. */
    for (size_t i = 0; i < s->nsame_op; i++)
        CHECK(catalog_find_tool(s->catalog, s->same_op[i].dropped->name) == s->same_op[i].dropped);
    for (size_t i = 0; i < s->ndups; i++)
        CHECK(catalog_find_tool(s->catalog, s->dups[i].dropped->name) == s->dups[i].kept);
}

static void test_shipped(void)
{
    static const char *const docs[] = {
        "capabilities/cal-com-managed-users.yaml",
        "capabilities/cal-com-platform-api-keys.yaml",
        "capabilities/cal-com-platform-managed-users.yaml",
        "capabilities/cal-com-platform-me.yaml",
        "capabilities/cal-com-platform-oauth-client-webhooks.yaml",
        "capabilities/cal-com-platform-oauth-clients.yaml",
        "capabilities/cal-com-platform-stripe.yaml",
        "capabilities/cal-com-platform-webhooks.yaml",
    };
    struct config cfg;
    CHECK(testrt_shipped_config(&cfg));
    for (size_t i = 0; i < sizeof docs / sizeof *docs; i++) {
        struct runtime *rt = testrt_load_file(docs[i], &cfg);
        CHECK(rt != NULL);
        if (rt)
            check_runtime(rt);
        runtime_free(rt);
    }
    CHECK(nendpoints >= 8);
    config_deinit(&cfg);
}

/* Two adapters on one port (the aggregate /mcp), one with authentication, a tool name both
 * define (allowed on their own paths; stdio keeps the first), an adapter without tools. */
static const char *doc_yaml = "naftiko: 1.0.0-alpha2\n"
                              "binds:\n"
                              "  - namespace: env\n"
                              "    keys: {CAT_TOKEN: CPX_CAT_TOKEN}\n"
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
                              "    - type: mcp\n"
                              "      namespace: one\n"
                              "      port: 9191\n"
                              "      description: First adapter.\n"
                              "      authentication: {type: bearer, token: '{{CAT_TOKEN}}'}\n"
                              "      tools:\n"
                              "        - {name: zeta, description: z, call: api.list}\n"
                              "        - {name: alpha, description: a, call: api.list}\n"
                              "    - type: mcp\n"
                              "      namespace: two\n"
                              "      port: 9192\n"
                              "      description: Second adapter.\n"
                              "      tools:\n"
                              "        - {name: alpha, description: again, call: api.list}\n"
                              "        - {name: mid, description: m, call: api.list}\n";

static void test_edges(void)
{
    struct config cfg;
    config_defaults(&cfg);
    setenv("CPX_CAT_TOKEN", "t", 1);
    struct runtime *rt = testrt_load("cat.yaml", doc_yaml, &cfg);
    CHECK(rt != NULL);
    if (!rt)
        return;
    check_runtime(rt);
    const struct rt_mcp_endpoint *s = rt->stdio_ep;
    /* Every tool calls GET /things: "two"'s "mid" is not listed (the same upstream operation
     * as "one"'s, loaded first) but callable. */
    CHECK(s->ntools == 2 && s->ndups == 1 && s->nsame_op == 1);
    if (s->nsame_op == 1) {
        CHECK_STR(s->same_op[0].dropped->name, "mid");
        CHECK_STR(s->same_op[0].kept->name, "zeta");
    }
    CHECK_STR(s->description,
              "This MCP endpoint serves the tools of 2 adapters:\n- one: First adapter.\n- two: "
              "Second adapter. (its tools are not listed: each calls the same upstream operation "
              "as a listed tool of another adapter; they stay callable by name)");
    if (s->ndups == 1) {
        CHECK_STR(s->dups[0].kept->expose->ns, "one");
        CHECK_STR(s->dups[0].dropped->expose->ns, "two");
    }
    /* tools/list keeps the document's order (zeta before alpha), the index is sorted. */
    const char *json = catalog_tools_json(s->catalog);
    CHECK(strstr(json, "\"zeta\"") < strstr(json, "\"alpha\""));
    size_t n;
    catalog_auth(s->catalog, &n);
    CHECK(n == 1);
    runtime_free(rt);
    config_deinit(&cfg);
}

int main(void)
{
    RUN(test_shipped());
    RUN(test_edges());
    return harness_report();
}
