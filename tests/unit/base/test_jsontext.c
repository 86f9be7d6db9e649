/*
 * Unit tests for jsontext: what it takes as a compact object is read by cJSON as the same
 * document, what it leaves to cJSON is anything unusual, and its string literals are byte for
 * byte what cJSON prints.
 */
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "base/jsontext.h"
#include "base/util.h"
#include "harness.h"

/* Compact <in>: NULL when refused, else a new string. */
static char *compact(const char *in, size_t len)
{
    char *r = xmalloc(len + 1);
    size_t n = 0;
    if (!jsontext_compact_object(in, len, r, &n)) {
        free(r);
        return NULL;
    }
    CHECK(n == strlen(r));
    return r;
}

static char *reprint(const char *json)
{
    cJSON *j = cJSON_Parse(json);
    char *s = j ? cJSON_PrintUnformatted(j) : NULL;
    cJSON_Delete(j);
    return s;
}

static void taken(const char *in, const char *want)
{
    char *got = compact(in, strlen(in));
    CHECK_STR(got, want);
    /* cJSON reads the compact text and the source as the same document */
    char *a = reprint(in), *b = got ? reprint(got) : NULL;
    CHECK(a && b && strcmp(a, b) == 0);
    free(got);
    cJSON_free(a);
    cJSON_free(b);
}

static void refused(const char *in, size_t len)
{
    char *got = compact(in, len);
    CHECK(got == NULL);
    free(got);
}

#define REFUSED(lit) refused(lit, sizeof lit - 1)

static void test_compact(void)
{
    taken("{}", "{}");
    taken(" \t\r\n{ } \n", "{}");
    taken("{\"a\": 1, \"b\" : [ 1 , 2.5e-3 , -0, true, false, null ], \"c\": {\"d\": \"x y\"}}",
          "{\"a\":1,\"b\":[1,2.5e-3,-0,true,false,null],\"c\":{\"d\":\"x y\"}}");
    taken("{\"s\": \"a \\\" \\\\ \\/ \\b\\f\\n\\r\\t \\u00e9 \\u20AC , : { [\"}",
          "{\"s\":\"a \\\" \\\\ \\/ \\b\\f\\n\\r\\t \\u00e9 \\u20AC , : { [\"}");
    taken("{\"e\": [], \"o\": {}, \"n\": [[[]]]}", "{\"e\":[],\"o\":{},\"n\":[[[]]]}");
    taken("{\"big\": 12345678901234567890}", "{\"big\":12345678901234567890}");
    taken("{\"u\": \"caf\xc3\xa9\"}", "{\"u\":\"caf\xc3\xa9\"}");
}

static void test_refused(void)
{
    REFUSED("");
    REFUSED("   ");
    REFUSED("[1,2]");      /* not an object */
    REFUSED("\"text\"");   /* nor this */
    REFUSED("42");         /* nor this */
    REFUSED("{} {}");      /* two values */
    REFUSED("{}x");        /* bytes after it */
    REFUSED("{");          /* unterminated */
    REFUSED("{\"a\":1,}"); /* trailing comma */
    REFUSED("{\"a\" 1}");  /* no colon */
    REFUSED("{\"a\":1]");  /* wrong closer */
    REFUSED("{\"a\":[1}"); /* wrong closer */
    REFUSED("{a:1}");      /* bare key */
    REFUSED("{\"a\":01}"); /* cJSON's leniencies are for cJSON to judge */
    REFUSED("{\"a\":1.}");
    REFUSED("{\"a\":.5}");
    REFUSED("{\"a\":+1}");
    REFUSED("{\"a\":1e400}"); /* a double's infinity: cJSON prints null */
    REFUSED("{\"a\":tru}");
    REFUSED("{\"a\":\"\\u0000\"}"); /* cJSON cuts the string there */
    REFUSED("{\"a\":\"\\ud83d\\ude00\"}");
    REFUSED("{\"a\":\"\\x\"}");
    REFUSED("{\"a\":\"\\u12\"}");
    REFUSED("{\"a\":\"tab\there\"}"); /* raw control character in a string */
    REFUSED("{\"a\":1}\0");
    REFUSED("{\"a\":\"x\0y\"}");
    REFUSED("\f{}"); /* cJSON skips any control character as white space; JSON does not */
    /* nesting beyond JSONTEXT_MAX_DEPTH */
    size_t n = JSONTEXT_MAX_DEPTH + 1;
    char *deep = xmalloc(2 * n + 8);
    char *p = deep;
    *p++ = '{', *p++ = '"', *p++ = 'a', *p++ = '"', *p++ = ':';
    for (size_t i = 0; i < n; i++)
        *p++ = '[';
    for (size_t i = 0; i < n; i++)
        *p++ = ']';
    *p++ = '}';
    refused(deep, (size_t)(p - deep));
    /* within it: taken */
    p = deep;
    *p++ = '{', *p++ = '"', *p++ = 'a', *p++ = '"', *p++ = ':';
    for (size_t i = 0; i < n - 2; i++)
        *p++ = '[';
    for (size_t i = 0; i < n - 2; i++)
        *p++ = ']';
    *p++ = '}';
    char *got = compact(deep, (size_t)(p - deep));
    CHECK(got != NULL);
    free(got);
    free(deep);
}

/* jsontext_string writes what cJSON prints for the same (sanitized) string. */
static void same_as_cjson(const char *s, size_t len)
{
    size_t n = 0;
    char *got = jsontext_string(s, len, NULL, NULL, &n);
    char *clean = utf8_sanitize(s, len);
    cJSON *j = cJSON_CreateString(clean);
    char *want = cJSON_PrintUnformatted(j);
    CHECK_STR(got, want);
    CHECK(n == strlen(got));
    cJSON_free(want);
    cJSON_Delete(j);
    free(clean);
    free(got);
}

#define SAME(lit) same_as_cjson(lit, sizeof lit - 1)

static void test_add_string(void)
{
    SAME("");
    SAME("plain text");
    SAME("{\"status\":\"ok\",\"path\":\"a\\\\b/c\"}");
    SAME("\b\f\n\r\t\x01\x1f\x7f end");
    SAME("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80");
    SAME("bad \xff byte, cut \xe2\x82 sequence");
    SAME("before\0after"); /* NUL is no UTF-8 text either */
    char *framed = jsontext_string("a\"b", 3, "[", "]", NULL);
    CHECK_STR(framed, "[\"a\\\"b\"]");
    free(framed);
    char all[256];
    for (int i = 1; i < 256; i++)
        all[i - 1] = (char)i;
    same_as_cjson(all, 255);
}

/* The eight-bytes-at-a-time scan: every special byte at every offset of a word, in strings
 * of every length around the word size, against cJSON; and the same strings inside an object
 * for the compact copy. */
static void test_words(void)
{
    static const char specials[] = {'"', '\\', '\n', '\x01', '\x1f', '\0', '\x7f', (char)0xc3};
    char s[40], obj[200];
    for (size_t len = 0; len <= 24; len++)
        for (size_t at = 0; at < len; at++)
            for (size_t k = 0; k < sizeof specials; k++) {
                memset(s, 'x', len);
                s[at] = specials[k];
                same_as_cjson(s, len);
                if (specials[k] == '"' || specials[k] == '\\' ||
                    (unsigned char)specials[k] < 0x20 || (unsigned char)specials[k] >= 0x80)
                    continue; /* not valid inside a string literal as is */
                int n = snprintf(obj, sizeof obj, "{\"k\":\"%.*s\",\"n\":1}", (int)len, s);
                char out[200];
                size_t outlen;
                CHECK(jsontext_compact_object(obj, (size_t)n, out, &outlen));
                CHECK_STR(out, obj);
            }
    /* escapes cut by a word boundary */
    for (size_t pad = 0; pad < 9; pad++) {
        int n =
            snprintf(obj, sizeof obj, "{\"%.*s\\\"q\\u00e9\":[\"a\\\\\"]}", (int)pad, "yyyyyyyyy");
        char out[200];
        size_t outlen;
        CHECK(jsontext_compact_object(obj, (size_t)n, out, &outlen));
        CHECK_STR(out, obj);
    }
}

/* jsontext_compact_object_lit gives the compact copy jsontext_compact_object gives and the
 * string literal cJSON prints for the text (quotes aside), within 2 * len bytes, for texts
 * dense in quotes and backslashes at every alignment; false for a text that is not UTF-8. */
static void lit_same(const char *s, size_t len)
{
    char *lit = calloc(1, 2 * len + 1), *out = calloc(1, len + 1), *want_out = calloc(1, len + 1);
    size_t litlen = 0, outlen = 0, want_len = 0;
    CHECK(jsontext_compact_object(s, len, want_out, &want_len));
    CHECK(jsontext_compact_object_lit(s, len, out, &outlen, lit, &litlen));
    CHECK(outlen == want_len && memcmp(out, want_out, outlen) == 0);
    CHECK(litlen <= 2 * len);
    char *copy = calloc(1, len + 1);
    memcpy(copy, s, len);
    cJSON *j = cJSON_CreateString(copy);
    char *want = cJSON_PrintUnformatted(j);
    CHECK(strlen(want) == litlen + 2 && memcmp(want + 1, lit, litlen) == 0);
    if (strlen(want) != litlen + 2 || memcmp(want + 1, lit, litlen) != 0)
        fprintf(stderr, "  got: %.*s\n  want: %s\n", (int)litlen, lit, want);
    cJSON_free(want);
    cJSON_Delete(j);
    free(copy);
    free(lit);
    free(out);
    free(want_out);
}

static void test_compact_lit(void)
{
    static const char *const texts[] = {
        "{\"a\":\"b\",\"cc\":\"\\\"q\\\\\",\"d\":[1,2,\"\"]}",
        "{\n\t\"pretty\": [1, 2.5],\r\n  \"u\": \"caf\xc3\xa9 \\u00e9 \xe2\x82\xac\\/\"\n}",
        "{\"\":\"\",\"a\":\"\\\"\\\"\\\"\\\"\\\\\\\\\"}",
        "{\"long\":\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"}",
        "{\"t\":true,\"f\":false,\"n\":null,\"e\":{},\"l\":[]}",
    };
    char buf[256];
    for (size_t t = 0; t < sizeof texts / sizeof *texts; t++)
        for (size_t pad = 0; pad < 9; pad++) {
            int n = snprintf(buf, sizeof buf, "%.*s%s\n", (int)pad, " \t\r\n \t\r\n ", texts[t]);
            lit_same(buf, (size_t)n);
        }
    /* white space that needs an escape at every offset */
    for (size_t at = 0; at < 20; at++) {
        int n = snprintf(buf, sizeof buf, "{\"k\":\"%.*s\"%s}", (int)at, "xxxxxxxxxxxxxxxxxxxx",
                         "\t\n \r");
        lit_same(buf, (size_t)n);
    }
    char out[64], lit[128];
    size_t a, b;
    CHECK(!jsontext_compact_object_lit("{\"a\":\"\xff\"}", 9, out, &a, lit, &b));
    CHECK(!jsontext_compact_object_lit("{\"a\":\"\x01\"}", 9, out, &a, lit, &b));
    CHECK(!jsontext_compact_object_lit("[1]", 3, out, &a, lit, &b));
    /* a byte that is not UTF-8 far into a long string (seen by the word scan) */
    static const char bad_long[] = "{\"k\":\"xxxxxxxxxxxxxxxxxxxxxx\xffxxxxxxxxxxxxxxx\"}";
    CHECK(!jsontext_compact_object_lit(bad_long, sizeof bad_long - 1, out, &a, lit, &b));
    lit_same("{\"k\":\"xxxxxxxxxxxxxxxxxxxxxx\xc3\xa9xxxxxxxxxxxxxxx\"}", 47);
}

int main(void)
{
    RUN(test_compact_lit());
    RUN(test_words());
    RUN(test_compact());
    RUN(test_refused());
    RUN(test_add_string());
    return harness_report();
}
