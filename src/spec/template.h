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

#include "base/util.h"

/* Append the value of placeholder <name>[0..len) to <out>. Return 0 when found, 1 when the name
 * is unknown (the placeholder then renders empty, as Mustache does), -1 to abort rendering
 * (e.g. the cap of <out> was exceeded). */
typedef int (*template_lookup_fn)(void *arg, const char *name, size_t len, struct strbuf *out);

/* Render {{name}} placeholders of <tpl> into <out>. Text outside placeholders is copied.
 * 0 on success, -1 if the lookup aborted or the cap was exceeded. */
int template_render(const char *tpl, template_lookup_fn lookup, void *arg, struct strbuf *out);

/* Expand a consumed path template: {x} and {{x}} are placeholders; each value the lookup
 * produces is percent-encoded as a single path segment. <missing>, if not NULL, receives a
 * pointer to the first placeholder name the lookup did not know (and its length), and -1 is
 * returned in that case. */
int template_expand_path(const char *tpl, template_lookup_fn lookup, void *arg, struct strbuf *out,
                         const char **missing, size_t *missing_len);

/* Whether <s> contains a {{...}} placeholder. */
bool template_has_placeholder(const char *s);

/* Check that every '{' of a path template opens a {x} or {{x}} placeholder with a non-empty
 * name and is closed. 0 when balanced; -1 otherwise with <*err_offset> the byte offset of the
 * offending brace and <*err> a static message. */
int template_check_path(const char *tpl, size_t *err_offset, const char **err);

/* Call <fn> once for each placeholder name of path template <tpl> ({x} or {{x}}), in order.
 * Returns the number of placeholders. */
size_t template_path_vars(const char *tpl, void (*fn)(void *arg, const char *name, size_t len),
                          void *arg);

#endif
