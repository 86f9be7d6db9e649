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

/* The run mode's stdio session (a document's `transport: stdio` adapter). */
struct mcp_stdio_thread;
/* Serve <ep> (rt->stdio_adapter_ep) on stdin/stdout from a thread of its own, next to the
 * HTTP listeners, with a reference on <rt> (a reload does not change this session). When the
 * session ends by itself (stdin's end, in-flight calls answered; or stdout closed), that
 * thread calls <on_end>(<arg>), which should stop the process. Call after curl_global_init and
 * evthread_use_pthreads, with the signals the main thread waits for blocked. NULL when it
 * cannot start (logged). */
struct mcp_stdio_thread *mcp_stdio_spawn(const struct runtime *rt, const struct rt_mcp_endpoint *ep,
                                         void (*on_end)(void *arg), void *arg);
/* End the session if it still runs (calls in flight are abandoned, unanswered), wait for its
 * thread and free it. NULL-safe. */
void mcp_stdio_join(struct mcp_stdio_thread *t);

#endif
