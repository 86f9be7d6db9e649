/*
 * fuzz: what the libFuzzer targets share: splitting one input into two parts, a property check
 * that aborts (so libFuzzer keeps the input), and the runtime of the shipped capability
 * documents, loaded once per process.
 */
#ifndef CAPPROXY_FUZZ_H
#define CAPPROXY_FUZZ_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "spec/config.h"
#include "base/diag.h"
#include "spec/checks.h"
#include "spec/loader.h"
#include "base/log.h"
#include "core/runtime.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A violated property: print it and abort, so libFuzzer saves the input as a crash. */
#define FUZZ_ASSERT(cond, ...)                                                                     \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz property violated: %s: ", #cond);                                \
            fprintf(stderr, __VA_ARGS__);                                                          \
            fputc('\n', stderr);                                                                   \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

/* Split <data> at its first NUL byte: <*a> the part before it, <*b> the part after it (empty
 * when there is no NUL). Both are NUL-terminated heap copies (free them). */
static inline void fuzz_split(const uint8_t *data, size_t size, char **a, size_t *alen, char **b,
                              size_t *blen)
{
    const uint8_t *nul = memchr(data, 0, size);
    size_t n = nul ? (size_t)(nul - data) : size;
    size_t m = nul ? size - n - 1 : 0;
    *a = malloc(n + 1);
    *b = malloc(m + 1);
    if (!*a || !*b)
        abort();
    memcpy(*a, data, n);
    (*a)[n] = '\0';
    if (m)
        memcpy(*b, nul + 1, m);
    (*b)[m] = '\0';
    *alen = n;
    *blen = m;
}

/* The shipped documents (capabilities/) as the proxy serves them, with a configuration that
 * gives every consumed API a base URI and a credential. Exits when they do not load: every
 * target that uses it would be meaningless. Never freed (lives as long as the process). */
static inline struct runtime *fuzz_shipped_runtime(void)
{
    static const char cfg_yaml[] = "consumers:\n"
                                   "  - namespace: '*'\n"
                                   "    baseUri: https://api.example.test/base\n"
                                   "    credentials:\n"
                                   "      - header: x-cal-secret-key\n"
                                   "        fromEnv: FUZZ_CAPPROXY_SECRET\n";
    static struct config cfg;
    struct diag d;
    struct runtime *rt = NULL;

    log_init(LOG_ERROR, false, false);
    /* Credentials set, so the mappings inject them as they do in production. */
    setenv("FUZZ_CAPPROXY_SECRET", "fuzz-secret", 1);
    setenv("CAL_COM_API_KEY", "cal_fuzz", 1);
    setenv("CAL_COM_CLIENT_SECRET", "fuzz-client-secret", 1);
    diag_init(&d);
    config_defaults(&cfg);
    struct model *m = model_new();
    if (config_load_buffer(&cfg, "fuzz-config.yaml", cfg_yaml, sizeof cfg_yaml - 1, &d) == 0 &&
        config_finish(&cfg, &d) == 0 &&
        loader_load_path(m, FUZZ_SOURCE_ROOT "/capabilities", &d) == 0 &&
        checks_validate(m, &d) == 0)
        rt = runtime_build(m, &cfg, &d);
    else
        model_free(m);
    if (!rt) {
        diag_print(&d, stderr);
        fprintf(stderr, "fuzz: the shipped documents in %s/capabilities do not load\n",
                FUZZ_SOURCE_ROOT);
        exit(1);
    }
    diag_deinit(&d);
    return rt;
}

#endif
