/* Unit tests for the runtime's per-call tables: what runtime_build precomputes for mapping
 * (parameters with their `with` entry and credential flag, query-encoded names, the credential
 * headers a call may add, declared credential inputs, the inbound credential, the object-body
 * rule, the encoded query apikey) equals what the document lookups answer, for every call of
 * the shipped capabilities and of the loader fixtures that build. */
#include "harness.h"
#include "testrt.h"

#include <dirent.h>
#include <stdlib.h>
#include <string.h>

#include "base/diag.h"
#include "core/runtime.h"
#include "spec/checks.h"
#include "spec/config.h"
#include "spec/loader.h"
#include "spec/urlenc.h"

/* Fixtures that do not load or build are skipped, quietly. */
static struct runtime *build_file(const char *path, const struct config *cfg)
{
    return testrt_load_path(path, cfg, true);
}

static struct runtime *build_text(const char *yaml, const struct config *cfg)
{
    return testrt_load("doc.yaml", yaml, cfg);
}

static char *query_enc(const char *s)
{
    struct strbuf b;
    strbuf_init(&b, 0);
    urlenc_query(s, strlen(s), &b);
    return strbuf_detach(&b, NULL);
}

static size_t ncalls_checked, nparams_checked, ncreds_checked;

/* The old per-request derivations, written out again, against the tables. */
static void check_call(const struct runtime *rt, const struct rt_call *c)
{
    const struct model_operation *op = c->op;
    const struct rt_consumer *cons = c->consumer;
    const struct model_param *lists[2] = {op->params, cons->mc->params};
    size_t counts[2] = {op->nparams, cons->mc->nparams};
    size_t k = 0;
    bool body_param = false;
    for (int l = 0; l < 2; l++)
        for (size_t i = 0; i < counts[l]; i++) {
            const struct model_param *p = &lists[l][i];
            body_param |= p->in == MODEL_IN_BODY;
            if (l == 1 && model_op_param(op, p->name) != p)
                continue;
            CHECK(k < c->nparams);
            if (k >= c->nparams)
                return;
            const struct rt_param *rp = &c->params[k++];
            CHECK(rp->p == p);
            CHECK(rp->with == model_call_with(c->mcall, p->name));
            CHECK(rp->credential ==
                  (p->in == MODEL_IN_HEADER && runtime_is_credential(cons, p->name)));
            if (p->in == MODEL_IN_QUERY) {
                char *want = query_enc(p->name);
                CHECK_STR(rp->query_name_enc, want);
                free(want);
            } else {
                CHECK(rp->query_name_enc == NULL);
            }
            nparams_checked++;
        }
    CHECK(k == c->nparams);
    for (size_t i = 0; i < c->mcall->nparams; i++)
        CHECK(c->declared_is_cred[i] ==
              runtime_input_is_credential(cons, op, c->mcall->params[i].name));

    k = 0;
    for (size_t i = 0; i < cons->ncreds; i++) {
        const struct rt_credential *cr = &cons->creds[i];
        const struct model_param *p = model_op_param(op, cr->header);
        bool declared = p && p->in == MODEL_IN_HEADER;
        if (!declared && !cr->from_auth)
            continue;
        CHECK(k < c->ncreds);
        if (k >= c->ncreds)
            return;
        const struct rt_cred_out *co = &c->creds[k++];
        CHECK(co->cr == cr && co->p == p);
        CHECK_STR(co->header, cr->header);
        CHECK_STR(co->send_as, declared ? p->name : cr->header);
        CHECK(co->required == (cr->from_auth || (p && p->required)));
        ncreds_checked++;
    }
    for (int l = 0; l < 2; l++)
        for (size_t i = 0; i < counts[l]; i++) {
            const struct model_param *p = &lists[l][i];
            if (p->in != MODEL_IN_HEADER || !runtime_is_credential(cons, p->name) ||
                runtime_credential(cons, p->name))
                continue;
            CHECK(k < c->ncreds);
            if (k >= c->ncreds)
                return;
            const struct rt_cred_out *co = &c->creds[k++];
            CHECK(co->cr == NULL && co->p == p);
            CHECK_STR(co->header, p->name);
            CHECK_STR(co->send_as, p->name);
            CHECK(co->required == p->required);
            ncreds_checked++;
        }
    CHECK(k == c->ncreds);

    CHECK(c->inbound == runtime_inbound(rt, c->expose));
    bool object =
        (op->method == MODEL_POST || op->method == MODEL_PUT || op->method == MODEL_PATCH) &&
        body_param;
    CHECK(c->object_body == object);
    ncalls_checked++;
}

static void check_runtime(const struct runtime *rt)
{
    for (size_t i = 0; i < rt->ncalls; i++)
        check_call(rt, &rt->calls[i]);
    for (size_t i = 0; i < rt->nconsumers; i++) {
        const struct rt_consumer *rc = &rt->consumers[i];
        if (!rc->query_auth_name || !rc->query_auth_value) {
            CHECK(rc->query_auth_enc == NULL);
            continue;
        }
        char *n = query_enc(rc->query_auth_name), *v = query_enc(rc->query_auth_value);
        size_t want_len = strlen(n) + 1 + strlen(v);
        CHECK(rc->query_auth_enc && strlen(rc->query_auth_enc) == want_len);
        CHECK(rc->query_auth_enc && strncmp(rc->query_auth_enc, n, strlen(n)) == 0 &&
              rc->query_auth_enc[strlen(n)] == '=' &&
              strcmp(rc->query_auth_enc + strlen(n) + 1, v) == 0);
        free(n);
        free(v);
    }
}

/* Every *.yaml of <dir> built with <cfg>; returns how many built. */
static size_t check_dir(const char *dir, const struct config *cfg)
{
    DIR *dp = opendir(dir);
    CHECK(dp != NULL);
    if (!dp)
        return 0;
    size_t built = 0;
    for (struct dirent *e; (e = readdir(dp));) {
        size_t n = strlen(e->d_name);
        if (n < 5 || strcmp(e->d_name + n - 5, ".yaml") != 0)
            continue;
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        struct runtime *rt = build_file(path, cfg);
        if (!rt)
            continue;
        check_runtime(rt);
        runtime_free(rt);
        built++;
    }
    closedir(dp);
    return built;
}

static void test_shipped_and_fixtures(void)
{
    struct config shipped, plain;
    struct diag d;
    diag_init(&d);
    config_defaults(&shipped);
    setenv("CAL_COM_BASE_URI", "http://127.0.0.1:9", 1);
    setenv("CAL_COM_CLIENT_SECRET", "configured-secret", 1);
    config_load_file(&shipped, "config/capproxy.yaml", true, &d);
    config_finish(&shipped, &d);
    CHECK(d.nerrors == 0);
    diag_deinit(&d);
    config_defaults(&plain);

    /* Every shipped capability builds with the shipped configuration. */
    CHECK(check_dir("capabilities", &shipped) == 8);
    static const char *const fixtures[] = {"tests/data/loader/good", "tests/data/loader/multi",
                                           "tests/data/loader/cross", "tests/data/loader/bad"};
    size_t built = 0;
    for (size_t i = 0; i < sizeof fixtures / sizeof *fixtures; i++) {
        built += check_dir(fixtures[i], &shipped);
        built += check_dir(fixtures[i], &plain);
    }
    CHECK(built > 0);
    unsetenv("CAL_COM_CLIENT_SECRET");
    /* And without the configured secret (credentials without value). */
    config_deinit(&shipped);
    config_defaults(&shipped);
    diag_init(&d);
    config_load_file(&shipped, "config/capproxy.yaml", true, &d);
    config_finish(&shipped, &d);
    diag_deinit(&d);
    CHECK(check_dir("capabilities", &shipped) == 8);
    config_deinit(&shipped);
    config_deinit(&plain);
}

/* Cases the shipped documents do not have: a namespace parameter hidden by the operation's, a
 * declared credential header nothing configures, a query apikey, query names that need
 * encoding, an operation with a body parameter on GET. */
static const char *doc_yaml =
    "naftiko: 1.0.0-alpha2\n"
    "binds:\n"
    "  - namespace: env\n"
    "    keys: {Q_KEY: CPX_RT_QKEY}\n"
    "capability:\n"
    "  consumes:\n"
    "    - type: http\n"
    "      namespace: api\n"
    "      baseUri: http://up.example\n"
    "      authentication: {type: apikey, key: 'api key', placement: query, value: "
    "'{{Q_KEY}}'}\n"
    "      inputParameters:\n"
    "        - {name: limit, in: query, type: number}\n"
    "        - {name: x-session-token, in: header, type: string}\n"
    "      resources:\n"
    "        - name: things\n"
    "          path: /things\n"
    "          operations:\n"
    "            - name: list\n"
    "              method: GET\n"
    "              inputParameters:\n"
    "                - {name: limit, in: query, type: string}\n"
    "                - {name: 'a b&c', in: query, type: string}\n"
    "                - {name: x-password, in: header, type: string, required: true}\n"
    "                - {name: stray, in: body, type: string}\n"
    "            - name: create\n"
    "              method: POST\n"
    "              inputParameters:\n"
    "                - {name: note, in: body, type: string}\n"
    "  exposes:\n"
    "    - type: rest\n"
    "      namespace: api-rest\n"
    "      port: 8080\n"
    "      resources:\n"
    "        - path: /things\n"
    "          operations:\n"
    "            - {method: GET, call: api.list, with: {limit: rest.limit}}\n"
    "            - {method: POST, call: api.create}\n";

static void test_edges(void)
{
    struct config cfg;
    config_defaults(&cfg);
    setenv("CPX_RT_QKEY", "k&1 2", 1);
    struct runtime *rt = build_text(doc_yaml, &cfg);
    CHECK(rt != NULL);
    if (!rt)
        return;
    check_runtime(rt);
    const struct rt_call *list = NULL, *create = NULL;
    for (size_t i = 0; i < rt->ncalls; i++) {
        if (str_eq(rt->calls[i].op->name, "list"))
            list = &rt->calls[i];
        if (str_eq(rt->calls[i].op->name, "create"))
            create = &rt->calls[i];
    }
    CHECK(list && create);
    if (list && create) {
        /* limit (op), a b&c, x-password, stray, then x-session-token: the namespace limit is
         * hidden. */
        CHECK(list->nparams == 5);
        CHECK_STR(list->params[0].p->name, "limit");
        CHECK(list->params[0].p == &list->op->params[0]);
        CHECK(list->params[0].with != NULL);
        CHECK_STR(list->params[1].query_name_enc, "a%20b%26c");
        CHECK(list->params[2].credential);
        CHECK_STR(list->params[4].p->name, "x-session-token");
        CHECK(list->params[4].credential);
        /* Both declared credential headers, nothing configured: caller only. */
        CHECK(list->ncreds == 2);
        CHECK(list->ncreds == 2 && list->creds[0].cr == NULL && list->creds[0].required);
        CHECK(list->ncreds == 2 && !list->creds[1].required);
        CHECK(!list->object_body); /* GET */
        CHECK(create->object_body);
        CHECK_STR(rt->consumers[0].query_auth_enc, "api%20key=k%261%202");
    }
    runtime_free(rt);
    config_deinit(&cfg);
}

int main(void)
{
    RUN(test_shipped_and_fixtures());
    RUN(test_edges());
    printf("%zu calls, %zu parameters, %zu credential headers compared\n", ncalls_checked,
           nparams_checked, ncreds_checked);
    return harness_report();
}
