/*
 * Unit tests of the MCP resources and prompts methods (mcp_proto over the catalog): the
 * capabilities initialize advertises, resources/list and resources/templates/list, static
 * reads answered at once, dynamic reads handed to the transport with their upstream request
 * built from the uri, the errors of each method, and the runtime's refusal of a uri served
 * twice at one endpoint.
 */
#include <stdlib.h>
#include <string.h>

#include "core/catalog.h"
#include "core/mcpres.h"
#include "front/mcp_proto.h"
#include "harness.h"
#include "testfs.h"
#include "testrt.h"

#define DOC                                                                                        \
    "naftiko: 1.0.0-alpha2\n"                                                                      \
    "capability:\n"                                                                                \
    "  consumes:\n"                                                                                \
    "    - namespace: lib\n"                                                                       \
    "      baseUri: http://127.0.0.1:1/api\n"                                                      \
    "      resources:\n"                                                                           \
    "        - path: /books/{{id}}\n"                                                              \
    "          operations:\n"                                                                      \
    "            - name: get-book\n"                                                               \
    "              method: GET\n"                                                                  \
    "  exposes:\n"                                                                                 \
    "    - type: mcp\n"                                                                            \
    "      namespace: m\n"                                                                         \
    "      tools:\n"                                                                               \
    "        - name: t\n"                                                                          \
    "          description: d\n"                                                                   \
    "          call: lib.get-book\n"                                                               \
    "      resources:\n"                                                                           \
    "        - name: readme\n"                                                                     \
    "          uri: docs://readme\n"                                                               \
    "          location: file:///./readme.md\n"                                                    \
    "        - name: book\n"                                                                       \
    "          uri: books://{id}\n"                                                                \
    "          mimeType: application/json\n"                                                       \
    "          call: lib.get-book\n"                                                               \
    "      prompts:\n"                                                                             \
    "        - name: p\n"                                                                          \
    "          arguments:\n"                                                                       \
    "            - name: who\n"                                                                    \
    "              description: w\n"                                                               \
    "          template:\n"                                                                        \
    "            - role: user\n"                                                                   \
    "              content: \"Hello {{who}}\"\n"                                                   \
    "    - type: mcp\n"                                                                            \
    "      namespace: plain\n"                                                                     \
    "      tools:\n"                                                                               \
    "        - name: t2\n"                                                                         \
    "          description: d\n"                                                                   \
    "          call: lib.get-book\n"

static struct jsonrpc_msg parse(const char *text)
{
    struct jsonrpc_msg m = {0};
    cJSON *err = NULL;
    CHECK(jsonrpc_parse(text, strlen(text), &m, &err) == 0);
    cJSON_Delete(err);
    return m;
}

static char *text_of(cJSON *msg)
{
    char *t = cJSON_PrintUnformatted(msg);
    cJSON_Delete(msg);
    return t;
}

static const struct rt_mcp_endpoint *endpoint(const struct runtime *rt, const char *path)
{
    for (size_t i = 0; i < rt->nlisteners; i++)
        for (size_t j = 0; j < rt->listeners[i].nendpoints; j++)
            if (strcmp(rt->listeners[i].endpoints[j].path, path) == 0)
                return &rt->listeners[i].endpoints[j];
    return NULL;
}

/* The reply <ep> gives to <request> at once (MCPP_REPLY or MCPP_REPLY_TEXT), serialised. */
static char *reply(const struct rt_mcp_endpoint *ep, const char *request)
{
    struct jsonrpc_msg m = parse(request);
    struct mcpp_answer a;
    enum mcpp_action act = mcpp_dispatch(ep, &m, &a);
    char *t = act == MCPP_REPLY ? text_of(a.msg) : act == MCPP_REPLY_TEXT ? a.text : NULL;
    CHECK(t != NULL);
    jsonrpc_msg_free(&m);
    return t ? t : xstrdup("");
}

static void expect(const struct rt_mcp_endpoint *ep, const char *request, const char *want)
{
    char *t = reply(ep, request);
    if (!strstr(t, want)) {
        fprintf(stderr, "request: %s\nwant: %s\ngot:  %s\n", request, want, t);
        CHECK(!"reply");
    }
    free(t);
}

static void test_capabilities(const struct runtime *rt)
{
    const char *init = "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":"
                       "{\"protocolVersion\":\"2025-11-25\"}}";
    expect(endpoint(rt, "/mcp/m"), init,
           "\"capabilities\":{\"tools\":{\"listChanged\":false},\"resources\":{\"subscribe\":"
           "false,\"listChanged\":false},\"prompts\":{\"listChanged\":false}}");
    expect(endpoint(rt, "/mcp/plain"), init,
           "\"capabilities\":{\"tools\":{\"listChanged\":false}}");
    /* /mcp serves both adapters: the resources and prompts of one are enough. */
    expect(endpoint(rt, "/mcp"), init, "\"prompts\":{\"listChanged\":false}");
    expect(endpoint(rt, "/mcp/plain"),
           "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"resources/list\"}", "-32601");
    expect(endpoint(rt, "/mcp/plain"),
           "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"prompts/get\",\"params\":{\"name\":\"p\"}}",
           "-32601");
}

static void test_lists_and_static_read(const struct rt_mcp_endpoint *ep)
{
    expect(ep, "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"resources/list\"}",
           "{\"jsonrpc\":\"2.0\",\"id\":3,\"result\":{\"resources\":[{\"uri\":\"docs://readme\","
           "\"name\":\"readme\",\"mimeType\":\"text/markdown\",\"size\":6}]}}");
    expect(ep, "{\"jsonrpc\":\"2.0\",\"id\":4,\"method\":\"resources/templates/list\"}",
           "{\"resourceTemplates\":[{\"uriTemplate\":\"books://{id}\",\"name\":\"book\","
           "\"mimeType\":\"application/json\"}]}");
    expect(ep,
           "{\"jsonrpc\":\"2.0\",\"id\":5,\"method\":\"resources/read\",\"params\":{\"uri\":"
           "\"docs://readme\"}}",
           "{\"contents\":[{\"uri\":\"docs://readme\",\"mimeType\":\"text/markdown\",\"text\":"
           "\"# Hi\\n\\n\"}]}");
    expect(ep,
           "{\"jsonrpc\":\"2.0\",\"id\":6,\"method\":\"resources/read\",\"params\":{\"uri\":"
           "\"docs://other\"}}",
           "\"error\":{\"code\":-32002,\"message\":\"Resource not found: docs://other\"}");
    expect(ep, "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"resources/read\",\"params\":{}}",
           "\"code\":-32602,\"message\":\"resources/read params need a string \\\"uri\\\"\"");
}

static void test_dynamic_read(const struct runtime *rt, const struct rt_mcp_endpoint *ep)
{
    struct jsonrpc_msg m = parse("{\"jsonrpc\":\"2.0\",\"id\":8,\"method\":\"resources/read\","
                                 "\"params\":{\"uri\":\"books://a b%2Bc\"}}");
    struct mcpp_answer a;
    CHECK(mcpp_dispatch(ep, &m, &a) == MCPP_RESOURCE_READ && !a.msg && !a.text);
    struct outreq out;
    outreq_init(&out, MAPPING_MAX_URL);
    const struct rt_call *call;
    const char *uri;
    struct orch *orch;
    cJSON *now = mcpp_prepare_read(rt, ep, &m, NULL, 0, &out, &call, &uri, &orch);
    CHECK(now == NULL && call && call->resource && !orch);
    CHECK_STR(uri, "books://a b%2Bc");
    /* The decoded value goes upstream as one encoded path segment. */
    CHECK_STR(out.url.data, "http://127.0.0.1:1/api/books/a%20b%2Bc");
    cJSON_Delete(now);
    outreq_deinit(&out);

    /* The answer: mapped JSON as text; an upstream 404 is "Resource not found". */
    int code = 0;
    char *msg = NULL;
    cJSON *r =
        mcpres_upstream_result(call, uri, 200, "application/json", "{\"a\":1}", 7, &code, &msg);
    char *t = text_of(r);
    CHECK_STR(t, "{\"contents\":[{\"uri\":\"books://a b%2Bc\",\"mimeType\":\"application/json\","
                 "\"text\":\"{\\\"a\\\":1}\"}]}");
    free(t);
    CHECK(mcpres_upstream_result(call, uri, 404, NULL, "", 0, &code, &msg) == NULL);
    CHECK(code == MCPRES_NOT_FOUND);
    CHECK_STR(msg, "Resource not found: books://a b%2Bc (upstream answered 404 Not Found)");
    free(msg);
    CHECK(mcpres_upstream_result(call, uri, 503, NULL, "", 0, &code, &msg) == NULL);
    CHECK(code == -32603);
    free(msg);
    /* Bytes that are not UTF-8 come back as a base64 blob. */
    r = mcpres_upstream_result(call, uri, 200, "image/png", "\x89PNG", 4, &code, &msg);
    t = text_of(r);
    CHECK(strstr(t, "\"blob\":\"iVBORw==\"") != NULL);
    free(t);
    jsonrpc_msg_free(&m);

    /* A value the call refuses (a '/' in a path segment) is -32602 naming the variable. */
    m = parse("{\"jsonrpc\":\"2.0\",\"id\":14,\"method\":\"resources/read\","
              "\"params\":{\"uri\":\"books://a%2Fb\"}}");
    outreq_init(&out, MAPPING_MAX_URL);
    now = mcpp_prepare_read(rt, ep, &m, NULL, 0, &out, &call, &uri, &orch);
    t = text_of(now);
    CHECK(strstr(t, "\"code\":-32602,\"message\":\"path parameter 'id' must be a single") != NULL);
    free(t);
    outreq_deinit(&out);
    jsonrpc_msg_free(&m);
}

static void test_prompts(const struct rt_mcp_endpoint *ep)
{
    expect(ep, "{\"jsonrpc\":\"2.0\",\"id\":9,\"method\":\"prompts/list\"}",
           "{\"prompts\":[{\"name\":\"p\",\"arguments\":[{\"name\":\"who\",\"description\":"
           "\"w\",\"required\":true}]}]}");
    expect(ep,
           "{\"jsonrpc\":\"2.0\",\"id\":10,\"method\":\"prompts/get\",\"params\":{\"name\":\"p\","
           "\"arguments\":{\"who\":\"{{who}} & co\"}}}",
           "{\"messages\":[{\"role\":\"user\",\"content\":{\"type\":\"text\",\"text\":\"Hello "
           "{{who}} & co\"}}]}");
    expect(ep,
           "{\"jsonrpc\":\"2.0\",\"id\":11,\"method\":\"prompts/get\",\"params\":{\"name\":\"p\"}}",
           "\"code\":-32602,\"message\":\"prompt 'p' is missing required argument 'who'\"");
    expect(ep,
           "{\"jsonrpc\":\"2.0\",\"id\":12,\"method\":\"prompts/get\",\"params\":{\"name\":\"p\","
           "\"arguments\":{\"who\":\"x\",\"wha\":\"y\"}}}",
           "prompt 'p' has no argument 'wha' (did you mean 'who'?)");
    expect(ep,
           "{\"jsonrpc\":\"2.0\",\"id\":13,\"method\":\"prompts/get\",\"params\":{\"name\":\"q\"}}",
           "\"code\":-32602,\"message\":\"Unknown prompt: q\"");
}

/* Two adapters on one port serving the same uri: /mcp would serve both. */
static void test_duplicate_uri(const struct config *cfg)
{
    testfs_put("dup.yaml", "naftiko: 1.0.0-alpha2\n"
                           "capability:\n"
                           "  exposes:\n"
                           "    - type: mcp\n"
                           "      namespace: a\n"
                           "      resources:\n"
                           "        - name: r\n"
                           "          uri: docs://readme\n"
                           "          location: file:///./readme.md\n"
                           "    - type: mcp\n"
                           "      namespace: b\n"
                           "      resources:\n"
                           "        - name: r\n"
                           "          uri: docs://readme\n"
                           "          location: file:///./readme.md\n");
    char *path = xasprintf("%s/dup.yaml", testfs_dir);
    struct diag d;
    diag_init(&d);
    struct model *m = model_new();
    CHECK(loader_load_file(m, path, &d) == 0 && checks_validate(m, &d) == 0);
    struct runtime *rt = runtime_build(m, cfg, &d);
    CHECK(rt == NULL);
    CHECK(diag_contains(&d, "dup.yaml:13:11: error: MCP resource uri 'docs://readme' is also "
                            "used at "));
    CHECK(diag_contains(&d, "dup.yaml:7:11 and both are served at /mcp"));
    runtime_free(rt);
    diag_deinit(&d);
    free(path);
}

int main(void)
{
    if (testfs_open("capproxy-mcpres") < 0)
        return 1;
    testfs_put("readme.md", "# Hi\n\n");
    testfs_put("doc.yaml", DOC);
    struct config cfg;
    config_defaults(&cfg);
    char *path = xasprintf("%s/doc.yaml", testfs_dir);
    struct runtime *rt = testrt_load_file(path, &cfg);
    free(path);
    CHECK(rt != NULL);
    if (rt) {
        CHECK(endpoint(rt, "/mcp/m") && endpoint(rt, "/mcp/plain") && endpoint(rt, "/mcp"));
        RUN(test_capabilities(rt));
        RUN(test_lists_and_static_read(endpoint(rt, "/mcp/m")));
        RUN(test_dynamic_read(rt, endpoint(rt, "/mcp/m")));
        RUN(test_prompts(endpoint(rt, "/mcp/m")));
        /* stdio serves every adapter's resources and prompts too. */
        RUN(test_prompts(rt->stdio_ep));
        RUN(test_lists_and_static_read(rt->stdio_ep));
        runtime_unref(rt);
    }
    RUN(test_duplicate_uri(&cfg));
    config_deinit(&cfg);
    testfs_close();
    return harness_report();
}
