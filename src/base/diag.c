/* diag: see diag.h. */
#include "base/diag.h"

#include <stdlib.h>
#include <string.h>

void diag_init(struct diag *d)
{
    d->v = NULL;
    d->n = 0;
    d->nerrors = 0;
}

void diag_deinit(struct diag *d)
{
    for (size_t i = 0; i < d->n; i++) {
        free(d->v[i].file);
        free(d->v[i].message);
    }
    free(d->v);
    diag_init(d);
}

void diag_vadd(struct diag *d, enum diag_level level, const char *file, int line, int col,
               const char *fmt, va_list ap)
{
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    char *msg = xmalloc(n > 0 ? (size_t)n + 1 : 1);
    vsnprintf(msg, n > 0 ? (size_t)n + 1 : 1, fmt, ap);
    d->v = xrealloc(d->v, (d->n + 1) * sizeof *d->v);
    d->v[d->n++] = (struct diag_entry){level, file ? xstrdup(file) : NULL, line, col, msg};
    if (level == DIAG_ERROR)
        d->nerrors++;
}

void diag_add(struct diag *d, enum diag_level level, const char *file, int line, int col,
              const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    diag_vadd(d, level, file, line, col, fmt, ap);
    va_end(ap);
}

char *diag_format(const struct diag_entry *e)
{
    const char *lvl = e->level == DIAG_ERROR ? "error" : "warning";
    if (e->file && e->line > 0)
        return xasprintf("%s:%d:%d: %s: %s", e->file, e->line, e->col, lvl, e->message);
    if (e->file)
        return xasprintf("%s: %s: %s", e->file, lvl, e->message);
    return xasprintf("%s: %s", lvl, e->message);
}

void diag_print(const struct diag *d, FILE *fp)
{
    for (size_t i = 0; i < d->n; i++) {
        char *s = diag_format(&d->v[i]);
        fprintf(fp, "%s\n", s);
        free(s);
    }
}

int diag_contains(const struct diag *d, const char *needle)
{
    for (size_t i = 0; i < d->n; i++) {
        char *s = diag_format(&d->v[i]);
        int found = strstr(s, needle) != NULL;
        free(s);
        if (found)
            return 1;
    }
    return 0;
}
