/*
 * jsontext_is_printed_object: the skeleton argument at its edges. Each text
 * is judged from an allocation of exactly its length (ASan sees a read past it), small (the
 * skeleton on the stack) and padded beyond 1024 bytes by a long string member (the skeleton on
 * the heap), and compared with what cJSON says of the whole text: one object that prints back
 * byte for byte.
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
    RUN(test_number_and_letters());
    RUN(test_minus_forms());
    RUN(test_adjacent_and_ends());
    RUN(test_strings_as_values());
    RUN(test_short_bodies());
    RUN(test_stack_heap_edge());
    return harness_report();
}
