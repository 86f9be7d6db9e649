/*
 * Unit tests of how the loader reads an operation's `body`: every alpha2 body type lands in
 * the model, and each malformed body is refused with its exact message at its line and column.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "spec/loader.h"

/* A document whose only consumed operation has body <body> (YAML after "body:", line 9). */
static struct model *load(const char *body, struct diag *d)
{
    char full[4096];
    snprintf(full, sizeof full,
             "naftiko: 1.0.0-alpha2\n"                                           /* 1 */
             "capability:\n"                                                     /* 2 */
             "  consumes:\n"                                                     /* 3 */
             "  - type: http\n"                                                  /* 4 */
             "    namespace: up\n"                                               /* 5 */
             "    baseUri: http://127.0.0.1:1\n"                                 /* 6 */
             "    resources:\n"                                                  /* 7 */
             "    - {name: r, path: /r, operations: [{name: op, method: POST,\n" /* 8 */
             "       body: %s}]}\n"                                              /* 9 */
             "  exposes:\n"                                                      /* 10 */
             "  - {type: mcp, namespace: m, port: 9090, tools: [{name: t, description: d,\n"
             "     call: up.op}]}\n",
             body);
    struct model *m = model_new();
    loader_load_buffer(m, "b.yaml", full, strlen(full), d);
    return m;
}

static const struct model_body *body_of(const struct model *m)
{
    if (m->ncaps != 1 || m->caps[0]->nconsumers != 1)
        return NULL;
    const struct model_resource *r = &m->caps[0]->consumers[0].resources[0];
    return r->noperations == 1 ? &r->operations[0].body : NULL;
}

static void test_good(void)
{
    static const struct {
        const char *yaml;
        enum model_body_kind kind;
        const char *tpl;
    } good[] = {
        {"'{\"a\": {{x}}}'", MODEL_BODY_TEMPLATE, "{\"a\": {{x}}}"},
        {"{type: json, data: {a: '{{x}}'}}", MODEL_BODY_JSON, NULL},
        {"{data: [1, 2]}", MODEL_BODY_JSON, NULL}, /* type json when left out, as the engine */
        {"{type: text, data: 'hi {{x}}'}", MODEL_BODY_TEXT, "hi {{x}}"},
        {"{type: xml, data: '<a>{{x}}</a>'}", MODEL_BODY_XML, "<a>{{x}}</a>"},
        {"{type: sparql, data: 'ASK {}'}", MODEL_BODY_SPARQL, "ASK {}"},
        {"{type: formUrlEncoded, data: {a: '{{x}}', n: 1, b: true}}", MODEL_BODY_FORM, NULL},
        {"{type: formUrlEncoded, data: 'a=1&b={{x}}'}", MODEL_BODY_FORM, "a=1&b={{x}}"},
        {"{type: multipartForm, data: [{name: f, value: '{{x}}', filename: a.txt, "
         "contentType: text/plain}, {name: g, value: v}]}",
         MODEL_BODY_MULTIPART, NULL},
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        struct diag d;
        diag_init(&d);
        struct model *m = load(good[i].yaml, &d);
        const struct model_body *b = body_of(m);
        if (d.nerrors)
            diag_print(&d, stderr);
        CHECK(d.nerrors == 0 && b != NULL);
        if (b) {
            CHECK(b->kind == good[i].kind);
            if (good[i].tpl)
                CHECK_STR(b->template, good[i].tpl);
            CHECK(b->pos.line == 9);
        }
        if (b && b->kind == MODEL_BODY_FORM && !good[i].tpl) {
            CHECK(cJSON_IsObject(b->json) && cJSON_GetArraySize(b->json) == 3);
            CHECK(cJSON_IsNumber(cJSON_GetObjectItem(b->json, "n")));
        }
        if (b && b->kind == MODEL_BODY_MULTIPART) {
            CHECK(b->nparts == 2);
            CHECK_STR(b->parts[0].name, "f");
            CHECK_STR(b->parts[0].value, "{{x}}");
            CHECK_STR(b->parts[0].filename, "a.txt");
            CHECK_STR(b->parts[0].content_type, "text/plain");
            CHECK(b->parts[1].filename == NULL && b->parts[1].content_type == NULL);
        }
        model_free(m);
        diag_deinit(&d);
    }
}

static void test_bad(void)
{
    static const struct {
        const char *yaml, *want;
    } bad[] = {
        {"[1]", "9:14: error: expected a string template or a mapping {type, data} for 'body', "
                "got a sequence"},
        {"{type: yaml, data: x}",
         "9:21: error: unknown body type 'yaml', expected one of json, text, xml, sparql, "
         "formUrlEncoded, multipartForm"},
        {"{type: XML, data: x}", "9:21: error: unknown body type 'XML' (did you mean 'xml'?)"},
        {"{type: multipartFrom, data: []}",
         "9:21: error: unknown body type 'multipartFrom' (did you mean 'multipartForm'?)"},
        {"{type: text}", "9:14: error: missing required key 'data' in text body"},
        {"{type: text, dta: x}", "9:27: error: unknown key 'dta' in body (did you mean 'data'?)"},
        {"{type: xml, data: {a: 1}}",
         "9:32: error: expected a string for the 'data' of a xml body, got a mapping"},
        {"'{\"a\": {{x}'", "9:21: error: unclosed '{{' in body template (expected '}}' after it)"},
        {"{type: json, data: {a: [ok, 'x {{y']}}",
         "9:45: error: unclosed '{{' in body template (expected '}}' after it)"},
        {"{type: sparql, data: 'ASK {{{x}'}",
         "9:40: error: unclosed '{{' in body template (expected '}}' after it)"},
        {"{type: formUrlEncoded, data: [a]}",
         "9:43: error: expected a mapping of form fields or a pre-encoded string for the 'data' "
         "of a formUrlEncoded body, got a sequence"},
        {"{type: formUrlEncoded, data: {a: {b: c}}}",
         "9:47: error: expected a string, number or boolean for form field 'a', got a mapping"},
        {"{type: formUrlEncoded, data: {a: null}}",
         "9:47: error: expected a string, number or boolean for form field 'a', got null"},
        {"{type: multipartForm, data: {name: a}}",
         "9:42: error: expected a sequence of parts {name, value, filename, contentType} for the "
         "'data' of a multipartForm body, got a mapping"},
        {"{type: multipartForm, data: [x]}",
         "9:43: error: expected a mapping for 'multipartForm part', got a scalar"},
        {"{type: multipartForm, data: [{value: v}]}",
         "9:43: error: missing required key 'name' in multipartForm part"},
        {"{type: multipartForm, data: [{name: n}]}",
         "9:43: error: missing required key 'value' in multipartForm part"},
        {"{type: multipartForm, data: [{name: n, value: v, file: f}]}",
         "9:63: error: unknown key 'file' in multipartForm part (expected name, value, filename or "
         "contentType)"},
        {"{type: multipartForm, data: [{name: \"a\\r\\nX-Evil: 1\", value: v}]}",
         "9:50: error: multipartForm part name contains a quote, backslash or control character "
         "(CR, LF, ...)"},
        {"{type: multipartForm, data: [{name: n, value: v, filename: 'a\"b'}]}",
         "9:75: error: multipartForm part filename contains a quote, backslash or control "
         "character (CR, LF, ...)"},
        {"{type: multipartForm, data: [{name: n, value: v, contentType: \"a\\nb\"}]}",
         "9:76: error: multipartForm part contentType contains a control character"},
        {"{type: multipartForm, data: [{name: n, value: '{{v'}]}",
         "9:61: error: unclosed '{{' in body template (expected '}}' after it)"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct diag d;
        diag_init(&d);
        struct model *m = load(bad[i].yaml, &d);
        char want[512];
        snprintf(want, sizeof want, "b.yaml:%s", bad[i].want);
        char *got = d.n ? diag_format(&d.v[0]) : NULL;
        CHECK(d.nerrors == 1);
        CHECK_STR(got, want);
        if (d.nerrors != 1)
            diag_print(&d, stderr);
        free(got);
        model_free(m);
        diag_deinit(&d);
    }
}

int main(void)
{
    RUN(test_good());
    RUN(test_bad());
    return harness_report();
}
