/*
 * Unit tests of the loader's outputRawFormat and outputSchema: each format lands in
 * output_format, and every refusal (unknown format with "did you mean", avro, protobuf, an html
 * selector outside the supported subset) is reported at its line and column.
 */
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "spec/loader.h"
#include "spec/selector.h"

/* A document whose one consumed operation has the two lines <fmt> and <schema> (either may be
 * ""), loaded; returns the operation's model (or NULL) and leaves the messages in <d>. */
static struct model *load(const char *fmt, const char *schema, struct diag *d,
                          const struct model_operation **op)
{
    char *doc = xasprintf("naftiko: 1.0.0-alpha2\n"
                          "capability:\n"
                          "  consumes:\n"
                          "  - namespace: up\n"
                          "    baseUri: http://127.0.0.1:1\n"
                          "    resources:\n"
                          "    - path: /x\n"
                          "      name: x\n"
                          "      operations:\n"
                          "      - name: get\n"
                          "        method: GET\n"
                          "%s%s%s%s"
                          "  exposes:\n"
                          "  - type: rest\n"
                          "    namespace: api\n"
                          "    resources:\n"
                          "    - path: /x\n"
                          "      operations:\n"
                          "      - method: GET\n"
                          "        call: up.get\n",
                          *fmt ? "        outputRawFormat: " : "", fmt, *fmt ? "\n" : "", schema);
    struct model *m = model_new();
    diag_init(d);
    loader_load_buffer(m, "f.yaml", doc, strlen(doc), d);
    free(doc);
    *op = m->ncaps && m->caps[0]->nconsumers ? &m->caps[0]->consumers[0].resources[0].operations[0]
                                             : NULL;
    return m;
}

static void expect_format(const char *fmt, enum model_format want)
{
    struct diag d;
    const struct model_operation *op;
    struct model *m = load(fmt, "", &d, &op);
    CHECK(d.nerrors == 0);
    CHECK(op && op->output_format == want);
    if (*fmt)
        CHECK_STR(op ? op->output_raw_format : NULL, fmt);
    diag_print(&d, stderr);
    diag_deinit(&d);
    model_free(m);
}

static void expect_error(const char *fmt, const char *schema, const char *want)
{
    struct diag d;
    const struct model_operation *op;
    struct model *m = load(fmt, schema, &d, &op);
    CHECK(d.nerrors == 1);
    if (!diag_contains(&d, want)) {
        CHECK_STR("(the messages below)", want);
        diag_print(&d, stderr);
    }
    diag_deinit(&d);
    model_free(m);
}

static void test_known_formats(void)
{
    expect_format("", MODEL_FORMAT_JSON);
    expect_format("json", MODEL_FORMAT_JSON);
    expect_format("xml", MODEL_FORMAT_XML);
    expect_format("XML", MODEL_FORMAT_XML); /* the engine reads labels in any case */
    expect_format("csv", MODEL_FORMAT_CSV);
    expect_format("tsv", MODEL_FORMAT_TSV);
    expect_format("psv", MODEL_FORMAT_PSV);
    expect_format("yaml", MODEL_FORMAT_YAML);
    expect_format("html", MODEL_FORMAT_HTML);
    expect_format("markdown", MODEL_FORMAT_MARKDOWN);
}

static void test_schema_kept(void)
{
    struct diag d;
    const struct model_operation *op;
    struct model *m =
        load("html", "        outputSchema: \"div#main > table.products\"\n", &d, &op);
    CHECK(d.nerrors == 0);
    CHECK_STR(op ? op->output_schema : NULL, "div#main > table.products");
    diag_deinit(&d);
    model_free(m);
    m = load("markdown", "        outputSchema: \"## Results\"\n", &d, &op);
    CHECK(d.nerrors == 0);
    CHECK_STR(op ? op->output_schema : NULL, "## Results");
    diag_deinit(&d);
    model_free(m);
}

static void test_refused(void)
{
    expect_error("xmll", "",
                 "f.yaml:12:26: error: unknown outputRawFormat 'xmll' (did you mean 'xml'?); "
                 "expected one of json, xml, csv, tsv, psv, yaml, html, markdown");
    expect_error("ini", "",
                 "f.yaml:12:26: error: unknown outputRawFormat 'ini'; expected one of json, xml");
    expect_error("avro", "        outputSchema: schemas/users.avsc\n",
                 "f.yaml:12:26: error: outputRawFormat 'avro' is not supported: capproxy has no "
                 "Avro decoder");
    expect_error("protobuf", "        outputSchema: users.proto\n",
                 "f.yaml:12:26: error: outputRawFormat 'protobuf' is not supported: decoding "
                 "Protocol Buffers in C needs code generated from the .proto file");
    expect_error("html", "        outputSchema: \"table[data-x]\"\n",
                 "f.yaml:13:23: error: invalid outputSchema CSS selector 'table[data-x]': '[' at "
                 "offset 5 is not supported (only tag, '*', '.class', '#id', the descendant and "
                 "'>' combinators, and ',')");
    expect_error(
        "html", "        outputSchema: \"table.\"\n",
        "invalid outputSchema CSS selector 'table.': expected a name after '.' at offset 6");
    expect_error("html", "        outputSchema: \"> table\"\n",
                 "expected a tag name, '*', '.class' or '#id' at offset 0");
    expect_error("[xml]", "",
                 "f.yaml:12:26: error: expected a string for 'outputRawFormat', got a sequence");
}

static void test_selector_xpath(void)
{
    char err[128];
    char *x = selector_to_xpath("Table.a#b  td, *.c > p", err, sizeof err);
    CHECK_STR(x, "//table[contains(concat(' ',normalize-space(@class),' '),' a ')][@id='b']//td | "
                 "//*[contains(concat(' ',normalize-space(@class),' '),' c ')]/p");
    free(x);
    CHECK(selector_to_xpath("a,", err, sizeof err) == NULL);
    CHECK(selector_to_xpath("a'b", err, sizeof err) == NULL); /* no quote reaches the XPath */
    CHECK(selector_to_xpath("", err, sizeof err) == NULL);
}

int main(void)
{
    RUN(test_known_formats());
    RUN(test_schema_kept());
    RUN(test_refused());
    RUN(test_selector_xpath());
    return harness_report();
}
