/*
 * fuzz_urlenc: percent-encoding of path segments and query components, with their properties:
 *  - an encoded segment or query value holds only unreserved bytes (A-Z a-z 0-9 - . _ ~) and
 *    %XX escapes (upper-case hex), never '/', and is never the dot segment "." or "..";
 *  - decoding it gives back exactly the input (round trip; '+' survives query decoding);
 *  - with a capped buffer an append either completes or leaves the buffer exactly as it was;
 *  - decoding arbitrary text never grows it, and re-encoding what it decoded round-trips too.
 * Any violation aborts.
 */
#include "fuzz.h"

#include "spec/urlenc.h"

static bool is_unreserved(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_' || c == '~';
}

static bool is_upper_hex(unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'F');
}

static void check_encoded(const char *what, const struct strbuf *e)
{
    for (size_t i = 0; i < e->len; i++) {
        unsigned char c = (unsigned char)e->data[i];
        if (c == '%') {
            FUZZ_ASSERT(i + 2 < e->len && is_upper_hex((unsigned char)e->data[i + 1]) &&
                            is_upper_hex((unsigned char)e->data[i + 2]),
                        "%s: bad escape at %zu in '%s'", what, i, e->data);
            i += 2;
        } else {
            FUZZ_ASSERT(is_unreserved(c), "%s: byte 0x%02x at %zu is not unreserved", what, c, i);
        }
    }
    FUZZ_ASSERT(e->data[e->len] == '\0', "%s: not NUL-terminated", what);
}

static void round_trip(const char *what, const char *in, size_t len, bool query)
{
    struct strbuf e, d;
    strbuf_init(&e, 0);
    strbuf_init(&d, 0);
    int rc = query ? urlenc_query(in, len, &e) : urlenc_segment(in, len, &e);
    FUZZ_ASSERT(rc == 0, "%s: encoding failed without a cap", what);
    check_encoded(what, &e);
    if (!query)
        FUZZ_ASSERT(strcmp(e.data, ".") != 0 && strcmp(e.data, "..") != 0, "%s: dot segment '%s'",
                    what, e.data);
    FUZZ_ASSERT(urlenc_decode(e.data, e.len, query, &d) == 0, "%s: cannot decode '%s'", what,
                e.data);
    FUZZ_ASSERT(d.len == len && (len == 0 || memcmp(d.data, in, len) == 0),
                "%s: round trip changed %zu bytes into %zu", what, len, d.len);
    strbuf_deinit(&e);
    strbuf_deinit(&d);
}

/* With a cap of <max> bytes and <prefix> already in the buffer, the append completes or leaves
 * the buffer unchanged. */
static void capped(const char *in, size_t len, size_t max, int which)
{
    static const char prefix[] = "/v1/x/";
    struct strbuf b;
    strbuf_init(&b, max);
    if (strbuf_adds(&b, prefix) < 0) {
        strbuf_deinit(&b);
        return;
    }
    int rc = which == 0   ? urlenc_segment(in, len, &b)
             : which == 1 ? urlenc_query(in, len, &b)
                          : urlenc_decode(in, len, which == 3, &b);
    if (rc < 0)
        FUZZ_ASSERT(b.len == sizeof prefix - 1 && strcmp(b.data, prefix) == 0,
                    "a failed append (%d) changed the buffer", which);
    else
        FUZZ_ASSERT(b.len <= max, "an append went past the cap: %zu > %zu", b.len, max);
    strbuf_deinit(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *in = (const char *)data;
    round_trip("segment", in, size, false);
    round_trip("query", in, size, true);

    /* Decoding the raw bytes as a client's path or query would be. */
    for (int plus = 0; plus < 2; plus++) {
        struct strbuf d;
        strbuf_init(&d, 0);
        if (urlenc_decode(in, size, plus, &d) == 0) {
            FUZZ_ASSERT(d.len <= size, "decoding grew %zu bytes into %zu", size, d.len);
            round_trip("decoded segment", d.data ? d.data : "", d.len, false);
            bool ok = urlenc_segment_value_ok(d.data, d.len);
            if (ok)
                FUZZ_ASSERT(!memchr(d.data, '/', d.len) && !memchr(d.data, '\0', d.len),
                            "a segment value with '/' or NUL accepted");
        }
        strbuf_deinit(&d);
    }
    (void)urlenc_header_value_ok(in, size);

    size_t max = 8 + (size ? (size_t)data[0] * 4 : 0); /* 0 would mean no cap */
    for (int which = 0; which < 4; which++)
        capped(in, size, max, which);
    return 0;
}
