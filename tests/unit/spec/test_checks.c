/*
 * Unit tests of checks: the rules across documents. Documents that collide are reported with
 * both positions, calls into a later document resolve, and the per-document checks that the
 * loader runs are not repeated across documents. Run with the repository root as working
 * directory.
 */
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "spec/checks.h"
#include "spec/loader.h"

#define DATA "tests/data/loader/"

/* Documents that collide: every message names both files. */
static void test_cross_document(void)
{
    struct model *m = model_new();
    struct diag d;
    diag_init(&d);

    CHECK(loader_load_file(m, DATA "cross/a.yaml", &d) == 0);
    CHECK(loader_load_file(m, DATA "cross/b.yaml", &d) == 0);
    CHECK(d.n == 0);
    CHECK(checks_validate(m, &d) == -1);
    CHECK(d.nerrors == 4);
    CHECK(diag_contains(&d, DATA "cross/b.yaml:4:5: error: duplicate consumes namespace "
                                 "'shared': already defined at " DATA "cross/a.yaml:4:5"));
    CHECK(diag_contains(&d, DATA "cross/b.yaml:13:5: error: duplicate exposes namespace "
                                 "'users-rest': already defined at " DATA "cross/a.yaml:13:5"));
    CHECK(diag_contains(&d, DATA "cross/b.yaml:19:9: error: duplicate REST route GET "
                                 "/users/{userId} on port 8080: already defined at " DATA
                                 "cross/a.yaml:19:9 as GET /users/{id}"));
    CHECK(diag_contains(&d, DATA "cross/b.yaml:35:7: error: duplicate MCP tool 'get-user' on "
                                 "port 9090: already defined at " DATA "cross/a.yaml:25:7"));
    diag_deinit(&d);
    model_free(m);
}

/* checks_duplicates with <cross> reports only pairs from two documents; without it, every pair
 * (what the loader does for one document as it is loaded). */
static void test_duplicates_cross_only(void)
{
    struct model *m = model_new();
    struct diag d;
    diag_init(&d);

    CHECK(loader_load_file(m, DATA "cross/a.yaml", &d) == 0);
    CHECK(loader_load_file(m, DATA "cross/b.yaml", &d) == 0);
    CHECK(d.n == 0);
    checks_duplicates(m, 0, 1, true, &d); /* one document: nothing across documents */
    checks_duplicates(m, 1, 2, true, &d);
    CHECK(d.n == 0);
    checks_duplicates(m, 0, 2, false, &d);
    CHECK(d.nerrors == 4);
    diag_deinit(&d);
    model_free(m);
}

/* A call into a namespace of a later document is left open by the loader and resolved here. */
static void test_call_into_later_document(void)
{
    struct model *m = model_new();
    struct diag d;
    diag_init(&d);

    CHECK(loader_load_path(m, DATA "multi", &d) == 0);
    CHECK(m->ncaps == 2);
    if (m->ncaps == 2) {
        struct model_call *call = &m->caps[0]->exposes[0].resources[0].operations[0].call;
        CHECK(call->target == NULL);
        CHECK(checks_validate(m, &d) == 0);
        CHECK(call->target == &m->caps[1]->consumers[0].resources[0].operations[0]);
        CHECK(checks_validate(m, &d) == 0); /* idempotent */
    }
    CHECK(d.n == 0);
    diag_deinit(&d);
    model_free(m);
}

int main(void)
{
    RUN(test_cross_document());
    RUN(test_duplicates_cross_only());
    RUN(test_call_into_later_document());
    return harness_report();
}
