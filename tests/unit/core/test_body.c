/* Unit tests for request bodies: every body type of the alpha2 format rendered through
 * mapping_build, with its Content-Type and each format's escaping of the caller's values. */
#include "harness.h"
#include "testrt.h"

#include <stdlib.h>

#include "spec/config.h"
#include "core/mapping.h"
#include "core/runtime.h"

static const char *doc_yaml =
    "naftiko: 1.0.0-alpha2\n"
    "binds:\n"
    "  - namespace: env\n"
    "    keys: {BODY_TOKEN: CPX_BODY_TOKEN}\n"
    "capability:\n"
    "  consumes:\n"
    "    - type: http\n"
    "      namespace: up\n"
    "      baseUri: http://up.example\n"
    "      resources:\n"
    "        - name: r\n"
    "          path: /r\n"
    "          operations:\n"
    "            - name: raw\n"
    "              method: POST\n"
    "              body: '{\"crewIds\": {{crewIds}}, \"note\": \"{{note}}\"}'\n"
    "            - name: rawtext\n"
    "              method: POST\n"
    "              body: 'hello {{note}}'\n"
    "            - name: json\n"
    "              method: POST\n"
    "              body:\n"
    "                type: json\n"
    "                data: {n: '{{count}}', s: 'id-{{count}}', l: '{{crewIds}}', k: fixed,\n"
    "                       t: '{{BODY_TOKEN}}'}\n"
    "            - name: text\n"
    "              method: POST\n"
    "              body: {type: text, data: 'note: {{note}}'}\n"
    "            - name: xml\n"
    "              method: POST\n"
    "              body: {type: xml, data: '<m><note>{{note}}</note></m>'}\n"
    "            - name: sparql\n"
    "              method: POST\n"
    "              body: {type: sparql, data: 'SELECT ?s WHERE { ?s ?p \"{{note}}\" }'}\n"
    "            - name: form\n"
    "              method: POST\n"
    "              inputParameters:\n"
    "                - {name: extra, in: body}\n"
    "              body:\n"
    "                type: formUrlEncoded\n"
    "                data: {grant_type: client_credentials, 'a&b': '{{note}}', opt: '{{opt}}',\n"
    "                       n: 3}\n"
    "            - name: formstr\n"
    "              method: POST\n"
    "              body: {type: formUrlEncoded, data: 'q={{note}}&x=1'}\n"
    "            - name: multi\n"
    "              method: POST\n"
    "              body:\n"
    "                type: multipartForm\n"
    "                data:\n"
    "                  - {name: meta, value: '{{note}}'}\n"
    "                  - {name: file, value: '{{content}}', filename: a.txt,\n"
    "                     contentType: text/plain}\n"
    "                  - {name: opt, value: '{{opt}}'}\n"
    "            - name: typed\n"
    "              method: POST\n"
    "              inputParameters:\n"
    "                - {name: Content-Type, in: header, value: application/vnd.x+xml}\n"
    "              body: {type: xml, data: '<a>{{note}}</a>'}\n"
    "  exposes:\n"
    "    - type: mcp\n"
    "      namespace: m\n"
    "      port: 9090\n"
    "      tools:\n"
    "        - {name: raw, description: d, call: up.raw}\n"
    "        - {name: rawtext, description: d, call: up.rawtext}\n"
    "        - {name: json, description: d, call: up.json}\n"
    "        - {name: text, description: d, call: up.text}\n"
    "        - {name: xml, description: d, call: up.xml}\n"
    "        - {name: sparql, description: d, call: up.sparql}\n"
    "        - {name: form, description: d, call: up.form}\n"
    "        - {name: formstr, description: d, call: up.formstr}\n"
    "        - {name: multi, description: d, call: up.multi}\n"
    "        - {name: typed, description: d, call: up.typed}\n";

static struct runtime *rt;

static const struct rt_call *tool(const char *name)
{
    for (size_t i = 0; i < rt->ncalls; i++)
        if (rt->calls[i].tool && str_eq(rt->calls[i].name, name))
            return &rt->calls[i];
    return NULL;
}

/* Map tool <name> with arguments <args> (JSON text). On success <out> holds the request and 0
 * is returned; else -1 with <err>. */
static int build(const char *name, const char *args, struct outreq *out, struct mapping_error *err)
{
    const struct rt_call *call = tool(name);
    CHECK(call != NULL);
    if (!call)
        return -1;
    cJSON *a = cJSON_Parse(args);
    CHECK(a != NULL);
    struct mapping_input in = {.mcp = true, .args = a};
    outreq_init(out, MAPPING_MAX_URL);
    int rc = mapping_build(rt, call, &in, out, err);
    cJSON_Delete(a);
    return rc;
}

static const char *ctype(const struct outreq *o)
{
    const struct outreq_header *h = outreq_find_header(o, "Content-Type");
    return h ? h->value : NULL;
}

/* Check that tool <name> with <args> sends <body> with Content-Type <ct>. */
static void expect(const char *name, const char *args, const char *body, const char *ct)
{
    struct outreq out;
    struct mapping_error err;
    int rc = build(name, args, &out, &err);
    if (rc != 0)
        fprintf(stderr, "%s: %d %s: %s\n", name, err.status, err.param, err.detail);
    CHECK(rc == 0);
    CHECK_STR(out.body, body);
    CHECK(out.body && strlen(out.body) == out.body_len);
    CHECK_STR(ctype(&out), ct);
    CHECK(out.nheaders == 1 || strcmp(name, "typed") == 0);
    outreq_deinit(&out);
}

static void expect_fail(const char *name, const char *args, const char *param, const char *detail)
{
    struct outreq out;
    struct mapping_error err;
    CHECK(build(name, args, &out, &err) == -1);
    CHECK(err.status == 400);
    CHECK_STR(err.param, param);
    CHECK_STR(err.detail, detail);
    CHECK(out.body == NULL);
    outreq_deinit(&out);
}

/* A raw template: values unescaped, arrays as JSON; JSON when it renders to JSON, else text. */
static void test_raw(void)
{
    expect("raw", "{\"crewIds\":[\"C-1\",\"C-3\"],\"note\":\"hi\"}",
           "{\"crewIds\": [\"C-1\",\"C-3\"], \"note\": \"hi\"}", "application/json");
    expect("raw", "{\"crewIds\":[1],\"note\":\"a\\\"b\"}", "{\"crewIds\": [1], \"note\": \"a\"b\"}",
           "text/plain; charset=utf-8");
    expect("rawtext", "{\"note\":\"you\"}", "hello you", "text/plain; charset=utf-8");
    /* Inputs are the template's names: anything else is refused, as for every body. */
    expect_fail("rawtext", "{\"nte\":\"you\"}", "nte",
                "unknown argument 'nte' (did you mean 'note'?)");
}

/* json: string leaves render and are JSON-escaped; a leaf that is exactly {{x}} keeps x's JSON
 * type; a binds variable is never replaced by an input of its name. */
static void test_json(void)
{
    expect("json", "{\"count\":5,\"crewIds\":[\"a\",\"b\"]}",
           "{\"n\":5,\"s\":\"id-5\",\"l\":[\"a\",\"b\"],\"k\":\"fixed\",\"t\":\"tok\"}",
           "application/json");
    expect("json", "{\"count\":\"x\\\"y\",\"crewIds\":\"q\"}",
           "{\"n\":\"x\\\"y\",\"s\":\"id-x\\\"y\",\"l\":\"q\",\"k\":\"fixed\",\"t\":\"tok\"}",
           "application/json");
}

static void test_text_xml_sparql(void)
{
    expect("text", "{\"note\":\"<&>\\n\"}", "note: <&>\n", "text/plain; charset=utf-8");
    expect("xml", "{\"note\":\"</note><evil a='1'>&amp;\"}",
           "<m><note>&lt;/note&gt;&lt;evil a=&apos;1&apos;&gt;&amp;amp;</note></m>",
           "application/xml");
    expect("xml", "{\"note\":[1,\"x\"]}", "<m><note>[1,&quot;x&quot;]</note></m>",
           "application/xml");
    expect_fail("xml", "{\"note\":\"a\\u0001b\"}", "note",
                "the value of 'note' contains a control character that an XML body cannot carry");
    expect("sparql", "{\"note\":\"x\\\" } ; DROP ALL ; #\\n'\\\\\"}",
           "SELECT ?s WHERE { ?s ?p \"x\\\" } ; DROP ALL ; #\\n\\'\\\\\" }",
           "application/sparql-query");
    /* A declared Content-Type header parameter wins over the body type's. */
    expect("typed", "{\"note\":\"&\"}", "<a>&amp;</a>", "application/vnd.x+xml");
}

static void test_form(void)
{
    expect("form", "{\"note\":\"a&b=c d\",\"opt\":\"o\"}",
           "grant_type=client_credentials&a%26b=a%26b%3Dc%20d&opt=o&n=3",
           "application/x-www-form-urlencoded");
    /* An absent optional value leaves its field out; flat `in: body` fields join the form. */
    expect("form", "{\"note\":\"\",\"extra\":\"e+1\"}",
           "grant_type=client_credentials&a%26b=&n=3&extra=e%2B1",
           "application/x-www-form-urlencoded");
    expect("formstr", "{\"note\":\"1&x=2\"}", "q=1%26x%3D2&x=1",
           "application/x-www-form-urlencoded");
}

static void test_multipart(void)
{
    const char *b = "capproxy-boundary-00000000";
    char want[1024];
    snprintf(want, sizeof want,
             "--%s\r\nContent-Disposition: form-data; name=\"meta\"\r\n\r\nm\r\n"
             "--%s\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.txt\"\r\n"
             "Content-Type: text/plain\r\n\r\nline1\r\nline2\r\n"
             "--%s--\r\n",
             b, b, b);
    expect("multi", "{\"note\":\"m\",\"content\":\"line1\\r\\nline2\"}", want,
           "multipart/form-data; boundary=capproxy-boundary-00000000");
    /* A value holding the boundary gets another one. */
    struct outreq out;
    struct mapping_error err;
    CHECK(build("multi",
                "{\"note\":\"--capproxy-boundary-00000000\",\"content\":\"c\",\"opt\":\"o\"}", &out,
                &err) == 0);
    const char *ct = ctype(&out);
    CHECK(ct && strncmp(ct, "multipart/form-data; boundary=", 30) == 0);
    const char *bnd = ct ? ct + 30 : "";
    CHECK(strcmp(bnd, b) != 0);
    char close[128];
    snprintf(close, sizeof close, "\r\n--%s--\r\n", bnd);
    CHECK(out.body && strstr(out.body, close) && strstr(out.body, "name=\"opt\"\r\n\r\no\r\n"));
    /* The boundary is in no value: it delimits the three parts and closes, nothing more. */
    size_t n = 0;
    for (const char *p = out.body; p && (p = strstr(p, bnd)); p += strlen(bnd))
        n++;
    CHECK(n == 4);
    outreq_deinit(&out);
}

int main(void)
{
    struct config cfg;
    config_defaults(&cfg);
    setenv("CPX_BODY_TOKEN", "tok", 1);
    rt = testrt_load("body.yaml", doc_yaml, &cfg);
    CHECK(rt != NULL);
    if (rt) {
        RUN(test_raw());
        RUN(test_json());
        RUN(test_text_xml_sparql());
        RUN(test_form());
        RUN(test_multipart());
    }
    runtime_free(rt);
    config_deinit(&cfg);
    return harness_report();
}
