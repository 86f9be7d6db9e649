/*
 * outreq: the request capproxy sends to a consumed API, as the mapping builds it and the
 * upstream client sends it: a method, an encoded URL, header pairs and a body. It knows nothing
 * of how a client library spells these (curl's header lines are http/upstream.c's business).
 */
#ifndef CAPPROXY_OUTREQ_H
#define CAPPROXY_OUTREQ_H

#include <stdbool.h>
#include <stddef.h>

#include "base/util.h"
#include "spec/model.h"

struct outreq_header {
    char *name;  /* owned: one block with the value (outreq_add_header), freed through <name> */
    char *value; /* in <name>'s block, NUL-terminated; may be empty */
    size_t len;
};

struct outreq {
    enum model_method method;
    struct strbuf url; /* absolute and fully encoded */
    struct outreq_header *headers;
    size_t nheaders;
    char *body; /* owned; NULL when none */
    size_t body_len;
    /* HTTP digest credentials for the API's challenge, borrowed from the runtime (which the
     * request pins); NULL when the API does not use digest. Secrets: never logged. */
    const char *digest_user;
    const char *digest_pass;
    /* The consumed API (its namespace, borrowed from the runtime the request pins): the key of
     * the per-API resilience state and limits. NULL for capproxy's own fetches (OAuth). */
    const char *api;
    /* POST and PATCH may be retried only when the tool or operation says it is idempotent
     * (a tool's `hints.idempotent`, an aggregate function's `semantics.idempotent`). */
    bool idempotent;
    /* This attempt's whole-transfer time-out in ms (0: upstream.timeout): what is left of the
     * call's deadline when http/resil.c retries it. */
    long timeout_ms;
    size_t headers_cap; /* <headers>' allocated length */
};

/* <max_url>: the URL's cap (0: none). */
void outreq_init(struct outreq *o, size_t max_url);
void outreq_deinit(struct outreq *o); /* leaves <o> as after outreq_init(o, 0), zeroed */
/* Append header <name> with <value>[0..len) (both copied). */
void outreq_add_header(struct outreq *o, const char *name, const char *value, size_t len);
/* The first header named <name> (ASCII case-insensitive), or NULL. */
const struct outreq_header *outreq_find_header(const struct outreq *o, const char *name);
/* The Content-Type the request goes out with: its own Content-Type header when it has one
 * (mapping_build puts one on every body it builds: JSON, text, XML, SPARQL, a form or
 * multipart), else application/json for a body that came without one, else NULL. */
const char *outreq_content_type(const struct outreq *o);

#endif
