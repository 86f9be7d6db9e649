/*
 * Unit tests for the fast tool result of a call whose output is the whole upstream document
 * (mcptool.c passthrough_result): the same result, read back, as the tree the general path
 * builds, for the texts it takes; the general path for the others.
 */
#include "harness.h"
#include "testrt.h"

#include <stdlib.h>
#include <string.h>

#include "core/mcptool.h"
#include "core/runtime.h"
#include "spec/config.h"

static const struct rt_call *tool(const struct runtime *rt, const char *name)
{
    for (size_t i = 0; i < rt->ncalls; i++)
        if (rt->calls[i].tool && str_eq(rt->calls[i].name, name))
            return &rt->calls[i];
    return NULL;
}

/* What the general path gives for a 2xx JSON object body: the text, the parsed object, the
 * status. */
static cJSON *expected(const char *body, long status)
{
    cJSON *r = mcptool_text_result(body, strlen(body), false);
    cJSON_AddItemToObject(r, "structuredContent", cJSON_Parse(body));
    cJSON *meta = cJSON_AddObjectToObject(r, "_meta");
    cJSON_AddNumberToObject(meta, "upstreamStatus", (double)status);
    return r;
}

/* The result for <body>, printed and read back. */
static cJSON *result(const struct rt_call *c, const char *body, long status, char **printed)
{
    cJSON *r = mcptool_upstream_result(c, status, NULL, body, strlen(body));
    *printed = cJSON_PrintUnformatted(r);
    cJSON_Delete(r);
    return cJSON_Parse(*printed);
}

static void same(const struct rt_call *c, const char *body)
{
    char *printed;
    cJSON *got = result(c, body, 200, &printed), *want = expected(body, 200);
    CHECK(got != NULL);
    CHECK(cJSON_Compare(got, want, true));
    if (!cJSON_Compare(got, want, true))
        fprintf(stderr, "  got: %s\n", printed);
    cJSON_free(printed);
    cJSON_Delete(got);
    cJSON_Delete(want);
}

static void test_passthrough(void)
{
    struct config cfg;
    CHECK(testrt_shipped_config(&cfg));
    struct runtime *rt = testrt_load_file("capabilities/cal-com-managed-users.yaml", &cfg);
    CHECK(rt != NULL);
    const struct rt_call *c = rt ? tool(rt, "get-managed-user") : NULL;
    CHECK(c && c->passthrough && !c->output_schema);
    if (!c) {
        runtime_free(rt);
        config_deinit(&cfg);
        return;
    }
    same(c, "{\"status\":\"success\",\"data\":{\"id\":42,\"name\":\"A \\\"quoted\\\" name\"}}");
    same(c,
         "{\n  \"pretty\": [1, 2.50, -3e2],\n  \"u\": \"caf\xc3\xa9 \\u00e9\",\n  \"n\": null\n}");
    same(c, "{\"big\": 12345678901234567890, \"t\": true, \"f\": false, \"e\": {}, \"a\": []}");
    same(c, "{\"ctl\":\"line\\nbreak\\ttab\\\\ \\/\"}");
    same(c, "{\"bad\":\"\xff\"}"); /* the text content is sanitized, the document is not */

    /* Compact, as cJSON prints the document it read; a big integer keeps its digits. */
    char *printed;
    cJSON *got = result(c, "{ \"x\" : 2.50, \"b\": 12345678901234567890 }", 200, &printed);
    CHECK(strstr(printed, "\"structuredContent\":{\"x\":2.5,\"b\":12345678901234567890}") != NULL);
    CHECK(strstr(printed, "\"_meta\":{\"upstreamStatus\":200}") != NULL);
    cJSON_free(printed);
    cJSON_Delete(got);

    /* Left to the general path: not an object, lenient JSON, not JSON, an error status. */
    got = result(c, "[1,2]", 200, &printed);
    CHECK(cJSON_GetObjectItem(got, "structuredContent") == NULL);
    cJSON_free(printed);
    cJSON_Delete(got);
    got = result(c, "{\"a\":01}", 200, &printed);
    CHECK_STR(printed, "{\"content\":[{\"type\":\"text\",\"text\":\"{\\\"a\\\":01}\"}],"
                       "\"structuredContent\":{\"a\":1},\"_meta\":{\"upstreamStatus\":200}}");
    cJSON_free(printed);
    cJSON_Delete(got);
    got = result(c, "{\"a\":", 200, &printed);
    CHECK(cJSON_GetObjectItem(got, "structuredContent") == NULL);
    cJSON_free(printed);
    cJSON_Delete(got);
    got = result(c, "{\"error\":\"no\"}", 404, &printed);
    CHECK(cJSON_IsTrue(cJSON_GetObjectItem(got, "isError")));
    CHECK(cJSON_GetArraySize(cJSON_GetObjectItem(got, "content")) == 2);
    cJSON_free(printed);
    cJSON_Delete(got);

    runtime_free(rt);
    config_deinit(&cfg);
}

int main(void)
{
    RUN(test_passthrough());
    return harness_report();
}
