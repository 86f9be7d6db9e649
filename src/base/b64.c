/*
 * b64: see b64.h. One alphabet table holds both alphabets: they differ only in the last two
 * characters.
 */
#include "base/b64.h"

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "base/util.h"

static const char b64_std[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char b64_url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* Encode <in>[0..n) with alphabet <tbl> into <out> (NUL-terminated); <pad> completes the last
 * group with '='. Returns the length written. */
static size_t encode(const char *tbl, bool pad, const uint8_t *in, size_t n, char *out)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16;
        if (i + 1 < n)
            v |= (uint32_t)in[i + 1] << 8;
        if (i + 2 < n)
            v |= in[i + 2];
        out[o++] = tbl[(v >> 18) & 63];
        out[o++] = tbl[(v >> 12) & 63];
        if (i + 1 < n)
            out[o++] = tbl[(v >> 6) & 63];
        else if (pad)
            out[o++] = '=';
        if (i + 2 < n)
            out[o++] = tbl[v & 63];
        else if (pad)
            out[o++] = '=';
    }
    out[o] = '\0';
    return o;
}

char *b64_encode(const void *in, size_t n)
{
    char *out = xmalloc(4 * ((n + 2) / 3) + 1);
    encode(b64_std, true, in, n, out);
    return out;
}

void b64_url_encode(const void *in, size_t n, char *out)
{
    encode(b64_url, false, in, n, out);
}

static int url_value(char c)
{
    const char *p = c ? strchr(b64_url, c) : NULL;
    return p ? (int)(p - b64_url) : -1;
}

int b64_url_decode(const char *in, size_t inlen, void *out, size_t n)
{
    uint8_t *o8 = out;
    if (inlen != B64_URL_LEN(n))
        return -1;
    uint32_t acc = 0;
    int bits = 0;
    size_t o = 0;
    for (size_t i = 0; i < inlen; i++) {
        int v = url_value(in[i]);
        if (v < 0)
            return -1;
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (o < n)
                o8[o++] = (uint8_t)(acc >> bits);
        }
        acc &= (1u << bits) - 1;
    }
    return o == n && acc == 0 ? 0 : -1;
}
