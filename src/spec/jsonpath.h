/*
 * jsonpath: the JSONPath subset capability outputs use, evaluated over cJSON: `$` and `$.`
 * (the whole document), member access `$.a.b` and `$['a']`, array index `$.a[0]` (negative
 * counts from the end), wildcard `$.a[*].b` / `$.a.*`. A path with a wildcard yields an array
 * of every match.
 */
#ifndef CAPPROXY_JSONPATH_H
#define CAPPROXY_JSONPATH_H

#include <stdbool.h>

#include <cjson/cJSON.h>

/* Syntax check at load time. 0 when valid; -1 with <*err> a static message. */
int jsonpath_check(const char *path, const char **err);
/* Whether <path> selects the whole document (NULL, "", "$", "$."). */
bool jsonpath_is_root(const char *path);
/* Evaluate <path> on <doc>. Returns a new cJSON value (caller deletes it) or NULL when nothing
 * matches (a wildcard path with no match yields an empty array). */
cJSON *jsonpath_eval(const cJSON *doc, const char *path);

#endif
