/*
 * model: see model.h. Lookups here run at load time and when building the route table, never
 * per request, so they are plain linear scans.
 */
#include "spec/model.h"

#include <stdlib.h>
#include <string.h>

struct model *model_new(void)
{
    struct model *m = xcalloc(1, sizeof *m);
    arena_init(&m->arena);
    return m;
}

void model_free(struct model *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->_nowned; i++)
        cJSON_Delete(m->_owned[i]);
    free(m->_owned);
    free(m->caps);
    free(m->sources);
    arena_deinit(&m->arena);
    free(m);
}

void model_note_source(struct model *m, const char *path, const void *data, size_t len)
{
    for (size_t i = 0; i < m->nsources; i++)
        if (str_eq(m->sources[i].path, path))
            return;
    m->sources = xrealloc(m->sources, (m->nsources + 1) * sizeof *m->sources);
    m->sources[m->nsources++] = (struct model_source){
        arena_strdup(&m->arena, path), data ? util_fnv1a(data, len) : 0, data == NULL};
}

struct model_capability *model_add_capability(struct model *m, const char *file)
{
    struct model_capability *cap = arena_alloc(&m->arena, sizeof *cap);
    cap->file = arena_strdup(&m->arena, file);
    m->caps = xrealloc(m->caps, (m->ncaps + 1) * sizeof *m->caps);
    m->caps[m->ncaps++] = cap;
    return cap;
}

cJSON *model_own_json(struct model *m, cJSON *v)
{
    if (!v)
        return NULL;
    m->_owned = xrealloc(m->_owned, (m->_nowned + 1) * sizeof *m->_owned);
    m->_owned[m->_nowned++] = v;
    return v;
}

static const char *const method_names[MODEL_METHOD_COUNT] = {
    [MODEL_GET] = "GET",         [MODEL_POST] = "POST",     [MODEL_PUT] = "PUT",
    [MODEL_PATCH] = "PATCH",     [MODEL_DELETE] = "DELETE", [MODEL_HEAD] = "HEAD",
    [MODEL_OPTIONS] = "OPTIONS",
};

int model_method_parse(const char *s)
{
    for (int i = 0; i < MODEL_METHOD_COUNT; i++)
        if (str_eq_ci(s, method_names[i]))
            return i;
    return -1;
}

const char *model_method_name(enum model_method m)
{
    return (unsigned)m < MODEL_METHOD_COUNT ? method_names[m] : "?";
}

static const char *const in_names[] = {
    [MODEL_IN_NONE] = "",
    [MODEL_IN_PATH] = "path",
    [MODEL_IN_QUERY] = "query",
    [MODEL_IN_HEADER] = "header",
    [MODEL_IN_COOKIE] = "cookie",
    [MODEL_IN_BODY] = "body",
    [MODEL_IN_ENVIRONMENT] = "environment",
};

int model_in_parse(const char *s)
{
    for (int i = MODEL_IN_PATH; i < (int)UTIL_ARRAY_LEN(in_names); i++)
        if (str_eq_ci(s, in_names[i]))
            return i;
    return -1;
}

const char *model_in_name(enum model_in in)
{
    return (unsigned)in < UTIL_ARRAY_LEN(in_names) ? in_names[in] : "?";
}

static const char *const type_names[] = {
    [MODEL_TYPE_ANY] = "any",         [MODEL_TYPE_STRING] = "string",
    [MODEL_TYPE_NUMBER] = "number",   [MODEL_TYPE_INTEGER] = "integer",
    [MODEL_TYPE_BOOLEAN] = "boolean", [MODEL_TYPE_ARRAY] = "array",
    [MODEL_TYPE_OBJECT] = "object",
};

enum model_type model_type_parse(const char *s)
{
    if (!s)
        return MODEL_TYPE_ANY;
    for (int i = MODEL_TYPE_STRING; i < (int)UTIL_ARRAY_LEN(type_names); i++)
        if (str_eq_ci(s, type_names[i]))
            return (enum model_type)i;
    if (str_eq_ci(s, "bool"))
        return MODEL_TYPE_BOOLEAN;
    if (str_has_prefix(s, "any[]") || (strlen(s) > 2 && strcmp(s + strlen(s) - 2, "[]") == 0))
        return MODEL_TYPE_ARRAY;
    return MODEL_TYPE_ANY;
}

const char *model_type_name(enum model_type t)
{
    return (unsigned)t < UTIL_ARRAY_LEN(type_names) ? type_names[t] : "any";
}

const char *model_json_type(enum model_type t)
{
    return t == MODEL_TYPE_ANY || (unsigned)t >= UTIL_ARRAY_LEN(type_names) ? NULL : type_names[t];
}

static const char *const format_names[] = {
    [MODEL_FORMAT_JSON] = "json", [MODEL_FORMAT_XML] = "xml",
    [MODEL_FORMAT_CSV] = "csv",   [MODEL_FORMAT_TSV] = "tsv",
    [MODEL_FORMAT_PSV] = "psv",   [MODEL_FORMAT_YAML] = "yaml",
    [MODEL_FORMAT_HTML] = "html", [MODEL_FORMAT_MARKDOWN] = "markdown",
};

int model_format_parse(const char *s)
{
    for (int i = 0; i < (int)UTIL_ARRAY_LEN(format_names); i++)
        if (str_eq_ci(s, format_names[i]))
            return i;
    return -1;
}

const char *model_format_name(enum model_format f)
{
    return (unsigned)f < UTIL_ARRAY_LEN(format_names) ? format_names[f] : "?";
}

struct model_consumer *model_find_consumer(const struct model *m, const char *ns)
{
    for (size_t i = 0; i < m->ncaps; i++)
        for (size_t j = 0; j < m->caps[i]->nconsumers; j++)
            if (str_eq(m->caps[i]->consumers[j].ns, ns))
                return &m->caps[i]->consumers[j];
    return NULL;
}

struct model_operation *model_find_operation(const struct model *m, const char *call)
{
    const char *dot = call ? strrchr(call, '.') : NULL;
    if (!dot || dot == call || !dot[1])
        return NULL;
    char *ns = xstrndup(call, (size_t)(dot - call));
    struct model_consumer *c = model_find_consumer(m, ns);
    free(ns);
    if (!c)
        return NULL;
    for (size_t r = 0; r < c->nresources; r++)
        for (size_t o = 0; o < c->resources[r].noperations; o++)
            if (str_eq(c->resources[r].operations[o].name, dot + 1))
                return &c->resources[r].operations[o];
    return NULL;
}

const struct model_with *model_call_with(const struct model_call *mc, const char *name)
{
    for (size_t i = 0; i < mc->nwith; i++)
        if (str_eq(mc->with[i].name, name))
            return &mc->with[i];
    for (size_t i = 0; i < mc->nwith; i++)
        if (str_eq_ci(mc->with[i].name, name))
            return &mc->with[i];
    return NULL;
}

static const struct model_param *find_param(const struct model_param *p, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (str_eq(p[i].name, name))
            return &p[i];
    /* Header names are case-insensitive on the wire, so match them that way too. */
    for (size_t i = 0; i < n; i++)
        if (p[i].in == MODEL_IN_HEADER && str_eq_ci(p[i].name, name))
            return &p[i];
    return NULL;
}

const struct model_param *model_op_param(const struct model_operation *op, const char *name)
{
    const struct model_param *p = find_param(op->params, op->nparams, name);
    if (!p && op->consumer)
        p = find_param(op->consumer->params, op->consumer->nparams, name);
    return p;
}

bool model_consumer_has_nameless_operation(const struct model_consumer *c)
{
    if (c->incomplete)
        return true;
    for (size_t r = 0; r < c->nresources; r++)
        for (size_t o = 0; o < c->resources[r].noperations; o++)
            if (!c->resources[r].operations[o].name)
                return true;
    return false;
}
