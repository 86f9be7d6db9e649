/*
 * typedval: see typedval.h. Numbers and JSON texts go through cJSON (after the RFC 8259 number
 * check cJSON does not make) and jsonnum, so a big integer prints with the digits written.
 */
#include "spec/typedval.h"

#include <string.h>

#include "base/jsonnum.h"
#include "base/util.h"

static cJSON *parse_json(const char *s, size_t len)
{
    if (json_text_refusal(s, len, true, NULL))
        return NULL;
    /* `{"a": "x"} junk` (a Mustache value closing the object early) does not convert. */
    return jsonnum_parse_exact(s, len, NULL);
}

cJSON *typedval_parse(enum model_type t, const char *s)
{
    size_t len = strlen(s);
    cJSON *v = NULL;

    switch (t) {
    case MODEL_TYPE_ANY:
    case MODEL_TYPE_STRING:
        return cJSON_CreateString(s);
    case MODEL_TYPE_BOOLEAN:
        if (str_eq_ci(s, "true"))
            return cJSON_CreateTrue();
        if (str_eq_ci(s, "false"))
            return cJSON_CreateFalse();
        return NULL;
    case MODEL_TYPE_INTEGER:
        if (strpbrk(s, ".eE"))
            return NULL;
        /* fall through */
    case MODEL_TYPE_NUMBER:
        return jsonnum_is_json_number(s, len) ? parse_json(s, len) : NULL;
    case MODEL_TYPE_OBJECT:
    case MODEL_TYPE_ARRAY:
        v = parse_json(s, len);
        if (v && (t == MODEL_TYPE_OBJECT ? cJSON_IsObject(v) : cJSON_IsArray(v)))
            return v;
        cJSON_Delete(v);
        return NULL;
    }
    return NULL;
}
