/*
 * jsontext: a JSON string literal written straight from text, byte for byte what cJSON prints
 * for it, without a cJSON node of its own: the text content of a tool result is the upstream
 * body as one string, and building a node for it and printing that cost as much as the rest of
 * the call. It only writes JSON: reading JSON is cJSON's.
 */
#ifndef CAPPROXY_JSONTEXT_H
#define CAPPROXY_JSONTEXT_H

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

#include "base/util.h"

/* <s>[0..len) as a JSON string literal, quotes included, escaped exactly as cJSON prints
 * strings, between <before> and <after> (NULL: nothing); bytes that are not UTF-8 (NUL
 * included) become U+FFFD first, as utf8_sanitize does. A new string (one allocation of the
 * exact size); <*outlen> (may be NULL) gets its length. */
char *jsontext_string(const char *s, size_t len, const char *before, const char *after,
                      size_t *outlen);

/* Whether <src>[0..len) is byte for byte what cJSON_PrintUnformatted writes for <doc> (parsed
 * from it): then that text can be used as it is, without printing the tree again, as an
 * upstream's compact answer usually is. It compares, never reads: the tree is cJSON's. It may
 * answer false for a text that would print the same (a string with an escape, a number that is
 * not an integer below 10^15): the caller then prints. */
bool jsontext_is_printed(const cJSON *doc, const char *src, size_t len);

#endif
