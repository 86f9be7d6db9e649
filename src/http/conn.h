/*
 * conn: the client connections of one loop, from accept to close. Each is counted against
 * limits.maxConnections from accept, and every request on it passes the framing checks
 * (framing.h) and the head and body deadlines before evhttp parses it; a refused request
 * reaches evhttp as a synthetic one that the exchange answers with the refusal (conn_begin).
 */
#ifndef CAPPROXY_CONN_H
#define CAPPROXY_CONN_H

#include <event2/bufferevent.h>
#include <event2/http.h>

struct conn;
struct conn_table; /* one per loop (loop_conns) */
struct loop;

/* Called when the connection dies while bound to <user> (conn_begin): evhttp frees the
 * request in progress. */
typedef void (*conn_close_fn)(void *user);

struct conn_table *conn_table_new(void);
/* At loop shutdown, after evhttp_free (which closed every connection evhttp knew). */
void conn_table_free(struct conn_table *t);

/* evhttp's bevcb for the front-end listeners (<arg>: the struct loop): makes the connection's
 * bufferevent, counts the connection and checks the framing of every request on it before
 * evhttp parses it. */
struct bufferevent *conn_accept(struct event_base *base, void *arg);

/* The connection <req> arrived on, or NULL when conn_accept did not make it. */
struct conn *conn_of(struct loop *l, struct evhttp_request *req);
/* Bind the request now starting on <c> to <user> until conn_end. 0, or the status to answer
 * with (<why>: its detail): the refusal this synthetic request stands for, or 503 when the
 * connection was over the limit at accept. Either way the connection closes after it. */
int conn_begin(struct conn *c, void *user, conn_close_fn on_close, const char **why);
/* <user> is done with <c> (NULL-safe; nothing when <c> is bound to another). */
void conn_end(struct conn *c, void *user);
struct evhttp_connection *conn_evcon(const struct conn *c);

/* A reply was just queued on <c> (evhttp_send_reply): write it at the end of this loop pass,
 * together with the other replies of the pass, instead of in a later pass (NULL: nothing). */
void conn_flush_later(struct conn *c);

#endif
