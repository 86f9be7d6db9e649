/*
 * outschema: see outschema.h. Each function below mirrors one branch of respmap.c's shape():
 * when that changes, this changes with it (the unit tests shape real answers through respmap
 * and check them against the schema made here).
 */
#include "core/outschema.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "base/fnum.h"
#include "base/util.h"

static cJSON *output_schema(const struct model_output *o, bool in_properties);

/* {type: [<a>, <b>, "null"]} (<b> may be NULL or equal to <a>); nothing when <a> is NULL (any). */
static void add_types(cJSON *s, const char *a, const char *b)
{
    if (!a)
        return;
    cJSON *t = cJSON_AddArrayToObject(s, "type");
    cJSON_AddItemToArray(t, cJSON_CreateString(a));
    if (b && !str_eq(a, b))
        cJSON_AddItemToArray(t, cJSON_CreateString(b));
    cJSON_AddItemToArray(t, cJSON_CreateString("null"));
}

/* An object of named parts, each always present (null when nothing matched). */
static cJSON *object_schema(const struct model_output *outs, size_t n, bool in_properties,
                            const char *unnamed)
{
    cJSON *s = cJSON_CreateObject();
    cJSON_AddStringToObject(s, "type", "object");
    cJSON *props = cJSON_AddObjectToObject(s, "properties");
    cJSON *req = cJSON_AddArrayToObject(s, "required");
    for (size_t i = 0; i < n; i++) {
        const char *name = outs[i].name ? outs[i].name : unnamed;
        if (cJSON_GetObjectItemCaseSensitive(props, name))
            continue; /* respmap adds a second one under the same key; the first is read */
        cJSON_AddItemToObject(props, name, output_schema(&outs[i], in_properties));
        cJSON_AddItemToArray(req, cJSON_CreateString(name));
    }
    return s;
}

/* Whether JSONPath <path> may select several nodes (wildcard, descendants, filter, slice,
 * union): its selection is then an array, and an object output shapes each element. */
static bool indefinite(const char *path)
{
    return path && (strchr(path, '*') || strstr(path, "..") || strchr(path, '?') ||
                    strchr(path, ':') || strchr(path, ','));
}

/* Nullable: a path that matches nothing gives null. */
static void make_nullable(cJSON *s)
{
    cJSON *t = cJSON_GetObjectItemCaseSensitive(s, "type");
    if (cJSON_IsString(t)) {
        const char *name = t->valuestring;
        cJSON *arr = cJSON_CreateArray();
        cJSON_AddItemToArray(arr, cJSON_CreateString(name));
        cJSON_AddItemToArray(arr, cJSON_CreateString("null"));
        cJSON_ReplaceItemInObjectCaseSensitive(s, "type", arr);
    }
}

static cJSON *output_schema(const struct model_output *o, bool in_properties)
{
    cJSON *s;
    (void)in_properties; /* a property without mapping reads nothing: null, which every schema
                            here admits */
    if (o->const_value) {
        s = cJSON_CreateObject();
        cJSON_AddItemToObject(s, "const", cJSON_Duplicate(o->const_value, 1));
        return s;
    }
    if (o->value) {
        /* Rendered and typed; a text that does not convert stays a string. */
        s = cJSON_CreateObject();
        add_types(s, model_json_type(o->type), "string");
        return s;
    }
    if (o->type == MODEL_TYPE_OBJECT && o->values) {
        s = cJSON_CreateObject();
        cJSON_AddStringToObject(s, "type", "object");
        cJSON_AddItemToObject(s, "additionalProperties", output_schema(o->values, false));
        make_nullable(s);
        return s;
    }
    if (o->type == MODEL_TYPE_OBJECT && o->nproperties) {
        s = object_schema(o->properties, o->nproperties, true, "value");
        if (indefinite(o->mapping)) { /* respmap shapes each element of the selection */
            cJSON *arr = cJSON_CreateObject();
            cJSON_AddStringToObject(arr, "type", "array");
            cJSON_AddItemToObject(arr, "items", s);
            s = arr;
        }
        make_nullable(s);
        return s;
    }
    if (o->type == MODEL_TYPE_ARRAY && o->items) {
        s = cJSON_CreateObject();
        cJSON_AddStringToObject(s, "type", "array");
        cJSON_AddItemToObject(s, "items", output_schema(o->items, false));
        make_nullable(s);
        return s;
    }
    s = cJSON_CreateObject(); /* the selection as the upstream wrote it */
    add_types(s, model_json_type(o->type), NULL);
    return s;
}

cJSON *outschema_for_outputs(const struct model_output *outs, size_t n)
{
    if (n == 0)
        return NULL;
    if (n == 1 && !outs[0].name) {
        const struct model_output *o = &outs[0];
        if (o->const_value || o->value || o->type != MODEL_TYPE_OBJECT ||
            !(o->nproperties || o->values) || (o->nproperties && indefinite(o->mapping)))
            return NULL;
        cJSON *s = output_schema(o, false);
        /* The top level is the object itself (MCP wants type "object" there). */
        cJSON_ReplaceItemInObjectCaseSensitive(s, "type", cJSON_CreateString("object"));
        return s;
    }
    return object_schema(outs, n, false, "result");
}

cJSON *outschema_for_call(const struct rt_call *call)
{
    if (call->kind != MODEL_CALL_SIMPLE || call->passthrough || !call->mcall)
        return NULL;
    return outschema_for_outputs(call->mcall->outputs, call->mcall->noutputs);
}

/* ---- checking ---- */

static const char *kind_of(const cJSON *v)
{
    if (cJSON_IsNull(v))
        return "null";
    if (cJSON_IsBool(v))
        return "boolean";
    if (cJSON_IsNumber(v) || cJSON_IsRaw(v))
        return "number";
    if (cJSON_IsString(v))
        return "string";
    if (cJSON_IsArray(v))
        return "array";
    return "object";
}

static bool is_type(const cJSON *v, const char *t)
{
    if (str_eq(t, "integer")) {
        if (cJSON_IsRaw(v)) /* a big integer kept as its digits (base/jsonnum.h) */
            return v->valuestring && !strpbrk(v->valuestring, ".eE");
        return cJSON_IsNumber(v) && isfinite(v->valuedouble) &&
               fnum_is_whole(v->valuedouble);
    }
    return str_eq(kind_of(v), t);
}

static bool type_ok(const cJSON *t, const cJSON *v)
{
    if (!t)
        return true;
    if (cJSON_IsString(t))
        return is_type(v, t->valuestring);
    const cJSON *e;
    cJSON_ArrayForEach(e, t) if (cJSON_IsString(e) && is_type(v, e->valuestring)) return true;
    return false;
}

static void type_text(const cJSON *t, char *out, size_t n)
{
    if (cJSON_IsString(t)) {
        snprintf(out, n, "%s", t->valuestring);
        return;
    }
    size_t at = 0;
    out[0] = '\0';
    const cJSON *e;
    cJSON_ArrayForEach(e, t)
    {
        int k = snprintf(out + at, n - at, "%s%s", at ? " or " : "", e->valuestring);
        if (k < 0 || (size_t)k >= n - at)
            break;
        at += (size_t)k;
    }
}

/* Back to the first <at> bytes of <path> (the parent's path). */
static void path_cut(struct strbuf *path, size_t at)
{
    if (path->data) {
        path->len = at;
        path->data[at] = '\0';
    }
}

static bool check(const cJSON *s, const cJSON *v, struct strbuf *path, char *where, size_t n)
{
    const cJSON *c = cJSON_GetObjectItemCaseSensitive(s, "const");
    if (c && !cJSON_Compare(c, v, true)) {
        snprintf(where, n, "%s is not the declared const value", path->len ? path->data : "/");
        return false;
    }
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(s, "type");
    if (!type_ok(t, v)) {
        char want[64];
        type_text(t, want, sizeof want);
        snprintf(where, n, "%s is %s %s, expected %s", path->len ? path->data : "/",
                 str_eq(kind_of(v), "array") || str_eq(kind_of(v), "object") ? "an" : "a",
                 kind_of(v), want);
        return false;
    }
    size_t at = path->len;
    bool ok = true;
    const cJSON *props = cJSON_GetObjectItemCaseSensitive(s, "properties");
    const cJSON *extra = cJSON_GetObjectItemCaseSensitive(s, "additionalProperties");
    const cJSON *items = cJSON_GetObjectItemCaseSensitive(s, "items");
    if (cJSON_IsObject(v) && props) {
        const cJSON *r;
        cJSON_ArrayForEach(r, cJSON_GetObjectItemCaseSensitive(s, "required"))
        {
            if (!cJSON_GetObjectItemCaseSensitive(v, r->valuestring)) {
                snprintf(where, n, "%s/%s is missing", path->data ? path->data : "",
                         r->valuestring);
                return false;
            }
        }
        const cJSON *p;
        cJSON_ArrayForEach(p, props)
        {
            const cJSON *m = cJSON_GetObjectItemCaseSensitive(v, p->string);
            if (!m)
                continue;
            strbuf_addf(path, "/%s", p->string);
            ok = check(p, m, path, where, n);
            path_cut(path, at);
            if (!ok)
                return false;
        }
    }
    if (cJSON_IsObject(v) && extra) {
        const cJSON *m;
        cJSON_ArrayForEach(m, v)
        {
            strbuf_addf(path, "/%s", m->string);
            ok = check(extra, m, path, where, n);
            path_cut(path, at);
            if (!ok)
                return false;
        }
    }
    if (cJSON_IsArray(v) && items) {
        const cJSON *e;
        size_t i = 0;
        cJSON_ArrayForEach(e, v)
        {
            strbuf_addf(path, "/%zu", i++);
            ok = check(items, e, path, where, n);
            path_cut(path, at);
            if (!ok)
                return false;
        }
    }
    return true;
}

bool outschema_check(const cJSON *schema, const cJSON *v, char *where, size_t n)
{
    struct strbuf path;
    strbuf_init(&path, 0);
    if (n)
        where[0] = '\0';
    bool ok = check(schema, v, &path, where, n);
    strbuf_deinit(&path);
    return ok;
}
