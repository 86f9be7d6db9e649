/* Unit tests for REST inputs the exposed operation declares with `in` or `value` (as the
 * reference engine reads them): a JSONPath `value` into the body, a constant `value`, `in`
 * restricting where the input comes from, cookies and the environment, resource-level
 * inputParameters inherited by operations, and the scope orchestrated calls read. */
#include "harness.h"
#include "testrt.h"

#include <stdlib.h>

#include "core/mapping.h"

static const char doc[] =
    "naftiko: 1.0.0-alpha2\n"
    "capability:\n"
    "  consumes:\n"
    "    - type: http\n"
    "      namespace: api\n"
    "      baseUri: http://up.example\n"
    "      resources:\n"
    "        - name: users\n"
    "          path: /users\n"
    "          operations:\n"
    "            - name: find\n"
    "              method: GET\n"
    "              inputParameters:\n"
    "                - {name: q, in: query}\n"
    "                - {name: tenant, in: header}\n"
    "                - {name: region, in: query}\n"
    "                - {name: mode, in: query}\n"
    "                - {name: session, in: query}\n"
    "                - {name: home, in: query}\n"
    "  exposes:\n"
    "    - type: rest\n"
    "      namespace: api-rest\n"
    "      port: 8080\n"
    "      resources:\n"
    "        - path: /users/search\n"
    "          inputParameters:\n"
    "            - {name: tenant, in: header, type: string, description: t}\n"
    "            - {name: region, in: query, type: string, description: r}\n"
    "          operations:\n"
    "            - method: POST\n"
    "              name: search\n"
    "              inputParameters:\n"
    "                - {name: userId, in: body, type: string, description: u, value: $.user.id}\n"
    "                - {name: mode, in: query, type: string, description: m, value: strict}\n"
    "                - {name: sid, in: cookie, type: string, description: s}\n"
    "                - {name: CPX_DECLARED_HOME, in: environment, type: string, description: h}\n"
    "                - {name: region, in: header, type: string, description: own}\n"
    "              call: api.find\n"
    "              with:\n"
    "                q: '{{userId}}'\n"
    "                tenant: rest.tenant\n"
    "                region: rest.region\n"
    "                mode: rest.mode\n"
    "                session: rest.sid\n"
    "                home: rest.CPX_DECLARED_HOME\n";

static void test_declared_locations(void)
{
    struct config cfg;
    config_defaults(&cfg);
    setenv("CPX_DECLARED_HOME", "/home/x", 1);
    struct runtime *rt = testrt_load("d.yaml", doc, &cfg);
    CHECK(rt != NULL);
    if (!rt) {
        config_deinit(&cfg);
        return;
    }
    const struct rt_call *call = &rt->calls[0];
    const char *raw = "{\"user\": {\"id\": \"u-7\"}}";
    cJSON *body = cJSON_Parse(raw);
    /* `mode` in the query is ignored (the operation fixes it); `region` comes from the header
     * the operation's own parameter names, not from the resource's query parameter. */
    struct mapping_kv query[] = {{"mode", "loose", 5}, {"region", "q-region", 8}};
    struct mapping_kv headers[] = {
        {"Tenant", "acme", 4}, {"Region", "h-region", 8}, {"Cookie", "a=1; sid=s-42; b=2", 18}};
    struct mapping_input in = {.query = query,
                               .nquery = 2,
                               .headers = headers,
                               .nheaders = 3,
                               .body = body,
                               .raw_body = raw,
                               .raw_body_len = strlen(raw)};
    struct outreq out;
    struct mapping_error err;
    outreq_init(&out, MAPPING_MAX_URL);
    CHECK(mapping_build(rt, call, &in, &out, &err) == 0);
    CHECK_STR(out.url.data, "http://up.example/users?q=u-7&region=h-region&mode=strict&session=s-42"
                            "&home=%2Fhome%2Fx");
    const struct outreq_header *t = outreq_find_header(&out, "tenant");
    CHECK(t && str_eq(t->value, "acme"));
    outreq_deinit(&out);

    /* The scope of an orchestration reads them the same way. */
    cJSON *scope = mapping_scope(call, &in);
    char *s = cJSON_PrintUnformatted(scope);
    const cJSON *u = cJSON_GetObjectItem(scope, "userId");
    CHECK(cJSON_IsString(u) && str_eq(u->valuestring, "u-7"));
    const cJSON *m = cJSON_GetObjectItem(scope, "mode");
    CHECK(cJSON_IsString(m) && str_eq(m->valuestring, "strict"));
    const cJSON *r = cJSON_GetObjectItem(scope, "region");
    CHECK(cJSON_IsString(r) && str_eq(r->valuestring, "h-region"));
    if (!u || !m || !r)
        fprintf(stderr, "scope: %s\n", s);
    cJSON_free(s);
    cJSON_Delete(scope);

    /* The body's `user` field is an input (the JSONPath reads it); another field is not. */
    cJSON_Delete(body);
    raw = "{\"user\": {\"id\": \"u-7\"}, \"usr\": 1}";
    body = cJSON_Parse(raw);
    in.body = body;
    in.raw_body = raw;
    in.raw_body_len = strlen(raw);
    outreq_init(&out, MAPPING_MAX_URL);
    CHECK(mapping_build(rt, call, &in, &out, &err) == -1);
    CHECK(err.status == 400);
    CHECK_STR(err.param, "usr");
    outreq_deinit(&out);

    cJSON_Delete(body);
    runtime_free(rt);
    config_deinit(&cfg);
    unsetenv("CPX_DECLARED_HOME");
}

static void test_bad_jsonpath_value(void)
{
    struct diag d;
    diag_init(&d);
    struct model *m = model_new();
    static const char bad[] =
        "naftiko: 1.0.0-alpha2\n"
        "capability:\n"
        "  exposes:\n"
        "    - type: rest\n"
        "      namespace: r\n"
        "      resources:\n"
        "        - path: /x\n"
        "          operations:\n"
        "            - method: GET\n"
        "              inputParameters:\n"
        "                - name: a\n"
        "                  in: body\n"
        "                  value: '$.a['\n"
        "              outputParameters: [{name: a, type: string, value: x}]\n";
    CHECK(loader_load_buffer(m, "b.yaml", bad, strlen(bad), &d) != 0);
    char *got = d.n ? diag_format(&d.v[0]) : NULL;
    CHECK(got && strstr(got, "b.yaml:13:") && strstr(got, "invalid JSONPath '$.a[' for 'value'"));
    if (got && !strstr(got, "invalid JSONPath"))
        fprintf(stderr, "%s\n", got);
    free(got);
    model_free(m);
    diag_deinit(&d);
}

/* A consumed cookie parameter's value cannot add a cookie of its own to the Cookie header. */
static void test_cookie_values(void)
{
    static const char cdoc[] = "naftiko: 1.0.0-alpha2\n"
                               "capability:\n"
                               "  consumes:\n"
                               "    - type: http\n"
                               "      namespace: api\n"
                               "      baseUri: http://up.example\n"
                               "      resources:\n"
                               "        - name: r\n"
                               "          path: /r\n"
                               "          operations:\n"
                               "            - name: get\n"
                               "              method: GET\n"
                               "              inputParameters:\n"
                               "                - {name: pref, in: cookie}\n"
                               "  exposes:\n"
                               "    - type: mcp\n"
                               "      namespace: t\n"
                               "      tools:\n"
                               "        - name: get\n"
                               "          description: d\n"
                               "          call: api.get\n"
                               "          with: {pref: tools.pref}\n";
    struct config cfg;
    config_defaults(&cfg);
    struct runtime *rt = testrt_load("c.yaml", cdoc, &cfg);
    CHECK(rt != NULL);
    if (!rt) {
        config_deinit(&cfg);
        return;
    }
    static const char *const vals[] = {"dark", "x; session=evil", "a b", "q\"", "a,b"};
    for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++) {
        cJSON *args = cJSON_CreateObject();
        cJSON_AddStringToObject(args, "pref", vals[i]);
        struct mapping_input in = {.mcp = true, .args = args};
        struct outreq out;
        struct mapping_error err;
        outreq_init(&out, MAPPING_MAX_URL);
        int rc = mapping_build(rt, &rt->calls[0], &in, &out, &err);
        if (i == 0) {
            CHECK(rc == 0);
            const struct outreq_header *h = outreq_find_header(&out, "Cookie");
            CHECK(h && str_eq(h->value, "pref=dark"));
        } else {
            CHECK(rc == -1 && err.status == 400);
            CHECK_STR(err.param, "pref");
        }
        outreq_deinit(&out);
        cJSON_Delete(args);
    }
    runtime_free(rt);
    config_deinit(&cfg);
}

int main(void)
{
    RUN(test_cookie_values());
    RUN(test_declared_locations());
    RUN(test_bad_jsonpath_value());
    return harness_report();
}
