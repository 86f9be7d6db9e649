/*
 * Unit tests of file binds (core/secrets.c): `binds[].location` files in JSON or YAML, relative
 * to the document's directory, read into the bind variables when the runtime is built; every
 * refusal names the key, the file and the bind's position, never a value.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"
#include "testfs.h"
#include "testrt.h"

/* A document at <rel> whose binds are <binds>; its consumer sends {{TOKEN}} as a bearer
 * credential and {{VERSION}} in a header. */
static void put_doc(const char *rel, const char *binds)
{
    char *text = xasprintf("naftiko: 1.0.0-alpha2\n"
                           "binds:\n"
                           "%s"
                           "capability:\n"
                           "  consumes:\n"
                           "    - namespace: api\n"
                           "      baseUri: http://127.0.0.1:1\n"
                           "      authentication: {type: bearer, token: '{{TOKEN}}'}\n"
                           "      inputParameters:\n"
                           "        - {name: X-Version, in: header, value: '{{VERSION}}'}\n"
                           "      resources:\n"
                           "        - path: /x\n"
                           "          operations: [{name: get, method: GET}]\n"
                           "  exposes:\n"
                           "    - type: mcp\n"
                           "      namespace: t\n"
                           "      tools: [{name: t, description: d, call: api.get}]\n",
                           binds);
    testfs_put(rel, text);
    free(text);
}

/* Load <rel> and build its runtime; NULL when it fails, the messages in <d> (caller deinits). */
static struct runtime *build(const char *rel, struct diag *d)
{
    struct config cfg;
    char *path = xasprintf("%s/%s", testfs_dir, rel);
    struct model *m = model_new();
    struct runtime *rt = NULL;
    config_defaults(&cfg);
    diag_init(d);
    if (loader_load_file(m, path, d) == 0 && checks_validate(m, d) == 0)
        rt = runtime_build(m, &cfg, d);
    else
        model_free(m);
    config_deinit(&cfg);
    free(path);
    return rt;
}

static const char *var(const struct runtime *rt, const char *name)
{
    return runtime_var(rt, name, strlen(name));
}

static bool has(const struct diag *d, const char *where, const char *msg)
{
    char *want = xasprintf("%s/%s: error: %s", testfs_dir, where, msg);
    bool ok = diag_contains(d, want);
    if (!ok) {
        fprintf(stderr, "missing: %s\ngot:\n", want);
        diag_print(d, stderr);
    }
    free(want);
    return ok;
}

static void test_yaml_and_json(void)
{
    struct diag d;
    testfs_put("a/shared/secrets.yaml", "token: \"s3cr3t-yaml\"\n"
                                        "version: 1.0\n"
                                        "flag: true\n");
    testfs_put("a/secrets.json", "{\"token\": \"s3cr3t-json\", \"n\": 42, \"b\": false}");
    char *abs = xasprintf("%s/a/secrets.json", testfs_dir);
    char *binds = xasprintf("  - namespace: y\n"
                            "    location: file:///./shared/secrets.yaml\n"
                            "    keys: {VERSION: version, FLAG: flag}\n"
                            "  - namespace: j\n"
                            "    location: file://%s\n"
                            "    keys: {TOKEN: token, N: n, B: b}\n"
                            "  - namespace: r\n"
                            "    location: file://./secrets.json\n"
                            "    keys: {AGAIN: token}\n",
                            abs);
    put_doc("a/doc.yaml", binds);
    /* Relative to the document, wherever the process runs. */
    char *cwd = getcwd(NULL, 0);
    if (chdir("/") != 0)
        perror("chdir");
    struct runtime *rt = build("a/doc.yaml", &d);
    CHECK(rt != NULL);
    if (!rt)
        diag_print(&d, stderr);
    if (rt) {
        CHECK_STR(var(rt, "VERSION"), "1.0");
        CHECK_STR(var(rt, "FLAG"), "true");
        CHECK_STR(var(rt, "TOKEN"), "s3cr3t-json");
        CHECK_STR(var(rt, "N"), "42");
        CHECK_STR(var(rt, "B"), "false");
        CHECK_STR(var(rt, "AGAIN"), "s3cr3t-json");
        /* The credential is rendered from the file. */
        CHECK_STR(runtime_credential(&rt->consumers[0], "Authorization")->value,
                  "Bearer s3cr3t-json");
    }
    runtime_free(rt);
    diag_deinit(&d);
    if (cwd && chdir(cwd) != 0)
        perror("chdir");
    free(cwd);
    free(binds);
    free(abs);
}

static void test_refusals(void)
{
    struct diag d;
    struct runtime *rt;
    char *msg;

    testfs_put("b/s.yaml", "token: \"the-secret-value\"\n"
                           "nested: {a: 1}\n"
                           "empty:\n");
    put_doc("b/keys.yaml", "  - namespace: s\n"
                           "    location: file:///./s.yaml\n"
                           "    keys:\n"
                           "      TOKEN: token\n"
                           "      VERSION: versoin\n"
                           "      N: nested\n"
                           "      E: empty\n");
    rt = build("b/keys.yaml", &d);
    CHECK(rt == NULL);
    msg = xasprintf("bind variable 'VERSION': key 'versoin' is not in binds file '%s/b/s.yaml'",
                    testfs_dir);
    CHECK(has(&d, "b/keys.yaml:7:7", msg));
    free(msg);
    msg = xasprintf("bind variable 'N': key 'nested' is not a string, number or boolean in binds "
                    "file '%s/b/s.yaml'",
                    testfs_dir);
    CHECK(has(&d, "b/keys.yaml:8:7", msg));
    free(msg);
    msg = xasprintf("bind variable 'E': key 'empty' has no value in binds file '%s/b/s.yaml'",
                    testfs_dir);
    CHECK(has(&d, "b/keys.yaml:9:7", msg));
    free(msg);
    /* Never a value in a message. */
    for (size_t i = 0; i < d.n; i++)
        CHECK(strstr(d.v[i].message, "the-secret-value") == NULL);
    runtime_free(rt);
    diag_deinit(&d);

    put_doc("b/missing.yaml", "  - namespace: s\n"
                              "    location: file:///./nope.json\n"
                              "    keys: {TOKEN: token, VERSION: v}\n");
    rt = build("b/missing.yaml", &d);
    CHECK(rt == NULL);
    msg =
        xasprintf("cannot read binds file '%s/b/nope.json': No such file or directory", testfs_dir);
    CHECK(has(&d, "b/missing.yaml:3:5", msg));
    free(msg);
    CHECK(d.nerrors == 1); /* not once more per key */
    runtime_free(rt);
    diag_deinit(&d);

    testfs_put("b/dir.json/x", "");
    put_doc("b/notfile.yaml", "  - namespace: s\n"
                              "    location: file:///./dir.json\n"
                              "    keys: {TOKEN: token}\n");
    rt = build("b/notfile.yaml", &d);
    CHECK(rt == NULL);
    msg = xasprintf("binds file '%s/b/dir.json' is not a regular file", testfs_dir);
    CHECK(has(&d, "b/notfile.yaml:3:5", msg));
    free(msg);
    runtime_free(rt);
    diag_deinit(&d);

    testfs_put("b/list.yaml", "- a\n- b\n");
    testfs_put("b/list.json", "[1, 2]");
    put_doc("b/shape.yaml", "  - namespace: s\n"
                            "    location: file:///./list.yaml\n"
                            "    keys: {TOKEN: a}\n"
                            "  - namespace: j\n"
                            "    location: file:///./list.json\n"
                            "    keys: {VERSION: a}\n");
    rt = build("b/shape.yaml", &d);
    CHECK(rt == NULL);
    msg = xasprintf("binds file '%s/b/list.yaml' must hold a mapping of keys to values, got a "
                    "sequence",
                    testfs_dir);
    CHECK(has(&d, "b/shape.yaml:3:5", msg));
    free(msg);
    msg = xasprintf("binds file '%s/b/list.json' must hold a JSON object of keys to values",
                    testfs_dir);
    CHECK(has(&d, "b/shape.yaml:6:5", msg));
    free(msg);
    runtime_free(rt);
    diag_deinit(&d);
}

int main(void)
{
    if (testfs_open("capproxy-bindfile") < 0)
        return 1;
    RUN(test_yaml_and_json());
    RUN(test_refusals());
    testfs_close();
    return harness_report();
}
