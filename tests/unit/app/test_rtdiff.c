/* Unit tests for app/rtdiff.c: the reload log's summary of what changed between two runtimes
 * loaded from files (documents added, removed and changed by content, routes and tools added and
 * removed, rotated credentials named without their value, long lists cut short). */
#include "harness.h"
#include "testfs.h"
#include "testrt.h"

#include <stdlib.h>
#include <string.h>

#include "app/rtdiff.h"
#include "base/diag.h"
#include "spec/config.h"

/* A document with REST routes GET <paths...> (NULL-terminated list in <routes>) and MCP tools
 * <tools...>, all calling one operation of consumed API "api<ns>" (documents of one directory
 * need their own namespaces). */
static char *doc(const char *ns, const char *const *routes, const char *const *tools)
{
    struct strbuf b;
    strbuf_init(&b, 0);
    strbuf_addf(&b,
                "naftiko: 1.0.0-alpha2\n"
                "info:\n  label: rtdiff\n"
                "capability:\n"
                "  consumes:\n"
                "    - type: http\n"
                "      namespace: api%s\n"
                "      baseUri: http://127.0.0.1:1\n"
                "      resources:\n"
                "        - path: /items\n"
                "          operations:\n"
                "            - name: items\n"
                "              method: GET\n"
                "  exposes:\n",
                ns);
    if (routes && routes[0]) {
        strbuf_addf(&b, "    - type: rest\n      namespace: rest%s\n      resources:\n", ns);
        for (size_t i = 0; routes[i]; i++)
            strbuf_addf(&b,
                        "        - path: %s\n"
                        "          operations:\n"
                        "            - method: GET\n"
                        "              name: r%zu\n"
                        "              call: api%s.items\n",
                        routes[i], i, ns);
    }
    if (tools && tools[0]) {
        strbuf_addf(&b, "    - type: mcp\n      namespace: tools%s\n      tools:\n", ns);
        for (size_t i = 0; tools[i]; i++)
            strbuf_addf(&b,
                        "        - name: %s\n"
                        "          description: A tool.\n"
                        "          call: api%s.items\n",
                        tools[i], ns);
    }
    return strbuf_detach(&b, NULL);
}

static struct config cfg;

/* Load <rel> (a file or a directory) under the test directory. */
static struct runtime *load(const char *rel, const struct config *c)
{
    char *path = xasprintf("%s/%s", testfs_dir, rel);
    struct diag d;
    diag_init(&d);
    struct model *m = model_new();
    int rc = loader_load_path(m, path, &d);
    free(path);
    return testrt_finish(m, rc == 0, &d, c ? c : &cfg, false);
}

static void put_doc(const char *rel, const char *const *routes, const char *const *tools)
{
    const char *base = strrchr(rel, '/');
    char *text = doc(base && str_eq(base, "/b.yaml") ? "-b" : "", routes, tools);
    testfs_put(rel, text);
    free(text);
}

/* rtdiff_describe's line and verdict for <a> -> <b>. */
static char *describe(const struct runtime *a, const struct runtime *b, bool *any)
{
    struct strbuf out;
    strbuf_init(&out, 0);
    *any = rtdiff_describe(a, b, &out);
    return strbuf_detach(&out, NULL);
}

static void test_nothing_changed(void)
{
    static const char *const r[] = {"/x", NULL}, *const t[] = {"t1", NULL};
    put_doc("same/a.yaml", r, t);
    struct runtime *a = load("same", NULL), *b = load("same", NULL);
    CHECK(a && b);
    if (a && b) {
        bool any = true;
        char *s = describe(a, b, &any);
        CHECK(!any);
        CHECK_STR(s, "no document, route, tool or credential changed");
        free(s);
    }
    runtime_free(a);
    runtime_free(b);
}

static void test_routes_and_tools(void)
{
    static const char *const r1[] = {"/x", NULL}, *const t1[] = {"t1", "keep", NULL};
    static const char *const r2[] = {"/x", "/y", NULL}, *const t2[] = {"keep", "t2", NULL};
    put_doc("rt/a.yaml", r1, t1);
    struct runtime *a = load("rt", NULL);
    put_doc("rt/a.yaml", r2, t2);
    struct runtime *b = load("rt", NULL);
    CHECK(a && b);
    if (a && b) {
        bool any = false;
        char *s = describe(a, b, &any);
        char *want = xasprintf("documents changed: %s/rt/a.yaml; routes added: GET /y; tools "
                               "added: t2; tools removed: t1",
                               testfs_dir);
        CHECK(any);
        CHECK_STR(s, want);
        free(want);
        free(s);
        /* The other way round: the opposite lists. */
        s = describe(b, a, &any);
        CHECK(any);
        CHECK(strstr(s, "routes removed: GET /y") != NULL);
        CHECK(strstr(s, "tools added: t1; tools removed: t2") != NULL);
        free(s);
    }
    runtime_free(a);
    runtime_free(b);
}

static void test_documents_added_removed(void)
{
    static const char *const r1[] = {"/one", NULL}, *const r2[] = {"/two", NULL};
    put_doc("dir/a.yaml", r1, NULL);
    struct runtime *a = load("dir", NULL);
    put_doc("dir/b.yaml", r2, NULL);
    struct runtime *b = load("dir", NULL);
    CHECK(a && b);
    if (a && b) {
        bool any = false;
        char *s = describe(a, b, &any);
        char *want =
            xasprintf("documents added: %s/dir/b.yaml; routes added: GET /two", testfs_dir);
        CHECK(any);
        CHECK_STR(s, want);
        free(want);
        free(s);
        s = describe(b, a, &any);
        want = xasprintf("documents removed: %s/dir/b.yaml; routes removed: GET /two", testfs_dir);
        CHECK_STR(s, want);
        free(want);
        free(s);
    }
    runtime_free(a);
    runtime_free(b);
}

/* Only the content counts: the same bytes written again are no change. */
static void test_rewrite_same_content(void)
{
    static const char *const r[] = {"/x", NULL};
    put_doc("rw/a.yaml", r, NULL);
    struct runtime *a = load("rw", NULL);
    put_doc("rw/a.yaml", r, NULL);
    struct runtime *b = load("rw", NULL);
    CHECK(a && b);
    if (a && b) {
        bool any = true;
        char *s = describe(a, b, &any);
        CHECK(!any);
        free(s);
    }
    runtime_free(a);
    runtime_free(b);
}

/* A list longer than a log line wants: eight names, then "and N more". */
static void test_long_list_cut(void)
{
    static const char *const none[] = {NULL};
    static const char *const many[] = {"/r00", "/r01", "/r02", "/r03", "/r04", "/r05",
                                       "/r06", "/r07", "/r08", "/r09", "/r10", NULL};
    static const char *const t[] = {"t", NULL};
    put_doc("many/a.yaml", none, t);
    struct runtime *a = load("many", NULL);
    put_doc("many/a.yaml", many, t);
    struct runtime *b = load("many", NULL);
    CHECK(a && b);
    if (a && b) {
        bool any = false;
        char *s = describe(a, b, &any);
        CHECK(any);
        CHECK(strstr(s, "routes added: GET /r00, GET /r01, GET /r02, GET /r03, GET /r04, GET "
                        "/r05, GET /r06, GET /r07 and 3 more") != NULL);
        CHECK(strstr(s, "/r08") == NULL);
        free(s);
    }
    runtime_free(a);
    runtime_free(b);
}

/* A rotated credential is named by header and source, never by value. */
static void test_credentials(void)
{
    static const char *const r[] = {"/x", NULL};
    put_doc("cred/a.yaml", r, NULL);
    char *cpath = xasprintf("%s/cred.conf", testfs_dir);
    testfs_put("cred.conf", "consumers:\n"
                            "  - namespace: api\n"
                            "    credentials:\n"
                            "      - header: X-Key\n"
                            "        fromEnv: RTDIFF_TEST_KEY\n");
    struct config c1, c2;
    struct diag d;
    diag_init(&d);
    setenv("RTDIFF_TEST_KEY", "old-secret-1f2e", 1);
    config_defaults(&c1);
    CHECK(config_load_file(&c1, cpath, true, &d) == 0 && config_finish(&c1, &d) == 0);
    setenv("RTDIFF_TEST_KEY", "new-secret-9a8b", 1);
    config_defaults(&c2);
    CHECK(config_load_file(&c2, cpath, true, &d) == 0 && config_finish(&c2, &d) == 0);
    CHECK(d.nerrors == 0);
    diag_deinit(&d);
    struct runtime *a = load("cred", &c1), *b = load("cred", &c2);
    CHECK(a && b);
    if (a && b) {
        bool any = false;
        char *s = describe(a, b, &any);
        CHECK(any);
        CHECK(strstr(s, "credentials changed: X-Key (env RTDIFF_TEST_KEY)") != NULL);
        CHECK(strstr(s, "secret") == NULL);
        free(s);
        s = describe(a, a, &any);
        CHECK(!any);
        free(s);
    }
    runtime_free(a);
    runtime_free(b);
    config_deinit(&c1);
    config_deinit(&c2);
    unsetenv("RTDIFF_TEST_KEY");
    free(cpath);
}

int main(void)
{
    if (testfs_open("capproxy-rtdiff") < 0)
        return 1;
    config_defaults(&cfg);
    RUN(test_nothing_changed());
    RUN(test_routes_and_tools());
    RUN(test_documents_added_removed());
    RUN(test_rewrite_same_content());
    RUN(test_long_list_cut());
    RUN(test_credentials());
    config_deinit(&cfg);
    testfs_close();
    return harness_report();
}
