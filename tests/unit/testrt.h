/*
 * testrt: build a runtime from a YAML document held in a string, for the unit tests of the
 * modules that read one (mapping, the MCP schemas and results). Diagnostics go to stderr when
 * the document does not load.
 */
#ifndef CAPPROXY_TESTRT_H
#define CAPPROXY_TESTRT_H

#include <string.h>

#include "spec/config.h"
#include "base/diag.h"
#include "spec/checks.h"
#include "spec/loader.h"
#include "core/runtime.h"

static inline struct runtime *testrt_load(const char *name, const char *yaml, struct config *cfg)
{
    struct diag d;
    diag_init(&d);
    struct model *m = model_new();
    struct runtime *rt = NULL;
    if (loader_load_buffer(m, name, yaml, strlen(yaml), &d) == 0 && checks_validate(m, &d) == 0)
        rt = runtime_build(m, cfg, &d);
    else
        model_free(m);
    if (!rt)
        diag_print(&d, stderr);
    diag_deinit(&d);
    return rt;
}

/* The same for a document file. */
static inline struct runtime *testrt_load_file(const char *path, struct config *cfg)
{
    struct diag d;
    diag_init(&d);
    struct model *m = model_new();
    struct runtime *rt = NULL;
    if (loader_load_file(m, path, &d) == 0 && checks_validate(m, &d) == 0)
        rt = runtime_build(m, cfg, &d);
    else
        model_free(m);
    if (!rt)
        diag_print(&d, stderr);
    diag_deinit(&d);
    return rt;
}

#endif
