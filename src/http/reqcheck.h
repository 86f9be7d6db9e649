/*
 * reqcheck: the checks of a client request both front ends make before mapping it, each once:
 * the method, the body size, the header collection, the query string, inbound authentication.
 * Each returns what went wrong; the front end renders it in its own shape (a problem document
 * for REST, a JSON-RPC error for MCP).
 */
#ifndef CAPPROXY_REQCHECK_H
#define CAPPROXY_REQCHECK_H

#include <stdbool.h>
#include <stddef.h>

#include <event2/http.h>

#include "core/mapping.h"
#include "core/runtime.h"
#include "spec/config.h"

/* At most this many query parameters (with a name) are taken; more is a 400. */
#define REQCHECK_MAX_QUERY 64

/* The request's method as a model method, or -1 for TRACE, CONNECT and the like. */
int reqcheck_method(struct evhttp_request *req);

/* Whether the request body fits limits.maxBodySize of <cfg>; <*len> gets its length. Over it,
 * the front end answers 413. */
bool reqcheck_body_fits(struct evhttp_request *req, const struct config *cfg, size_t *len);

/* The request's header fields into <out>[0..cap), but not those carrying one of the inbound
 * credentials <auth>[0..nauth): they authenticated the client to us and must not travel on.
 * 0, or 431 when there are more than <cap> (the framing checks cap the count at
 * limits.maxHeaders, so a <cap> of CONFIG_MAX_HEADERS_LIMIT never leaves one out). The pairs
 * borrow from the request. */
int reqcheck_headers(struct evhttp_request *req, const struct rt_inbound *const *auth, size_t nauth,
                     struct mapping_kv *out, size_t cap, size_t *n);

/* Every "name[=value]" pair of query string <q> (NULL: none) with a non-empty name, in order,
 * as raw (still percent-encoded) spans; <value> is NULL without '='. Stops at the first non-zero
 * return of <fn> and returns it; 0 after the last pair. */
typedef int (*reqcheck_query_fn)(void *arg, const char *name, size_t nlen, const char *value,
                                 size_t vlen);
int reqcheck_query_each(const char *q, reqcheck_query_fn fn, void *arg);

/* A decoded query string: names and values percent-decoded ('+' is a space), owned here. */
struct reqcheck_query {
    struct mapping_kv kv[REQCHECK_MAX_QUERY];
    size_t n;
    char *mem[2 * REQCHECK_MAX_QUERY];
    size_t nmem;
};

/* Decode query string <q> into <out> (initialised here; reqcheck_query_free it either way),
 * leaving out the parameter named <skip> (the adapter's own query credential: no input, it
 * never travels upstream; NULL: none). NULL, or the detail of the 400 to answer: too many
 * parameters, invalid percent-encoding, or %00 in a name (names are looked up as C strings:
 * "limit%00x" would act as "limit"). */
const char *reqcheck_query(const char *q, const char *skip, struct reqcheck_query *out);
void reqcheck_query_free(struct reqcheck_query *q);

/* Inbound authentication: NULL when the request carries every credential of <auth>[0..n) (each
 * compared in constant time), else the first missing or wrong one, for which a
 * WWW-Authenticate header has been added to the reply (the caller then answers 401). */
const struct rt_inbound *reqcheck_auth(struct evhttp_request *req,
                                       const struct rt_inbound *const *auth, size_t n);
/* The same, leaving out the oauth2 credentials, which the caller checks with oauth_check
 * (http/oauth.h). reqcheck_auth counts an oauth2 credential as never satisfied: a front end
 * that does not verify tokens refuses everyone rather than letting everyone in. */
const struct rt_inbound *reqcheck_auth_static(struct evhttp_request *req,
                                              const struct rt_inbound *const *auth, size_t n);

#endif
