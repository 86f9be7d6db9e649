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

/* jsontext_compact_object, which also writes to <lit> the text's string literal as
 * jsontext_string would, without its quotes: every byte of a JSON text escapes to two at most,
 * so <lit> needs room for 2 * len bytes; <*litlen> gets its length. The literal costs little
 * more than the compaction, whose scan finds every byte that needs an escape anyway. False
 * also when <s> is not valid UTF-8 (its literal would need sanitizing). */
bool jsontext_compact_object_lit(const char *s, size_t len, char *out, size_t *outlen, char *lit,
                                 size_t *litlen);

#define JSONTEXT_MAX_DEPTH 256

#endif
