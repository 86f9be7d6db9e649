/*
 * fuzz_jsonrpc: one JSON-RPC message as the MCP front ends receive it (jsonrpc_parse), then the
 * steps of their dispatch that need no network, against the shipped documents loaded once:
 * initialize (version negotiation and result), the tools/call params check, the mapping of the
 * tool arguments to the upstream request (mapping_build), and the tool result built from an
 * upstream body (mcptool_upstream_result), with every reply serialised as it would be sent.
 *
 * Input: the message, optionally followed by the line "\n#body\n" and the upstream body (without
 * it the message doubles as the body). Not a NUL byte: the message must be able to hold raw NULs
 * (a raw NUL in a tool name once cut it short inside cJSON). An unknown tool name is answered as
 * the server does and then also mapped with a tool chosen from the name's bytes, so the arguments
 * reach the mapping of every tool without the fuzzer having to guess exact names.
 */
#include "fuzz.h"

#include "base/util.h"
#include "core/jsonrpc.h"
#include "core/mapping.h"
#include "core/mcptool.h"
#include "core/session.h"

static struct runtime *rt;
static const struct rt_call **tools;
static size_t ntools;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    rt = fuzz_shipped_runtime();
    tools = calloc(rt->ncalls, sizeof *tools);
    if (!tools)
        abort();
    for (size_t i = 0; i < rt->ncalls; i++)
        if (rt->calls[i].tool)
            tools[ntools++] = &rt->calls[i];
    if (!ntools) {
        fprintf(stderr, "fuzz_jsonrpc: the shipped documents have no MCP tool\n");
        exit(1);
    }
    return 0;
}

/* Serialise a reply as the front end does, then delete it. */
static void send_reply(cJSON *reply)
{
    FUZZ_ASSERT(reply, "no reply");
    char *s = cJSON_PrintUnformatted(reply);
    FUZZ_ASSERT(s, "reply does not serialise");
    cJSON_free(s);
    cJSON_Delete(reply);
}

static const struct rt_call *pick_tool(const char *name)
{
    size_t h = 0;
    for (size_t i = 0; i < ntools; i++)
        if (strcmp(tools[i]->name, name) == 0)
            return tools[i];
    for (const char *p = name; *p; p++)
        h = h * 31 + (unsigned char)*p;
    return tools[h % ntools];
}

static void tools_call(const struct jsonrpc_msg *m, const char *body, size_t blen)
{
    const char *name;
    const cJSON *args;
    const char *bad = mcptool_call_params(m->params, &name, &args);
    if (bad) {
        send_reply(jsonrpc_error(m->id, JSONRPC_INVALID_PARAMS, bad));
        return;
    }
    FUZZ_ASSERT(name, "params accepted without a name");
    FUZZ_ASSERT(!args || cJSON_IsObject(args), "arguments that are not an object");
    const struct rt_call *call = pick_tool(name);
    if (strcmp(call->name, name) != 0) {
        char *safe = utf8_sanitize(name, strnlen(name, 200));
        char *msg = xasprintf("Unknown tool: %s", safe);
        send_reply(jsonrpc_error(m->id, JSONRPC_INVALID_PARAMS, msg));
        free(msg);
        free(safe);
    }
    struct mapping_input in = {.mcp = true, .args = args};
    struct outreq out;
    struct mapping_error err;
    outreq_init(&out, MAPPING_MAX_URL);
    if (mapping_build(rt, call, &in, &out, &err) < 0) {
        FUZZ_ASSERT(err.status == 400 || err.status == 401 || err.status == 500, "status %d",
                    err.status);
        send_reply(
            jsonrpc_result(m->id, mcptool_text_result(err.detail, strlen(err.detail), true)));
    } else {
        /* Whatever the arguments, the request goes to the configured upstream. */
        FUZZ_ASSERT(strncmp(out.url.data, "https://api.example.test/base/", 30) == 0,
                    "upstream URL %s", out.url.data);
        FUZZ_ASSERT(!strpbrk(out.url.data, "#\r\n "), "upstream URL %s", out.url.data);
        for (size_t i = 0; i < out.nheaders; i++)
            FUZZ_ASSERT(!strpbrk(out.headers[i].name, "\r\n") &&
                            !memchr(out.headers[i].value, '\r', out.headers[i].len) &&
                            !memchr(out.headers[i].value, '\n', out.headers[i].len),
                        "header %s", out.headers[i].name);
    }
    outreq_deinit(&out);
    /* 200, 301 (with a Location) or 502, chosen by the body's length. */
    static const long statuses[] = {200, 301, 502};
    long status = statuses[blen % 3];
    const char *location = status == 301 ? "https://api.example.test/base/next?a=b" : NULL;
    send_reply(jsonrpc_result(m->id, mcptool_upstream_result(call, status, location, body, blen)));
}

/* What goes into a tool result's text: valid UTF-8 without NUL, so sanitising it again changes
 * nothing. Each bad byte becomes the 3 bytes of U+FFFD, so the text never shrinks, and when its
 * length is unchanged nothing was replaced. */
static void check_sanitize(const char *s, size_t len)
{
    char *a = utf8_sanitize(s, len);
    size_t alen = strlen(a);
    char *b = utf8_sanitize(a, alen);
    FUZZ_ASSERT(strcmp(a, b) == 0, "sanitising twice changed the text");
    FUZZ_ASSERT(alen >= len, "sanitising shrank %zu bytes to %zu", len, alen);
    FUZZ_ASSERT(alen != len || memcmp(a, s, len) == 0, "same length, other text");
    free(a);
    free(b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char sep[] = "\n#body\n";
    const char *msg_text = (const char *)data;
    const char *at = memmem(data, size, sep, sizeof sep - 1);
    size_t mlen = at ? (size_t)(at - msg_text) : size;
    const char *b = at ? at + sizeof sep - 1 : msg_text;
    size_t bl = at ? size - mlen - (sizeof sep - 1) : size;
    check_sanitize(b, bl);

    struct jsonrpc_msg m;
    cJSON *error_reply = NULL;
    if (jsonrpc_parse(msg_text, mlen, &m, &error_reply) < 0) {
        send_reply(error_reply);
        return 0;
    }
    /* Outside strings a NUL byte is not JSON; inside one, cJSON would cut the string at it. */
    FUZZ_ASSERT(!memchr(msg_text, 0, mlen), "a message holding a NUL byte was accepted");
    FUZZ_ASSERT(m.kind == JSONRPC_RESPONSE || m.method, "a request without a method");
    if (m.kind == JSONRPC_REQUEST && strcmp(m.method, "initialize") == 0) {
        const cJSON *pv = cJSON_IsObject(m.params)
                              ? cJSON_GetObjectItemCaseSensitive(m.params, "protocolVersion")
                              : NULL;
        if (cJSON_IsString(pv)) {
            const char *v = session_negotiate_version(pv->valuestring);
            FUZZ_ASSERT(session_version_supported(v), "negotiated %s", v);
            send_reply(jsonrpc_result(m.id, mcptool_initialize_result(v, "fuzz", 0)));
        } else {
            send_reply(jsonrpc_error(m.id, JSONRPC_INVALID_PARAMS, "no protocolVersion"));
        }
    } else if (m.kind == JSONRPC_REQUEST && strcmp(m.method, "tools/call") == 0) {
        tools_call(&m, b, bl);
    } else if (m.kind == JSONRPC_REQUEST) {
        send_reply(jsonrpc_error(m.id, JSONRPC_METHOD_NOT_FOUND, "Method not found"));
    }
    jsonrpc_msg_free(&m);
    return 0;
}
