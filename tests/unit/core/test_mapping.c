/* Unit tests for mapping (and the runtime it reads): inputs through `with` to the upstream
 * request, checks before sending, credentials, bodies, output mappings. */
#include "harness.h"
#include "testrt.h"

#include <stdlib.h>

#include "spec/config.h"
#include "spec/loader.h"
#include "core/mapping.h"
#include "core/respmap.h"
#include "core/runtime.h"

static const char *doc_yaml =
    "naftiko: 1.0.0-alpha2\n"
    "binds:\n"
    "  - namespace: env\n"
    "    keys: {TEST_TOKEN: CPX_TEST_TOKEN}\n"
    "capability:\n"
    "  consumes:\n"
    "    - type: http\n"
    "      namespace: api\n"
    "      baseUri: http://up.example/base/\n"
    "      authentication: {type: bearer, token: '{{TEST_TOKEN}}'}\n"
    "      resources:\n"
    "        - name: things\n"
    "          path: /v2/things/{id}/{{kind}}\n"
    "          operations:\n"
    "            - name: create\n"
    "              method: POST\n"
    "              inputParameters:\n"
    "                - {name: id, in: path, type: string, required: true}\n"
    "                - {name: kind, in: path, type: string}\n"
    "                - {name: take, in: query, type: number}\n"
    "                - {name: tags, in: query, type: array}\n"
    "                - {name: x-trace, in: header, type: string}\n"
    "                - {name: email, in: body, type: string, required: true}\n"
    "                - {name: count, in: body, type: number}\n"
    "                - {name: active, in: body, type: boolean}\n"
    "                - {name: triggers, in: body, type: array}\n"
    "                - {name: metadata, in: body, type: object}\n"
    "              outputParameters: [{name: result, type: object, value: $.}]\n"
    "            - name: patch\n"
    "              method: PATCH\n"
    "              inputParameters:\n"
    "                - {name: id, in: path, type: string, required: true}\n"
    "                - {name: kind, in: path, type: string}\n"
    "                - {name: note, in: body, type: string}\n"
    "                - {name: x-sig, in: header, value: 'sig-{{TEST_TOKEN}}'}\n"
    "            - name: replace\n"
    "              method: PUT\n"
    "              inputParameters:\n"
    "                - {name: id, in: path, type: string, required: true}\n"
    "                - {name: kind, in: path, type: string}\n"
    "                - {name: body, in: body, type: object}\n"
    "  exposes:\n"
    "    - type: rest\n"
    "      namespace: api-rest\n"
    "      port: 8080\n"
    "      resources:\n"
    "        - path: /v1/things/{ID}\n"
    "          operations:\n"
    "            - method: POST\n"
    "              call: api.create\n"
    "              with:\n"
    "                id: rest.id\n"
    "                kind: fixed-kind\n"
    "                take: rest.take\n"
    "                tags: rest.tags\n"
    "                x-trace: 'trace-{{rest.id}}'\n"
    "                email: rest.email\n"
    "                count: rest.count\n"
    "                active: rest.active\n"
    "                triggers: rest.triggers\n"
    "                metadata: rest.metadata\n"
    "              outputParameters: [{type: object, mapping: $.data}]\n"
    "            - method: PATCH\n"
    "              name: patch\n"
    "              call: api.patch\n"
    "              with: {id: rest.id, kind: k, note: rest.note}\n"
    "        - path: /v1/whole/{id}\n"
    "          operations:\n"
    "            - method: PUT\n"
    "              name: replace\n"
    "              call: api.replace\n"
    "              with: {id: rest.id, kind: k, body: rest.body}\n"
    "    - type: mcp\n"
    "      namespace: api-mcp\n"
    "      port: 9090\n"
    "      tools:\n"
    "        - name: create-thing\n"
    "          description: Create a thing\n"
    "          call: api.create\n"
    "          inputParameters:\n"
    "            - {name: id, type: string, required: true}\n"
    "            - {name: email, type: string, required: true}\n"
    "            - {name: count, type: number}\n"
    "          with: {id: tools.id, kind: lk, email: tools.email, count: tools.count,\n"
    "                 triggers: tools.triggers}\n";

static struct runtime *load(const char *name, const char *yaml, struct config *cfg)
{
    return testrt_load(name, yaml, cfg);
}

static const struct rt_call *find_call(const struct runtime *rt, const char *name, bool tool)
{
    for (size_t i = 0; i < rt->ncalls; i++)
        if (str_eq(rt->calls[i].name, name) && (rt->calls[i].tool != NULL) == tool)
            return &rt->calls[i];
    return NULL;
}

/* The header line ("Name: value", "Name;" when empty) of <o> that starts with <prefix>, as the
 * upstream client sends it: the Content-Type comes from outreq_content_type when the request
 * has none of its own. Static storage: one call per check. */
static const char *header(const struct outreq *o, const char *prefix)
{
    static char line[1024];
    for (size_t i = 0; i < o->nheaders; i++) {
        const struct outreq_header *h = &o->headers[i];
        if (h->len)
            snprintf(line, sizeof line, "%s: %s", h->name, h->value);
        else
            snprintf(line, sizeof line, "%s;", h->name);
        if (strncmp(line, prefix, strlen(prefix)) == 0)
            return line;
    }
    const char *ct = outreq_content_type(o);
    snprintf(line, sizeof line, "Content-Type: %s", ct ? ct : "");
    return ct && strncmp(line, prefix, strlen(prefix)) == 0 ? line : NULL;
}

static void test_seed(void)
{
    struct config cfg;
    struct diag d;
    diag_init(&d);
    config_defaults(&cfg);
    setenv("CAL_COM_BASE_URI", "http://127.0.0.1:9", 1);
    setenv("CPX_SEED_SECRET", "configured-secret", 1);
    config_load_file(&cfg, "config/capproxy.yaml", true, &d);
    /* Point the shipped credential at a variable of this test. */
    free(cfg.consumers[0].credentials[0].env);
    cfg.consumers[0].credentials[0].env = strdup("CPX_SEED_SECRET");
    config_finish(&cfg, &d);
    CHECK(d.nerrors == 0);
    diag_deinit(&d);
    struct runtime *rt = testrt_load_file("capabilities/cal-com-managed-users.yaml", &cfg);
    CHECK(rt != NULL);
    if (!rt) {
        config_deinit(&cfg);
        return;
    }
    const struct rt_call *list = find_call(rt, "oauthclientuserscontrollergetmanagedusers", false);
    const struct rt_call *get = find_call(rt, "oauthclientuserscontrollergetuserbyid", false);
    const struct rt_call *patch = find_call(rt, "oauthclientuserscontrollerupdateuser", false);
    CHECK(list && get && patch);
    if (!list || !get || !patch)
        goto out;
    CHECK(list->passthrough);

    struct mapping_kv path[] = {{"clientid", "cl 1?#", 6}};
    struct mapping_kv query[] = {
        {"limit", "10", 2}, {"emails", "a@x.com", 7}, {"emails", "b+c@y.com", 9}, {"limt", "1", 1}};
    struct mapping_input in = {.path = path, .npath = 1, .query = query, .nquery = 3};
    struct outreq out;
    struct mapping_error err;
    outreq_init(&out, MAPPING_MAX_URL);
    CHECK(mapping_build(rt, list, &in, &out, &err) == 0);
    CHECK_STR(model_method_name(out.method), "GET");
    CHECK_STR(out.url.data, "http://127.0.0.1:9/v2/oauth-clients/cl%201%3F%23/users"
                            "?limit=10&emails=a%40x.com%2Cb%2Bc%40y.com");
    CHECK_STR(header(&out, "x-cal-secret-key"), "x-cal-secret-key: configured-secret");
    CHECK(out.body == NULL);
    outreq_deinit(&out);

    /* A query parameter nothing reads is refused, not dropped; a close name is suggested. */
    in.nquery = 4;
    outreq_init(&out, MAPPING_MAX_URL);
    CHECK(mapping_build(rt, list, &in, &out, &err) == -1);
    CHECK(err.status == 400);
    CHECK_STR(err.param, "limt");
    CHECK_STR(err.detail, "unknown query parameter 'limt' (did you mean 'limit'?)");
    outreq_deinit(&out);
    /* A scalar given twice is refused as such; an array joins its repeats (above). */
    struct mapping_kv twice[] = {{"limit", "10", 2}, {"limit", "20", 2}};
    in.query = twice;
    in.nquery = 2;
    outreq_init(&out, MAPPING_MAX_URL);
    CHECK(mapping_build(rt, list, &in, &out, &err) == -1);
    CHECK_STR(err.param, "limit");
    CHECK_STR(err.detail, "query parameter 'limit' was given 2 times; it takes one value");
    outreq_deinit(&out);
    in.query = query;
    in.nquery = 3;

    /* The caller's own secret wins. */
    struct mapping_kv hdrs[] = {{"X-Cal-Secret-Key", "callers", 7}};
    in.headers = hdrs;
    in.nheaders = 1;
    outreq_init(&out, MAPPING_MAX_URL);
    CHECK(mapping_build(rt, list, &in, &out, &err) == 0);
    CHECK_STR(header(&out, "x-cal-secret-key"), "x-cal-secret-key: callers");
    outreq_deinit(&out);

    /* CR/LF in the caller's secret is refused. */
    struct mapping_kv bad_hdr[] = {{"x-cal-secret-key", "a\r\nX-Evil: 1", 13}};
    in.headers = bad_hdr;
    outreq_init(&out, MAPPING_MAX_URL);
    CHECK(mapping_build(rt, list, &in, &out, &err) == -1);
    CHECK(err.status == 400);
    CHECK_STR(err.param, "x-cal-secret-key");
    outreq_deinit(&out);
    in.headers = NULL;
    in.nheaders = 0;

    /* userId must be a number; path values must be single safe segments. */
    struct mapping_kv p2[] = {{"clientid", "abc", 3}, {"userid", "12x", 3}};
    struct mapping_input in2 = {.path = p2, .npath = 2};
    outreq_init(&out, MAPPING_MAX_URL);
    CHECK(mapping_build(rt, get, &in2, &out, &err) == -1);
    CHECK(err.status == 400);
    CHECK_STR(err.param, "userId");
    outreq_deinit(&out);
    const char *evil[] = {"..", ".", "a/b", "a\\b", "x\r\ny"};
    for (size_t i = 0; i < UTIL_ARRAY_LEN(evil); i++) {
        struct mapping_kv p3[] = {{"clientid", evil[i], strlen(evil[i])}, {"userid", "1", 1}};
        struct mapping_input in3 = {.path = p3, .npath = 2};
        outreq_init(&out, MAPPING_MAX_URL);
        CHECK(mapping_build(rt, get, &in3, &out, &err) == -1);
        CHECK(err.status == 400);
        CHECK_STR(err.param, "clientId");
        outreq_deinit(&out);
    }
    struct mapping_kv pnul[] = {{"clientid", "a\0b", 3}, {"userid", "1", 1}};
    struct mapping_input innul = {.path = pnul, .npath = 2};
    outreq_init(&out, MAPPING_MAX_URL);
    CHECK(mapping_build(rt, get, &innul, &out, &err) == -1 && err.status == 400);
    outreq_deinit(&out);

    /* rest.body: the caller's JSON goes upstream byte for byte. */
    const char *raw = "{ \"name\" : \"Z\", \"n\": 1.50 }";
    cJSON *body = cJSON_Parse(raw);
    struct mapping_kv p4[] = {{"clientid", "abc", 3}, {"userid", "42", 2}};
    struct mapping_input in4 = {
        .path = p4, .npath = 2, .body = body, .raw_body = raw, .raw_body_len = strlen(raw)};
    outreq_init(&out, MAPPING_MAX_URL);
    CHECK(mapping_build(rt, patch, &in4, &out, &err) == 0);
    CHECK_STR(model_method_name(out.method), "PATCH");
    CHECK_STR(out.url.data, "http://127.0.0.1:9/v2/oauth-clients/abc/users/42");
    CHECK_STR(out.body, raw);
    CHECK_STR(header(&out, "Content-Type"), "Content-Type: application/json");
    outreq_deinit(&out);
    cJSON_Delete(body);

    /* A required body that is missing. */
    outreq_init(&out, MAPPING_MAX_URL);
    in4.body = NULL;
    in4.raw_body = NULL;
    CHECK(mapping_build(rt, patch, &in4, &out, &err) == -1);
    CHECK(err.status == 400);
    CHECK_STR(err.param, "body");
    outreq_deinit(&out);
out:
    runtime_free(rt);
    config_deinit(&cfg);

    /* No configured secret and none sent: 401 naming the header, nothing built. */
    config_defaults(&cfg);
    diag_init(&d);
    config_load_file(&cfg, "config/capproxy.yaml", true, &d);
    free(cfg.consumers[0].credentials[0].env);
    cfg.consumers[0].credentials[0].env = strdup("CPX_UNSET_SECRET");
    free(cfg.consumers[0].credentials[0].file);
    cfg.consumers[0].credentials[0].file = NULL;
    unsetenv("CPX_UNSET_SECRET");
    config_finish(&cfg, &d);
    diag_deinit(&d);
    rt = testrt_load_file("capabilities/cal-com-managed-users.yaml", &cfg);
    CHECK(rt != NULL);
    if (rt) {
        const struct rt_call *c = find_call(rt, "oauthclientuserscontrollergetmanagedusers", false);
        struct mapping_kv pp[] = {{"clientid", "abc", 3}};
        struct mapping_input i5 = {.path = pp, .npath = 1};
        outreq_init(&out, MAPPING_MAX_URL);
        CHECK(c && mapping_build(rt, c, &i5, &out, &err) == -1);
        CHECK(err.status == 401);
        CHECK_STR(err.param, "x-cal-secret-key");
        CHECK(strstr(err.detail, "CPX_UNSET_SECRET") != NULL);
        outreq_deinit(&out);
    }
    runtime_free(rt);
    config_deinit(&cfg);
}

static void test_flat_body_and_auth(void)
{
    struct config cfg;
    config_defaults(&cfg);
    setenv("CPX_TEST_TOKEN", "tok-123", 1);
    struct runtime *rt = load("doc.yaml", doc_yaml, &cfg);
    CHECK(rt != NULL);
    if (!rt) {
        config_deinit(&cfg);
        return;
    }
    const struct rt_call *rest = find_call(rt, "create", false);
    const struct rt_call *tool = find_call(rt, "create-thing", true);
    CHECK(rest && tool);
    if (!rest || !tool)
        goto out;
    CHECK(!rest->passthrough);

    /* REST: path variable matched case-insensitively, template, literal, flat typed body. */
    const char *raw = "{\"email\":\"e@x\",\"count\":3,\"active\":true,\"triggers\":[\"A\",\"B\"],"
                      "\"metadata\":{\"k\":\"v\"}}";
    cJSON *body = cJSON_Parse(raw);
    struct mapping_kv path[] = {{"ID", "t1", 2}};
    struct mapping_kv query[] = {{"take", "5", 1}, {"tags", "x,y", 3}};
    struct mapping_input in = {.path = path,
                               .npath = 1,
                               .query = query,
                               .nquery = 2,
                               .body = body,
                               .raw_body = raw,
                               .raw_body_len = strlen(raw)};
    struct outreq out;
    struct mapping_error err;
    outreq_init(&out, MAPPING_MAX_URL);
    CHECK(mapping_build(rt, rest, &in, &out, &err) == 0);
    CHECK_STR(out.url.data, "http://up.example/base/v2/things/t1/fixed-kind?take=5&tags=x%2Cy");
    CHECK_STR(header(&out, "x-trace"), "x-trace: trace-t1");
    CHECK_STR(header(&out, "Authorization"), "Authorization: Bearer tok-123");
    CHECK_STR(out.body, "{\"email\":\"e@x\",\"count\":3,\"active\":true,\"triggers\":[\"A\",\"B\"],"
                        "\"metadata\":{\"k\":\"v\"}}");
    outreq_deinit(&out);
    cJSON_Delete(body);

    /* A caller's own Authorization wins over the document's. */
    struct mapping_kv hdrs[] = {{"authorization", "Bearer mine", 11}};
    body = cJSON_Parse("{\"email\":\"e@x\"}");
    in.body = body;
    in.raw_body = "{\"email\":\"e@x\"}";
    in.raw_body_len = strlen(in.raw_body);
    in.headers = hdrs;
    in.nheaders = 1;
    outreq_init(&out, MAPPING_MAX_URL);
    CHECK(mapping_build(rt, rest, &in, &out, &err) == 0);
    CHECK_STR(header(&out, "Authorization"), "Authorization: Bearer mine");
    CHECK_STR(out.body, "{\"email\":\"e@x\"}"); /* absent fields are left out */
    outreq_deinit(&out);
    cJSON_Delete(body);

    /* A header named like a bind variable never replaces it: {{TEST_TOKEN}} in a consumed
     * parameter's value stays the configured value, whatever the caller sends by that name. */
    const struct rt_call *patch = find_call(rt, "patch", false);
    CHECK(patch != NULL);
    struct mapping_kv spoof[] = {{"TEST_TOKEN", "evil", 4}};
    struct mapping_kv ppath[] = {{"ID", "t1", 2}};
    struct mapping_input ip = {.path = ppath, .npath = 1, .headers = spoof, .nheaders = 1};
    outreq_init(&out, MAPPING_MAX_URL);
    CHECK(patch && mapping_build(rt, patch, &ip, &out, &err) == 0);
    CHECK_STR(header(&out, "x-sig"), "x-sig: sig-tok-123");
    outreq_deinit(&out);

    /* A non-numeric number in the query is refused before anything is built. */
    struct mapping_kv q2[] = {{"take", "many", 4}};
    struct mapping_input in2 = {.path = path, .npath = 1, .query = q2, .nquery = 1};
    outreq_init(&out, MAPPING_MAX_URL);
    CHECK(mapping_build(rt, rest, &in2, &out, &err) == -1);
    CHECK(err.status == 400);
    CHECK_STR(err.param, "take");
    outreq_deinit(&out);

    /* MCP: arguments keep their JSON types; declared inputParameters are checked. */
    cJSON *args = cJSON_Parse("{\"id\":\"t2\",\"email\":\"m@x\",\"count\":7,"
                              "\"triggers\":[\"BOOKING_CREATED\"]}");
    struct mapping_input im = {.mcp = true, .args = args};
    outreq_init(&out, MAPPING_MAX_URL);
    CHECK(mapping_build(rt, tool, &im, &out, &err) == 0);
    CHECK_STR(out.url.data, "http://up.example/base/v2/things/t2/lk");
    CHECK_STR(out.body, "{\"email\":\"m@x\",\"count\":7,\"triggers\":[\"BOOKING_CREATED\"]}");
    outreq_deinit(&out);
    cJSON_Delete(args);
    args = cJSON_Parse("{\"id\":\"t2\",\"email\":\"m@x\",\"count\":\"seven\"}");
    im.args = args;
    outreq_init(&out, MAPPING_MAX_URL);
    CHECK(mapping_build(rt, tool, &im, &out, &err) == -1);
    CHECK_STR(err.param, "count");
    CHECK(strstr(err.detail, "must be a number") != NULL);
    outreq_deinit(&out);
    cJSON_Delete(args);
    args = cJSON_Parse("{\"email\":\"m@x\"}");
    im.args = args;
    outreq_init(&out, MAPPING_MAX_URL);
    CHECK(mapping_build(rt, tool, &im, &out, &err) == -1);
    CHECK_STR(err.param, "id");
    outreq_deinit(&out);
    cJSON_Delete(args);

    /* Output mapping $.data selects from the upstream document. */
    const char *up = "{\"status\":\"success\",\"data\":{\"id\":1}}";
    cJSON *mapped = respmap_apply(rest, up, strlen(up), NULL, 0);
    char *s = cJSON_PrintUnformatted(mapped);
    CHECK_STR(s, "{\"id\":1}");
    cJSON_free(s);
    cJSON_Delete(mapped);
    CHECK(respmap_apply(rest, "not json", 8, NULL, 0) == NULL);
out:
    runtime_free(rt);
    config_deinit(&cfg);
}

static void test_numbers(void)
{
    CHECK(mapping_is_number_text("42", 2, true));
    CHECK(mapping_is_number_text("-1.5e3", 6, false));
    CHECK(!mapping_is_number_text("-1.5", 4, true));
    CHECK(!mapping_is_number_text("0x10", 4, false));
    CHECK(!mapping_is_number_text("inf", 3, false));
    CHECK(!mapping_is_number_text("", 0, false));
    CHECK(!mapping_is_number_text(" 1", 2, false));
}

/* Unknown inputs are refused naming them, a missing body becomes {}, and nothing is lost. */
static void test_unknown_inputs(void)
{
    struct config cfg;
    config_defaults(&cfg);
    setenv("CPX_TEST_TOKEN", "tok-123", 1);
    struct runtime *rt = load("doc.yaml", doc_yaml, &cfg);
    CHECK(rt != NULL);
    if (!rt) {
        config_deinit(&cfg);
        return;
    }
    const struct rt_call *rest = find_call(rt, "create", false);
    const struct rt_call *tool = find_call(rt, "create-thing", true);
    const struct rt_call *patch = find_call(rt, "patch", false);
    const struct rt_call *whole = find_call(rt, "replace", false);
    CHECK(rest && tool && patch && whole);
    if (!rest || !tool || !patch || !whole)
        goto out;
    /* The names each call reads, computed at load. */
    CHECK(runtime_call_has_input(rest, "email") && runtime_call_has_input(rest, "take"));
    CHECK(!runtime_call_has_input(rest, "kind")); /* a literal: no input */
    CHECK(!runtime_call_has_input(rest, "TEST_TOKEN"));
    CHECK(runtime_call_has_input(tool, "triggers") && !runtime_call_has_input(tool, "kind"));
    CHECK(whole->opaque_body && !rest->opaque_body);

    struct mapping_kv path[] = {{"ID", "t1", 2}};
    struct outreq out;
    struct mapping_error err;
    static const struct {
        const char *body, *param, *detail;
    } bad[] = {
        {"{\"email\":\"e@x\",\"emial\":\"f@x\"}", "emial",
         "unknown body field 'emial' (did you mean 'email'?)"},
        {"{\"email\":\"e@x\",\"zzz\":1}", "zzz",
         "unknown body field 'zzz' (accepted: id, take, tags, email, count, active, triggers, "
         "metadata)"},
        {"{\"email\":\"e@x\",\"email\":\"f@x\"}", "email", "body field 'email' was given twice"},
        {"[{\"email\":\"e@x\"}]", "body", "the request body must be a JSON object of named fields"},
    };
    for (size_t i = 0; i < UTIL_ARRAY_LEN(bad); i++) {
        cJSON *body = cJSON_Parse(bad[i].body);
        struct mapping_input in = {.path = path,
                                   .npath = 1,
                                   .body = body,
                                   .raw_body = bad[i].body,
                                   .raw_body_len = strlen(bad[i].body)};
        outreq_init(&out, MAPPING_MAX_URL);
        CHECK(mapping_build(rt, rest, &in, &out, &err) == -1);
        CHECK(err.status == 400);
        CHECK_STR(err.param, bad[i].param);
        CHECK_STR(err.detail, bad[i].detail);
        outreq_deinit(&out);
        cJSON_Delete(body);
    }

    /* A tool argument the tool does not read: a tool error naming it. */
    cJSON *args = cJSON_Parse("{\"id\":\"t1\",\"email\":\"e@x\",\"cuont\":2}");
    struct mapping_input tin = {.mcp = true, .args = args};
    outreq_init(&out, MAPPING_MAX_URL);
    CHECK(mapping_build(rt, tool, &tin, &out, &err) == -1);
    CHECK_STR(err.param, "cuont");
    CHECK_STR(err.detail, "unknown argument 'cuont' (did you mean 'count'?)");
    outreq_deinit(&out);
    cJSON_Delete(args);

    /* PATCH with body parameters and no field given: the body is {}, not absent. */
    cJSON *empty = cJSON_Parse("{}");
    struct mapping_input pin = {.path = path, .npath = 1};
    outreq_init(&out, MAPPING_MAX_URL);
    CHECK(mapping_build(rt, patch, &pin, &out, &err) == 0);
    CHECK_STR(out.body, "{}");
    CHECK_STR(header(&out, "Content-Type"), "Content-Type: application/json");
    outreq_deinit(&out);
    pin.body = empty;
    pin.raw_body = "{}";
    pin.raw_body_len = 2;
    outreq_init(&out, MAPPING_MAX_URL);
    CHECK(mapping_build(rt, patch, &pin, &out, &err) == 0);
    CHECK_STR(out.body, "{}");
    outreq_deinit(&out);
    cJSON_Delete(empty);

    /* `rest.body` takes the whole body: its fields are the upstream's business, sent as is. */
    const char *raw = "{\"anything\": [1, 2]}";
    cJSON *wb = cJSON_Parse(raw);
    struct mapping_input win = {
        .path = path, .npath = 1, .body = wb, .raw_body = raw, .raw_body_len = strlen(raw)};
    outreq_init(&out, MAPPING_MAX_URL);
    CHECK(mapping_build(rt, whole, &win, &out, &err) == 0);
    CHECK_STR(out.body, raw);
    outreq_deinit(&out);
    cJSON_Delete(wb);
out:
    runtime_free(rt);
    config_deinit(&cfg);
}

int main(void)
{
    RUN(test_seed());
    RUN(test_unknown_inputs());
    RUN(test_flat_body_and_auth());
    RUN(test_numbers());
    return harness_report();
}
