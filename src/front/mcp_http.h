/*
 * mcp_http: MCP over Streamable HTTP on the MCP listeners. POST one JSON-RPC message to /mcp
 * (every tool of the listener) or /mcp/<namespace> (one adapter), answered with one
 * application/json object (202 for notifications and responses); GET opens the session's
 * server-to-client SSE stream (mcp_stream.h; 405 with mcp.maxStreams 0); DELETE ends the
 * session; notifications/cancelled stops a tools/call in flight (mcp_cancel.h). Host/Origin
 * checks against DNS rebinding, optional inbound authentication, self-validating session ids
 * (core/session.h). The protocol steps themselves are mcp_proto.h's.
 */
#ifndef CAPPROXY_MCP_HTTP_H
#define CAPPROXY_MCP_HTTP_H

#include <event2/http.h>

/* evhttp generic callback for an MCP listener; <arg> is its struct front_listener
 * (http/loop.h). */
void mcp_handle(struct evhttp_request *req, void *arg);

#endif
