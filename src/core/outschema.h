/*
 * outschema: the MCP `outputSchema` of a tool whose outputs are declared, and the check that a
 * tool result's structuredContent conforms to it. The schema follows respmap's shaping rules
 * (core/respmap.h, docs/capability-format.md "The response"), so it says what respmap_apply
 * can produce: every named output is present (null when its path matches nothing), a scalar
 * is the selection as is, object and array outputs with a structure are rebuilt, `const` is
 * that value, a rendered `value` is its declared type or the text when it did not convert.
 * Pure; unit-tested directly.
 */
#ifndef CAPPROXY_OUTSCHEMA_H
#define CAPPROXY_OUTSCHEMA_H

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

#include "core/runtime.h"

/* The JSON Schema of <call>'s structuredContent (caller deletes; runtime_build keeps each
 * call's in rt_call.output_schema), or NULL when the tool gets
 * none: no declared outputs or the whole document passed through (no contract), an
 * orchestrated or mock tool (not covered yet), or outputs whose answer is not an object (MCP
 * wants an object schema: one unnamed output that is not an object with properties or values). */
cJSON *outschema_for_call(const struct rt_call *call);
/* The schema of outputs <outs>[0..n) as respmap_outputs shapes them; NULL when the answer is
 * not always an object. */
cJSON *outschema_for_outputs(const struct model_output *outs, size_t n);

/* Whether <v> conforms to <schema> (the subset outschema makes: type, const, properties,
 * required, additionalProperties, items). When not, <where>[0..n) gets the first mismatch, as
 * "/owner/email is a number, expected string". */
bool outschema_check(const cJSON *schema, const cJSON *v, char *where, size_t n);

#endif
