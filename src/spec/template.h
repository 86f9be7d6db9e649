/*
 * template: Mustache-style {{name}} substitution for `with` values, body templates and
 * consumed paths. In paths, both {x} and {{x}} are placeholders and every substituted value is
 * percent-encoded as one segment. Names are trimmed of surrounding spaces; dotted names
 * (rest.x, tools.x, ns.x) are passed to the lookup as written.
 */
#ifndef CAPPROXY_TEMPLATE_H
#define CAPPROXY_TEMPLATE_H

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

#include "base/util.h"

/* Append the value of placeholder <name>[0..len) to <out>. Return 0 when found, 1 when the name
 * is unknown (the placeholder then renders empty, as Mustache does), -1 to abort rendering
 * (e.g. the cap of <out> was exceeded). */
typedef int (*template_lookup_fn)(void *arg, const char *name, size_t len, struct strbuf *out);

/* Render {{name}} placeholders of <tpl> into <out>. Text outside placeholders is copied.
 * 0 on success, -1 if the lookup aborted or the cap was exceeded. */
int template_render(const char *tpl, template_lookup_fn lookup, void *arg, struct strbuf *out);

/* The value placeholder <name>[0..len) names in <scope> (a JSON object): the member of that
 * exact name, else a dotted walk through nested objects (`get-ship.imo_number`; a numeric
 * segment indexes an array). NULL when there is none. */
const cJSON *template_scope_get(const cJSON *scope, const char *name, size_t len);

/* Append <v> as a placeholder renders it: a string as is, anything else as compact JSON (so an
 * array placed in a JSON body template stays an array, as the reference engine renders it). */
void template_value_text(const cJSON *v, struct strbuf *out);

/* template_render over a JSON object: each {{name}} is template_scope_get(scope, name); unknown
 * names render empty. <scope> may be NULL. 0 on success, -1 when the cap of <out> was hit. */
int template_render_scope(const char *tpl, const cJSON *scope, struct strbuf *out);

/* Expand a consumed path template: {x} and {{x}} are placeholders; each value the lookup
 * produces is percent-encoded as a single path segment. <missing>, if not NULL, receives a
 * pointer to the first placeholder name the lookup did not know (and its length), and -1 is
 * returned in that case. */
int template_expand_path(const char *tpl, template_lookup_fn lookup, void *arg, struct strbuf *out,
                         const char **missing, size_t *missing_len);

/* Whether <s> contains a {{...}} placeholder. */
bool template_has_placeholder(const char *s);

/* Whether <s> contains "{{", closed or not: the test that makes a `with` value a template
 * rather than a reference (an unterminated "{{" still makes one: it renders as text). */
bool template_has_open(const char *s);

/* Call <fn> once for each {{name}} placeholder of <tpl>, in order, with the name exactly as
 * template_render passes it to its lookup: the last "{{" before the first "}}" opens it, the
 * name is trimmed of spaces and tabs, empty names and an unclosed tail are skipped. A non-zero
 * return from <fn> stops the walk. Returns the number of names passed to <fn>. */
size_t template_each(const char *tpl, int (*fn)(void *arg, const char *name, size_t len),
                     void *arg);

/* The prefix a placeholder name or `with` reference is read through. */
enum template_ref {
    TREF_NONE = 0,  /* a bare name */
    TREF_REST = 1,  /* rest.NAME */
    TREF_TOOLS = 2, /* tools.NAME */
    TREF_NS = 4,    /* <namespace>.NAME, the exposing adapter's own namespace */
};
#define TREF_ANY (TREF_REST | TREF_TOOLS | TREF_NS)

/* The input key that <name>[0..len) refers to: NAME after "rest.", "tools." or "<ns>." (tried in
 * that order, each only when its bit is in <accept>; <ns> may be NULL or empty: no namespace
 * prefix), with a non-empty NAME; otherwise <name> itself. <*klen> gets the key's length,
 * <*kind> (may be NULL) which prefix was stripped (TREF_NONE: none). Either adapter accepts
 * either of rest./tools.: documents are often copied between the two. */
const char *template_ref_key(const char *name, size_t len, const char *ns, unsigned accept,
                             size_t *klen, enum template_ref *kind);

/* Check that every '{' of a path template opens a {x} or {{x}} placeholder with a non-empty
 * name and is closed. 0 when balanced; -1 otherwise with <*err_offset> the byte offset of the
 * offending brace and <*err> a static message. */
int template_check_path(const char *tpl, size_t *err_offset, const char **err);

/* Call <fn> once for each placeholder name of path template <tpl> ({x} or {{x}}), in order.
 * Returns the number of placeholders. */
size_t template_path_vars(const char *tpl, void (*fn)(void *arg, const char *name, size_t len),
                          void *arg);

#endif
