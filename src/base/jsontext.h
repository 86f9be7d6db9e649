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

/* What one pass over a text tells: the questions that the reading of an upstream body
 * (json_text_refusal, jsonnum_keep_big_ints), the comparison with its print and the writing of
 * it as a string literal each asked with a pass of their own. */
struct jsontext_facts {
    bool plain;      /* no control byte (NUL included) and no backslash: json_text_refusal has
                      * nothing to refuse, and a string of it is the bytes between its quotes */
    bool ascii;      /* no byte above 0x7F */
    bool digit_word; /* eight digits that start at a multiple of 8: without one there is no run
                      * of 16 digits, and jsonnum_keep_big_ints has nothing to keep */
    size_t quotes;   /* how many '"' bytes */
};

/* The facts of <s>[0..len) (a word at a time). */
void jsontext_scan(const char *s, size_t len, struct jsontext_facts *f);

/* The length of the JSON string literal of <s>[0..len) (quotes included) when its facts <f>
 * tell it without another pass: plain text that is valid UTF-8 (then every byte is itself but
 * a quote, which is two). 0 otherwise: use jsontext_string. */
size_t jsontext_literal_len(const char *s, size_t len, const struct jsontext_facts *f);

/* Write that literal, <litlen> bytes (what jsontext_literal_len answered, not 0), at <p>, as
 * jsontext_string would; returns its end (no NUL written). */
char *jsontext_put_literal(char *p, const char *s, size_t len, size_t litlen);

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
/* The same with the facts <f> of <src> (jsontext_scan) already known: no pass of its own. */
bool jsontext_is_printed_scanned(const cJSON *doc, const char *src, size_t len,
                                 const struct jsontext_facts *f);

/* Whether <s>[0..len), of facts <f>, is one JSON object that cJSON_PrintUnformatted prints byte
 * for byte as it is, told without a tree of it: <s> is plain (no escape, no control byte), its
 * bytes outside strings have no white space (nor a byte-order mark) and every number there is
 * written as "%1.15g" writes it back (-?(0|[1-9][0-9]*)(.[0-9]*[1-9])?, at most 15 significant
 * digits, not -0, no exponent, none for %g either: at most 3 zeros after the point of a value
 * below 1). cJSON still judges that it is JSON, from its skeleton: the text with every string
 * emptied when a ':' follows it (a key), else null (a value, or misplaced: a key position takes
 * no null), and every number (one of the form above, which cJSON takes) null:
 * `{"id":"x","n":4}` is read as `{"":null,"":null}`. That is JSON exactly when the text is,
 * since cJSON takes every byte but a quote and a backslash inside a string and a plain text has
 * neither there; reading it costs cJSON a fraction of the whole text. false: unsure (the caller
 * reads the text and compares, jsontext_is_printed_scanned). */
bool jsontext_is_printed_object(const char *s, size_t len, const struct jsontext_facts *f);

#endif
