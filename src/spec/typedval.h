/*
 * typedval: an output parameter's `value:` text as the JSON value its declared `type` names
 * (`type: number` with value "42" is the number 42). Shared by the loader, which refuses a
 * static value that does not convert, and respmap, which types rendered Mustache values.
 */
#ifndef CAPPROXY_TYPEDVAL_H
#define CAPPROXY_TYPEDVAL_H

#include <cjson/cJSON.h>

#include "spec/model.h"

/* <s> as type <t>: string and any give the string itself; number a JSON number; integer a JSON
 * number without fraction or exponent; boolean true or false (ASCII case-insensitive); object
 * and array a JSON text of that kind. Integers of 16 digits or more keep their digits (a raw
 * node). A new cJSON (caller deletes), or NULL when <s> does not convert. */
cJSON *typedval_parse(enum model_type t, const char *s);

#endif
