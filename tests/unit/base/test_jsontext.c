/*
 * Unit tests for jsontext: its string literals are byte for byte what cJSON prints.
 */
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

int main(void)
{
    RUN(test_words());
    RUN(test_add_string());
    return harness_report();
}
