/*
 * location: see location.h.
 */
#include "spec/location.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "spec/urlenc.h"

/* The scheme of <s> ("vault" for vault://...), as RFC 3986 spells one, or NULL when <s> does not
 * start with one. A one-letter scheme is taken for a drive letter and not counted. */
static char *scheme_of(const char *s)
{
    size_t n = 0;
    if (!isalpha((unsigned char)s[0]))
        return NULL;
    while (isalnum((unsigned char)s[n]) || s[n] == '+' || s[n] == '.' || s[n] == '-')
        n++;
    if (s[n] != ':' || n < 2)
        return NULL;
    return xstrndup(s, n);
}

static bool is_relative_start(const char *p)
{
    return str_has_prefix(p, "./") || str_has_prefix(p, "../");
}

/* <rel> joined to the directory of <doc> (unchanged when <doc> names no directory: both are
 * then relative to the working directory, where <doc> itself was found). */
static char *join_doc_dir(const char *doc, const char *rel)
{
    const char *slash = doc ? strrchr(doc, '/') : NULL;
    while (str_has_prefix(rel, "./")) /* dir/x, not dir/./x, in messages */
        rel += 2;
    if (!slash)
        return xstrdup(rel);
    return xasprintf("%.*s/%s", (int)(slash - doc), doc, rel);
}

char *location_file(const char *doc, const char *location, bool plain_ok, char **err)
{
    char *scheme = scheme_of(location);
    char *decoded = NULL, *path = NULL;
    const char *p;
    bool relative;

    *err = NULL;
    if (scheme && !str_eq_ci(scheme, "file")) {
        *err = xasprintf("scheme '%s:' is not supported: capproxy reads local files "
                         "only (file:///absolute/path, file:///./path/relative/to/the/document)",
                         scheme);
        goto cleanup;
    }
    if (scheme) {
        p = location + 5;
        if (!str_has_prefix(p, "//")) {
            *err = xasprintf("expected 'file://' followed by a path, got '%s'", location);
            goto cleanup;
        }
        p += 2;
        /* file:///./x and file://./x are relative; file:///x is absolute; file://host/x names
         * another machine. */
        if (is_relative_start(p)) {
            relative = true;
        } else if (p[0] == '/' && is_relative_start(p + 1)) {
            p++;
            relative = true;
        } else if (p[0] == '/') {
            relative = false;
        } else {
            *err = xasprintf("file URI '%s' names a host: write file:///absolute/path or "
                             "file:///./path/relative/to/the/document",
                             location);
            goto cleanup;
        }
        size_t len;
        decoded = urlenc_decode_dup(p, strlen(p), false, &len);
        if (!decoded || strlen(decoded) != len) {
            *err = xasprintf("file URI '%s' has an invalid percent escape", location);
            goto cleanup;
        }
        p = decoded;
    } else if (!plain_ok) {
        *err =
            xasprintf("expected a file URI such as 'file:///./%s' (relative to the document) "
                      "or 'file:///absolute/path', got '%s'",
                      location[0] == '.' && location[1] == '/' ? location + 2 : location, location);
        goto cleanup;
    } else {
        p = location;
        relative = p[0] != '/';
    }
    if (!*p || (relative && (strcmp(p, "./") == 0 || strcmp(p, "../") == 0))) {
        *err = xasprintf("'%s' names no file", location);
        goto cleanup;
    }
    path = relative ? join_doc_dir(doc, p) : xstrdup(p);
cleanup:
    free(scheme);
    free(decoded);
    return path;
}

enum location_format location_format_of(const char *path)
{
    const char *dot = strrchr(path, '.');
    if (!dot || strchr(dot, '/'))
        return LOCATION_OTHER;
    if (str_eq_ci(dot, ".json"))
        return LOCATION_JSON;
    if (str_eq_ci(dot, ".yaml") || str_eq_ci(dot, ".yml"))
        return LOCATION_YAML;
    return LOCATION_OTHER;
}
