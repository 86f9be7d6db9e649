/*
 * respmap: see respmap.h. Each output parameter selects with JSONPath from the upstream
 * document; object and array outputs with properties are rebuilt field by field, everything
 * else is the selection itself.
 */
#include "core/respmap.h"

#include <stdio.h>

#include "base/jsonnum.h"
#include "base/util.h"
#include "core/convert.h"
#include "spec/jsonpath.h"

static cJSON *map_output(const struct model_output *o, const cJSON *doc);

static cJSON *map_object(const struct model_output *o, const cJSON *doc)
{
    cJSON *obj = cJSON_CreateObject();
    for (size_t i = 0; i < o->nproperties; i++) {
        const struct model_output *p = &o->properties[i];
        cJSON *v = map_output(p, doc);
        cJSON_AddItemToObject(obj, p->name ? p->name : "value", v ? v : cJSON_CreateNull());
    }
    return obj;
}

static cJSON *map_output(const struct model_output *o, const cJSON *doc)
{
    cJSON *sel =
        jsonpath_is_root(o->mapping) ? cJSON_Duplicate(doc, 1) : jsonpath_eval(doc, o->mapping);
    if (!sel)
        return NULL;
    if (o->type == MODEL_TYPE_OBJECT && o->nproperties && !cJSON_IsArray(sel)) {
        cJSON *r = map_object(o, sel);
        cJSON_Delete(sel);
        return r;
    }
    if (o->type == MODEL_TYPE_ARRAY && o->items && o->items->nproperties && cJSON_IsArray(sel)) {
        cJSON *arr = cJSON_CreateArray();
        const cJSON *e;
        cJSON_ArrayForEach(e, sel)
        {
            cJSON_AddItemToArray(arr, map_object(o->items, e));
        }
        cJSON_Delete(sel);
        return arr;
    }
    return sel;
}

bool respmap_converts(const struct rt_call *call)
{
    return call->op && call->op->output_format != MODEL_FORMAT_JSON;
}

void respmap_convert_error(const struct rt_call *call, const char *body, size_t len, char *err,
                           size_t errlen)
{
    char why[256];
    cJSON *doc = convert_to_json(call->op->output_format, call->op->output_schema, body, len, why,
                                 sizeof why);
    cJSON_Delete(doc);
    snprintf(err, errlen, "the upstream's %s could not be read: %s",
             convert_format_label(call->op->output_format), doc ? "?" : why);
}

cJSON *respmap_apply(const struct rt_call *call, const char *body, size_t len)
{
    cJSON *doc;
    if (respmap_converts(call)) {
        /* XML, CSV...: JSON first (NULL when unreadable: respmap_convert_error says why). */
        doc = convert_to_json(call->op->output_format, call->op->output_schema, body, len, NULL, 0);
        if (!doc)
            return NULL;
    } else {
        if (json_text_refusal(body, len, false, NULL))
            return NULL; /* cannot be represented faithfully: the caller passes the text through */
        doc = cJSON_ParseWithLength(body, len);
        if (!doc)
            return NULL;
        /* Integers beyond 2^53 (64-bit ids) keep the upstream's digits when re-encoded. */
        jsonnum_keep_big_ints(doc, NULL, body, len);
    }
    const struct model_call *mc = call->mcall;
    if (mc->noutputs == 0 || call->passthrough)
        return doc;
    cJSON *r;
    if (mc->noutputs == 1 && !mc->outputs[0].name) {
        r = map_output(&mc->outputs[0], doc);
    } else {
        r = cJSON_CreateObject();
        for (size_t i = 0; i < mc->noutputs; i++) {
            cJSON *v = map_output(&mc->outputs[i], doc);
            cJSON_AddItemToObject(r, mc->outputs[i].name ? mc->outputs[i].name : "result",
                                  v ? v : cJSON_CreateNull());
        }
    }
    cJSON_Delete(doc);
    return r ? r : cJSON_CreateNull();
}
