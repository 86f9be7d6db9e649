/*
 * fuzz_config: the bytes as the configuration file (config_load_buffer, the entry
 * config_load_file uses), every scalar going through ${VAR} / ${VAR:-default} expansion, then
 * the expansion alone on the raw text and the effective settings printed (to /dev/null) as
 * `capproxy validate` would. config_finish is left out: it reads the credential files the
 * document names, and a fuzzed path such as /dev/stdin would block.
 */
#include "fuzz.h"

static FILE *devnull;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    log_init(LOG_ERROR, false, false);
    /* Variables the dictionary names, so expansions find values of several shapes. */
    setenv("FUZZ_A", "127.0.0.1:8080", 1);
    setenv("FUZZ_B", "${FUZZ_A}", 1); /* expanded once: stays literal */
    setenv("FUZZ_EMPTY", "", 1);
    setenv("FUZZ_SIZE", "64KiB", 1);
    devnull = fopen("/dev/null", "w");
    if (!devnull)
        abort();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct config c;
    struct diag d;
    diag_init(&d);
    config_defaults(&c);
    if (config_load_buffer(&c, "fuzz.yaml", (const char *)data, size, &d) == 0) {
        FUZZ_ASSERT(d.nerrors == 0, "success with %zu errors", d.nerrors);
        config_dump(&c, devnull);
        for (size_t i = 0; i < c.nconsumers; i++)
            (void)config_glob_match(c.consumers[i].pattern, "cal-com-platform-me");
    } else {
        FUZZ_ASSERT(d.nerrors > 0, "failure without an error");
    }
    config_deinit(&c);
    diag_deinit(&d);

    /* The expansion on its own, on the text up to the first NUL. */
    char *a, *b;
    size_t alen, blen;
    fuzz_split(data, size, &a, &alen, &b, &blen);
    const char *err = NULL;
    char *x = config_expand_env(a, &err);
    FUZZ_ASSERT(x || err, "no result and no error");
    if (x) {
        /* Without "${" nothing is replaced. */
        if (!strstr(a, "${"))
            FUZZ_ASSERT(strcmp(x, a) == 0, "'%s' became '%s'", a, x);
        free(x);
    }
    struct config_listen l = {NULL, -1};
    if (config_parse_listen(a, &l) == 0)
        FUZZ_ASSERT(l.port >= 0 && l.port <= 65535, "port %d", l.port);
    free(l.host);
    (void)config_glob_match(a, b);
    free(a);
    free(b);
    return 0;
}
