/*
 * Unit tests of how the loader reads MCP `resources` and `prompts`: static files and
 * directories read at load, call-backed resources and uri templates (whose variables become
 * the call's inputs), prompts inline and from a file; and each error with its exact text at its
 * position. The documents are files in a temporary directory, so that relative locations
 * resolve against it.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"
#include "spec/checks.h"
#include "spec/loader.h"
#include "spec/uritpl.h"
#include "testfs.h"

/* A document: one consumed namespace with get-book, and an MCP adapter with one tool; the
 * adapter's `resources` / `prompts` follow (from column 7). */
#define DOC_HEAD                                                                                   \
    "naftiko: 1.0.0-alpha2\n"                                                                      \
    "capability:\n"                                                                                \
    "  consumes:\n"                                                                                \
    "    - namespace: lib\n"                                                                       \
    "      baseUri: http://127.0.0.1:1\n"                                                          \
    "      resources:\n"                                                                           \
    "        - path: /books/{{id}}\n"                                                              \
    "          operations:\n"                                                                      \
    "            - name: get-book\n"                                                               \
    "              method: GET\n"                                                                  \
    "  exposes:\n"                                                                                 \
    "    - type: mcp\n"                                                                            \
    "      namespace: m\n"                                                                         \
    "      tools:\n"                                                                               \
    "        - name: t\n"                                                                          \
    "          description: d\n"                                                                   \
    "          call: lib.get-book\n"
/* DOC_HEAD has 17 lines: what follows starts on line 18. */

struct loaded {
    struct model *m;
    struct diag d;
    int rc;
};

static void load(struct loaded *l, const char *tail)
{
    char *doc = xasprintf("%s%s", DOC_HEAD, tail);
    testfs_put("doc.yaml", doc);
    free(doc);
    char *path = xasprintf("%s/doc.yaml", testfs_dir);
    l->m = model_new();
    diag_init(&l->d);
    l->rc = loader_load_file(l->m, path, &l->d);
    if (l->rc == 0)
        l->rc = checks_validate(l->m, &l->d);
    free(path);
}

static void unload(struct loaded *l)
{
    model_free(l->m);
    diag_deinit(&l->d);
}

static const struct model_expose *expose(const struct loaded *l)
{
    return &l->m->caps[0]->exposes[0];
}

/* The document fails with <want> among its messages. */
static void expect_error(const char *tail, const char *want)
{
    struct loaded l;
    load(&l, tail);
    CHECK(l.rc < 0);
    if (!diag_contains(&l.d, want)) {
        fprintf(stderr, "want: %s\ngot:\n", want);
        diag_print(&l.d, stderr);
        CHECK(!"message");
    }
    unload(&l);
}

static const char RESOURCES_OK[] = "      resources:\n"
                                   "        - name: readme\n"
                                   "          label: Read me\n"
                                   "          uri: docs://readme\n"
                                   "          description: d\n"
                                   "          location: file:///./files/readme.md\n"
                                   "        - name: guides\n"
                                   "          uri: docs://guides\n"
                                   "          location: file:///./files/guides\n"
                                   "          mimeType: text/plain; charset=utf-8\n"
                                   "        - name: book\n"
                                   "          uri: books://{id}/about/{part}\n"
                                   "          call: lib.get-book\n"
                                   "        - name: live\n"
                                   "          uri: data://live\n"
                                   "          steps:\n"
                                   "            - name: one\n"
                                   "              type: call\n"
                                   "              call: lib.get-book\n"
                                   "              with:\n"
                                   "                id: \"1\"\n"
                                   "      prompts:\n"
                                   "        - name: summary\n"
                                   "          label: Summary\n"
                                   "          arguments:\n"
                                   "            - name: title\n"
                                   "              description: t\n"
                                   "            - name: tone\n"
                                   "              description: t\n"
                                   "              required: false\n"
                                   "          template:\n"
                                   "            - role: user\n"
                                   "              content: \"Sum up {{title}} ({{ tone }})\"\n"
                                   "            - role: assistant\n"
                                   "              content: Sure.\n"
                                   "        - name: review\n"
                                   "          arguments:\n"
                                   "            - name: title\n"
                                   "              description: t\n"
                                   "          location: file:///./files/review.md\n";

static void test_resources_load(void)
{
    struct loaded l;
    load(&l, RESOURCES_OK);
    CHECK(l.rc == 0);
    if (l.rc != 0) {
        diag_print(&l.d, stderr);
        unload(&l);
        return;
    }
    const struct model_expose *e = expose(&l);
    CHECK(e->nmcp_resources == 4 && e->nprompts == 2);
    const struct model_mcp_resource *r = &e->mcp_resources[0];
    CHECK_STR(r->label, "Read me");
    CHECK(r->nfiles == 1 && !r->is_dir && !r->is_template);
    CHECK_STR(r->files[0].uri, "docs://readme");
    CHECK_STR(r->files[0].mime_type, "text/markdown");
    CHECK(r->files[0].len == 8 && !r->files[0].binary &&
          memcmp(r->files[0].data, "# Hello\n", 8) == 0);
    /* A directory: files in name order, subdirectories walked, hidden entries left out. */
    r = &e->mcp_resources[1];
    CHECK(r->is_dir && r->nfiles == 3);
    if (r->nfiles == 3) {
        CHECK_STR(r->files[0].uri, "docs://guides/a.txt");
        CHECK_STR(r->files[1].uri, "docs://guides/b.bin");
        CHECK_STR(r->files[2].uri, "docs://guides/sub/c.md");
        CHECK(!r->files[0].binary && r->files[1].binary);
        /* The declared mimeType wins over the extension. */
        CHECK_STR(r->files[2].mime_type, "text/plain; charset=utf-8");
    }
    /* A template: its variables are the call's declared string inputs. */
    r = &e->mcp_resources[2];
    CHECK(r->is_template && !r->location && r->call.kind == MODEL_CALL_SIMPLE && r->call.target);
    CHECK(r->call.params_declared && r->call.nparams == 2);
    if (r->call.nparams == 2) {
        CHECK_STR(r->call.params[0].name, "id");
        CHECK_STR(r->call.params[1].name, "part");
        CHECK(r->call.params[1].required && r->call.params[1].type == MODEL_TYPE_STRING);
    }
    r = &e->mcp_resources[3];
    CHECK(r->call.kind == MODEL_CALL_STEPS && r->call.nsteps == 1 && r->call.nparams == 0);
    const struct model_mcp_prompt *p = &e->prompts[0];
    CHECK(p->nargs == 2 && p->args[0].required && !p->args[1].required);
    CHECK(p->nmessages == 2);
    CHECK_STR(p->messages[1].role, "assistant");
    p = &e->prompts[1];
    CHECK(p->nmessages == 1 && p->location);
    if (p->nmessages == 1) {
        CHECK_STR(p->messages[0].role, "user");
        CHECK_STR(p->messages[0].content, "Review {{title}}.\n");
    }
    unload(&l);
}

static void test_resource_errors(void)
{
    expect_error("      resources:\n"
                 "        - name: r\n"
                 "          location: file:///./files/readme.md\n",
                 "doc.yaml:19:11: error: missing required key 'uri' in MCP resource");
    expect_error("      resources:\n"
                 "        - name: r\n"
                 "          uri: x://r\n"
                 "          location: file:///./files/readme.md\n"
                 "          call: lib.get-book\n",
                 "doc.yaml:21:21: error: 'location' and 'call' cannot be used together in an MCP "
                 "resource");
    expect_error("      resources:\n"
                 "        - name: r\n"
                 "          uri: x://r\n",
                 "doc.yaml:19:11: error: an MCP resource needs 'location' (files served as they "
                 "are) or 'call' / 'steps'");
    expect_error("      resources:\n"
                 "        - name: r\n"
                 "          uri: x://{id}\n"
                 "          location: file:///./files/readme.md\n",
                 "doc.yaml:20:16: error: a resource with 'location' serves fixed files: its 'uri' "
                 "cannot have {param} placeholders");
    expect_error("      resources:\n"
                 "        - name: r\n"
                 "          uri: x://{+path}\n"
                 "          call: lib.get-book\n",
                 "doc.yaml:20:20: error: resource 'uri' 'x://{+path}': only simple {name} "
                 "placeholders are read");
    expect_error("      resources:\n"
                 "        - name: r\n"
                 "          uri: x://{a}{b}\n"
                 "          call: lib.get-book\n",
                 "doc.yaml:20:23: error: resource 'uri' 'x://{a}{b}': two placeholders must be "
                 "separated by text");
    expect_error("      resources:\n"
                 "        - name: r\n"
                 "          uri: readme\n"
                 "          location: file:///./files/readme.md\n",
                 "doc.yaml:20:16: error: resource 'uri' must be an absolute URI with a scheme");
    expect_error("      resources:\n"
                 "        - name: r\n"
                 "          uri: x://r\n"
                 "          mimeType: markdown\n"
                 "          location: file:///./files/readme.md\n",
                 "doc.yaml:21:21: error: 'mimeType' must be a MIME type such as text/markdown");
    expect_error("      resources:\n"
                 "        - name: r\n"
                 "          uri: x://r\n"
                 "          location: file:///./files/nope.md\n",
                 "doc.yaml:21:21: error: resource 'location' '");
    expect_error("      resources:\n"
                 "        - name: r\n"
                 "          uri: x://r\n"
                 "          mimetype: text/plain\n"
                 "          location: file:///./files/readme.md\n",
                 "doc.yaml:21:11: error: unknown key 'mimetype' in MCP resource (did you mean "
                 "'mimeType'?)");
    expect_error("      resources:\n"
                 "        - name: r\n"
                 "          uri: x://r\n"
                 "          location: file:///./files/readme.md\n"
                 "        - name: s\n"
                 "          uri: x://r\n"
                 "          location: file:///./files/readme.md\n",
                 "doc.yaml:22:11: error: MCP resource uri 'x://r' is also used at 19:11");
    expect_error("      resources:\n"
                 "        - name: r\n"
                 "          uri: x://r\n"
                 "          location: ./files/readme.md\n",
                 "doc.yaml:21:21: error: resource 'location': expected a file URI");
    expect_error("      resources:\n"
                 "        - name: r\n"
                 "          uri: x://{id}\n"
                 "          call: lib.get-bok\n",
                 "get-bok");
}

/* A resource or prompt `location` that is a FIFO is refused at once: reading it would block the
 * load (and a reload) until some process wrote to it. */
static void test_location_not_regular(void)
{
    char *fifo = xasprintf("%s/files/pipe.md", testfs_dir);
    CHECK(mkfifo(fifo, 0600) == 0);
    char *want = xasprintf("doc.yaml:21:21: error: file '%s' is not a regular file", fifo);
    expect_error("      resources:\n"
                 "        - name: r\n"
                 "          uri: x://r\n"
                 "          location: file:///./files/pipe.md\n",
                 want);
    free(want);
    want = xasprintf("doc.yaml:20:21: error: file '%s' is not a regular file", fifo);
    expect_error("      prompts:\n"
                 "        - name: p\n"
                 "          location: file:///./files/pipe.md\n",
                 want);
    free(want);
    unlink(fifo);
    free(fifo);
}

static void test_prompt_errors(void)
{
    expect_error("      prompts:\n"
                 "        - name: p\n"
                 "          template:\n"
                 "            - role: system\n"
                 "              content: hi\n",
                 "doc.yaml:21:21: error: unknown prompt message role 'system', expected user or "
                 "assistant");
    expect_error("      prompts:\n"
                 "        - name: p\n"
                 "          template:\n"
                 "            - role: user\n",
                 "doc.yaml:21:15: error: missing required key 'content' in prompt message");
    expect_error("      prompts:\n"
                 "        - name: p\n"
                 "          arguments:\n"
                 "            - name: title\n"
                 "              description: t\n"
                 "          template:\n"
                 "            - role: user\n"
                 "              content: \"{{titel}}\"\n",
                 "doc.yaml:25:24: error: prompt 'p': placeholder '{{titel}}' names no argument "
                 "(did you mean 'title'?)");
    expect_error("      prompts:\n"
                 "        - name: p\n"
                 "          location: file:///./files/review.md\n",
                 "error: prompt 'p': placeholder '{{title}}' names no argument of the prompt");
    expect_error("      prompts:\n"
                 "        - name: p\n"
                 "          template:\n"
                 "            - role: user\n"
                 "              content: hi\n"
                 "          location: file:///./files/review.md\n",
                 "doc.yaml:23:21: error: 'template' and 'location' cannot be used together in an "
                 "MCP prompt");
    expect_error("      prompts:\n"
                 "        - name: p\n"
                 "          description: d\n",
                 "doc.yaml:19:11: error: an MCP prompt needs 'template' (its messages) or "
                 "'location'");
    expect_error("      prompts:\n"
                 "        - name: p\n"
                 "          template:\n"
                 "            - role: user\n"
                 "              content: hi\n"
                 "        - name: p\n"
                 "          template:\n"
                 "            - role: user\n"
                 "              content: hi\n",
                 "doc.yaml:23:11: error: MCP prompt 'p' is also defined at 19:11");
    expect_error("      prompts:\n"
                 "        - name: p\n"
                 "          arguments:\n"
                 "            - name: a\n"
                 "            - name: a\n"
                 "          template:\n"
                 "            - role: user\n"
                 "              content: hi\n",
                 "doc.yaml:22:15: error: prompt argument 'a' is also declared at 21:15");
    expect_error("      prompts:\n"
                 "        - name: p\n"
                 "          location: file:///./files/bin.dat\n",
                 "is not UTF-8 text");
}

static void test_uritpl(void)
{
    size_t off;
    const char *err;
    CHECK(uritpl_check("x://a/{id}/b/{part}", &off, &err) == 2);
    CHECK(uritpl_check("x://plain", &off, &err) == 0);
    CHECK(uritpl_check("x://{id", &off, &err) < 0 && off == 4);
    CHECK(uritpl_check("x://id}", &off, &err) < 0 && off == 6);
    cJSON *v = cJSON_CreateObject();
    CHECK(uritpl_match("x://a/{id}/b/{part}", "x://a/1%202/b/z", v));
    CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(v, "id")), "1 2");
    CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(v, "part")), "z");
    cJSON_Delete(v);
    v = cJSON_CreateObject();
    /* No '/' in a value, no empty value, no bad escape; a failed match leaves <vars> alone. */
    CHECK(!uritpl_match("x://a/{id}", "x://a/1/2", v));
    CHECK(!uritpl_match("x://a/{id}", "x://a/", v));
    CHECK(!uritpl_match("x://a/{id}", "x://a/%zz", v));
    CHECK(!uritpl_match("x://{a}.{b}", "x://nodot", v));
    CHECK(cJSON_GetArraySize(v) == 0);
    /* Backtracking: the first placeholder gives back what the text after it needs. */
    CHECK(uritpl_match("x://{a}.{b}", "x://v1.2.json", v));
    CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(v, "a")), "v1.2");
    CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(v, "b")), "json");
    cJSON_Delete(v);
    CHECK(uritpl_match("x://plain", "x://plain", NULL));
    CHECK(!uritpl_match("x://plain", "x://plainer", NULL));
}

int main(void)
{
    if (testfs_open("capproxy-res") < 0)
        return 1;
    testfs_put("files/readme.md", "# Hello\n");
    testfs_put("files/guides/a.txt", "guide a\n");
    testfs_put("files/guides/.hidden", "x");
    testfs_put("files/guides/sub/c.md", "c\n");
    testfs_put("files/review.md", "Review {{title}}.\n");
    /* Binary: invalid UTF-8 (testfs_put writes C strings, so no NUL). */
    testfs_put("files/guides/b.bin", "\x89PNG\xff\xfe");
    testfs_put("files/bin.dat", "\xff\xfe");
    RUN(test_resources_load());
    RUN(test_resource_errors());
    RUN(test_prompt_errors());
    RUN(test_location_not_regular());
    RUN(test_uritpl());
    testfs_close();
    return harness_report();
}
