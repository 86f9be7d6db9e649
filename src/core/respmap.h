/*
 * respmap: how the upstream answer becomes the reply: the exposed call's output mapping
 * (outputParameters) applied to a JSON upstream body. Pure, shared by the REST and MCP front
 * ends, unit-tested directly.
 */
#ifndef CAPPROXY_RESPMAP_H
#define CAPPROXY_RESPMAP_H

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

#include "base/jsontext.h"
#include "core/runtime.h"

/* Apply the call's output mapping to an upstream body (JSON, or converted to JSON first when the
 * consumed operation declares another format). Returns a new cJSON (caller deletes), or NULL:
 * for a JSON call, the body is not JSON (the caller then passes it through); for another
 * format, the body could not be read, and <err>[0..errlen) (may be NULL) says why ("the
 * upstream's XML could not be read: ..."). Integers beyond 2^53 keep the upstream's digits. */
cJSON *respmap_apply(const struct rt_call *call, const char *body, size_t len, char *err,
                     size_t errlen);

/* An upstream JSON answer <body>[0..len) as a tree (integers beyond 2^53 keep their digits), or
 * NULL when it is not exactly one JSON value (a NUL, invalid JSON, bytes after the value:
 * `{"id":1} {"id":2}` is not read as its first half). */
cJSON *respmap_parse_json(const char *body, size_t len);
/* The same when the facts <f> of <body> (jsontext_scan) are known: the checks they answer are
 * not made again. */
cJSON *respmap_parse_json_scanned(const char *body, size_t len, const struct jsontext_facts *f);

/* Apply outputParameters <outs>[0..n) to JSON document <doc>, or, when <doc> is NULL, build the
 * mock answer from their `const` and `value`s alone. Mustache `value`s render over <scope> (a
 * JSON object of the inputs; may be NULL). Named outputs build an object keyed by name, one
 * unnamed output gives its value; see docs/capability-format.md "The response" for the rules.
 * Returns a new cJSON (caller deletes): with a document, paths that match nothing give null;
 * in mock mode, outputs without a value are left out and NULL means none has one (the caller
 * answers 204). */
cJSON *respmap_outputs(const struct model_output *outs, size_t n, const cJSON *doc,
                       const cJSON *scope);
/* Whether <call>'s consumed operation answers another format than JSON (`outputRawFormat`):
 * respmap_apply converts its body first (core/convert.h), and NULL from it then means the body
 * could not be read, never "pass it through". */
bool respmap_converts(const struct rt_call *call);

#endif
