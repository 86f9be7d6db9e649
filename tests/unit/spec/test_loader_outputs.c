/* Unit tests for the loader's outputParameters: what each key becomes in the model (static and
 * Mustache values, JSONPath values, const, maxLength, values maps, items) and every load error
 * with its position and text. */
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>

#include "base/diag.h"
#include "spec/loader.h"
#include "spec/model.h"

/* A document whose MCP tool has the outputParameters <outs> (YAML lines indented by 10). */
static char *doc_with(const char *outs)
{
    char *s = NULL;
    if (asprintf(&s,
                 "naftiko: 1.0.0-alpha2\n"
                 "capability:\n"
                 "  consumes:\n"
                 "    - namespace: up\n"
                 "      type: http\n"
                 "      baseUri: http://127.0.0.1:1\n"
                 "      resources:\n"
                 "        - name: users\n"
                 "          path: /users\n"
                 "          operations:\n"
                 "            - {name: list, method: GET}\n"
                 "  exposes:\n"
                 "    - type: mcp\n"
                 "      namespace: tools\n"
                 "      tools:\n"
                 "        - name: t\n"
                 "          description: d\n"
                 "          call: up.list\n"
                 "          outputParameters:\n"
                 "%s",
                 outs) < 0)
        abort();
    return s;
}

/* Line of the first output line in doc_with. */
#define L0 20

static struct model *load(const char *outs, struct diag *d)
{
    char *text = doc_with(outs);
    struct model *m = model_new();
    diag_init(d);
    if (loader_load_buffer(m, "t.yaml", text, strlen(text), d) != 0) {
        model_free(m);
        m = NULL;
    }
    free(text);
    return m;
}

static const struct model_call *tool_call(const struct model *m)
{
    return &m->caps[0]->exposes[0].tools[0].call;
}

/* Load <outs>; it must fail with exactly one error, "t.yaml:<want>". */
static void check_error(const char *outs, const char *want)
{
    struct diag d;
    struct model *m = load(outs, &d);
    CHECK(m == NULL);
    CHECK(d.nerrors == 1);
    char *got = d.n ? diag_format(&d.v[0]) : NULL;
    char *full = NULL;
    if (asprintf(&full, "t.yaml:%s", want) < 0)
        abort();
    CHECK_STR(got, full);
    if (d.nerrors != 1)
        diag_print(&d, stderr);
    free(got);
    free(full);
    model_free(m);
    diag_deinit(&d);
}

/* `items` as a list of named outputs (the orchestrated form of tutorial step 7): each element
 * is an object with those properties. */
static void test_items_named_list(void)
{
    struct diag d;
    struct model *m = load("            - name: crew\n"
                           "              type: array\n"
                           "              mapping: $.crew\n"
                           "              items:\n"
                           "                - {name: fullName, type: string, mapping: $.n}\n"
                           "                - {name: role, type: string}\n",
                           &d);
    CHECK(m != NULL);
    if (!m) {
        diag_print(&d, stderr);
        diag_deinit(&d);
        return;
    }
    const struct model_output *o = &tool_call(m)->outputs[0];
    CHECK(o->items != NULL);
    CHECK(o->items && o->items->type == MODEL_TYPE_OBJECT);
    CHECK(o->items && o->items->nproperties == 2);
    if (o->items && o->items->nproperties == 2) {
        CHECK_STR(o->items->properties[0].name, "fullName");
        CHECK_STR(o->items->properties[0].mapping, "$.n");
        CHECK_STR(o->items->properties[1].name, "role");
    }
    model_free(m);
    diag_deinit(&d);
    /* A list mixing named and unnamed entries is no element description. */
    check_error("            - name: crew\n"
                "              type: array\n"
                "              items:\n"
                "                - {name: a, type: string}\n"
                "                - {type: string}\n",
                "23:17: error: expected a mapping, a one-entry sequence or a list of named outputs "
                "for 'items', got a sequence");
}

static void test_loaded_fields(void)
{
    struct diag d;
    struct model *m = load("            - {name: n, type: number, value: '42'}\n"
                           "            - {name: g, type: string, value: 'Hi {{who}}'}\n"
                           "            - {name: p, type: string, value: $.a.b}\n"
                           "            - {name: c, type: integer, const: 7}\n"
                           "            - {name: s, type: string, const: 2024, maxLength: 3}\n"
                           "            - {name: o, type: object, const: {a: [1, true]}}\n"
                           "            - name: m\n"
                           "              type: object\n"
                           "              mapping: $.langs\n"
                           "              values: {type: string, mapping: $.by, maxLength: 5}\n"
                           "            - name: arr\n"
                           "              type: array\n"
                           "              mapping: $.list\n"
                           "              items:\n"
                           "                - type: object\n"
                           "                  description: one element\n"
                           "                  properties:\n"
                           "                    id: {type: integer, mapping: $.id}\n",
                           &d);
    CHECK(m != NULL);
    if (!m) {
        diag_print(&d, stderr);
        diag_deinit(&d);
        return;
    }
    const struct model_call *c = tool_call(m);
    CHECK(c->noutputs == 8);
    CHECK_STR(c->outputs[0].value, "42");
    CHECK(c->outputs[0].mapping == NULL);
    CHECK_STR(c->outputs[1].value, "Hi {{who}}");
    CHECK_STR(c->outputs[2].mapping, "$.a.b");
    CHECK(c->outputs[2].value == NULL);
    CHECK(cJSON_IsNumber(c->outputs[3].const_value) && c->outputs[3].const_value->valueint == 7);
    CHECK(cJSON_IsString(c->outputs[4].const_value));
    CHECK_STR(c->outputs[4].const_value->valuestring, "2024");
    CHECK(c->outputs[4].max_length == 3);
    char *o = cJSON_PrintUnformatted(c->outputs[5].const_value);
    CHECK_STR(o, "{\"a\":[1,true]}");
    free(o);
    const struct model_output *mm = &c->outputs[6];
    CHECK(mm->values != NULL && mm->values->max_length == 5);
    CHECK(mm->values && mm->values->type == MODEL_TYPE_STRING);
    CHECK_STR(mm->values ? mm->values->mapping : NULL, "$.by");
    const struct model_output *arr = &c->outputs[7];
    CHECK(arr->items != NULL && arr->items->nproperties == 1);
    CHECK_STR(arr->items ? arr->items->properties[0].name : NULL, "id");
    CHECK(d.nerrors == 0);
    model_free(m);
    diag_deinit(&d);
}

static void test_errors(void)
{
    char want[512];
    /* Unknown type names are errors, with a suggestion when one is close. */
    snprintf(want, sizeof want,
             "%d:31: error: unknown type 'strng' for an output parameter (did you mean "
             "'string'?)",
             L0);
    check_error("            - {name: a, type: strng, mapping: $.a}\n", want);
    snprintf(want, sizeof want,
             "%d:31: error: unknown type 'widget' for an output parameter: expected string, "
             "number, integer, boolean, array or object",
             L0);
    check_error("            - {name: a, type: widget, mapping: $.a}\n", want);
    /* Static values must convert to the declared type. */
    snprintf(want, sizeof want, "%d:46: error: value 'many' is not of type number", L0);
    check_error("            - {name: a, type: number, value: many}\n", want);
    snprintf(want, sizeof want, "%d:47: error: value '4.5' is not of type integer", L0);
    check_error("            - {name: a, type: integer, value: '4.5'}\n", want);
    snprintf(want, sizeof want, "%d:47: error: value 'yes' is not of type boolean", L0);
    check_error("            - {name: a, type: boolean, value: 'yes'}\n", want);
    snprintf(want, sizeof want, "%d:46: error: value '[1]' is not of type object", L0);
    check_error("            - {name: a, type: object, value: '[1]'}\n", want);
    /* An unclosed Mustache placeholder, pointed at. */
    snprintf(want, sizeof want,
             "%d:50: error: unclosed '{{' in value 'id {{id': a Mustache placeholder is written "
             "{{name}}",
             L0);
    check_error("            - {name: a, type: string, value: 'id {{id'}\n", want);
    snprintf(want, sizeof want,
             "%d:47: error: unclosed '{{' in value '{{a {{b}}': a Mustache placeholder is "
             "written {{name}}",
             L0);
    check_error("            - {name: a, type: string, value: '{{a {{b}}'}\n", want);
    /* mapping and value together. */
    snprintf(want, sizeof want,
             "%d:60: error: both 'mapping' and 'value' given: keep one ('mapping' reads the "
             "upstream answer, 'value' answers without it)",
             L0);
    check_error("            - {name: a, type: string, mapping: $.a, value: x}\n", want);
    /* const of the wrong type. */
    snprintf(want, sizeof want, "%d:46: error: const 'abc' is not of type number", L0);
    check_error("            - {name: a, type: number, const: abc}\n", want);
    snprintf(want, sizeof want, "%d:46: error: const is a sequence, not of type object", L0);
    check_error("            - {name: a, type: object, const: [1]}\n", want);
    /* maxLength. */
    snprintf(want, sizeof want,
             "%d:64: error: expected a positive integer for 'maxLength', got '0'", L0);
    check_error("            - {name: a, type: string, mapping: $.a, maxLength: 0}\n", want);
    snprintf(want, sizeof want,
             "%d:64: error: expected a positive integer for 'maxLength', got 'ten'", L0);
    check_error("            - {name: a, type: string, mapping: $.a, maxLength: ten}\n", want);
    snprintf(want, sizeof want,
             "%d:64: error: 'maxLength' cuts strings, but this output has type number", L0);
    check_error("            - {name: a, type: number, mapping: $.a, maxLength: 3}\n", want);
    /* items and values. */
    snprintf(want, sizeof want,
             "%d:59: error: expected a mapping, a one-entry sequence or a list of named outputs "
             "for 'items', got a "
             "scalar",
             L0);
    check_error("            - {name: a, type: array, mapping: $.a, items: string}\n", want);
    snprintf(want, sizeof want,
             "%d:60: error: 'values' describes the members of an object, but this output has "
             "type array",
             L0);
    check_error("            - {name: a, type: array, mapping: $.a, values: {type: string}}\n",
                want);
    snprintf(want, sizeof want, "%d:61: error: expected a mapping for 'values', got a scalar", L0);
    check_error("            - {name: a, type: object, mapping: $.a, values: string}\n", want);
    snprintf(want, sizeof want,
             "%d:23: error: both 'properties' and 'values' given: an object is described by its "
             "named properties or by one description of every member",
             L0 + 3);
    check_error("            - name: a\n"
                "              type: object\n"
                "              properties: {x: {type: string, mapping: $.x}}\n"
                "              values: {type: string}\n",
                want);
    /* Errors inside nested descriptions keep their own positions. */
    snprintf(want, sizeof want,
             "%d:29: error: unknown type 'numbr' for an output parameter (did you mean "
             "'number'?)",
             L0 + 3);
    check_error("            - name: a\n"
                "              type: array\n"
                "              mapping: $.a\n"
                "              items: {type: numbr}\n",
                want);
    /* A JSONPath written under value is still checked as one. */
    snprintf(want, sizeof want, "%d:44: error: invalid JSONPath '$..' for 'value'", L0);
    struct diag d;
    struct model *m = load("            - {name: a, type: string, value: '$..'}\n", &d);
    CHECK(m == NULL);
    CHECK(diag_contains(&d, "invalid JSONPath '$..' for 'value'"));
    diag_deinit(&d);
}

int main(void)
{
    RUN(test_loaded_fields());
    RUN(test_errors());
    RUN(test_items_named_list());
    return harness_report();
}
