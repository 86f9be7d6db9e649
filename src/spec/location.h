/*
 * location: the `location` of an import (`consumes: [{import, location}]`) or of a file bind
 * (`binds: [{location}]`) as a local file path. Relative locations are relative to the
 * directory of the document that holds them, never to the process's working directory: a
 * daemon started from anywhere reads the same files. Only local files are read; another URI
 * scheme (vault://, k8s-secret://, https://) is refused with a message saying so.
 */
#ifndef CAPPROXY_LOCATION_H
#define CAPPROXY_LOCATION_H

#include <stdbool.h>

/* The file path <location>, written in the document loaded as <doc>, stands for. Accepted:
 * `file:///abs/path`, `file:///./rel`, `file://./rel` (also with `../`), percent-decoded; with
 * <plain_ok> also a plain path (`./rel`, `shared/x.yml`, `/abs`), taken as written. Relative
 * paths are joined to <doc>'s directory. Returns the path (caller frees), or NULL with <*err>
 * set to why (caller frees). */
char *location_file(const char *doc, const char *location, bool plain_ok, char **err);

enum location_format { LOCATION_JSON, LOCATION_YAML, LOCATION_OTHER };

/* The format a bind file is read as, by its extension: .json, .yaml or .yml (any case). */
enum location_format location_format_of(const char *path);

#endif
