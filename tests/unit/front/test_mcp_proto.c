/*
 * Unit tests for mcp_proto, the transport-free MCP steps both transports share: mcpp_dispatch
 * for each request method, the unknown-tool answer of mcpp_prepare_call, and the access-log
 * names of mcpp_method_route.
 */
#include <stdlib.h>
#include <string.h>

#include "base/diag.h"
#include "core/catalog.h"
#include "core/session.h"
#include "front/mcp_proto.h"
#include "harness.h"
#include "spec/config.h"
#include "spec/model.h"

static struct jsonrpc_msg parse(const char *text)
{
    struct jsonrpc_msg m = {0};
    cJSON *err = NULL;
    CHECK(jsonrpc_parse(text, strlen(text), &m, &err) == 0);
    cJSON_Delete(err);
    return m;
}

/* <msg> serialised (and deleted). */
static char *text_of(cJSON *msg)
{
    char *t = cJSON_PrintUnformatted(msg);
    cJSON_Delete(msg);
    return t;
}

static void test_dispatch(const struct rt_mcp_endpoint *ep)
{
    struct mcpp_answer a;
    struct jsonrpc_msg m =
        parse("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":"
              "{\"protocolVersion\":\"1999-01-01\"}}");
    CHECK(mcpp_dispatch(ep, &m, &a) == MCPP_REPLY && a.msg && !a.text);
    CHECK_STR(a.version, session_negotiate_version("1999-01-01"));
    char *t = text_of(a.msg);
    CHECK(strstr(t, "\"protocolVersion\"") != NULL && strstr(t, "\"id\":1") != NULL);
    free(t);
    jsonrpc_msg_free(&m);

    m = parse("{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"initialize\",\"params\":{}}");
    CHECK(mcpp_dispatch(ep, &m, &a) == MCPP_REPLY && a.version == NULL);
    t = text_of(a.msg);
    CHECK(strstr(t, "initialize params need a string \\\"protocolVersion\\\"") != NULL);
    free(t);
    jsonrpc_msg_free(&m);

    m = parse("{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"ping\"}");
    CHECK(mcpp_dispatch(ep, &m, &a) == MCPP_REPLY);
    t = text_of(a.msg);
    CHECK_STR(t, "{\"jsonrpc\":\"2.0\",\"id\":3,\"result\":{}}");
    free(t);
    jsonrpc_msg_free(&m);

    m = parse("{\"jsonrpc\":\"2.0\",\"id\":4,\"method\":\"tools/list\"}");
    CHECK(mcpp_dispatch(ep, &m, &a) == MCPP_REPLY_TEXT && a.text && !a.msg);
    CHECK(a.text && strstr(a.text, "\"tools\":[]") != NULL && strstr(a.text, "\"id\":4"));
    free(a.text);
    jsonrpc_msg_free(&m);

    m = parse(
        "{\"jsonrpc\":\"2.0\",\"id\":5,\"method\":\"tools/call\",\"params\":{\"name\":\"x\"}}");
    CHECK(mcpp_dispatch(ep, &m, &a) == MCPP_TOOLS_CALL && !a.msg && !a.text);
    jsonrpc_msg_free(&m);

    m = parse("{\"jsonrpc\":\"2.0\",\"id\":6,\"method\":\"resources/list\"}");
    CHECK(mcpp_dispatch(ep, &m, &a) == MCPP_REPLY);
    t = text_of(a.msg);
    CHECK(strstr(t, "Method not found") != NULL && strstr(t, "-32601") != NULL);
    free(t);
    jsonrpc_msg_free(&m);
}

static void test_unknown_tool(const struct runtime *rt, const struct rt_mcp_endpoint *ep)
{
    struct jsonrpc_msg m = parse("{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"tools/call\","
                                 "\"params\":{\"name\":\"nope\",\"arguments\":{}}}");
    struct outreq out;
    outreq_init(&out, MAPPING_MAX_URL);
    const struct rt_call *call = (const struct rt_call *)1;
    cJSON *r = mcpp_prepare_call(rt, ep, &m, NULL, 0, &out, &call);
    CHECK(r != NULL && call == NULL);
    char *t = text_of(r);
    CHECK(strstr(t, "Unknown tool: nope") != NULL);
    free(t);
    outreq_deinit(&out);
    jsonrpc_msg_free(&m);
}

static void test_method_route(void)
{
    CHECK_STR(mcpp_method_route("tools/call"), "tools/call");
    CHECK_STR(mcpp_method_route("notifications/cancelled"), "notifications/cancelled");
    CHECK_STR(mcpp_method_route("tools/call\nforged log line"), "unknown-method");
}

int main(void)
{
    struct config cfg;
    config_defaults(&cfg);
    struct diag d;
    diag_init(&d);
    struct runtime *rt = runtime_build(model_new(), &cfg, &d);
    diag_deinit(&d);
    CHECK(rt != NULL);
    if (!rt)
        return harness_report();
    /* An endpoint outside the runtime, as stdio makes one: no tools, no adapter. */
    struct rt_mcp_endpoint ep = {.path = "test", .description = "instructions"};
    ep.catalog = catalog_build(rt, &ep);
    size_t nauth = 1;
    CHECK(ep.catalog != NULL);
    (void)catalog_auth(ep.catalog, &nauth);
    CHECK(nauth == 0);
    RUN(test_dispatch(&ep));
    RUN(test_unknown_tool(rt, &ep));
    RUN(test_method_route());
    catalog_free(ep.catalog);
    runtime_unref(rt);
    config_deinit(&cfg);
    return harness_report();
}
