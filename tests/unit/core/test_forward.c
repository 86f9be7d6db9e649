/*
 * Unit tests of forward resources: the router's catch-all routes (precedence, collisions, the
 * rest of the path as one raw capture), the runtime's forward calls, and forward_build (URL,
 * query, header filtering, namespace parameters, credentials, body, refusals).
 */
#include "harness.h"
#include "testrt.h"

#include <stdlib.h>

#include "core/forward.h"
#include "core/router.h"
#include "core/runtime.h"

/* ---- router ---- */

static int t_fwd, t_op, t_var, t_other;

static void test_router_rest(void)
{
    struct router *r = router_new();
    struct router_match m;
    void *conflict = NULL;
    const char *err = NULL;

    for (int k = 0; k < MODEL_METHOD_COUNT; k++)
        CHECK(router_add_rest(r, (enum model_method)k, "/legacy/{path}", &t_fwd, NULL, NULL) == 0);
    CHECK(router_add(r, MODEL_GET, "/legacy/special", &t_op, NULL, NULL) == 0);
    CHECK(router_add(r, MODEL_GET, "/legacy/{id}/one", &t_var, NULL, NULL) == 0);
    /* A one-segment variable route at the same place is another route. */
    CHECK(router_add(r, MODEL_PUT, "/legacy/{id}", &t_other, NULL, NULL) == 0);
    /* The same catch-all twice is a collision, whatever the variable is called. */
    CHECK(router_add_rest(r, MODEL_GET, "/legacy/{rest}", &t_other, &conflict, &err) == -1);
    CHECK(conflict == &t_fwd && err != NULL);

    CHECK(router_match(r, MODEL_GET, "/legacy/a/b%2Fc/", 16, &m) == ROUTER_FOUND);
    CHECK(m.target == &t_fwd && m.ncaptures == 1);
    CHECK(m.captures[0].len == 8 && memcmp(m.captures[0].value, "a/b%2Fc/", 8) == 0);
    CHECK_STR(m.captures[0].name, "path");
    /* Literal and one-segment routes win where they match. */
    CHECK(router_match(r, MODEL_GET, "/legacy/special", 15, &m) == ROUTER_FOUND);
    CHECK(m.target == &t_op);
    CHECK(router_match(r, MODEL_POST, "/legacy/special", 15, &m) == ROUTER_FOUND);
    CHECK(m.target == &t_fwd);
    CHECK(router_match(r, MODEL_GET, "/legacy/x/one", 13, &m) == ROUTER_FOUND);
    CHECK(m.target == &t_var);
    CHECK(router_match(r, MODEL_GET, "/legacy/x/two", 13, &m) == ROUTER_FOUND);
    CHECK(m.target == &t_fwd && m.captures[0].len == 5);
    CHECK(router_match(r, MODEL_PUT, "/legacy/x", 9, &m) == ROUTER_FOUND);
    CHECK(m.target == &t_other);
    CHECK(router_match(r, MODEL_DELETE, "/legacy/x", 9, &m) == ROUTER_FOUND);
    CHECK(m.target == &t_fwd);
    /* The rest is never empty: the prefix alone is no match. */
    CHECK(router_match(r, MODEL_GET, "/legacy/", 8, &m) == ROUTER_NOT_FOUND);
    CHECK(router_match(r, MODEL_GET, "/legacy", 7, &m) == ROUTER_NOT_FOUND);
    /* A template that does not end in a variable is an exact route. */
    CHECK(router_add_rest(r, MODEL_GET, "/exact", &t_other, NULL, NULL) == 0);
    CHECK(router_match(r, MODEL_GET, "/exact", 6, &m) == ROUTER_FOUND && m.ncaptures == 0);
    CHECK(router_match(r, MODEL_GET, "/exact/x", 8, &m) == ROUTER_NOT_FOUND);
    router_free(r);
}

/* ---- forward_build ---- */

static const char *doc_yaml =
    "naftiko: 1.0.0-alpha2\n"
    "binds:\n"
    "  - namespace: env\n"
    "    keys: {FWD_TOKEN: CPX_FWD_TOKEN, FWD_VERSION: CPX_FWD_VERSION}\n"
    "capability:\n"
    "  consumes:\n"
    "    - namespace: legacy\n"
    "      baseUri: http://up.example/v1/\n"
    "      authentication: {type: bearer, token: '{{FWD_TOKEN}}'}\n"
    "      inputParameters:\n"
    "        - {name: Notion-Version, in: header, value: '{{FWD_VERSION}}'}\n"
    "        - {name: tenant, in: query, value: 'acme corp'}\n"
    "        - {name: X-Unset, in: header}\n"
    "    - namespace: open\n"
    "      baseUri: http://open.example\n"
    "      authentication: {type: apikey, key: key, value: 'k&1', placement: query}\n"
    "  exposes:\n"
    "    - type: rest\n"
    "      namespace: gw\n"
    "      authentication: {type: apikey, key: X-Gw-Key, value: inbound-secret, placement: "
    "header}\n"
    "      resources:\n"
    "        - path: /legacy/{path}\n"
    "          name: legacy-fwd\n"
    "          forward:\n"
    "            targetNamespace: legacy\n"
    "            trustedHeaders: [X-Trace, Authorization, Notion-Version, Host, X-Gw-Key, Accept]\n"
    "        - path: /open\n"
    "          forward: {targetNamespace: open}\n";

static const struct rt_call *forward_call(const struct runtime *rt, const char *path)
{
    for (size_t i = 0; i < rt->ncalls; i++)
        if (rt->calls[i].forward && str_eq(rt->calls[i].route_path, path))
            return &rt->calls[i];
    return NULL;
}

static size_t count_header(const struct outreq *o, const char *name)
{
    size_t n = 0;
    for (size_t i = 0; i < o->nheaders; i++)
        n += str_eq_ci(o->headers[i].name, name);
    return n;
}

static const char *header(const struct outreq *o, const char *name)
{
    const struct outreq_header *h = outreq_find_header(o, name);
    return h ? h->value : NULL;
}

static int build(const struct runtime *rt, const struct rt_call *c, struct forward_input *in,
                 struct outreq *out, struct mapping_error *err)
{
    outreq_deinit(out);
    outreq_init(out, MAPPING_MAX_URL);
    return forward_build(rt, c, in, out, err);
}

static void test_build(void)
{
    struct config cfg;
    config_defaults(&cfg);
    setenv("CPX_FWD_TOKEN", "tok-1", 1);
    setenv("CPX_FWD_VERSION", "2025-09-03", 1);
    struct runtime *rt = testrt_load("fwd.yaml", doc_yaml, &cfg);
    CHECK(rt != NULL);
    if (!rt) {
        config_deinit(&cfg);
        return;
    }
    const struct rt_call *c = forward_call(rt, "/legacy/{path}");
    CHECK(c && !c->op && !c->mcall && c->passthrough && c->inbound);
    if (!c)
        goto done;
    CHECK_STR(c->name, "legacy-fwd");

    struct outreq out;
    struct mapping_error err;
    outreq_init(&out, 0);
    /* Headers as reqcheck_headers hands them over: the inbound X-Gw-Key already left out. */
    struct mapping_kv hs[] = {
        {"X-Trace", "abc-123", 7},
        {"Cookie", "session=s3cret", 14},
        {"X-Evil", "1", 1},
        {"Host", "proxy.local", 11},
        {"Content-Type", "text/plain; charset=utf-8", 25},
        {"Notion-Version", "caller", 6},
        {"X-Request-Id", "rid-1", 5},
    };
    struct forward_input in = {.method = MODEL_POST,
                               .rest = "a%20b/c;v=1/",
                               .rest_len = 12,
                               .query = "q=%C3%A9t%C3%A9&flag&x=a+b",
                               .headers = hs,
                               .nheaders = UTIL_ARRAY_LEN(hs),
                               .body = "raw\0bytes",
                               .body_len = 9};
    CHECK(build(rt, c, &in, &out, &err) == 0);
    CHECK(out.method == MODEL_POST);
    CHECK_STR(out.url.data,
              "http://up.example/v1/a%20b/c;v=1/?q=%C3%A9t%C3%A9&flag&x=a+b&tenant=acme%20corp");
    CHECK_STR(header(&out, "X-Trace"), "abc-123");
    CHECK(count_header(&out, "Cookie") == 0);
    CHECK(count_header(&out, "X-Evil") == 0);
    CHECK(count_header(&out, "Host") == 0);
    CHECK(count_header(&out, "X-Request-Id") == 0); /* the loop adds capproxy's own */
    CHECK(count_header(&out, "X-Unset") == 0);
    /* The namespace's fixed value wins over the caller's trusted one, sent once. */
    CHECK(count_header(&out, "Notion-Version") == 1);
    CHECK_STR(header(&out, "Notion-Version"), "2025-09-03");
    /* The document's authentication: the configured token, the caller sent none. */
    CHECK(count_header(&out, "Authorization") == 1);
    CHECK_STR(header(&out, "Authorization"), "Bearer tok-1");
    CHECK_STR(header(&out, "Content-Type"), "text/plain; charset=utf-8");
    CHECK(out.body_len == 9 && memcmp(out.body, "raw\0bytes", 9) == 0);

    /* A trusted Authorization of the caller's wins over the configured one, as for any call;
     * an untrusted one never travels. */
    struct mapping_kv auth[] = {{"Authorization", "Bearer caller", 13}};
    in = (struct forward_input){.method = MODEL_GET, .headers = auth, .nheaders = 1};
    CHECK(build(rt, c, &in, &out, &err) == 0);
    CHECK_STR(out.url.data, "http://up.example/v1?tenant=acme%20corp");
    CHECK(count_header(&out, "Authorization") == 1);
    CHECK_STR(header(&out, "Authorization"), "Bearer caller");
    CHECK(out.body == NULL && count_header(&out, "Content-Type") == 0);

    /* A body without a Content-Type is just bytes. */
    in = (struct forward_input){
        .method = MODEL_PUT, .rest = "x", .rest_len = 1, .body = "{}", .body_len = 2};
    CHECK(build(rt, c, &in, &out, &err) == 0);
    CHECK_STR(header(&out, "Content-Type"), "application/octet-stream");

    /* Refusals: what could leave the base URI's path, or is not a URL. */
    static const char *const bad_rest[] = {"..",    "a/../b", "a/%2e%2E/b", ".",    "a/./b",
                                           "a%2Fb", "a%2fb",  "a%5Cb",      "a\\b", "a%00b",
                                           "a//b",  "%zz",    "a%4",        "a\tb", "a%0Ab"};
    for (size_t i = 0; i < UTIL_ARRAY_LEN(bad_rest); i++) {
        in = (struct forward_input){
            .method = MODEL_GET, .rest = bad_rest[i], .rest_len = strlen(bad_rest[i])};
        int rc = build(rt, c, &in, &out, &err);
        CHECK(rc == -1 && err.status == 400);
        CHECK_STR(err.param, "path");
        if (rc != -1)
            fprintf(stderr, "not refused: %s\n", bad_rest[i]);
    }
    in = (struct forward_input){.method = MODEL_GET, .query = "a=%zz"};
    CHECK(build(rt, c, &in, &out, &err) == -1 && err.status == 400);
    CHECK_STR(err.param, "query");
    /* Raw bytes a URL cannot carry are escaped, not refused. */
    in = (struct forward_input){
        .method = MODEL_GET, .rest = "caf\xc3\xa9 x", .rest_len = 7, .query = "a=\"b\""};
    CHECK(build(rt, c, &in, &out, &err) == 0);
    CHECK_STR(out.url.data, "http://up.example/v1/caf%C3%A9%20x?a=%22b%22&tenant=acme%20corp");
    struct mapping_kv ctl[] = {{"X-Trace", "a\rb", 3}};
    in = (struct forward_input){.method = MODEL_GET, .headers = ctl, .nheaders = 1};
    CHECK(build(rt, c, &in, &out, &err) == -1 && err.status == 400);
    CHECK_STR(err.param, "X-Trace");

    /* Without the bind, the document's bearer token is missing: 401 unless the caller sends a
     * trusted one. */
    const struct rt_call *o = forward_call(rt, "/open");
    CHECK(o != NULL);
    if (o) {
        /* The adapter's own query credential is dropped, the consumer's apikey added. */
        in = (struct forward_input){.method = MODEL_DELETE,
                                    .query = "keep=1&X-Gw-Key=inbound-secret&X%2DGw-Key=x&z",
                                    .skip_query = "X-Gw-Key",
                                    .headers = hs,
                                    .nheaders = UTIL_ARRAY_LEN(hs)};
        CHECK(build(rt, o, &in, &out, &err) == 0);
        CHECK_STR(out.url.data, "http://open.example?keep=1&z&key=k%261");
        CHECK(out.nheaders == 0); /* nothing trusted */
        CHECK(out.method == MODEL_DELETE);
    }
    outreq_deinit(&out);
done:
    runtime_free(rt);
    config_deinit(&cfg);
}

static void test_missing_credential(void)
{
    struct config cfg;
    config_defaults(&cfg);
    unsetenv("CPX_FWD_TOKEN");
    setenv("CPX_FWD_VERSION", "v", 1);
    struct runtime *rt = testrt_load("fwd.yaml", doc_yaml, &cfg);
    CHECK(rt != NULL);
    const struct rt_call *c = rt ? forward_call(rt, "/legacy/{path}") : NULL;
    if (c) {
        struct outreq out;
        struct mapping_error err;
        outreq_init(&out, MAPPING_MAX_URL);
        struct forward_input in = {.method = MODEL_GET};
        CHECK(forward_build(rt, c, &in, &out, &err) == -1);
        CHECK(err.status == 401);
        CHECK_STR(err.param, "Authorization");
        outreq_deinit(&out);
    }
    runtime_free(rt);
    config_deinit(&cfg);
}

/* Trusted headers that are never forwarded are a warning at build; a forward colliding with
 * another resource's operation on one path is an error. */
static void test_build_diagnostics(void)
{
    struct config cfg;
    config_defaults(&cfg);
    setenv("CPX_FWD_TOKEN", "t", 1);
    setenv("CPX_FWD_VERSION", "v", 1);
    struct diag d;
    diag_init(&d);
    struct model *m = model_new();
    CHECK(loader_load_buffer(m, "fwd.yaml", doc_yaml, strlen(doc_yaml), &d) == 0);
    CHECK(checks_validate(m, &d) == 0);
    struct runtime *rt = runtime_build(m, &cfg, &d);
    CHECK(rt != NULL);
    CHECK(diag_contains(&d, "fwd.yaml:25:30: warning: trusted header 'Host' is never forwarded"));
    runtime_free(rt);
    diag_deinit(&d);

    static const char clash[] = "naftiko: 1.0.0-alpha2\n"
                                "capability:\n"
                                "  consumes:\n"
                                "    - namespace: up\n"
                                "      baseUri: http://up.example\n"
                                "      resources:\n"
                                "        - path: /a\n"
                                "          operations: [{name: get, method: GET}]\n"
                                "  exposes:\n"
                                "    - type: rest\n"
                                "      namespace: gw\n"
                                "      resources:\n"
                                "        - path: /x\n"
                                "          operations: [{method: GET, call: up.get}]\n"
                                "        - path: /x\n"
                                "          forward: {targetNamespace: up}\n"
                                "        - path: /y\n"
                                "          forward: {targetNamespace: up}\n"
                                "          operations: [{method: GET, call: up.get}]\n";
    diag_init(&d);
    m = model_new();
    CHECK(loader_load_buffer(m, "clash.yaml", clash, strlen(clash), &d) == 0);
    CHECK(checks_validate(m, &d) == 0);
    rt = runtime_build(m, &cfg, &d);
    CHECK(rt == NULL);
    CHECK(diag_contains(&d, "clash.yaml:15:11: error: forward /x: route GET /x is also defined "
                            "by 'get'"));
    CHECK(d.nerrors == 1); /* /y: its own operation keeps GET, the forward takes the rest */
    if (d.nerrors != 1)
        diag_print(&d, stderr);
    runtime_free(rt);
    diag_deinit(&d);
    config_deinit(&cfg);
}

int main(void)
{
    RUN(test_router_rest());
    RUN(test_build());
    RUN(test_missing_credential());
    RUN(test_build_diagnostics());
    return harness_report();
}
