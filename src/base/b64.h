/*
 * b64: base64 (RFC 4648). The standard alphabet with '=' padding is what HTTP Basic
 * credentials use; the URL-safe alphabet without padding is what session ids use (they travel
 * in a header and must read the same everywhere). Both share one encoder.
 */
#ifndef CAPPROXY_B64_H
#define CAPPROXY_B64_H

#include <stddef.h>

/* Length of the unpadded URL-safe encoding of <n> bytes (without the NUL). */
#define B64_URL_LEN(n) (((n)*4 + 2) / 3)

/* The standard, padded encoding of <in>[0..n), as a new string (free it). */
char *b64_encode(const void *in, size_t n);
/* Write the URL-safe, unpadded encoding of <in>[0..n) to <out>, which holds at least
 * B64_URL_LEN(n) + 1 bytes; <out> is NUL-terminated. */
void b64_url_encode(const void *in, size_t n, char *out);
/* Decode the URL-safe, unpadded text <in>[0..inlen) into exactly <n> bytes at <out>. 0, or -1
 * when the text is not exactly B64_URL_LEN(n) characters of the alphabet or its unused low
 * bits are not zero (so every value has exactly one spelling). <out> may be partly written on
 * failure. */
int b64_url_decode(const char *in, size_t inlen, void *out, size_t n);

#endif
