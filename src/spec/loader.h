/*
 * loader: capability documents (naftiko 1.0.0-alpha2 YAML, read with libyaml) into the model.
 * Every problem is reported into a struct diag with file, line, column and what was expected;
 * loading continues past an error where it can so one run shows them all. An unknown key is an
 * error, with "did you mean" (the known keys are the alpha2 schema's, in loader.c's tables). The
 * format is described in docs/capability-format.md in this repository. Checks across documents
 * are spec/checks.h's (checks_validate), run once every document is loaded.
 */
#ifndef CAPPROXY_LOADER_H
#define CAPPROXY_LOADER_H

#include <stddef.h>

#include "base/diag.h"
#include "spec/model.h"

/* Parse one document from memory, named <name> in messages, into <m>. 0 on success, -1 when
 * an error was reported (the model may then hold a partial capability: do not run it). A shared
 * file (a root `consumes`, no `capability`) is checked and adds nothing to <m>; the entries a
 * capability imports from one (`{import, location, as}`, relative to the directory of <name>)
 * become its own consumers. */
int loader_load_buffer(struct model *m, const char *name, const char *buf, size_t len,
                       struct diag *d);
/* Parse one file into <m>. 0 on success, -1 on error (reported in <d>). */
int loader_load_file(struct model *m, const char *path, struct diag *d);
/* Load <path>: a file, or every *.yaml / *.yml file of a directory in sorted order. */
int loader_load_path(struct model *m, const char *path, struct diag *d);
#endif
