/*
 * urlenc: see urlenc.h. Every function either appends its whole result or leaves the buffer as
 * it was, so a caller that hits the cap never sends a half-encoded value upstream. Encoding goes
 * through a small stack chunk to keep the number of strbuf calls (and reallocations) low.
 */
#include "spec/urlenc.h"

#include <string.h>

/* Byte classes (urlenc.h): one load per byte in the scans of every header name and URL. */
#define T URLENC_C_TCHAR
#define U URLENC_C_URLPART
const unsigned char urlenc_class[256] = {
    ['!'] = T | U, ['#'] = T,     ['$'] = T | U, ['%'] = T,     ['&'] = T | U, ['\''] = T | U,
    ['('] = U,     [')'] = U,     ['*'] = T | U, ['+'] = T | U, [','] = U,     ['-'] = T | U,
    ['.'] = T | U, ['/'] = U,     ['0'] = T | U, ['1'] = T | U, ['2'] = T | U, ['3'] = T | U,
    ['4'] = T | U, ['5'] = T | U, ['6'] = T | U, ['7'] = T | U, ['8'] = T | U, ['9'] = T | U,
    [':'] = U,     [';'] = U,     ['='] = U,     ['?'] = U,     ['@'] = U,     ['A'] = T | U,
    ['B'] = T | U, ['C'] = T | U, ['D'] = T | U, ['E'] = T | U, ['F'] = T | U, ['G'] = T | U,
    ['H'] = T | U, ['I'] = T | U, ['J'] = T | U, ['K'] = T | U, ['L'] = T | U, ['M'] = T | U,
    ['N'] = T | U, ['O'] = T | U, ['P'] = T | U, ['Q'] = T | U, ['R'] = T | U, ['S'] = T | U,
    ['T'] = T | U, ['U'] = T | U, ['V'] = T | U, ['W'] = T | U, ['X'] = T | U, ['Y'] = T | U,
    ['Z'] = T | U, ['^'] = T,     ['_'] = T | U, ['`'] = T,     ['a'] = T | U, ['b'] = T | U,
    ['c'] = T | U, ['d'] = T | U, ['e'] = T | U, ['f'] = T | U, ['g'] = T | U, ['h'] = T | U,
    ['i'] = T | U, ['j'] = T | U, ['k'] = T | U, ['l'] = T | U, ['m'] = T | U, ['n'] = T | U,
    ['o'] = T | U, ['p'] = T | U, ['q'] = T | U, ['r'] = T | U, ['s'] = T | U, ['t'] = T | U,
    ['u'] = T | U, ['v'] = T | U, ['w'] = T | U, ['x'] = T | U, ['y'] = T | U, ['z'] = T | U,
    ['|'] = T,     ['~'] = T | U,
};
#undef T
#undef U

static const char urlenc_hex[] = "0123456789ABCDEF";

bool urlenc_is_unreserved(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_' || c == '~';
}

static int hex_value(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* Undo a failed append: the strbuf contract is "unchanged on failure", and we extend it to the
 * whole multi-chunk operation. */
static void truncate_to(struct strbuf *out, size_t len)
{
    out->len = len;
    if (out->data)
        out->data[len] = '\0';
}

/* Output staged through a stack chunk, appended to <out> when full and at the end. */
struct chunked {
    struct strbuf *out;
    size_t start; /* out->len before the operation: where a failure truncates back to */
    size_t n;
    char buf[256];
};

static void chunked_init(struct chunked *ch, struct strbuf *out)
{
    ch->out = out;
    ch->start = out->len;
    ch->n = 0;
}

/* Stage <len> (at most 3) bytes. -1 when flushing the full chunk exceeds the cap. */
static int chunked_put(struct chunked *ch, const char *s, size_t len)
{
    if (ch->n + len > sizeof ch->buf) {
        if (strbuf_add(ch->out, ch->buf, ch->n) < 0)
            return -1;
        ch->n = 0;
    }
    memcpy(ch->buf + ch->n, s, len);
    ch->n += len;
    return 0;
}

/* Finish: with <ok>, append the rest (always, even nothing, so <out> is NUL-terminated) and
 * return 0; otherwise, or when that append fails, put <out> back as it was and return -1. */
static int chunked_end(struct chunked *ch, bool ok)
{
    if (ok && strbuf_add(ch->out, ch->buf, ch->n) == 0)
        return 0;
    truncate_to(ch->out, ch->start);
    return -1;
}

/* Encode every byte that is not unreserved. With <all>, unreserved bytes are escaped too: used
 * for the dot segments below. */
static int encode(const char *in, size_t len, bool all, struct strbuf *out)
{
    struct chunked ch;
    chunked_init(&ch, out);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)in[i];
        char esc[3] = {'%', urlenc_hex[c >> 4], urlenc_hex[c & 0x0F]};
        int rc = !all && urlenc_is_unreserved(c) ? chunked_put(&ch, &in[i], 1)
                                                 : chunked_put(&ch, esc, 3);
        if (rc < 0)
            return chunked_end(&ch, false);
    }
    return chunked_end(&ch, true);
}

int urlenc_segment(const char *in, size_t len, struct strbuf *out)
{
    /* "." and ".." are made only of unreserved bytes, yet as a whole segment they are dot
     * segments that curl (and many servers) squash, which would change the path. Escaping them
     * keeps the value one opaque segment. Callers should still refuse such values with
     * urlenc_segment_value_ok: an upstream may decode %2E before removing dot segments. */
    bool dots = (len == 1 && in[0] == '.') || (len == 2 && in[0] == '.' && in[1] == '.');
    return encode(in, len, dots, out);
}

int urlenc_query(const char *in, size_t len, struct strbuf *out)
{
    /* Only unreserved bytes survive, so '&', '=', '+', ' ', '#' are all escaped; a space is
     * %20 rather than '+' because both encodings are understood and %20 is unambiguous. */
    return encode(in, len, false, out);
}

int urlenc_decode(const char *in, size_t len, bool plus_is_space, struct strbuf *out)
{
    struct chunked ch;
    chunked_init(&ch, out);
    for (size_t i = 0; i < len; i++) {
        char c = in[i];
        if (c == '%') {
            if (len - i < 3)
                return chunked_end(&ch, false);
            int hi = hex_value((unsigned char)in[i + 1]);
            int lo = hex_value((unsigned char)in[i + 2]);
            if (hi < 0 || lo < 0)
                return chunked_end(&ch, false);
            c = (char)(hi << 4 | lo);
            i += 2;
        } else if (c == '+' && plus_is_space) {
            c = ' ';
        }
        if (chunked_put(&ch, &c, 1) < 0)
            return chunked_end(&ch, false);
    }
    return chunked_end(&ch, true);
}

bool urlenc_segment_value_ok(const char *v, size_t len)
{
    if (len == 0 || !v)
        return false;
    if ((len == 1 && v[0] == '.') || (len == 2 && v[0] == '.' && v[1] == '.'))
        return false;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)v[i];
        if (c < 0x20 || c == 0x7F || c == '/' || c == '\\')
            return false;
    }
    return true;
}

bool urlenc_header_name_ok(const char *name)
{
    if (!name || !*name)
        return false;
    for (const unsigned char *p = (const unsigned char *)name; *p; p++)
        if (!urlenc_is_tchar(*p))
            return false;
    return true;
}

bool urlenc_header_value_ok(const char *v, size_t len)
{
    if (len && !v)
        return false;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)v[i];
        /* Bytes >= 0x80 are obs-text, allowed by RFC 9110; CR/LF would split the header. */
        if ((c < 0x20 && c != '\t') || c == 0x7F)
            return false;
    }
    return true;
}

int urlenc_segment_in_place(struct strbuf *out, size_t vstart)
{
    static const char pad[32];
    size_t start = out->len;
    size_t vlen = out->len - vstart;
    size_t nesc = 0;

    if (!vlen || !out->data)
        return 0;
    for (size_t i = 0; i < vlen; i++)
        if (!urlenc_is_unreserved((unsigned char)out->data[vstart + i]))
            nesc++;
    if (!nesc)
        return 0;
    /* Grow by two bytes per escaped byte, then encode backwards so that no unread byte is
     * overwritten. */
    for (size_t need = 2 * nesc; need;) {
        size_t n = need < sizeof pad ? need : sizeof pad;
        if (strbuf_add(out, pad, n) < 0)
            goto fail;
        need -= n;
    }

    char *v = out->data + vstart;
    size_t dst = vlen + 2 * nesc;
    for (size_t i = vlen; i-- > 0;) {
        unsigned char c = (unsigned char)v[i];
        if (urlenc_is_unreserved(c)) {
            v[--dst] = (char)c;
        } else {
            v[--dst] = urlenc_hex[c & 0x0F];
            v[--dst] = urlenc_hex[c >> 4];
            v[--dst] = '%';
        }
    }
    return 0;

fail:
    truncate_to(out, start);
    return -1;
}

char *urlenc_decode_dup(const char *in, size_t len, bool plus_is_space, size_t *outlen)
{
    struct strbuf b;
    strbuf_init(&b, 0);
    if (urlenc_decode(in, len, plus_is_space, &b) < 0) {
        strbuf_deinit(&b);
        return NULL;
    }
    return strbuf_detach(&b, outlen);
}

bool urlenc_cookie_value_ok(const char *v, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)v[i];
        if (c <= 0x20 || c >= 0x7f || c == '"' || c == ',' || c == ';' || c == '\\')
            return false;
    }
    return true;
}
