/*
 * Unit tests of ynode and the loader: the seed document loads into the expected model, every
 * construct of the format lands in the right field, and every bad fixture produces its exact
 * message at its exact line and column. Run with the repository root as working directory.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "spec/checks.h"
#include "spec/loader.h"
#include "spec/ynode.h"

#define SEED    "capabilities/cal-com-managed-users.yaml"
#define DATA    "tests/data/loader/"
#define SEED_NS "cal-com-deprecated-platform-managed-users"

static size_t count_consumed_ops(const struct model_capability *cap)
{
    size_t n = 0;
    for (size_t i = 0; i < cap->nconsumers; i++)
        for (size_t r = 0; r < cap->consumers[i].nresources; r++)
            n += cap->consumers[i].resources[r].noperations;
    return n;
}

static const struct model_with *find_with(const struct model_call *c, const char *name)
{
    for (size_t i = 0; i < c->nwith; i++)
        if (strcmp(c->with[i].name, name) == 0)
            return &c->with[i];
    return NULL;
}

static void test_seed(void)
{
    struct model *m = model_new();
    struct diag d;
    diag_init(&d);

    CHECK(loader_load_file(m, SEED, &d) == 0);
    CHECK(checks_validate(m, &d) == 0);
    CHECK(d.n == 0);
    if (d.n)
        diag_print(&d, stderr);
    CHECK(m->ncaps == 1);
    if (m->ncaps != 1)
        goto cleanup;

    const struct model_capability *cap = m->caps[0];
    CHECK_STR(cap->file, SEED);
    CHECK_STR(cap->version, "1.0.0-alpha2");
    CHECK_STR(cap->label, "Cal.diy API v2 — Deprecated: Platform / Managed Users");
    CHECK(cap->description && strstr(cap->description, "Lead operation: Get all managed users."));
    CHECK(cap->pos.line == 1 && cap->pos.col == 1);

    /* binds */
    CHECK(cap->nbinds == 1);
    CHECK_STR(cap->binds[0].ns, "env");
    CHECK(cap->binds[0].location == NULL);
    CHECK(cap->binds[0].nkeys == 1);
    CHECK_STR(cap->binds[0].keys[0].var, "CAL_COM_API_KEY");
    CHECK_STR(cap->binds[0].keys[0].provider, "CAL_COM_API_KEY");
    CHECK(cap->binds[0].keys[0].pos.line == 14 && cap->binds[0].keys[0].pos.col == 5);

    /* consumes */
    CHECK(cap->nconsumers == 1);
    const struct model_consumer *c = &cap->consumers[0];
    CHECK_STR(c->ns, SEED_NS);
    CHECK_STR(c->type, "http");
    CHECK_STR(c->base_uri, "");
    CHECK(c->auth.kind == MODEL_AUTH_NONE);
    CHECK(c->cap == cap);
    CHECK(c->pos.line == 17 && c->pos.col == 5);
    CHECK(c->nresources == 4);
    CHECK(count_consumed_ops(cap) == 7);

    const struct model_resource *r0 = &c->resources[0];
    CHECK_STR(r0->name, "v2-oauth-clients-clientId-users");
    CHECK_STR(r0->path, "/v2/oauth-clients/{clientId}/users");
    CHECK(r0->pos.line == 22 && r0->pos.col == 7);
    CHECK(r0->noperations == 2);
    CHECK_STR(c->resources[3].path, "/v2/oauth/{clientId}/refresh");

    const struct model_operation *get = &r0->operations[0];
    CHECK_STR(get->name, "oauthclientuserscontrollergetmanagedusers");
    CHECK(get->method == MODEL_GET);
    CHECK_STR(get->description, "Get all managed users");
    CHECK_STR(get->output_raw_format, "json");
    CHECK(get->body.kind == MODEL_BODY_NONE);
    CHECK(get->resource == r0);
    CHECK(get->consumer == c);
    CHECK(get->pos.line == 25 && get->pos.col == 9);
    CHECK(get->noutputs == 1);
    CHECK_STR(get->outputs[0].name, "result");
    CHECK(get->outputs[0].type == MODEL_TYPE_OBJECT);
    CHECK_STR(get->outputs[0].mapping, "$.");
    CHECK(get->nparams == 5);
    if (get->nparams == 5) {
        const struct model_param *p = get->params;
        CHECK_STR(p[0].name, "x-cal-secret-key");
        CHECK(p[0].in == MODEL_IN_HEADER);
        CHECK(p[0].type == MODEL_TYPE_STRING);
        CHECK(p[0].required);
        CHECK_STR(p[0].description, "OAuth client secret key");
        CHECK(p[0].pos.line == 34 && p[0].pos.col == 11);
        CHECK(p[1].in == MODEL_IN_PATH && p[1].required && p[1].description == NULL);
        CHECK_STR(p[2].name, "limit");
        CHECK(p[2].in == MODEL_IN_QUERY && p[2].type == MODEL_TYPE_NUMBER && !p[2].required);
        CHECK(p[4].type == MODEL_TYPE_ARRAY && !p[4].required);
        CHECK(p[4].value == NULL);
    }
    const struct model_operation *create = &r0->operations[1];
    CHECK(create->method == MODEL_POST);
    CHECK(create->nparams == 3 && create->params[2].in == MODEL_IN_BODY &&
          create->params[2].type == MODEL_TYPE_OBJECT && create->params[2].required);
    CHECK(c->resources[1].operations[1].method == MODEL_PATCH);
    CHECK(c->resources[1].operations[2].method == MODEL_DELETE);
    CHECK(c->resources[1].operations[0].params[2].type == MODEL_TYPE_NUMBER);

    /* exposes */
    CHECK(cap->nexposes == 2);
    const struct model_expose *rest = &cap->exposes[0], *mcp = &cap->exposes[1];
    CHECK(rest->type == MODEL_EXPOSE_REST);
    CHECK_STR(rest->ns, SEED_NS "-rest");
    CHECK(rest->port == 8080);
    CHECK(rest->address == NULL && rest->transport == NULL);
    CHECK(rest->cap == cap);
    CHECK(rest->pos.line == 205 && rest->pos.col == 5);
    CHECK(rest->nresources == 4);
    size_t nrest = 0;
    for (size_t i = 0; i < rest->nresources; i++) {
        CHECK(rest->resources[i].expose == rest);
        for (size_t j = 0; j < rest->resources[i].noperations; j++) {
            const struct model_rest_op *op = &rest->resources[i].operations[j];
            nrest++;
            CHECK(op->resource == &rest->resources[i]);
            CHECK(op->call.target != NULL);
            CHECK(op->call.target && op->call.target->method == op->method);
            for (size_t w = 0; w < op->call.nwith; w++)
                CHECK(op->call.with[w].kind == MODEL_WITH_REF);
        }
    }
    CHECK(nrest == 7);

    const struct model_rest_resource *rr = &rest->resources[0];
    CHECK_STR(rr->path, "/v1/v2/oauth-clients/{clientid}/users");
    CHECK_STR(rr->name, "v2-oauth-clients-clientid-users");
    CHECK(rr->pos.line == 211 && rr->pos.col == 7);
    const struct model_rest_op *rop = &rr->operations[0];
    CHECK(rop->method == MODEL_GET);
    CHECK_STR(rop->name, "oauthclientuserscontrollergetmanagedusers");
    CHECK(rop->pos.line == 215 && rop->pos.col == 9);
    CHECK_STR(rop->call.call, SEED_NS ".oauthclientuserscontrollergetmanagedusers");
    CHECK(rop->call.target == get);
    CHECK(rop->call.nwith == 5);
    CHECK(rop->call.nparams == 0);
    CHECK(rop->call.noutputs == 1 && rop->call.outputs[0].type == MODEL_TYPE_OBJECT);
    CHECK_STR(rop->call.outputs[0].mapping, "$.");
    CHECK(rop->call.outputs[0].name == NULL);
    const struct model_with *w = &rop->call.with[0];
    CHECK_STR(w->name, "x-cal-secret-key");
    CHECK(w->kind == MODEL_WITH_REF);
    CHECK_STR(w->ref, "x-cal-secret-key");
    CHECK(w->pos.line == 220 && w->pos.col == 11);
    w = find_with(&rop->call, "clientId");
    CHECK(w && w->kind == MODEL_WITH_REF);
    CHECK_STR(w ? w->ref : NULL, "clientId");
    CHECK(rr->operations[1].call.target == create);

    CHECK(mcp->type == MODEL_EXPOSE_MCP);
    CHECK_STR(mcp->ns, SEED_NS "-mcp");
    CHECK(mcp->port == 9090);
    CHECK_STR(mcp->transport, "http");
    CHECK(mcp->description && strstr(mcp->description, "this capability's consumes block."));
    CHECK(mcp->ntools == 7);
    const struct model_tool *tool = &mcp->tools[0];
    CHECK_STR(tool->name, "get-all-managed-users");
    CHECK_STR(tool->description, "Get all managed users");
    CHECK(tool->label == NULL);
    CHECK(tool->hints.read_only == 1 && tool->hints.destructive == 0);
    CHECK(tool->hints.idempotent == 1 && tool->hints.open_world == -1);
    CHECK(tool->expose == mcp);
    CHECK(tool->pos.line == 314 && tool->pos.col == 7);
    CHECK(tool->call.target == get);
    CHECK(tool->call.nwith == 5);
    w = find_with(&tool->call, "clientId");
    CHECK(w && w->kind == MODEL_WITH_REF);
    CHECK_STR(w ? w->ref : NULL, "clientId");
    CHECK(w && w->pos.line == 323 && w->pos.col == 9);
    const struct model_tool *del = &mcp->tools[4];
    CHECK_STR(del->name, "delete-managed-user");
    CHECK(del->hints.read_only == 0 && del->hints.destructive == 1 && del->hints.idempotent == 1);
    CHECK(del->call.target == &c->resources[1].operations[2]);
    CHECK_STR(mcp->tools[6].name, "refresh-managed-user-tokens");
    CHECK(mcp->tools[6].call.target == &c->resources[3].operations[0]);
    for (size_t i = 0; i < mcp->ntools; i++)
        CHECK(mcp->tools[i].call.target != NULL);

cleanup:
    diag_deinit(&d);
    model_free(m);
}

static void test_features(void)
{
    struct model *m = model_new();
    struct diag d;
    diag_init(&d);

    CHECK(loader_load_path(m, DATA "good/features.yaml", &d) == 0);
    CHECK(checks_validate(m, &d) == 0);
    if (d.n)
        diag_print(&d, stderr);
    CHECK(d.n == 0 && m->ncaps == 1);
    if (m->ncaps != 1)
        goto cleanup;
    const struct model_capability *cap = m->caps[0];
    CHECK(cap->pos.line == 2 && cap->pos.col == 1);
    CHECK_STR(cap->label, "Loader features");
    CHECK_STR(cap->binds[0].location, "file:///run/secrets/features.json");
    CHECK(cap->binds[0].nkeys == 2);
    CHECK_STR(cap->binds[0].keys[1].var, "ADMIN_PASSWORD");
    CHECK_STR(cap->binds[0].keys[1].provider, "FEATURES_ADMIN_PASSWORD");
    CHECK(cap->binds[0].keys[1].pos.line == 11);

    CHECK(cap->nconsumers == 2);
    const struct model_consumer *shop = &cap->consumers[0], *admin = &cap->consumers[1];
    CHECK_STR(shop->description, "The shop API.");
    CHECK(shop->nparams == 1);
    CHECK_STR(shop->params[0].name, "Accept");
    CHECK_STR(shop->params[0].value, "application/json");
    CHECK(shop->auth.kind == MODEL_AUTH_BEARER);
    CHECK_STR(shop->auth.token, "{{API_TOKEN}}");
    CHECK(shop->auth.pos.line == 23 && shop->auth.pos.col == 7);
    CHECK(admin->auth.kind == MODEL_AUTH_BASIC);
    CHECK_STR(admin->auth.username, "admin");
    CHECK_STR(admin->auth.password, "{{ADMIN_PASSWORD}}");
    CHECK(admin->resources[0].name == NULL);

    const struct model_operation *upd = &shop->resources[0].operations[0];
    CHECK_STR(shop->resources[0].path, "/orders/{{orderId}}/lines/{lineId}");
    CHECK(upd->method == MODEL_PUT);
    CHECK(upd->nparams == 5);
    CHECK(upd->params[0].type == MODEL_TYPE_INTEGER && upd->params[0].required);
    CHECK(!upd->params[1].required && upd->params[1].type == MODEL_TYPE_ANY);
    CHECK(upd->params[2].in == MODEL_IN_BODY);
    CHECK(upd->params[3].in == MODEL_IN_ENVIRONMENT);
    CHECK(upd->params[4].in == MODEL_IN_COOKIE);
    CHECK(model_op_param(upd, "Accept") == &shop->params[0]);
    CHECK(upd->body.kind == MODEL_BODY_JSON);
    CHECK(upd->body.pos.line == 49 && upd->body.pos.col == 11);
    const cJSON *body = upd->body.json;
    CHECK(cJSON_IsNumber(cJSON_GetObjectItem(body, "quantity")));
    CHECK(cJSON_GetObjectItem(body, "quantity") &&
          cJSON_GetObjectItem(body, "quantity")->valuedouble == 3);
    CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(body, "note")), "{{note}}");
    CHECK(cJSON_GetArraySize(cJSON_GetObjectItem(body, "tags")) == 2);
    CHECK(cJSON_IsFalse(cJSON_GetObjectItem(body, "gift")));
    CHECK(cJSON_IsNull(cJSON_GetObjectItem(body, "coupon")));
    CHECK(upd->noutputs == 1 && upd->outputs[0].nproperties == 2);
    CHECK_STR(upd->outputs[0].mapping, "$.data");
    CHECK_STR(upd->outputs[0].properties[1].name, "qty");
    CHECK(upd->outputs[0].properties[1].type == MODEL_TYPE_NUMBER);
    CHECK_STR(upd->outputs[0].properties[1].mapping, "$.quantity");

    const struct model_operation *note = &shop->resources[0].operations[1];
    CHECK(note->body.kind == MODEL_BODY_TEMPLATE);
    CHECK_STR(note->body.template, "note: {{note}}");
    CHECK(note->outputs[0].type == MODEL_TYPE_ARRAY);
    CHECK(note->outputs[0].items != NULL);
    if (note->outputs[0].items) {
        const struct model_output *item = note->outputs[0].items;
        CHECK(item->type == MODEL_TYPE_OBJECT && item->nproperties == 1);
        CHECK_STR(item->nproperties ? item->properties[0].name : NULL, "sku");
        CHECK_STR(item->nproperties ? item->properties[0].mapping : NULL, "$.sku");
    }

    const struct model_expose *rest = &cap->exposes[0], *mcp = &cap->exposes[1];
    CHECK_STR(rest->address, "127.0.0.1");
    CHECK(rest->port == 8081);
    CHECK(rest->auth.kind == MODEL_AUTH_APIKEY && rest->auth.in_query);
    CHECK_STR(rest->auth.key, "api_key");
    CHECK_STR(rest->auth.value, "{{API_TOKEN}}");
    const struct model_rest_op *op = &rest->resources[0].operations[0];
    CHECK(op->method == MODEL_PUT && op->call.target == upd);
    CHECK(op->call.nparams == 1 && op->call.params[0].in == MODEL_IN_HEADER);
    CHECK(op->call.nwith == 10);

    const struct model_with *w = find_with(&op->call, "orderId");
    CHECK(w && w->kind == MODEL_WITH_REF && str_eq(w->ref, "id"));
    CHECK(w && w->pos.line == 113 && w->pos.col == 11);
    w = find_with(&op->call, "lineId"); /* the adapter's own namespace as prefix */
    CHECK(w && w->kind == MODEL_WITH_REF && str_eq(w->ref, "line"));
    w = find_with(&op->call, "other");
    CHECK(w && w->kind == MODEL_WITH_REF && str_eq(w->ref, "x"));
    w = find_with(&op->call, "note");
    CHECK(w && w->kind == MODEL_WITH_TEMPLATE && str_eq(w->text, "Updated by {{ user }}"));
    CHECK(w && w->literal == NULL);
    w = find_with(&op->call, "count");
    CHECK(w && w->kind == MODEL_WITH_LITERAL && str_eq(w->text, "42"));
    CHECK(w && w->literal && cJSON_IsNumber(w->literal) && w->literal->valuedouble == 42);
    w = find_with(&op->call, "ratio");
    CHECK(w && w->literal && cJSON_IsNumber(w->literal) && w->literal->valuedouble == 1.5);
    w = find_with(&op->call, "flag");
    CHECK(w && w->kind == MODEL_WITH_LITERAL && cJSON_IsTrue(w->literal));
    w = find_with(&op->call, "nothing");
    CHECK(w && w->kind == MODEL_WITH_LITERAL && cJSON_IsNull(w->literal));
    w = find_with(&op->call, "quoted");
    CHECK(w && w->literal && cJSON_IsString(w->literal) && str_eq(w->literal->valuestring, "42"));
    w = find_with(&op->call, "plain");
    CHECK(w && w->kind == MODEL_WITH_LITERAL && cJSON_IsString(w->literal));
    CHECK_STR(w ? w->text : NULL, "hello world");

    CHECK_STR(mcp->transport, "stdio");
    CHECK(mcp->ntools == 2);
    const struct model_tool *stats = &mcp->tools[0];
    CHECK_STR(stats->label, "Shop statistics");
    CHECK(stats->hints.open_world == 0 && stats->hints.read_only == 1);
    CHECK(stats->call.target == &admin->resources[0].operations[0]);
    CHECK(stats->call.nwith == 0);
    const struct model_tool *nt = &mcp->tools[1];
    CHECK(nt->hints.read_only == -1 && nt->hints.open_world == -1);
    CHECK(nt->call.nparams == 1 && nt->call.params[0].required &&
          nt->call.params[0].in == MODEL_IN_NONE && nt->call.params[0].type == MODEL_TYPE_STRING);
    CHECK(nt->call.target == note);

cleanup:
    diag_deinit(&d);
    model_free(m);
}

static void test_ikanos(void)
{
    struct model *m = model_new();
    struct diag d;
    diag_init(&d);

    CHECK(loader_load_file(m, DATA "good/ikanos.yaml", &d) == 0);
    CHECK(checks_validate(m, &d) == 0);
    CHECK(d.n == 0 && m->ncaps == 1);
    if (m->ncaps == 1) {
        const struct model_capability *cap = m->caps[0];
        CHECK_STR(cap->version, "1.0.0-alpha3");
        const struct model_resource *r = &cap->consumers[0].resources[0];
        CHECK_STR(r->name, "forecasts");
        CHECK(r->noperations == 1);
        CHECK_STR(r->operations[0].name, "get-forecast");
        CHECK(r->operations[0].pos.line == 13 && r->operations[0].pos.col == 13);
        const struct model_tool *t = &cap->exposes[0].tools[0];
        CHECK_STR(t->name, "forecast");
        CHECK_STR(t->label, "Forecast");
        CHECK(t->call.target == &r->operations[0]);
    }
    diag_deinit(&d);
    model_free(m);
}

/* A directory: sorted, hidden files, other extensions and sub-directories skipped, and a call
 * into a later file resolved by checks_validate. */
static void test_directory(void)
{
    struct model *m = model_new();
    struct diag d;
    diag_init(&d);

    CHECK(loader_load_path(m, DATA "multi", &d) == 0);
    CHECK(d.n == 0);
    CHECK(m->ncaps == 2);
    if (m->ncaps == 2) {
        CHECK_STR(m->caps[0]->file, DATA "multi/a-exposes.yaml");
        CHECK_STR(m->caps[1]->file, DATA "multi/b-consumes.yml");
        struct model_call *call = &m->caps[0]->exposes[0].resources[0].operations[0].call;
        CHECK(call->target == NULL);
        CHECK(checks_validate(m, &d) == 0);
        CHECK(call->target == &m->caps[1]->consumers[0].resources[0].operations[0]);
    }
    /* The trailing slash is not doubled in file names. */
    model_free(m);
    m = model_new();
    CHECK(loader_load_path(m, DATA "multi/", &d) == 0);
    CHECK(m->ncaps == 2 && str_eq(m->caps[0]->file, DATA "multi/a-exposes.yaml"));
    CHECK(d.n == 0);
    diag_deinit(&d);
    model_free(m);
}

static void test_missing_paths(void)
{
    struct model *m = model_new();
    struct diag d;
    char tmpl[] = "/tmp/test_loader_XXXXXX";
    diag_init(&d);

    CHECK(loader_load_path(m, DATA "does-not-exist", &d) == -1);
    CHECK(diag_contains(&d, DATA "does-not-exist: error: cannot read capability path '" DATA
                                 "does-not-exist': No such file or directory"));
    CHECK(loader_load_file(m, DATA "nope.yaml", &d) == -1);
    CHECK(diag_contains(&d, DATA "nope.yaml: error: cannot open capability file: No such file"));
    char *dir = mkdtemp(tmpl);
    CHECK(dir != NULL);
    if (dir) {
        CHECK(loader_load_path(m, dir, &d) == -1);
        CHECK(diag_contains(&d, "no capability documents (*.yaml, *.yml) in directory"));
        rmdir(dir);
    }
    CHECK(d.nerrors == 3);
    diag_deinit(&d);
    model_free(m);
}

struct bad_case {
    const char *file;
    const char *want; /* "line:col: error: message", after "<path>:" */
};

static const struct bad_case bad_cases[] = {
    {"syntax-error.yaml", "7:4: error: invalid YAML: did not find expected key (while parsing a "
                          "block mapping at line 3, column 3)"},
    {"syntax-unclosed-quote.yaml", "37:1: error: invalid YAML: found unexpected end of stream "
                                   "(while scanning a quoted scalar at line 6, column 14)"},
    {"version-missing.yaml", "1:1: error: missing required key 'naftiko': this runtime reads "
                             "naftiko: 1.0.0-alpha2 documents"},
    {"version-wrong.yaml",
     "1:10: error: unsupported naftiko version '0.5': this runtime supports 1.0.0-alpha2"},
    {"root-sequence.yaml", "1:1: error: expected a mapping at the document root, got a sequence: "
                           "a capability document starts with 'naftiko: 1.0.0-alpha2'"},
    {"root-scalar.yaml", "1:1: error: expected a mapping at the document root, got a scalar: a "
                         "capability document starts with 'naftiko: 1.0.0-alpha2'"},
    {"html-page.yaml", "1:1: error: this looks like an HTML page, not a YAML capability document: "
                       "did you save a web page instead of the raw file?"},
    /* Typos: one error at the unknown key, none for what the typo leaves missing (a call into
     * the operations that `opertions:` hid, a required key spelt wrong). */
    {"typo-param-required.yaml", "16:11: error: unknown key 'requird' in consumed parameter (did "
                                 "you mean 'required'?)"},
    {"typo-operations.yaml", "10:7: error: unknown key 'opertions' in consumed resource (did you "
                             "mean 'operations'?)"},
    {"typo-method.yaml",
     "12:9: error: unknown key 'methd' in consumed operation (did you mean 'method'?)"},
    {"typo-expose-type.yaml",
     "31:5: error: unknown key 'tpye' in exposes entry (did you mean 'type'?)"},
    {"typo-tool-call.yaml", "36:7: error: unknown key 'cal' in MCP tool (did you mean 'call'?)"},
    {"typo-hints-case.yaml",
     "38:9: error: unknown key 'readonly' in hints (did you mean 'readOnly'?)"},
    {"typo-hints-unknown.yaml", "38:9: error: unknown key 'safe' in hints (expected readOnly, "
                                "destructive, idempotent or openWorld)"},
    {"typo-root.yaml",
     "2:1: error: unknown key 'capabilty' in the document root (did you mean 'capability'?)"},
    {"typo-auth.yaml",
     "9:7: error: unknown key 'tokn' in bearer authentication (did you mean 'token'?)"},
    {"typo-mcp-path.yaml",
     "34:5: error: unknown key 'paht' in MCP exposes entry (did you mean 'path'?)"},
    {"empty.yaml", " error: empty document: expected a mapping with 'naftiko: 1.0.0-alpha2'"},
    {"capability-missing.yaml", "1:1: error: missing required key 'capability'"},
    {"capability-sequence.yaml", "3:1: error: expected a mapping for 'capability', got a sequence"},
    {"consumes-no-namespace.yaml",
     "4:5: error: missing required key 'namespace' in consumes entry"},
    {"resource-no-path.yaml", "8:7: error: missing required key 'path' in consumed resource"},
    {"operation-no-name.yaml", "11:9: error: missing required key 'name' in consumed operation"},
    {"operation-no-method.yaml",
     "11:9: error: missing required key 'method' in consumed operation"},
    {"operation-bad-method.yaml",
     "12:17: error: unknown method 'FETCH', expected one of GET, POST, "
     "PUT, PATCH, DELETE, HEAD, OPTIONS"},
    {"param-no-name.yaml", "14:11: error: missing required key 'name' in parameter"},
    {"param-bad-in.yaml", "15:15: error: unknown parameter location 'form' for 'in', expected one "
                          "of path, query, header, cookie, body, environment"},
    {"path-unbalanced.yaml",
     "9:20: error: invalid path template '/items/{id': unclosed placeholder"},
    {"rest-path-unbalanced.yaml",
     "25:26: error: invalid path template '/v1/items/id}': unmatched '}'"},
    {"jsonpath-invalid.yaml", "19:18: error: invalid JSONPath '$.data[0' for 'value': "},
    {"expose-no-type.yaml", "31:5: error: missing required key 'type' in exposes entry (rest, "
                            "mcp, skill or control)"},
    {"expose-bad-type.yaml", "31:11: error: unknown exposes type 'grpc', expected 'rest', 'mcp', "
                             "'skill' or 'control'"},
    {"expose-no-namespace.yaml", "31:5: error: missing required key 'namespace' in exposes entry"},
    {"port-invalid.yaml",
     "33:11: error: expected a port number between 1 and 65535 for 'port', got '99999'"},
    {"rest-resource-no-path.yaml", "25:7: error: missing required key 'path' in REST resource"},
    {"rest-op-no-method.yaml", "27:9: error: missing required key 'method' in REST operation"},
    {"rest-op-no-call.yaml", "27:9: error: missing required key 'call' in REST operation"},
    {"tool-no-name.yaml", "35:7: error: missing required key 'name' in MCP tool"},
    {"tool-no-call.yaml", "35:7: error: missing required key 'call' in MCP tool"},
    {"call-unknown-operation.yaml", "28:15: error: call 'up.get-itme' names no consumed operation: "
                                    "consumes namespace 'up' has no operation 'get-itme'"},
    {"call-unknown-namespace.yaml", "35:7: error: call 'down.get-item' names no consumed "
                                    "operation: no document consumes namespace 'down'"},
    {"call-malformed.yaml", "36:13: error: expected '<consumes namespace>.<operation>' for 'call', "
                            "got 'get-item'"},
    {"route-duplicate.yaml",
     "33:9: error: duplicate REST route GET /v1/items/{itemId} on port "
     "8080: already defined at " DATA "bad/route-duplicate.yaml:27:9 as GET /v1/items/{id}"},
    {"tool-duplicate.yaml", "37:7: error: duplicate MCP tool 'get-item' on port 9090: already "
                            "defined at " DATA "bad/tool-duplicate.yaml:35:7"},
    {"consumes-duplicate.yaml", "20:5: error: duplicate consumes namespace 'up': already defined "
                                "at " DATA "bad/consumes-duplicate.yaml:4:5"},
    {"expose-namespace-duplicate.yaml",
     "31:5: error: duplicate exposes namespace 'up-rest': "
     "already defined at " DATA "bad/expose-namespace-duplicate.yaml:21:5"},
    {"operation-duplicate.yaml",
     "23:9: error: duplicate operation 'get-item' in consumes "
     "namespace 'up': already defined at " DATA "bad/operation-duplicate.yaml:11:9"},
    {"duplicate-key.yaml", "34:5: error: duplicate key 'port' (first at line 33, column 5)"},
    {"hints-invalid.yaml", "37:19: error: expected true or false for 'readOnly', got 'maybe'"},
    {"auth-unknown.yaml", "8:13: error: oauth2 makes capproxy check the tokens of its own "
                          "callers: it belongs on an exposes adapter, not on a consumed API"},
    {"with-mapping.yaml", "31:13: error: expected a scalar for 'with' entry 'id', got a mapping"},
    {"body-unknown-type.yaml",
     "14:17: error: unknown body type 'formurlencoded' (did you mean 'formUrlEncoded'?)"},
    {"alias-bomb.yaml", "8:22: error: document too large: more than 500000 nodes (aliases counted "
                        "expanded)"},
    {"alias-recursive.yaml", "3:9: error: alias '*c' names no anchor defined before it (an alias "
                             "may not refer to a collection that contains it)"},
    {"second-document.yaml", "37:1: error: expected a single YAML document, found a second one"},
    {"nul-in-scalar.yaml", "6:14: error: a NUL character is not allowed in a scalar"},
};

/* Each bad fixture holds one mistake: exactly one error, with its position and wording. */
static void test_bad_fixtures(void)
{
    for (size_t i = 0; i < UTIL_ARRAY_LEN(bad_cases); i++) {
        struct model *m = model_new();
        struct diag d;
        char *path = xasprintf(DATA "bad/%s", bad_cases[i].file);
        char *want = xasprintf("%s:%s", path, bad_cases[i].want);
        diag_init(&d);
        int rc = loader_load_file(m, path, &d);
        int vrc = checks_validate(m, &d);
        CHECK(rc == -1 || vrc == -1);
        CHECK(d.nerrors == 1);
        if (!diag_contains(&d, want) || d.nerrors != 1) {
            fprintf(stderr, "FAIL %s: want \"%s\", got:\n", bad_cases[i].file, want);
            diag_print(&d, stderr);
            CHECK(0);
        } else {
            CHECK(1);
        }
        free(path);
        free(want);
        diag_deinit(&d);
        model_free(m);
    }
}

static void test_many_errors_one_run(void)
{
    static const char doc[] = "naftiko: 1.0.0-alpha2\n"
                              "capability:\n"
                              "  consumes:\n"
                              "  - namespace: a\n"
                              "    resources:\n"
                              "    - path: /x\n"
                              "      operations:\n"
                              "      - name: op\n"
                              "        method: GOT\n"
                              "        inputParameters:\n"
                              "        - {name: p, in: nowhere, required: perhaps}\n"
                              "  exposes: {type: rest}\n";
    struct model *m = model_new();
    struct diag d;
    diag_init(&d);

    CHECK(loader_load_buffer(m, "mem.yaml", doc, sizeof doc - 1, &d) == -1);
    CHECK(d.nerrors == 4);
    CHECK(diag_contains(&d, "mem.yaml:9:17: error: unknown method 'GOT'"));
    CHECK(diag_contains(&d, "mem.yaml:11:25: error: unknown parameter location 'nowhere'"));
    CHECK(diag_contains(&d, "mem.yaml:11:44: error: expected true or false for 'required', got "
                            "'perhaps'"));
    CHECK(diag_contains(&d, "mem.yaml:12:12: error: expected a sequence for 'exposes', got a "
                            "mapping"));
    diag_deinit(&d);

    /* One mistake repeated by an alias is reported 100 times, then once more in summary. */
    struct strbuf b;
    strbuf_init(&b, 0);
    strbuf_adds(&b, "naftiko: 1.0.0-alpha2\nx-a: &bad {type: grpc, namespace: n}\ncapability:\n"
                    "  consumes:\n");
    for (int i = 0; i < 150; i++)
        strbuf_adds(&b, "  - *bad\n");
    char *text = strbuf_detach(&b, NULL);
    CHECK(loader_load_buffer(m, "rep.yaml", text, strlen(text), &d) == -1);
    CHECK(d.nerrors == 101 + 101); /* plus the duplicate namespaces, reported separately */
    CHECK(diag_contains(&d, "rep.yaml:2:18: error: unsupported consumes type 'grpc'"));
    CHECK(diag_contains(&d, "rep.yaml: error: 50 more errors in this document not reported (150 "
                            "errors in all; at most 100 are reported per document)"));
    CHECK(diag_contains(&d, "rep.yaml:2:6: error: too many duplicates (100): later ones are not "
                            "reported"));
    free(text);
    diag_deinit(&d);
    model_free(m);
}

/* Unknown keys: every one of a document is reported at its own position (an object's before
 * those of what it contains), with "did you mean" when a known key is close; loading carries on
 * past each. */
static void test_unknown_keys(void)
{
    static const char doc[] = "naftiko: 1.0.0-alpha2\n"                         /* 1 */
                              "infos: {label: a}\n"                             /* 2 */
                              "capability:\n"                                   /* 3 */
                              "  consumes:\n"                                   /* 4 */
                              "  - namespace: up\n"                             /* 5 */
                              "    baseURI: http://127.0.0.1:1\n"               /* 6 */
                              "    resources:\n"                                /* 7 */
                              "    - path: /x\n"                                /* 8 */
                              "      operations:\n"                             /* 9 */
                              "      - name: op\n"                              /* 10 */
                              "        method: GET\n"                           /* 11 */
                              "        inputParameters:\n"                      /* 12 */
                              "        - {name: p, in: query, requird: true}\n" /* 13 */
                              "        frobnicate: 1\n"                         /* 14 */
                              "  exposes:\n"                                    /* 15 */
                              "  - type: rest\n"                                /* 16 */
                              "    namespace: r\n"                              /* 17 */
                              "    port: 8080\n"                                /* 18 */
                              "    path: /not-here\n"                           /* 19 */
                              "    resources:\n"                                /* 20 */
                              "    - path: /y\n"                                /* 21 */
                              "      operations:\n"                             /* 22 */
                              "      - method: GET\n"                           /* 23 */
                              "        call: up.op\n"                           /* 24 */
                              "        width: {p: rest.p}\n"                    /* 25 */
                              "        x-anything: {ok: true}\n";               /* 26 */
    struct model *m = model_new();
    struct diag d;
    diag_init(&d);

    CHECK(loader_load_buffer(m, "t.yaml", doc, sizeof doc - 1, &d) == -1);
    CHECK(d.nerrors == 6);
    static const char *const want[] = {
        "t.yaml:2:1: error: unknown key 'infos' in the document root (did you mean 'info'?)",
        "t.yaml:6:5: error: unknown key 'baseURI' in consumes entry (did you mean 'baseUri'?)",
        "t.yaml:14:9: error: unknown key 'frobnicate' in consumed operation",
        "t.yaml:13:32: error: unknown key 'requird' in consumed parameter (did you mean "
        "'required'?)",
        "t.yaml:19:5: error: unknown key 'path' in REST exposes entry (expected type, address, "
        "port, namespace, authentication, resources or description)",
        "t.yaml:25:9: error: unknown key 'width' in REST operation (did you mean 'with'?)",
    };
    for (size_t i = 0; i < UTIL_ARRAY_LEN(want) && i < d.n; i++) {
        char *got = diag_format(&d.v[i]);
        CHECK_STR(got, want[i]);
        free(got);
    }
    diag_deinit(&d);
    model_free(m);

    /* A duplicate key does not hide the typos that follow it. */
    static const char dup[] =
        "naftiko: 1.0.0-alpha2\n"
        "capability:\n"
        "  consumes:\n"
        "  - {type: http, namespace: up, namespace: up2, baseUri: 'http://h'}\n"
        "  exposes:\n"
        "  - {type: mcp, namespace: m, port: 9090, tols: []}\n";
    m = model_new();
    diag_init(&d);
    CHECK(loader_load_buffer(m, "dup.yaml", dup, sizeof dup - 1, &d) == -1);
    CHECK(d.nerrors == 2);
    CHECK(diag_contains(&d, "dup.yaml:4:33: error: duplicate key 'namespace' (first at line 4, "
                            "column 18)"));
    CHECK(diag_contains(&d, "dup.yaml:6:43: error: unknown key 'tols' in MCP exposes entry (did "
                            "you mean 'tools'?)"));
    diag_deinit(&d);
    model_free(m);

    /* ikanos documents follow a later schema, with keys alpha2 does not have: not checked. */
    static const char ik[] = "ikanos: 1.0.0-alpha3\n"
                             "capability:\n"
                             "  consumes:\n"
                             "  - {type: http, namespace: up, baseUri: 'http://127.0.0.1:1',\n"
                             "     tunnel: {}, resources: {r: {path: /x, tags: [a],\n"
                             "     operations: {op: {method: GET}}}}}\n";
    m = model_new();
    diag_init(&d);
    CHECK(loader_load_buffer(m, "ik.yaml", ik, sizeof ik - 1, &d) == 0);
    CHECK(d.n == 0);
    diag_deinit(&d);
    model_free(m);
}

/* Every document under good/ loads and validates with no error or warning: x- keys, `path:` on
 * an MCP adapter and alpha2 keys capproxy does not run are not typos. */
static void test_good_fixtures(void)
{
    static const char *const good[] = {"features.yaml", "ikanos.yaml", "extensions.yaml"};
    for (size_t i = 0; i < UTIL_ARRAY_LEN(good); i++) {
        struct model *m = model_new();
        struct diag d;
        char *path = xasprintf(DATA "good/%s", good[i]);
        diag_init(&d);
        CHECK(loader_load_file(m, path, &d) == 0);
        CHECK(checks_validate(m, &d) == 0);
        CHECK(d.n == 0);
        if (d.n)
            diag_print(&d, stderr);
        free(path);
        diag_deinit(&d);
        model_free(m);
    }
}

static char *repeat(const char *head, const char *unit, size_t n, const char *tail)
{
    struct strbuf b;
    strbuf_init(&b, 0);
    strbuf_adds(&b, head);
    for (size_t i = 0; i < n; i++)
        strbuf_adds(&b, unit);
    strbuf_adds(&b, tail);
    return strbuf_detach(&b, NULL);
}

static void test_limits(void)
{
    struct model *m = model_new();
    struct diag d;
    diag_init(&d);

    /* The root mapping is level 1: 63 more levels are fine, 64 are one too many. */
    char *closing = repeat("", "]", 64, "\n");
    char *ok = repeat("x: ", "[", 63, closing + 1);
    char *deep = repeat("x: ", "[", 64, closing);
    struct ynode_doc *doc = ynode_parse("ok.yaml", ok, strlen(ok), &d);
    CHECK(doc != NULL && d.n == 0);
    ynode_doc_free(doc);
    CHECK(ynode_parse("deep.yaml", deep, strlen(deep), &d) == NULL);
    CHECK(diag_contains(&d, "deep.yaml:1:67: error: nesting deeper than 64 levels"));
    free(closing);
    free(ok);
    free(deep);

    /* Depth reached through an alias counts too. */
    char *alias = repeat("a: &a ", "[", 40, "");
    char *tail = repeat("", "]", 40, "\nb: [[[[[[[[[[[[[[[[[[[[[[[[[*a]]]]]]]]]]]]]]]]]]]]]]]]]\n");
    char *both = xasprintf("%s%s", alias, tail);
    diag_deinit(&d);
    CHECK(ynode_parse("alias.yaml", both, strlen(both), &d) == NULL);
    CHECK(diag_contains(&d, "alias.yaml:2:29: error: nesting deeper than 64 levels (through "
                            "alias '*a')"));
    free(alias);
    free(tail);
    free(both);

    /* Size: refused before parsing. */
    size_t big = ((size_t)4 << 20) + 1;
    char *buf = xmalloc(big);
    memset(buf, '#', big);
    diag_deinit(&d);
    CHECK(loader_load_buffer(m, "big.yaml", buf, big, &d) == -1);
    CHECK(diag_contains(&d, "big.yaml: error: document too large: 4194305 bytes, the limit is "
                            "4194304 bytes (4 MiB)"));
    CHECK(m->ncaps == 0);

    /* From a file: exactly 4 MiB loads, one byte more does not. */
    char path[] = "/tmp/test_loader_big_XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    if (fd >= 0) {
        static const char head[] = "naftiko: 1.0.0-alpha2\ncapability: {}\n#";
        memcpy(buf, head, sizeof head - 1);
        buf[big - 2] = '\n';
        CHECK(write(fd, buf, big - 1) == (ssize_t)(big - 1));
        diag_deinit(&d);
        CHECK(loader_load_file(m, path, &d) == 0);
        CHECK(d.n == 0 && m->ncaps == 1);
        CHECK(write(fd, "\n", 1) == 1);
        CHECK(loader_load_file(m, path, &d) == -1);
        char *want =
            xasprintf("%s: error: document too large: more than 4194304 bytes (4 MiB)", path);
        CHECK(diag_contains(&d, want));
        CHECK(m->ncaps == 1);
        free(want);
        close(fd);
        unlink(path);
    }
    free(buf);

    diag_deinit(&d);
    model_free(m);
}

static struct ynode *parse_root(const char *text, struct ynode_doc **doc, struct diag *d)
{
    *doc = ynode_parse("t.yaml", text, strlen(text), d);
    return *doc ? (*doc)->root : NULL;
}

static void check_scalar(const struct ynode *map, const char *key, int type, double num,
                         const char *str)
{
    cJSON *j = ynode_scalar_json(ynode_get(map, key));
    CHECK(j != NULL);
    if (!j)
        return;
    if ((j->type & 0xFF) != type) {
        fprintf(stderr, "FAIL scalar '%s': cJSON type %d, want %d\n", key, j->type & 0xFF, type);
        CHECK(0);
    } else if (type == cJSON_Number) {
        CHECK(j->valuedouble == num);
    } else if (type == cJSON_String) {
        CHECK_STR(j->valuestring, str);
    } else {
        CHECK(1);
    }
    cJSON_Delete(j);
}

static void test_ynode(void)
{
    struct diag d;
    struct ynode_doc *doc;
    diag_init(&d);

    const struct ynode *root = parse_root("a: 1\n"
                                          "hex: 0x1F\n"
                                          "oct: 0o17\n"
                                          "exp: -1.5e3\n"
                                          "plus: +7\n"
                                          "huge: 12345678901234567890\n"
                                          "inf: .inf\n"
                                          "nul: ~\n"
                                          "empty:\n"
                                          "sq: 'true'\n"
                                          "dq: \"12\"\n"
                                          "t: True\n"
                                          "str: !!str 5\n"
                                          "ver: 1.0.0\n"
                                          "block: |\n"
                                          "  line\n"
                                          "list: &l [x, {k: v}]\n"
                                          "again: *l\n",
                                          &doc, &d);
    CHECK(root && root->kind == YNODE_MAPPING && root->npairs == 17);
    CHECK(d.n == 0);
    if (!root)
        goto cleanup;
    CHECK(root->line == 1 && root->col == 1);
    check_scalar(root, "a", cJSON_Number, 1, NULL);
    check_scalar(root, "hex", cJSON_Number, 31, NULL);
    check_scalar(root, "oct", cJSON_Number, 15, NULL);
    check_scalar(root, "exp", cJSON_Number, -1500, NULL);
    check_scalar(root, "plus", cJSON_Number, 7, NULL);
    check_scalar(root, "huge", cJSON_String, 0, "12345678901234567890");
    check_scalar(root, "inf", cJSON_String, 0, ".inf");
    check_scalar(root, "nul", cJSON_NULL, 0, NULL);
    check_scalar(root, "empty", cJSON_NULL, 0, NULL);
    check_scalar(root, "sq", cJSON_String, 0, "true");
    check_scalar(root, "dq", cJSON_String, 0, "12");
    check_scalar(root, "t", cJSON_True, 0, NULL);
    check_scalar(root, "str", cJSON_String, 0, "5");
    check_scalar(root, "ver", cJSON_String, 0, "1.0.0");
    check_scalar(root, "block", cJSON_String, 0, "line\n");

    const struct ynode *hex = ynode_get(root, "hex");
    CHECK(hex && hex->line == 2 && hex->col == 6 && hex->style == YNODE_PLAIN);
    CHECK(ynode_get_key(root, "hex") && ynode_get_key(root, "hex")->col == 1);
    CHECK(ynode_get(root, "sq")->style == YNODE_SINGLE_QUOTED);
    CHECK(ynode_get(root, "block")->style == YNODE_BLOCK);
    CHECK(ynode_get(root, "missing") == NULL);
    CHECK(ynode_is_null(ynode_get(root, "empty")));
    CHECK(!ynode_is_null(ynode_get(root, "sq")));
    bool b = false;
    CHECK(ynode_bool(ynode_get(root, "t"), &b) == 0 && b);
    CHECK(ynode_bool(ynode_get(root, "sq"), &b) == -1);

    /* An alias shares the anchored node. */
    const struct ynode *list = ynode_get(root, "list");
    CHECK(list && ynode_get(root, "again") == list);
    CHECK(list && list->kind == YNODE_SEQUENCE && list->nitems == 2 && list->line == 17 &&
          list->col == 7);
    cJSON *j = ynode_to_json(ynode_get(root, "again"));
    char *text = cJSON_PrintUnformatted(j);
    CHECK_STR(text, "[\"x\",{\"k\":\"v\"}]");
    free(text);
    cJSON_Delete(j);
    CHECK_STR(ynode_describe(list), "a sequence");
    CHECK_STR(ynode_describe(root), "a mapping");
    CHECK_STR(ynode_describe(ynode_get(root, "nul")), "null");
    CHECK_STR(ynode_describe(ynode_get(root, "a")), "a scalar");
    ynode_doc_free(doc);

    /* Duplicate keys in a large mapping (the sorted path). */
    struct strbuf sb;
    strbuf_init(&sb, 0);
    for (int i = 0; i < 40; i++)
        strbuf_addf(&sb, "k%d: %d\n", i, i);
    strbuf_adds(&sb, "k7: again\n");
    strbuf_adds(&sb, "k9: again\nk7: thrice\n");
    char *many = strbuf_detach(&sb, NULL);
    /* Each repetition is reported and dropped; the parse goes on, the first value is kept. */
    root = parse_root(many, &doc, &d);
    CHECK(root && root->npairs == 40 && d.nerrors == 3);
    CHECK(root && str_eq(ynode_get(root, "k7")->str, "7") &&
          str_eq(ynode_get(root, "k39")->str, "39"));
    CHECK(diag_contains(&d, "t.yaml:41:1: error: duplicate key 'k7' (first at line 8, column 1)"));
    CHECK(diag_contains(&d, "t.yaml:42:1: error: duplicate key 'k9' (first at line 10, column 1)"));
    CHECK(diag_contains(&d, "t.yaml:43:1: error: duplicate key 'k7' (first at line 8, column 1)"));
    ynode_doc_free(doc);
    free(many);
    diag_deinit(&d);
    /* The same in a small mapping, nested; then the cap stops the parse. */
    root = parse_root("a:\n  b: 1\n  c: 2\n  b: 3\n  b: 4\nd: 5\n", &doc, &d);
    CHECK(root && ynode_get(root, "a")->npairs == 2 &&
          str_eq(ynode_get(ynode_get(root, "a"), "b")->str, "1"));
    CHECK(d.nerrors == 2 &&
          diag_contains(&d, "t.yaml:5:3: error: duplicate key 'b' (first at line 2, column 3)"));
    ynode_doc_free(doc);
    diag_deinit(&d);
    strbuf_init(&sb, 0);
    for (int i = 0; i < 150; i++)
        strbuf_addf(&sb, "- {a: 1, a: 2}\n");
    many = strbuf_detach(&sb, NULL);
    CHECK(parse_root(many, &doc, &d) == NULL && doc == NULL);
    CHECK(d.nerrors == 101);
    CHECK(diag_contains(&d, "t.yaml:101:10: error: too many duplicate keys (100): the rest of the "
                            "document is not read"));
    free(many);

    /* A non-scalar key. */
    diag_deinit(&d);
    CHECK(parse_root("? [a]\n: b\n", &doc, &d) == NULL);
    CHECK(diag_contains(&d, "t.yaml:1:3: error: expected a scalar as mapping key, got a sequence"));

    /* Invalid UTF-8: the reader's byte offset becomes a line and column. */
    diag_deinit(&d);
    CHECK(parse_root("a: b\nc: \xff\n", &doc, &d) == NULL);
    CHECK(diag_contains(&d, "t.yaml:2:4: error: invalid YAML: invalid leading UTF-8 octet (#xFF)"));

    /* An empty stream is a document with no root, not an error. */
    diag_deinit(&d);
    CHECK(parse_root("# only a comment\n", &doc, &d) == NULL && doc != NULL && d.n == 0);
    ynode_doc_free(doc);
    ynode_doc_free(NULL);

cleanup:
    diag_deinit(&d);
}

int main(void)
{
    RUN(test_seed());
    RUN(test_features());
    RUN(test_ikanos());
    RUN(test_directory());
    RUN(test_missing_paths());
    RUN(test_bad_fixtures());
    RUN(test_unknown_keys());
    RUN(test_good_fixtures());
    RUN(test_many_errors_one_run());
    RUN(test_limits());
    RUN(test_ynode());
    return harness_report();
}
