/* Unit tests for outschema: the outputSchema derived from declared outputs (types made
 * nullable, properties required, items, values maps, const, rendered values), which answers
 * get none, and the check of structuredContent against it. Answers are shaped by the real
 * respmap_outputs, so a change of the shaping rules that the schema does not follow fails
 * here. */
#include "harness.h"

#include <stdlib.h>

#include "base/jsonnum.h"
#include "core/outschema.h"
#include "core/respmap.h"

#define NOUT(a) (sizeof(a) / sizeof((a)[0]))

/* The schema printed compactly, or "NULL"; the buffer is static (one use at a time). */
static const char *schema_text(const struct model_output *outs, size_t n)
{
    static char buf[4096];
    cJSON *s = outschema_for_outputs(outs, n);
    char *p = s ? cJSON_PrintUnformatted(s) : NULL;
    snprintf(buf, sizeof buf, "%s", p ? p : "NULL");
    free(p);
    cJSON_Delete(s);
    return buf;
}

/* Shape <doc> with <outs> and check the answer against their schema: "ok" or the mismatch. */
static const char *shaped_check(const struct model_output *outs, size_t n, const char *doc)
{
    static char where[256];
    cJSON *d = cJSON_Parse(doc);
    if (d)
        jsonnum_keep_big_ints(d, NULL, doc, strlen(doc));
    cJSON *r = respmap_outputs(outs, n, d, NULL);
    cJSON *s = outschema_for_outputs(outs, n);
    bool ok = s && r && outschema_check(s, r, where, sizeof where);
    cJSON_Delete(s);
    cJSON_Delete(r);
    cJSON_Delete(d);
    return ok ? "ok" : where;
}

static struct model_output email[] = {
    {.name = "email", .type = MODEL_TYPE_STRING, .mapping = "$.email"}};
static struct model_output tag = {.type = MODEL_TYPE_STRING};
static struct model_output year = {.type = MODEL_TYPE_INTEGER, .mapping = "$.year"};

static void test_named_outputs(void)
{
    cJSON *thing = cJSON_CreateString("thing");
    struct model_output outs[] = {
        {.name = "id", .type = MODEL_TYPE_INTEGER, .mapping = "$.id"},
        {.name = "tags", .type = MODEL_TYPE_ARRAY, .mapping = "$.tags", .items = &tag},
        {.name = "owner",
         .type = MODEL_TYPE_OBJECT,
         .mapping = "$.owner",
         .properties = email,
         .nproperties = 1},
        {.name = "langs", .type = MODEL_TYPE_OBJECT, .mapping = "$.langs", .values = &year},
        {.name = "kind", .type = MODEL_TYPE_STRING, .const_value = thing},
        {.name = "v", .type = MODEL_TYPE_NUMBER, .value = "{{x}}"},
        {.name = "raw", .type = MODEL_TYPE_ANY, .mapping = "$.raw"},
    };
    CHECK_STR(schema_text(outs, NOUT(outs)),
              "{\"type\":\"object\",\"properties\":{"
              "\"id\":{\"type\":[\"integer\",\"null\"]},"
              "\"tags\":{\"type\":[\"array\",\"null\"],\"items\":{\"type\":[\"string\",\"null\"]}},"
              "\"owner\":{\"type\":[\"object\",\"null\"],\"properties\":{\"email\":{\"type\":["
              "\"string\",\"null\"]}},\"required\":[\"email\"]},"
              "\"langs\":{\"type\":[\"object\",\"null\"],\"additionalProperties\":{\"type\":["
              "\"integer\",\"null\"]}},"
              "\"kind\":{\"const\":\"thing\"},"
              "\"v\":{\"type\":[\"number\",\"string\",\"null\"]},"
              "\"raw\":{}},"
              "\"required\":[\"id\",\"tags\",\"owner\",\"langs\",\"kind\",\"v\",\"raw\"]}");
    /* Real answers, shaped by respmap, conform; so do missing paths (null). */
    CHECK_STR(shaped_check(outs, NOUT(outs),
                           "{\"id\":12345678901234567890,\"tags\":[\"a\"],\"owner\":{\"email\":"
                           "\"o@x\"},\"langs\":{\"c\":{\"year\":1972}},\"raw\":[1,{}]}"),
              "ok");
    CHECK_STR(shaped_check(outs, NOUT(outs), "{}"), "ok");
    /* Other types than declared are caught, with where. */
    CHECK_STR(shaped_check(outs, NOUT(outs), "{\"id\":1.5}"),
              "/id is a number, expected integer or null");
    CHECK_STR(shaped_check(outs, NOUT(outs), "{\"tags\":[\"a\",2]}"),
              "/tags/1 is a number, expected string or null");
    CHECK_STR(shaped_check(outs, NOUT(outs), "{\"owner\":{\"email\":true}}"),
              "/owner/email is a boolean, expected string or null");
    CHECK_STR(shaped_check(outs, NOUT(outs), "{\"langs\":{\"go\":{\"year\":\"2009\"}}}"),
              "/langs/go is a string, expected integer or null");
    cJSON_Delete(thing);
}

static void test_which_get_one(void)
{
    /* The seed's whole document, and a single unnamed scalar or array: no object contract. */
    struct model_output seed[] = {{.type = MODEL_TYPE_OBJECT, .mapping = "$."}};
    CHECK_STR(schema_text(seed, 1), "NULL");
    struct model_output scalar[] = {{.type = MODEL_TYPE_STRING, .mapping = "$.name"}};
    CHECK_STR(schema_text(scalar, 1), "NULL");
    struct model_output arr[] = {{.type = MODEL_TYPE_ARRAY, .mapping = "$.tags", .items = &tag}};
    CHECK_STR(schema_text(arr, 1), "NULL");
    CHECK_STR(schema_text(NULL, 0), "NULL");
    /* One unnamed object with properties: that object, not nullable at the top. */
    struct model_output obj[] = {
        {.type = MODEL_TYPE_OBJECT, .properties = email, .nproperties = 1}};
    CHECK_STR(schema_text(obj, 1), "{\"type\":\"object\",\"properties\":{\"email\":{\"type\":["
                                   "\"string\",\"null\"]}},\"required\":[\"email\"]}");
    CHECK_STR(shaped_check(obj, 1, "{\"email\":\"a@b\"}"), "ok");
    /* An object output over a wildcard path shapes each element: an array of those objects
     * (at the top: not an object, no schema). */
    struct model_output each[] = {{.name = "people",
                                   .type = MODEL_TYPE_OBJECT,
                                   .mapping = "$.people[*]",
                                   .properties = email,
                                   .nproperties = 1}};
    CHECK_STR(schema_text(each, 1),
              "{\"type\":\"object\",\"properties\":{\"people\":{\"type\":[\"array\",\"null\"],"
              "\"items\":{\"type\":\"object\",\"properties\":{\"email\":{\"type\":[\"string\","
              "\"null\"]}},\"required\":[\"email\"]}}},\"required\":[\"people\"]}");
    CHECK_STR(shaped_check(each, 1, "{\"people\":[{\"email\":\"a\"},{\"email\":\"b\"}]}"), "ok");
    each[0].name = NULL;
    CHECK_STR(schema_text(each, 1), "NULL");
    /* A scalar property without mapping reads nothing: null, admitted. */
    struct model_output nomap[] = {{.name = "email", .type = MODEL_TYPE_STRING}};
    struct model_output obj2[] = {
        {.type = MODEL_TYPE_OBJECT, .properties = nomap, .nproperties = 1}};
    CHECK_STR(shaped_check(obj2, 1, "{\"email\":\"a@b\"}"), "ok");
}

static void test_check_messages(void)
{
    cJSON *s = cJSON_Parse("{\"type\":\"object\",\"properties\":{\"a\":{\"const\":1}},"
                           "\"required\":[\"a\",\"b\"]}");
    cJSON *v = cJSON_Parse("{\"a\":1}");
    char where[128];
    CHECK(!outschema_check(s, v, where, sizeof where));
    CHECK_STR(where, "/b is missing");
    cJSON_Delete(v);
    v = cJSON_Parse("{\"a\":2,\"b\":0}");
    CHECK(!outschema_check(s, v, where, sizeof where));
    CHECK_STR(where, "/a is not the declared const value");
    cJSON_Delete(v);
    v = cJSON_Parse("[1]");
    CHECK(!outschema_check(s, v, where, sizeof where));
    CHECK_STR(where, "/ is an array, expected object");
    cJSON_Delete(v);
    cJSON_Delete(s);
}

int main(void)
{
    RUN(test_named_outputs());
    RUN(test_which_get_one());
    RUN(test_check_messages());
    return harness_report();
}
