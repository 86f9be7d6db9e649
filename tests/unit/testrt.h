/*
 * testrt: build a runtime from a YAML document held in a string, for the unit tests of the
 * modules that read one (mapping, the MCP schemas and results). Diagnostics go to stderr when
 * the document does not load.
 */
#ifndef CAPPROXY_TESTRT_H
#define CAPPROXY_TESTRT_H

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "spec/config.h"
#include "base/diag.h"
#include "spec/checks.h"
#include "spec/loader.h"
#include "core/runtime.h"

/* Validate and build a model the loader has read (<loaded>: it read without error); the
 * diagnostics go to stderr unless <quiet>. Frees <d>. */
static inline struct runtime *testrt_finish(struct model *m, bool loaded, struct diag *d,
                                            const struct config *cfg, bool quiet)
{
    struct runtime *rt = NULL;
    if (loaded && checks_validate(m, d) == 0)
        rt = runtime_build(m, cfg, d);
    else
        model_free(m);
    if (!rt && !quiet)
        diag_print(d, stderr);
    diag_deinit(d);
    return rt;
}

static inline struct runtime *testrt_load(const char *name, const char *yaml,
                                          const struct config *cfg)
{
    struct diag d;
    diag_init(&d);
    struct model *m = model_new();
    return testrt_finish(m, loader_load_buffer(m, name, yaml, strlen(yaml), &d) == 0, &d, cfg,
                         false);
}

/* The same for a document file; <quiet>: say nothing when it does not load. */
static inline struct runtime *testrt_load_path(const char *path, const struct config *cfg,
                                               bool quiet)
{
    struct diag d;
    diag_init(&d);
    struct model *m = model_new();
    return testrt_finish(m, loader_load_file(m, path, &d) == 0, &d, cfg, quiet);
}

static inline struct runtime *testrt_load_file(const char *path, const struct config *cfg)
{
    return testrt_load_path(path, cfg, false);
}

/* The shipped configuration (config/capproxy.yaml, tests run from the repository root), its
 * base URI pointed at a closed local port: true when it loads without an error. The caller
 * config_deinits <cfg>. */
static inline bool testrt_shipped_config(struct config *cfg)
{
    struct diag d;
    diag_init(&d);
    config_defaults(cfg);
    setenv("CAL_COM_BASE_URI", "http://127.0.0.1:9", 1);
    config_load_file(cfg, "config/capproxy.yaml", true, &d);
    config_finish(cfg, &d);
    bool ok = d.nerrors == 0;
    diag_deinit(&d);
    return ok;
}

/* Load <doc> as "f.yaml" and validate it: <*mp> gets the model (caller frees), <d> the
 * diagnostics (caller deinits). 0 when clean. */
static inline int testrt_load_model(const char *doc, struct model **mp, struct diag *d)
{
    struct model *m = model_new();
    diag_init(d);
    int rc = loader_load_buffer(m, "f.yaml", doc, strlen(doc), d);
    if (rc == 0)
        rc = checks_validate(m, d);
    *mp = m;
    return rc;
}

/* Whether <doc> fails to load with <want> among its messages (and no other error when <only>);
 * the diagnostics go to stderr when it does not. */
static inline bool testrt_fails_with(const char *doc, const char *want, bool only)
{
    struct model *m;
    struct diag d;
    bool failed = testrt_load_model(doc, &m, &d) < 0;
    bool ok = failed && diag_contains(&d, want) && (!only || d.nerrors == 1);
    if (!ok) {
        fprintf(stderr, "want: %s\n", want);
        diag_print(&d, stderr);
    }
    diag_deinit(&d);
    model_free(m);
    return ok;
}

#endif
