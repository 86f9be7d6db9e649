/*
 * rtdiff: see rtdiff.h. Sets of names compared by sorting both sides once.
 */
#include "app/rtdiff.h"

#include <stdlib.h>
#include <string.h>

/* Names listed per kind of change before "and N more": a log line, not an inventory. */
#define RTDIFF_MAX_NAMES 8

struct names {
    char **v;
    size_t n;
};

static void names_add(struct names *s, char *owned)
{
    s->v = xrealloc(s->v, (s->n + 1) * sizeof *s->v);
    s->v[s->n++] = owned;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sort and drop duplicates (a route served on two listeners is one route here). */
static void names_settle(struct names *s)
{
    if (s->n)
        qsort(s->v, s->n, sizeof *s->v, cmp_str);
    size_t k = 0;
    for (size_t i = 0; i < s->n; i++) {
        if (k && str_eq(s->v[k - 1], s->v[i]))
            free(s->v[i]);
        else
            s->v[k++] = s->v[i];
    }
    s->n = k;
}

static void names_free(struct names *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->v[i]);
    free(s->v);
}

static void collect(const struct runtime *rt, struct names *routes, struct names *tools)
{
    for (size_t i = 0; i < rt->ncalls; i++) {
        const struct rt_call *c = &rt->calls[i];
        if (c->resource)
            continue;
        if (c->tool)
            names_add(tools, xstrdup(c->name));
        else if (c->route_path)
            names_add(routes,
                      xasprintf("%s %s", c->forward ? "*" : model_method_name(c->route_method),
                                c->route_path));
    }
    names_settle(routes);
    names_settle(tools);
}

/* "<label>: a, b, c" for the names of <a> not in <b>; both sorted. */
static bool list_missing(const struct names *a, const struct names *b, const char *label,
                         struct strbuf *out)
{
    size_t shown = 0, more = 0, j = 0;
    for (size_t i = 0; i < a->n; i++) {
        while (j < b->n && strcmp(b->v[j], a->v[i]) < 0)
            j++;
        if (j < b->n && str_eq(b->v[j], a->v[i]))
            continue;
        if (shown == RTDIFF_MAX_NAMES) {
            more++;
            continue;
        }
        strbuf_addf(out, "%s%s", shown ? ", " : (out->len ? "; " : ""), shown ? "" : label);
        strbuf_adds(out, a->v[i]);
        shown++;
    }
    if (more)
        strbuf_addf(out, " and %zu more", more);
    return shown > 0;
}

static const struct model_source *source_find(const struct model *m, const char *path)
{
    for (size_t i = 0; i < m->nsources; i++)
        if (!m->sources[i].dir && str_eq(m->sources[i].path, path))
            return &m->sources[i];
    return NULL;
}

/* The files read: added, removed, changed by content. */
static bool diff_sources(const struct model *old, const struct model *cur, struct strbuf *out)
{
    struct names added = {0}, removed = {0}, changed = {0}, none = {0};
    for (size_t i = 0; i < cur->nsources; i++) {
        const struct model_source *s = &cur->sources[i];
        if (s->dir)
            continue;
        const struct model_source *o = source_find(old, s->path);
        if (!o)
            names_add(&added, xstrdup(s->path));
        else if (o->hash != s->hash)
            names_add(&changed, xstrdup(s->path));
    }
    for (size_t i = 0; i < old->nsources; i++)
        if (!old->sources[i].dir && !source_find(cur, old->sources[i].path))
            names_add(&removed, xstrdup(old->sources[i].path));
    names_settle(&added);
    names_settle(&removed);
    names_settle(&changed);
    bool any = list_missing(&added, &none, "documents added: ", out);
    any |= list_missing(&removed, &none, "documents removed: ", out);
    any |= list_missing(&changed, &none, "documents changed: ", out);
    names_free(&added);
    names_free(&removed);
    names_free(&changed);
    return any;
}

/* Credentials whose value changed (a rotated secret), named by header and source, never by
 * value; compared by position in the same consumer entry. */
static bool diff_credentials(const struct config *old, const struct config *cur, struct strbuf *out)
{
    struct names changed = {0}, none = {0};
    for (size_t i = 0; i < cur->nconsumers && i < old->nconsumers; i++) {
        const struct config_consumer *o = &old->consumers[i], *c = &cur->consumers[i];
        if (!str_eq(o->pattern, c->pattern))
            continue;
        for (size_t j = 0; j < c->ncredentials && j < o->ncredentials; j++) {
            const struct config_credential *oc = &o->credentials[j], *cc = &c->credentials[j];
            bool same = (!oc->value && !cc->value) ||
                        (oc->value && cc->value && str_eq(oc->value, cc->value));
            if (str_eq(oc->header, cc->header) && !same)
                names_add(&changed, xasprintf("%s (%s)", cc->header, cc->source));
        }
    }
    names_settle(&changed);
    bool any = list_missing(&changed, &none, "credentials changed: ", out);
    names_free(&changed);
    return any;
}

bool rtdiff_describe(const struct runtime *old, const struct runtime *cur, struct strbuf *out)
{
    struct names or = {0}, ot = {0}, nr = {0}, nt = {0};
    collect(old, & or, &ot);
    collect(cur, &nr, &nt);
    size_t start = out->len;
    bool any = diff_sources(old->model, cur->model, out);
    any |= list_missing(&nr, & or, "routes added: ", out);
    any |= list_missing(& or, &nr, "routes removed: ", out);
    any |= list_missing(&nt, &ot, "tools added: ", out);
    any |= list_missing(&ot, &nt, "tools removed: ", out);
    any |= diff_credentials(old->config, cur->config, out);
    if (!any)
        strbuf_adds(out, start ? "; no document, route, tool or credential changed"
                               : "no document, route, tool or credential changed");
    names_free(& or);
    names_free(&ot);
    names_free(&nr);
    names_free(&nt);
    return any;
}
