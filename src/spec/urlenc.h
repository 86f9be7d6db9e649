/*
 * urlenc: percent-encoding and decoding for URL path segments and query components.
 * Encoders keep only RFC 3986 unreserved characters (A-Z a-z 0-9 - . _ ~) and write into a
 * caller's strbuf (no allocation besides the buffer's growth).
 */
#ifndef CAPPROXY_URLENC_H
#define CAPPROXY_URLENC_H

#include <stdbool.h>
#include <stddef.h>

#include "base/util.h"

/* Append <in> percent-encoded as ONE path segment: '/', '?', '#', '%', and every byte that is
 * not unreserved is escaped. 0, or -1 when the buffer cap is exceeded. */
int urlenc_segment(const char *in, size_t len, struct strbuf *out);
/* Append <in> encoded as a query key or value (space as %20, '+' as %2B, '&' '=' escaped). */
int urlenc_query(const char *in, size_t len, struct strbuf *out);
/* Append the percent-decoding of <in>. With <plus_is_space>, '+' decodes to a space (query
 * strings). -1 on an invalid escape (%zz, a truncated %4) or a cap overflow. NUL bytes may
 * appear in the output: check the length. */
int urlenc_decode(const char *in, size_t len, bool plus_is_space, struct strbuf *out);
/* Whether a decoded value may be substituted as a path segment: not empty, not "." or "..",
 * no NUL, no control byte (< 0x20, 0x7F), no '/' or '\\'. */
bool urlenc_segment_value_ok(const char *v, size_t len);
/* Whether <v> may be sent as an HTTP header value: no CR, LF, NUL or other control byte
 * except horizontal tab. */
bool urlenc_header_value_ok(const char *v, size_t len);

#endif
