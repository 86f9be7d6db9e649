/*
 * respmap: see respmap.h. Each output parameter selects with JSONPath from the current node
 * (the upstream document, an array element, a map member); `const` and `value` answer without
 * reading it; object, array and map outputs with a structure are rebuilt piece by piece,
 * everything else is the selection itself.
 */
#include "core/respmap.h"

#include <string.h>

#include "base/jsonnum.h"
#include "base/util.h"
#include "core/convert.h"
#include "spec/jsonpath.h"
#include "spec/template.h"
#include "spec/typedval.h"

/* The longest text one Mustache `value` may render to; a longer one gives null. */
#define RESPMAP_VALUE_MAX (1024 * 1024)

/* Where shape() is: <scope> renders Mustache values; <node> is the current document, NULL in
 * mock mode (nothing to read: only const and value give something). */
struct shape_ctx {
    const cJSON *scope;
};

static cJSON *shape(const struct shape_ctx *c, const struct model_output *o, const cJSON *node,
                    bool in_properties);

/* Cut string <v> to <max> characters (UTF-8 sequences are never split; an invalid byte counts
 * as one character). */
static void cut_string(cJSON *v, size_t max)
{
    if (!max || !cJSON_IsString(v) || !v->valuestring)
        return;
    unsigned char *s = (unsigned char *)v->valuestring;
    size_t len = strlen(v->valuestring), at = 0;
    for (size_t chars = 0; at < len && chars < max; chars++) {
        size_t k = utf8_seq(s + at, len - at);
        at += k ? k : 1;
    }
    s[at] = '\0'; /* cJSON frees valuestring with its own length-agnostic free */
}

/* JSON template <t> with its string leaves rendered over <scope>: a leaf that is exactly one
 * placeholder takes that input's JSON value (an absent one gives null), any other leaf the
 * rendered text. An input can fill a string, never add members. */
static cJSON *render_json_leaves(const struct shape_ctx *c, const cJSON *t)
{
    if (cJSON_IsString(t)) {
        const char *s = t->valuestring;
        size_t len = strlen(s);
        if (len > 4 && !strncmp(s, "{{", 2) && !strcmp(s + len - 2, "}}") &&
            !memchr(s + 2, '{', len - 4) && !memchr(s + 2, '}', len - 4)) {
            const char *name = s + 2;
            size_t nlen = len - 4;
            while (nlen && (*name == ' ' || *name == '\t'))
                name++, nlen--;
            while (nlen && (name[nlen - 1] == ' ' || name[nlen - 1] == '\t'))
                nlen--;
            const cJSON *v = template_scope_get(c->scope, name, nlen);
            return v ? cJSON_Duplicate(v, 1) : cJSON_CreateNull();
        }
        struct strbuf b;
        strbuf_init(&b, RESPMAP_VALUE_MAX);
        cJSON *r = template_render_scope(s, c->scope, &b) == 0
                       ? cJSON_CreateString(b.len ? b.data : "")
                       : cJSON_CreateNull();
        strbuf_deinit(&b);
        return r;
    }
    if (cJSON_IsArray(t) || cJSON_IsObject(t)) {
        cJSON *r = cJSON_IsArray(t) ? cJSON_CreateArray() : cJSON_CreateObject();
        for (const cJSON *it = t->child; it; it = it->next) {
            cJSON *v = render_json_leaves(c, it);
            if (cJSON_IsArray(r))
                cJSON_AddItemToArray(r, v);
            else
                cJSON_AddItemToObject(r, it->string, v);
        }
        return r;
    }
    return cJSON_Duplicate(t, 1);
}

/* `value:` rendered over the inputs and typed as declared; a rendered text that does not
 * convert stays a string (a static one was refused at load), and one that renders empty under
 * a number, integer or boolean type (an absent input) is null, not "". */
static cJSON *render_value(const struct shape_ctx *c, const struct model_output *o)
{
    if (o->value_json)
        return render_json_leaves(c, o->value_json);
    struct strbuf b;
    strbuf_init(&b, RESPMAP_VALUE_MAX);
    cJSON *v = NULL;
    if (template_render_scope(o->value, c->scope, &b) == 0) {
        const char *text = b.len ? b.data : "";
        v = typedval_parse(o->type, text);
        bool scalar = o->type == MODEL_TYPE_NUMBER || o->type == MODEL_TYPE_INTEGER ||
                      o->type == MODEL_TYPE_BOOLEAN;
        if (!v && !(scalar && !*text))
            v = cJSON_CreateString(text);
    }
    strbuf_deinit(&b);
    return v;
}

/* Mock mode: a one-element array of the items' value, an object of the properties that have
 * one; NULL when nothing has a value. */
static cJSON *shape_mock(const struct shape_ctx *c, const struct model_output *o)
{
    if (o->type == MODEL_TYPE_ARRAY && o->items) {
        cJSON *item = shape(c, o->items, NULL, false);
        if (!item)
            return NULL;
        cJSON *arr = cJSON_CreateArray();
        cJSON_AddItemToArray(arr, item);
        return arr;
    }
    if (!o->nproperties)
        return NULL;
    cJSON *obj = cJSON_CreateObject();
    for (size_t i = 0; i < o->nproperties; i++) {
        const struct model_output *p = &o->properties[i];
        cJSON *v = shape(c, p, NULL, true);
        if (v)
            cJSON_AddItemToObject(obj, p->name ? p->name : "value", v);
    }
    if (!obj->child) {
        cJSON_Delete(obj);
        return NULL;
    }
    return obj;
}

static cJSON *shape_object(const struct shape_ctx *c, const struct model_output *o,
                           const cJSON *node)
{
    cJSON *obj = cJSON_CreateObject();
    for (size_t i = 0; i < o->nproperties; i++) {
        const struct model_output *p = &o->properties[i];
        cJSON *v = shape(c, p, node, true);
        cJSON_AddItemToObject(obj, p->name ? p->name : "value", v ? v : cJSON_CreateNull());
    }
    return obj;
}

/* <o> applied to each element of array <sel> by <fn>; missing results are null. */
static cJSON *shape_each(const struct shape_ctx *c, const struct model_output *o, const cJSON *sel,
                         cJSON *(*fn)(const struct shape_ctx *, const struct model_output *,
                                      const cJSON *))
{
    cJSON *arr = cJSON_CreateArray();
    const cJSON *e;
    cJSON_ArrayForEach(e, sel)
    {
        cJSON *v = fn(c, o, e);
        cJSON_AddItemToArray(arr, v ? v : cJSON_CreateNull());
    }
    return arr;
}

static cJSON *shape_item(const struct shape_ctx *c, const struct model_output *items,
                         const cJSON *e)
{
    return shape(c, items, e, false);
}

/* `values`: each member of object <sel> through the one description, keys kept. */
static cJSON *shape_map(const struct shape_ctx *c, const struct model_output *values,
                        const cJSON *sel)
{
    cJSON *obj = cJSON_CreateObject();
    const cJSON *m;
    cJSON_ArrayForEach(m, sel)
    {
        cJSON *v = shape(c, values, m, false);
        cJSON_AddItemToObject(obj, m->string, v ? v : cJSON_CreateNull());
    }
    return obj;
}

static bool has_structure(const struct model_output *o)
{
    return (o->type == MODEL_TYPE_OBJECT && (o->nproperties || o->values)) ||
           (o->type == MODEL_TYPE_ARRAY && o->items);
}

/* What <o> reads from <node>: its mapping's selection (a new value), or <node> itself (root
 * mapping, or none: at the top, for an element or member, or a structured property). Sets
 * <*owned> when the result must be deleted. NULL when nothing matches. */
static const cJSON *select_node(const struct model_output *o, const cJSON *node, bool in_properties,
                                bool *owned)
{
    *owned = false;
    if (!o->mapping) {
        /* A scalar property without mapping reads nothing (as the reference engine); a
         * nested object or array without one reads the same node. */
        return in_properties && !has_structure(o) ? NULL : node;
    }
    if (jsonpath_is_root(o->mapping))
        return node;
    *owned = true;
    return jsonpath_eval(node, o->mapping);
}

static cJSON *shape_doc(const struct shape_ctx *c, const struct model_output *o, const cJSON *node,
                        bool in_properties)
{
    bool owned;
    const cJSON *sel = select_node(o, node, in_properties, &owned);
    cJSON *r = NULL;
    if (!sel)
        return NULL;
    if (o->type == MODEL_TYPE_OBJECT && o->values) {
        r = cJSON_IsObject(sel) ? shape_map(c, o->values, sel) : NULL;
    } else if (o->type == MODEL_TYPE_OBJECT && o->nproperties) {
        /* An object output whose selection is an array (a wildcard path) shapes each element. */
        r = cJSON_IsArray(sel) ? shape_each(c, o, sel, shape_object) : shape_object(c, o, sel);
    } else if (o->type == MODEL_TYPE_ARRAY && o->items) {
        r = cJSON_IsArray(sel) ? shape_each(c, o->items, sel, shape_item) : NULL;
    } else if (owned) {
        r = (cJSON *)sel;
        owned = false;
    } else {
        r = cJSON_Duplicate(sel, 1);
    }
    if (owned)
        cJSON_Delete((cJSON *)sel);
    return r;
}

static cJSON *shape(const struct shape_ctx *c, const struct model_output *o, const cJSON *node,
                    bool in_properties)
{
    cJSON *r;
    if (o->const_value)
        r = cJSON_Duplicate(o->const_value, 1);
    else if (o->value)
        r = render_value(c, o);
    else if (!node)
        r = shape_mock(c, o);
    else
        r = shape_doc(c, o, node, in_properties);
    cut_string(r, o->max_length);
    return r;
}

cJSON *respmap_outputs(const struct model_output *outs, size_t n, const cJSON *doc,
                       const cJSON *scope)
{
    struct shape_ctx c = {.scope = scope};
    if (n == 0)
        return doc ? cJSON_Duplicate(doc, 1) : NULL;
    if (n == 1 && !outs[0].name) {
        cJSON *r = shape(&c, &outs[0], doc, false);
        return r || !doc ? r : cJSON_CreateNull();
    }
    cJSON *obj = cJSON_CreateObject();
    for (size_t i = 0; i < n; i++) {
        cJSON *v = shape(&c, &outs[i], doc, false);
        if (!v && !doc)
            continue; /* mock mode: only what has a value */
        cJSON_AddItemToObject(obj, outs[i].name ? outs[i].name : "result",
                              v ? v : cJSON_CreateNull());
    }
    if (!doc && !obj->child) {
        cJSON_Delete(obj);
        return NULL;
    }
    return obj;
}

cJSON *respmap_parse_json(const char *body, size_t len)
{
    if (json_text_refusal(body, len, false, NULL))
        return NULL; /* cannot be represented faithfully */
    return jsonnum_parse_exact(body, len, NULL);
}

cJSON *respmap_parse_json_scanned(const char *body, size_t len, const struct jsontext_facts *f)
{
    /* plain text has neither a NUL nor a backslash (so no \u0000): nothing to refuse */
    if (!f->plain && json_text_refusal(body, len, false, NULL))
        return NULL;
    cJSON *doc = jsonnum_parse_one(body, len, NULL);
    if (doc && f->digit_word)
        jsonnum_keep_big_ints(doc, NULL, body, len);
    return doc;
}

bool respmap_converts(const struct rt_call *call)
{
    return call->op && call->op->output_format != MODEL_FORMAT_JSON;
}

cJSON *respmap_apply(const struct rt_call *call, const char *body, size_t len, char *err,
                     size_t errlen)
{
    cJSON *doc;
    if (err && errlen)
        err[0] = '\0';
    if (respmap_converts(call)) {
        doc = convert_answer(call->op, body, len, err, errlen); /* XML, CSV...: JSON first */
        if (!doc)
            return NULL;
    } else {
        doc = respmap_parse_json(body, len);
        if (!doc)
            return NULL; /* not one JSON value: the caller passes the text through */
    }
    const struct model_call *mc = call->mcall;
    if (mc->noutputs == 0 || call->passthrough)
        return doc;
    cJSON *r = respmap_outputs(mc->outputs, mc->noutputs, doc, NULL);
    cJSON_Delete(doc);
    return r;
}
