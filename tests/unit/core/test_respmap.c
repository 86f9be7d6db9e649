/* Unit tests for respmap_outputs: output shaping over a JSON document (nested properties,
 * items, values maps, maxLength, const, typed static and Mustache values) and the mock answer
 * built without one. The outputs are built by hand: the pure function, not the loader. */
#include "harness.h"

#include <stdlib.h>

#include "base/jsonnum.h"
#include "core/respmap.h"

#define ARR(...) ((struct model_output[]){__VA_ARGS__})
#define NOUT(a)  (sizeof(a) / sizeof((a)[0]))

/* Parse <text> as the upstream answer is parsed (big integers keep their digits). */
static cJSON *parse(const char *text)
{
    if (!text)
        return NULL;
    cJSON *v = cJSON_Parse(text);
    if (v)
        jsonnum_keep_big_ints(v, NULL, text, strlen(text));
    return v;
}

/* respmap_outputs printed compactly, or "NULL"; the buffer is static (one use at a time). */
static const char *run(const struct model_output *outs, size_t n, const char *doc,
                       const char *scope)
{
    static char buf[4096];
    cJSON *d = parse(doc), *s = parse(scope);
    cJSON *r = respmap_outputs(outs, n, d, s);
    char *p = r ? cJSON_PrintUnformatted(r) : NULL;
    snprintf(buf, sizeof buf, "%s", p ? p : "NULL");
    free(p);
    cJSON_Delete(r);
    cJSON_Delete(d);
    cJSON_Delete(s);
    return buf;
}

static const char *doc = "{\"id\":7,\"name\":\"Ada\",\"tags\":[\"a\",\"b\"],"
                         "\"data\":{\"id\":12345678901234567890,\"email\":\"ada@x\"},"
                         "\"items\":[{\"id\":1,\"n\":\"one\",\"sub\":[{\"k\":1},{\"k\":2}]},"
                         "{\"id\":2,\"n\":\"two\",\"sub\":[]}],"
                         "\"langs\":{\"c\":{\"year\":1972,\"by\":\"Ritchie\"},"
                         "\"go\":{\"year\":2009,\"by\":\"Pike\"}}}";

/* The seed's {type: object, mapping: $.} without properties stays the whole document, and so
 * does an empty outputParameters list. */
static void test_root_stays_whole(void)
{
    struct model_output seed[] = {{.type = MODEL_TYPE_OBJECT, .mapping = "$."}};
    cJSON *d = parse(doc);
    char *want = cJSON_PrintUnformatted(d);
    CHECK_STR(run(seed, 1, doc, NULL), want);
    struct model_output dollar[] = {{.type = MODEL_TYPE_ANY, .mapping = "$"}};
    CHECK_STR(run(dollar, 1, doc, NULL), want);
    struct model_output nomap[] = {{.type = MODEL_TYPE_OBJECT}};
    CHECK_STR(run(nomap, 1, doc, NULL), want);
    CHECK_STR(run(NULL, 0, doc, NULL), want);
    CHECK(strstr(want, "12345678901234567890") != NULL);
    free(want);
    cJSON_Delete(d);
}

static void test_named_and_unnamed(void)
{
    struct model_output named[] = {
        {.name = "who", .type = MODEL_TYPE_STRING, .mapping = "$.name"},
        {.name = "big", .type = MODEL_TYPE_NUMBER, .mapping = "$.data.id"},
        {.name = "none", .type = MODEL_TYPE_STRING, .mapping = "$.missing.path"},
    };
    CHECK_STR(run(named, NOUT(named), doc, NULL),
              "{\"who\":\"Ada\",\"big\":12345678901234567890,\"none\":null}");
    struct model_output one[] = {{.type = MODEL_TYPE_ARRAY, .mapping = "$.tags"}};
    CHECK_STR(run(one, 1, doc, NULL), "[\"a\",\"b\"]");
    struct model_output gone[] = {{.type = MODEL_TYPE_STRING, .mapping = "$.nope"}};
    CHECK_STR(run(gone, 1, doc, NULL), "null");
    struct model_output wild[] = {{.type = MODEL_TYPE_ARRAY, .mapping = "$.items[*].n"}};
    CHECK_STR(run(wild, 1, doc, NULL), "[\"one\",\"two\"]");
}

/* Properties read relative to their object's selection; a nested object without mapping reads
 * the same node; a scalar property without mapping, value or const is null. */
static void test_nested_properties(void)
{
    struct model_output inner[] = {
        {.name = "mail", .type = MODEL_TYPE_STRING, .mapping = "$.email"},
        {.name = "id", .type = MODEL_TYPE_INTEGER, .mapping = "$.id"},
    };
    struct model_output same[] = {
        {.name = "email", .type = MODEL_TYPE_STRING, .mapping = "$.email"},
    };
    struct model_output props[] = {
        {.name = "contact", .type = MODEL_TYPE_OBJECT, .properties = same, .nproperties = 1},
        {.name = "bare", .type = MODEL_TYPE_STRING},
        {.name = "mail", .type = MODEL_TYPE_STRING, .mapping = "$.email"},
    };
    struct model_output outs[] = {
        {.name = "user",
         .type = MODEL_TYPE_OBJECT,
         .mapping = "$.data",
         .properties = props,
         .nproperties = NOUT(props)},
        {.name = "raw",
         .type = MODEL_TYPE_OBJECT,
         .mapping = "$.data",
         .properties = inner,
         .nproperties = NOUT(inner)},
    };
    CHECK_STR(run(outs, NOUT(outs), doc, NULL),
              "{\"user\":{\"contact\":{\"email\":\"ada@x\"},\"bare\":null,\"mail\":\"ada@x\"},"
              "\"raw\":{\"mail\":\"ada@x\",\"id\":12345678901234567890}}");
    /* Top-level object without mapping: properties from the document root. */
    struct model_output top[] = {
        {.type = MODEL_TYPE_OBJECT, .properties = inner, .nproperties = NOUT(inner)}};
    CHECK_STR(run(top, 1, doc, NULL), "{\"mail\":null,\"id\":7}");
    /* A missing selection is null, not an object of nulls. */
    struct model_output miss[] = {{.type = MODEL_TYPE_OBJECT,
                                   .mapping = "$.zzz",
                                   .properties = inner,
                                   .nproperties = NOUT(inner)}};
    CHECK_STR(run(miss, 1, doc, NULL), "null");
    /* An object output that selects an array (a wildcard) shapes each element. */
    struct model_output idonly[] = {{.name = "id", .type = MODEL_TYPE_INTEGER, .mapping = "$.id"}};
    struct model_output wild[] = {
        {.type = MODEL_TYPE_OBJECT, .mapping = "$.items", .properties = idonly, .nproperties = 1}};
    CHECK_STR(run(wild, 1, doc, NULL), "[{\"id\":1},{\"id\":2}]");
}

static void test_items(void)
{
    struct model_output k[] = {{.type = MODEL_TYPE_INTEGER, .mapping = "$.k"}};
    struct model_output elem[] = {
        {.name = "id", .type = MODEL_TYPE_INTEGER, .mapping = "$.id"},
        {.name = "label", .type = MODEL_TYPE_STRING, .mapping = "$.n", .max_length = 2},
        {.name = "kind", .type = MODEL_TYPE_STRING, .const_value = NULL, .value = "item"},
        {.name = "ks", .type = MODEL_TYPE_ARRAY, .mapping = "$.sub", .items = k},
        {.name = "absent", .type = MODEL_TYPE_STRING, .mapping = "$.zzz"},
    };
    struct model_output it = {
        .type = MODEL_TYPE_OBJECT, .properties = elem, .nproperties = NOUT(elem)};
    struct model_output outs[] = {{.type = MODEL_TYPE_ARRAY, .mapping = "$.items", .items = &it}};
    CHECK_STR(run(outs, 1, doc, NULL),
              "[{\"id\":1,\"label\":\"on\",\"kind\":\"item\",\"ks\":[1,2],\"absent\":null},"
              "{\"id\":2,\"label\":\"tw\",\"kind\":\"item\",\"ks\":[],\"absent\":null}]");
    /* Items with a mapping relative to each element; items without one: the element. */
    struct model_output n = {.type = MODEL_TYPE_STRING, .mapping = "$.n"};
    struct model_output byname[] = {{.type = MODEL_TYPE_ARRAY, .mapping = "$.items", .items = &n}};
    CHECK_STR(run(byname, 1, doc, NULL), "[\"one\",\"two\"]");
    struct model_output cut = {.type = MODEL_TYPE_STRING, .max_length = 0};
    struct model_output plain[] = {{.type = MODEL_TYPE_ARRAY, .mapping = "$.tags", .items = &cut}};
    CHECK_STR(run(plain, 1, doc, NULL), "[\"a\",\"b\"]");
    /* An array output whose selection is not an array is null (as the reference engine). */
    struct model_output notarr[] = {{.type = MODEL_TYPE_ARRAY, .mapping = "$.data", .items = &n}};
    CHECK_STR(run(notarr, 1, doc, NULL), "null");
}

static void test_values_map(void)
{
    struct model_output year = {.type = MODEL_TYPE_INTEGER, .mapping = "$.year"};
    struct model_output outs[] = {
        {.name = "years", .type = MODEL_TYPE_OBJECT, .mapping = "$.langs", .values = &year}};
    CHECK_STR(run(outs, 1, doc, NULL), "{\"years\":{\"c\":1972,\"go\":2009}}");
    struct model_output by[] = {
        {.name = "by", .type = MODEL_TYPE_STRING, .mapping = "$.by", .max_length = 1}};
    struct model_output obj = {.type = MODEL_TYPE_OBJECT, .properties = by, .nproperties = 1};
    struct model_output nested[] = {
        {.type = MODEL_TYPE_OBJECT, .mapping = "$.langs", .values = &obj}};
    CHECK_STR(run(nested, 1, doc, NULL), "{\"c\":{\"by\":\"R\"},\"go\":{\"by\":\"P\"}}");
    struct model_output whole = {.type = MODEL_TYPE_ANY};
    struct model_output w[] = {{.type = MODEL_TYPE_OBJECT, .mapping = "$.data", .values = &whole}};
    CHECK_STR(run(w, 1, doc, NULL), "{\"id\":12345678901234567890,\"email\":\"ada@x\"}");
    struct model_output notobj[] = {
        {.type = MODEL_TYPE_OBJECT, .mapping = "$.tags", .values = &year}};
    CHECK_STR(run(notobj, 1, doc, NULL), "null");
}

/* maxLength counts UTF-8 characters and never cuts inside one. */
static void test_max_length(void)
{
    const char *text = "{\"s\":\"h\xc3\xa9llo \xf0\x9f\x98\x80 w\",\"n\":12345}";
    struct model_output two[] = {{.type = MODEL_TYPE_STRING, .mapping = "$.s", .max_length = 2}};
    CHECK_STR(run(two, 1, text, NULL), "\"h\xc3\xa9\"");
    struct model_output seven[] = {{.type = MODEL_TYPE_STRING, .mapping = "$.s", .max_length = 7}};
    CHECK_STR(run(seven, 1, text, NULL), "\"h\xc3\xa9llo \xf0\x9f\x98\x80\"");
    struct model_output big[] = {{.type = MODEL_TYPE_STRING, .mapping = "$.s", .max_length = 99}};
    CHECK_STR(run(big, 1, text, NULL), "\"h\xc3\xa9llo \xf0\x9f\x98\x80 w\"");
    /* Not a string: untouched. */
    struct model_output num[] = {{.type = MODEL_TYPE_NUMBER, .mapping = "$.n", .max_length = 2}};
    CHECK_STR(run(num, 1, text, NULL), "12345");
    struct model_output val[] = {{.type = MODEL_TYPE_STRING, .value = "abcdef", .max_length = 3}};
    CHECK_STR(run(val, 1, NULL, NULL), "\"abc\"");
}

static void test_const_wins(void)
{
    cJSON *c = cJSON_Parse("{\"fixed\":[1,true]}");
    cJSON *s = cJSON_CreateString("v1");
    struct model_output outs[] = {
        {.name = "c",
         .type = MODEL_TYPE_OBJECT,
         .mapping = "$.name",
         .value = "x",
         .const_value = c},
        {.name = "version", .type = MODEL_TYPE_STRING, .const_value = s},
    };
    CHECK_STR(run(outs, NOUT(outs), doc, NULL), "{\"c\":{\"fixed\":[1,true]},\"version\":\"v1\"}");
    CHECK_STR(run(outs, NOUT(outs), NULL, NULL), "{\"c\":{\"fixed\":[1,true]},\"version\":\"v1\"}");
    cJSON_Delete(c);
    cJSON_Delete(s);
}

/* Static and Mustache values are typed as declared; a rendered text that does not convert
 * stays a string. */
static void test_typed_values(void)
{
    struct model_output outs[] = {
        {.name = "n", .type = MODEL_TYPE_NUMBER, .value = "42.5"},
        {.name = "i", .type = MODEL_TYPE_INTEGER, .value = "42"},
        {.name = "b", .type = MODEL_TYPE_BOOLEAN, .value = "true"},
        {.name = "s", .type = MODEL_TYPE_STRING, .value = "42"},
        {.name = "a", .type = MODEL_TYPE_ANY, .value = "42"},
        {.name = "o", .type = MODEL_TYPE_OBJECT, .value = "{\"k\":[1]}"},
        {.name = "arr", .type = MODEL_TYPE_ARRAY, .value = "[1,2]"},
        {.name = "big", .type = MODEL_TYPE_INTEGER, .value = "12345678901234567890"},
        {.name = "over", .type = MODEL_TYPE_STRING, .mapping = "$.name", .value = "static"},
    };
    CHECK_STR(run(outs, NOUT(outs), doc, NULL),
              "{\"n\":42.5,\"i\":42,\"b\":true,\"s\":\"42\",\"a\":\"42\",\"o\":{\"k\":[1]},"
              "\"arr\":[1,2],\"big\":12345678901234567890,\"over\":\"static\"}");
    struct model_output tpl[] = {
        {.name = "count", .type = MODEL_TYPE_INTEGER, .value = "{{n}}"},
        {.name = "ok", .type = MODEL_TYPE_BOOLEAN, .value = "{{flag}}"},
        {.name = "greeting", .type = MODEL_TYPE_STRING, .value = "Hello, {{user.name}}!"},
        {.name = "bad", .type = MODEL_TYPE_NUMBER, .value = "{{user.name}}"},
        {.name = "unknown", .type = MODEL_TYPE_STRING, .value = "[{{nope}}]"},
    };
    CHECK_STR(run(tpl, NOUT(tpl), NULL, "{\"n\":7,\"flag\":\"false\",\"user\":{\"name\":\"Ada\"}}"),
              "{\"count\":7,\"ok\":false,\"greeting\":\"Hello, Ada!\",\"bad\":\"Ada\","
              "\"unknown\":\"[]\"}");
    /* No scope at all: placeholders render empty. */
    struct model_output one[] = {{.type = MODEL_TYPE_STRING, .value = "id={{id}}"}};
    CHECK_STR(run(one, 1, NULL, NULL), "\"id=\"");
}

static void test_mock(void)
{
    struct model_output none[] = {
        {.name = "a", .type = MODEL_TYPE_STRING, .mapping = "$.a"},
        {.name = "b", .type = MODEL_TYPE_OBJECT},
    };
    CHECK_STR(run(none, NOUT(none), NULL, NULL), "NULL");
    CHECK_STR(run(NULL, 0, NULL, NULL), "NULL");
    struct model_output unnamed[] = {{.type = MODEL_TYPE_STRING, .mapping = "$.a"}};
    CHECK_STR(run(unnamed, 1, NULL, NULL), "NULL");

    struct model_output tag = {.type = MODEL_TYPE_STRING, .value = "{{tag}}"};
    struct model_output noval = {.type = MODEL_TYPE_STRING, .mapping = "$.x"};
    struct model_output inner[] = {
        {.name = "id", .type = MODEL_TYPE_INTEGER, .value = "{{id}}"},
        {.name = "skip", .type = MODEL_TYPE_STRING, .mapping = "$.skip"},
    };
    struct model_output outs[] = {
        {.name = "greeting", .type = MODEL_TYPE_STRING, .value = "Hi {{name}}"},
        {.name = "user",
         .type = MODEL_TYPE_OBJECT,
         .properties = inner,
         .nproperties = NOUT(inner)},
        {.name = "tags", .type = MODEL_TYPE_ARRAY, .items = &tag},
        {.name = "empty", .type = MODEL_TYPE_ARRAY, .items = &noval},
        {.name = "mapped", .type = MODEL_TYPE_STRING, .mapping = "$.m"},
    };
    CHECK_STR(run(outs, NOUT(outs), NULL, "{\"name\":\"Ada\",\"id\":\"3\",\"tag\":\"x\"}"),
              "{\"greeting\":\"Hi Ada\",\"user\":{\"id\":3},\"tags\":[\"x\"]}");
    struct model_output single[] = {{.type = MODEL_TYPE_NUMBER, .value = "1e3"}};
    CHECK_STR(run(single, 1, NULL, NULL), "1000");
}

/* An object `value` that is JSON as written renders leaf by leaf: an input fills a string and
 * cannot add members; a leaf that is one placeholder takes the input's JSON value. An absent
 * input under a number or boolean type is no value, not "". */
static void test_value_json_and_absent(void)
{
    cJSON *tj = cJSON_Parse("{\"a\": \"{{q}}\", \"n\": \"{{n}}\", \"s\": \"n={{n}}\","
                            " \"gone\": \"{{nope}}\"}");
    struct model_output outs[] = {
        {.name = "o", .type = MODEL_TYPE_OBJECT, .value = "unused", .value_json = tj},
        {.name = "flag", .type = MODEL_TYPE_BOOLEAN, .value = "{{absent}}"},
        {.name = "num", .type = MODEL_TYPE_NUMBER, .value = "{{absent}}"},
    };
    CHECK_STR(run(outs, NOUT(outs), NULL,
                  "{\"q\": \"x\\\",\\\"admin\\\":true,\\\"y\\\":\\\"\", \"n\": 5}"),
              "{\"o\":{\"a\":\"x\\\",\\\"admin\\\":true,\\\"y\\\":\\\"\",\"n\":5,"
              "\"s\":\"n=5\",\"gone\":null}}");
    cJSON_Delete(tj);
}

/* respmap_parse_json_scanned reads what respmap_parse_json reads, printed the same (big
 * integers' digits kept, NUL forms refused, trailing bytes refused). */
static void scanned_same(const char *s, size_t len)
{
    struct jsontext_facts f;
    jsontext_scan(s, len, &f);
    cJSON *a = respmap_parse_json(s, len), *b = respmap_parse_json_scanned(s, len, &f);
    CHECK((a == NULL) == (b == NULL));
    if (a && b) {
        char *pa = cJSON_PrintUnformatted(a), *pb = cJSON_PrintUnformatted(b);
        CHECK_STR(pa, pb);
        cJSON_free(pa);
        cJSON_free(pb);
    }
    cJSON_Delete(a);
    cJSON_Delete(b);
}

#define SCANNED(lit) scanned_same(lit, sizeof lit - 1)

static void test_parse_scanned(void)
{
    SCANNED("{\"a\":1,\"b\":\"x\"}");
    SCANNED("{\"id\":12345678901234567890,\"n\":1}"); /* kept digits */
    SCANNED("{\"id\":1234567890123456789}");
    SCANNED("[9007199254740993]");
    SCANNED("{\"a\":\"x\\u0000y\"}"); /* refused */
    SCANNED("{\"a\":\"x\0y\"}");      /* refused */
    SCANNED("{\"a\":\"x\\\"y\"}");
    SCANNED("{\"a\":1} {\"b\":2}");
    SCANNED("not json");
    SCANNED("");
    cJSON *d = respmap_parse_json_scanned(
        "{\"id\":12345678901234567890}", 27,
        &(struct jsontext_facts){.plain = true, .ascii = true, .digit_word = true});
    char *p = cJSON_PrintUnformatted(d);
    CHECK_STR(p, "{\"id\":12345678901234567890}");
    cJSON_free(p);
    cJSON_Delete(d);
}

int main(void)
{
    RUN(test_parse_scanned());
    RUN(test_value_json_and_absent());
    RUN(test_root_stays_whole());
    RUN(test_named_and_unnamed());
    RUN(test_nested_properties());
    RUN(test_items());
    RUN(test_values_map());
    RUN(test_max_length());
    RUN(test_const_wins());
    RUN(test_typed_values());
    RUN(test_mock());
    return harness_report();
}
