/*
 * Unit tests of the loader and checks for REST `forward` resources: what lands in the model,
 * and each load error with its exact text and position.
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
    "  - namespace: legacy-api\n"                                                                  \
    "    baseUri: http://127.0.0.1:1/v1\n"                                                         \
    "  exposes:\n"                                                                                 \
    "  - type: rest\n"                                                                             \
    "    namespace: gw\n"                                                                          \
    "    resources:\n"
/* HEAD is 9 lines: the resources start at line 10. */

/* <doc> must fail with <want> among its messages (and nothing else when <only>). */
static void bad(const char *doc, const char *want, bool only)
{
    CHECK(testrt_fails_with(doc, want, only));
}

static void test_model(void)
{
    static const char doc[] = HEAD "    - path: /legacy/{path}\n"
                                   "      name: legacy\n"
                                   "      forward:\n"
                                   "        targetNamespace: legacy-api\n"
                                   "        trustedHeaders: [X-Trace, notion-version]\n"
                                   "    - path: /plain\n"
                                   "      forward: {targetNamespace: legacy-api}\n";
    struct model *m;
    struct diag d;
    CHECK(testrt_load_model(doc, &m, &d) == 0);
    CHECK(d.n == 0);
    const struct model_expose *e = &m->caps[0]->exposes[0];
    CHECK(e->nresources == 2);
    const struct model_rest_resource *r = &e->resources[0];
    CHECK(r->noperations == 0);
    CHECK(r->forward != NULL);
    if (r->forward) {
        CHECK_STR(r->forward->target_ns, "legacy-api");
        CHECK(r->forward->target == &m->caps[0]->consumers[0]);
        CHECK(r->forward->ntrusted == 2);
        CHECK_STR(r->forward->trusted_headers[0], "X-Trace");
        CHECK_STR(r->forward->trusted_headers[1], "notion-version");
        CHECK(r->forward->pos.line == 13 && r->forward->pos.col == 26);
    }
    const struct model_forward *f2 = e->resources[1].forward;
    CHECK(f2 && f2->ntrusted == 0 && f2->trusted_headers == NULL);
    diag_deinit(&d);
    model_free(m);
}

/* The target may be consumed by a later document: checks_validate resolves it. */
static void test_target_in_other_file(void)
{
    static const char a[] = "naftiko: 1.0.0-alpha2\n"
                            "capability:\n"
                            "  exposes:\n"
                            "  - type: rest\n"
                            "    namespace: gw\n"
                            "    resources:\n"
                            "    - path: /x/{path}\n"
                            "      forward: {targetNamespace: later}\n";
    static const char b[] = "naftiko: 1.0.0-alpha2\n"
                            "capability:\n"
                            "  consumes:\n"
                            "  - namespace: later\n"
                            "    baseUri: http://127.0.0.1:1\n";
    struct model *m = model_new();
    struct diag d;
    diag_init(&d);
    CHECK(loader_load_buffer(m, "a.yaml", a, strlen(a), &d) == 0);
    CHECK(loader_load_buffer(m, "b.yaml", b, strlen(b), &d) == 0);
    CHECK(checks_validate(m, &d) == 0);
    CHECK(m->caps[0]->exposes[0].resources[0].forward->target == &m->caps[1]->consumers[0]);
    diag_deinit(&d);
    model_free(m);
}

static void test_errors(void)
{
    bad(HEAD "    - path: /x\n"
             "      forward: {targetNamespace: legacy-apj}\n",
        "f.yaml:11:34: error: forward targetNamespace 'legacy-apj' names no consumes namespace "
        "(did you mean 'legacy-api'?)",
        true);
    bad(HEAD "    - path: /x\n"
             "      forward: {targetNamespace: elsewhere-entirely}\n",
        "f.yaml:11:34: error: forward targetNamespace 'elsewhere-entirely' names no consumes "
        "namespace",
        true);
    bad(HEAD "    - path: /x\n"
             "      forward: {trustedHeaders: [A]}\n",
        "f.yaml:11:16: error: missing required key 'targetNamespace' in forward", true);
    bad(HEAD "    - path: /x\n"
             "      forward:\n"
             "        targetNamespace: legacy-api\n"
             "        trustedHeaders: [X-Ok, 'Bad Header', {a: b}]\n",
        "f.yaml:13:32: error: expected an HTTP header name (letters, digits and "
        "!#$%&'*+-.^_`|~) in 'trustedHeaders', got 'Bad Header'",
        false);
    bad(HEAD "    - path: /x\n"
             "      forward:\n"
             "        targetNamespace: legacy-api\n"
             "        trustedHeaders: [X-Ok, 'Bad Header', {a: b}]\n",
        "f.yaml:13:46: error: expected an HTTP header name (letters, digits and "
        "!#$%&'*+-.^_`|~) in 'trustedHeaders', got a mapping",
        false);
    bad(HEAD "    - path: /x\n"
             "      forward:\n"
             "        targetNamespace: legacy-api\n"
             "        trustedHeaders: [X-Trace, x-trace]\n",
        "f.yaml:13:35: error: header 'x-trace' is listed twice in 'trustedHeaders'", true);
    bad(HEAD "    - path: /x\n"
             "      forward:\n"
             "        targetNamespace: legacy-api\n"
             "        trustedHeaders: []\n",
        "f.yaml:13:25: error: 'trustedHeaders' must list at least one header name (leave it out "
        "to forward none of the caller's headers)",
        true);
    bad(HEAD "    - path: /x\n"
             "      forward:\n"
             "        targetNamespace: legacy-api\n"
             "        trustedHeaders: X-Trace\n",
        "f.yaml:13:25: error: expected a sequence of header names for 'trustedHeaders', got "
        "a scalar",
        true);
    bad(HEAD "    - path: /x\n"
             "      forward:\n"
             "        targetNamespace: legacy-api\n"
             "        trustedHeader: [X-Trace]\n",
        "f.yaml:13:9: error: unknown key 'trustedHeader' in forward (did you mean "
        "'trustedHeaders'?)",
        true);
    bad(HEAD "    - path: /x\n"
             "      forward: legacy-api\n",
        "f.yaml:11:16: error: expected a mapping for 'forward', got a scalar", true);
    bad(HEAD "    - path: /x\n"
             "      description: nothing to do\n",
        "f.yaml:10:7: error: REST resource '/x' has neither 'operations' nor 'forward'", true);
    /* A typo of either key is the one error, not also "neither". */
    bad(HEAD "    - path: /x\n"
             "      forwrd: {targetNamespace: legacy-api}\n",
        "f.yaml:11:7: error: unknown key 'forwrd' in REST resource (did you mean 'forward'?)",
        true);
    /* Two forwards on one path and port. */
    bad(HEAD "    - path: /x/{path}\n"
             "      forward: {targetNamespace: legacy-api}\n"
             "    - path: /x/{rest}\n"
             "      forward: {targetNamespace: legacy-api}\n",
        "f.yaml:12:7: error: duplicate REST forward /x/{rest} on the default port: already "
        "defined at f.yaml:10:7 as forward /x/{path}",
        true);
}

/* Operations and forward on one resource load (the operations keep their methods). */
static void test_both(void)
{
    static const char doc[] = HEAD "    - path: /x\n"
                                   "      forward: {targetNamespace: legacy-api}\n"
                                   "      operations: []\n";
    struct model *m;
    struct diag d;
    CHECK(testrt_load_model(doc, &m, &d) == 0);
    diag_deinit(&d);
    model_free(m);
}

int main(void)
{
    RUN(test_model());
    RUN(test_target_in_other_file());
    RUN(test_errors());
    RUN(test_both());
    return harness_report();
}
