/*
 * Unit tests for the pure parts of the MCP front end: SHA-256 and HMAC-SHA256 (FIPS 180-2 and
 * RFC 4231 vectors), session ids (signing, verification, tampering, expiry, ending), protocol
 * version negotiation, JSON-RPC parsing and replies, tool input schemas and tool results.
 */
#include "harness.h"
#include "testrt.h"

#include <stdint.h>
#include <stdlib.h>

#include "spec/config.h"
#include "core/jsonrpc.h"
#include "spec/loader.h"
#include "core/runtime.h"
#include "core/session.h"
#include "base/sha256.h"

/* ---- helpers ---- */

static void hex(const uint8_t *d, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++)
        sprintf(out + 2 * i, "%02x", d[i]);
}

static const char *sha_hex(const void *data, size_t len)
{
    static char out[2 * SHA256_DIGEST_SIZE + 1];
    uint8_t d[SHA256_DIGEST_SIZE];
    sha256(data, len, d);
    hex(d, sizeof d, out);
    return out;
}

static size_t unhex(const char *s, uint8_t *out)
{
    size_t n = strlen(s) / 2;
    for (size_t i = 0; i < n; i++) {
        unsigned v;
        sscanf(s + 2 * i, "%2x", &v);
        out[i] = (uint8_t)v;
    }
    return n;
}

static const char *hmac_hex(const void *key, size_t klen, const void *msg, size_t mlen)
{
    static char out[2 * SHA256_DIGEST_SIZE + 1];
    uint8_t d[SHA256_DIGEST_SIZE];
    sha256_hmac(key, klen, msg, mlen, d);
    hex(d, sizeof d, out);
    return out;
}

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

/* ---- SHA-256 ---- */

static void test_sha256(void)
{
    CHECK_STR(sha_hex("", 0), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    CHECK_STR(sha_hex("abc", 3),
              "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    const char *m448 = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    CHECK_STR(sha_hex(m448, strlen(m448)),
              "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    const char *m896 = "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnop"
                       "jklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu";
    CHECK_STR(sha_hex(m896, strlen(m896)),
              "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1");

    /* One million 'a', fed in uneven pieces to exercise the block buffer. */
    struct sha256 s;
    char chunk[997];
    memset(chunk, 'a', sizeof chunk);
    sha256_init(&s);
    size_t left = 1000000;
    for (size_t step = 1; left > 0; step = step % sizeof chunk + 13) {
        size_t n = step < left ? step : left;
        if (n > sizeof chunk)
            n = sizeof chunk;
        sha256_update(&s, chunk, n);
        left -= n;
    }
    uint8_t d[SHA256_DIGEST_SIZE];
    char out[65];
    sha256_final(&s, d);
    hex(d, sizeof d, out);
    CHECK_STR(out, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");

    /* Lengths around the padding boundary (55, 56, 63, 64, 65 bytes): one shot == in pieces. */
    for (size_t len = 54; len <= 66; len++) {
        char buf[80];
        memset(buf, 'x', sizeof buf);
        char one[65];
        snprintf(one, sizeof one, "%s", sha_hex(buf, len));
        sha256_init(&s);
        for (size_t i = 0; i < len; i++)
            sha256_update(&s, buf + i, 1);
        sha256_final(&s, d);
        hex(d, sizeof d, out);
        CHECK_STR(out, one);
    }
}

static void test_hmac(void)
{
    uint8_t key[256], msg[256];
    size_t kl, ml;
    /* RFC 4231 test cases 1-4, 6 and 7 (case 5 is a truncated output). */
    kl = unhex("0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b", key);
    CHECK_STR(hmac_hex(key, kl, "Hi There", 8),
              "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
    CHECK_STR(hmac_hex("Jefe", 4, "what do ya want for nothing?", 28),
              "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    kl = unhex("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", key);
    memset(msg, 0xdd, 50);
    CHECK_STR(hmac_hex(key, kl, msg, 50),
              "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe");
    kl = unhex("0102030405060708090a0b0c0d0e0f10111213141516171819", key);
    memset(msg, 0xcd, 50);
    CHECK_STR(hmac_hex(key, kl, msg, 50),
              "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b");
    memset(key, 0xaa, 131);
    kl = 131;
    const char *m6 = "Test Using Larger Than Block-Size Key - Hash Key First";
    CHECK_STR(hmac_hex(key, kl, m6, strlen(m6)),
              "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
    const char *m7 = "This is a test using a larger than block-size key and a larger than "
                     "block-size data. The key needs to be hashed before being used by the HMAC "
                     "algorithm.";
    CHECK_STR(hmac_hex(key, kl, m7, strlen(m7)),
              "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2");
    /* Case 5, first 128 bits. */
    memset(key, 0x0c, 20);
    ml = strlen("Test With Truncation");
    const char *h5 = hmac_hex(key, 20, "Test With Truncation", ml);
    CHECK(strncmp(h5, "a3b6167473100ee06e0c796c2955552b", 32) == 0);
}

/* ---- sessions ---- */

static void test_versions(void)
{
    CHECK_STR(session_negotiate_version("2025-03-26"), "2025-03-26");
    CHECK_STR(session_negotiate_version("2025-06-18"), "2025-06-18");
    CHECK_STR(session_negotiate_version("2025-11-25"), "2025-11-25");
    CHECK_STR(session_negotiate_version("2024-11-05"), SESSION_VERSION_LATEST);
    CHECK_STR(session_negotiate_version("2099-01-01"), SESSION_VERSION_LATEST);
    CHECK_STR(session_negotiate_version(""), SESSION_VERSION_LATEST);
    CHECK_STR(session_negotiate_version(NULL), SESSION_VERSION_LATEST);
    CHECK_STR(SESSION_VERSION_LATEST, "2025-11-25");
    CHECK(session_version_supported("2025-06-18"));
    CHECK(!session_version_supported("2025-06-18 "));
    CHECK(!session_version_supported("2024-11-05"));
    CHECK(!session_version_supported(NULL));
}

static void test_sessions(void)
{
    const int64_t t0 = 1763000000;
    char a[SESSION_ID_MAX], b[SESSION_ID_MAX];
    session_set_key("unit-test key", 13);
    session_set_ttl(SESSION_TTL_DEFAULT_S);
    CHECK(session_global_init() == 0);
    CHECK(session_issue(t0, a) == 0);
    CHECK(session_issue(t0, b) == 0);
    CHECK(strcmp(a, b) != 0); /* random part */
    CHECK(strlen(a) >= 43 && strlen(a) < SESSION_ID_MAX);
    bool visible = true;
    for (const char *p = a; *p; p++)
        visible &= *p > 0x20 && *p < 0x7f;
    CHECK(visible);
    CHECK(session_check(a, t0) == SESSION_OK);
    CHECK(session_check(a, t0 + SESSION_TTL_DEFAULT_S - 1) == SESSION_OK);
    CHECK(session_check(a, t0 + SESSION_TTL_DEFAULT_S) == SESSION_EXPIRED);
    CHECK(session_check(a, t0 - SESSION_MAX_SKEW_S - 1) == SESSION_EXPIRED);
    CHECK(session_check(a, t0 - 10) == SESSION_OK); /* small clock skew between replicas */

    /* Every single-character change is refused. */
    size_t len = strlen(a);
    int accepted = 0;
    for (size_t i = 0; i < len; i++) {
        char t[SESSION_ID_MAX];
        memcpy(t, a, len + 1);
        t[i] = t[i] == 'A' ? 'B' : 'A';
        accepted += session_check(t, t0) == SESSION_OK;
    }
    CHECK(accepted == 0);
    char t[SESSION_ID_MAX];
    memcpy(t, a, len + 1);
    t[len / 2] = t[len / 2] == 'A' ? 'B' : 'A';
    CHECK(session_check(t, t0) == SESSION_FORGED || session_check(t, t0) == SESSION_MALFORMED);

    CHECK(session_check("", t0) == SESSION_MALFORMED);
    CHECK(session_check(NULL, t0) == SESSION_MALFORMED);
    CHECK(session_check("short", t0) == SESSION_MALFORMED);
    memcpy(t, a, len + 1);
    t[3] = '*';
    CHECK(session_check(t, t0) == SESSION_MALFORMED);
    memcpy(t, a, len + 1);
    t[len - 1] = '\0';
    CHECK(session_check(t, t0) == SESSION_MALFORMED);

    /* Another key (another deployment) does not accept our ids; the same key does. */
    session_set_key("another key", 11);
    CHECK(session_check(a, t0) == SESSION_FORGED);
    session_set_key("unit-test key", 13);
    CHECK(session_check(a, t0) == SESSION_OK);

    /* Ending. */
    CHECK(session_end(a, t0 + 5) == SESSION_OK);
    CHECK(session_check(a, t0 + 6) == SESSION_ENDED);
    CHECK(session_end(a, t0 + 7) == SESSION_ENDED);
    CHECK(session_check(b, t0 + 6) == SESSION_OK);
    CHECK(session_end("nonsense", t0) == SESSION_MALFORMED);
    session_forget_ended();
    CHECK(session_check(a, t0 + 6) == SESSION_OK);

    /* The ended set is bounded: it keeps working when full. */
    char first[SESSION_ID_MAX];
    CHECK(session_issue(t0, first) == 0);
    CHECK(session_end(first, t0) == SESSION_OK);
    for (int i = 0; i < SESSION_ENDED_MAX + 10; i++) {
        char id[SESSION_ID_MAX];
        session_issue(t0 + 1 + i, id);
        session_end(id, t0 + 1 + i);
    }
    char last[SESSION_ID_MAX];
    session_issue(t0 + 5000, last);
    CHECK(session_end(last, t0 + 5000) == SESSION_OK);
    CHECK(session_check(last, t0 + 5001) == SESSION_ENDED);
    CHECK(session_check(first, t0 + 5001) == SESSION_OK); /* evicted: the oldest goes first */
    session_forget_ended();

    /* A shorter TTL (tests only). */
    session_set_ttl(60);
    CHECK(session_check(b, t0 + 59) == SESSION_OK);
    CHECK(session_check(b, t0 + 60) == SESSION_EXPIRED);
    session_set_ttl(SESSION_TTL_DEFAULT_S);
    CHECK_STR(session_status_name(SESSION_FORGED), "forged");
}

/* ---- JSON-RPC ---- */

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

static void test_initialize_result(void)
{
    check_json(jsonrpc_mcp_initialize_result("2025-06-18", "Use these tools."),
               "{\"protocolVersion\":\"2025-06-18\",\"capabilities\":{\"tools\":{\"listChanged\":"
               "false}},\"serverInfo\":{\"name\":\"capproxy\",\"version\":\"" CAPPROXY_VERSION
               "\"},\"instructions\":\"Use these tools.\"}");
    cJSON *r = jsonrpc_mcp_initialize_result("2025-11-25", NULL);
    CHECK(cJSON_GetObjectItem(r, "instructions") == NULL);
    cJSON_Delete(r);
}

static void test_call_params(void)
{
    const char *name;
    const cJSON *args;
    cJSON *p = cJSON_Parse("{\"name\":\"t\",\"arguments\":{\"a\":1}}");
    CHECK(jsonrpc_mcp_call_params(p, &name, &args) == NULL);
    CHECK_STR(name, "t");
    CHECK(cJSON_IsObject(args));
    cJSON_Delete(p);
    p = cJSON_Parse("{\"name\":\"t\",\"arguments\":null}");
    CHECK(jsonrpc_mcp_call_params(p, &name, &args) == NULL && args == NULL);
    cJSON_Delete(p);
    p = cJSON_Parse("{\"name\":\"t\"}");
    CHECK(jsonrpc_mcp_call_params(p, &name, &args) == NULL && args == NULL);
    cJSON_Delete(p);
    p = cJSON_Parse("{\"name\":\"t\",\"arguments\":[1]}");
    CHECK(jsonrpc_mcp_call_params(p, &name, &args) != NULL);
    cJSON_Delete(p);
    p = cJSON_Parse("{\"name\":3}");
    CHECK(jsonrpc_mcp_call_params(p, &name, &args) != NULL);
    cJSON_Delete(p);
    CHECK(jsonrpc_mcp_call_params(NULL, &name, &args) != NULL);
}

/* ---- input schemas and tool results ---- */

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
    return c ? print(jsonrpc_mcp_input_schema(c)) : NULL;
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
    struct diag d;
    diag_init(&d);
    config_defaults(&cfg);
    setenv("CAL_COM_BASE_URI", "http://127.0.0.1:9", 1);
    config_load_file(&cfg, "config/capproxy.yaml", true, &d);
    config_finish(&cfg, &d);
    CHECK(d.nerrors == 0);
    diag_deinit(&d);
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
                 "to skip\"},\"emails\":{\"type\":\"array\",\"items\":{},\"description\":\"Filter "
                 "managed users by email. If you want to filter by multiple emails, separate them "
                 "with a comma.\"}},\"required\":[\"clientId\"]}");
    check_schema(rt, "create-managed-user",
                 "{\"type\":\"object\",\"properties\":{\"clientId\":{\"type\":\"string\"},"
                 "\"body\":{\"type\":\"object\",\"description\":\"Request body (JSON).\"}},"
                 "\"required\":[\"clientId\",\"body\"]}");
    check_schema(rt, "force-refresh-tokens",
                 "{\"type\":\"object\",\"properties\":{\"userId\":{\"type\":\"number\"},"
                 "\"clientId\":{\"type\":\"string\"}},\"required\":[\"userId\",\"clientId\"]}");

    const struct rt_call *del = tool(rt, "delete-managed-user");
    char *t = print(jsonrpc_mcp_tool(del));
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
        char *list = jsonrpc_mcp_tools_list(ep->tools, ep->ntools);
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

    char *t = print(jsonrpc_mcp_tool(tool(rt, "by-with")));
    CHECK(strstr(t, "\"name\":\"by-with\",\"title\":\"Get thing\",\"description\":\"Get a "
                    "thing\"") != NULL);
    CHECK(strstr(t, "\"annotations\":{\"openWorldHint\":false}") != NULL);
    cJSON_free(t);
    t = print(jsonrpc_mcp_tool(tool(rt, "bare")));
    CHECK(strstr(t, "annotations") == NULL);
    CHECK(strstr(t, "\"title\"") == NULL);
    cJSON_free(t);

    /* Tool results. */
    const struct rt_call *c = tool(rt, "bare");
    const char *obj = "{\"a\": 12345678901234567890, \"b\": [1]}";
    /* Integers beyond 2^53 keep the upstream's digits in structuredContent. */
    check_json(jsonrpc_mcp_upstream_result(c, 200, NULL, obj, strlen(obj)),
               "{\"content\":[{\"type\":\"text\",\"text\":\"{\\\"a\\\": 12345678901234567890, "
               "\\\"b\\\": [1]}\"}],\"structuredContent\":{\"a\":12345678901234567890,\"b\":[1]},"
               "\"_meta\":{\"upstreamStatus\":200}}");
    const char *deep =
        "{\"x\":[1.5,\"12345678901234567891\",{\"y\":-9007199254740993}],\"z\":1e300}";
    check_json(
        jsonrpc_mcp_upstream_result(c, 200, NULL, deep, strlen(deep)),
        "{\"content\":[{\"type\":\"text\",\"text\":\"{\\\"x\\\":[1.5,\\\"12345678901234567891\\\","
        "{\\\"y\\\":-9007199254740993}],\\\"z\\\":1e300}\"}],"
        "\"structuredContent\":{\"x\":[1.5,\"12345678901234567891\",{\"y\":-9007199254740993}],"
        "\"z\":1e+300},\"_meta\":{\"upstreamStatus\":200}}");
    check_json(jsonrpc_mcp_upstream_result(c, 200, NULL, "[1,2]", 5),
               "{\"content\":[{\"type\":\"text\",\"text\":\"[1,2]\"}],"
               "\"_meta\":{\"upstreamStatus\":200}}");
    check_json(jsonrpc_mcp_upstream_result(c, 200, NULL, "plain text", 10),
               "{\"content\":[{\"type\":\"text\",\"text\":\"plain text\"}],"
               "\"_meta\":{\"upstreamStatus\":200}}");
    check_json(jsonrpc_mcp_upstream_result(c, 204, NULL, "", 0),
               "{\"content\":[{\"type\":\"text\",\"text\":\"\"}],"
               "\"_meta\":{\"upstreamStatus\":204}}");
    const char *e404 = "{\"error\":\"not found\"}";
    check_json(jsonrpc_mcp_upstream_result(c, 404, NULL, e404, strlen(e404)),
               "{\"content\":[{\"type\":\"text\",\"text\":\"{\\\"error\\\":\\\"not found\\\"}\"},"
               "{\"type\":\"text\",\"text\":\"upstream answered 404 Not Found\"}],"
               "\"isError\":true,\"_meta\":{\"upstreamStatus\":404}}");
    check_json(jsonrpc_mcp_upstream_result(c, 500, NULL, "", 0),
               "{\"content\":[{\"type\":\"text\",\"text\":\"upstream answered 500 Internal Server "
               "Error\"}],\"isError\":true,\"_meta\":{\"upstreamStatus\":500}}");
    /* A redirect is passed on: the result says where it points, and is not an error. */
    check_json(
        jsonrpc_mcp_upstream_result(c, 301, "https://example.test/done?x=1", "Moved", 5),
        "{\"content\":[{\"type\":\"text\",\"text\":\"Moved\"},{\"type\":\"text\",\"text\":"
        "\"upstream answered 301 Moved Permanently; Location: https://example.test/done?x=1\"}],"
        "\"_meta\":{\"upstreamStatus\":301,\"upstreamLocation\":\"https://example.test/"
        "done?x=1\"}}");
    runtime_free(rt);
    config_deinit(&cfg);
}

static void test_utf8(void)
{
    char *s = jsonrpc_utf8_sanitize("ok \xC3\xA9 \xFF x\0y \xED\xA0\x80 \xF0\x9F\x98\x80", 20);
    CHECK_STR(s, "ok \xC3\xA9 \xEF\xBF\xBD x\xEF\xBF\xBDy \xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD "
                 "\xF0\x9F\x98\x80");
    free(s);
    s = jsonrpc_utf8_sanitize("\xC0\xAF|\xE2\x82", 5); /* overlong, truncated */
    CHECK_STR(s, "\xEF\xBF\xBD\xEF\xBF\xBD|\xEF\xBF\xBD\xEF\xBF\xBD");
    free(s);
}

int main(void)
{
    test_sha256();
    test_hmac();
    test_versions();
    test_sessions();
    test_jsonrpc_parse();
    test_initialize_result();
    test_call_params();
    test_seed_schemas();
    test_schemas();
    test_utf8();
    return harness_report();
}
