/*
 * Unit tests for jsontext: its string literals are byte for byte what cJSON prints.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "base/jsontext.h"
#include "base/util.h"
#include "harness.h"

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
 * of every length around the word size, against cJSON. */
static void test_words(void)
{
    static const char specials[] = {'"', '\\', '\n', '\x01', '\x1f', '\0', '\x7f', (char)0xc3};
    char s[40];
    for (size_t len = 0; len <= 24; len++)
        for (size_t at = 0; at < len; at++)
            for (size_t k = 0; k < sizeof specials; k++) {
                memset(s, 'x', len);
                s[at] = specials[k];
                same_as_cjson(s, len);
            }
}

/* jsontext_is_printed is never wrong: when it says yes, cJSON prints exactly the text. */
static bool printed_checked(const char *text, size_t len)
{
    cJSON *doc = cJSON_ParseWithLength(text, len);
    if (!doc)
        return false;
    char *want = cJSON_PrintUnformatted(doc);
    bool got = jsontext_is_printed(doc, text, len);
    if (got)
        CHECK(want && strlen(want) == len && memcmp(want, text, len) == 0);
    cJSON_free(want);
    cJSON_Delete(doc);
    return got;
}

#define PRINTED(lit) printed_checked(lit, sizeof lit - 1)

static void test_is_printed(void)
{
    /* compact answers with plain strings and integers: the text is the print */
    CHECK(PRINTED("{}"));
    CHECK(PRINTED("[]"));
    CHECK(PRINTED("{\"a\":1,\"b\":[true,false,null],\"c\":{\"d\":\"e\"},\"f\":-42,\"g\":0}"));
    CHECK(PRINTED("[\"caf\xc3\xa9\",\"\",999999999999999,-999999999999999,{}]"));
    CHECK(PRINTED("{\"a\":1,\"a\":2}")); /* duplicate keys: cJSON keeps and prints both */
    CHECK(PRINTED("\"just a string\""));
    CHECK(PRINTED("12"));
    /* anything cJSON writes otherwise, or that is not taken: no */
    CHECK(!PRINTED("{\"a\": 1}"));
    CHECK(!PRINTED(" {\"a\":1}"));
    CHECK(!PRINTED("{\"a\":1} "));
    CHECK(!PRINTED("{\"a\":1.0}"));
    CHECK(!PRINTED("{\"a\":1.5}")); /* printed the same, but not an integer: not taken */
    CHECK(!PRINTED("{\"a\":1e3}"));
    CHECK(!PRINTED("{\"a\":-0}"));
    CHECK(!PRINTED("{\"a\":01}"));
    CHECK(!PRINTED("{\"a\":1000000000000000}")); /* 10^15: not taken */
    CHECK(!PRINTED("{\"a\":\"\\/\"}"));
    CHECK(!PRINTED("{\"a\":\"\\u00e9\"}"));
    CHECK(!PRINTED("{\"a\":\"x\\\"y\"}")); /* printed the same, but escaped: not taken */
    CHECK(!PRINTED("{\"a\":\"x\ny\"}"));   /* cJSON takes a raw control byte, prints \n */
    CHECK(!PRINTED("{\"k\\n\":1}"));
    CHECK(!PRINTED("{\"a\":\"ab\\u0000cd\"}"));
    CHECK(!PRINTED("[1,2]x"));
    CHECK(!jsontext_is_printed(NULL, "", 0));
    /* a tree that is not the text: no */
    cJSON *doc = cJSON_Parse("{\"a\":[1,2]}");
    CHECK(!jsontext_is_printed(doc, "{\"a\":[1,3]}", 11));
    CHECK(!jsontext_is_printed(doc, "{\"a\":[1,2]", 10));
    CHECK(!jsontext_is_printed(doc, "{\"a\":[1,2]}}", 12));
    CHECK(jsontext_is_printed(doc, "{\"a\":[1,2]}", 11));
    /* raw nodes (big integers' digits) print as they are */
    cJSON_AddItemToObject(doc, "big", cJSON_CreateRaw("12345678901234567890"));
    CHECK(jsontext_is_printed(doc, "{\"a\":[1,2],\"big\":12345678901234567890}", 38));
    CHECK(!jsontext_is_printed(doc, "{\"a\":[1,2],\"big\":12345678901234567891}", 38));
    cJSON_Delete(doc);
    /* a tree whose string has a quote never matches a text without its escape */
    doc = cJSON_CreateObject();
    cJSON_AddStringToObject(doc, "k", "a\"b");
    CHECK(!jsontext_is_printed(doc, "{\"k\":\"a\"b\"}", 11));
    CHECK(jsontext_is_printed(doc, "{\"k\":\"a\\\"b\"}", 12) == false); /* escaped: not taken */
    cJSON_Delete(doc);
}

/* Every one-byte change and every cut of compact texts: whatever cJSON still reads, a yes is
 * always its exact print. */
static void test_is_printed_mutations(void)
{
    static const char *const texts[] = {
        "{\"id\":42,\"email\":\"a@b.c\",\"tags\":[\"x\",\"y\"],\"n\":null,\"ok\":true,\"m\":{}}",
        "[0,-1,12,[],[{}],\"s\",false]",
    };
    static const char repl[] = "\"\\ {}[],:0123456789-.eEnultrfasx\n\x01";
    char buf[128];
    for (size_t t = 0; t < UTIL_ARRAY_LEN(texts); t++) {
        size_t len = strlen(texts[t]);
        CHECK(printed_checked(texts[t], len));
        for (size_t cut = 0; cut < len; cut++)
            CHECK(!printed_checked(texts[t], cut));
        for (size_t at = 0; at < len; at++)
            for (size_t r = 0; r < sizeof repl - 1; r++) {
                memcpy(buf, texts[t], len);
                buf[at] = repl[r];
                printed_checked(buf, len);
            }
    }
}

/* Strings of every length around the byte-by-byte prefix (16) with an escape or special byte
 * at every offset, as a key and as a value: a yes only for plain ones, always cJSON's print. */
static void test_is_printed_lengths(void)
{
    static const char *const specials[] = {"\\\"", "\\\\", "\\n",     "\\u0001",
                                           "\\/",  "\n",   "\xc3\xa9"};
    char s[64], text[200];
    for (size_t len = 0; len <= 40; len++) {
        memset(s, 'k', len);
        s[len] = '\0';
        snprintf(text, sizeof text, "{\"%s\":\"%s\"}", s, s);
        CHECK(printed_checked(text, strlen(text)));
        for (size_t at = 0; at < len; at++)
            for (size_t k = 0; k < UTIL_ARRAY_LEN(specials); k++) {
                int n = snprintf(text, sizeof text, "{\"%.*s%s%s\":1,\"v\":\"%.*s%s%s\"}", (int)at,
                                 s, specials[k], s + at + 1, (int)at, s, specials[k], s + at + 1);
                bool yes = printed_checked(text, (size_t)n);
                CHECK(yes == (specials[k][0] == '\xc3'));
            }
    }
}

/* jsontext_scan's facts, checked against a byte-by-byte reading of the same text. */
static void facts_checked(const char *s, size_t len)
{
    struct jsontext_facts f;
    jsontext_scan(s, len, &f);
    bool plain = true, ascii = true, word = false;
    size_t quotes = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        plain = plain && c >= 0x20 && c != '\\';
        ascii = ascii && c < 0x80;
        quotes += c == '"';
    }
    for (size_t i = 0; i + 8 <= len; i += 8) {
        bool all = true;
        for (size_t k = 0; k < 8; k++)
            all = all && s[i + k] >= '0' && s[i + k] <= '9';
        word = word || all;
    }
    CHECK(f.plain == plain);
    CHECK(f.ascii == ascii);
    CHECK(f.digit_word == word);
    CHECK(f.quotes == quotes);
    /* the literal written in place is jsontext_string's, when its length is known */
    size_t litlen = jsontext_literal_len(s, len, &f), n = 0;
    char *want = jsontext_string(s, len, NULL, NULL, &n);
    if (plain && (ascii || utf8_valid(s, len, NULL))) {
        CHECK(litlen == n);
        char *got = xmalloc(litlen + 1);
        char *end = jsontext_put_literal(got, s, len, litlen);
        CHECK(end == got + litlen);
        *end = '\0';
        CHECK_STR(got, want);
        free(got);
    } else {
        CHECK(litlen == 0);
    }
    free(want);
}

#define FACTS(lit) facts_checked(lit, sizeof lit - 1)

static void test_scan(void)
{
    FACTS("");
    FACTS("{\"a\":1}");
    FACTS("{\"id\":12345678,\"x\":\"y\"}");     /* eight digits, not at a multiple of 8 */
    FACTS("{\"id\":\"12345678901234567890\"}"); /* a digit word */
    FACTS("01234567");
    FACTS("0123456:"); /* ':' is 0x3A, just past '9' */
    FACTS("/0123456"); /* '/' is 0x2F, just before '0' */
    FACTS("{\"a\":\"b\\\\c\"}");
    FACTS("tab\there");
    FACTS("caf\xc3\xa9 \"quoted\" \xe2\x82\xac");
    FACTS("bad \xff byte");
    FACTS("nul\0byte");
    /* every special byte at every offset, lengths around the word size */
    static const char specials[] = {'"', '\\', '\n', '\0', '5', (char)0xc3, (char)0xff};
    char s[40];
    for (size_t len = 0; len <= 24; len++)
        for (size_t at = 0; at < len; at++)
            for (size_t k = 0; k < sizeof specials; k++) {
                memset(s, 'x', len);
                s[at] = specials[k];
                facts_checked(s, len);
                memset(s, '7', len); /* digit words, one byte changed */
                s[at] = specials[k];
                facts_checked(s, len);
            }
    /* many quotes: the per-lane count must not wrap (31 words of 8 quotes and more) */
    static char q[8 * 80 + 5];
    for (size_t len = 0; len < sizeof q; len += 37) {
        memset(q, '"', len);
        facts_checked(q, len);
    }
    memset(q, '"', sizeof q);
    facts_checked(q, sizeof q);
}

int main(void)
{
    RUN(test_scan());
    RUN(test_is_printed_lengths());
    RUN(test_is_printed());
    RUN(test_is_printed_mutations());
    RUN(test_words());
    RUN(test_add_string());
    return harness_report();
}
