/*
 * Unit tests of the orchestration executor (core/orch.h) with canned upstream answers: the
 * requests each step sends, lookups, mappings, failures naming their step, and mocks, on
 * documents loaded through the real loader and runtime.
 */
#include "harness.h"
#include "testrt.h"

#include <stdlib.h>
#include <string.h>

#include "core/mapping.h"
#include "core/orch.h"

static const char DOC[] = "naftiko: 1.0.0-alpha2\n"
                          "capability:\n"
                          "  consumes:\n"
                          "    - namespace: reg\n"
                          "      baseUri: http://up\n"
                          "      resources:\n"
                          "        - path: /ships/{{imo_number}}\n"
                          "          operations:\n"
                          "            - name: get-ship\n"
                          "              method: GET\n"
                          "              inputParameters:\n"
                          "                - name: imo_number\n"
                          "                  in: path\n"
                          "        - path: /crew\n"
                          "          operations:\n"
                          "            - name: list-crew\n"
                          "              method: GET\n"
                          "              inputParameters:\n"
                          "                - name: vessel\n"
                          "                  in: query\n"
                          "        - path: /owner\n"
                          "          operations:\n"
                          "            - name: get-owner\n"
                          "              method: GET\n"
                          "              outputParameters:\n"
                          "                - name: ownerName\n"
                          "                  type: string\n"
                          "                  value: $.owner.name\n"
                          "  exposes:\n"
                          "    - type: mcp\n"
                          "      namespace: tools\n"
                          "      tools:\n"
                          "        - name: with-crew\n"
                          "          description: d\n"
                          "          inputParameters:\n"
                          "            - name: imo\n"
                          "              type: string\n"
                          "              required: true\n"
                          "          steps:\n"
                          "            - name: get-ship\n"
                          "              type: call\n"
                          "              call: reg.get-ship\n"
                          "              with:\n"
                          "                imo_number: \"{{imo}}\"\n"
                          "            - name: list-crew\n"
                          "              type: call\n"
                          "              call: reg.list-crew\n"
                          "              with:\n"
                          "                vessel: \"{{get-ship.name}}\"\n"
                          "            - name: crew\n"
                          "              type: lookup\n"
                          "              index: list-crew\n"
                          "              match: id\n"
                          "              lookupValue: $.get-ship.crew\n"
                          "              outputParameters: [fullName]\n"
                          "            - name: captain\n"
                          "              type: lookup\n"
                          "              index: list-crew\n"
                          "              match: id\n"
                          "              lookupValue: $.get-ship.captainId\n"
                          "            - name: nobody\n"
                          "              type: lookup\n"
                          "              index: list-crew\n"
                          "              match: id\n"
                          "              lookupValue: nobody\n"
                          "          mappings:\n"
                          "            - targetName: ship.name\n"
                          "              value: $.get-ship.name\n"
                          "            - targetName: ship.length\n"
                          "              value: $.get-ship.dims.length\n"
                          "            - targetName: crew\n"
                          "              value: $.crew\n"
                          "            - targetName: captain\n"
                          "              value: $.captain.fullName\n"
                          "            - targetName: nobody\n"
                          "              value: $.nobody\n"
                          "        - name: owner\n"
                          "          description: d\n"
                          "          steps:\n"
                          "            - name: get-owner\n"
                          "              type: call\n"
                          "              call: reg.get-owner\n"
                          "        - name: owner-shaped\n"
                          "          description: d\n"
                          "          steps:\n"
                          "            - name: get-ship\n"
                          "              type: call\n"
                          "              call: reg.get-ship\n"
                          "              with:\n"
                          "                imo_number: \"7\"\n"
                          "            - name: list-crew\n"
                          "              type: call\n"
                          "              call: reg.list-crew\n"
                          "              with:\n"
                          "                vessel: \"{{get-ship.missing}}\"\n"
                          "        - name: mock\n"
                          "          description: d\n"
                          "          inputParameters:\n"
                          "            - name: imo\n"
                          "              type: string\n"
                          "          outputParameters:\n"
                          "            - name: imo\n"
                          "              type: string\n"
                          "              value: \"{{imo}}\"\n"
                          "            - name: size\n"
                          "              type: integer\n"
                          "              value: \"12\"\n";

static struct runtime *rt;

static const struct rt_call *find_call(const char *name)
{
    for (size_t i = 0; i < rt->ncalls; i++)
        if (strcmp(rt->calls[i].name, name) == 0)
            return &rt->calls[i];
    return NULL;
}

static struct orch_outcome ok(const char *json)
{
    return (struct orch_outcome){
        .transport = ORCH_OK, .status = 200, .body = json, .len = strlen(json)};
}

static struct orch_outcome status(long st)
{
    return (struct orch_outcome){.transport = ORCH_OK, .status = st, .body = "{}", .len = 2};
}

/* Start <tool> with arguments <args> (JSON text). */
static struct orch *start(const char *tool, const char *args)
{
    const struct rt_call *call = find_call(tool);
    CHECK(call && call->kind == MODEL_CALL_STEPS);
    if (!call)
        return NULL;
    cJSON *a = cJSON_Parse(args);
    struct mapping_input in = {.mcp = true, .args = a};
    struct mapping_error err;
    CHECK(mapping_check_inputs(rt, call, &in, &err) == 0);
    struct orch *o = orch_new(rt, call, mapping_scope(call, &in), NULL, 0);
    cJSON_Delete(a);
    return o;
}

/* orch_next must ask to send; the request's URL is returned in <url> (caller frees). */
static bool next_send(struct orch *o, char **url)
{
    struct outreq out;
    outreq_init(&out, MAPPING_MAX_URL);
    enum orch_state st = orch_next(o, &out);
    *url = st == ORCH_SEND ? strdup(out.url.data) : NULL;
    outreq_deinit(&out);
    return st == ORCH_SEND;
}

static void check_json(const cJSON *got, const char *want)
{
    char *g = got ? cJSON_PrintUnformatted(got) : strdup("(null)");
    CHECK_STR(g, want);
    free(g);
}

static void test_chain(void)
{
    struct orch *o = start("with-crew", "{\"imo\":\"IMO-1\"}");
    char *url;
    CHECK(next_send(o, &url));
    CHECK_STR(url, "http://up/ships/IMO-1");
    free(url);
    CHECK_STR(orch_step_name(o), "get-ship");
    struct orch_outcome r = ok("{\"name\":\"Northern Star\",\"dims\":{\"length\":229.5},"
                               "\"crew\":[\"c2\",\"c3\",\"c9\"],\"captainId\":\"c1\"}");
    orch_feed(o, &r);
    /* step 2 is built from step 1's answer */
    CHECK(next_send(o, &url));
    CHECK_STR(url, "http://up/crew?vessel=Northern%20Star");
    free(url);
    r = ok("[{\"id\":\"c1\",\"fullName\":\"Ada\",\"role\":\"captain\"},"
           "{\"id\":\"c2\",\"fullName\":\"Grace\"},{\"id\":\"c3\",\"fullName\":\"Alan\"}]");
    orch_feed(o, &r);
    struct outreq out;
    outreq_init(&out, MAPPING_MAX_URL);
    CHECK(orch_next(o, &out) == ORCH_DONE);
    outreq_deinit(&out);
    int st = 0;
    cJSON *a = orch_answer(o, &st);
    CHECK(st == 200);
    /* an array lookup value: one entry per match (c9 has none); a scalar: the entry; none:
     * null, kept in the answer */
    check_json(a, "{\"ship\":{\"name\":\"Northern Star\",\"length\":229.5},"
                  "\"crew\":[{\"fullName\":\"Grace\"},{\"fullName\":\"Alan\"}],"
                  "\"captain\":\"Ada\",\"nobody\":null}");
    cJSON_Delete(a);
    orch_free(o);
}

static void test_failures(void)
{
    char *url;
    /* a 404: kept, naming the step; nothing more to send */
    struct orch *o = start("with-crew", "{\"imo\":\"IMO-1\"}");
    CHECK(next_send(o, &url));
    free(url);
    struct orch_outcome r = status(404);
    orch_feed(o, &r);
    CHECK(!next_send(o, &url));
    const struct orch_failure *f = orch_failure(o);
    CHECK(f->status == 404 && f->upstream_status == 404);
    CHECK_STR(f->step, "get-ship");
    CHECK_STR(f->call, "reg.get-ship");
    CHECK_STR(f->message, "step 'get-ship' (reg.get-ship) failed: upstream answered 404 Not Found");
    cJSON *x = orch_failure_extra(f);
    check_json(x, "{\"step\":\"get-ship\",\"call\":\"reg.get-ship\",\"upstream_status\":404}");
    cJSON_Delete(x);
    orch_free(o);

    /* a 5xx of the second step: 502 */
    o = start("with-crew", "{\"imo\":\"IMO-1\"}");
    CHECK(next_send(o, &url));
    free(url);
    r = ok("{\"name\":\"x\"}");
    orch_feed(o, &r);
    CHECK(next_send(o, &url));
    free(url);
    r = status(503);
    orch_feed(o, &r);
    CHECK(!next_send(o, &url));
    CHECK(orch_failure(o)->status == 502);
    CHECK_STR(orch_failure(o)->step, "list-crew");
    orch_free(o);

    /* transport: time-out 504, refused 502 */
    o = start("with-crew", "{\"imo\":\"IMO-1\"}");
    CHECK(next_send(o, &url));
    free(url);
    r = (struct orch_outcome){.transport = ORCH_ERR_TIMEOUT, .error_name = "timeout"};
    orch_feed(o, &r);
    CHECK(!next_send(o, &url));
    CHECK(orch_failure(o)->status == 504);
    CHECK_STR(orch_failure(o)->message, "step 'get-ship' (reg.get-ship) failed: the upstream did "
                                        "not answer in time (timeout)");
    orch_free(o);
    o = start("with-crew", "{\"imo\":\"IMO-1\"}");
    CHECK(next_send(o, &url));
    free(url);
    r = (struct orch_outcome){.transport = ORCH_ERR_UNREACHABLE, .error_name = "refused"};
    orch_feed(o, &r);
    CHECK(!next_send(o, &url));
    CHECK(orch_failure(o)->status == 502);
    orch_free(o);

    /* a placeholder into an earlier result that has no such field fails, naming the step */
    o = start("owner-shaped", "{}");
    CHECK(next_send(o, &url));
    free(url);
    r = ok("{\"name\":\"x\"}");
    orch_feed(o, &r);
    CHECK(!next_send(o, &url));
    f = orch_failure(o);
    CHECK(f->status == 502);
    CHECK_STR(f->step, "list-crew");
    CHECK_STR(f->message, "step 'list-crew' (reg.list-crew) could not be built: "
                          "'get-ship.missing' is not in the result of an earlier step");
    orch_free(o);

    /* a required input missing: refused before anything runs */
    const struct rt_call *call = find_call("with-crew");
    cJSON *a = cJSON_Parse("{\"vessel\":\"x\"}");
    struct mapping_input in = {.mcp = true, .args = a};
    struct mapping_error err;
    CHECK(mapping_check_inputs(rt, call, &in, &err) < 0);
    CHECK(err.status == 400);
    CHECK_STR(err.param, "vessel");
    cJSON_Delete(a);
}

/* Without mappings the answer is the last step's; a step's result is projected through the
 * consumed operation's named outputParameters. */
static void test_last_and_projection(void)
{
    struct orch *o = start("owner", "{}");
    char *url;
    CHECK(next_send(o, &url));
    CHECK_STR(url, "http://up/owner");
    free(url);
    struct orch_outcome r = ok("{\"owner\":{\"name\":\"Acme\"},\"x\":1}");
    r.status = 201;
    orch_feed(o, &r);
    struct outreq out;
    outreq_init(&out, MAPPING_MAX_URL);
    CHECK(orch_next(o, &out) == ORCH_DONE);
    outreq_deinit(&out);
    int st;
    cJSON *a = orch_answer(o, &st);
    CHECK(st == 201);
    check_json(a, "{\"owner\":{\"name\":\"Acme\"},\"x\":1}");
    cJSON_Delete(a);
    orch_free(o);

    /* an empty last answer: 204 */
    o = start("owner", "{}");
    CHECK(next_send(o, &url));
    free(url);
    r = ok("");
    orch_feed(o, &r);
    outreq_init(&out, MAPPING_MAX_URL);
    CHECK(orch_next(o, &out) == ORCH_DONE);
    outreq_deinit(&out);
    a = orch_answer(o, &st);
    CHECK(a == NULL && st == 204);
    orch_free(o);
}

static void test_mock(void)
{
    const struct rt_call *call = find_call("mock");
    CHECK(call && call->kind == MODEL_CALL_MOCK && !call->op);
    cJSON *scope = cJSON_Parse("{\"imo\":\"IMO-9\"}");
    cJSON *a = orch_mock(call, scope);
    check_json(a, "{\"imo\":\"IMO-9\",\"size\":12}");
    cJSON_Delete(a);
    cJSON_Delete(scope);
    /* an unknown argument is refused as for any call */
    cJSON *args = cJSON_Parse("{\"imo\":\"x\",\"imoo\":1}");
    struct mapping_input in = {.mcp = true, .args = args};
    struct mapping_error err;
    CHECK(mapping_check_inputs(rt, call, &in, &err) < 0);
    CHECK_STR(err.param, "imoo");
    cJSON_Delete(args);
}

int main(void)
{
    struct config cfg;
    config_defaults(&cfg);
    rt = testrt_load("orch.yaml", DOC, &cfg);
    CHECK(rt != NULL);
    if (rt) {
        RUN(test_chain());
        RUN(test_failures());
        RUN(test_last_and_projection());
        RUN(test_mock());
    }
    runtime_free(rt);
    config_deinit(&cfg);
    return harness_report();
}
