/*
 * Unit tests for urlenc: segment and query encoding (including the injection cases of
 * evhttp-curl-multi.md section 11), strict decoding, and the value checks.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "spec/urlenc.h"
#include "base/util.h"

/* Encode C string <in> as a segment and return the result (valid until the next call). */
static const char *seg(const char *in)
{
    static struct strbuf b;
    strbuf_deinit(&b);
    strbuf_init(&b, 0);
    if (urlenc_segment(in, strlen(in), &b) < 0)
        return "(error)";
    return b.data;
}

static const char *query(const char *in)
{
    static struct strbuf b;
    strbuf_deinit(&b);
    strbuf_init(&b, 0);
    if (urlenc_query(in, strlen(in), &b) < 0)
        return "(error)";
    return b.data;
}

/* Decode; returns "(error)" on failure. *<len> receives the decoded length. */
static const char *dec(const char *in, bool plus, size_t *len)
{
    static struct strbuf b;
    strbuf_deinit(&b);
    strbuf_init(&b, 0);
    if (urlenc_decode(in, strlen(in), plus, &b) < 0)
        return "(error)";
    if (len)
        *len = b.len;
    return b.data;
}

static bool seg_ok(const char *v)
{
    return urlenc_segment_value_ok(v, strlen(v));
}

static bool hdr_ok(const char *v)
{
    return urlenc_header_value_ok(v, strlen(v));
}

static void test_segment(void)
{
    CHECK_STR(seg("42"), "42");
    CHECK_STR(seg("AZaz09-._~"), "AZaz09-._~");
    CHECK_STR(seg(""), "");
    CHECK_STR(seg("a/b"), "a%2Fb");
    CHECK_STR(seg("a?b#c"), "a%3Fb%23c");
    CHECK_STR(seg("100%"), "100%25");
    CHECK_STR(seg("%2F"), "%252F");
    CHECK_STR(seg("a+b c"), "a%2Bb%20c");
    CHECK_STR(seg("\xc3\xbc"), "%C3%BC"); /* ü, uppercase hex */
    CHECK_STR(seg("x\r\ny"), "x%0D%0Ay");
    CHECK_STR(seg("a\\b"), "a%5Cb");
    CHECK_STR(seg("&=;:@!$'()*,"), "%26%3D%3B%3A%40%21%24%27%28%29%2A%2C");
    CHECK_STR(seg("\x7f\xff"), "%7F%FF");
    /* dot segments would be squashed by curl: escaped as a whole */
    CHECK_STR(seg("."), "%2E");
    CHECK_STR(seg(".."), "%2E%2E");
    CHECK_STR(seg("..."), "...");
    CHECK_STR(seg("a.b"), "a.b");
    CHECK_STR(seg("../etc"), "..%2Fetc");

    /* an embedded NUL is encoded, not a terminator */
    struct strbuf b;
    strbuf_init(&b, 0);
    CHECK(urlenc_segment("a\0b", 3, &b) == 0);
    CHECK_STR(b.data, "a%00b");

    /* appends to what is there */
    strbuf_reset(&b);
    strbuf_adds(&b, "/users/");
    CHECK(urlenc_segment("a b", 3, &b) == 0);
    CHECK_STR(b.data, "/users/a%20b");
    strbuf_deinit(&b);

    /* a long input crosses the internal chunk boundary many times */
    char big[1000];
    memset(big, '/', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    const char *e = seg(big);
    CHECK(strlen(e) == 3 * (sizeof big - 1));
    CHECK(strncmp(e, "%2F%2F", 6) == 0 && strcmp(e + strlen(e) - 3, "%2F") == 0);
    CHECK(strchr(e, '/') == NULL);
}

static void test_segment_cap(void)
{
    struct strbuf b;
    strbuf_init(&b, 8);
    strbuf_adds(&b, "/u/");
    /* "a/b" -> "a%2Fb" (5): fits 3 + 5 = 8 exactly */
    CHECK(urlenc_segment("a/b", 3, &b) == 0);
    CHECK_STR(b.data, "/u/a%2Fb");
    /* one more byte does not fit: buffer unchanged */
    CHECK(urlenc_segment("x", 1, &b) == -1);
    CHECK_STR(b.data, "/u/a%2Fb");
    CHECK(b.len == 8);
    strbuf_deinit(&b);

    /* failure after a chunk was flushed still leaves the buffer as it was */
    char big[600];
    memset(big, ' ', sizeof big);
    strbuf_init(&b, 1000);
    strbuf_adds(&b, "keep");
    CHECK(urlenc_segment(big, sizeof big, &b) == -1);
    CHECK_STR(b.data, "keep");
    CHECK(b.len == 4);
    CHECK(urlenc_query(big, sizeof big, &b) == -1);
    CHECK_STR(b.data, "keep");
    strbuf_deinit(&b);
}

static void test_query(void)
{
    CHECK_STR(query("a+b c"), "a%2Bb%20c");
    CHECK_STR(query("a&b=c"), "a%26b%3Dc");
    CHECK_STR(query("x#y?z"), "x%23y%3Fz");
    CHECK_STR(query("a/b"), "a%2Fb");
    CHECK_STR(query("\xc3\xbc"), "%C3%BC");
    CHECK_STR(query("plain-._~09"), "plain-._~09");
    CHECK_STR(query("."), "."); /* no dot segments in a query */
    CHECK_STR(query("%"), "%25");
    CHECK_STR(query(""), "");
}

static void test_decode(void)
{
    size_t n = 0;
    CHECK_STR(dec("a%20b", false, NULL), "a b");
    CHECK_STR(dec("%C3%BC", false, NULL), "\xc3\xbc");
    CHECK_STR(dec("%c3%bc", false, NULL), "\xc3\xbc"); /* lowercase hex accepted */
    CHECK_STR(dec("a+b", false, NULL), "a+b");         /* '+' is literal in paths */
    CHECK_STR(dec("a+b", true, NULL), "a b");
    CHECK_STR(dec("a%2Bb", true, NULL), "a+b");
    CHECK_STR(dec("a%2Fb", false, NULL), "a/b");
    CHECK_STR(dec("%2e%2e", false, NULL), "..");
    CHECK_STR(dec("", false, &n), "");
    CHECK(n == 0);

    /* NUL and CRLF come out as bytes: the length tells */
    const char *d = dec("a%00b", false, &n);
    CHECK(n == 3 && d[0] == 'a' && d[1] == '\0' && d[2] == 'b');
    CHECK(strlen(d) != n);
    CHECK_STR(dec("x%0d%0ay", false, &n), "x\r\ny");
    CHECK(n == 4);

    /* invalid escapes are rejected, not passed through */
    CHECK_STR(dec("%zz", false, NULL), "(error)");
    CHECK_STR(dec("%4", false, NULL), "(error)");
    CHECK_STR(dec("abc%", false, NULL), "(error)");
    CHECK_STR(dec("%G0", false, NULL), "(error)");
    CHECK_STR(dec("%0G", false, NULL), "(error)");
    CHECK_STR(dec("ok%2", true, NULL), "(error)");

    /* the input is length-bounded: the '%' past <len> is not read */
    struct strbuf b;
    strbuf_init(&b, 0);
    CHECK(urlenc_decode("ab%41", 2, false, &b) == 0);
    CHECK_STR(b.data, "ab");
    /* a truncated escape at the end of the slice is invalid even if the string goes on */
    strbuf_reset(&b);
    CHECK(urlenc_decode("ab%41", 4, false, &b) == -1);
    CHECK(b.len == 0);

    /* failure leaves the buffer unchanged, including after a long valid prefix */
    strbuf_reset(&b);
    strbuf_adds(&b, "keep");
    char big[700];
    memset(big, 'x', sizeof big);
    memcpy(big + sizeof big - 3, "%zz", 3);
    CHECK(urlenc_decode(big, sizeof big, false, &b) == -1);
    CHECK_STR(b.data, "keep");
    CHECK(b.len == 4);
    CHECK(urlenc_decode(big, sizeof big - 3, false, &b) == 0);
    CHECK(b.len == 4 + sizeof big - 3);
    strbuf_deinit(&b);

    /* cap */
    strbuf_init(&b, 3);
    CHECK(urlenc_decode("%41%42%43", 9, false, &b) == 0);
    CHECK_STR(b.data, "ABC");
    CHECK(urlenc_decode("%41", 3, false, &b) == -1);
    CHECK_STR(b.data, "ABC");
    strbuf_deinit(&b);
}

/* The recipe: decode a captured segment, check it, re-encode it. */
static const char *roundtrip(const char *raw)
{
    static struct strbuf out;
    struct strbuf d;
    const char *res = "(rejected)";

    strbuf_init(&d, 0);
    strbuf_deinit(&out);
    strbuf_init(&out, 0);
    if (urlenc_decode(raw, strlen(raw), false, &d) < 0)
        goto out;
    if (!urlenc_segment_value_ok(d.data, d.len))
        goto out;
    if (urlenc_segment(d.data, d.len, &out) < 0)
        goto out;
    res = out.data;
out:
    strbuf_deinit(&d);
    return res;
}

static void test_injection_roundtrip(void)
{
    CHECK_STR(roundtrip("42"), "42");
    CHECK_STR(roundtrip("a%2Fb"), "(rejected)");
    CHECK_STR(roundtrip(".."), "(rejected)");
    CHECK_STR(roundtrip("%2e%2e"), "(rejected)");
    CHECK_STR(roundtrip("%2E"), "(rejected)");
    CHECK_STR(roundtrip("."), "(rejected)");
    CHECK_STR(roundtrip("a%00b"), "(rejected)");
    CHECK_STR(roundtrip("x%0d%0ay"), "(rejected)");
    CHECK_STR(roundtrip("%5C"), "(rejected)");
    CHECK_STR(roundtrip(""), "(rejected)");
    CHECK_STR(roundtrip("%zz"), "(rejected)");
    CHECK_STR(roundtrip("\xc3\xbc"), "%C3%BC");
    CHECK_STR(roundtrip("a+b%20c"), "a%2Bb%20c");
    CHECK_STR(roundtrip("a%3Fb%23c"), "a%3Fb%23c");
    CHECK_STR(roundtrip("..a"), "..a");
}

static void test_segment_value_ok(void)
{
    CHECK(seg_ok("42"));
    CHECK(seg_ok("a b"));
    CHECK(seg_ok("..."));
    CHECK(seg_ok(".a"));
    CHECK(seg_ok("a..b"));
    CHECK(seg_ok("\xc3\xbc"));
    CHECK(seg_ok("a?b#c%"));
    CHECK(!seg_ok(""));
    CHECK(!seg_ok("."));
    CHECK(!seg_ok(".."));
    CHECK(!seg_ok("a/b"));
    CHECK(!seg_ok("/"));
    CHECK(!seg_ok("a\\b"));
    CHECK(!seg_ok("a\rb"));
    CHECK(!seg_ok("a\nb"));
    CHECK(!seg_ok("a\tb"));
    CHECK(!seg_ok("\x1f"));
    CHECK(!seg_ok("a\x7f"));
    CHECK(!urlenc_segment_value_ok("a\0b", 3));
    CHECK(!urlenc_segment_value_ok("..", 2));
    CHECK(urlenc_segment_value_ok("...", 3));
    CHECK(urlenc_segment_value_ok("..x", 2) == false); /* only <len> bytes count */
    CHECK(!urlenc_segment_value_ok(NULL, 0));
}

static void test_header_value_ok(void)
{
    CHECK(hdr_ok(""));
    CHECK(hdr_ok("Bearer abc.def"));
    CHECK(hdr_ok("a\tb"));
    CHECK(hdr_ok("caf\xc3\xa9")); /* obs-text */
    CHECK(!hdr_ok("a\r\nX-Evil: 1"));
    CHECK(!hdr_ok("a\rb"));
    CHECK(!hdr_ok("a\nb"));
    CHECK(!hdr_ok("\x01"));
    CHECK(!hdr_ok("a\x7f"));
    CHECK(!hdr_ok("\x1b[31m"));
    CHECK(!urlenc_header_value_ok("a\0b", 3));
    CHECK(urlenc_header_value_ok("ab\n", 2)); /* only <len> bytes count */
    CHECK(urlenc_header_value_ok(NULL, 0));
}

static void test_is_unreserved(void)
{
    const char *keep = "ABCXYZabcxyz0189-._~";
    for (const char *k = keep; *k; k++)
        CHECK(urlenc_is_unreserved((unsigned char)*k));
    const char *esc = "/?#%&=+ :@!$'()*,;[]{}\\\"<>^`|";
    for (const char *e = esc; *e; e++)
        CHECK(!urlenc_is_unreserved((unsigned char)*e));
    CHECK(!urlenc_is_unreserved(0));
    CHECK(!urlenc_is_unreserved(0x7F));
    CHECK(!urlenc_is_unreserved(0x80));
    CHECK(!urlenc_is_unreserved(0xFF));
}

/* In place: the bytes after <vstart> are encoded as urlenc_segment does, the prefix is kept. */
static void test_segment_in_place(void)
{
    static const char *const values[] = {"abc", "a b/c?d#e%f", "caf\xC3\xA9", "~-._",
                                         "/",   "%2F",         "a&b=c+d"};
    for (size_t i = 0; i < sizeof values / sizeof *values; i++) {
        struct strbuf want, got;
        strbuf_init(&want, 0);
        strbuf_init(&got, 0);
        strbuf_adds(&want, "/p/");
        urlenc_segment(values[i], strlen(values[i]), &want);
        strbuf_adds(&got, "/p/");
        size_t vstart = got.len;
        strbuf_adds(&got, values[i]);
        CHECK(urlenc_segment_in_place(&got, vstart) == 0);
        CHECK_STR(got.data, want.data);
        strbuf_deinit(&want);
        strbuf_deinit(&got);
    }
    struct strbuf b;
    strbuf_init(&b, 0);
    /* Dot segments are left to the caller, which refuses them before encoding. */
    strbuf_adds(&b, "..");
    CHECK(urlenc_segment_in_place(&b, 0) == 0);
    CHECK_STR(b.data, "..");
    /* Nothing to encode: an empty value, or one the buffer has not allocated. */
    CHECK(urlenc_segment_in_place(&b, b.len) == 0);
    CHECK_STR(b.data, "..");
    strbuf_deinit(&b);
    strbuf_init(&b, 0);
    CHECK(urlenc_segment_in_place(&b, 0) == 0);
    CHECK(b.len == 0);
    strbuf_deinit(&b);
    /* A NUL byte inside the value is escaped too. */
    strbuf_init(&b, 0);
    strbuf_add(&b, "a\0b", 3);
    CHECK(urlenc_segment_in_place(&b, 0) == 0);
    CHECK_STR(b.data, "a%00b");
    strbuf_deinit(&b);
    /* Over the cap: -1 and the buffer as it was. */
    strbuf_init(&b, 8);
    strbuf_adds(&b, "x/a b");
    CHECK(urlenc_segment_in_place(&b, 1) == -1);
    CHECK(b.len == 5);
    CHECK_STR(b.data, "x/a b");
    strbuf_deinit(&b);
    /* Long values grow through several pad chunks. */
    strbuf_init(&b, 0);
    for (int i = 0; i < 100; i++)
        strbuf_adds(&b, "/");
    CHECK(urlenc_segment_in_place(&b, 0) == 0);
    CHECK(b.len == 300);
    CHECK(strncmp(b.data, "%2F%2F", 6) == 0 && strcmp(b.data + 297, "%2F") == 0);
    strbuf_deinit(&b);
}

/* urlenc_decode_dup: the decoding in a string of its own, NUL bytes kept in its length. */
static void test_decode_dup(void)
{
    size_t n = 0;
    char *s = urlenc_decode_dup("a+b%00c", 7, true, &n);
    CHECK(s && n == 5 && memcmp(s, "a b\0c", 5) == 0);
    free(s);
    s = urlenc_decode_dup("a+b", 3, false, &n);
    CHECK_STR(s, "a+b");
    free(s);
    CHECK(urlenc_decode_dup("%zz", 3, true, &n) == NULL);
}

int main(void)
{
    RUN(test_is_unreserved());
    RUN(test_segment_in_place());
    RUN(test_segment());
    RUN(test_segment_cap());
    RUN(test_query());
    RUN(test_decode());
    RUN(test_decode_dup());
    RUN(test_injection_roundtrip());
    RUN(test_segment_value_ok());
    RUN(test_header_value_ok());
    return harness_report();
}
