/*
 * urlenc: percent-encoding and decoding for URL path segments and query components.
 * Encoders keep only RFC 3986 unreserved characters (A-Z a-z 0-9 - . _ ~) and write into a
 * caller's strbuf (no allocation besides the buffer's growth).
 */
#ifndef CAPPROXY_URLENC_H
#define CAPPROXY_URLENC_H

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

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
/* The same into a new string (caller frees; its length in <*outlen>), or NULL on an invalid
 * escape. */
char *urlenc_decode_dup(const char *in, size_t len, bool plus_is_space, size_t *outlen);
/* Whether a decoded value may be substituted as a path segment: not empty, not "." or "..",
 * no NUL, no control byte (< 0x20, 0x7F), no '/' or '\\'. */
bool urlenc_segment_value_ok(const char *v, size_t len);
/* Whether <v> may be sent as an HTTP header value: no CR, LF, NUL or other control byte
 * except horizontal tab. */
bool urlenc_header_value_ok(const char *v, size_t len);
/* Whether <v>[0..len) is a cookie value as RFC 6265 writes one (cookie-octets: no space, DQUOTE,
 * comma, semicolon, backslash, control or non-ASCII byte), so that it cannot add a cookie of
 * its own to a Cookie header ("x; session=evil"). */
bool urlenc_cookie_value_ok(const char *v, size_t len);
/* Whether <name> is an HTTP field name: one or more RFC 9110 token characters. */
bool urlenc_header_name_ok(const char *name);
/* Byte classes, as bits of urlenc_class[byte]: a token character (RFC 9110 5.6.2 tchar), and
 * a byte curl takes as it is in a URL's path or query (letters, digits and
 * "-._~!$&'()*+,;=:@/?"; see http/upstream.c url_part_plain). */
#define URLENC_C_TCHAR   1u
#define URLENC_C_URLPART 2u
extern const unsigned char urlenc_class[256];

/* Whether <c> is a token character (RFC 9110 5.6.2 tchar: header names, methods, auth-params).
 * Inline, one table load: the framing scan asks it for every byte of a header name. */
static inline bool urlenc_is_tchar(unsigned char c)
{
    return urlenc_class[c] & URLENC_C_TCHAR;
}

/* Whether byte <c> is RFC 3986 unreserved (A-Z a-z 0-9 - . _ ~): the bytes encoders keep. */
bool urlenc_is_unreserved(unsigned char c);
/* Percent-encode <out>->data[vstart..len) in place as one path segment: every byte that is not
 * unreserved is escaped, as urlenc_segment does, but "." and ".." are kept as they are (callers
 * refuse such values first, see urlenc_segment_value_ok). For a value a lookup has just appended
 * to <out>: no scratch buffer. 0, or -1 when the cap is exceeded (<out> is then unchanged). */
int urlenc_segment_in_place(struct strbuf *out, size_t vstart);

#endif
