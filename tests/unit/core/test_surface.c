/* Unit tests for one endpoint's surface (catalog_settle): which tools an endpoint serving
 * several adapters lists when two send the same upstream request, that the others stay
 * callable, its instructions, <path>/mcp, and the one-stdio-adapter rule. */
#include "harness.h"
#include "testrt.h"

#include <stdlib.h>
#include <string.h>

#include "core/catalog.h"
#include "core/runtime.h"
#include "spec/config.h"

static const struct rt_mcp_endpoint *endpoint(const struct runtime *rt, const char *path)
{
    for (size_t i = 0; i < rt->nlisteners; i++)
        for (size_t j = 0; j < rt->listeners[i].nendpoints; j++)
            if (str_eq(rt->listeners[i].endpoints[j].path, path))
                return &rt->listeners[i].endpoints[j];
    return NULL;
}

static bool listed(const struct rt_mcp_endpoint *ep, const char *name)
{
    for (size_t i = 0; ep && i < ep->ntools; i++)
        if (str_eq(ep->tools[i]->name, name))
            return true;
    return false;
}

#define CONSUMES                                                                                   \
    "naftiko: 1.0.0-alpha2\n"                                                                      \
    "capability:\n"                                                                                \
    "  consumes:\n"                                                                                \
    "    - type: http\n"                                                                           \
    "      namespace: a\n"                                                                         \
    "      baseUri: http://up.example\n"                                                           \
    "      resources:\n"                                                                           \
    "        - name: things\n"                                                                     \
    "          path: /things/{id}\n"                                                               \
    "          operations:\n"                                                                      \
    "            - {name: get, method: GET, inputParameters: [{name: id, in: path}]}\n"            \
    "            - {name: del, method: DELETE, inputParameters: [{name: id, in: path}]}\n"         \
    "    - type: http\n"                                                                           \
    "      namespace: b\n"                                                                         \
    "      baseUri: http://up.example\n"                                                           \
    "      resources:\n"                                                                           \
    "        - name: things\n"                                                                     \
    "          path: /things/{thingId}\n"                                                          \
    "          operations:\n"                                                                      \
    "            - {name: fetch, method: GET, inputParameters: [{name: thingId, in: path}]}\n"     \
    "    - type: http\n"                                                                           \
    "      namespace: c\n"                                                                         \
    "      baseUri: http://other.example\n"                                                        \
    "      resources:\n"                                                                           \
    "        - name: things\n"                                                                     \
    "          path: /things/{id}\n"                                                               \
    "          operations:\n"                                                                      \
    "            - {name: get, method: GET, inputParameters: [{name: id, in: path}]}\n"            \
    "  exposes:\n"

/* "first" (loaded first, no path), "second" (path /set): the same GET, the shared-set one is
 * listed. A literal `with`, another method, another base URI and a mock stay listed; so do two
 * tools of one adapter. */
static const char *doc_rules =
    CONSUMES "    - type: mcp\n"
             "      namespace: first\n"
             "      port: 9301\n"
             "      description: First.\n"
             "      tools:\n"
             "        - {name: get-thing, description: g, call: a.get, with: {id: tools.id}}\n"
             "        - {name: get-again, description: g2, call: a.get, with: {id: tools.id}}\n"
             "        - {name: get-fixed, description: f, call: a.get, with: {id: 7}}\n"
             "        - {name: del-thing, description: d, call: a.del, with: {id: tools.id}}\n"
             "        - {name: get-other, description: o, call: c.get, with: {id: tools.id}}\n"
             "    - type: mcp\n"
             "      namespace: second\n"
             "      port: 9301\n"
             "      path: /set\n"
             "      tools:\n"
             "        - {name: set_fetch, description: s, call: b.fetch, with: {thingId: "
             "tools.thingId}}\n"
             "        - name: set_mock\n"
             "          description: m\n"
             "          outputParameters: [{name: x, type: string, value: fixed}]\n";

static void test_rules(void)
{
    struct config cfg;
    config_defaults(&cfg);
    struct runtime *rt = testrt_load("rules.yaml", doc_rules, &cfg);
    CHECK(rt != NULL);
    if (!rt)
        return;
    const struct rt_mcp_endpoint *all = endpoint(rt, "/mcp");
    CHECK(all != NULL);
    if (!all)
        goto out;
    /* get-thing and get-again (first, no path) send what set_fetch (path /set) sends. */
    CHECK(listed(all, "set_fetch"));
    CHECK(!listed(all, "get-thing"));
    CHECK(!listed(all, "get-again"));
    CHECK(listed(all, "get-fixed"));
    CHECK(listed(all, "del-thing"));
    CHECK(listed(all, "get-other"));
    CHECK(listed(all, "set_mock"));
    CHECK(all->ntools == 5 && all->nsame_op == 2);
    for (size_t i = 0; i < all->nsame_op; i++)
        CHECK_STR(all->same_op[i].kept->name, "set_fetch");
    /* Hidden, still callable by name. */
    CHECK(catalog_find_tool(all->catalog, "get-thing") != NULL);
    CHECK(catalog_find_tool(all->catalog, "get-again") != NULL);
    CHECK(strstr(catalog_tools_json(all->catalog), "\"get-thing\"") == NULL);
    CHECK_STR(all->description, "This MCP endpoint serves the tools of 2 adapters:\n- first: "
                                "First.\n- second");
    /* The adapter's own endpoint lists every one of its tools, with its description. */
    const struct rt_mcp_endpoint *own = endpoint(rt, "/mcp/first");
    CHECK(own && own->ntools == 5 && own->nsame_op == 0);
    if (own)
        CHECK_STR(own->description, "First.");
    /* The shared set, and the same at <path>/mcp. */
    const struct rt_mcp_endpoint *set = endpoint(rt, "/set"), *setm = endpoint(rt, "/set/mcp");
    CHECK(set && setm);
    if (set && setm) {
        CHECK(set->ntools == 2 && setm->ntools == 2);
        CHECK_STR(catalog_tools_json(set->catalog), catalog_tools_json(setm->catalog));
    }
    /* mcp-stdio serves every tool the same way. */
    CHECK(rt->stdio_ep->nsame_op == 2);
    CHECK(rt->stdio_adapter_ep == NULL);
out:
    runtime_free(rt);
    config_deinit(&cfg);
}

/* Neither adapter names a path: the first loaded is listed. */
static const char *doc_first =
    CONSUMES "    - type: mcp\n"
             "      namespace: one\n"
             "      port: 9302\n"
             "      tools:\n"
             "        - {name: one-get, description: g, call: b.fetch, with: {thingId: "
             "tools.thingId}}\n"
             "    - type: mcp\n"
             "      namespace: two\n"
             "      port: 9302\n"
             "      tools:\n"
             "        - {name: two-get, description: g, call: a.get, with: {id: tools.id}}\n";

static void test_first_loaded(void)
{
    struct config cfg;
    config_defaults(&cfg);
    struct runtime *rt = testrt_load("first.yaml", doc_first, &cfg);
    CHECK(rt != NULL);
    if (!rt)
        return;
    const struct rt_mcp_endpoint *all = endpoint(rt, "/mcp");
    CHECK(all && listed(all, "one-get") && !listed(all, "two-get"));
    if (all)
        CHECK_STR(all->description,
                  "This MCP endpoint serves the tools of 2 adapters:\n- one\n- two (its tools are "
                  "not listed: each calls the same upstream operation as a listed tool of another "
                  "adapter; they stay callable by name)");
    runtime_free(rt);
    config_deinit(&cfg);
}

/* A stdio adapter: served by the run mode (its own endpoint), not on a listener. */
static const char *doc_stdio = CONSUMES "    - type: mcp\n"
                                        "      namespace: local\n"
                                        "      transport: stdio\n"
                                        "      description: Local.\n"
                                        "      tools:\n"
                                        "        - {name: l-get, description: g, call: a.get}\n";

static void test_stdio_adapter(void)
{
    struct config cfg;
    config_defaults(&cfg);
    struct runtime *rt = testrt_load("stdio.yaml", doc_stdio, &cfg);
    CHECK(rt != NULL);
    if (!rt)
        return;
    CHECK(rt->nlisteners == 0);
    const struct rt_mcp_endpoint *ep = rt->stdio_adapter_ep;
    CHECK(ep != NULL);
    if (ep) {
        CHECK(ep->ntools == 1 && ep->catalog != NULL);
        CHECK_STR(ep->description, "Local.");
        CHECK(catalog_find_tool(ep->catalog, "l-get") != NULL);
    }
    runtime_free(rt);

    /* Two stdio adapters: an error naming both. */
    struct diag d;
    diag_init(&d);
    struct model *m = model_new();
    static const char second[] = "naftiko: 1.0.0-alpha2\n"
                                 "capability:\n"
                                 "  consumes:\n"
                                 "    - {type: http, namespace: z, baseUri: 'http://z.example',\n"
                                 "       resources: [{name: r, path: /r, operations: [{name: g, "
                                 "method: GET}]}]}\n"
                                 "  exposes:\n"
                                 "    - type: mcp\n"
                                 "      namespace: local2\n"
                                 "      transport: stdio\n"
                                 "      tools: [{name: z-get, description: z, call: z.g}]\n";
    CHECK(loader_load_buffer(m, "stdio.yaml", doc_stdio, strlen(doc_stdio), &d) == 0);
    CHECK(loader_load_buffer(m, "stdio2.yaml", second, sizeof second - 1, &d) == 0);
    CHECK(checks_validate(m, &d) == 0);
    rt = runtime_build(m, &cfg, &d);
    CHECK(rt == NULL);
    CHECK(d.nerrors == 1);
    if (d.n >= 1) {
        char *s = diag_format(&d.v[d.n - 1]);
        CHECK_STR(s, "stdio2.yaml:7:7: error: MCP adapter 'local2' has transport: stdio, and so "
                     "has 'local' (stdio.yaml:30:7): a process has one stdin/stdout, so it serves "
                     "at most one stdio adapter. Load them in separate processes, or serve one "
                     "over http");
        free(s);
    }
    diag_deinit(&d);
    config_deinit(&cfg);
}

int main(void)
{
    RUN(test_rules());
    RUN(test_first_loaded());
    RUN(test_stdio_adapter());
    return harness_report();
}
