/*
 * uritpl: the URI templates of MCP resources (`uri: users://{id}/profile`). Only RFC 6570
 * level 1 is read: {name} placeholders (letters, digits, '_'), each matching one non-empty run
 * of characters without '/', percent-decoded. Two placeholders must be separated by text, so
 * that a URI splits one way only.
 */
#ifndef CAPPROXY_URITPL_H
#define CAPPROXY_URITPL_H

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

#define URITPL_MAX_VARS 16

/* Check <uri>'s placeholders. The number of placeholders (0: a plain URI), or -1 with
 * <*err_off> the byte offset of the fault and <*err> a static message. */
int uritpl_check(const char *uri, size_t *err_off, const char **err);

/* Call <fn> with each placeholder name of a checked template, in order. */
void uritpl_each(const char *tpl, void (*fn)(void *arg, const char *name, size_t len), void *arg);

/* Whether <uri> matches checked template <tpl>; the placeholders' decoded values go to <vars>
 * (an object, may be NULL) as strings. A value that does not decode (%zz) does not match. */
bool uritpl_match(const char *tpl, const char *uri, cJSON *vars);

#endif
