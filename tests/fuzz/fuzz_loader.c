/*
 * fuzz_loader: the bytes as one capability document, through loader_load_buffer (the entry
 * loader_load_file uses), the cross-document checks, and for a valid document the runtime
 * build (route tables, tool lists, templates and JSONPaths checked at load), then what is
 * derived from a loaded document before any request: the route table `capproxy routes` prints
 * and each MCP endpoint's tools/list answer with its input schemas. Every diagnostic is
 * formatted as the CLI would print it.
 */
#include "fuzz.h"

#include "app/routes.h"
#include "core/catalog.h"
#include "core/mcptool.h"
#include "spec/model.h"

static struct config cfg;
static FILE *devnull;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    /* A base URI for every consumed API, as the shipped configuration gives the seed's ''. */
    static const char yaml[] = "consumers:\n  - namespace: '*'\n    baseUri: http://127.0.0.1:1\n";
    struct diag d;
    log_init(LOG_ERROR, false, false);
    diag_init(&d);
    config_defaults(&cfg);
    if (config_load_buffer(&cfg, "fuzz-config.yaml", yaml, sizeof yaml - 1, &d) < 0 ||
        config_finish(&cfg, &d) < 0) {
        diag_print(&d, stderr);
        exit(1);
    }
    diag_deinit(&d);
    devnull = fopen("/dev/null", "w");
    if (!devnull)
        abort();
    return 0;
}

/* binds with a `location` read that file at runtime build: keep the fuzzer off the file system
 * (a fuzzed path such as /dev/stdin would block). */
static bool reads_files(const struct model *m)
{
    for (size_t i = 0; i < m->ncaps; i++)
        for (size_t b = 0; b < m->caps[i]->nbinds; b++)
            if (m->caps[i]->binds[b].location)
                return true;
    return false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct diag d;
    diag_init(&d);
    struct model *m = model_new();
    if (loader_load_buffer(m, "fuzz.yaml", (const char *)data, size, &d) == 0 &&
        checks_validate(m, &d) == 0 && !reads_files(m)) {
        struct runtime *rt = runtime_build(m, &cfg, &d); /* owns m now */
        m = NULL;
        if (rt) {
            routes_print(rt, devnull);
            for (size_t i = 0; i < rt->nlisteners; i++)
                for (size_t j = 0; j < rt->listeners[i].nendpoints; j++) {
                    const struct rt_mcp_endpoint *ep = &rt->listeners[i].endpoints[j];
                    char *list = mcptool_tools_list(ep->tools, ep->ntools);
                    FUZZ_ASSERT(list && str_has_prefix(list, "{\"tools\":["), "tools/list: %s",
                                list ? list : "NULL");
                    /* The catalog built at load serves the same answer. */
                    FUZZ_ASSERT(str_eq(catalog_tools_json(ep->catalog), list),
                                "catalog of %s differs from tools/list", ep->path);
                    for (size_t k = 0; k < ep->ntools; k++)
                        FUZZ_ASSERT(catalog_find_tool(ep->catalog, ep->tools[k]->name) ==
                                        ep->tools[k],
                                    "catalog_find_tool(%s)", ep->tools[k]->name);
                    free(list);
                }
            /* mcp-stdio's endpoint (every tool, the first of each name) likewise. */
            const struct rt_mcp_endpoint *sep = rt->stdio_ep;
            char *list = mcptool_tools_list(sep->tools, sep->ntools);
            FUZZ_ASSERT(list && str_eq(catalog_tools_json(sep->catalog), list),
                        "catalog of the stdio endpoint differs from tools/list");
            for (size_t k = 0; k < sep->ntools; k++)
                FUZZ_ASSERT(catalog_find_tool(sep->catalog, sep->tools[k]->name) == sep->tools[k],
                            "stdio catalog_find_tool(%s)", sep->tools[k]->name);
            free(list);
        }
        runtime_free(rt);
    }
    model_free(m);
    for (size_t i = 0; i < d.n; i++) {
        char *s = diag_format(&d.v[i]);
        FUZZ_ASSERT(s && *s, "empty diagnostic");
        free(s);
    }
    FUZZ_ASSERT(d.nerrors <= d.n, "%zu errors of %zu entries", d.nerrors, d.n);
    diag_deinit(&d);
    return 0;
}
