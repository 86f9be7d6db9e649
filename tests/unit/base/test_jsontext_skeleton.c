/*
 * jsontext_is_printed_object: named cases, mutations, and the skeleton argument at its edges.
 * Each text is judged from an allocation of exactly its length (ASan sees a read past it), small
 * (the skeleton on the stack) and padded beyond 1024 bytes by a long string member (the skeleton
 * on the heap), and compared with what cJSON says of the whole text: one object that prints
 * back byte for byte.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "base/jsonnum.h"
#include "base/jsontext.h"
#include "base/util.h"
#include "harness.h"

/* What the passthrough's general path says: one object, printed as it is. */
static bool oracle(const char *s, size_t len)
{
    cJSON *doc = jsonnum_parse_exact(s, len, NULL);
    char *p = cJSON_IsObject(doc) ? cJSON_PrintUnformatted(doc) : NULL;
    bool same = p && strlen(p) == len && memcmp(p, s, len) == 0;
    cJSON_free(p);
    cJSON_Delete(doc);
    return same;
}

/* The verdict on <s>[0..len) held in an allocation of exactly <len> bytes; never a yes the
 * oracle denies. */
static bool judged(const char *s, size_t len)
{
    char *copy = xmalloc(len ? len : 1);
    memcpy(copy, s, len);
    struct jsontext_facts f;
    jsontext_scan(copy, len, &f);
    bool got = jsontext_is_printed_object(copy, len, &f);
    if (got && !oracle(copy, len))
        fprintf(stderr, "  said yes to %.*s\n", (int)(len < 200 ? len : 200), s);
    CHECK(!got || oracle(copy, len));
    free(copy);
    return got;
}

/* <text> (an object text "{...") with a first member "p":"xxx..." that makes it longer than
 * 1024 bytes, so that the skeleton is on the heap. */
static char *padded(const char *text, size_t *len)
{
    struct strbuf b;
    strbuf_init(&b, 0);
    strbuf_adds(&b, "{\"p\":\"");
    for (int i = 0; i < 1100; i++)
        strbuf_addc(&b, (char)('a' + i % 26));
    strbuf_adds(&b, "\"");
    if (text[0] == '{' && text[1] != '}' && text[1] != '\0')
        strbuf_addc(&b, ',');
    strbuf_adds(&b, text + (text[0] == '{'));
    return strbuf_detach(&b, len);
}

/* Same verdict for <text> small and padded (when it starts as an object), and <want>. */
static void edge(const char *text, bool want)
{
    size_t n = strlen(text);
    CHECK(judged(text, n) == want);
    if (text[0] == '{') {
        size_t plen;
        char *p = padded(text, &plen);
        CHECK(judged(p, plen) == want);
        free(p);
    }
}

/* A literal judged as above: never a yes the oracle denies. */
#define OBJECT(lit) judged(lit, sizeof lit - 1)

static void test_is_printed_object(void)
{
    /* what cJSON prints as it is: yes */
    CHECK(OBJECT("{}"));
    CHECK(OBJECT("{\"a\":{}}"));
    CHECK(OBJECT("{\"a\":[]}"));
    CHECK(OBJECT("{\"a\":1,\"b\":[true,false,null],\"c\":{\"d\":\"e\"},\"f\":-42,\"g\":0}"));
    CHECK(OBJECT("{\"a\":[[1,[2,[3,[]]]],[{\"b\":[null]}]]}"));
    CHECK(OBJECT("{\"a\":1,\"a\":2}")); /* duplicate keys: cJSON keeps and prints both */
    CHECK(OBJECT("{\"\":\"\"}"));
    CHECK(OBJECT("{\"caf\xc3\xa9\":\"\xe2\x82\xac \xf0\x9f\x98\x80\",\"k\":\"a b\"}"));
    CHECK(OBJECT("{\"bad\":\"\xff\xfe\",\"del\":\"\x7f\"}")); /* cJSON copies such bytes */
    CHECK(OBJECT("{\"n\":1.5,\"m\":-0.25,\"z\":0.0001,\"y\":-0.0123}"));
    CHECK(OBJECT("{\"n\":999999999999999,\"m\":-999999999999999,\"f\":12345678.1234567}"));
    CHECK(OBJECT("{\"n\":0.000123456789012345,\"m\":123456789012345}"));
    CHECK(OBJECT("{\"s\":\"1e2 , : { [ -0 01\"}")); /* in a string: anything plain */
    /* what cJSON prints otherwise, or where it is unsure: no (the caller compares) */
    CHECK(!OBJECT("{\"a\":1.0}"));
    CHECK(!OBJECT("{\"a\":1.}"));
    CHECK(!OBJECT("{\"a\":1.50}"));
    CHECK(!OBJECT("{\"a\":1e2}"));
    CHECK(!OBJECT("{\"a\":1E2}"));
    CHECK(!OBJECT("{\"a\":1e+2}"));
    CHECK(!OBJECT("{\"a\":-0}"));
    CHECK(!OBJECT("{\"a\":-0.0}"));
    CHECK(!OBJECT("{\"a\":01}"));
    CHECK(!OBJECT("{\"a\":-01}"));
    CHECK(!OBJECT("{\"a\":0.00001}"));          /* %g: 1e-05 */
    CHECK(!OBJECT("{\"a\":1000000000000000}")); /* 10^15, %g: 1e+15 */
    CHECK(!OBJECT("{\"a\":1e15}"));
    CHECK(!OBJECT("{\"a\":123456789012345678}")); /* its digits are kept, but not taken here */
    CHECK(!OBJECT("{\"a\":1234567890123456}"));
    CHECK(!OBJECT("{\"a\":0.1234567890123456}")); /* 16 significant digits */
    CHECK(!OBJECT("{\"a\":1.234567890123456}"));
    CHECK(!OBJECT("{\"a\":-}"));
    CHECK(!OBJECT("{\"a\":-x}"));
    CHECK(!OBJECT("{\"a\": 1}"));
    CHECK(!OBJECT(" {\"a\":1}"));
    CHECK(!OBJECT("{\"a\":1} "));
    CHECK(!OBJECT("{\"a\":1}\n"));
    CHECK(!OBJECT("{\n\"a\":1\n}"));
    CHECK(!OBJECT("{\t\"a\":1}"));
    CHECK(!OBJECT("\xef\xbb\xbf{\"a\":1}")); /* a byte-order mark cJSON skips */
    CHECK(!OBJECT("{\"a\":\"\\/\"}"));
    CHECK(!OBJECT("{\"a\":\"\\u00e9\"}"));
    CHECK(!OBJECT("{\"a\":\"x\\\"y\"}"));
    CHECK(!OBJECT("{\"a\":\"x\ny\"}"));
    CHECK(!OBJECT("{\"a\":\"ab\\u0000cd\"}"));
    /* not one JSON object: no */
    CHECK(!OBJECT(""));
    CHECK(!OBJECT("[]"));
    CHECK(!OBJECT("[1,2]"));
    CHECK(!OBJECT("\"s\""));
    CHECK(!OBJECT("12"));
    CHECK(!OBJECT("null"));
    CHECK(!OBJECT("{\"a\":1}{\"b\":2}"));
    CHECK(!OBJECT("{\"a\":1}x"));
    CHECK(!OBJECT("{\"a\":1"));
    CHECK(!OBJECT("{\"a\"}"));
    CHECK(!OBJECT("{\"a\":}"));
    CHECK(!OBJECT("{\"a\":1,}"));
    CHECK(!OBJECT("{\"a\":[1,]}"));
    CHECK(!OBJECT("{\"a\":tru}"));
    CHECK(!OBJECT("{\"a\":nul}"));
    CHECK(!OBJECT("{\"a\":nulll}"));
    CHECK(!OBJECT("{\"a\":truefalse}"));
    CHECK(!OBJECT("{\"a\":1 2}"));
    CHECK(!OBJECT("{\"a\":1-2}"));
    CHECK(!OBJECT("{\"a\":1.2.3}"));
    CHECK(!OBJECT("{1:2}"));
    CHECK(!OBJECT("{\"a\":\"b}"));
    CHECK(!OBJECT("{\"a\":\"b\"\"c\"}"));
    CHECK(!OBJECT("{\"a\"::1}"));
    CHECK(!OBJECT("{\"a\":{\"b\":1}"));
    CHECK(!OBJECT("{\"a\":\"b\"}}"));
    CHECK(!OBJECT("{\"a\":[}"));
    CHECK(!judged("{\"a\":\"b\0\"}", 9));
    /* deep nesting: cJSON's limit (1000) holds for the skeleton too */
    char deep[2 * 1100 + 16];
    for (size_t depth = 998; depth <= 1002; depth++) {
        size_t n = 0;
        deep[n++] = '{', deep[n++] = '"', deep[n++] = 'a', deep[n++] = '"', deep[n++] = ':';
        for (size_t i = 1; i < depth; i++)
            deep[n++] = '[';
        deep[n++] = '1';
        for (size_t i = 1; i < depth; i++)
            deep[n++] = ']';
        deep[n++] = '}';
        cJSON *doc = cJSON_ParseWithLength(deep, n);
        CHECK(judged(deep, n) == (doc != NULL));
        cJSON_Delete(doc);
    }
    /* a big document (the skeleton then lives on the heap), and every number of a list */
    struct strbuf big;
    strbuf_init(&big, 0);
    strbuf_addf(&big, "{\"items\":[");
    for (int i = 0; i < 2000; i++)
        strbuf_addf(&big, "%s{\"id\":%d,\"name\":\"item %d\",\"ok\":%s,\"v\":%d.%d}", i ? "," : "",
                    i * 7919 - 5000, i, i % 2 ? "true" : "false", i, i % 9 + 1);
    strbuf_addf(&big, "],\"n\":1}");
    CHECK(judged(big.data, big.len));
    CHECK(!judged(big.data, big.len - 1));
    strbuf_deinit(&big);
    CHECK(judged("{\"a\":[1,2,3,4,5,6,7,8,9]}", 25)); /* one-digit numbers grow */
}

/* Every one-byte change and every cut of compact texts: whatever the skeleton lets through,
 * cJSON reads the whole text and prints it as it is. */
static void test_is_printed_object_mutations(void)
{
    static const char *const texts[] = {
        "{\"id\":42,\"email\":\"a@b.c\",\"tags\":[\"x\",\"y\"],\"n\":null,\"ok\":true,\"m\":{}}",
        "{\"a\":[0,-1,12.5,0.001,[],[{}],\"s\",false],\"b\":{\"c\":{\"d\":[true]}}}",
    };
    static const char repl[] = "\"\\ {}[],:0123456789-+.eEnultrfasx\n\x01\xc3";
    char buf[128];
    for (size_t t = 0; t < UTIL_ARRAY_LEN(texts); t++) {
        size_t len = strlen(texts[t]);
        CHECK(judged(texts[t], len));
        for (size_t cut = 0; cut < len; cut++)
            CHECK(!judged(texts[t], cut));
        for (size_t at = 0; at < len; at++)
            for (size_t r = 0; r < sizeof repl - 1; r++) {
                memcpy(buf, texts[t], len);
                buf[at] = repl[r];
                judged(buf, len);
                /* and two bytes: a pair of changes moves strings' bounds */
                for (size_t at2 = at + 1; at2 < len; at2 += 3) {
                    char keep = buf[at2];
                    buf[at2] = repl[(r + at2) % (sizeof repl - 1)];
                    judged(buf, len);
                    buf[at2] = keep;
                }
            }
    }
}

/* a number next to letters: null stands for it in the skeleton, and must not make a token */
static void test_number_and_letters(void)
{
    edge("{\"a\":1null}", false);
    edge("{\"a\":nul1}", false);
    edge("{\"a\":nu1}", false);
    edge("{\"a\":n1}", false);
    edge("{\"a\":tru1}", false);
    edge("{\"a\":fals0}", false);
    edge("{\"a\":0true}", false);
    edge("{\"a\":1ull}", false);
    edge("{\"a\":1a}", false);
    edge("{\"a\":1f}", false);
    edge("{\"a\":true1}", false);
    edge("{\"a\":[1null,2]}", false);
    edge("{\"a\":[null1]}", false);
    edge("{\"a\":[1,true,null,false,2]}", true);
}

/* '-' in every place a number can have one */
static void test_minus_forms(void)
{
    edge("{\"a\":-1}", true);
    edge("{\"a\":-0.5}", true);
    edge("{\"a\":--1}", false);
    edge("{\"a\":-.5}", false);
    edge("{\"a\":-1-}", false);
    edge("{\"a\":1-1}", false);
    edge("{\"a\":-}", false);
    edge("{\"a\":[-]}", false);
    edge("{\"a\":-null}", false);
    edge("{\"a\":-\"x\"}", false);
    edge("{\"a\":-0}", false);
    edge("{\"a\":[1,-2,-3.25]}", true);
}

/* strings and numbers without separators, and a quote at the very end */
static void test_adjacent_and_ends(void)
{
    edge("{\"a\":1\"b\"}", false);
    edge("{\"a\":\"b\"1}", false);
    edge("{\"a\":[\"x\"\"y\"]}", false);
    edge("{\"a\":[1\"y\"]}", false);
    edge("{\"a\":\"", false);
    edge("{\"a\":\"\"", false);
    edge("{\"", false);
    edge("{\"\"", false);
    edge("{\"\":", false);
    edge("{\"\":\"\"}", true);
    edge("\"", false);
    edge("\"\"", false);
}

/* a string without ':' after it is null in the skeleton: a key position must still refuse it,
 * a value position take it */
static void test_strings_as_values(void)
{
    edge("{\"a\"}", false);
    edge("{\"a\",\"b\":1}", false);
    edge("{\"a\":\"b\":1}", false);
    edge("{\"a\":[\"x\":1]}", false);
    edge("{\"a\":{\"x\"}}", false);
    edge("{\"a\":\"b\",}", false);
    edge("{\"a\":\"b\"\"c\":1}", false);
    edge("{\"a\":\"b\"null}", false);
    edge("{\"a\":\"b\"}", true);
    edge("{\"a\":[\"x\",\"y\",[\"z\"]],\"b\":{\"c\":\"d\"}}", true);
    edge("{\"a\":\"\"}", true);
}

/* bodies of length 1 to 4 */
static void test_short_bodies(void)
{
    static const char *const yes[] = {"{}"};
    static const char *const no[] = {"{",    "}",    "1",    "-",   "\"",  " ",   "[]",
                                     "{} ",  " {}",  "{{}}", "{1}", "{:}", "{,}", "{\"}",
                                     "null", "true", "{}}",  "12",  "-1"};
    for (size_t i = 0; i < UTIL_ARRAY_LEN(yes); i++)
        CHECK(judged(yes[i], strlen(yes[i])));
    for (size_t i = 0; i < UTIL_ARRAY_LEN(no); i++)
        CHECK(!judged(no[i], strlen(no[i])));
    /* every byte string of length 1 and 2, and of 3 and 4 from the bytes JSON is made of */
    static const char alpha[] = "{}[]\":,0-1.en ";
    char b[4];
    for (int c0 = 0; c0 < 256; c0++) {
        b[0] = (char)c0;
        judged(b, 1);
        for (int c1 = 0; c1 < 256; c1++) {
            b[1] = (char)c1;
            judged(b, 2);
        }
    }
    size_t na = sizeof alpha - 1;
    for (size_t i = 0; i < na * na * na * na; i++) {
        size_t k = i;
        for (int j = 0; j < 4; j++, k /= na)
            b[j] = alpha[k % na];
        judged(b, 3);
        judged(b, 4);
    }
}

/* the heap path at the edge: 1024 bytes is the stack's last length, 1025 the heap's first */
static void test_stack_heap_edge(void)
{
    for (size_t len = 1020; len <= 1030; len++) {
        /* {"s":"aaa...","n":1} of exactly <len> bytes */
        char *t = xmalloc(len + 1);
        size_t fixed = strlen("{\"s\":\"\",\"n\":1}");
        memcpy(t, "{\"s\":\"", 6);
        memset(t + 6, 'a', len - fixed);
        memcpy(t + 6 + len - fixed, "\",\"n\":1}", 8);
        t[len] = '\0';
        CHECK(judged(t, len));
        CHECK(!judged(t, len - 1));
        t[len - 2] = 'x'; /* "n":x} */
        CHECK(!judged(t, len));
        free(t);
    }
}

int main(void)
{
    RUN(test_is_printed_object());
    RUN(test_is_printed_object_mutations());
    RUN(test_number_and_letters());
    RUN(test_minus_forms());
    RUN(test_adjacent_and_ends());
    RUN(test_strings_as_values());
    RUN(test_short_bodies());
    RUN(test_stack_heap_edge());
    return harness_report();
}
