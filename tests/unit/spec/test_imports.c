/*
 * Unit tests of shared-adapter files and `consumes` imports (and of the form of a bind's
 * `location`), through the real loader: each case writes its documents under a fresh temporary
 * directory, loads them as capproxy would, and checks the model or each message's exact text.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"
#include "testfs.h"
#include "spec/checks.h"
#include "spec/loader.h"
#include "spec/location.h"

static char *at(const char *rel)
{
    return xasprintf("%s/%s", testfs_dir, rel);
}

/* Load <rel> (a file or directory) and validate; returns the model, the diagnostics in <d>. */
static struct model *load(const char *rel, struct diag *d, int *rc)
{
    struct model *m = model_new();
    char *path = at(rel);
    diag_init(d);
    *rc = loader_load_path(m, path, d);
    if (*rc == 0)
        *rc = checks_validate(m, d);
    free(path);
    return m;
}

/* Whether <d> has exactly the message "<testfs_dir>/<where>: error: <msg>". */
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

#define SHARED_REGISTRY                                                                            \
    "naftiko: 1.0.0-alpha2\n"                                                                      \
    "consumes:\n"                                                                                  \
    "  - namespace: registry\n"                                                                    \
    "    type: http\n"                                                                             \
    "    baseUri: http://registry.example\n"                                                       \
    "    resources:\n"                                                                             \
    "      - name: ships\n"                                                                        \
    "        path: /ships\n"                                                                       \
    "        operations:\n"                                                                        \
    "          - name: list-ships\n"                                                               \
    "            method: GET\n"                                                                    \
    "  - namespace: legacy\n"                                                                      \
    "    baseUri: http://legacy.example\n"                                                         \
    "    resources:\n"                                                                             \
    "      - path: /vessels\n"                                                                     \
    "        operations:\n"                                                                        \
    "          - name: list-vessels\n"                                                             \
    "            method: GET\n"

/* A capability whose consumes are <consumes> (indented entries) and whose one tool calls
 * <call>. */
static char *doc_with(const char *consumes, const char *call)
{
    return xasprintf("naftiko: 1.0.0-alpha2\n"
                     "capability:\n"
                     "  consumes:\n"
                     "%s"
                     "  exposes:\n"
                     "    - type: mcp\n"
                     "      namespace: tools\n"
                     "      tools:\n"
                     "        - name: t\n"
                     "          description: d\n"
                     "          call: %s\n",
                     consumes, call);
}

static void put_doc(const char *rel, const char *consumes, const char *call)
{
    char *text = doc_with(consumes, call);
    testfs_put(rel, text);
    free(text);
}

static void test_import_with_and_without_as(void)
{
    struct diag d;
    int rc;
    testfs_put("a/shared/x.yaml", SHARED_REGISTRY);
    put_doc("a/doc.yaml",
            "    - import: registry\n"
            "      location: ./shared/x.yaml\n"
            "    - import: legacy\n"
            "      location: shared/x.yaml\n"
            "      as: old\n"
            "      description: the old one\n",
            "old.list-vessels");
    struct model *m = load("a/doc.yaml", &d, &rc);
    CHECK(rc == 0);
    if (rc)
        diag_print(&d, stderr);
    CHECK(m->ncaps == 1);
    if (rc == 0 && m->ncaps == 1 && m->caps[0]->nconsumers == 2) {
        const struct model_capability *cap = m->caps[0];
        const struct model_consumer *reg = &cap->consumers[0], *old = &cap->consumers[1];
        CHECK_STR(reg->ns, "registry");
        CHECK_STR(reg->base_uri, "http://registry.example");
        CHECK(reg->cap == cap);
        CHECK(reg->pos.line == 4 && reg->pos.col == 7);
        CHECK(strstr(reg->pos.file, "a/doc.yaml") != NULL);
        CHECK(reg->source && strstr(reg->source, "/a/shared/x.yaml#registry"));
        /* Inside, the positions are the shared file's. */
        CHECK(strstr(reg->resources[0].operations[0].pos.file, "a/shared/x.yaml") != NULL);
        CHECK(reg->resources[0].operations[0].pos.line == 10);
        CHECK_STR(old->ns, "old");
        CHECK_STR(old->description, "the old one");
        CHECK(old->source && strstr(old->source, "#legacy"));
        CHECK(model_find_operation(m, "old.list-vessels") != NULL);
        CHECK(model_find_operation(m, "registry.list-ships") != NULL);
        CHECK(model_find_operation(m, "legacy.list-vessels") == NULL);
        CHECK(cap->exposes[0].tools[0].call.target == &old->resources[0].operations[0]);
    } else {
        CHECK(!"two consumers");
    }
    model_free(m);
    diag_deinit(&d);
}

/* file:///./, file://./ and absolute paths; a shared file re-exporting an import. */
static void test_import_locations_and_reexport(void)
{
    struct diag d;
    int rc;
    testfs_put("b/shared/x.yaml", SHARED_REGISTRY);
    testfs_put("b/shared/mid.yaml", "naftiko: 1.0.0-alpha2\n"
                                    "consumes:\n"
                                    "  - import: registry\n"
                                    "    location: file://./x.yaml\n"
                                    "    as: reg2\n");
    char *abs = at("b/shared/x.yaml");
    char *consumes = xasprintf("    - import: reg2\n"
                               "      location: file:///./shared/mid.yaml\n"
                               "    - import: legacy\n"
                               "      location: %s\n",
                               abs);
    put_doc("b/doc.yaml", consumes, "reg2.list-ships");
    struct model *m = load("b/doc.yaml", &d, &rc);
    CHECK(rc == 0);
    if (rc)
        diag_print(&d, stderr);
    CHECK(model_find_operation(m, "reg2.list-ships") != NULL);
    CHECK(model_find_operation(m, "legacy.list-vessels") != NULL);
    /* The shared file alone: read, checked, and nothing added to the model. */
    model_free(m);
    diag_deinit(&d);
    m = load("b/shared/mid.yaml", &d, &rc);
    CHECK(rc == 0 && d.n == 0 && m->ncaps == 0);
    model_free(m);
    diag_deinit(&d);
    free(consumes);
    free(abs);
}

/* A directory holding two capabilities importing the same entry, and the shared file itself:
 * no collision. Another entry under the same name does collide. */
static void test_directory_sharing(void)
{
    struct diag d;
    int rc;
    testfs_put("c/1-shared.yaml", SHARED_REGISTRY);
    put_doc("c/2-doc.yaml",
            "    - import: registry\n"
            "      location: ./1-shared.yaml\n",
            "registry.list-ships");
    testfs_put("c/3-doc.yaml", "naftiko: 1.0.0-alpha2\n"
                               "capability:\n"
                               "  consumes:\n"
                               "    - import: registry\n"
                               "      location: ./1-shared.yaml\n"
                               "  exposes:\n"
                               "    - type: mcp\n"
                               "      namespace: tools2\n"
                               "      port: 9191\n"
                               "      tools:\n"
                               "        - name: t\n"
                               "          description: d\n"
                               "          call: registry.list-ships\n");
    struct model *m = load("c", &d, &rc);
    CHECK(m->ncaps == 2);
    CHECK(!diag_contains(&d, "consumes namespace"));
    model_free(m);
    diag_deinit(&d);

    put_doc("c/3-doc.yaml",
            "    - import: legacy\n"
            "      location: ./1-shared.yaml\n"
            "      as: registry\n",
            "registry.list-ships");
    m = load("c", &d, &rc);
    CHECK(rc < 0);
    char *first = xasprintf("already defined at %s/c/2-doc.yaml:4:7", testfs_dir);
    CHECK(has(&d, "c/3-doc.yaml:4:7", "duplicate consumes namespace 'registry': "));
    CHECK(diag_contains(&d, first));
    free(first);
    model_free(m);
    diag_deinit(&d);
}

static void test_alias_collides(void)
{
    struct diag d;
    int rc;
    testfs_put("d/shared/x.yaml", SHARED_REGISTRY);
    put_doc("d/doc.yaml",
            "    - namespace: old\n"
            "      baseUri: http://x.example\n"
            "      resources: []\n"
            "    - import: legacy\n"
            "      location: ./shared/x.yaml\n"
            "      as: old\n",
            "old.list-vessels");
    struct model *m = load("d/doc.yaml", &d, &rc);
    CHECK(rc < 0);
    char *msg = xasprintf(
        "duplicate consumes namespace 'old': already defined at %s/d/doc.yaml:4:7", testfs_dir);
    CHECK(has(&d, "d/doc.yaml:7:7", msg));
    free(msg);
    model_free(m);
    diag_deinit(&d);
}

/* Every refusal of an import entry, at the entry's `location` (or the entry). */
static void test_import_errors(void)
{
    struct diag d;
    int rc;
    struct model *m;
    char *msg;

    testfs_put("e/shared/x.yaml", SHARED_REGISTRY);
    put_doc("e/cap.yaml",
            "    - namespace: z\n"
            "      baseUri: http://z.example\n",
            "z.op");

    put_doc("e/missing.yaml",
            "    - import: registry\n"
            "      location: ./shared/nope.yaml\n",
            "registry.list-ships");
    m = load("e/missing.yaml", &d, &rc);
    msg = xasprintf("cannot read imported file '%s/e/shared/nope.yaml': No such file or directory",
                    testfs_dir);
    CHECK(has(&d, "e/missing.yaml:5:17", msg));
    /* The call into the missing import is not reported again. */
    CHECK(!diag_contains(&d, "names no consumed operation"));
    free(msg);
    model_free(m);
    diag_deinit(&d);

    put_doc("e/notshared.yaml",
            "    - import: z\n"
            "      location: ./cap.yaml\n",
            "z.op");
    m = load("e/notshared.yaml", &d, &rc);
    msg = xasprintf("imported file '%s/e/cap.yaml' is a capability document, not a shared file "
                    "(one with a root 'consumes' and no 'capability')",
                    testfs_dir);
    CHECK(has(&d, "e/notshared.yaml:5:17", msg));
    free(msg);
    model_free(m);
    diag_deinit(&d);

    put_doc("e/typo.yaml",
            "    - import: registy\n"
            "      location: ./shared/x.yaml\n"
            "    - import: other\n"
            "      location: ./shared/x.yaml\n",
            "registy.list-ships");
    m = load("e/typo.yaml", &d, &rc);
    msg = xasprintf("imported file '%s/e/shared/x.yaml' has no consumes namespace 'registy' "
                    "(did you mean 'registry'?)",
                    testfs_dir);
    CHECK(has(&d, "e/typo.yaml:5:17", msg));
    free(msg);
    msg = xasprintf("imported file '%s/e/shared/x.yaml' has no consumes namespace 'other'; it "
                    "has 'registry', 'legacy'",
                    testfs_dir);
    CHECK(has(&d, "e/typo.yaml:7:17", msg));
    free(msg);
    model_free(m);
    diag_deinit(&d);

    put_doc("e/noloc.yaml",
            "    - import: registry\n"
            "      as: r\n"
            "      baseUri: http://x\n",
            "r.list-ships");
    m = load("e/noloc.yaml", &d, &rc);
    CHECK(
        has(&d, "e/noloc.yaml:4:7", "missing required key 'location' in imported consumes entry"));
    CHECK(has(&d, "e/noloc.yaml:6:7",
              "unknown key 'baseUri' in imported consumes entry (expected import, location, as or "
              "description)"));
    model_free(m);
    diag_deinit(&d);

    put_doc("e/scheme.yaml",
            "    - import: registry\n"
            "      location: https://example.com/x.yaml\n",
            "registry.list-ships");
    m = load("e/scheme.yaml", &d, &rc);
    CHECK(has(&d, "e/scheme.yaml:5:17",
              "import 'location': scheme 'https:' is not supported: capproxy reads local files "
              "only (file:///absolute/path, file:///./path/relative/to/the/document)"));
    model_free(m);
    diag_deinit(&d);

    put_doc("e/dir.yaml",
            "    - import: registry\n"
            "      location: ./shared\n",
            "registry.list-ships");
    m = load("e/dir.yaml", &d, &rc);
    msg = xasprintf("imported file '%s/e/shared' is not a regular file", testfs_dir);
    CHECK(has(&d, "e/dir.yaml:5:17", msg));
    free(msg);
    model_free(m);
    diag_deinit(&d);

    /* An error inside the imported entry is reported in the shared file. */
    testfs_put("e/shared/bad.yaml", "naftiko: 1.0.0-alpha2\n"
                                    "consumes:\n"
                                    "  - namespace: bad\n"
                                    "    baseUri: http://b.example\n"
                                    "    resources:\n"
                                    "      - path: /b\n"
                                    "        operations:\n"
                                    "          - name: op\n"
                                    "            method: FETCH\n");
    put_doc("e/inner.yaml",
            "    - import: bad\n"
            "      location: ./shared/bad.yaml\n",
            "bad.op");
    m = load("e/inner.yaml", &d, &rc);
    CHECK(rc < 0);
    CHECK(diag_contains(&d, "e/shared/bad.yaml:9:21: error: unknown method 'FETCH'"));
    model_free(m);
    diag_deinit(&d);
}

static void test_cycles_and_depth(void)
{
    struct diag d;
    int rc;
    struct model *m;
    char *msg;

    testfs_put("f/shared/a.yaml", "naftiko: 1.0.0-alpha2\n"
                                  "consumes:\n"
                                  "  - import: api\n"
                                  "    location: ./b.yaml\n");
    testfs_put("f/shared/b.yaml", "naftiko: 1.0.0-alpha2\n"
                                  "consumes:\n"
                                  "  - import: api\n"
                                  "    location: ./a.yaml\n");
    put_doc("f/doc.yaml",
            "    - import: api\n"
            "      location: ./shared/a.yaml\n",
            "api.op");
    m = load("f/doc.yaml", &d, &rc);
    CHECK(rc < 0);
    msg = xasprintf("import cycle: '%s/f/shared/a.yaml' is already being imported, at "
                    "%s/f/doc.yaml:5:17",
                    testfs_dir, testfs_dir);
    CHECK(has(&d, "f/shared/b.yaml:4:15", msg));
    free(msg);
    model_free(m);
    diag_deinit(&d);

    /* The shared file alone: the cycle comes back to it. */
    m = load("f/shared/a.yaml", &d, &rc);
    CHECK(rc < 0);
    msg = xasprintf("import cycle: '%s/f/shared/a.yaml' is the document these imports start from",
                    testfs_dir);
    CHECK(has(&d, "f/shared/b.yaml:4:15", msg));
    free(msg);
    model_free(m);
    diag_deinit(&d);

    /* A chain nine deep. */
    for (int i = 0; i < 10; i++) {
        char *rel = xasprintf("g/shared/s%d.yaml", i);
        char *text = xasprintf("naftiko: 1.0.0-alpha2\n"
                               "consumes:\n"
                               "  - import: api\n"
                               "    location: ./s%d.yaml\n",
                               i + 1);
        testfs_put(rel, text);
        free(rel);
        free(text);
    }
    testfs_put("g/shared/s10.yaml", SHARED_REGISTRY);
    put_doc("g/doc.yaml",
            "    - import: api\n"
            "      location: ./shared/s0.yaml\n",
            "api.op");
    m = load("g/doc.yaml", &d, &rc);
    CHECK(rc < 0);
    CHECK(diag_contains(&d, "imports nested more than 8 deep (a shared file importing from "
                            "another)"));
    model_free(m);
    diag_deinit(&d);
}

static void test_root_shapes(void)
{
    struct diag d;
    int rc;
    struct model *m;

    testfs_put("h/both.yaml", "naftiko: 1.0.0-alpha2\n"
                              "consumes:\n"
                              "  - namespace: x\n"
                              "    baseUri: http://x\n"
                              "capability:\n"
                              "  consumes: []\n"
                              "  exposes: []\n");
    m = load("h/both.yaml", &d, &rc);
    CHECK(has(&d, "h/both.yaml:2:1",
              "a document has either 'capability' or a root 'consumes' (a shared file that "
              "capabilities import), not both: move these entries under 'capability'"));
    model_free(m);
    diag_deinit(&d);

    /* A shared file's own mistakes are reported when it is loaded alone. */
    testfs_put("h/dup.yaml", "naftiko: 1.0.0-alpha2\n"
                             "consumes:\n"
                             "  - namespace: x\n"
                             "    baseUri: http://x\n"
                             "  - namespace: x\n"
                             "    baseUri: http://y\n"
                             "    bseUri: http://y\n");
    m = load("h/dup.yaml", &d, &rc);
    CHECK(rc < 0 && m->ncaps == 0);
    char *msg = xasprintf("duplicate consumes namespace 'x': already defined at %s/h/dup.yaml:3:5",
                          testfs_dir);
    CHECK(has(&d, "h/dup.yaml:5:5", msg));
    free(msg);
    CHECK(has(&d, "h/dup.yaml:7:5",
              "unknown key 'bseUri' in consumes entry (did you mean "
              "'baseUri'?)"));
    model_free(m);
    diag_deinit(&d);

    /* No version: still required. */
    testfs_put("h/nover.yaml", "consumes:\n"
                               "  - namespace: x\n"
                               "    baseUri: http://x\n");
    m = load("h/nover.yaml", &d, &rc);
    CHECK(has(&d, "h/nover.yaml:1:1",
              "missing required key 'naftiko': this runtime reads naftiko: 1.0.0-alpha2 "
              "documents"));
    model_free(m);
    diag_deinit(&d);
}

/* The form of a bind's location is checked at load; the file is read by core/secrets.c. */
static void test_bind_locations(void)
{
    struct diag d;
    int rc;
    testfs_put("i/doc.yaml", "naftiko: 1.0.0-alpha2\n"
                             "binds:\n"
                             "  - namespace: a\n"
                             "    location: vault://secret/app\n"
                             "    keys: {A: a}\n"
                             "  - namespace: b\n"
                             "    location: ./secrets.yaml\n"
                             "    keys: {B: b}\n"
                             "  - namespace: c\n"
                             "    location: file:///./secrets.txt\n"
                             "    keys: {C: c}\n"
                             "  - namespace: d\n"
                             "    location: file://host/secrets.json\n"
                             "    keys: {D: d}\n"
                             "  - namespace: e\n"
                             "    location: file:///./secrets.yaml\n"
                             "    keys: {E: e}\n"
                             "capability:\n"
                             "  consumes: []\n"
                             "  exposes: []\n");
    struct model *m = load("i/doc.yaml", &d, &rc);
    CHECK(rc < 0);
    CHECK(has(&d, "i/doc.yaml:4:15",
              "binds 'location': scheme 'vault:' is not supported: capproxy reads local files "
              "only (file:///absolute/path, file:///./path/relative/to/the/document)"));
    CHECK(has(&d, "i/doc.yaml:7:15",
              "binds 'location': expected a file URI such as 'file:///./secrets.yaml' (relative "
              "to the document) or 'file:///absolute/path', got './secrets.yaml'"));
    char *msg = xasprintf("binds file '%s/i/secrets.txt' is read as JSON or YAML by its "
                          "extension: expected .json, .yaml or .yml",
                          testfs_dir);
    CHECK(has(&d, "i/doc.yaml:10:15", msg));
    free(msg);
    CHECK(has(&d, "i/doc.yaml:13:15",
              "binds 'location': file URI 'file://host/secrets.json' names a host: write "
              "file:///absolute/path or file:///./path/relative/to/the/document"));
    CHECK(d.nerrors == 4);
    model_free(m);
    diag_deinit(&d);
}

static void test_location_rules(void)
{
    char *err = NULL, *p;
    p = location_file("dir/doc.yaml", "file:///./s.yaml", false, &err);
    CHECK_STR(p, "dir/s.yaml");
    free(p);
    p = location_file("dir/doc.yaml", "file://../s.yaml", false, &err);
    CHECK_STR(p, "dir/../s.yaml");
    free(p);
    p = location_file("dir/doc.yaml", "file:///etc/my%20s.json", false, &err);
    CHECK_STR(p, "/etc/my s.json");
    free(p);
    p = location_file("doc.yaml", "shared/x.yaml", true, &err);
    CHECK_STR(p, "shared/x.yaml");
    free(p);
    p = location_file("dir/doc.yaml", "file:///a%00b.json", false, &err);
    CHECK(p == NULL);
    CHECK_STR(err, "file URI 'file:///a%00b.json' has an invalid percent escape");
    free(err);
    p = location_file("dir/doc.yaml", "file:///./", false, &err);
    CHECK(p == NULL);
    CHECK_STR(err, "'file:///./' names no file");
    free(err);
    CHECK(location_format_of("a/b.JSON") == LOCATION_JSON);
    CHECK(location_format_of("a/b.yml") == LOCATION_YAML);
    CHECK(location_format_of("a.d/b") == LOCATION_OTHER);
}

int main(void)
{
    if (testfs_open("capproxy-imports") < 0)
        return 1;
    RUN(test_import_with_and_without_as());
    RUN(test_import_locations_and_reexport());
    RUN(test_directory_sharing());
    RUN(test_alias_collides());
    RUN(test_import_errors());
    RUN(test_cycles_and_depth());
    RUN(test_root_shapes());
    RUN(test_bind_locations());
    RUN(test_location_rules());
    testfs_close();
    return harness_report();
}
