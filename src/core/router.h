/*
 * router: the REST route table. Exposed path templates (/v1/users/{id}) are compiled once per
 * load; matching runs on the still-encoded request path, split on '/', so a %2F inside a
 * segment can never create a new segment. Built once, then only read (shared by workers).
 */
#ifndef CAPPROXY_ROUTER_H
#define CAPPROXY_ROUTER_H

#include <stddef.h>

#include "spec/model.h"

#define ROUTER_MAX_CAPTURES 16

struct router;

enum router_result { ROUTER_FOUND, ROUTER_NOT_FOUND, ROUTER_METHOD_NOT_ALLOWED };

struct router_capture {
    const char *name;  /* the template's variable name, as written (e.g. "clientid") */
    const char *value; /* raw, still percent-encoded slice of the request path */
    size_t len;
};

struct router_match {
    void *target; /* what router_add was given */
    size_t ncaptures;
    struct router_capture captures[ROUTER_MAX_CAPTURES];
    unsigned allow_mask; /* bit (1u << method) for each method the matched path has */
};

struct router *router_new(void);
void router_free(struct router *r); /* NULL-safe */

/* Add route <method> <tpl> -> <target>. Literal segments match exactly (case-sensitive);
 * "{name}" or "{{name}}" as a whole segment matches any non-empty segment. Returns 0; -1 when
 * the template is malformed or the same method and path (same literals, same variable
 * positions) exist already; then <*conflict> is the target of the existing route (or NULL) and
 * <*err> a static message. */
int router_add(struct router *r, enum model_method method, const char *tpl, void *target,
               void **conflict, const char **err);

/* The same for a catch-all route (a forward resource): when the template's last segment is a
 * variable, it captures the whole non-empty rest of the path, slashes included, raw. Such a
 * route has the lowest precedence: a literal or one-segment variable route that matches wins.
 * A template that does not end in a variable is added as router_add adds it. */
int router_add_rest(struct router *r, enum model_method method, const char *tpl, void *target,
                    void **conflict, const char **err);

/* Match <path>[0..len) (no query string). On ROUTER_FOUND the match holds the target and the
 * captures; on ROUTER_METHOD_NOT_ALLOWED it holds allow_mask. Literal segments take precedence
 * over variables when both could match. */
enum router_result router_match(const struct router *r, enum model_method method, const char *path,
                                size_t len, struct router_match *out);

/* Number of routes (method + path pairs). */
size_t router_count(const struct router *r);

#endif
