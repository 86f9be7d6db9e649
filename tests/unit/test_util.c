/* Unit tests for util: strbuf caps, arena, string helpers, duration and size parsing. */
#include "harness.h"

#include <stdlib.h>

#include "util.h"

static void test_strbuf(void)
{
    struct strbuf b;
    strbuf_init(&b, 8);
    CHECK(strbuf_adds(&b, "abcd") == 0);
    CHECK(strbuf_addf(&b, "%d", 123) == 0);
    CHECK_STR(b.data, "abcd123");
    CHECK(strbuf_adds(&b, "xy") == -1); /* 9 > cap 8: refused, unchanged */
    CHECK_STR(b.data, "abcd123");
    CHECK(strbuf_addc(&b, 'z') == 0);
    CHECK(b.len == 8);
    size_t len;
    char *s = strbuf_detach(&b, &len);
    CHECK_STR(s, "abcd123z");
    CHECK(len == 8 && b.data == NULL && b.len == 0);
    free(s);
    strbuf_deinit(&b);
}

static void test_arena(void)
{
    struct arena a;
    arena_init(&a);
    char *s = arena_strdup(&a, "hello");
    int *big = arena_alloc(&a, 100000 * sizeof(int)); /* larger than a block */
    big[99999] = 7;
    CHECK_STR(s, "hello");
    CHECK(big[0] == 0 && big[99999] == 7);
    CHECK(arena_strdup(&a, NULL) == NULL);
    arena_deinit(&a);
}

static void test_strings(void)
{
    CHECK(str_eq_ci("X-Cal-Secret-Key", "x-cal-secret-key"));
    CHECK(!str_eq_ci("abc", "abcd"));
    CHECK(str_eq_ci_n("CLIENTID/users", 8, "clientid"));
    CHECK(!str_eq_ci_n("clientid", 8, "clientidx"));
    CHECK(str_ct_eq("secret", 6, "secret", 6));
    CHECK(!str_ct_eq("secreT", 6, "secret", 6));
    CHECK(!str_ct_eq("secret", 6, "secret1", 7));
    long v;
    CHECK(str_to_long("42", 0, 100, &v) == 0 && v == 42);
    CHECK(str_to_long("101", 0, 100, &v) == -1);
    CHECK(str_to_long("4x", 0, 100, &v) == -1);
    CHECK(str_to_long(" 4", 0, 100, &v) == -1);
    CHECK(str_to_ms("500ms", &v) == 0 && v == 500);
    CHECK(str_to_ms("30s", &v) == 0 && v == 30000);
    CHECK(str_to_ms("2m", &v) == 0 && v == 120000);
    CHECK(str_to_ms("1500", &v) == 0 && v == 1500);
    CHECK(str_to_ms("1.5s", &v) == 0 && v == 1500);
    CHECK(str_to_ms("abc", &v) == -1);
    CHECK(str_to_ms("5h", &v) == -1);
    size_t z;
    CHECK(str_to_size("1MiB", &z) == 0 && z == 1048576);
    CHECK(str_to_size("16KiB", &z) == 0 && z == 16384);
    CHECK(str_to_size("64k", &z) == 0 && z == 65536);
    CHECK(str_to_size("100", &z) == 0 && z == 100);
    CHECK(str_to_size("-1", &z) == -1);
    CHECK(str_to_size("10 parsecs", &z) == -1);
}

/* The NUL check before cJSON: the escape and, found by tests/fuzz/fuzz_jsonpath, a raw byte. */
static void test_json_nul(void)
{
    CHECK(json_has_nul_escape("{\"a\":\"x\\u0000y\"}", 16));
    CHECK(!json_has_nul_escape("{\"a\":\"x\\\\u0000y\"}", 17)); /* an escaped backslash */
    CHECK(json_has_nul_escape("{\"a\":\"x\0y\"}", 11));
    CHECK(json_has_nul_escape("{}\0", 3));
    CHECK(!json_has_nul_escape("{\"a\":\"xy\"}", 10));
    CHECK(!json_has_nul_escape(NULL, 0));
}

int main(void)
{
    test_strbuf();
    test_arena();
    test_strings();
    test_json_nul();
    return harness_report();
}
