/* Unit tests for mcptool: the initialize result, tools/call params, tool input schemas and tool
 * results. */
#include "harness.h"
#include "testrt.h"

#include <stdlib.h>
#include <string.h>

#include "core/mcptool.h"
#include "core/runtime.h"
#include "spec/config.h"
#include "spec/loader.h"

/* Serialise <j> (deleted) for comparisons. */
static char *print(cJSON *j)
{
    char *s = cJSON_PrintUnformatted(j);
    cJSON_Delete(j);
    return s;
}

static void check_json(cJSON *j, const char *want)
{
    char *s = print(j);
    CHECK_STR(s, want);
    cJSON_free(s);
}

static void test_initialize_result(void)
{
    check_json(mcptool_initialize_result("2025-06-18", "Use these tools.", 0),
               "{\"protocolVersion\":\"2025-06-18\",\"capabilities\":{\"tools\":{\"listChanged\":"
               "false}},\"serverInfo\":{\"name\":\"capproxy\",\"version\":\"" CAPPROXY_VERSION
               "\"},\"instructions\":\"Use these tools.\"}");
    cJSON *r = mcptool_initialize_result("2025-11-25", NULL, 0);
    CHECK(cJSON_GetObjectItem(r, "instructions") == NULL);
    cJSON_Delete(r);
}

static void test_call_params(void)
{
    const char *name;
    const cJSON *args;
    cJSON *p = cJSON_Parse("{\"name\":\"t\",\"arguments\":{\"a\":1}}");
    CHECK(mcptool_call_params(p, &name, &args) == NULL);
    CHECK_STR(name, "t");
    CHECK(cJSON_IsObject(args));
    cJSON_Delete(p);
    p = cJSON_Parse("{\"name\":\"t\",\"arguments\":null}");
    CHECK(mcptool_call_params(p, &name, &args) == NULL && args == NULL);
    cJSON_Delete(p);
    p = cJSON_Parse("{\"name\":\"t\"}");
    CHECK(mcptool_call_params(p, &name, &args) == NULL && args == NULL);
    cJSON_Delete(p);
    p = cJSON_Parse("{\"name\":\"t\",\"arguments\":[1]}");
    CHECK(mcptool_call_params(p, &name, &args) != NULL);
    cJSON_Delete(p);
    p = cJSON_Parse("{\"name\":3}");
    CHECK(mcptool_call_params(p, &name, &args) != NULL);
    cJSON_Delete(p);
    CHECK(mcptool_call_params(NULL, &name, &args) != NULL);
}

static struct runtime *load(const char *name, const char *yaml, struct config *cfg)
{
    return testrt_load(name, yaml, cfg);
}

static const struct rt_call *tool(const struct runtime *rt, const char *name)
{
    for (size_t i = 0; i < rt->ncalls; i++)
        if (rt->calls[i].tool && str_eq(rt->calls[i].name, name))
            return &rt->calls[i];
    return NULL;
}

static char *schema_text(const struct rt_call *c)
{
    return c ? print(mcptool_input_schema(c)) : NULL;
}

static void check_schema(const struct runtime *rt, const char *name, const char *want)
{
    char *s = schema_text(tool(rt, name));
    CHECK_STR(s, want);
    cJSON_free(s);
}

static void test_seed_schemas(void)
{
    struct config cfg;
    CHECK(testrt_shipped_config(&cfg));
    struct runtime *rt = testrt_load_file("capabilities/cal-com-managed-users.yaml", &cfg);
    CHECK(rt != NULL);
    if (!rt) {
        config_deinit(&cfg);
        return;
    }
    /* The secret header is a credential: never an argument. */
    check_schema(rt, "get-all-managed-users",
                 "{\"type\":\"object\",\"properties\":{\"clientId\":{\"type\":\"string\"},"
                 "\"limit\":{\"type\":\"number\",\"description\":\"The number of items to "
                 "return\"},\"offset\":{\"type\":\"number\",\"description\":\"The number of items "
                 "to skip\"},\"emails\":{\"type\":\"array\",\"items\":{\"type\":\"string\"},"
                 "\"description\":\"Filter "
                 "managed users by email. If you want to filter by multiple emails, separate them "
                 "with a comma.\"}},\"required\":[\"clientId\"]}");
    /* The opaque body names the fields the API needs (from its description). */
    char *cm = schema_text(tool(rt, "create-managed-user"));
    CHECK(cm &&
          strstr(cm, "\"body\":{\"type\":\"object\",\"description\":\"Request body (JSON), "
                     "a CreateManagedUserInput object. Required fields: email (string") &&
          strstr(cm, "name (string, used in emails)") &&
          strstr(cm, "\"required\":[\"clientId\",\"body\"]}"));
    cJSON_free(cm);
    check_schema(rt, "force-refresh-tokens",
                 "{\"type\":\"object\",\"properties\":{\"userId\":{\"type\":\"number\"},"
                 "\"clientId\":{\"type\":\"string\"}},\"required\":[\"userId\",\"clientId\"]}");

    const struct rt_call *del = tool(rt, "delete-managed-user");
    char *t = print(mcptool_tool(del));
    CHECK(strstr(t, "\"annotations\":{\"readOnlyHint\":false,\"destructiveHint\":true,"
                    "\"idempotentHint\":true}") != NULL);
    CHECK(strstr(t, "openWorldHint") == NULL); /* not set in the document */
    CHECK(strstr(t, "\"title\"") == NULL);     /* no label */
    CHECK(strstr(t, "x-cal-secret-key") == NULL);
    cJSON_free(t);

    /* The list holds every tool of the endpoint, in order. */
    const struct rt_mcp_endpoint *ep = NULL;
    for (size_t i = 0; i < rt->nlisteners; i++)
        for (size_t j = 0; j < rt->listeners[i].nendpoints; j++)
            if (str_eq(rt->listeners[i].endpoints[j].path, "/mcp"))
                ep = &rt->listeners[i].endpoints[j];
    CHECK(ep && ep->ntools == 7);
    if (ep) {
        char *list = mcptool_tools_list(ep->tools, ep->ntools);
        cJSON *j = cJSON_Parse(list);
        CHECK(cJSON_GetArraySize(cJSON_GetObjectItem(j, "tools")) == 7);
        CHECK_STR(
            cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(j, "tools"), 0), "name")
                ->valuestring,
            "get-all-managed-users");
        cJSON_Delete(j);
        free(list);
    }
    runtime_free(rt);
    config_deinit(&cfg);
}

static const char *schema_yaml =
    "naftiko: 1.0.0-alpha2\n"
    "capability:\n"
    "  consumes:\n"
    "    - type: http\n"
    "      namespace: api\n"
    "      baseUri: http://up.example\n"
    "      inputParameters:\n"
    "        - {name: tenant, in: header, type: string, description: Tenant id}\n"
    "        - {name: region, in: query, value: eu}\n"
    "      resources:\n"
    "        - name: things\n"
    "          path: /things/{id}/{kind}\n"
    "          operations:\n"
    "            - name: get\n"
    "              method: GET\n"
    "              inputParameters:\n"
    "                - {name: id, in: path, type: integer}\n"
    "                - {name: verbose, in: query, type: boolean}\n"
    "                - {name: filter, in: query}\n"
    "                - {name: Authorization, in: header, required: true}\n"
    "                - {name: x-api-token, in: header}\n"
    "                - {name: x-trace, in: header}\n"
    "                - {name: HOME, in: environment}\n"
    "                - {name: count, in: body, type: integer, required: true}\n"
    "  exposes:\n"
    "    - type: mcp\n"
    "      namespace: api-mcp\n"
    "      port: 9090\n"
    "      tools:\n"
    "        - name: by-with\n"
    "          description: Get a thing\n"
    "          label: Get thing\n"
    "          hints: {openWorld: false}\n"
    "          call: api.get\n"
    "          with:\n"
    "            id: tools.thing_id\n"
    "            x-trace: 'trace-{{tools.traceId}}-{{api-mcp.span}}'\n"
    "            filter: fixed\n"
    "            x-api-token: tools.token\n"
    "            count: tools.n\n"
    "        - name: declared\n"
    "          call: api.get\n"
    "          inputParameters:\n"
    "            - {name: thing, type: string, required: true, description: The thing}\n"
    "            - {name: size, type: integer}\n"
    "            - {name: anything}\n"
    "            - {name: password, type: string}\n"
    "            - {name: Authorization, type: string}\n"
    "          with: {id: tools.thing}\n"
    "        - name: bare\n"
    "          call: api.get\n";

static void test_schemas(void)
{
    struct config cfg;
    config_defaults(&cfg);
    struct runtime *rt = load("schema.yaml", schema_yaml, &cfg);
    CHECK(rt != NULL);
    if (!rt) {
        config_deinit(&cfg);
        return;
    }
    /* `with` refs are renamed and typed by the parameter they feed; templates add their
     * placeholders; literals and fixed values are not arguments; credentials (Authorization,
     * *token*) never are; uncovered parameters (verbose, tenant) and the undeclared path
     * placeholder (kind) are. */
    check_schema(rt, "by-with",
                 "{\"type\":\"object\",\"properties\":{\"thing_id\":{\"type\":\"integer\"},"
                 "\"traceId\":{},\"span\":{},\"n\":{\"type\":\"integer\"},\"verbose\":{\"type\":"
                 "\"boolean\"},\"tenant\":{\"type\":\"string\",\"description\":\"Tenant id\"},"
                 "\"kind\":{\"type\":\"string\"}},\"required\":[\"thing_id\",\"n\",\"kind\"]}");
    /* Declared inputParameters are the schema, minus credential headers; `any` has no type. A
     * declared argument that only looks secret (a webhook's `secret`, here `password`) is an
     * ordinary argument: only names that feed credential headers are left out. */
    check_schema(rt, "declared",
                 "{\"type\":\"object\",\"properties\":{\"thing\":{\"type\":\"string\","
                 "\"description\":\"The thing\"},\"size\":{\"type\":\"integer\"},\"anything\":{},"
                 "\"password\":{\"type\":\"string\"}},\"required\":[\"thing\"]}");
    check_schema(rt, "bare",
                 "{\"type\":\"object\",\"properties\":{\"id\":{\"type\":\"integer\"},\"verbose\":"
                 "{\"type\":\"boolean\"},\"filter\":{},\"x-trace\":{},\"count\":{\"type\":"
                 "\"integer\"},\"tenant\":{\"type\":\"string\",\"description\":\"Tenant id\"},"
                 "\"kind\":{\"type\":\"string\"}},\"required\":[\"id\",\"count\",\"kind\"]}");

    char *t = print(mcptool_tool(tool(rt, "by-with")));
    CHECK(strstr(t, "\"name\":\"by-with\",\"title\":\"Get thing\",\"description\":\"Get a "
                    "thing\"") != NULL);
    CHECK(strstr(t, "\"annotations\":{\"openWorldHint\":false}") != NULL);
    cJSON_free(t);
    t = print(mcptool_tool(tool(rt, "bare")));
    CHECK(strstr(t, "annotations") == NULL);
    CHECK(strstr(t, "\"title\"") == NULL);
    cJSON_free(t);

    /* Tool results. */
    const struct rt_call *c = tool(rt, "bare");
    const char *obj = "{\"a\": 12345678901234567890, \"b\": [1]}";
    /* Integers beyond 2^53 keep the upstream's digits in structuredContent. */
    check_json(mcptool_upstream_result(c, 200, NULL, obj, strlen(obj)),
               "{\"content\":[{\"type\":\"text\",\"text\":\"{\\\"a\\\": 12345678901234567890, "
               "\\\"b\\\": [1]}\"}],\"structuredContent\":{\"a\":12345678901234567890,\"b\":[1]},"
               "\"_meta\":{\"upstreamStatus\":200}}");
    const char *deep =
        "{\"x\":[1.5,\"12345678901234567891\",{\"y\":-9007199254740993}],\"z\":1e300}";
    check_json(
        mcptool_upstream_result(c, 200, NULL, deep, strlen(deep)),
        "{\"content\":[{\"type\":\"text\",\"text\":\"{\\\"x\\\":[1.5,\\\"12345678901234567891\\\","
        "{\\\"y\\\":-9007199254740993}],\\\"z\\\":1e300}\"}],"
        "\"structuredContent\":{\"x\":[1.5,\"12345678901234567891\",{\"y\":-9007199254740993}],"
        "\"z\":1e+300},\"_meta\":{\"upstreamStatus\":200}}");
    check_json(mcptool_upstream_result(c, 200, NULL, "[1,2]", 5),
               "{\"content\":[{\"type\":\"text\",\"text\":\"[1,2]\"}],"
               "\"_meta\":{\"upstreamStatus\":200}}");
    check_json(mcptool_upstream_result(c, 200, NULL, "plain text", 10),
               "{\"content\":[{\"type\":\"text\",\"text\":\"plain text\"}],"
               "\"_meta\":{\"upstreamStatus\":200}}");
    check_json(mcptool_upstream_result(c, 204, NULL, "", 0),
               "{\"content\":[{\"type\":\"text\",\"text\":\"\"}],"
               "\"_meta\":{\"upstreamStatus\":204}}");
    const char *e404 = "{\"error\":\"not found\"}";
    check_json(mcptool_upstream_result(c, 404, NULL, e404, strlen(e404)),
               "{\"content\":[{\"type\":\"text\",\"text\":\"{\\\"error\\\":\\\"not found\\\"}\"},"
               "{\"type\":\"text\",\"text\":\"upstream answered 404 Not Found\"}],"
               "\"isError\":true,\"_meta\":{\"upstreamStatus\":404}}");
    check_json(mcptool_upstream_result(c, 500, NULL, "", 0),
               "{\"content\":[{\"type\":\"text\",\"text\":\"upstream answered 500 Internal Server "
               "Error\"}],\"isError\":true,\"_meta\":{\"upstreamStatus\":500}}");
    /* A redirect is passed on: the result says where it points, and is not an error. */
    check_json(
        mcptool_upstream_result(c, 301, "https://example.test/done?x=1", "Moved", 5),
        "{\"content\":[{\"type\":\"text\",\"text\":\"Moved\"},{\"type\":\"text\",\"text\":"
        "\"upstream answered 301 Moved Permanently; Location: https://example.test/done?x=1\"}],"
        "\"_meta\":{\"upstreamStatus\":301,\"upstreamLocation\":\"https://example.test/"
        "done?x=1\"}}");
    runtime_free(rt);
    config_deinit(&cfg);
}

static const char *scan_yaml = "naftiko: 1.0.0-alpha2\n"
                               "capability:\n"
                               "  consumes:\n"
                               "    - type: http\n"
                               "      namespace: api\n"
                               "      baseUri: http://up.example\n"
                               "      resources:\n"
                               "        - name: things\n"
                               "          path: /things\n"
                               "          operations:\n"
                               "            - name: get\n"
                               "              method: GET\n"
                               "              inputParameters:\n"
                               "                - {name: x-a, in: header}\n"
                               "                - {name: x-b, in: header}\n"
                               "                - {name: x-c, in: header}\n"
                               "                - {name: x-d, in: header}\n"
                               "                - {name: x-e, in: header}\n"
                               "  exposes:\n"
                               "    - type: mcp\n"
                               "      namespace: api-mcp\n"
                               "      port: 9090\n"
                               "      tools:\n"
                               "        - name: scan\n"
                               "          call: api.get\n"
                               "          with:\n"
                               "            x-a: '{{{tools.a}}}'\n"
                               "            x-b: '{{\ttools.b\t}}'\n"
                               "            x-c: '{{x {{tools.c}}'\n"
                               "            x-d: '{{tools.d'\n"
                               "            x-e: '{{rest.e}}'\n";

static bool has_input(const struct rt_call *c, const char *name)
{
    for (size_t i = 0; c && i < c->ninputs; i++)
        if (str_eq(c->inputs[i], name))
            return true;
    return false;
}

/* A `with` template's arguments are the placeholders rendering reads (the last "{{" before the
 * first "}}" opens one, tabs are trimmed like spaces): {{{tools.a}}} renders "{" + a + "}", so
 * `a` is an argument; an unclosed "{{tools.d" is text. The schema lists exactly the tools. and
 * namespace placeholders among the call's inputs (rest.e is read, but not advertised). */
static void test_schema_placeholders(void)
{
    struct config cfg;
    config_defaults(&cfg);
    struct runtime *rt = load("scan.yaml", scan_yaml, &cfg);
    CHECK(rt != NULL);
    if (!rt) {
        config_deinit(&cfg);
        return;
    }
    check_schema(rt, "scan", "{\"type\":\"object\",\"properties\":{\"a\":{},\"b\":{},\"c\":{}}}");
    const struct rt_call *c = tool(rt, "scan");
    CHECK(has_input(c, "a") && has_input(c, "b") && has_input(c, "c") && has_input(c, "e"));
    CHECK(!has_input(c, "d") && !has_input(c, "tools.d"));
    runtime_free(rt);
    config_deinit(&cfg);
}

int main(void)
{
    RUN(test_initialize_result());
    RUN(test_call_params());
    RUN(test_seed_schemas());
    RUN(test_schemas());
    RUN(test_schema_placeholders());
    return harness_report();
}
