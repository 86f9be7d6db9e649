/*
 * jsontext: see jsontext.h.
 */
#include "base/jsontext.h"
#include "base/fnum.h"

#include <math.h> /* fabs, signbit: builtins, no libm call (base/fnum.h) */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/jsonnum.h"
#include "base/swar.h"

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

void jsontext_scan(const char *s, size_t len, struct jsontext_facts *f)
{
    uint64_t odd = 0, any = 0;
    size_t quotes = 0, i = 0;
    bool digits = false;
    while (i + 8 <= len) {
        /* quotes counted per byte lane (bit 0 of each), summed before the sum of the lanes,
         * taken in the top byte, could reach 256: at most 8 a word, 31 words */
        uint64_t lanes = 0;
        for (size_t stop = i + 8 * 31; i + 8 <= len && i < stop; i += 8) {
            uint64_t w = swar_load(s + i);
            any |= w;
            odd |= swar_control(w) | swar_zero(w ^ (SWAR_ONES * '\\'));
            lanes += swar_zero(w ^ (SWAR_ONES * '"')) >> 7;
            /* eight high nibbles of 3 first: rare in text, and cheaper than the whole test */
            if ((w & (SWAR_ONES * 0xF0)) == SWAR_ONES * 0x30)
                digits = digits || swar_digit(w) == SWAR_HIGHS;
        }
        quotes += (size_t)((lanes * SWAR_ONES) >> 56);
    }
    for (; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        any |= c;
        odd |= c < 0x20 || c == '\\';
        quotes += c == '"';
    }
    f->plain = odd == 0;
    f->ascii = !(any & SWAR_HIGHS);
    f->digit_word = digits;
    f->quotes = quotes;
}

size_t jsontext_literal_len(const char *s, size_t len, const struct jsontext_facts *f)
{
    if (!f->plain || (!f->ascii && !utf8_valid(s, len, NULL)))
        return 0;
    return len + f->quotes + 2;
}

char *jsontext_put_literal(char *p, const char *s, size_t len, size_t litlen)
{
    char *end = p + litlen - 1; /* where the closing quote goes */
    size_t i = 0;
    *p++ = '"';
    /* plain text (jsontext_literal_len said so): a quote is the only byte to escape. A word
     * at a time while its store fits before <end>; the bytes after a quote are stored again
     * from it on. */
    while (i + 8 <= len && p + 16 <= end) {
        uint64_t w = swar_load(s + i);
        memcpy(p, &w, 8);
        uint64_t q = swar_zero(w ^ (SWAR_ONES * '"'));
        if (!q) {
            p += 8, i += 8;
            continue;
        }
        size_t k = swar_first(q);
        p += k, i += k + 1;
        *p++ = '\\', *p++ = '"';
    }
    for (; i < len; i++) {
        if (s[i] == '"')
            *p++ = '\\';
        *p++ = s[i];
    }
    *p++ = '"';
    return p;
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

/* ---- comparing a text with what cJSON prints for a tree ---- */

/* The printed string <s> (cJSON prints NULL as "") where <*pp> is, when it needs no escape
 * (cJSON writes such a string between quotes as it is); false otherwise, also for one with an
 * escape, which the caller's print handles. <plain>: the whole text has no backslash and no
 * control byte, so a string of it ends at its next quote and holds no byte cJSON escapes: one
 * comparison with the text then, no length or escape check of <s> first. */
static bool same_string(const char *s, const char **pp, const char *end, bool plain)
{
    const char *p = *pp;
    if (plain) {
        /* the string in the text ends at the next quote; cJSON's must be those bytes (strncmp:
         * it stops at a shorter string's NUL, the text has none) */
        const char *q = p < end && *p == '"' ? memchr(p + 1, '"', (size_t)(end - p - 1)) : NULL;
        size_t n = q ? (size_t)(q - p - 1) : 0;
        const char *v = s ? s : "";
        if (!q || (n && strncmp(p + 1, v, n) != 0) || v[n] != '\0')
            return false;
        *pp = q + 1;
        return true;
    }
    size_t n = s ? strlen(s) : 0;
    if ((size_t)(end - p) < n + 2 || p[0] != '"' || p[n + 1] != '"' ||
        (n && memcmp(p + 1, s, n) != 0))
        return false;
    for (size_t i = 0; i < n; i++)
        if (esc_len[(unsigned char)s[i]] != 1)
            return false;
    *pp = p + n + 2;
    return true;
}

/* One structural byte <c>: no memcmp call for it. */
static inline bool same_byte(char c, const char **pp, const char *end)
{
    if (*pp >= end || **pp != c)
        return false;
    (*pp)++;
    return true;
}

static bool same_bytes(const char *want, size_t n, const char **pp, const char *end)
{
    if ((size_t)(end - *pp) < n || memcmp(*pp, want, n) != 0)
        return false;
    *pp += n;
    return true;
}

/* cJSON 1.7.15 prints a number with "%1.15g" (then "%1.17g" when that does not read back):
 * for an integer below 10^15 that is its digits, as "%lld" writes them (-0 prints "-0": not
 * taken here, nor any other number). */
static bool same_number(double d, const char **pp, const char *end)
{
    if (!(fabs(d) < 1e15) || !fnum_is_whole(d) || (d == 0 && signbit(d)))
        return false;
    char digits[UTIL_LL_MAX];
    size_t n = util_fmt_ll((long long)d, digits);
    return same_bytes(digits, n, pp, end);
}

/* Whether the text at <*pp> starts with what cJSON prints for <n> (unformatted); <*pp> then
 * moves past it. The depth is cJSON's own nesting limit (the tree came from its parser). */
static bool same_value(const cJSON *n, const char **pp, const char *end, bool plain)
{
    switch (n->type & 0xFF) {
    case cJSON_NULL:
        return same_bytes("null", 4, pp, end);
    case cJSON_False:
        return same_bytes("false", 5, pp, end);
    case cJSON_True:
        return same_bytes("true", 4, pp, end);
    case cJSON_Number:
        return same_number(n->valuedouble, pp, end);
    case cJSON_Raw:
        return n->valuestring && same_bytes(n->valuestring, strlen(n->valuestring), pp, end);
    case cJSON_String:
        return same_string(n->valuestring, pp, end, plain);
    case cJSON_Array:
    case cJSON_Object: {
        bool obj = (n->type & 0xFF) == cJSON_Object;
        if (!same_byte(obj ? '{' : '[', pp, end))
            return false;
        for (const cJSON *c = n->child; c; c = c->next) {
            if (obj && !(same_string(c->string, pp, end, plain) && same_byte(':', pp, end)))
                return false;
            if (!same_value(c, pp, end, plain) || (c->next && !same_byte(',', pp, end)))
                return false;
        }
        return same_byte(obj ? '}' : ']', pp, end);
    }
    default:
        return false;
    }
}

bool jsontext_is_printed_scanned(const cJSON *doc, const char *src, size_t len,
                                 const struct jsontext_facts *f)
{
    const char *p = src, *end = src + len;
    return doc && same_value(doc, &p, end, f->plain) && p == end;
}

bool jsontext_is_printed(const cJSON *doc, const char *src, size_t len)
{
    struct jsontext_facts f;
    jsontext_scan(src, len, &f);
    return jsontext_is_printed_scanned(doc, src, len, &f);
}

/* ---- a compact text that needs no tree to compare ---- */

static inline bool is_digit(char c)
{
    return (unsigned char)(c - '0') < 10;
}

/* The end of the number at <p> (a '-' or a digit outside strings) when "%1.15g" writes its
 * value back as it is (cJSON 1.7.15's print_number: "%1.15g", "%1.17g" only when that does not
 * read back, and a decimal of at most 15 significant digits always does: DBL_DIG); NULL
 * otherwise, also for a number cJSON would not take the same way. */
static const char *printed_number(const char *p, const char *end)
{
    const char *q = p + (*p == '-');
    const char *int0 = q;
    while (q < end && is_digit(*q))
        q++;
    size_t nint = (size_t)(q - int0), sig = nint;
    if (nint == 0 || (nint > 1 && *int0 == '0'))
        return NULL; /* "-", "-x", "01": not as printed */
    bool zero = *int0 == '0';
    if (q < end && *q == '.') {
        const char *f0 = ++q;
        while (q < end && is_digit(*q))
            q++;
        size_t nfrac = (size_t)(q - f0), lead = 0;
        if (nfrac == 0 || q[-1] == '0')
            return NULL; /* "1." or a trailing zero, which %g drops */
        if (zero) {
            while (f0[lead] == '0')
                lead++;
            /* %g writes a value below 10^-4 with an exponent */
            if (lead > 3)
                return NULL;
            sig = nfrac - lead;
        } else {
            sig += nfrac;
        }
    } else if (zero && int0 != p) {
        return NULL; /* -0 */
    }
    /* with an exponent or more digits than a double keeps (and %g then takes an exponent
     * from 10^15 on): not as printed */
    if (sig > 15 || (q < end && (*q == 'e' || *q == 'E' || *q == '.' || *q == '+' || *q == '-')))
        return NULL;
    return q;
}

/* What a byte outside strings is to a printed text: cJSON writes nothing else there. */
enum { OUT_NO, OUT_SAME, OUT_QUOTE, OUT_NUMBER };
static const unsigned char out_class[256] = {
    ['{'] = OUT_SAME,   ['}'] = OUT_SAME,   ['['] = OUT_SAME,   [']'] = OUT_SAME,
    [','] = OUT_SAME,   [':'] = OUT_SAME,   ['a'] = OUT_SAME,   ['e'] = OUT_SAME,
    ['f'] = OUT_SAME,   ['l'] = OUT_SAME,   ['n'] = OUT_SAME,   ['r'] = OUT_SAME,
    ['s'] = OUT_SAME,   ['t'] = OUT_SAME,   ['u'] = OUT_SAME,   ['"'] = OUT_QUOTE,
    ['-'] = OUT_NUMBER, ['0'] = OUT_NUMBER, ['1'] = OUT_NUMBER, ['2'] = OUT_NUMBER,
    ['3'] = OUT_NUMBER, ['4'] = OUT_NUMBER, ['5'] = OUT_NUMBER, ['6'] = OUT_NUMBER,
    ['7'] = OUT_NUMBER, ['8'] = OUT_NUMBER, ['9'] = OUT_NUMBER,
};

/* The skeleton of plain text <s>[0..len) to <out> (room for 4 * <len> bytes: a one-digit
 * number becomes null): every key emptied, every other string and every number null, the rest
 * as it is; its length, or 0 when a byte outside strings is not as cJSON prints it. The letters
 * of true, false and null pass: cJSON judges what they spell. */
static size_t printed_skeleton(const char *s, size_t len, char *out)
{
    const char *p = s, *end = s + len;
    char *o = out;
    while (p < end) {
        switch (out_class[(unsigned char)*p]) {
        case OUT_SAME:
            *o++ = *p++;
            break;
        case OUT_QUOTE: {
            /* plain: the string ends at the next quote */
            const char *q = memchr(p + 1, '"', (size_t)(end - p - 1));
            if (!q)
                return 0;
            p = q + 1;
            /* A string not followed by ':' is a value, or misplaced: null, a value cJSON reads
             * without allocating, stands for it (a key position takes only a string, so a
             * misplaced one stays refused). A key stays an empty string. */
            if (p < end && *p == ':') {
                *o++ = '"', *o++ = '"';
            } else {
                memcpy(o, "null", 4);
                o += 4;
            }
            break;
        }
        case OUT_NUMBER: {
            /* a number printed_number takes is one cJSON takes too: null stands for it, a
             * value cJSON reads without strtod */
            const char *q = printed_number(p, end);
            if (!q)
                return 0;
            memcpy(o, "null", 4);
            o += 4, p = q;
            break;
        }
        default:
            return 0; /* white space, a byte-order mark, what cJSON refuses */
        }
    }
    return (size_t)(o - out);
}

bool jsontext_is_printed_object(const char *s, size_t len, const struct jsontext_facts *f)
{
    if (!f->plain || len == 0)
        return false;
    char small[4096];
    char *skel = len <= sizeof small / 4 ? small : xmalloc(4 * len);
    size_t n = printed_skeleton(s, len, skel);
    cJSON *doc = n ? jsonnum_parse_one(skel, n, NULL) : NULL;
    bool ok = cJSON_IsObject(doc);
    cJSON_Delete(doc);
    if (skel != small)
        free(skel);
    return ok;
}
