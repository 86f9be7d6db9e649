/*
 * jsonrpc: JSON-RPC 2.0 messages and the MCP messages carried in them (initialize result,
 * tool descriptors with their input schemas, tool results). Pure, no event loop and no
 * transport: the HTTP and stdio front ends in mcp.c share it, and it is unit-tested directly.
 */
#ifndef CAPPROXY_JSONRPC_H
#define CAPPROXY_JSONRPC_H

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

#include "core/runtime.h"

#define JSONRPC_PARSE_ERROR      (-32700)
#define JSONRPC_INVALID_REQUEST  (-32600)
#define JSONRPC_METHOD_NOT_FOUND (-32601)
#define JSONRPC_INVALID_PARAMS   (-32602)
#define JSONRPC_INTERNAL_ERROR   (-32603)
/* Transport-level refusals (HTTP 4xx with a JSON-RPC body), as the MCP SDKs answer them. */
#define JSONRPC_SERVER_ERROR      (-32000)
#define JSONRPC_SESSION_NOT_FOUND (-32001)

enum jsonrpc_kind { JSONRPC_REQUEST, JSONRPC_NOTIFICATION, JSONRPC_RESPONSE };

/* One parsed message. <id>, <method> and <params> point into <doc>. */
struct jsonrpc_msg {
    enum jsonrpc_kind kind;
    cJSON *doc;          /* owned */
    const cJSON *id;     /* string or number; NULL for a notification */
    const char *method;  /* NULL for a response */
    const cJSON *params; /* object or array; NULL when absent */
};

/* Parse and check one message from <buf>[0..len). 0 on success (free with jsonrpc_msg_free);
 * -1 with <*error_reply> set to the error response to send (caller deletes): -32700 for bad
 * JSON, -32600 for anything that is not a single JSON-RPC 2.0 request, notification or
 * response (a batch array included). The error's id is the message's id when that was valid,
 * else null. */
int jsonrpc_parse(const char *buf, size_t len, struct jsonrpc_msg *msg, cJSON **error_reply);
void jsonrpc_msg_free(struct jsonrpc_msg *msg); /* NULL-safe, idempotent */

/* {"jsonrpc":"2.0","id":<id>,"result":<result>}. Copies <id> (NULL: null); takes <result>. */
cJSON *jsonrpc_result(const cJSON *id, cJSON *result);
/* {"jsonrpc":"2.0","id":<id>,"error":{"code","message"}}. Copies <id> (NULL: null). */
cJSON *jsonrpc_error(const cJSON *id, int code, const char *message);
/* The text of a success response whose result is the JSON text <result_json> (already
 * serialised, e.g. a cached tools list). Caller frees with free(). */
char *jsonrpc_result_text(const cJSON *id, const char *result_json);

/* ---- MCP ---- */

/* The initialize result: protocolVersion <version>, serverInfo {name: "capproxy", version},
 * capabilities {tools: {listChanged: false}}, and <instructions> when not NULL. */
cJSON *jsonrpc_mcp_initialize_result(const char *version, const char *instructions);

/* The JSON Schema of <call>'s arguments: {type: object, properties, required}. From the tool's
 * own inputParameters when it declares some; else from `with` (tools.NAME entries, typed and
 * described by the consumed parameter they feed, and tools.NAME placeholders of templates),
 * plus the consumed parameters no `with` entry covers that the call reads from a same-named
 * argument. Credentials (runtime_is_credential) never appear: they come from HTTP headers or
 * configuration only. */
cJSON *jsonrpc_mcp_input_schema(const struct rt_call *call);
/* One tools/list entry: name, title (label), description, inputSchema, annotations (hints). */
cJSON *jsonrpc_mcp_tool(const struct rt_call *call);
/* The serialised tools/list result {"tools": [...]} (caller frees with free()). */
char *jsonrpc_mcp_tools_list(struct rt_call *const *tools, size_t ntools);

/* Check tools/call params: an object with a string `name` and, when present and not null, an
 * object `arguments`. NULL when fine (<*name> and <*args> set, <*args> may be NULL), else the
 * message of the -32602 error. */
const char *jsonrpc_mcp_call_params(const cJSON *params, const char **name, const cJSON **args);

/* A tool result with one text item: {content: [{type: text, text}], isError?}. <text> need not
 * be valid UTF-8 or NUL-free: bad bytes become U+FFFD. */
cJSON *jsonrpc_mcp_text_result(const char *text, size_t len, bool is_error);
/* The tool result for an upstream answer. 2xx: the mapped JSON as text, and as
 * structuredContent when it is an object (a non-JSON body goes out as text; integers beyond
 * 2^53 keep their digits). Any other status: the upstream body as the first text item (when
 * there is one), then "upstream answered 404 Not Found" (with "; Location: <url>" when
 * <location> is not NULL), isError for status >= 400. Always _meta {upstreamStatus,
 * upstreamLocation when given}. */
cJSON *jsonrpc_mcp_upstream_result(const struct rt_call *call, long status, const char *location,
                                   const char *body, size_t len);

/* <s>[0..len) as a NUL-terminated valid UTF-8 string (caller frees): invalid sequences and NUL
 * bytes become U+FFFD, so the text can always be put into JSON. */
char *jsonrpc_utf8_sanitize(const char *s, size_t len);

#endif
