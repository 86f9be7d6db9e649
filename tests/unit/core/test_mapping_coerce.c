/*
 * Unit tests of argument conversion in mapping: a JSON string given for a declared number,
 * integer, boolean or array is converted when its text is exactly one, and refused naming the
 * argument and the expected type otherwise; `items` types an array (load, schema, conversion).
 */
#include "harness.h"
#include "testrt.h"

#include <stdlib.h>
#include <string.h>

#include "core/mapping.h"
#include "core/mcptool.h"
#include "core/runtime.h"
#include "spec/checks.h"
#include "spec/config.h"
#include "spec/loader.h"

/* A tool that declares its inputParameters (converted once, by name, for every use) and one
 * whose schema comes from the consumed parameters (converted for the consumed type). */
static const char *doc_yaml =
    "naftiko: 1.0.0-alpha2\n"
    "capability:\n"
    "  consumes:\n"
    "    - type: http\n"
    "      namespace: api\n"
    "      baseUri: http://up.example\n"
    "      resources:\n"
    "        - name: things\n"
    "          path: /things\n"
    "          operations:\n"
    "            - name: put\n"
    "              method: POST\n"
    "              inputParameters:\n"
    "                - {name: take, in: query, type: number}\n"
    "                - {name: n, in: body, type: number}\n"
    "                - {name: k, in: body, type: integer}\n"
    "                - {name: on, in: body, type: boolean}\n"
    "                - {name: tags, in: body, type: array, items: {type: string}}\n"
    "                - {name: ids, in: body, type: array, items: [{type: integer}]}\n"
    "                - {name: any, in: body, type: array}\n"
    "                - {name: label, in: body, type: string}\n"
    "  exposes:\n"
    "    - type: mcp\n"
    "      namespace: tools-mcp\n"
    "      port: 9090\n"
    "      tools:\n"
    "        - name: derived\n"
    "          description: schema from the consumed parameters\n"
    "          call: api.put\n"
    "          with: {take: tools.take, n: tools.n, k: tools.k, on: tools.on, tags: tools.tags,\n"
    "                 ids: tools.ids, any: tools.any, label: tools.label}\n"
    "        - name: declared\n"
    "          description: declared inputParameters\n"
    "          inputParameters:\n"
    "            - {name: count, type: number, description: c, required: false}\n"
    "            - {name: codes, type: array, description: c, required: false,\n"
    "               items: {type: integer}}\n"
    "            - {name: emails, type: array, description: e, required: false}\n"
    "          call: api.put\n"
    "          with: {n: tools.count, ids: tools.codes, tags: tools.emails}\n";

static struct runtime *rt;

static const struct rt_call *tool(const char *name)
{
    for (size_t i = 0; i < rt->ncalls; i++)
        if (rt->calls[i].tool && str_eq(rt->calls[i].name, name))
            return &rt->calls[i];
    return NULL;
}

/* Build <name> with arguments <args_json>: the upstream body (and URL) on success, else NULL
 * with <err> filled. */
static int build(const char *name, const char *args_json, struct outreq *out,
                 struct mapping_error *err)
{
    cJSON *args = cJSON_Parse(args_json);
    CHECK(args != NULL);
    struct mapping_input in = {.mcp = true, .args = args};
    outreq_init(out, MAPPING_MAX_URL);
    int rc = mapping_build(rt, tool(name), &in, out, err);
    cJSON_Delete(args);
    return rc;
}

/* <args_json> must reach the upstream as body <want_body> (and URL <want_url> when given). */
static void converts(const char *name, const char *args_json, const char *want_url,
                     const char *want_body)
{
    struct outreq out;
    struct mapping_error err;
    int rc = build(name, args_json, &out, &err);
    CHECK(rc == 0);
    if (rc != 0)
        fprintf(stderr, "  %s: %s\n", args_json, err.detail);
    if (want_url)
        CHECK_STR(out.url.data, want_url);
    CHECK_STR(out.body, want_body);
    outreq_deinit(&out);
}

/* <args_json> must be refused naming <param> with exactly <detail>. */
static void refused(const char *name, const char *args_json, const char *param, const char *detail)
{
    struct outreq out;
    struct mapping_error err;
    CHECK(build(name, args_json, &out, &err) == -1);
    CHECK(err.status == 400);
    CHECK_STR(err.param, param);
    CHECK_STR(err.detail, detail);
    outreq_deinit(&out);
}

static void test_numbers(void)
{
    converts("derived", "{\"take\":\"42\",\"n\":\"4.5\",\"k\":\"-7\"}",
             "http://up.example/things?take=42", "{\"n\":4.5,\"k\":-7}");
    converts("derived", "{\"n\":\"1e3\"}", NULL, "{\"n\":1000}");
    /* Integers past 2^53 keep their digits. */
    converts("derived", "{\"k\":\"12345678901234567890\"}", NULL, "{\"k\":12345678901234567890}");
    /* Real numbers stay as they are. */
    converts("derived", "{\"n\":42}", NULL, "{\"n\":42}");
    refused("derived", "{\"n\":\"42abc\"}", "n",
            "argument 'n' must be a number (got a string that is not one)");
    refused("derived", "{\"n\":\" 42\"}", "n",
            "argument 'n' must be a number (got a string that is not one)");
    refused("derived", "{\"n\":\"42 \"}", "n",
            "argument 'n' must be a number (got a string that is not one)");
    refused("derived", "{\"n\":\"0x10\"}", "n",
            "argument 'n' must be a number (got a string that is not one)");
    refused("derived", "{\"n\":\"\"}", "n",
            "argument 'n' must be a number (got a string that is not one)");
    refused("derived", "{\"take\":\"NaN\"}", "take",
            "argument 'take' must be a number (got a string that is not one)");
    refused("derived", "{\"k\":\"4.2\"}", "k",
            "argument 'k' must be an integer (got a string that is not one)");
    refused("derived", "{\"k\":\"1e3\"}", "k",
            "argument 'k' must be an integer (got a string that is not one)");
    /* Another JSON type is not converted: the type check says what was expected. */
    refused("derived", "{\"n\":true}", "n", "parameter 'n' must be a number");
}

static void test_booleans(void)
{
    converts("derived", "{\"on\":\"true\"}", NULL, "{\"on\":true}");
    converts("derived", "{\"on\":\"false\"}", NULL, "{\"on\":false}");
    refused("derived", "{\"on\":\"yes\"}", "on",
            "argument 'on' must be a boolean (got a string that is neither true nor false)");
    refused("derived", "{\"on\":\"True\"}", "on",
            "argument 'on' must be a boolean (got a string that is neither true nor false)");
}

static void test_arrays(void)
{
    converts("derived", "{\"tags\":\"a, b,c\"}", NULL, "{\"tags\":[\"a\",\"b\",\"c\"]}");
    converts("derived", "{\"tags\":\"solo\"}", NULL, "{\"tags\":[\"solo\"]}");
    converts("derived", "{\"tags\":\"  \"}", NULL, "{\"tags\":[]}");
    converts("derived", "{\"any\":\"x,2\"}", NULL, "{\"any\":[\"x\",\"2\"]}");
    converts("derived", "{\"ids\":\"1, 2\"}", NULL, "{\"ids\":[1,2]}");
    /* A JSON array of a typed array converts its string items, keeps the rest. */
    converts("derived", "{\"ids\":[\"3\",4]}", NULL, "{\"ids\":[3,4]}");
    converts("derived", "{\"ids\":[5,6]}", NULL, "{\"ids\":[5,6]}");
    refused("derived", "{\"tags\":\"a,,b\"}", "tags",
            "argument 'tags' must be an array (got a comma-separated string with an empty item 2)");
    refused("derived", "{\"tags\":\"a,\"}", "tags",
            "argument 'tags' must be an array (got a comma-separated string with an empty item 2)");
    refused("derived", "{\"ids\":\"1,x\"}", "ids",
            "argument 'ids' must be an array of integers (item 2 of the comma-separated string, "
            "'x', is not one)");
    refused("derived", "{\"ids\":[1,\"2.5\"]}", "ids",
            "argument 'ids' must be an array of integers (item 2 is not one)");
    refused("derived", "{\"ids\":[1,true]}", "ids",
            "argument 'ids' must be an array of integers (item 2 is not one)");
    /* Strings are not objects: an object parameter is never converted. */
    refused("derived", "{\"tags\":{\"a\":1}}", "tags", "parameter 'tags' must be an array");
}

static void test_declared(void)
{
    /* Converted once under the argument's name, checked against the declared type. */
    converts("declared", "{\"count\":\"42\",\"codes\":\"7,8\",\"emails\":\"a@x, b@x\"}", NULL,
             "{\"n\":42,\"tags\":[\"a@x\",\"b@x\"],\"ids\":[7,8]}");
    refused("declared", "{\"count\":\"forty\"}", "count",
            "argument 'count' must be a number (got a string that is not one)");
    refused("declared", "{\"codes\":\"7,x\"}", "codes",
            "argument 'codes' must be an array of integers (item 2 of the comma-separated "
            "string, 'x', is not one)");
    /* A string parameter takes any string as it is. */
    converts("derived", "{\"label\":\"42\"}", NULL, "{\"label\":\"42\"}");

    /* The scope of an orchestration sees the converted values too. */
    cJSON *args = cJSON_Parse("{\"count\":\"42\",\"codes\":\"7\"}");
    struct mapping_input in = {.mcp = true, .args = args};
    cJSON *scope = mapping_scope(tool("declared"), &in);
    char *s = cJSON_PrintUnformatted(scope);
    CHECK_STR(s, "{\"count\":42,\"codes\":[7]}");
    cJSON_free(s);
    cJSON_Delete(scope);
    cJSON_Delete(args);
}

static void test_rest_body(void)
{
    /* REST JSON body fields are JSON too: the same conversion. */
    static const char *yaml =
        "naftiko: 1.0.0-alpha2\n"
        "capability:\n"
        "  consumes:\n"
        "    - type: http\n"
        "      namespace: api\n"
        "      baseUri: http://up.example\n"
        "      resources:\n"
        "        - name: things\n"
        "          path: /things\n"
        "          operations:\n"
        "            - name: put\n"
        "              method: POST\n"
        "              inputParameters:\n"
        "                - {name: n, in: body, type: number}\n"
        "                - {name: tags, in: body, type: array, items: {type: string}}\n"
        "  exposes:\n"
        "    - type: rest\n"
        "      namespace: api-rest\n"
        "      port: 8080\n"
        "      resources:\n"
        "        - path: /things\n"
        "          name: things\n"
        "          operations:\n"
        "            - method: POST\n"
        "              call: api.put\n"
        "              with: {n: rest.n, tags: rest.tags}\n";
    struct config cfg;
    config_defaults(&cfg);
    struct runtime *r = testrt_load("rest.yaml", yaml, &cfg);
    CHECK(r != NULL);
    if (!r) {
        config_deinit(&cfg);
        return;
    }
    const struct rt_call *call = NULL;
    for (size_t i = 0; i < r->ncalls; i++)
        if (!r->calls[i].tool)
            call = &r->calls[i];
    cJSON *body = cJSON_Parse("{\"n\":\"42\",\"tags\":\"a,b\"}");
    struct mapping_input in = {.body = body};
    struct outreq out;
    struct mapping_error err;
    outreq_init(&out, MAPPING_MAX_URL);
    CHECK(mapping_build(r, call, &in, &out, &err) == 0);
    CHECK_STR(out.body, "{\"n\":42,\"tags\":[\"a\",\"b\"]}");
    outreq_deinit(&out);
    cJSON_Delete(body);
    body = cJSON_Parse("{\"n\":\"x\"}");
    in.body = body;
    outreq_init(&out, MAPPING_MAX_URL);
    CHECK(mapping_build(r, call, &in, &out, &err) == -1);
    CHECK_STR(err.detail, "parameter 'n' must be a number (got a string that is not one)");
    outreq_deinit(&out);
    cJSON_Delete(body);
    runtime_free(r);
    config_deinit(&cfg);
}

static void test_schema_items(void)
{
    cJSON *s = mcptool_input_schema(tool("derived"));
    char *t = cJSON_PrintUnformatted(cJSON_GetObjectItem(s, "properties"));
    CHECK(strstr(t, "\"tags\":{\"type\":\"array\",\"items\":{\"type\":\"string\"}}") != NULL);
    CHECK(strstr(t, "\"ids\":{\"type\":\"array\",\"items\":{\"type\":\"integer\"}}") != NULL);
    /* No declared item type: no `items` at all, never an empty one. */
    CHECK(strstr(t, "\"any\":{\"type\":\"array\"}") != NULL);
    cJSON_free(t);
    cJSON_Delete(s);
    s = mcptool_input_schema(tool("declared"));
    t = cJSON_PrintUnformatted(cJSON_GetObjectItem(s, "properties"));
    CHECK(strstr(t, "\"codes\":{\"type\":\"array\",\"items\":{\"type\":\"integer\"}") != NULL);
    /* Undeclared on the tool: the item type of the consumed parameter it feeds. */
    CHECK(strstr(t, "\"emails\":{\"type\":\"array\",\"items\":{\"type\":\"string\"}") != NULL);
    cJSON_free(t);
    cJSON_Delete(s);
}

/* <param_yaml> (one consumed parameter) must fail to load with <want>. */
static void bad_items(const char *param_yaml, const char *want)
{
    char doc[1024];
    snprintf(doc, sizeof doc,
             "naftiko: 1.0.0-alpha2\n"
             "capability:\n"
             "  consumes:\n"
             "    - namespace: api\n"
             "      baseUri: http://up.example\n"
             "      resources:\n"
             "        - name: r\n"
             "          path: /r\n"
             "          operations:\n"
             "            - name: get\n"
             "              method: GET\n"
             "              inputParameters:\n"
             "%s",
             param_yaml);
    struct diag d;
    diag_init(&d);
    struct model *m = model_new();
    int rc = loader_load_buffer(m, "f.yaml", doc, strlen(doc), &d);
    if (rc == 0)
        rc = checks_validate(m, &d);
    CHECK(rc < 0);
    CHECK(diag_contains(&d, want));
    if (!diag_contains(&d, want)) {
        fprintf(stderr, "want: %s\n", want);
        diag_print(&d, stderr);
    }
    diag_deinit(&d);
    model_free(m);
}

static void test_load_items(void)
{
    bad_items(
        "                - {name: q, in: query, type: string, items: {type: string}}\n",
        "f.yaml:13:61: error: 'items' describes the items of an array, but parameter 'q' is of "
        "type string");
    bad_items(
        "                - {name: q, in: query, type: array, items: {type: strng}}\n",
        "f.yaml:13:67: error: unknown item type 'strng' for 'items' (did you mean 'string'?): "
        "expected string, number, integer, boolean or object");
    bad_items("                - {name: q, in: query, type: array, items: {type: array}}\n",
              "unknown item type 'array' for 'items': expected string, number, integer, boolean "
              "or object");
    bad_items("                - {name: q, in: query, type: array, items: string}\n",
              "f.yaml:13:60: error: expected a mapping such as {type: string} for 'items', got a "
              "scalar");
    bad_items("                - {name: q, in: query, type: array, items: {}}\n",
              "missing required key 'type' in 'items'");
    bad_items("                - {name: q, in: query, type: array, items: {type: string, "
              "enum: [a]}}\n",
              "unknown key 'enum' in parameter items");
}

int main(void)
{
    struct config cfg;
    config_defaults(&cfg);
    rt = testrt_load("coerce.yaml", doc_yaml, &cfg);
    CHECK(rt != NULL);
    if (rt) {
        RUN(test_numbers());
        RUN(test_booleans());
        RUN(test_arrays());
        RUN(test_declared());
        RUN(test_schema_items());
        runtime_free(rt);
    }
    RUN(test_rest_body());
    RUN(test_load_items());
    config_deinit(&cfg);
    return harness_report();
}
