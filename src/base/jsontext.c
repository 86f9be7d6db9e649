/*
 * jsontext: see jsontext.h.
 */
#include "base/jsontext.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

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
