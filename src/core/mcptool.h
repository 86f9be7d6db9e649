/*
 * mcptool: the MCP messages capproxy sends inside JSON-RPC: the initialize result, tool
 * descriptors with their input schemas (derived from the runtime's calls), the tools/call
 * parameter check and tool results. Pure, no transport; shared by the HTTP and stdio front
 * ends and unit-tested directly.
 */
#ifndef CAPPROXY_MCPTOOL_H
#define CAPPROXY_MCPTOOL_H

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

#include "core/runtime.h"

/* What an endpoint serves besides tools, for the initialize result. */
#define MCPTOOL_CAP_RESOURCES 1u
#define MCPTOOL_CAP_PROMPTS   2u

/* The initialize result: protocolVersion <version>, serverInfo {name: "capproxy", version},
 * capabilities {tools: {listChanged: false}} plus resources {subscribe: false, listChanged:
 * false} and prompts {listChanged: false} when <caps> has their bit, and <instructions> when
 * not NULL. */
cJSON *mcptool_initialize_result(const char *version, const char *instructions, unsigned caps);

/* The JSON Schema of <call>'s arguments: {type: object, properties, required}. From the tool's
 * own inputParameters when it declares some; else from `with` (tools.NAME entries, typed and
 * described by the consumed parameter they feed, and tools.NAME placeholders of templates),
 * plus the consumed parameters no `with` entry covers that the call reads from a same-named
 * argument. Credentials (runtime_is_credential) never appear: they come from HTTP headers or
 * configuration only. */
cJSON *mcptool_input_schema(const struct rt_call *call);
/* One tools/list entry: name, title (label), description, inputSchema, annotations (hints). */
cJSON *mcptool_tool(const struct rt_call *call);
/* The serialised tools/list result {"tools": [...]} (caller frees with free()). */
char *mcptool_tools_list(struct rt_call *const *tools, size_t ntools);

/* Check tools/call params: an object with a string `name` and, when present and not null, an
 * object `arguments`. NULL when fine (<*name> and <*args> set, <*args> may be NULL), else the
 * message of the -32602 error. */
const char *mcptool_call_params(const cJSON *params, const char **name, const cJSON **args);

/* A tool result with one text item: {content: [{type: text, text}], isError?}. <text> need not
 * be valid UTF-8 or NUL-free: bad bytes become U+FFFD. */
cJSON *mcptool_text_result(const char *text, size_t len, bool is_error);
/* The tool result for an upstream answer. 2xx: the mapped JSON as text, and as
 * structuredContent when it is an object (a non-JSON body goes out as text; integers beyond
 * 2^53 keep their digits). Any other status: the upstream body as the first text item (when
 * there is one), then "upstream answered 404 Not Found" (with "; Location: <url>" when
 * <location> is not NULL), isError for status >= 400. Always _meta {upstreamStatus,
 * upstreamLocation when given}. */
cJSON *mcptool_upstream_result(const struct rt_call *call, long status, const char *location,
                               const char *body, size_t len);
/* The text of what mcptool_upstream_result gives for a 2xx answer of a call whose output is
 * the whole upstream document, a JSON object in valid UTF-8 (no location), between <before>
 * and <after> (NULL: nothing): one allocation of the exact size, <*outlen> (may be NULL) its
 * length. NULL when that answer is not such a document: mcptool_upstream_result decides. */
char *mcptool_passthrough_text(const struct rt_call *call, long status, const char *body,
                               size_t len, const char *before, const char *after, size_t *outlen);

#endif
