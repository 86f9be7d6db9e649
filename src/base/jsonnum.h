/*
 * jsonnum: the source digits of JSON numbers, which cJSON (every number a double) loses. An
 * integer above 2^53, such as a 64-bit id, would otherwise be re-encoded rounded, and a
 * JSON-RPC id such as 12345678901234567890 or -0 echoed as another number. After cJSON has
 * parsed a text, its number nodes are paired, in document order, with the number tokens of the
 * same text: a scanner that only skips strings and finds numbers (cJSON still does the parsing).
 */
#ifndef CAPPROXY_JSONNUM_H
#define CAPPROXY_JSONNUM_H

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

/* Turn every integer of <doc> (parsed from <src>[0..len)) written with 16 digits or more (beyond
 * 2^53 a double cannot hold it, and cJSON prints 16-digit ones rounded) into a raw node holding
 * the source's digits, so that printing <doc> keeps them; only inside subtree
 * <under> of <doc> when it is not NULL. Numbers that already carry a valuestring are left alone.
 * Cheap when <src> has no run of 16 digits (then nothing can be that big). Returns how many
 * nodes changed; 0 also when the tokens do not pair with the nodes (<doc> is then unchanged). */
size_t jsonnum_keep_big_ints(cJSON *doc, const cJSON *under, const char *src, size_t len);

/* The source text of number node <node> inside <doc> (parsed from <src>[0..len)), or NULL when
 * it cannot be found; <*toklen> gets its length. */
const char *jsonnum_token(const cJSON *doc, const cJSON *node, const char *src, size_t len,
                          size_t *toklen);

/* The same for the number that is the value of member <name> of the object text <s>[0..len)
 * (one cJSON accepted), found without a tree: the first member whose key is written <name>
 * exactly, as long as no key before it has an escape (cJSON decodes keys, and would find that
 * one first if it spelled <name>). NULL when it is not found that way (then jsonnum_token
 * decides) or the value does not start like a number. Cheap when the member comes early, as a
 * JSON-RPC message's "id" does. */
const char *jsonnum_member(const char *s, size_t len, const char *name, size_t *toklen);

/* <s>[0..len) as exactly one JSON value (white space around it allowed: cJSON alone stops after
 * the first value and would read `{"a":1} junk` as {"a":1}), integers beyond 2^53 keeping their
 * digits. A new cJSON (caller deletes), or NULL: then <*bad_at> (may be NULL) is the offset of
 * the bytes after a complete value, or <len> when the text is not JSON at all. */
cJSON *jsonnum_parse_exact(const char *s, size_t len, size_t *bad_at);
/* The same without keeping big integers' digits: for a caller that knows <s> has no run of 16
 * digits (jsontext_scan's digit_word), or calls jsonnum_keep_big_ints itself. */
cJSON *jsonnum_parse_one(const char *s, size_t len, size_t *bad_at);

/* Whether <s>[0..len) is a number as RFC 8259 writes it (cJSON also takes "01" and "1."). */
bool jsonnum_is_json_number(const char *s, size_t len);

#endif
