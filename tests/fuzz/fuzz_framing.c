/*
 * fuzz_framing: the request-framing scanner (http/framing.c) fed a connection's bytes the way
 * the front end feeds it (http/conn.c): appended to an evbuffer piece by piece, framing_scan
 * after each piece until it wants more, every whole request removed from the front as it is
 * passed on to evhttp, the first refusal ending the connection.
 *
 * Input: byte 0 chooses the split (0: one byte at a time, else piece sizes from a generator it
 * seeds), byte 1 the limits (small, so that they are reached), the rest is the stream.
 *
 * Properties (abort on violation):
 * - the same stream in one piece and split gives the same verdicts: the same requests passed
 *   on, then the same refusal status, or both waiting for more;
 * - a refusal is one of the documented statuses and its detail is one line of text;
 * - what is passed on is the stream's own bytes, in order, with at most the tolerated empty
 *   lines before each request left out: nothing is invented, reordered or skipped;
 * - each request passed on is, re-read here independently: a request line METHOD SP /target
 *   SP HTTP/1.x CRLF with a served method, header lines name:value with no CTL but HTAB in a
 *   value, within the head and header-count limits, one Host (required for HTTP/1.1), at most
 *   one Content-Length (digits only), Transfer-Encoding only "chunked" (never in HTTP/1.0),
 *   never both, no body on HEAD, Expect only 100-continue; followed by exactly its body: the
 *   Content-Length bytes, or strictly framed chunks (hex sizes only, no extension, no trailer
 *   field) within the body limit, or nothing.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/buffer.h>

#include "http/framing.h"
#include "fuzz.h"
#include "base/util.h"

#define MAX_PASSED 64
/* Empty lines the scanner may drop before a request line (framing.c FRAMING_LEADING_MAX). */
#define LEADING_MAX 4

struct verdict {
    size_t passed[MAX_PASSED]; /* lengths of the requests passed on, in order */
    size_t npassed;
    int status; /* 0: waiting for more at the end of the stream */
};

static bool tchar(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c && strchr("!#$%&'*+-.^_`|~", c));
}

static bool ci_eq(const char *a, size_t alen, const char *b)
{
    return alen == strlen(b) && strncasecmp(a, b, alen) == 0;
}

static const char *find(const char *p, size_t n, const char *what)
{
    size_t w = strlen(what);
    for (size_t i = 0; i + w <= n; i++)
        if (memcmp(p + i, what, w) == 0)
            return p + i;
    return NULL;
}

/* Independent re-reading of one request the scanner passed on; aborts when it is not what the
 * scanner promises. */
static void check_request(const char *p, size_t len, const struct framing_limits *lim)
{
    const char *e = find(p, len, "\r\n\r\n");
    FUZZ_ASSERT(e != NULL, "a passed request has no end of head");
    size_t hlen = (size_t)(e - p) + 4;
    FUZZ_ASSERT(hlen <= lim->max_head, "head of %zu bytes passed, limit %zu", hlen, lim->max_head);

    /* request line */
    const char *eol = find(p, hlen, "\r\n");
    size_t i = 0;
    while (i < (size_t)(eol - p) && tchar((unsigned char)p[i]))
        i++;
    size_t mlen = i;
    static const char *const methods[] = {"GET",    "POST", "PUT",    "PATCH",
                                          "DELETE", "HEAD", "OPTIONS"};
    bool known = false;
    for (size_t k = 0; k < sizeof methods / sizeof methods[0]; k++)
        known |= ci_eq(p, mlen, methods[k]) && memcmp(p, methods[k], mlen) == 0;
    FUZZ_ASSERT(known, "method '%.*s' passed", (int)mlen, p);
    FUZZ_ASSERT(p[i] == ' ' && p[i + 1] == '/', "request line: no SP /target");
    i++;
    while ((unsigned char)p[i] > 0x20 && p[i] != 0x7f)
        i++;
    FUZZ_ASSERT(
        p + i + 9 == eol && p[i] == ' ' &&
            (memcmp(p + i + 1, "HTTP/1.1", 8) == 0 || memcmp(p + i + 1, "HTTP/1.0", 8) == 0),
        "request line does not end in SP HTTP/1.x CRLF");
    bool http10 = p[i + 8] == '0';
    bool is_head = mlen == 4 && memcmp(p, "HEAD", 4) == 0;

    /* header lines */
    size_t nhdr = 0, nhost = 0, ncl = 0, nte = 0, norigin = 0;
    uint64_t cl = 0;
    const char *s = eol + 2;
    while (s < e + 2) {
        const char *le = find(s, (size_t)(e + 4 - s), "\r\n");
        const char *n = s;
        while (n < le && tchar((unsigned char)*n))
            n++;
        size_t nlen = (size_t)(n - s);
        FUZZ_ASSERT(nlen > 0 && *n == ':', "header line without name:");
        const char *v = n + 1;
        for (const char *c = v; c < le; c++)
            FUZZ_ASSERT(*c == '\t' || ((unsigned char)*c >= 0x20 && *c != 0x7f),
                        "control character 0x%02x in a header value", (unsigned char)*c);
        /* what evhttp stores: leading spaces and trailing spaces/tabs removed */
        while (v < le && *v == ' ')
            v++;
        const char *ve = le;
        while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
            ve--;
        size_t vlen = (size_t)(ve - v);
        nhdr++;
        if (ci_eq(s, nlen, "host")) {
            nhost++;
            FUZZ_ASSERT(vlen > 0, "empty Host passed");
        } else if (ci_eq(s, nlen, "content-length")) {
            ncl++;
            FUZZ_ASSERT(vlen >= 1 && vlen <= 18, "Content-Length of %zu characters", vlen);
            cl = 0;
            for (size_t k = 0; k < vlen; k++) {
                FUZZ_ASSERT(v[k] >= '0' && v[k] <= '9', "Content-Length not digits");
                cl = cl * 10 + (uint64_t)(v[k] - '0');
            }
        } else if (ci_eq(s, nlen, "transfer-encoding")) {
            nte++;
            FUZZ_ASSERT(ci_eq(v, vlen, "chunked"), "Transfer-Encoding '%.*s' passed", (int)vlen, v);
        } else if (ci_eq(s, nlen, "origin")) {
            norigin++;
        } else if (ci_eq(s, nlen, "expect")) {
            FUZZ_ASSERT(ci_eq(v, vlen, "100-continue"), "Expect '%.*s' passed", (int)vlen, v);
        }
        s = le + 2;
    }
    FUZZ_ASSERT(nhdr <= lim->max_headers, "%zu headers passed, limit %zu", nhdr, lim->max_headers);
    FUZZ_ASSERT(nhost == 1 || (http10 && nhost == 0), "%zu Host headers passed", nhost);
    FUZZ_ASSERT(ncl <= 1 && nte <= 1 && norigin <= 1 && !(ncl && nte),
                "CL %zu, TE %zu, Origin %zu passed", ncl, nte, norigin);
    FUZZ_ASSERT(!(nte && http10), "Transfer-Encoding passed in HTTP/1.0");
    FUZZ_ASSERT(!is_head || (!nte && cl == 0), "HEAD with a body passed");

    /* body */
    const char *b = p + hlen, *end = p + len;
    if (!nte) {
        FUZZ_ASSERT(cl <= lim->max_body, "Content-Length %llu over the limit passed",
                    (unsigned long long)cl);
        FUZZ_ASSERT((uint64_t)(end - b) == cl, "body of %zu bytes passed, Content-Length %llu",
                    (size_t)(end - b), (unsigned long long)cl);
        return;
    }
    uint64_t decoded = 0;
    for (;;) {
        const char *ce = find(b, (size_t)(end - b), "\r\n");
        FUZZ_ASSERT(ce != NULL, "chunked body passed cut off");
        size_t n = (size_t)(ce - b);
        FUZZ_ASSERT(n >= 1 && n <= 15, "chunk-size line of %zu characters", n);
        uint64_t size = 0;
        for (size_t k = 0; k < n; k++) {
            unsigned char c = (unsigned char)b[k];
            int d = c >= '0' && c <= '9'   ? c - '0'
                    : c >= 'a' && c <= 'f' ? c - 'a' + 10
                    : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                           : -1;
            FUZZ_ASSERT(d >= 0, "chunk size with a non-hex character 0x%02x", c);
            size = size * 16 + (uint64_t)d;
        }
        b = ce + 2;
        if (size == 0)
            break;
        FUZZ_ASSERT(size <= (uint64_t)(end - b) && (uint64_t)(end - b) - size >= 2 &&
                        b[size] == '\r' && b[size + 1] == '\n',
                    "chunk data not followed by CRLF");
        decoded += size;
        b += size + 2;
    }
    FUZZ_ASSERT(decoded <= lim->max_body, "chunked body of %llu bytes over the limit passed",
                (unsigned long long)decoded);
    FUZZ_ASSERT(end - b == 2 && b[0] == '\r' && b[1] == '\n',
                "chunked body does not end with the last chunk and CRLF exactly");
}

/* Run the stream through the scanner in pieces (split 1: one piece; 0: byte by byte; else
 * sizes from a generator seeded with it), checking each request passed on. */
static void run(const uint8_t *data, size_t size, unsigned split, const struct framing_limits *lim,
                struct verdict *out)
{
    struct evbuffer *buf = evbuffer_new();
    struct evbuffer *passed = evbuffer_new();
    if (!buf || !passed)
        abort();
    struct framing_state st = {0};
    uint32_t rng = split * 2654435761u + 1;
    size_t at = 0;  /* bytes of <data> appended so far */
    size_t pos = 0; /* bytes of <data> accounted for by requests passed on */
    memset(out, 0, sizeof *out);

    while (at < size && !out->status) {
        size_t n = size - at;
        if (split == 0) {
            n = 1;
        } else if (split != 1) {
            rng = rng * 1103515245u + 12345u;
            size_t piece = 1 + (rng >> 16) % (1u << ((rng >> 8) % 9)); /* 1..256, mostly small */
            n = piece < n ? piece : n;
        }
        /* A reference adds a chain of its own: searches then cross chain boundaries as they
         * do on a socket's input. */
        if (((split ^ (unsigned)at) & 1) ? evbuffer_add_reference(buf, data + at, n, NULL, NULL)
                                         : evbuffer_add(buf, data + at, n))
            abort();
        at += n;

        for (;;) {
            size_t len = 0;
            struct framing_refusal why;
            memset(&why, 0x55, sizeof why);
            enum framing_result r = framing_scan(&st, buf, lim, &len, &why);
            if (r == FRAMING_MORE)
                break;
            if (r == FRAMING_REFUSED) {
                int s = why.status;
                FUZZ_ASSERT(s == 400 || s == 413 || s == 417 || s == 431 || s == 501 || s == 505,
                            "refusal status %d", s);
                size_t dlen = strnlen(why.detail, sizeof why.detail);
                FUZZ_ASSERT(dlen > 0 && dlen < sizeof why.detail, "refusal detail not a string");
                for (size_t k = 0; k < dlen; k++)
                    FUZZ_ASSERT((unsigned char)why.detail[k] >= 0x20 && why.detail[k] != 0x7f,
                                "control character 0x%02x in refusal detail '%s'",
                                (unsigned char)why.detail[k], why.detail);
                FUZZ_ASSERT(utf8_valid(why.detail, dlen, NULL), "refusal detail is not UTF-8: '%s'",
                            why.detail);
                out->status = s;
                break;
            }
            FUZZ_ASSERT(r == FRAMING_DONE && len > 0 && len <= evbuffer_get_length(buf),
                        "done with %zu of %zu bytes", len, evbuffer_get_length(buf));
            evbuffer_drain(passed, evbuffer_get_length(passed));
            if (evbuffer_remove_buffer(buf, passed, len) != (int)len)
                abort();
            const char *req = (const char *)evbuffer_pullup(passed, -1);
            /* the stream's own bytes, after at most LEADING_MAX empty lines */
            for (int k = 0;
                 k < LEADING_MAX && pos + 2 <= size && data[pos] == '\r' && data[pos + 1] == '\n';
                 k++)
                pos += 2;
            FUZZ_ASSERT(pos + len <= at && memcmp(req, data + pos, len) == 0,
                        "passed bytes are not the stream's at offset %zu", pos);
            pos += len;
            check_request(req, len, lim);
            if (out->npassed < MAX_PASSED)
                out->passed[out->npassed] = len;
            out->npassed++;
            FUZZ_ASSERT(st.phase == FRAMING_HEAD && st.scan == 0,
                        "state not reset after a request");
        }
    }
    evbuffer_free(passed);
    evbuffer_free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    unsigned split = data[0];
    uint8_t l = data[1];
    /* Small limits, reached often: head 48..496 bytes, 1..8 headers, body 0..127 bytes (or a
     * large one, so that big chunk sizes and Content-Lengths are accepted too). */
    const struct framing_limits lim = {
        .max_head = 48 + (size_t)(l & 7) * 64,
        .max_headers = 1 + (size_t)((l >> 3) & 7),
        .max_body = (l & 0x40) ? (size_t)1 << 40 : (size_t)(l & 0x3f) * 2,
    };
    data += 2;
    size -= 2;

    struct verdict whole, pieces;
    run(data, size, 1, &lim, &whole);
    run(data, size, split == 1 ? 0 : split, &lim, &pieces);
    FUZZ_ASSERT(whole.status == pieces.status, "in one piece status %d, split %d", whole.status,
                pieces.status);
    FUZZ_ASSERT(whole.npassed == pieces.npassed, "in one piece %zu requests, split %zu",
                whole.npassed, pieces.npassed);
    for (size_t i = 0; i < whole.npassed && i < MAX_PASSED; i++)
        FUZZ_ASSERT(whole.passed[i] == pieces.passed[i], "request %zu: %zu bytes vs %zu", i,
                    whole.passed[i], pieces.passed[i]);
    return 0;
}
