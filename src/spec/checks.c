/*
 * checks: see checks.h. Uniqueness is checked by collecting keys into sets and sorting them,
 * so a document with thousands of routes costs n log n, not n squared; the first definition (in
 * load order) is the one every later duplicate is reported against.
 */
#include "spec/checks.h"

#include <stdlib.h>
#include <string.h>

#include "base/util.h"

/* ---- duplicates (one document at load, every document in checks_validate) ---- */

struct dup_entry {
    char *key;    /* what must be unique, normalised */
    char *label;  /* "REST route GET /x on port 8080", for the message */
    char *detail; /* shown as "as ..." when it differs between the two (route paths), or NULL */
    size_t cap;   /* index of the capability, to tell documents apart */
    size_t seq;   /* discovery order, so the first definition is the one kept */
    struct model_pos pos;
};

struct dupset {
    struct dup_entry *v;
    size_t n;
};

static void dup_add(struct dupset *s, char *key, char *label, char *detail, size_t cap,
                    struct model_pos pos)
{
    s->v = xrealloc(s->v, (s->n + 1) * sizeof *s->v);
    s->v[s->n] = (struct dup_entry){key, label, detail, cap, s->n, pos};
    s->n++;
}

static void dup_free(struct dupset *s)
{
    for (size_t i = 0; i < s->n; i++) {
        free(s->v[i].key);
        free(s->v[i].label);
        free(s->v[i].detail);
    }
    free_null(&s->v);
    s->n = 0;
}

static int dup_cmp(const void *a, const void *b)
{
    const struct dup_entry *x = a, *y = b;
    int c = strcmp(x->key, y->key);
    if (c)
        return c;
    if (x->cap != y->cap)
        return x->cap < y->cap ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Report every entry whose key an earlier entry already has. With <cross>, only pairs from two
 * different documents (pairs within one document were reported when it was loaded). Sorting
 * keeps a document with thousands of routes from costing quadratic time. */
static void dup_report(struct dupset *s, struct diag *d, bool cross)
{
    int reported = 0;

    if (s->n < 2)
        return;
    qsort(s->v, s->n, sizeof *s->v, dup_cmp);
    for (size_t g = 0; g < s->n;) {
        size_t end = g + 1;
        while (end < s->n && strcmp(s->v[end].key, s->v[g].key) == 0)
            end++;
        for (size_t i = g + 1; i < end; i++) {
            const struct dup_entry *e = &s->v[i], *first = NULL;
            for (size_t j = g; j < i && !first; j++)
                if (!cross || s->v[j].cap != e->cap)
                    first = &s->v[j];
            if (!first)
                continue;
            bool show = first->detail && e->detail && strcmp(first->detail, e->detail) != 0;
            if (++reported > CHECKS_MAX_ERRORS) {
                diag_error(d, e->pos.file, e->pos.line, e->pos.col,
                           "too many duplicates (%d): later ones are not reported",
                           CHECKS_MAX_ERRORS);
                return;
            }
            diag_add(d, DIAG_ERROR, e->pos.file, e->pos.line, e->pos.col,
                     "duplicate %s: already defined at %s:%d:%d%s%s", e->label, first->pos.file,
                     first->pos.line, first->pos.col, show ? " as " : "",
                     show ? first->detail : "");
        }
        g = end;
    }
}

/* A path with every {x} / {{x}} replaced by {}: /a/{id} and /a/{userId} are the same route. */
static char *normalise_path(const char *path)
{
    struct strbuf b;
    strbuf_init(&b, 0);
    for (const char *p = path; *p;) {
        if (*p == '{') {
            while (*p == '{')
                p++;
            while (*p && *p != '}')
                p++;
            while (*p == '}')
                p++;
            strbuf_adds(&b, "{}");
        } else {
            strbuf_addc(&b, *p++);
        }
    }
    return strbuf_detach(&b, NULL);
}

static char *port_text(int port)
{
    return port >= 0 ? xasprintf("port %d", port) : xstrdup("the default port");
}

static void collect_cap(struct dupset *consumes, struct dupset *exposes, struct dupset *routes,
                        struct dupset *tools, const struct model_capability *cap, size_t ci)
{
    for (size_t i = 0; i < cap->nconsumers; i++) {
        const struct model_consumer *c = &cap->consumers[i];
        if (c->ns)
            dup_add(consumes, xstrdup(c->ns), xasprintf("consumes namespace '%s'", c->ns), NULL, ci,
                    c->pos);
    }
    for (size_t i = 0; i < cap->nexposes; i++) {
        const struct model_expose *e = &cap->exposes[i];
        char *port = port_text(e->port);
        if (e->ns)
            dup_add(exposes, xstrdup(e->ns), xasprintf("exposes namespace '%s'", e->ns), NULL, ci,
                    e->pos);
        for (size_t r = 0; e->type == MODEL_EXPOSE_REST && r < e->nresources; r++) {
            const struct model_rest_resource *res = &e->resources[r];
            if (!res->path)
                continue;
            char *norm = normalise_path(res->path);
            for (size_t o = 0; o < res->noperations; o++) {
                const char *method = model_method_name(res->operations[o].method);
                dup_add(routes, xasprintf("%d %s %s", e->port, method, norm),
                        xasprintf("REST route %s %s on %s", method, res->path, port),
                        xasprintf("%s %s", method, res->path), ci, res->operations[o].pos);
            }
            free(norm);
        }
        for (size_t t = 0; e->type == MODEL_EXPOSE_MCP && t < e->ntools; t++) {
            const struct model_tool *tool = &e->tools[t];
            if (tool->name)
                dup_add(tools, xasprintf("%d %s", e->port, tool->name),
                        xasprintf("MCP tool '%s' on %s", tool->name, port), NULL, ci, tool->pos);
        }
        free(port);
    }
}

void checks_duplicates(const struct model *m, size_t from, size_t to, bool cross, struct diag *d)
{
    struct dupset sets[4] = {{0}};
    for (size_t i = from; i < to; i++)
        collect_cap(&sets[0], &sets[1], &sets[2], &sets[3], m->caps[i], i);
    for (size_t i = 0; i < UTIL_ARRAY_LEN(sets); i++) {
        dup_report(&sets[i], d, cross);
        dup_free(&sets[i]);
    }
}

void checks_operation_names(const struct model_capability *cap, struct diag *d)
{
    struct dupset s = {0};
    for (size_t i = 0; i < cap->nconsumers; i++) {
        const struct model_consumer *c = &cap->consumers[i];
        for (size_t r = 0; r < c->nresources; r++)
            for (size_t o = 0; o < c->resources[r].noperations; o++) {
                const struct model_operation *op = &c->resources[r].operations[o];
                if (c->ns && op->name)
                    dup_add(&s, xasprintf("%s\n%s", c->ns, op->name),
                            xasprintf("operation '%s' in consumes namespace '%s'", op->name, c->ns),
                            NULL, 0, op->pos);
            }
    }
    dup_report(&s, d, false);
    dup_free(&s);
}

/* ---- across documents ---- */

static size_t cap_index(const struct model *m, const struct model_capability *cap)
{
    for (size_t i = 0; i < m->ncaps; i++)
        if (m->caps[i] == cap)
            return i;
    return m->ncaps;
}

/* Resolve call <str> left open at load into <*target>. When its namespace belongs to the same
 * or an earlier document, load already knew the namespace and reported the missing operation
 * there. */
static void validate_target(struct model *m, size_t ci, const char *str,
                            struct model_operation **target, struct model_pos pos,
                            bool nameless_consumer, struct diag *d)
{
    if (!str || *target)
        return;
    *target = model_find_operation(m, str);
    if (*target)
        return;
    const char *dot = strrchr(str, '.');
    if (!dot || dot == str || !dot[1])
        return; /* malformed: reported at load */
    char *ns = xstrndup(str, (size_t)(dot - str));
    const struct model_consumer *c = model_find_consumer(m, ns);
    if (!c && !nameless_consumer)
        diag_add(d, DIAG_ERROR, pos.file, pos.line, pos.col,
                 "call '%s' names no consumed operation: no document consumes namespace '%s'", str,
                 ns);
    else if (c && cap_index(m, c->cap) > ci && !model_consumer_has_nameless_operation(c))
        diag_add(d, DIAG_ERROR, pos.file, pos.line, pos.col,
                 "call '%s' names no consumed operation: consumes namespace '%s' (%s) has no "
                 "operation '%s'",
                 str, ns, c->cap ? c->cap->file : "?", dot + 1);
    free(ns);
}

/* Resolve what <call> calls: its one consumed operation, or each call step's (reported at the
 * step). */
static void validate_call(struct model *m, size_t ci, struct model_call *call, struct model_pos pos,
                          bool nameless_consumer, struct diag *d)
{
    if (call->kind == MODEL_CALL_STEPS) {
        for (size_t i = 0; i < call->nsteps; i++) {
            struct model_step *st = &call->steps[i];
            if (st->kind == MODEL_STEP_CALL)
                validate_target(m, ci, st->call, &st->target, st->pos, nameless_consumer, d);
        }
        return;
    }
    validate_target(m, ci, call->call, &call->target, pos, nameless_consumer, d);
}

int checks_validate(struct model *m, struct diag *d)
{
    size_t errors = d->nerrors;
    bool nameless_consumer = false;

    /* A consumes entry without a namespace was reported at load; a call into an unknown
     * namespace may mean that one, so it is not reported a second time. */
    for (size_t i = 0; i < m->ncaps; i++)
        for (size_t j = 0; j < m->caps[i]->nconsumers; j++)
            if (!m->caps[i]->consumers[j].ns)
                nameless_consumer = true;

    for (size_t i = 0; i < m->ncaps; i++) {
        struct model_capability *cap = m->caps[i];
        for (size_t j = 0; j < cap->nexposes; j++) {
            struct model_expose *e = &cap->exposes[j];
            for (size_t r = 0; r < e->nresources; r++)
                for (size_t o = 0; o < e->resources[r].noperations; o++)
                    validate_call(m, i, &e->resources[r].operations[o].call,
                                  e->resources[r].operations[o].pos, nameless_consumer, d);
            for (size_t t = 0; t < e->ntools; t++)
                validate_call(m, i, &e->tools[t].call, e->tools[t].pos, nameless_consumer, d);
        }
    }
    checks_duplicates(m, 0, m->ncaps, true, d);
    return d->nerrors > errors ? -1 : 0;
}
