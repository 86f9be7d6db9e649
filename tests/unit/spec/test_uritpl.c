/*
 * Unit tests for uritpl's matching work (found by fuzz_uritpl): a caller's URI against
 * placeholders separated by text that the URI repeats. Plain backtracking tried every split
 * (`{a}-{b}-{c}.x` against a few thousand dashes ran for minutes, against the 1 MiB a request
 * body allows, forever, holding a worker); remembering where each placeholder failed keeps it
 * linear, and must not change which split is found.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "harness.h"
#include "spec/uritpl.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* "u://" followed by <n> copies of <c>, then <tail>. */
static char *repeated(size_t n, char c, const char *tail)
{
    size_t tl = strlen(tail);
    char *s = malloc(4 + n + tl + 1);
    memcpy(s, "u://", 4);
    memset(s + 4, c, n);
    memcpy(s + 4 + n, tail, tl + 1);
    return s;
}

static void test_no_match_is_fast(void)
{
    /* Two placeholders were quadratic in the URI, three cubic, sixteen hopeless. */
    static const char *const tpls[] = {
        "u://{a}-{b}.x",
        "u://{a}-{b}-{c}.x",
        "u://{a}-{b}-{c}-{d}-{e}-{f}-{g}-{h}-{i}-{j}-{k}-{l}-{m}-{n}-{o}-{p}.x",
    };
    char *uri = repeated(200000, '-', "");
    for (size_t i = 0; i < sizeof tpls / sizeof *tpls; i++) {
        double t0 = now_s();
        cJSON *v = cJSON_CreateObject();
        CHECK(!uritpl_match(tpls[i], uri, v));
        CHECK(cJSON_GetArraySize(v) == 0);
        cJSON_Delete(v);
        /* Linear takes milliseconds (a few seconds under valgrind on a loaded machine); the
         * quadratic matcher took hours on this URI: the bound only tells those apart. */
        CHECK(now_s() - t0 < 30.0);
    }
    free(uri);
}

static void test_long_match(void)
{
    /* The same URI with the text that ends it: found at once, the longest values first. */
    char *uri = repeated(200000, '-', ".x");
    double t0 = now_s();
    cJSON *v = cJSON_CreateObject();
    CHECK(uritpl_match("u://{a}-{b}-{c}.x", uri, v));
    CHECK(now_s() - t0 < 1.0);
    CHECK(strlen(cJSON_GetStringValue(cJSON_GetObjectItem(v, "a"))) == 200000 - 4);
    CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(v, "b")), "-");
    CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(v, "c")), "-");
    cJSON_Delete(v);
    free(uri);
}

static void test_same_split(void)
{
    /* Where an early placeholder must give back more than once: the split backtracking finds. */
    cJSON *v = cJSON_CreateObject();
    CHECK(uritpl_match("u://{a}-{b}.{c}", "u://x-y-z.w.v", v));
    CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(v, "a")), "x-y");
    CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(v, "b")), "z.w");
    CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(v, "c")), "v");
    cJSON_Delete(v);
    /* A later placeholder fails from one start, then matches from an earlier one. */
    v = cJSON_CreateObject();
    CHECK(uritpl_match("u://{a}-{b}-c", "u://1-2-3-c", v));
    CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(v, "a")), "1-2");
    CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(v, "b")), "3");
    cJSON_Delete(v);
    /* Text holding a '/' between placeholders: each value stays in its segment. */
    v = cJSON_CreateObject();
    CHECK(uritpl_match("u://{a}-/{b}-{c}", "u://p-q-/r-s-t", v));
    CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(v, "a")), "p-q");
    CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(v, "b")), "r-s");
    CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(v, "c")), "t");
    CHECK(!uritpl_match("u://{a}-/{b}-{c}", "u://p-q-/r/s-t", NULL));
    cJSON_Delete(v);
}

int main(void)
{
    RUN(test_no_match_is_fast());
    RUN(test_long_match());
    RUN(test_same_split());
    return harness_report();
}
