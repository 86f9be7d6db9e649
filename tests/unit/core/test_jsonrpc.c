/* Unit tests for jsonrpc: parsing and checking messages, replies, UTF-8 sanitising. */
#include "harness.h"

#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "core/jsonrpc.h"

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

static int parse_code(const char *text)
{
    struct jsonrpc_msg m;
    cJSON *err = NULL;
    if (jsonrpc_parse(text, strlen(text), &m, &err) == 0) {
        jsonrpc_msg_free(&m);
        return 0;
    }
    const cJSON *e = cJSON_GetObjectItem(err, "error");
    int code = cJSON_GetObjectItem(e, "code")->valueint;
    cJSON_Delete(err);
    return code;
}

static void test_jsonrpc_parse(void)
{
    struct jsonrpc_msg m;
    cJSON *err = NULL;
    const char *req =
        "{\"jsonrpc\":\"2.0\",\"id\":\"abc\",\"method\":\"tools/list\",\"params\":{}}";
    CHECK(jsonrpc_parse(req, strlen(req), &m, &err) == 0);
    CHECK(m.kind == JSONRPC_REQUEST);
    CHECK_STR(m.method, "tools/list");
    CHECK(cJSON_IsString(m.id) && strcmp(m.id->valuestring, "abc") == 0);
    CHECK(cJSON_IsObject(m.params));
    check_json(jsonrpc_result(m.id, cJSON_CreateObject()),
               "{\"jsonrpc\":\"2.0\",\"id\":\"abc\",\"result\":{}}");
    jsonrpc_msg_free(&m);
    jsonrpc_msg_free(&m); /* idempotent */

    /* A numeric id is echoed exactly, fractions and large values included. */
    const char *num = "{\"jsonrpc\":\"2.0\",\"id\":9007199254740991,\"method\":\"ping\"}";
    CHECK(jsonrpc_parse(num, strlen(num), &m, &err) == 0);
    check_json(jsonrpc_result(m.id, NULL),
               "{\"jsonrpc\":\"2.0\",\"id\":9007199254740991,\"result\":{}}");
    jsonrpc_msg_free(&m);
    const char *neg = "{\"jsonrpc\":\"2.0\",\"id\":-7,\"method\":\"ping\"}";
    CHECK(jsonrpc_parse(neg, strlen(neg), &m, &err) == 0);
    check_json(jsonrpc_error(m.id, JSONRPC_METHOD_NOT_FOUND, "Method not found"),
               "{\"jsonrpc\":\"2.0\",\"id\":-7,\"error\":{\"code\":-32601,\"message\":\"Method "
               "not found\"}}");
    char *text = jsonrpc_result_text(m.id, "{\"tools\":[]}");
    CHECK_STR(text, "{\"jsonrpc\":\"2.0\",\"id\":-7,\"result\":{\"tools\":[]}}");
    free(text);
    jsonrpc_msg_free(&m);

    /* Ids a double cannot hold are echoed exactly as written, or refused; a reply is always
     * valid JSON (1e400 used to give "id":inf). */
    static const char *const echoed[] = {"12345678901234567890", "-0", "1.5", "1E+2",
                                         "-12345678901234567890123"};
    for (size_t i = 0; i < UTIL_ARRAY_LEN(echoed); i++) {
        char in[128], want[160];
        snprintf(in, sizeof in, "{\"jsonrpc\":\"2.0\",\"id\":%s,\"method\":\"ping\"}", echoed[i]);
        snprintf(want, sizeof want, "{\"jsonrpc\":\"2.0\",\"id\":%s,\"result\":{}}", echoed[i]);
        CHECK(jsonrpc_parse(in, strlen(in), &m, &err) == 0);
        check_json(jsonrpc_result(m.id, NULL), want);
        /* a copy (kept while the call is upstream) echoes the same text */
        cJSON *copy = cJSON_Duplicate(m.id, 1);
        text = jsonrpc_result_text(copy, "{}");
        CHECK_STR(text, want);
        free(text);
        CHECK(cJSON_Compare(copy, m.id, true));
        cJSON_Delete(copy);
        jsonrpc_msg_free(&m);
    }
    static const char *const refused[] = {"1e400", "-1e400", "01", "1."};
    for (size_t i = 0; i < UTIL_ARRAY_LEN(refused); i++) {
        char in[128];
        snprintf(in, sizeof in, "{\"jsonrpc\":\"2.0\",\"id\":%s,\"method\":\"ping\"}", refused[i]);
        CHECK(jsonrpc_parse(in, strlen(in), &m, &err) < 0);
        check_json(err,
                   "{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":-32600,\"message\":"
                   "\"Invalid Request: \\\"id\\\" must be a string or a finite JSON number\"}}");
    }
    const char *uni =
        "{\"jsonrpc\":\"2.0\",\"id\":\"\\u00e9\\ud83d\\ude00\\\"x\",\"method\":\"ping\"}";
    CHECK(jsonrpc_parse(uni, strlen(uni), &m, &err) == 0);
    check_json(jsonrpc_result(m.id, NULL),
               "{\"jsonrpc\":\"2.0\",\"id\":\"\xc3\xa9\xf0\x9f\x98\x80\\\"x\",\"result\":{}}");
    jsonrpc_msg_free(&m);
    /* Bytes that are not UTF-8 are not JSON: a parse error, wherever they are. */
    CHECK(parse_code("{\"jsonrpc\":\"2.0\",\"id\":\"\xff\",\"method\":\"ping\"}") ==
          JSONRPC_PARSE_ERROR);
    CHECK(
        parse_code(
            "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\",\"params\":{\"a\":\"\xc0\xaf\"}}") ==
        JSONRPC_PARSE_ERROR);
    CHECK(parse_code("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\",\"params\":{\"a\":"
                     "\"\xed\xa0\x80\"}}") == JSONRPC_PARSE_ERROR);

    const char *note = "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}";
    CHECK(jsonrpc_parse(note, strlen(note), &m, &err) == 0);
    CHECK(m.kind == JSONRPC_NOTIFICATION && m.id == NULL && m.params == NULL);
    jsonrpc_msg_free(&m);

    const char *resp = "{\"jsonrpc\":\"2.0\",\"id\":3,\"result\":{\"roots\":[]}}";
    CHECK(jsonrpc_parse(resp, strlen(resp), &m, &err) == 0);
    CHECK(m.kind == JSONRPC_RESPONSE && m.method == NULL);
    jsonrpc_msg_free(&m);
    CHECK(parse_code(
              "{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":1,\"message\":\"x\"}}") == 0);

    /* A raw NUL byte would cut the tool name at it (cJSON reads it inside strings): refused
     * like the \u0000 escape. Found by tests/fuzz/fuzz_jsonpath. */
    static const char raw_nul[] = "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\","
                                  "\"params\":{\"name\":\"get-managed-user\0evil\"}}";
    CHECK(jsonrpc_parse(raw_nul, sizeof raw_nul - 1, &m, &err) == -1);
    CHECK(err && cJSON_GetObjectItem(cJSON_GetObjectItem(err, "error"), "code")->valueint ==
                     JSONRPC_PARSE_ERROR);
    cJSON_Delete(err);
    err = NULL;

    /* Not parseable JSON, and not a JSON-RPC 2.0 message. */
    CHECK(parse_code("{\"jsonrpc\":\"2.0\",") == JSONRPC_PARSE_ERROR);
    CHECK(parse_code("") == JSONRPC_PARSE_ERROR);
    CHECK(parse_code("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"} x") ==
          JSONRPC_PARSE_ERROR);
    CHECK(parse_code("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}{}") ==
          JSONRPC_PARSE_ERROR);
    CHECK(parse_code(" {\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}\r\n ") == 0);
    CHECK(parse_code("[{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}]") ==
          JSONRPC_INVALID_REQUEST);
    CHECK(parse_code("[]") == JSONRPC_INVALID_REQUEST);
    CHECK(parse_code("42") == JSONRPC_INVALID_REQUEST);
    CHECK(parse_code("{\"id\":1,\"method\":\"ping\"}") == JSONRPC_INVALID_REQUEST);
    CHECK(parse_code("{\"jsonrpc\":\"1.0\",\"id\":1,\"method\":\"ping\"}") ==
          JSONRPC_INVALID_REQUEST);
    CHECK(parse_code("{\"jsonrpc\":\"2.0\",\"id\":null,\"method\":\"ping\"}") ==
          JSONRPC_INVALID_REQUEST);
    CHECK(parse_code("{\"jsonrpc\":\"2.0\",\"id\":{},\"method\":\"ping\"}") ==
          JSONRPC_INVALID_REQUEST);
    CHECK(parse_code("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":5}") == JSONRPC_INVALID_REQUEST);
    CHECK(parse_code("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"\"}") == JSONRPC_INVALID_REQUEST);
    CHECK(parse_code("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"x\",\"params\":3}") ==
          JSONRPC_INVALID_REQUEST);
    CHECK(parse_code("{\"jsonrpc\":\"2.0\",\"id\":1}") == JSONRPC_INVALID_REQUEST);
    CHECK(parse_code("{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":1,\"error\":{}}") ==
          JSONRPC_INVALID_REQUEST);

    /* The error reply keeps a valid id and says null otherwise. */
    const char *bad = "{\"jsonrpc\":\"1.0\",\"id\":\"k\",\"method\":\"ping\"}";
    CHECK(jsonrpc_parse(bad, strlen(bad), &m, &err) < 0);
    CHECK_STR(cJSON_GetObjectItem(err, "id")->valuestring, "k");
    cJSON_Delete(err);
    const char *batch = "[1]";
    CHECK(jsonrpc_parse(batch, strlen(batch), &m, &err) < 0);
    CHECK(cJSON_IsNull(cJSON_GetObjectItem(err, "id")));
    CHECK(strstr(cJSON_GetObjectItem(cJSON_GetObjectItem(err, "error"), "message")->valuestring,
                 "batch") != NULL);
    cJSON_Delete(err);
    CHECK(m.doc == NULL);
}

int main(void)
{
    RUN(test_jsonrpc_parse());
    return harness_report();
}
