/*
 * mcp_stream: the server-to-client SSE streams an MCP client opens with GET (Streamable HTTP),
 * and what travels on them: notifications/tools/list_changed after a reload changed the tool
 * list of the stream's endpoint, and a keep-alive comment every mcp.keepAlive so that proxies
 * and load balancers keep an idle stream open. No event ids: nothing is replayed after a
 * reconnect (the notification only says "list again").
 *
 * Each worker thread runs one loop and serves its own streams, so the registry is per thread;
 * the count against mcp.maxStreams is per process. The functions below run on the thread of
 * the loop the streams belong to.
 */
#ifndef CAPPROXY_MCP_STREAM_H
#define CAPPROXY_MCP_STREAM_H

#include "http/exchange.h"

/* Answer <x> (a checked GET on endpoint <path> of listener <fl>) with an open SSE stream, or
 * 503 when the process already has mcp.maxStreams open. */
void mcp_stream_open(struct exchange *x, const struct front_listener *fl, const char *path);
/* This thread's loop switched to a reloaded runtime: every stream moves to it (the old one
 * may be freed), those whose endpoint's tools/list answer changed get
 * notifications/tools/list_changed, and those whose endpoint is gone end. */
void mcp_stream_reloaded(void);
/* End every stream of this thread (drain, shutdown): each ends cleanly (last chunk). */
void mcp_stream_close_all(void);
/* Open streams in this process. */
long mcp_stream_count(void);

#endif
