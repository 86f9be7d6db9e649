/*
 * jsontext: JSON text checked and compacted without building a tree. For the hot path of a
 * tool result whose structured content is the upstream document itself: embedding that
 * document's own text costs a scan and a copy, parsing it and printing the tree again cost
 * more than the rest of the call.
 */
#ifndef CAPPROXY_JSONTEXT_H
#define CAPPROXY_JSONTEXT_H

#include <stdbool.h>
#include <stddef.h>

#include "base/util.h"

/* Whether <s>[0..len) is exactly one JSON object (RFC 8259, white space around it allowed)
 * that cJSON reads the same way: no \u0000, no surrogate escape, no number that a double
 * cannot hold, nesting within JSONTEXT_MAX_DEPTH. When true, <out> (room for <len> + 1 bytes)
 * gets its text without the white space outside strings, NUL-terminated, and <*outlen> its
 * length. When false, <out> holds garbage: such a text (not JSON, another value, or one of
 * those rarities) is for cJSON to judge. */
bool jsontext_compact_object(const char *s, size_t len, char *out, size_t *outlen);

/* <s>[0..len) as a JSON string literal, quotes included, escaped exactly as cJSON prints
 * strings, between <before> and <after> (NULL: nothing); bytes that are not UTF-8 (NUL
 * included) become U+FFFD first, as utf8_sanitize does. A new string (one allocation of the
 * exact size); <*outlen> (may be NULL) gets its length. */
char *jsontext_string(const char *s, size_t len, const char *before, const char *after,
                      size_t *outlen);

/* The literal jsontext_string gives for JSON text <s>[0..len) (a document, which has no control
 * character but white space), written to <out> without sizing it first: at most 2 * len + 2
 * bytes, as every byte of such a text escapes to two at most. Returns the end (no NUL added),
 * or NULL when <s> holds another control character or is not valid UTF-8 (then it is no JSON
 * text). Bytes up to <end>, which must leave room for those 2 * len + 2, may be written past
 * the literal (scratch for word-sized stores). */
char *jsontext_put_json_text(char *out, const char *end, const char *s, size_t len);

#define JSONTEXT_MAX_DEPTH 256

#endif
