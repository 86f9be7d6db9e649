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
    const char *same; /* two entries of different documents with this equal are one thing (the
                         same entry of a shared file imported under the same name), or NULL */
};

struct dupset {
    struct dup_entry *v;
    size_t n;
};

static void dup_add(struct dupset *s, char *key, char *label, char *detail, size_t cap,
                    struct model_pos pos)
{
    s->v = xrealloc(s->v, (s->n + 1) * sizeof *s->v);
    s->v[s->n] = (struct dup_entry){key, label, detail, cap, s->n, pos, NULL};
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
                if ((!cross || s->v[j].cap != e->cap) &&
                    !(e->same && s->v[j].same && s->v[j].cap != e->cap &&
                      strcmp(e->same, s->v[j].same) == 0))
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
        if (c->ns) {
            dup_add(consumes, xstrdup(c->ns), xasprintf("consumes namespace '%s'", c->ns), NULL, ci,
                    c->pos);
            consumes->v[consumes->n - 1].same = c->source;
        }
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
            /* A forward serves every method: one forward per path and port. */
            if (res->forward)
                dup_add(routes, xasprintf("%d * %s", e->port, norm),
                        xasprintf("REST forward %s on %s", res->path, port),
                        xasprintf("forward %s", res->path), ci, res->pos);
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

/* Aggregate namespaces (unique across documents: a ref names one) and function names within one
 * aggregate entry (the index pair in the key keeps two documents' functions apart). */
static void collect_aggregates(struct dupset *s, const struct model_capability *cap, size_t ci)
{
    for (size_t i = 0; i < cap->naggregates; i++) {
        const struct model_aggregate *a = &cap->aggregates[i];
        if (a->ns)
            dup_add(s, xasprintf("ns\n%s", a->ns), xasprintf("aggregate namespace '%s'", a->ns),
                    NULL, ci, a->pos);
        for (size_t f = 0; f < a->nfunctions; f++)
            if (a->functions[f].name)
                dup_add(s, xasprintf("fn\n%zu %zu\n%s", ci, i, a->functions[f].name),
                        xasprintf("function '%s' in aggregate '%s'", a->functions[f].name,
                                  a->ns ? a->ns : "?"),
                        NULL, ci, a->functions[f].pos);
    }
}

void checks_duplicates(const struct model *m, size_t from, size_t to, bool cross, struct diag *d)
{
    struct dupset sets[5] = {{0}};
    for (size_t i = from; i < to; i++) {
        collect_cap(&sets[0], &sets[1], &sets[2], &sets[3], m->caps[i], i);
        collect_aggregates(&sets[4], m->caps[i], i);
    }
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

/* ---- aggregate functions and `ref` ---- */

/* The function <name> of the aggregate with namespace <ns>, in any document; NULL when none.
 * <*agg> gets the aggregate when the namespace exists (NULL otherwise). */
static const struct model_function *find_function(const struct model *m, const char *ns,
                                                  const char *name,
                                                  const struct model_aggregate **agg)
{
    *agg = NULL;
    for (size_t i = 0; i < m->ncaps; i++)
        for (size_t j = 0; j < m->caps[i]->naggregates; j++) {
            const struct model_aggregate *a = &m->caps[i]->aggregates[j];
            if (!a->ns || strcmp(a->ns, ns) != 0)
                continue;
            if (!*agg)
                *agg = a;
            for (size_t f = 0; f < a->nfunctions; f++)
                if (a->functions[f].name && strcmp(a->functions[f].name, name) == 0)
                    return &a->functions[f];
        }
    return NULL;
}

/* "names no function", with the closest "<namespace>.<function>" of every document. */
static void report_unknown_ref(const struct model *m, const char *ref, const char *ns,
                               const char *name, const struct model_aggregate *agg,
                               struct model_pos pos, struct diag *d)
{
    struct util_closest near;
    char **cands = NULL;
    size_t n = 0;

    util_closest_init(&near, ref);
    for (size_t i = 0; i < m->ncaps; i++)
        for (size_t j = 0; j < m->caps[i]->naggregates; j++) {
            const struct model_aggregate *a = &m->caps[i]->aggregates[j];
            for (size_t f = 0; a->ns && f < a->nfunctions; f++) {
                if (!a->functions[f].name)
                    continue;
                cands = xrealloc(cands, (n + 1) * sizeof *cands);
                cands[n] = xasprintf("%s.%s", a->ns, a->functions[f].name);
                util_closest_add(&near, cands[n++]);
            }
        }
    char *hint = near.best ? xasprintf(" (did you mean '%s'?)", near.best) : xstrdup("");
    if (agg)
        diag_add(d, DIAG_ERROR, pos.file, pos.line, pos.col,
                 "ref '%s' names no aggregate function: aggregate '%s' (%s) has no function "
                 "'%s'%s",
                 ref, ns, agg->cap && agg->cap->file ? agg->cap->file : "?", name, hint);
    else
        diag_add(d, DIAG_ERROR, pos.file, pos.line, pos.col,
                 "ref '%s' names no aggregate function: no document has aggregate namespace "
                 "'%s'%s",
                 ref, ns, hint);
    free(hint);
    for (size_t i = 0; i < n; i++)
        free(cands[i]);
    free(cands);
}

/* `with` of a referrer: its own entries, then the function's for the names it does not set. */
static void merge_with(struct model *m, struct model_call *call, const struct model_call *fc)
{
    size_t n = call->nwith;
    for (size_t i = 0; i < fc->nwith; i++)
        if (!model_call_with(call, fc->with[i].name))
            n++;
    if (n == call->nwith)
        return;
    struct model_with *w = arena_alloc(&m->arena, n * sizeof *w);
    if (call->nwith)
        memcpy(w, call->with, call->nwith * sizeof *w);
    size_t k = call->nwith;
    for (size_t i = 0; i < fc->nwith; i++)
        if (!model_call_with(call, fc->with[i].name))
            w[k++] = fc->with[i];
    call->with = w;
    call->nwith = n;
}

/* Resolve <call>'s `ref` and copy the function's behaviour into it: what to run (call and
 * target, steps and mappings, kind), and the inputs, outputs and `with` entries the referrer
 * does not set itself. <what> names the referrer in messages ("MCP tool 'x'"). NULL when the
 * ref was reported. Done once: a call whose ref_fn is set is left alone. */
static const struct model_function *resolve_ref(struct model *m, struct model_call *call,
                                                const char *what, struct model_pos pos,
                                                struct diag *d)
{
    const struct model_aggregate *agg;

    if (call->ref_fn)
        return call->ref_fn;
    const char *dot = strrchr(call->ref, '.');
    if (!dot || dot == call->ref || !dot[1]) {
        diag_add(d, DIAG_ERROR, pos.file, pos.line, pos.col,
                 "expected '<aggregate namespace>.<function>' for 'ref' of %s, got '%s'", what,
                 call->ref);
        return NULL;
    }
    /* The function says what to run; a second answer on the referrer would be ignored by the
     * reference engine, silently. */
    if (call->call || call->nsteps) {
        diag_add(d, DIAG_ERROR, pos.file, pos.line, pos.col,
                 "%s sets both 'ref' and '%s': it runs the function '%s', so remove one", what,
                 call->call ? "call" : "steps", call->ref);
        return NULL;
    }
    char *ns = xstrndup(call->ref, (size_t)(dot - call->ref));
    const struct model_function *f = find_function(m, ns, dot + 1, &agg);
    if (!f)
        report_unknown_ref(m, call->ref, ns, dot + 1, agg, pos, d);
    free(ns);
    if (!f)
        return NULL;

    const struct model_call *fc = &f->call;
    call->ref_fn = f;
    call->kind = fc->kind;
    call->call = fc->call;
    call->target = fc->target;
    call->steps = fc->steps;
    call->nsteps = fc->nsteps;
    if (!call->nmappings) {
        call->mappings = fc->mappings;
        call->nmappings = fc->nmappings;
    }
    if (!call->params_declared) {
        call->params = fc->params;
        call->nparams = fc->nparams;
        call->params_declared = fc->params_declared;
    }
    if (!call->noutputs) {
        call->outputs = fc->outputs;
        call->noutputs = fc->noutputs;
    }
    merge_with(m, call, fc);
    return f;
}

/* MCP hints from a function's semantics, as the reference engine derives them: safe makes the
 * tool read-only and not destructive, safe: false makes it not read-only (destructive stays
 * unset), idempotent is copied, cacheable has no MCP hint. A hint the tool sets itself wins. */
static void derive_hints(struct model_hints *h, const struct model_semantics *s)
{
    if (s->safe == 1) {
        if (h->read_only < 0)
            h->read_only = 1;
        if (h->destructive < 0)
            h->destructive = 0;
    } else if (s->safe == 0 && h->read_only < 0) {
        h->read_only = 0;
    }
    if (s->idempotent >= 0 && h->idempotent < 0)
        h->idempotent = s->idempotent;
}

/* Resolve the calls of every aggregate function, then every `ref` of a REST operation or MCP
 * tool, before the adapters' own calls are validated: a referrer copies its function's
 * resolved target. */
static void validate_aggregates(struct model *m, bool nameless_consumer, struct diag *d)
{
    for (size_t i = 0; i < m->ncaps; i++)
        for (size_t j = 0; j < m->caps[i]->naggregates; j++) {
            struct model_aggregate *a = &m->caps[i]->aggregates[j];
            for (size_t f = 0; f < a->nfunctions; f++)
                validate_call(m, i, &a->functions[f].call, a->functions[f].pos, nameless_consumer,
                              d);
        }
    for (size_t i = 0; i < m->ncaps; i++) {
        struct model_capability *cap = m->caps[i];
        for (size_t j = 0; j < cap->nexposes; j++) {
            struct model_expose *e = &cap->exposes[j];
            for (size_t r = 0; r < e->nresources; r++)
                for (size_t o = 0; o < e->resources[r].noperations; o++) {
                    struct model_rest_op *op = &e->resources[r].operations[o];
                    if (!op->call.ref || op->call.ref_fn)
                        continue;
                    char *what = xasprintf("REST operation %s %s", model_method_name(op->method),
                                           e->resources[r].path ? e->resources[r].path : "?");
                    const struct model_function *f = resolve_ref(m, &op->call, what, op->pos, d);
                    free(what);
                    if (f && !op->name)
                        op->name = f->name;
                    if (f && (!op->description || !*op->description))
                        op->description = f->description;
                }
            for (size_t t = 0; t < e->ntools; t++) {
                struct model_tool *tool = &e->tools[t];
                if (!tool->call.ref || tool->call.ref_fn)
                    continue;
                char *what = xasprintf("MCP tool '%s'", tool->name ? tool->name : "?");
                const struct model_function *f = resolve_ref(m, &tool->call, what, tool->pos, d);
                free(what);
                if (!f)
                    continue;
                if (!tool->name)
                    tool->name = f->name;
                if (!tool->description || !*tool->description)
                    tool->description = f->description;
                derive_hints(&tool->hints, &f->semantics);
            }
        }
    }
}

/* A forward's targetNamespace must name a consumes entry of some document ("did you mean"
 * among them otherwise). */
static void validate_forward(struct model *m, struct model_forward *f, bool nameless_consumer,
                             struct diag *d)
{
    if (!f->target_ns || f->target)
        return;
    f->target = model_find_consumer(m, f->target_ns);
    if (f->target || nameless_consumer)
        return;
    struct util_closest near;
    util_closest_init(&near, f->target_ns);
    for (size_t i = 0; i < m->ncaps; i++)
        for (size_t j = 0; j < m->caps[i]->nconsumers; j++)
            util_closest_add(&near, m->caps[i]->consumers[j].ns);
    const char *best = near.best;
    diag_add(d, DIAG_ERROR, f->pos.file, f->pos.line, f->pos.col,
             "forward targetNamespace '%s' names no consumes namespace%s%s%s", f->target_ns,
             best ? " (did you mean '" : "", best ? best : "", best ? "'?)" : "");
}

/* A skill tool's `from` names a sibling rest or mcp adapter of the same document (as in the
 * reference engine) and one of its operations or tools ("did you mean" otherwise). */
static void validate_skill_from(const struct model_capability *cap, struct model_skill_tool *t,
                                struct diag *d)
{
    struct util_closest near;
    const struct model_expose *src = NULL;
    if (!t->from_ns || !t->from_action)
        return;
    util_closest_init(&near, t->from_ns);
    for (size_t i = 0; i < cap->nexposes && !src; i++) {
        const struct model_expose *e = &cap->exposes[i];
        if (e->type != MODEL_EXPOSE_REST && e->type != MODEL_EXPOSE_MCP)
            continue;
        if (e->ns && str_eq(e->ns, t->from_ns))
            src = e;
        util_closest_add(&near, e->ns);
    }
    if (!src) {
        diag_add(d, DIAG_ERROR, t->from_ns_pos.file, t->from_ns_pos.line, t->from_ns_pos.col,
                 "skill tool '%s': sourceNamespace '%s' names no rest or mcp adapter of this "
                 "document%s%s%s",
                 t->name ? t->name : "?", t->from_ns, near.best ? " (did you mean '" : "",
                 near.best ? near.best : "", near.best ? "'?)" : "");
        return;
    }
    util_closest_init(&near, t->from_action);
    bool found = false;
    for (size_t r = 0; r < src->nresources && !found; r++)
        for (size_t o = 0; o < src->resources[r].noperations && !found; o++) {
            const char *name = src->resources[r].operations[o].name;
            found = name && str_eq(name, t->from_action);
            util_closest_add(&near, name);
        }
    for (size_t i = 0; i < src->ntools && !found; i++) {
        found = src->tools[i].name && str_eq(src->tools[i].name, t->from_action);
        util_closest_add(&near, src->tools[i].name);
    }
    if (found) {
        t->from_expose = src;
        return;
    }
    diag_add(
        d, DIAG_ERROR, t->from_action_pos.file, t->from_action_pos.line, t->from_action_pos.col,
        "skill tool '%s': action '%s' is no %s of '%s'%s%s%s", t->name ? t->name : "?",
        t->from_action, src->type == MODEL_EXPOSE_REST ? "operation" : "tool", src->ns,
        near.best ? " (did you mean '" : "", near.best ? near.best : "", near.best ? "'?)" : "");
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
    validate_aggregates(m, nameless_consumer, d);

    for (size_t i = 0; i < m->ncaps; i++) {
        struct model_capability *cap = m->caps[i];
        for (size_t j = 0; j < cap->nexposes; j++) {
            struct model_expose *e = &cap->exposes[j];
            for (size_t r = 0; r < e->nresources; r++) {
                for (size_t o = 0; o < e->resources[r].noperations; o++)
                    validate_call(m, i, &e->resources[r].operations[o].call,
                                  e->resources[r].operations[o].pos, nameless_consumer, d);
                if (e->resources[r].forward)
                    validate_forward(m, e->resources[r].forward, nameless_consumer, d);
            }
            for (size_t t = 0; t < e->ntools; t++)
                validate_call(m, i, &e->tools[t].call, e->tools[t].pos, nameless_consumer, d);
            for (size_t k = 0; k < e->nskills; k++)
                for (size_t t = 0; t < e->skills[k].ntools; t++)
                    validate_skill_from(cap, &e->skills[k].tools[t], d);
            for (size_t r = 0; r < e->nmcp_resources; r++)
                if (!e->mcp_resources[r].location)
                    validate_call(m, i, &e->mcp_resources[r].call, e->mcp_resources[r].pos,
                                  nameless_consumer, d);
        }
    }
    checks_duplicates(m, 0, m->ncaps, true, d);
    return d->nerrors > errors ? -1 : 0;
}
