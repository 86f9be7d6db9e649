/*
 * jsontext: see jsontext.h. One pass, no allocation but the output: a stack of open
 * containers (one byte each) and a state saying what may come next.
 */
#include "base/jsontext.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/swar.h"

/* Longest number taken (digits, sign, point, exponent): a double holds any shorter one
 * closely enough that cJSON would print the same value. */
#define JSONTEXT_MAX_NUMBER 40

static bool is_ws(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static int hex_value(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* How many bytes each byte takes in a cJSON string literal. */
static const unsigned char esc_len[256] = {
    6, 6, 6, 6, 6, 6, 6, 6, 2, 2, 2, 6, 2, 2, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6,
    1, 1, 2, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
};

/* From <p>: the index of the first byte of <s>[0..len) that is not plain string text (a quote,
 * backslash or control byte), or <len>. */
static size_t plain_run_end(const char *s, size_t len, size_t p, uint64_t *seen)
{
    for (; p + 8 <= len; p += 8) {
        uint64_t w = swar_load(s + p);
        uint64_t m = swar_quote(w) | swar_control(w);
        *seen |= w; /* bytes past the run too: only ever a reason to look closer */
        if (m)
            return p + swar_first(m);
    }
    for (; p < len && esc_len[(unsigned char)s[p]] == 1; p++)
        *seen |= (unsigned char)s[p];
    return p;
}

/* The string literal of the text being compacted (jsontext_compact_object_lit), written as
 * the scan meets each byte that needs an escape: the plain bytes before it are copied as one
 * run. This saves the literal a scan of its own. */
struct lit {
    char *p;       /* where the literal goes on; NULL: none wanted */
    size_t run;    /* start of the input not yet in it */
    uint64_t seen; /* OR of the string bytes scanned: bit 7 set when some are not ASCII */
};

/* Copy input [l->run, to) to the literal: whole words, then the bytes left (no libc call for
 * the short runs between quotes). */
static void lit_copy(struct lit *l, const char *s, size_t to)
{
    size_t n = to - l->run, k = 0;
    const char *from = s + l->run;
    for (; k + 8 <= n; k += 8)
        memcpy(l->p + k, from + k, 8);
    for (; k < n; k++)
        l->p[k] = from[k];
    l->p += n;
}

/* Input byte <at> needs an escape, "\\<e>": copy what comes before it, then that. */
static void lit_escape(struct lit *l, const char *s, size_t at, char e)
{
    if (!l->p)
        return;
    lit_copy(l, s, at);
    l->p[0] = '\\', l->p[1] = e;
    l->p += 2;
    l->run = at + 1;
}

/* The string starting at the quote <s>[*i]: *i is moved after its closing quote. */
static bool scan_string(const char *s, size_t len, size_t *i, struct lit *l)
{
    lit_escape(l, s, *i, '"');
    for (size_t p = *i + 1; p < len; p++) {
        p = plain_run_end(s, len, p, &l->seen); /* plain text: the common case */
        if (p >= len)
            break;
        unsigned char c = (unsigned char)s[p];
        if (c == '"') {
            lit_escape(l, s, p, '"');
            *i = p + 1;
            return true;
        }
        if (c < 0x20)
            return false; /* raw control character: cJSON takes it, JSON does not */
        if (c != '\\')
            continue;
        lit_escape(l, s, p, '\\');
        if (++p >= len)
            return false;
        switch (s[p]) {
        case '"':
        case '\\':
            lit_escape(l, s, p, s[p]);
            break;
        case '/':
        case 'b':
        case 'f':
        case 'n':
        case 'r':
        case 't':
            break;
        case 'u': {
            if (p + 4 >= len)
                return false;
            unsigned v = 0;
            for (size_t k = 1; k <= 4; k++) {
                int h = hex_value((unsigned char)s[p + k]);
                if (h < 0)
                    return false;
                v = v * 16 + (unsigned)h;
            }
            /* cJSON cuts a string at \u0000 and refuses some surrogates: its own call */
            if (v == 0 || (v >= 0xD800 && v <= 0xDFFF))
                return false;
            p += 4;
            break;
        }
        default:
            return false;
        }
    }
    return false;
}

static size_t digits(const char *s, size_t len, size_t p)
{
    size_t n = 0;
    while (p + n < len && s[p + n] >= '0' && s[p + n] <= '9')
        n++;
    return n;
}

/* The number starting at <s>[*i], RFC 8259's grammar only (cJSON also takes "01" and "1."). */
static bool scan_number(const char *s, size_t len, size_t *i)
{
    size_t p = *i;
    if (s[p] == '-')
        p++;
    size_t n = digits(s, len, p);
    if (n == 0 || (n > 1 && s[p] == '0'))
        return false;
    p += n;
    if (p < len && s[p] == '.') {
        n = digits(s, len, ++p);
        if (n == 0)
            return false;
        p += n;
    }
    if (p < len && (s[p] == 'e' || s[p] == 'E')) {
        p++;
        if (p < len && (s[p] == '+' || s[p] == '-'))
            p++;
        n = digits(s, len, p);
        if (n == 0 || n > 2)
            return false; /* 1e400 is infinity to a double, which cJSON prints as null */
        p += n;
    }
    if (p - *i > JSONTEXT_MAX_NUMBER)
        return false;
    *i = p;
    return true;
}

static bool scan_literal(const char *s, size_t len, size_t *i)
{
    static const char *const lits[] = {"true", "false", "null"};
    for (size_t k = 0; k < sizeof lits / sizeof *lits; k++) {
        size_t n = strlen(lits[k]);
        if (len - *i >= n && memcmp(s + *i, lits[k], n) == 0) {
            *i += n;
            return true;
        }
    }
    return false;
}

/* jsontext_compact_object, and the literal into <l> when l->p is not NULL. */
static bool compact(const char *s, size_t len, char *out, size_t *outlen, struct lit *l)
{
    size_t n = 0;                   /* bytes written to <out> */
    char stack[JSONTEXT_MAX_DEPTH]; /* '{' or '[' per open container */
    size_t depth = 0;
    size_t i = 0, run = 0; /* <run>: start of the bytes not yet copied to <out> */
    enum { VALUE, VALUE_OR_CLOSE, KEY, KEY_OR_CLOSE, COLON, COMMA_OR_CLOSE } want = VALUE;
    bool started = false;
    while (i < len) {
        unsigned char c = (unsigned char)s[i];
        if (is_ws(c)) {
            memcpy(out + n, s + run, i - run);
            n += i - run;
            for (; i < len && is_ws((unsigned char)s[i]); i++)
                if (s[i] != ' ')
                    lit_escape(l, s, i, s[i] == '\n' ? 'n' : s[i] == '\t' ? 't' : 'r');
            run = i;
            continue;
        }
        if (started && depth == 0)
            return false; /* something after the value */
        switch (want) {
        case KEY_OR_CLOSE:
        case VALUE_OR_CLOSE:
            if ((c == '}' && want == KEY_OR_CLOSE) || (c == ']' && want == VALUE_OR_CLOSE)) {
                depth--, i++;
                want = COMMA_OR_CLOSE;
                continue;
            }
            if (want == KEY_OR_CLOSE)
                goto key;
            goto value;
        case KEY:
        key:
            if (c != '"' || !scan_string(s, len, &i, l))
                return false;
            want = COLON;
            continue;
        case COLON:
            if (c != ':')
                return false;
            i++;
            want = VALUE;
            continue;
        case COMMA_OR_CLOSE:
            if (c == ',') {
                i++;
                want = stack[depth - 1] == '{' ? KEY : VALUE;
                continue;
            }
            if (c != (stack[depth - 1] == '{' ? '}' : ']'))
                return false;
            depth--, i++;
            continue; /* still COMMA_OR_CLOSE for the container around it */
        case VALUE:
        value:
            if (!started && c != '{')
                return false; /* an object, nothing else */
            started = true;
            if (c == '{' || c == '[') {
                if (depth == JSONTEXT_MAX_DEPTH)
                    return false;
                stack[depth++] = (char)c;
                i++;
                want = c == '{' ? KEY_OR_CLOSE : VALUE_OR_CLOSE;
                continue;
            }
            bool ok = c == '"'                             ? scan_string(s, len, &i, l)
                      : c == '-' || (c >= '0' && c <= '9') ? scan_number(s, len, &i)
                                                           : scan_literal(s, len, &i);
            if (!ok)
                return false;
            want = COMMA_OR_CLOSE;
            continue;
        }
    }
    if (!started || depth != 0)
        return false;
    memcpy(out + n, s + run, i - run);
    n += i - run;
    out[n] = '\0';
    *outlen = n;
    if (l->p)
        lit_copy(l, s, len);
    return true;
}

bool jsontext_compact_object(const char *s, size_t len, char *out, size_t *outlen)
{
    struct lit none = {NULL, 0, 0};
    return compact(s, len, out, outlen, &none);
}

bool jsontext_compact_object_lit(const char *s, size_t len, char *out, size_t *outlen, char *lit,
                                 size_t *litlen)
{
    struct lit l = {lit, 0, 0};
    /* only strings hold bytes above ASCII (the scan refuses them elsewhere) */
    if (!compact(s, len, out, outlen, &l) || ((l.seen & SWAR_HIGHS) && !utf8_valid(s, len, NULL)))
        return false;
    *litlen = (size_t)(l.p - lit);
    return true;
}

/* Escape one byte <c> that needs it to <p>; returns the end. */
static char *put_escape(char *p, unsigned char c)
{
    static const char hex[] = "0123456789abcdef";
    *p++ = '\\';
    switch (c) {
    case '"':
        *p++ = '"';
        break;
    case '\\':
        *p++ = '\\';
        break;
    case '\b':
        *p++ = 'b';
        break;
    case '\f':
        *p++ = 'f';
        break;
    case '\n':
        *p++ = 'n';
        break;
    case '\r':
        *p++ = 'r';
        break;
    case '\t':
        *p++ = 't';
        break;
    default: /* cJSON's \u00xx, lower-case */
        *p++ = 'u', *p++ = '0', *p++ = '0', *p++ = hex[c >> 4], *p++ = hex[c & 15];
    }
    return p;
}

/* Escape <s>[0..len) (valid UTF-8: no NUL) to <p>, which has room; returns the end. Bytes up
 * to <end> may be written past the escaped text (scratch, overwritten after). */
static char *put_escaped(char *p, const char *end, const char *s, size_t len)
{
    size_t i = 0;
    while (i < len) {
        /* a word at a time while there is room for its worst case (eight pairs) and the
         * word-sized stores (scratch) */
        if (i + 8 <= len && p + 24 <= end) {
            uint64_t w = swar_load(s + i);
            uint64_t c = swar_control(w);
            if (c) {
                /* bytes up to the first control byte one by one below */
                size_t stop = i + swar_first(c) + 1;
                while (i < stop) {
                    unsigned char b = (unsigned char)s[i++];
                    if (esc_len[b] == 1)
                        *p++ = (char)b;
                    else
                        p = put_escape(p, b);
                }
                continue;
            }
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
            if (swar_quote(w)) { /* one by one (the shifts below assume little-endian) */
                for (size_t k = 0; k < 8; k++) {
                    unsigned char b = (unsigned char)s[i++];
                    if (esc_len[b] == 1)
                        *p++ = (char)b;
                    else
                        p = put_escape(p, b); /* a quote or backslash: no control here */
                }
                continue;
            }
            memcpy(p, &w, 8);
            p += 8, i += 8;
#else
            /* each quote or backslash gets a backslash before it: store the rest of the
             * word, keep its plain prefix, write the pair, go on after it */
            size_t at = 0;
            for (uint64_t q = swar_quote(w); q; q &= q - 1) {
                size_t k = swar_first(q);
                uint64_t rest = w >> (8 * at);
                memcpy(p, &rest, 8);
                p += k - at;
                *p++ = '\\';
                *p++ = s[i + k];
                at = k + 1;
            }
            if (at < 8) {
                uint64_t rest = w >> (8 * at);
                memcpy(p, &rest, 8);
                p += 8 - at;
            }
            i += 8;
#endif
            continue;
        }
        unsigned char b = (unsigned char)s[i++];
        if (esc_len[b] == 1)
            *p++ = (char)b;
        else
            p = put_escape(p, b);
    }
    return p;
}

/* Bytes of the escaped text of <s>[0..len) (no quotes); <*clean> whether it is valid UTF-8
 * without NUL, which is all put_escaped takes. */
static size_t escaped_len(const char *s, size_t len, bool *clean)
{
    size_t esc = 0, i = 0;
    uint64_t any = 0;
    bool nul = false;
    for (; i + 8 <= len; i += 8) {
        uint64_t w = swar_load(s + i);
        any |= w;
        if (swar_control(w)) { /* rare: their escapes differ in length */
            for (size_t k = 0; k < 8; k++) {
                esc += esc_len[(unsigned char)s[i + k]];
                nul |= s[i + k] == 0;
            }
            continue;
        }
        esc += 8 + swar_count(swar_quote(w));
    }
    for (; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        esc += esc_len[c];
        any |= c;
        nul |= c == 0;
    }
    /* ASCII without NUL needs no sanitizing; anything else unless it is valid UTF-8 */
    *clean = !((any & SWAR_HIGHS) || nul) || utf8_valid(s, len, NULL);
    return esc;
}

char *jsontext_string(const char *s, size_t len, const char *before, const char *after,
                      size_t *outlen)
{
    char *clean_copy = NULL;
    bool clean;
    size_t esc = escaped_len(s, len, &clean);
    if (!clean) {
        clean_copy = utf8_sanitize(s, len);
        s = clean_copy;
        len = strlen(clean_copy);
        esc = escaped_len(s, len, &clean);
    }
    size_t blen = before ? strlen(before) : 0, alen = after ? strlen(after) : 0;
    size_t n = blen + alen + 2 + esc;
    char *r = xmalloc(n + 1), *p = r;
    memcpy(p, before ? before : "", blen);
    p += blen;
    *p++ = '"';
    p = put_escaped(p, r + n + 1, s, len);
    *p++ = '"';
    memcpy(p, after ? after : "", alen);
    p[alen] = '\0';
    free(clean_copy);
    if (outlen)
        *outlen = n;
    return r;
}
