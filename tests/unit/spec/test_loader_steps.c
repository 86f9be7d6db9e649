/*
 * Unit tests of how the loader and checks read orchestrated calls (steps, lookups, mappings)
 * and mocks: the call kinds, and each error with its exact text at its position.
 */
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "spec/checks.h"
#include "spec/loader.h"

/* A document: one consumed namespace with get-ship and list-crew, and one MCP tool whose body
 * (from "name:" on, indented for a tool entry) is <tool>. */
#define DOC_HEAD                                                                                   \
    "naftiko: 1.0.0-alpha2\n"                                                                      \
    "capability:\n"                                                                                \
    "  consumes:\n"                                                                                \
    "    - namespace: reg\n"                                                                       \
    "      baseUri: http://127.0.0.1:1\n"                                                          \
    "      resources:\n"                                                                           \
    "        - path: /ships/{{imo_number}}\n"                                                      \
    "          operations:\n"                                                                      \
    "            - name: get-ship\n"                                                               \
    "              method: GET\n"                                                                  \
    "        - path: /crew\n"                                                                      \
    "          operations:\n"                                                                      \
    "            - name: list-crew\n"                                                              \
    "              method: GET\n"                                                                  \
    "  exposes:\n"                                                                                 \
    "    - type: mcp\n"                                                                            \
    "      namespace: tools\n"                                                                     \
    "      tools:\n"                                                                               \
    "        - name: t\n"                                                                          \
    "          description: d\n"
/* DOC_HEAD has 20 lines: the tool's own keys start on line 21, column 11. */

struct loaded {
    struct model *m;
    struct diag d;
    int rc;
};

static void load(struct loaded *l, const char *tool)
{
    size_t n = strlen(DOC_HEAD) + strlen(tool) + 1;
    char *buf = malloc(n);
    snprintf(buf, n, "%s%s", DOC_HEAD, tool);
    l->m = model_new();
    diag_init(&l->d);
    l->rc = loader_load_buffer(l->m, "t.yaml", buf, strlen(buf), &l->d);
    if (l->rc == 0)
        l->rc = checks_validate(l->m, &l->d);
    free(buf);
}

static void unload(struct loaded *l)
{
    model_free(l->m);
    diag_deinit(&l->d);
}

static const struct model_call *tool_call(const struct loaded *l)
{
    return &l->m->caps[0]->exposes[0].tools[0].call;
}

/* The document fails with <want> among its messages. */
static void expect_error(const char *tool, const char *want)
{
    struct loaded l;
    load(&l, tool);
    CHECK(l.rc < 0);
    if (!diag_contains(&l.d, want)) {
        fprintf(stderr, "want: %s\ngot:\n", want);
        diag_print(&l.d, stderr);
        CHECK(!"message");
    }
    unload(&l);
}

static const char STEPS_OK[] = "          steps:\n"
                               "            - name: get-ship\n"
                               "              type: call\n"
                               "              call: reg.get-ship\n"
                               "              with:\n"
                               "                imo_number: \"{{imo}}\"\n"
                               "            - name: list-crew\n"
                               "              type: call\n"
                               "              call: reg.list-crew\n"
                               "            - name: resolve\n"
                               "              type: lookup\n"
                               "              index: list-crew\n"
                               "              match: crewId\n"
                               "              lookupValue: $.get-ship.assignedCrew\n"
                               "              outputParameters: [fullName, role]\n"
                               "          mappings:\n"
                               "            - targetName: ship.name\n"
                               "              value: $.get-ship.vessel_name\n";

static void test_steps_load(void)
{
    struct loaded l;
    load(&l, STEPS_OK);
    CHECK(l.rc == 0);
    if (l.rc == 0) {
        const struct model_call *c = tool_call(&l);
        CHECK(c->kind == MODEL_CALL_STEPS);
        CHECK(c->nsteps == 3);
        CHECK(c->steps[0].kind == MODEL_STEP_CALL && c->steps[0].target &&
              strcmp(c->steps[0].target->name, "get-ship") == 0);
        CHECK(c->steps[0].nwith == 1 && c->steps[0].with[0].kind == MODEL_WITH_TEMPLATE);
        CHECK(c->steps[1].target && c->steps[1].nwith == 0);
        CHECK(c->steps[2].kind == MODEL_STEP_LOOKUP);
        CHECK_STR(c->steps[2].index, "list-crew");
        CHECK_STR(c->steps[2].match, "crewId");
        CHECK_STR(c->steps[2].lookup_value, "$.get-ship.assignedCrew");
        CHECK(c->steps[2].nfields == 2);
        CHECK_STR(c->steps[2].fields[1], "role");
        CHECK(c->nmappings == 1);
        CHECK_STR(c->mappings[0].target, "ship.name");
        CHECK(c->steps[0].pos.line == 22 && c->steps[0].pos.col == 15);
    } else {
        diag_print(&l.d, stderr);
    }
    unload(&l);
}

static void test_kinds(void)
{
    struct loaded l;
    load(&l, "          call: reg.get-ship\n");
    CHECK(l.rc == 0 && tool_call(&l)->kind == MODEL_CALL_SIMPLE && tool_call(&l)->target);
    unload(&l);
    load(&l, "          outputParameters:\n"
             "            - name: a\n"
             "              type: string\n"
             "              value: \"{{x}}\"\n");
    CHECK(l.rc == 0 && tool_call(&l)->kind == MODEL_CALL_MOCK);
    unload(&l);
    /* A JSONPath `value` gives no value of its own: not a mock. */
    expect_error("          outputParameters:\n"
                 "            - name: a\n"
                 "              type: string\n"
                 "              value: $.a\n",
                 "t.yaml:19:11: error: missing required key 'call' in MCP tool (or 'steps' to "
                 "orchestrate calls, 'ref' to use an aggregate function, or outputParameters with "
                 "a 'value' to mock the answer)");
}

static void test_errors(void)
{
    expect_error("          steps:\n"
                 "            - name: run-it\n"
                 "              type: script\n"
                 "              language: python\n",
                 "t.yaml:22:15: error: script steps (javascript, python, groovy) are not supported "
                 "by capproxy: step 'run-it' cannot run");
    expect_error("          steps:\n"
                 "            - name: x\n"
                 "              type: fetch\n",
                 "t.yaml:23:21: error: unknown step type 'fetch', expected call or lookup");
    expect_error("          steps:\n"
                 "            - name: x\n"
                 "              call: reg.get-ship\n",
                 "t.yaml:22:15: error: missing required key 'type' in step (call or lookup)");
    expect_error("          steps:\n"
                 "            - name: a\n"
                 "              type: call\n"
                 "              call: reg.get-ship\n"
                 "            - name: a\n"
                 "              type: call\n"
                 "              call: reg.list-crew\n",
                 "t.yaml:25:21: error: duplicate step name 'a': already defined at t.yaml:22:15");
    expect_error("          steps:\n"
                 "            - name: get_ship\n"
                 "              type: call\n"
                 "              call: reg.get-ship\n",
                 "t.yaml:22:21: error: step name 'get_ship' must be kebab-case");
    /* lookup index unknown (did you mean), and not an earlier step */
    expect_error("          steps:\n"
                 "            - name: list-crew\n"
                 "              type: call\n"
                 "              call: reg.list-crew\n"
                 "            - name: l\n"
                 "              type: lookup\n"
                 "              index: list-crw\n"
                 "              match: id\n"
                 "              lookupValue: x\n",
                 "t.yaml:27:22: error: lookup index 'list-crw' names no step (did you mean "
                 "'list-crew'?)");
    expect_error("          steps:\n"
                 "            - name: l\n"
                 "              type: lookup\n"
                 "              index: list-crew\n"
                 "              match: id\n"
                 "              lookupValue: x\n"
                 "            - name: list-crew\n"
                 "              type: call\n"
                 "              call: reg.list-crew\n",
                 "t.yaml:24:22: error: lookup index 'list-crew' is not an earlier step");
    expect_error("          steps:\n"
                 "            - name: list-crew\n"
                 "              type: call\n"
                 "              call: reg.list-crew\n"
                 "            - name: l\n"
                 "              type: lookup\n"
                 "              index: list-crew\n"
                 "              match: id\n"
                 "              lookupValue: $.later.x\n"
                 "            - name: later\n"
                 "              type: call\n"
                 "              call: reg.get-ship\n",
                 "t.yaml:29:28: error: lookupValue '$.later.x' reads step 'later', which runs "
                 "later: a step reads only earlier ones");
    expect_error("          steps:\n"
                 "            - name: get-ship\n"
                 "              type: call\n"
                 "              call: reg.get-ship\n"
                 "          mappings:\n"
                 "            - targetName: n\n"
                 "              value: $.get-shp.name\n",
                 "t.yaml:27:22: error: mapping value '$.get-shp.name' names no step (did you mean "
                 "'get-ship'?)");
    expect_error("          steps:\n"
                 "            - name: get-ship\n"
                 "              type: call\n"
                 "              call: reg.get-ship\n"
                 "          mappings:\n"
                 "            - targetName: n\n"
                 "              value: get-ship.name\n",
                 "t.yaml:27:22: error: expected '$.<step>.<path>' for mapping value, got "
                 "'get-ship.name'");
    expect_error("          call: reg.get-ship\n"
                 "          steps:\n"
                 "            - name: a\n"
                 "              type: call\n"
                 "              call: reg.get-ship\n",
                 "t.yaml:23:13: error: 'call' and 'steps' cannot be used together in MCP tool");
    expect_error("          steps:\n"
                 "            - name: a\n"
                 "              type: call\n"
                 "              call: reg.get-shipp\n",
                 "t.yaml:24:21: error: call 'reg.get-shipp' names no consumed operation: consumes "
                 "namespace 'reg' has no operation 'get-shipp'");
    expect_error("          steps:\n"
                 "            - name: a\n"
                 "              type: call\n"
                 "              cal: reg.get-ship\n",
                 "t.yaml:24:15: error: unknown key 'cal' in call step (did you mean 'call'?)");
    expect_error("          steps:\n"
                 "            - name: a\n"
                 "              type: lookup\n"
                 "              index: a\n"
                 "              match: id\n"
                 "              lookupValue: x\n"
                 "              outputParameters: name\n",
                 "t.yaml:27:33: error: expected a sequence of field names for 'outputParameters' "
                 "of a lookup step");
    expect_error("          mappings:\n"
                 "            - targetName: a\n"
                 "              value: $.x\n"
                 "          call: reg.get-ship\n",
                 "t.yaml:22:13: error: 'mappings' needs 'steps'");
}

/* A step into a namespace that a later document consumes is resolved by checks_validate. */
/* A mapping or lookupValue path with an index or wildcard right after the step name names that
 * step (`$.list-crew[0]` is step list-crew), and a path capproxy cannot evaluate is refused. */
static void test_indexed_step_paths(void)
{
    struct loaded l;
    load(&l, "          steps:\n"
             "            - name: list-crew\n"
             "              type: call\n"
             "              call: reg.list-crew\n"
             "            - name: first\n"
             "              type: lookup\n"
             "              index: list-crew\n"
             "              match: id\n"
             "              lookupValue: $.list-crew[0].id\n"
             "          mappings:\n"
             "            - targetName: first\n"
             "              value: $.list-crew[0].name\n"
             "            - targetName: names\n"
             "              value: $.list-crew[*].name\n");
    CHECK(l.rc == 0);
    if (l.rc != 0)
        diag_print(&l.d, stderr);
    unload(&l);
    expect_error("          steps:\n"
                 "            - name: list-crew\n"
                 "              type: call\n"
                 "              call: reg.list-crew\n"
                 "          mappings:\n"
                 "            - targetName: n\n"
                 "              value: $.list-crew[?(@.id == 2)].name\n",
                 "t.yaml:27:22: error: invalid JSONPath '$.list-crew[?(@.id == 2)].name' for "
                 "mapping value: expected an index, '*' or a quoted name in [ ]");
    expect_error("          steps:\n"
                 "            - name: list-crew\n"
                 "              type: call\n"
                 "              call: reg.list-crew\n"
                 "          mappings:\n"
                 "            - targetName: n\n"
                 "              value: $.list-crw[0].name\n",
                 "t.yaml:27:22: error: mapping value '$.list-crw[0].name' names no step (did you "
                 "mean 'list-crew'?)");
}

static void test_later_document(void)
{
    static const char a[] = "naftiko: 1.0.0-alpha2\n"
                            "capability:\n"
                            "  exposes:\n"
                            "    - type: mcp\n"
                            "      namespace: tools\n"
                            "      tools:\n"
                            "        - name: t\n"
                            "          steps:\n"
                            "            - name: a\n"
                            "              type: call\n"
                            "              call: other.op\n"
                            "            - name: b\n"
                            "              type: call\n"
                            "              call: nowhere.op\n";
    static const char b[] = "naftiko: 1.0.0-alpha2\n"
                            "capability:\n"
                            "  consumes:\n"
                            "    - namespace: other\n"
                            "      baseUri: http://127.0.0.1:1\n"
                            "      resources:\n"
                            "        - path: /x\n"
                            "          operations:\n"
                            "            - name: op\n"
                            "              method: GET\n";
    struct model *m = model_new();
    struct diag d;
    diag_init(&d);
    CHECK(loader_load_buffer(m, "a.yaml", a, strlen(a), &d) == 0);
    CHECK(loader_load_buffer(m, "b.yaml", b, strlen(b), &d) == 0);
    if (d.nerrors)
        diag_print(&d, stderr);
    CHECK(checks_validate(m, &d) < 0);
    const struct model_call *c = &m->caps[0]->exposes[0].tools[0].call;
    CHECK(c->steps[0].target != NULL);
    CHECK(diag_contains(&d, "a.yaml:12:15: error: call 'nowhere.op' names no consumed operation: "
                            "no document consumes namespace 'nowhere'"));
    model_free(m);
    diag_deinit(&d);
}

int main(void)
{
    RUN(test_steps_load());
    RUN(test_kinds());
    RUN(test_errors());
    RUN(test_indexed_step_paths());
    RUN(test_later_document());
    return harness_report();
}
