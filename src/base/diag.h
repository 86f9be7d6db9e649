/*
 * diag: errors and warnings collected while loading documents and configuration, each with
 * file, line and column, printed as "file:line:col: error: message". Loading goes on after an
 * error where it can, so one run reports every problem of a document.
 */
#ifndef CAPPROXY_DIAG_H
#define CAPPROXY_DIAG_H

#include <stdio.h>

#include "base/util.h"

enum diag_level { DIAG_ERROR, DIAG_WARNING };

struct diag_entry {
    enum diag_level level;
    char *file; /* NULL when not tied to a file */
    int line;   /* 0 when unknown */
    int col;    /* 0 when unknown */
    char *message;
};

struct diag {
    struct diag_entry *v;
    size_t n;
    size_t nerrors;
};

void diag_init(struct diag *d);
void diag_deinit(struct diag *d);
void diag_add(struct diag *d, enum diag_level level, const char *file, int line, int col,
              const char *fmt, ...) UTIL_PRINTF(6, 7) UTIL_NONNULL(6);
void diag_vadd(struct diag *d, enum diag_level level, const char *file, int line, int col,
               const char *fmt, va_list ap) UTIL_NONNULL(6);
#define diag_error(d, file, line, col, ...)                                                        \
    diag_add((d), DIAG_ERROR, (file), (line), (col), __VA_ARGS__)
#define diag_warn(d, file, line, col, ...)                                                         \
    diag_add((d), DIAG_WARNING, (file), (line), (col), __VA_ARGS__)
/* Render entry <e> as "file:line:col: error: message" (caller frees). */
char *diag_format(const struct diag_entry *e);
/* Print every entry, one per line, to <fp>. */
void diag_print(const struct diag *d, FILE *fp);
/* Whether some entry's formatted text contains <needle> (tests). */
int diag_contains(const struct diag *d, const char *needle);

#endif
