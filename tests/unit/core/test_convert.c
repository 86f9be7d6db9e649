/*
 * Unit tests of convert: each outputRawFormat's JSON shape (the reference engine's where it is
 * sensible), the edge cases, and hostile input refused with a reason (XML DTDs and entities,
 * broken quoting, invalid UTF-8, nesting past the limit).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/convert.h"
#include "spec/selector.h"
#include "harness.h"

/* <text> in format <f> as compact JSON (a new string), or "ERR: <reason>". */
static char *conv(enum model_format f, const char *schema, const char *text)
{
    char err[256];
    /* An html outputSchema is a CSS selector in the document, XPath by the time it is used. */
    char *xpath =
        f == MODEL_FORMAT_HTML && schema ? selector_to_xpath(schema, err, sizeof err) : NULL;
    if (f == MODEL_FORMAT_HTML && schema && !xpath)
        return xasprintf("ERR: outputSchema '%s': %s", schema, err);
    cJSON *j = convert_to_json(f, xpath ? xpath : schema, text, strlen(text), err, sizeof err);
    free(xpath);
    if (!j)
        return xasprintf("ERR: %s", err);
    char *s = cJSON_PrintUnformatted(j);
    cJSON_Delete(j);
    char *r = xstrdup(s);
    cJSON_free(s);
    return r;
}

#define EXPECT(f, schema, text, want)                                                              \
    do {                                                                                           \
        char *got_ = conv((f), (schema), (text));                                                  \
        CHECK_STR(got_, (want));                                                                   \
        free(got_);                                                                                \
    } while (0)

/* An error whose reason starts with <prefix>. */
#define EXPECT_ERR(f, schema, text, prefix)                                                        \
    do {                                                                                           \
        char *got_ = conv((f), (schema), (text));                                                  \
        if (strncmp(got_, "ERR: " prefix, strlen("ERR: " prefix)) != 0) {                          \
            CHECK_STR(got_, "ERR: " prefix "...");                                                 \
        } else {                                                                                   \
            CHECK(1);                                                                              \
        }                                                                                          \
        free(got_);                                                                                \
    } while (0)

static void test_xml_shape(void)
{
    /* The root element is dropped; repeated elements become an array (the engine's users). */
    EXPECT(MODEL_FORMAT_XML, NULL,
           "<?xml version=\"1.0\"?>\n<root>\n  <user><id>1</id><name>Alice Smith</name></user>\n"
           "  <user><id>2</id><name>Bob</name></user>\n</root>\n",
           "{\"user\":[{\"id\":\"1\",\"name\":\"Alice Smith\"},{\"id\":\"2\",\"name\":\"Bob\"}]}");
    EXPECT(MODEL_FORMAT_XML, NULL, "<root><name>Alice</name></root>", "{\"name\":\"Alice\"}");
    /* Attributes are members; text beside them is under ""; an empty element is "". */
    EXPECT(MODEL_FORMAT_XML, NULL,
           "<r><price currency=\"EUR\">42</price><note/><tag a=\"1\" b=\"2\"/></r>",
           "{\"price\":{\"currency\":\"EUR\",\"\":\"42\"},\"note\":\"\",\"tag\":{\"a\":\"1\","
           "\"b\":\"2\"}}");
    /* Namespaces: local names; CDATA is text; entities of XML itself are decoded. */
    EXPECT(MODEL_FORMAT_XML, NULL,
           "<a:r xmlns:a=\"urn:x\"><a:v><![CDATA[<b>&]]></a:v><w>&lt;&amp;&#233;</w></a:r>",
           "{\"v\":\"<b>&\",\"w\":\"<&\xC3\xA9\"}");
    /* A text-only root is its text; three repeats stay one array in order. */
    EXPECT(MODEL_FORMAT_XML, NULL, "<r>hi</r>", "\"hi\"");
    EXPECT(MODEL_FORMAT_XML, NULL, "<r><i>1</i><j>x</j><i>2</i><i>3</i></r>",
           "{\"i\":[\"1\",\"2\",\"3\"],\"j\":\"x\"}");
    /* Declared in Latin-1: read as such, out as UTF-8. */
    EXPECT(MODEL_FORMAT_XML, NULL,
           "<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><r><n>\xE9</n></r>",
           "{\"n\":\"\xC3\xA9\"}");
}

static void test_xml_refused(void)
{
    EXPECT_ERR(MODEL_FORMAT_XML, NULL, "<r><a></r>",
               "Premature end of data in tag r line 1 (line 1, column 11)");
    EXPECT_ERR(MODEL_FORMAT_XML, NULL, "", "Document is empty");
    EXPECT_ERR(MODEL_FORMAT_XML, NULL, "not xml", "Start tag expected");
    /* Billion laughs and XXE: any DTD is refused before an entity is declared. */
    EXPECT_ERR(MODEL_FORMAT_XML, NULL,
               "<?xml version=\"1.0\"?><!DOCTYPE lolz [<!ENTITY lol \"lol\">"
               "<!ENTITY lol2 \"&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;\">]>"
               "<lolz>&lol2;</lolz>",
               "it has a DTD");
    EXPECT_ERR(MODEL_FORMAT_XML, NULL,
               "<!DOCTYPE r [<!ENTITY x SYSTEM \"file:///etc/passwd\">]><r>&x;</r>",
               "it has a DTD");
    EXPECT_ERR(MODEL_FORMAT_XML, NULL, "<!DOCTYPE r SYSTEM \"http://example.com/r.dtd\"><r/>",
               "it has a DTD");
    /* An undeclared entity is an error, not an empty string. */
    EXPECT_ERR(MODEL_FORMAT_XML, NULL, "<r>&x;</r>", "Entity 'x' not defined");
    /* Nesting past the limit. */
    struct strbuf b;
    strbuf_init(&b, 0);
    for (int i = 0; i < CONVERT_MAX_DEPTH + 1; i++)
        strbuf_adds(&b, "<a>");
    for (int i = 0; i < CONVERT_MAX_DEPTH + 1; i++)
        strbuf_adds(&b, "</a>");
    EXPECT_ERR(MODEL_FORMAT_XML, NULL, b.data, "elements nest deeper than 64");
    strbuf_deinit(&b);
}

static void test_delimited(void)
{
    EXPECT(MODEL_FORMAT_CSV, NULL, "name,age\nAlice,42\nBob,39\n",
           "[{\"name\":\"Alice\",\"age\":\"42\"},{\"name\":\"Bob\",\"age\":\"39\"}]");
    EXPECT(MODEL_FORMAT_TSV, NULL, "id\tname\n1\tAlice Smith\n",
           "[{\"id\":\"1\",\"name\":\"Alice Smith\"}]");
    EXPECT(MODEL_FORMAT_PSV, NULL, "id|name\r\n1|Alice\r\n", "[{\"id\":\"1\",\"name\":\"Alice\"}]");
    /* Quoting: delimiters, doubled quotes and line breaks inside; spaces kept. */
    EXPECT(MODEL_FORMAT_CSV, NULL, "a,b\n\"x, y\",\"say \"\"hi\"\"\nthere\"\n p ,q",
           "[{\"a\":\"x, y\",\"b\":\"say \\\"hi\\\"\\nthere\"},{\"a\":\" p \",\"b\":\"q\"}]");
    /* Short records keep their own columns; blank lines are skipped; a BOM is dropped. */
    EXPECT(MODEL_FORMAT_CSV, NULL, "\xEF\xBB\xBFid,name\n1\n\n2,Bo\n",
           "[{\"id\":\"1\"},{\"id\":\"2\",\"name\":\"Bo\"}]");
    /* Only a header, or nothing: no records. */
    EXPECT(MODEL_FORMAT_CSV, NULL, "id,name\n", "[]");
    EXPECT(MODEL_FORMAT_CSV, NULL, "", "[]");
    /* A repeated column name: the last one wins. */
    EXPECT(MODEL_FORMAT_CSV, NULL, "a,a\n1,2\n", "[{\"a\":\"2\"}]");
    EXPECT_ERR(MODEL_FORMAT_CSV, NULL, "a,b\n1,2,3\n",
               "record 2 has more fields than the header's 2");
    EXPECT_ERR(MODEL_FORMAT_CSV, NULL, "a\n\"open", "error parsing data while strict checking");
    EXPECT_ERR(MODEL_FORMAT_CSV, NULL, "a\nx\"y\n", "error parsing data while strict checking");
    EXPECT_ERR(MODEL_FORMAT_CSV, NULL, "a\n\xff\n", "it is not valid UTF-8 text (byte 2)");
}

static void test_yaml(void)
{
    EXPECT(MODEL_FORMAT_YAML, NULL, "name: Alice\nage: 42\ntags: [a, b]\nok: true\nnone: ~\n",
           "{\"name\":\"Alice\",\"age\":42,\"tags\":[\"a\",\"b\"],\"ok\":true,\"none\":null}");
    EXPECT(MODEL_FORMAT_YAML, NULL, "- 1\n- '2'\n", "[1,\"2\"]");
    EXPECT(MODEL_FORMAT_YAML, NULL, "", "null");
    EXPECT_ERR(MODEL_FORMAT_YAML, NULL, "a: [1, 2\n", "");
    EXPECT_ERR(MODEL_FORMAT_YAML, NULL, "a: 1\n---\nb: 2\n", "");
    char *got = conv(MODEL_FORMAT_YAML, NULL, "a: [1, 2\n");
    CHECK(strstr(got, "(line ") != NULL);
    free(got);
}

static const char html_doc[] =
    "<!DOCTYPE html><html><head><title>t</title></head><body>\n"
    "<table class=\"ignored\"><tr><th>Name</th><th>Stock</th></tr>"
    "<tr><td>Ignored</td><td>0</td></tr></table>\n"
    "<div id=\"main\"><table class=\"products big\">\n"
    "  <thead><tr><th>Name</th><th>Price</th><th>Stock</th></tr></thead>\n"
    "  <tbody><tr><td>Widget</td><td>$42</td><td> 150\n units </td></tr>\n"
    "  <tr><th>Sub</th><td>x</td></tr>\n"
    "  <tr><td>Gadget &amp; co</td><td>$99</td></tr></tbody>\n"
    "</table></div>\n"
    "<table><tr><td>no</td><td>header</td></tr></table>\n"
    "</body></html>";

static void test_html(void)
{
    EXPECT(MODEL_FORMAT_HTML, NULL, html_doc,
           "{\"tables\":[[{\"Name\":\"Ignored\",\"Stock\":\"0\"}],"
           "[{\"Name\":\"Widget\",\"Price\":\"$42\",\"Stock\":\"150 units\"},"
           "{\"Name\":\"Gadget & co\",\"Price\":\"$99\",\"Stock\":\"\"}]]}");
    const char *want_products = "{\"tables\":[[{\"Name\":\"Widget\",\"Price\":\"$42\",\"Stock\":"
                                "\"150 units\"},{\"Name\":\"Gadget & co\",\"Price\":\"$99\","
                                "\"Stock\":\"\"}]]}";
    EXPECT(MODEL_FORMAT_HTML, "table.products", html_doc, want_products);
    EXPECT(MODEL_FORMAT_HTML, "#main", html_doc, want_products);
    EXPECT(MODEL_FORMAT_HTML, "div > table.big", html_doc, want_products);
    EXPECT(MODEL_FORMAT_HTML, "body .products, #main", html_doc, want_products);
    EXPECT(MODEL_FORMAT_HTML, "TABLE.nothing", html_doc, "{\"tables\":[]}");
    /* The engine's own table-contract example; no table at all; a fragment. */
    EXPECT(MODEL_FORMAT_HTML, NULL, "<table><tr><th>Name</th></tr><tr><td>Alice</td></tr></table>",
           "{\"tables\":[[{\"Name\":\"Alice\"}]]}");
    EXPECT(MODEL_FORMAT_HTML, NULL, "<p>nothing</p>", "{\"tables\":[]}");
    /* A table nested in a cell is its own table, not rows of the outer one. */
    EXPECT(MODEL_FORMAT_HTML, NULL,
           "<table><tr><th>A</th></tr><tr><td><table><tr><th>B</th></tr><tr><td>in</td></tr>"
           "</table></td></tr></table>",
           "{\"tables\":[[{\"A\":\"Bin\"}],[{\"B\":\"in\"}]]}");
    /* Broken markup is read the way browsers do; no charset named: UTF-8. */
    EXPECT(MODEL_FORMAT_HTML, NULL, "<table><tr><th>\xC3\xA9<tr><td>x",
           "{\"tables\":[[{\"\xC3\xA9\":\"x\"}]]}");
    EXPECT_ERR(MODEL_FORMAT_HTML, "table[x]", html_doc, "outputSchema 'table[x]': '['");
    /* Bytes that are not UTF-8 in a page said to be UTF-8 still give UTF-8 JSON (found by
     * fuzz_convert: the HTML parser lets such bytes through, or reads them as another charset). */
    char *got = conv(MODEL_FORMAT_HTML, NULL,
                     "<meta charset=utf-8><table><tr><th>A</th></tr><tr><td>2\x8c\xa2x</td></tr>"
                     "</table>");
    CHECK(str_has_prefix(got, "{\"tables\":[[{\"A\":\"2"));
    CHECK(utf8_valid(got, strlen(got), NULL));
    free(got);
    got = conv(MODEL_FORMAT_HTML, NULL,
               "\x74\x0d<table><thead><tr><th>A</th></tr></thead><tbody<th>B<tr><td>2\x8c\xa2"
               "ble");
    CHECK(utf8_valid(got, strlen(got), NULL));
    free(got);
}

static void test_markdown(void)
{
    EXPECT(MODEL_FORMAT_MARKDOWN, NULL,
           "---\ntitle: Release Notes\nversion: 2.1.0\n---\n\n## Overview\n"
           "This **release** introduces [new features](https://example.com).\n\n"
           "| Feature | Status |\n|---------|--------|\n| Search  | GA     |\n",
           "{\"frontMatter\":{\"title\":\"Release Notes\",\"version\":\"2.1.0\"},"
           "\"tables\":[[{\"Feature\":\"Search\",\"Status\":\"GA\"}]],"
           "\"sections\":[{\"heading\":\"Overview\",\"level\":2,"
           "\"content\":\"This release introduces new features.\"}]}");
    const char *doc = "Intro text.\n\n# Overview\nGeneral\nintroduction.\n\n## API Reference\n"
                      "Details &amp; `code`.\n\n- one\n- two\n\n## API Usage\nHow to.\r\n";
    EXPECT(
        MODEL_FORMAT_MARKDOWN, NULL, doc,
        "{\"frontMatter\":{},\"tables\":[],\"sections\":["
        "{\"heading\":\"Overview\",\"level\":1,\"content\":\"General introduction.\"},"
        "{\"heading\":\"API Reference\",\"level\":2,\"content\":\"Details & code.\\none\\ntwo\"},"
        "{\"heading\":\"API Usage\",\"level\":2,\"content\":\"How to.\"}]}");
    const char *api =
        "{\"frontMatter\":{},\"tables\":[],\"sections\":["
        "{\"heading\":\"API Reference\",\"level\":2,\"content\":\"Details & code.\\none\\ntwo\"},"
        "{\"heading\":\"API Usage\",\"level\":2,\"content\":\"How to.\"}]}";
    EXPECT(MODEL_FORMAT_MARKDOWN, "API", doc, api);
    EXPECT(MODEL_FORMAT_MARKDOWN, "## API", doc, api);
    /* Short rows are padded; a table of blank headers is skipped; the same contract as html. */
    EXPECT(
        MODEL_FORMAT_MARKDOWN, NULL,
        "| Name | Role |\n|------|------|\n| Alice |\n\n|  |  |\n|--|--|\n| a | b |\n",
        "{\"frontMatter\":{},\"tables\":[[{\"Name\":\"Alice\",\"Role\":\"\"}]],\"sections\":[]}");
    /* No closing fence: all of it is Markdown (a rule, then a paragraph before any heading);
     * a front matter that is not a mapping is {}. */
    EXPECT(MODEL_FORMAT_MARKDOWN, NULL, "---\nx\n# H\n",
           "{\"frontMatter\":{},\"tables\":[],\"sections\":[{\"heading\":\"H\",\"level\":1,"
           "\"content\":\"\"}]}");
    EXPECT(MODEL_FORMAT_MARKDOWN, NULL, "---\n- a\n---\ntext\n",
           "{\"frontMatter\":{},\"tables\":[],\"sections\":[]}");
    EXPECT_ERR(MODEL_FORMAT_MARKDOWN, NULL, "---\na: [\n---\n", "");
    EXPECT_ERR(MODEL_FORMAT_MARKDOWN, NULL, "# \xc3\n", "it is not valid UTF-8 text (byte 2)");
    EXPECT(MODEL_FORMAT_MARKDOWN, NULL, "", "{\"frontMatter\":{},\"tables\":[],\"sections\":[]}");
}

static void test_json_and_labels(void)
{
    EXPECT(MODEL_FORMAT_JSON, NULL, "{\"id\": 12345678901234567890}",
           "{\"id\":12345678901234567890}");
    EXPECT_ERR(MODEL_FORMAT_JSON, NULL, "{} x", "it has bytes after its JSON value");
    EXPECT_ERR(MODEL_FORMAT_JSON, NULL, "[\"a\xff\"]", "it is not valid UTF-8 text (byte 3)");
    CHECK_STR(convert_format_label(MODEL_FORMAT_MARKDOWN), "Markdown");
    CHECK_STR(convert_format_label(MODEL_FORMAT_XML), "XML");
    /* No error buffer: still NULL, no crash. */
    CHECK(convert_to_json(MODEL_FORMAT_CSV, NULL, "a\n\"", 3, NULL, 0) == NULL);
}

/* The value limit holds for a large CSV: a wide file is refused, not built. */
static void test_limits(void)
{
    struct strbuf b;
    strbuf_init(&b, 0);
    strbuf_adds(&b, "a,b,c,d,e,f,g,h,i,j\n");
    for (int i = 0; i < CONVERT_MAX_VALUES / 10 + 1; i++)
        strbuf_adds(&b, "1,2,3,4,5,6,7,8,9,0\n");
    char err[128];
    cJSON *j = convert_to_json(MODEL_FORMAT_CSV, NULL, b.data, b.len, err, sizeof err);
    CHECK(j == NULL);
    CHECK_STR(err, "it holds more than 500000 values");
    strbuf_deinit(&b);

    /* An element's attributes count toward its members as its children do: past the limit the
     * answer is refused, never cut. */
    for (int with_child = 0; with_child < 2; with_child++) {
        strbuf_init(&b, 0);
        strbuf_adds(&b, "<r><e");
        for (int i = 0; i < CONVERT_MAX_KEYS; i++)
            strbuf_addf(&b, " a%d=\"v\"", i);
        strbuf_adds(&b, with_child ? "><c/></e></r>" : "/></r>");
        j = convert_to_json(MODEL_FORMAT_XML, NULL, b.data, b.len, err, sizeof err);
        CHECK(j == NULL);
        cJSON_Delete(j);
        char want[96];
        snprintf(want, sizeof want, "an element has more than %d distinct children and attributes",
                 CONVERT_MAX_KEYS - 1);
        CHECK_STR(err, want);
        strbuf_deinit(&b);
    }
}

int main(void)
{
    RUN(test_xml_shape());
    RUN(test_xml_refused());
    RUN(test_delimited());
    RUN(test_yaml());
    RUN(test_html());
    RUN(test_markdown());
    RUN(test_json_and_labels());
    RUN(test_limits());
    return harness_report();
}
