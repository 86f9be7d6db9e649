/*
 * Unit tests of the loader and checks for the `skill` and `control` adapters: what lands in the
 * model (defaults included), and each load error with its exact text and position.
 */
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "testrt.h"
#include "spec/checks.h"
#include "spec/loader.h"

#define HEAD                                                                                       \
    "naftiko: 1.0.0-alpha2\n"                                                                      \
    "capability:\n"                                                                                \
    "  consumes:\n"                                                                                \
    "  - namespace: api\n"                                                                         \
    "    baseUri: http://127.0.0.1:1\n"                                                            \
    "    resources:\n"                                                                             \
    "    - path: /ships\n"                                                                         \
    "      operations:\n"                                                                          \
    "      - name: list\n"                                                                         \
    "        method: GET\n"                                                                        \
    "  exposes:\n"                                                                                 \
    "  - type: mcp\n"                                                                              \
    "    namespace: tools\n"                                                                       \
    "    port: 3001\n"                                                                             \
    "    tools:\n"                                                                                 \
    "    - name: list-ships\n"                                                                     \
    "      description: List.\n"                                                                   \
    "      call: api.list\n"
/* HEAD is 18 lines: the next adapter starts at line 19. */

static void bad(const char *doc, const char *want)
{
    CHECK(testrt_fails_with(doc, want, false));
}

static void test_skill_model(void)
{
    static const char doc[] = HEAD "  - type: skill\n"
                                   "    port: 3002\n"
                                   "    namespace: skills\n"
                                   "    skills:\n"
                                   "    - name: fleet-ops\n"
                                   "      description: Fleet.\n"
                                   "      license: MIT\n"
                                   "      user-invocable: false\n"
                                   "      metadata: {author: me}\n"
                                   "      location: file:///tmp/sk\n"
                                   "      tools:\n"
                                   "      - name: list-ships\n"
                                   "        description: L.\n"
                                   "        from: {sourceNamespace: tools, action: list-ships}\n"
                                   "      - name: guide\n"
                                   "        description: G.\n"
                                   "        instruction: guide.md\n";
    struct model *m;
    struct diag d;
    CHECK(testrt_load_model(doc, &m, &d) == 0);
    const struct model_expose *e = &m->caps[0]->exposes[1];
    CHECK(e->type == MODEL_EXPOSE_SKILL);
    CHECK(e->port == 3002 && e->nskills == 1);
    const struct model_skill *sk = &e->skills[0];
    CHECK(str_eq(sk->name, "fleet-ops") && str_eq(sk->license, "MIT"));
    CHECK(sk->user_invocable == 0 && sk->disable_model_invocation == -1);
    CHECK(sk->nmeta == 1 && str_eq(sk->meta_keys[0], "author"));
    CHECK(str_eq(sk->dir, "/tmp/sk"));
    CHECK(sk->ntools == 2 && sk->tools[0].from_expose == &m->caps[0]->exposes[0]);
    CHECK(str_eq(sk->tools[1].instruction, "guide.md"));
    diag_deinit(&d);
    model_free(m);
}

/* A skill's `location` is read as every other location: file:///./x is relative to the
 * document, not /x; another scheme is refused. */
static void test_skill_location(void)
{
    static const char doc[] = HEAD "  - type: skill\n"
                                   "    port: 3002\n"
                                   "    namespace: skills\n"
                                   "    skills:\n"
                                   "    - name: guide\n"
                                   "      description: G.\n"
                                   "      location: file:///./skills/guide\n"
                                   "      tools:\n"
                                   "      - name: read\n"
                                   "        description: R.\n"
                                   "        instruction: guide.md\n";
    struct model *m = model_new();
    struct diag d;
    diag_init(&d);
    CHECK(loader_load_buffer(m, "/srv/caps/f.yaml", doc, strlen(doc), &d) == 0);
    CHECK(str_eq(m->caps[0]->exposes[1].skills[0].dir, "/srv/caps/skills/guide"));
    diag_deinit(&d);
    model_free(m);

    bad(HEAD "  - type: skill\n"
             "    port: 3002\n"
             "    namespace: skills\n"
             "    skills:\n"
             "    - name: guide\n"
             "      description: G.\n"
             "      location: https://example.com/guide\n",
        "f.yaml:25:17: error: skill 'location': scheme 'https:' is not supported");
}

static void test_control_model(void)
{
    static const char doc_default[] = HEAD "  - type: control\n"
                                           "    port: 9100\n";
    static const char doc[] = HEAD "  - type: control\n"
                                   "    port: 9100\n"
                                   "    management: {health: false, info: true, reload: true,\n"
                                   "                 validate: true, logs: {stream: true}}\n"
                                   "    observability: {metrics: {local: {enabled: false}}}\n";
    struct model *m;
    struct diag d;
    CHECK(testrt_load_model(doc_default, &m, &d) == 0);
    const struct model_control *c = &m->caps[0]->exposes[1].control;
    CHECK(m->caps[0]->exposes[1].type == MODEL_EXPOSE_CONTROL);
    CHECK(c->health && c->metrics && !c->info && !c->reload && !c->validate && !c->logs);
    diag_deinit(&d);
    model_free(m);
    CHECK(testrt_load_model(doc, &m, &d) == 0);
    c = &m->caps[0]->exposes[1].control;
    CHECK(!c->health && c->info && c->reload && c->validate && c->logs && c->logs_stream);
    CHECK(!c->metrics);
    diag_deinit(&d);
    model_free(m);
}

static void test_errors(void)
{
    bad(HEAD "  - type: skill\n"
             "    port: 3002\n"
             "    namespace: skills\n"
             "    skills:\n"
             "    - name: ops\n"
             "      description: O.\n"
             "      tools:\n"
             "      - name: t\n"
             "        description: T.\n"
             "        from: {sourceNamespace: tool, action: list-ships}\n",
        "f.yaml:28:33: error: skill tool 't': sourceNamespace 'tool' names no rest or mcp adapter "
        "of this document (did you mean 'tools'?)");
    bad(HEAD "  - type: skill\n"
             "    port: 3002\n"
             "    namespace: skills\n"
             "    skills:\n"
             "    - name: ops\n"
             "      description: O.\n"
             "      tools:\n"
             "      - name: t\n"
             "        description: T.\n"
             "        from: {sourceNamespace: tools, action: list-ship}\n",
        "f.yaml:28:48: error: skill tool 't': action 'list-ship' is no tool of 'tools' (did you "
        "mean 'list-ships'?)");
    bad(HEAD "  - type: skill\n"
             "    port: 3002\n"
             "    namespace: skills\n"
             "    skills:\n"
             "    - name: ops\n"
             "      description: O.\n"
             "      tools:\n"
             "      - name: t\n"
             "        description: T.\n"
             "        instruction: t.md\n",
        "f.yaml:28:22: error: skill tool 't' uses 'instruction' but skill 'ops' has no 'location'");
    bad(HEAD "  - type: skill\n"
             "    port: 3002\n"
             "    namespace: skills\n"
             "    skills:\n"
             "    - name: ops\n"
             "      description: O.\n"
             "      tools:\n"
             "      - name: t\n"
             "        description: T.\n",
        "f.yaml:26:9: error: skill tool 't' needs 'from' (a sibling adapter's operation or tool) "
        "or 'instruction' (a file under the skill's location)");
    bad(HEAD "  - type: skill\n"
             "    port: 3002\n"
             "    namespace: skills\n"
             "    skills:\n"
             "    - name: Ops\n"
             "      description: O.\n",
        "f.yaml:23:13: error: skill name 'Ops' must be kebab-case");
    bad(HEAD "  - type: skill\n"
             "    namespace: skills\n"
             "    skill: []\n",
        "unknown key 'skill' in skill exposes entry (did you mean 'skills'?)");
    bad(HEAD "  - type: control\n"
             "    management: {helth: true}\n",
        "f.yaml:19:5: error: missing required key 'port' in control exposes entry");
    bad(HEAD "  - type: control\n"
             "    port: 9100\n"
             "    management: {helth: true}\n",
        "f.yaml:21:18: error: unknown key 'helth' in management (did you mean 'health'?)");
    bad(HEAD "  - type: control\n"
             "    port: 9100\n"
             "    management: {logs: {max-subscribers: 50}}\n",
        "expected a number between 1 and 20 for 'max-subscribers'");
    bad(HEAD "  - type: control\n"
             "    port: 9100\n"
             "    observability: {traces: {propagation: zipkin}}\n",
        "unknown trace propagation 'zipkin', expected w3c or b3");
    bad(HEAD "  - type: grpc\n"
             "    port: 9100\n",
        "unknown exposes type 'grpc', expected 'rest', 'mcp', 'skill' or 'control'");
}

int main(void)
{
    RUN(test_skill_model());
    RUN(test_skill_location());
    RUN(test_control_model());
    RUN(test_errors());
    return harness_report();
}
