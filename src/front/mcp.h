/*
 * mcp: the MCP front end. Two transports over one message layer (jsonrpc.h) and the same
 * mapping and upstream client as REST:
 *  - Streamable HTTP on the MCP listeners: POST one JSON-RPC message to /mcp (every tool of the
 *    listener) or /mcp/<namespace> (one adapter), answered with one application/json object
 *    (202 for notifications and responses); GET 405 (no server-initiated stream); DELETE ends
 *    the session. Host/Origin checks against DNS rebinding, optional inbound authentication,
 *    self-validating session ids (session.h).
 *  - stdio: newline-delimited JSON-RPC on stdin/stdout for desktop MCP clients.
 */
#ifndef CAPPROXY_MCP_H
#define CAPPROXY_MCP_H

#include <event2/http.h>

#include "spec/config.h"
#include "core/runtime.h"

/* evhttp generic callback for an MCP listener; <arg> is the struct worker_listener. */
void mcp_handle(struct evhttp_request *req, void *arg);

/* Serve every MCP tool of <rt> (HTTP and stdio adapters alike) on stdin/stdout until EOF on
 * stdin (in-flight calls are finished first) or SIGTERM/SIGINT. Logs go to stderr. Call after
 * curl_global_init, from the main thread. Returns the process exit status. */
int mcp_stdio_run(const struct runtime *rt, const struct config *cfg);

#endif
