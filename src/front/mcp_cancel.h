/*
 * mcp_cancel: the tools/call requests in flight on the MCP HTTP listeners, by session and
 * request id, so that a notifications/cancelled can stop one. The notification is a POST of
 * its own and may reach another worker than the call (SO_REUSEPORT spreads connections), so
 * the table is per process, under a mutex; the cancellation itself runs on the call's own
 * loop (an event of its base, activated from whichever thread found it).
 */
#ifndef CAPPROXY_MCP_CANCEL_H
#define CAPPROXY_MCP_CANCEL_H

#include <stdbool.h>

#include <cjson/cJSON.h>
#include <event2/event.h>

struct mcp_cancel;

typedef void (*mcp_cancel_fn)(void *arg);

/* Register request <id> of session <sid>, running on the loop of <base> (the calling thread's):
 * <fn>(<arg>) runs there if a notifications/cancelled names it. */
struct mcp_cancel *mcp_cancel_add(struct event_base *base, const char *sid, const cJSON *id,
                                  mcp_cancel_fn fn, void *arg);
/* The request is done (or cancelled): forget it. From its own thread; NULL-safe. */
void mcp_cancel_remove(struct mcp_cancel *c);
/* From any thread: ask for the cancellation of request <id> of session <sid>. false when no
 * such request is in flight (finished already, or never was: the spec says to ignore it). */
bool mcp_cancel_request(const char *sid, const cJSON *id);

#endif
