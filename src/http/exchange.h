/*
 * exchange: one client request on evhttp, from arrival to the flushed reply, possibly waiting
 * for one upstream transfer. It owns the evhttp lifetime rules. evhttp stops reading a
 * connection while one of its requests is being handled, so it does not notice a client that
 * hangs up meanwhile: while the upstream is pending, an EV_CLOSED watcher on the socket does and
 * cancels the transfer. The evhttp request lives until its reply is flushed (on_complete) or its
 * connection dies (evhttp then frees it, and it must not be touched again): the exchange ends at
 * the first of the two, and replies at most once.
 */
#ifndef CAPPROXY_EXCHANGE_H
#define CAPPROXY_EXCHANGE_H

#include <stdbool.h>

#include <event2/http.h>

#include "core/mapping.h"
#include "http/loop.h"
#include "http/upstream.h"

struct exchange;

/* Front-end specific clean-up, called when the exchange ends however it ends. */
typedef void (*exchange_free_fn)(void *ctx);

/* Adopt <req>. Returns NULL when the request was already answered: a request refused by the
 * framing checks (its status, Connection: close), or the connection limit (503). */
struct exchange *exchange_begin(struct loop *l, struct evhttp_request *req, const char *adapter);
struct evhttp_request *exchange_req(struct exchange *x);
/* This request's id (X-Request-Id): logged, forwarded upstream and echoed to the client. */
const char *exchange_request_id(struct exchange *x);
struct loop *exchange_loop(struct exchange *x);
/* The runtime this request pinned at exchange_begin, and its configuration. */
const struct runtime *exchange_runtime(struct exchange *x);
const struct config *exchange_config(struct exchange *x);
void exchange_set_route(struct exchange *x, const char *route);
/* Attach front-end state <ctx> freed with <fn> when the exchange ends. */
void exchange_set_ctx(struct exchange *x, void *ctx, exchange_free_fn fn);
void *exchange_ctx(struct exchange *x);
/* The mapping output the upstream transfer borrows from (lives as long as the exchange). */
struct outreq *exchange_out(struct exchange *x);

/* Start the upstream transfer described by exchange_out(x); <done> runs on completion (not if
 * the client goes away first: the transfer is then cancelled and the exchange freed).
 * -1 when it could not start (the caller replies 502). The consumed API's outbound rate
 * (http/ratelimit.h) may hold the transfer back (a timer) or refuse it: <done> then gets a 429
 * with Retry-After made here, later, as if the upstream had answered it. */
int exchange_forward(struct exchange *x, upstream_done_fn done);
/* Park <x> while another part of the loop works for it without an upstream transfer of its own
 * (an authorization server fetch shared by several requests): the client-abort watcher runs
 * meanwhile, and when the exchange ends before exchange_unpark (the client went away),
 * <cancel>(<arg>) runs first so that the waker forgets it. */
void exchange_park(struct exchange *x, exchange_free_fn cancel, void *arg);
/* The waker is done with <x>: forget <cancel>, stop the watcher. Then resume the request. */
void exchange_unpark(struct exchange *x);
/* Set header <name>: <value> (both copied) on whatever reply <x> gets, replacing any field of
 * that name the reply would carry (an upstream's included): the inbound rate-limit fields. */
void exchange_fix_header(struct exchange *x, const char *name, const char *value);
/* Record the upstream outcome for the access log. */
void exchange_note_upstream(struct exchange *x, int status, const char *error);

/* Reply <status> with <body> (moved, may be NULL) and content type <ctype> (may be NULL). */
void exchange_reply(struct exchange *x, int status, const char *ctype, struct evbuffer *body);
/* Reply <status> with <text> (copied) as the body, content type <ctype>. */
void exchange_reply_text(struct exchange *x, int status, const char *ctype, const char *text);
/* Reply <status> with <text>[0..len) as the body, content type <ctype>: <text> (malloc'd) is
 * taken and sent without a copy, freed once written. */
void exchange_reply_owned(struct exchange *x, int status, const char *ctype, char *text,
                          size_t len);
/* Reply <status> with <json> serialised (<json> is deleted), content type <ctype>. */
void exchange_reply_json(struct exchange *x, int status, const char *ctype, cJSON *json);
/* Reply with an application/problem+json body. <param> may be NULL. <extra> (may be NULL) is
 * an object whose members are added to the problem (taken). */
void exchange_problem(struct exchange *x, int status, const char *detail, const char *param,
                      cJSON *extra);

/* ---- long-lived replies (Server-Sent Events) ---- */

/* Start a streamed reply: <status>, content type <ctype>, headers now, the body in chunks
 * (chunked transfer encoding). Until exchange_stream_end, a client that hangs up is noticed at
 * once (EV_CLOSED) and the exchange ends (its ctx free function runs). */
void exchange_stream_start(struct exchange *x, int status, const char *ctype);
/* Send <data>[0..len) as the next chunk of a started stream. */
void exchange_stream_send(struct exchange *x, const char *data, size_t len);
/* End the stream; the exchange ends once the last chunk is flushed. */
void exchange_stream_end(struct exchange *x);
/* Pin the loop's current runtime instead of the one pinned at exchange_begin: a stream that
 * outlives a reload must not keep the old runtime alive. */
void exchange_repin(struct exchange *x);
/* Cancel the pending upstream transfer, if any: its done callback never runs. The exchange
 * stays, to be answered by the caller. */
void exchange_cancel_upstream(struct exchange *x);

#endif
