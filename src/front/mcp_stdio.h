/*
 * mcp_stdio: MCP over stdio for desktop clients: newline-delimited JSON-RPC on stdin/stdout,
 * serving every MCP tool of the runtime (HTTP and stdio adapters alike) as one endpoint.
 */
#ifndef CAPPROXY_MCP_STDIO_H
#define CAPPROXY_MCP_STDIO_H

#include "core/runtime.h"

/* Serve every MCP tool of <rt> on stdin/stdout until EOF on stdin (in-flight calls are finished
 * first) or SIGTERM/SIGINT, with <rt>'s configuration. Logs go to stderr. Call after
 * curl_global_init, from the main thread. Returns the process exit status. */
int mcp_stdio_run(const struct runtime *rt);

#endif
