/*
 * jsonrpc: JSON-RPC 2.0 framing: parse and check one message, build result and error
 * responses. Pure, no event loop and no transport: the HTTP and stdio front ends share it. The
 * MCP messages carried in it (initialize result, tool descriptors, tool results) are
 * core/mcptool.h.
 */
#ifndef CAPPROXY_JSONRPC_H
#define CAPPROXY_JSONRPC_H

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

#define JSONRPC_PARSE_ERROR      (-32700)
#define JSONRPC_INVALID_REQUEST  (-32600)
#define JSONRPC_METHOD_NOT_FOUND (-32601)
#define JSONRPC_INVALID_PARAMS   (-32602)
#define JSONRPC_INTERNAL_ERROR   (-32603)
/* Transport-level refusals (HTTP 4xx with a JSON-RPC body), as the MCP SDKs answer them. */
#define JSONRPC_SERVER_ERROR      (-32000)
#define JSONRPC_SESSION_NOT_FOUND (-32001)
/* LSP's RequestCancelled: the answer to a POST whose request the client cancelled. */
#define JSONRPC_REQUEST_CANCELLED (-32800)

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
/* The text before the result of such a response: {"jsonrpc":"2.0","id":<id>,"result": (a
 * "}" after the result closes it). Caller frees with free(). */
char *jsonrpc_result_head(const cJSON *id);

#endif
