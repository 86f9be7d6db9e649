/*
 * Unit tests of aggregates and `ref`: the loader reads `capability.aggregates`, checks_validate
 * resolves every `ref` of a REST operation or MCP tool to a function (in any loaded document)
 * and copies the function's call, inputs, outputs and `with` into the referrer where it sets
 * none itself; MCP hints derive from the function's semantics, per hint, unless the tool sets
 * them. Bad documents fail with file:line:col and the expected text.
 */
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "spec/checks.h"
#include "spec/loader.h"

/* The consumed API and an aggregate every document below builds on. */
#define HEAD                                                                                       \
    "naftiko: 1.0.0-alpha2\n"                                                     /* 1 */          \
    "capability:\n"                                                               /* 2 */          \
    "  consumes:\n"                                                               /* 3 */          \
    "    - namespace: registry\n"                                                 /* 4 */          \
    "      baseUri: http://up.example\n"                                          /* 5 */          \
    "      resources:\n"                                                          /* 6 */          \
    "        - path: /ships/{{imo_number}}\n"                                     /* 7 */          \
    "          operations:\n"                                                     /* 8 */          \
    "            - name: get-ship\n"                                              /* 9 */          \
    "              method: GET\n"                                                 /* 10 */         \
    "  aggregates:\n"                                                             /* 11 */         \
    "    - label: Fleet\n"                                                        /* 12 */         \
    "      namespace: fleet\n"                                                    /* 13 */         \
    "      functions:\n"                                                          /* 14 */         \
    "        - name: get-ship\n"                                                  /* 15 */         \
    "          description: Get a ship\n"                                         /* 16 */         \
    "          semantics: {safe: true, idempotent: true, cacheable: true}\n"      /* 17 */         \
    "          inputParameters:\n"                                                /* 18 */         \
    "            - {name: imo, type: string, description: IMO, required: true}\n" /* 19 */         \
    "          call: registry.get-ship\n"                                         /* 20 */         \
    "          with: {imo_number: fleet.imo, X-Fleet: north}\n"                   /* 21 */         \
    "          outputParameters:\n"                                               /* 22 */         \
    "            - {type: string, mapping: $.vessel_name}\n"                      /* 23 */         \
    "        - name: delete-ship\n"                                               /* 24 */         \
    "          description: Delete a ship\n"                                      /* 25 */         \
    "          semantics: {safe: false, idempotent: true}\n"                      /* 26 */         \
    "          call: registry.get-ship\n"                                         /* 27 */

/* Load <n> documents and validate them; 0 when all is well. Diagnostics are left in <d>. */
static int load_docs(struct model *m, struct diag *d, const char *const *docs, size_t n)
{
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        char name[32];
        snprintf(name, sizeof name, "doc%zu.yaml", i + 1);
        if (loader_load_buffer(m, name, docs[i], strlen(docs[i]), d) < 0)
            rc = -1;
    }
    if (rc == 0)
        rc = checks_validate(m, d);
    return rc;
}

/* A REST operation and tools that name the function get its call, inputs, outputs and with;
 * what a referrer sets itself wins. */
static void test_ref_copies_the_function(void)
{
    static const char doc[] = HEAD "  exposes:\n"                  /* 28 */
                                   "    - type: rest\n"            /* 29 */
                                   "      namespace: ships-rest\n" /* 30 */
                                   "      resources:\n"
                                   "        - path: /ships/{imo}\n"
                                   "          operations:\n"
                                   "            - method: GET\n"
                                   "              ref: fleet.get-ship\n"
                                   "    - type: mcp\n"
                                   "      namespace: ships-mcp\n"
                                   "      tools:\n"
                                   "        - ref: fleet.get-ship\n"
                                   "        - name: own\n"
                                   "          description: Mine\n"
                                   "          ref: fleet.get-ship\n"
                                   "          inputParameters:\n"
                                   "            - {name: id, type: string, description: Id}\n"
                                   "          with: {imo_number: tools.id}\n"
                                   "          outputParameters:\n"
                                   "            - {type: string, mapping: $.flag}\n";
    struct model *m = model_new();
    struct diag d;
    diag_init(&d);
    const char *docs[] = {doc};

    CHECK(load_docs(m, &d, docs, 1) == 0);
    CHECK(d.n == 0);
    if (d.n || m->ncaps != 1)
        goto cleanup;
    struct model_capability *cap = m->caps[0];
    const struct model_function *fn = &cap->aggregates[0].functions[0];
    const struct model_operation *target = &cap->consumers[0].resources[0].operations[0];
    CHECK(cap->naggregates == 1 && cap->aggregates[0].nfunctions == 2);
    CHECK_STR(cap->aggregates[0].label, "Fleet");
    CHECK(fn->semantics.safe == 1 && fn->semantics.idempotent == 1 && fn->semantics.cacheable == 1);
    CHECK(fn->call.target == target);
    CHECK(fn->call.nwith == 2 && fn->call.with[0].kind == MODEL_WITH_REF);
    CHECK_STR(fn->call.with[0].ref, "imo"); /* fleet.imo: the aggregate's own namespace */

    const struct model_rest_op *op = &cap->exposes[0].resources[0].operations[0];
    CHECK(op->call.ref_fn == fn);
    CHECK(op->call.kind == MODEL_CALL_SIMPLE);
    CHECK(op->call.target == target);
    CHECK_STR(op->call.call, "registry.get-ship");
    CHECK(op->call.params == fn->call.params && op->call.nparams == 1);
    CHECK(op->call.params_declared);
    CHECK(op->call.outputs == fn->call.outputs && op->call.noutputs == 1);
    CHECK(op->call.nwith == 2);
    CHECK_STR(op->name, "get-ship");
    CHECK_STR(op->description, "Get a ship");

    const struct model_tool *t = &cap->exposes[1].tools[0];
    CHECK_STR(t->name, "get-ship");
    CHECK_STR(t->description, "Get a ship");
    CHECK(t->call.target == target && t->call.nparams == 1 && t->call.noutputs == 1);

    const struct model_tool *own = &cap->exposes[1].tools[1];
    CHECK_STR(own->name, "own");
    CHECK_STR(own->description, "Mine");
    CHECK(own->call.ref_fn == fn && own->call.target == target);
    CHECK(own->call.nparams == 1);
    CHECK_STR(own->call.params[0].name, "id");
    CHECK(own->call.noutputs == 1);
    CHECK_STR(own->call.outputs[0].mapping, "$.flag");
    /* with: the tool's imo_number, then the function's X-Fleet */
    CHECK(own->call.nwith == 2);
    if (own->call.nwith == 2) {
        CHECK_STR(own->call.with[0].name, "imo_number");
        CHECK_STR(own->call.with[0].ref, "id");
        CHECK_STR(own->call.with[1].name, "X-Fleet");
        CHECK_STR(own->call.with[1].text, "north");
    }

    /* Validating again changes nothing. */
    CHECK(checks_validate(m, &d) == 0);
    CHECK(own->call.nwith == 2 && op->call.nwith == 2);
    CHECK(d.n == 0);
cleanup:
    diag_deinit(&d);
    model_free(m);
}

/* safe: true -> readOnly true and destructive false; safe: false -> readOnly false (destructive
 * not derived); idempotent copied; a hint the tool sets wins, hint by hint. */
static void test_hints(void)
{
    static const char doc[] = HEAD "  exposes:\n"
                                   "    - type: mcp\n"
                                   "      namespace: ships-mcp\n"
                                   "      tools:\n"
                                   "        - ref: fleet.get-ship\n"
                                   "        - ref: fleet.delete-ship\n"
                                   "        - name: open\n"
                                   "          ref: fleet.get-ship\n"
                                   "          hints: {readOnly: false, openWorld: true}\n"
                                   "        - name: plain\n"
                                   "          description: no ref, no hints\n"
                                   "          call: registry.get-ship\n";
    struct model *m = model_new();
    struct diag d;
    diag_init(&d);
    const char *docs[] = {doc};

    CHECK(load_docs(m, &d, docs, 1) == 0);
    CHECK(d.n == 0);
    if (d.n)
        goto cleanup;
    const struct model_tool *t = m->caps[0]->exposes[0].tools;
    CHECK(t[0].hints.read_only == 1 && t[0].hints.destructive == 0 && t[0].hints.idempotent == 1 &&
          t[0].hints.open_world == -1);
    CHECK_STR(t[1].name, "delete-ship");
    CHECK(t[1].hints.read_only == 0 && t[1].hints.destructive == -1 && t[1].hints.idempotent == 1 &&
          t[1].hints.open_world == -1);
    CHECK(t[2].hints.read_only == 0 && t[2].hints.destructive == 0 && t[2].hints.idempotent == 1 &&
          t[2].hints.open_world == 1);
    CHECK(t[3].hints.read_only == -1 && t[3].hints.destructive == -1 &&
          t[3].hints.idempotent == -1 && t[3].hints.open_world == -1);
cleanup:
    diag_deinit(&d);
    model_free(m);
}

/* A ref into an aggregate of a later document resolves once every document is loaded. */
static void test_ref_across_documents(void)
{
    static const char user[] = "naftiko: 1.0.0-alpha2\n"
                               "capability:\n"
                               "  exposes:\n"
                               "    - type: mcp\n"
                               "      namespace: other-mcp\n"
                               "      tools:\n"
                               "        - ref: fleet.get-ship\n";
    struct model *m = model_new();
    struct diag d;
    diag_init(&d);
    const char *docs[] = {user, HEAD};

    CHECK(load_docs(m, &d, docs, 2) == 0);
    CHECK(d.n == 0);
    if (m->ncaps == 2) {
        const struct model_tool *t = &m->caps[0]->exposes[0].tools[0];
        CHECK(t->call.ref_fn == &m->caps[1]->aggregates[0].functions[0]);
        CHECK(t->call.target == &m->caps[1]->consumers[0].resources[0].operations[0]);
    }
    diag_deinit(&d);
    model_free(m);
}

struct bad_case {
    const char *name;
    const char *docs[2];
    const char *want; /* one expected diagnostic, with file:line:col */
};

#define TOOL_REF(ref)                                                                              \
    "  exposes:\n"                 /* 28 */                                                        \
    "    - type: mcp\n"            /* 29 */                                                        \
    "      namespace: ships-mcp\n" /* 30 */                                                        \
    "      tools:\n"               /* 31 */                                                        \
    "        - name: t\n"          /* 32 */                                                        \
    "          ref: " ref "\n"     /* 33 */

static const struct bad_case bad_cases[] = {
    {"missing function",
     {HEAD TOOL_REF("fleet.get-shp")},
     "doc1.yaml:32:11: error: ref 'fleet.get-shp' names no aggregate function: aggregate "
     "'fleet' (doc1.yaml) has no function 'get-shp' (did you mean 'fleet.get-ship'?)"},
    {"missing namespace",
     {HEAD TOOL_REF("flet.get-ship")},
     "doc1.yaml:32:11: error: ref 'flet.get-ship' names no aggregate function: no document has "
     "aggregate namespace 'flet' (did you mean 'fleet.get-ship'?)"},
    {"nothing close",
     {HEAD TOOL_REF("weather.forecast")},
     "doc1.yaml:32:11: error: ref 'weather.forecast' names no aggregate function: no document "
     "has aggregate namespace 'weather'"},
    {"malformed ref",
     {HEAD TOOL_REF("get-ship")},
     "doc1.yaml:32:11: error: expected '<aggregate namespace>.<function>' for 'ref' of MCP tool "
     "'t', got 'get-ship'"},
    {"ref and call",
     {HEAD TOOL_REF("fleet.get-ship") "          call: registry.get-ship\n"},
     "doc1.yaml:32:11: error: MCP tool 't' sets both 'ref' and 'call': it runs the function "
     "'fleet.get-ship', so remove one"},
    {"REST ref and call",
     {HEAD "  exposes:\n"
           "    - type: rest\n"
           "      namespace: r\n"
           "      resources:\n"
           "        - path: /s\n"
           "          operations:\n"
           "            - method: GET\n"
           "              ref: fleet.get-ship\n"
           "              call: registry.get-ship\n"},
     "doc1.yaml:34:15: error: REST operation GET /s sets both 'ref' and 'call': it runs the "
     "function 'fleet.get-ship', so remove one"},
    {"duplicate namespace",
     {HEAD "    - label: Again\n"
           "      namespace: fleet\n"
           "      functions:\n"
           "        - {name: other, description: x, call: registry.get-ship}\n"},
     "doc1.yaml:28:7: error: duplicate aggregate namespace 'fleet': already defined at "
     "doc1.yaml:12:7"},
    {"duplicate namespace across documents",
     {HEAD, "naftiko: 1.0.0-alpha2\n"
            "capability:\n"
            "  aggregates:\n"
            "    - label: Again\n"
            "      namespace: fleet\n"
            "      functions:\n"
            "        - {name: get-ship, description: x, call: registry.get-ship}\n"},
     "doc2.yaml:4:7: error: duplicate aggregate namespace 'fleet': already defined at "
     "doc1.yaml:12:7"},
    {"duplicate function",
     {HEAD "        - name: get-ship\n"
           "          description: again\n"
           "          call: registry.get-ship\n"},
     "doc1.yaml:28:11: error: duplicate function 'get-ship' in aggregate 'fleet': already "
     "defined at doc1.yaml:15:11"},
    {"function without call, steps or outputs",
     {HEAD "        - name: idle\n"
           "          description: does nothing\n"},
     "doc1.yaml:28:11: error: aggregate function 'idle' has nothing to run: expected 'call', "
     "'steps' or 'outputParameters' with values (a mock)"},
    {"function call into nothing",
     {HEAD "        - name: lost\n"
           "          description: calls nothing\n"
           "          call: registry.get-shop\n"},
     "doc1.yaml:30:17: error: call 'registry.get-shop' names no consumed operation: consumes "
     "namespace 'registry' has no operation 'get-shop'"},
    {"function key typo",
     {HEAD "        - name: typo\n"
           "          description: x\n"
           "          semantic: {safe: true}\n"
           "          call: registry.get-ship\n"},
     "doc1.yaml:30:11: error: unknown key 'semantic' in aggregate function (did you mean "
     "'semantics'?)"},
    {"semantics not a boolean",
     {HEAD "        - name: odd\n"
           "          description: x\n"
           "          semantics: {safe: maybe}\n"
           "          call: registry.get-ship\n"},
     "doc1.yaml:30:29: error: expected true or false for 'safe', got 'maybe'"},
    {"semantics key typo",
     {HEAD "        - name: odd\n"
           "          description: x\n"
           "          semantics: {idempotant: true}\n"
           "          call: registry.get-ship\n"},
     "doc1.yaml:30:23: error: unknown key 'idempotant' in semantics (did you mean "
     "'idempotent'?)"},
    {"aggregate without functions",
     {HEAD "    - label: Empty\n"
           "      namespace: empty\n"},
     "doc1.yaml:28:7: error: aggregate 'empty' needs at least one entry in 'functions'"},
    {"aggregate without namespace",
     {HEAD "    - label: Nameless\n"
           "      functions:\n"
           "        - {name: a, description: x, call: registry.get-ship}\n"},
     "doc1.yaml:28:7: error: missing required key 'namespace' in aggregate"},
};

static void test_bad(void)
{
    for (size_t i = 0; i < sizeof bad_cases / sizeof bad_cases[0]; i++) {
        const struct bad_case *c = &bad_cases[i];
        struct model *m = model_new();
        struct diag d;
        diag_init(&d);
        size_t n = c->docs[1] ? 2 : 1;
        int rc = load_docs(m, &d, c->docs, n);
        CHECK(rc == -1);
        if (!diag_contains(&d, c->want)) {
            fprintf(stderr, "case '%s': expected\n  %s\ngot:\n", c->name, c->want);
            diag_print(&d, stderr);
            CHECK(!"expected diagnostic");
        }
        diag_deinit(&d);
        model_free(m);
    }
}

int main(void)
{
    RUN(test_ref_copies_the_function());
    RUN(test_hints());
    RUN(test_ref_across_documents());
    RUN(test_bad());
    return harness_report();
}
