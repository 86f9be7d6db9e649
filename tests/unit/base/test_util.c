/* Unit tests for util: strbuf caps, arena, string helpers, duration and size parsing. */
#include "harness.h"

#include <ctype.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "base/httpstatus.h"
#include "base/jsonnum.h"
#include "base/util.h"

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

static void test_closest(void)
{
    const char *keys[] = {"operations", "resources", NULL, "timeZone", "name"};
    CHECK_STR(util_closest("opertions", keys, 5), "operations"); /* one deletion */
    CHECK_STR(util_closest("timezone", keys, 5), "timeZone");    /* case only */
    CHECK_STR(util_closest("resuorces", keys, 5), "resources");  /* a swap counts once */
    CHECK(util_closest("name", keys, 5) == NULL);                /* exact: nothing to suggest */
    CHECK(util_closest("zzzzzzzzzz", keys, 5) == NULL);          /* nothing close */
    CHECK(util_closest("nm", keys, 5) == NULL);                  /* 2 edits > max(1, 2/3) */
    const char *reqd[] = {"required", "description"};
    CHECK_STR(util_closest("requird", reqd, 2), "required");
    struct util_closest c;
    util_closest_init(&c, "limt");
    util_closest_add(&c, "list");
    util_closest_add(&c, "limit"); /* 1 edit each: the first stays */
    util_closest_add(&c, NULL);    /* ignored */
    CHECK_STR(c.best, "list");
}

static void test_strings(void)
{
    CHECK(str_eq_ci("X-Cal-Secret-Key", "x-cal-secret-key"));
    /* every pair of bytes compares as tolower() of the C locale says */
    bool all_same = true;
    for (int a = 1; a < 256; a++)
        for (int b = 1; b < 256; b++) {
            char x[2] = {(char)a, 0}, y[2] = {(char)b, 0};
            all_same &= str_eq_ci(x, y) == (tolower(a) == tolower(b));
            all_same &= str_eq_ci_n(x, 1, y) == (tolower(a) == tolower(b));
        }
    CHECK(all_same);
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

static void test_utf8(void)
{
    size_t at = 99;
    CHECK(utf8_valid("", 0, &at));
    CHECK(utf8_valid("plain ascii", 11, &at));
    CHECK(utf8_valid("\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", 9, &at)); /* é € 😀 */
    CHECK(utf8_valid("\xf4\x8f\xbf\xbf", 4, &at));                     /* U+10FFFF */
    CHECK(!utf8_valid("\xff", 1, &at) && at == 0);
    CHECK(!utf8_valid("ab\xc0\xaf", 4, &at) && at == 2);       /* overlong '/' */
    CHECK(!utf8_valid("\xe0\x80\xaf", 3, &at) && at == 0);     /* overlong, 3 bytes */
    CHECK(!utf8_valid("x\xed\xa0\x80", 4, &at) && at == 1);    /* a surrogate */
    CHECK(!utf8_valid("\xf4\x90\x80\x80", 4, &at) && at == 0); /* above U+10FFFF */
    CHECK(!utf8_valid("\xe2\x82", 2, &at) && at == 0);         /* cut short */
    CHECK(!utf8_valid("\x80", 1, &at));                        /* a lone continuation */
    CHECK(!utf8_valid("a\0b", 3, &at) && at == 1);             /* NUL cuts C strings */
    CHECK(utf8_seq((const unsigned char *)"\xc3\xa9", 2) == 2);
}

static void test_media_type(void)
{
    CHECK(media_type_is_json("application/json"));
    CHECK(media_type_is_json("Application/JSON"));
    CHECK(media_type_is_json("application/json; charset=utf-8"));
    CHECK(media_type_is_json("  application/json ;charset=UTF-8"));
    CHECK(media_type_is_json("application/merge-patch+json"));
    CHECK(media_type_is_json("application/vnd.api+json; ext=x"));
    CHECK(!media_type_is_json(NULL));
    CHECK(!media_type_is_json(""));
    CHECK(!media_type_is_json("text/plain"));
    CHECK(!media_type_is_json("text/json"));
    CHECK(!media_type_is_json("application/jsonx"));
    CHECK(!media_type_is_json("application/json5"));
    CHECK(!media_type_is_json("application/+json"));
    CHECK(!media_type_is_json("application/x-www-form-urlencoded"));
    CHECK(!media_type_is_json("application/json text/plain"));
    CHECK(!media_type_is_json("multipart/form-data; boundary=x+json"));
}

static char *print(cJSON *j)
{
    char *s = cJSON_PrintUnformatted(j);
    cJSON_Delete(j);
    return s;
}

static void test_jsonnum(void)
{
    CHECK(jsonnum_is_json_number("0", 1));
    CHECK(jsonnum_is_json_number("-0", 2));
    CHECK(jsonnum_is_json_number("1.5e-3", 6));
    CHECK(jsonnum_is_json_number("12345678901234567890", 20));
    CHECK(!jsonnum_is_json_number("01", 2));
    CHECK(!jsonnum_is_json_number("1.", 2));
    CHECK(!jsonnum_is_json_number(".5", 2));
    CHECK(!jsonnum_is_json_number("1e", 2));
    CHECK(!jsonnum_is_json_number("-", 1));
    CHECK(!jsonnum_is_json_number("+1", 2));

    /* Digits inside strings (escaped quotes included) are no numbers; integers of 16 digits or
     * more keep them (cJSON prints 9007199254740991 as 9.00719925474099e+15), the others stay
     * doubles. */
    const char *src =
        "{\"a\\\"1\":\"\\\"12345678901234567890\",\"b\":[12345678901234567890,"
        "-9007199254740993,9007199254740991,1.5,1e300],\"c\":{\"d\":98765432109876543210}}";
    cJSON *doc = cJSON_Parse(src);
    CHECK(jsonnum_keep_big_ints(doc, NULL, src, strlen(src)) ==
          4); /* 16 digits: cJSON would round */
    char *s = print(doc);
    CHECK_STR(s,
              "{\"a\\\"1\":\"\\\"12345678901234567890\",\"b\":[12345678901234567890,"
              "-9007199254740993,9007199254740991,1.5,1e+300],\"c\":{\"d\":98765432109876543210}}");
    cJSON_free(s);
    /* Only under a subtree when one is given. */
    doc = cJSON_Parse(src);
    CHECK(jsonnum_keep_big_ints(doc, cJSON_GetObjectItem(doc, "c"), src, strlen(src)) == 1);
    CHECK(cJSON_IsNumber(cJSON_GetArrayItem(cJSON_GetObjectItem(doc, "b"), 0)));
    cJSON_Delete(doc);
    /* Nothing with 16 digits in a row: nothing to do (and no scan). */
    const char *small = "{\"a\":123456789012345}";
    doc = cJSON_Parse(small);
    CHECK(jsonnum_keep_big_ints(doc, NULL, small, strlen(small)) == 0);
    cJSON_Delete(doc);

    /* A 16-digit integer found at every offset (the pre-check reads words); 15 digits, or
     * bytes next to the digits (':' and '/' around '0'-'9'), are not one. */
    for (int pad = 0; pad < 9; pad++) {
        char text[64];
        snprintf(text, sizeof text, "{\"%.*s\":9007199254740993}", pad, "aaaaaaaaa");
        doc = cJSON_Parse(text);
        CHECK(jsonnum_keep_big_ints(doc, NULL, text, strlen(text)) == 1);
        cJSON_Delete(doc);
        snprintf(text, sizeof text, "{\"%.*s\":900719925474099,\"b\":\"0:/9:/0:/9:/0:/\"}", pad,
                 "aaaaaaaaa");
        doc = cJSON_Parse(text);
        CHECK(jsonnum_keep_big_ints(doc, NULL, text, strlen(text)) == 0);
        cJSON_Delete(doc);
    }

    /* The token of one number node. */
    const char *rpc = "{\"x\":[1,2],\"id\":-0,\"y\":3}";
    doc = cJSON_Parse(rpc);
    size_t len = 0;
    const char *t = jsonnum_token(doc, cJSON_GetObjectItem(doc, "id"), rpc, strlen(rpc), &len);
    CHECK(t && len == 2 && memcmp(t, "-0", 2) == 0);
    CHECK(jsonnum_token(doc, cJSON_GetObjectItem(doc, "x"), rpc, strlen(rpc), &len) == NULL);
    cJSON_Delete(doc);

    /* A top-level member's number without the tree: the first one spelled so, nested and
     * string lookalikes skipped; an escaped key before it leaves the answer to jsonnum_token. */
    static const struct {
        const char *text, *want;
    } members[] = {
        {"{\"x\":[1,2],\"id\":-0,\"y\":3}", "-0"},
        {"{\"a\":{\"id\":5,\"b\":[{\"id\":6}]},\"id\":7}", "7"},
        {"{\"s\":\"\\\"id\\\":9\",\"id\":10}", "10"},
        {" { \"id\" : 1e3 } ", "1e3"},
        {"{\"id\":1,\"id\":2}", "1"},
        {"{\"i\\u0064\":1,\"id\":2}", NULL},
        {"{\"id\":\"7\"}", NULL},
        {"{\"idx\":1}", NULL},
        {"[1]", NULL},
    };
    for (size_t i = 0; i < sizeof members / sizeof *members; i++) {
        const char *m = jsonnum_member(members[i].text, strlen(members[i].text), "id", &len);
        if (!members[i].want) {
            CHECK(m == NULL);
            continue;
        }
        CHECK(m && len == strlen(members[i].want) && memcmp(m, members[i].want, len) == 0);
    }
}

static void test_httpstatus(void)
{
    CHECK_STR(httpstatus_text(404), "Not Found");
    CHECK_STR(httpstatus_text(301), "Moved Permanently");
    CHECK_STR(httpstatus_text(418), "Client Error");
    CHECK_STR(httpstatus_text(599), "Server Error");
}

/* The NUL check before cJSON: the escape and, found by tests/fuzz/fuzz_jsonpath, a raw byte. */
static void test_json_nul(void)
{
    size_t at = 99;
    CHECK_STR(json_text_refusal("{\"a\":\"x\\u0000y\"}", 16, false, &at), "the escape \\u0000");
    CHECK(at == 7);
    CHECK(!json_text_refusal("{\"a\":\"x\\\\u0000y\"}", 17, true, NULL)); /* an escaped backslash */
    CHECK_STR(json_text_refusal("{\"a\":\"x\0y\"}", 11, false, &at), "a NUL byte");
    CHECK(at == 7);
    CHECK(json_text_refusal("{}\0", 3, false, NULL));
    CHECK(!json_text_refusal("{\"a\":\"xy\"}", 10, true, NULL));
    CHECK(!json_text_refusal(NULL, 0, true, NULL));
    /* Raw control characters: only tab, LF and CR, and only outside strings (strict). */
    CHECK(!json_text_refusal("{\t\"a\":\r\n1}", 10, true, NULL));
    CHECK_STR(json_text_refusal("{\"a\":\"x\ty\"}", 11, true, &at), "a control character");
    CHECK(at == 7);
    CHECK(!json_text_refusal("{\"a\":\"x\ty\"}", 11, false, NULL)); /* upstream answers: NUL only */
    CHECK(json_text_refusal("{\x01\"a\":1}", 8, true, NULL));
    CHECK(!json_text_refusal("{\"a\\\"\":1}", 9, true, NULL)); /* an escaped quote stays inside */
    CHECK(json_text_refusal("{\"a\\\"\x02\":1}", 10, true, NULL));
}

/* utf8_sanitize: invalid sequences and NUL bytes become U+FFFD, valid text is unchanged. */
static void test_utf8_sanitize(void)
{
    char *s = utf8_sanitize("ok \xC3\xA9 \xFF x\0y \xED\xA0\x80 \xF0\x9F\x98\x80", 20);
    CHECK_STR(s, "ok \xC3\xA9 \xEF\xBF\xBD x\xEF\xBF\xBDy \xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD "
                 "\xF0\x9F\x98\x80");
    free(s);
    s = utf8_sanitize("\xC0\xAF|\xE2\x82", 5); /* overlong, truncated */
    CHECK_STR(s, "\xEF\xBF\xBD\xEF\xBF\xBD|\xEF\xBF\xBD\xEF\xBF\xBD");
    free(s);
    s = utf8_sanitize("", 0);
    CHECK_STR(s, "");
    free(s);
    s = utf8_sanitize("\xF4\x90\x80\x80", 4); /* above U+10FFFF: one replacement per byte */
    CHECK_STR(s, "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");
    free(s);
}

/* json_text_refusal and utf8_valid skip plain words: what they look for, at every offset of
 * a word, with the same answer and offset as a byte at a time. */
static void test_word_scans(void)
{
    char buf[64];
    size_t at;
    for (size_t pad = 0; pad < 17; pad++) {
        /* {"k":"<pad x>\u0000"} */
        int n = snprintf(buf, sizeof buf, "{\"k\":\"%.*s\\u0000\"}", (int)pad, "xxxxxxxxxxxxxxxxx");
        at = 0;
        CHECK_STR(json_text_refusal(buf, (size_t)n, true, &at), "the escape \\u0000");
        CHECK(at == 6 + pad);
        /* an escaped backslash before u0000 is text */
        n = snprintf(buf, sizeof buf, "{\"k\":\"%.*s\\\\u0000\"}", (int)pad, "xxxxxxxxxxxxxxxxx");
        CHECK(!json_text_refusal(buf, (size_t)n, true, NULL));
        /* a NUL, a raw tab in a string, a quote toggling the state */
        n = snprintf(buf, sizeof buf, "{\"k\":\"%.*s@\"}", (int)pad, "xxxxxxxxxxxxxxxxx");
        buf[6 + pad] = '\0';
        at = 0;
        CHECK_STR(json_text_refusal(buf, (size_t)n, false, &at), "a NUL byte");
        CHECK(at == 6 + pad);
        buf[6 + pad] = '\t';
        CHECK_STR(json_text_refusal(buf, (size_t)n, true, &at), "a control character");
        CHECK(!json_text_refusal(buf, (size_t)n, false, NULL));
        /* UTF-8: a bad byte after a plain run, a NUL, a good sequence */
        memset(buf, 'a', sizeof buf);
        buf[pad] = (char)0xff;
        at = 0;
        CHECK(!utf8_valid(buf, 40, &at) && at == pad);
        buf[pad] = '\0';
        CHECK(!utf8_valid(buf, 40, &at) && at == pad);
        memcpy(buf + pad, "\xc3\xa9", 2);
        CHECK(utf8_valid(buf, 40, NULL));
    }
}

/* util_fmt_ll writes what printf("%lld") does, at the extremes too. */
static void test_fmt_ll(void)
{
    const long long vals[] = {0, 7, -7, 42, 10, -10, 9007199254740992LL, LLONG_MAX, LLONG_MIN};
    for (size_t i = 0; i < sizeof vals / sizeof *vals; i++) {
        char got[UTIL_LL_MAX], want[32];
        size_t n = util_fmt_ll(vals[i], got);
        snprintf(want, sizeof want, "%lld", vals[i]);
        CHECK_STR(got, want);
        CHECK(n == strlen(want));
    }
}

int main(void)
{
    RUN(test_fmt_ll());
    RUN(test_word_scans());
    RUN(test_utf8());
    RUN(test_utf8_sanitize());
    RUN(test_media_type());
    RUN(test_jsonnum());
    RUN(test_httpstatus());
    RUN(test_strbuf());
    RUN(test_arena());
    RUN(test_strings());
    RUN(test_closest());
    RUN(test_json_nul());
    return harness_report();
}
