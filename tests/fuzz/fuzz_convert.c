/*
 * fuzz_convert: the upstream-format readers (core/convert.h) on arbitrary bodies. The first
 * byte picks the format (low 3 bits: xml, csv, tsv, psv, yaml, html, markdown, json); with
 * bit 3 set, the rest up to a NUL is the outputSchema (html: a CSS selector, turned into XPath
 * as the loader does, so the selector reader is fuzzed too; markdown: a heading prefix) and the
 * body follows it. FUZZ_CONVERT_FORMAT=<name> fixes the format instead (the first byte then
 * only carries the schema bit), to fuzz one reader at a time. Properties:
 *  - either JSON comes back, or NULL with a non-empty reason;
 *  - the JSON prints, and what it prints is valid UTF-8 that parses back to an equal value;
 *  - html and markdown always give their documented top-level members.
 * Any violation aborts; crashes, leaks and UBSan reports are libFuzzer's to catch.
 */
#include "fuzz.h"

#include "base/util.h"
#include "core/convert.h"
#include "spec/selector.h"

static const enum model_format order[8] = {
    MODEL_FORMAT_XML,  MODEL_FORMAT_CSV,  MODEL_FORMAT_TSV,      MODEL_FORMAT_PSV,
    MODEL_FORMAT_YAML, MODEL_FORMAT_HTML, MODEL_FORMAT_MARKDOWN, MODEL_FORMAT_JSON,
};
static int fixed = -1;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    const char *f = getenv("FUZZ_CONVERT_FORMAT");
    if (f && *f) {
        fixed = model_format_parse(f);
        if (fixed < 0) {
            fprintf(stderr, "FUZZ_CONVERT_FORMAT: unknown format '%s'\n", f);
            exit(2);
        }
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    enum model_format f = fixed >= 0 ? (enum model_format)fixed : order[data[0] & 7];
    bool with_schema = data[0] & 8;
    char *schema = NULL, *body = NULL;
    size_t slen = 0, blen = 0;
    if (with_schema) {
        fuzz_split(data + 1, size - 1, &schema, &slen, &body, &blen);
    } else {
        body = xstrndup((const char *)data + 1, size - 1);
        blen = size - 1;
    }
    char err[256];
    if (f == MODEL_FORMAT_HTML && schema) {
        /* A selector the loader refuses never reaches a conversion. */
        char *xpath = selector_to_xpath(schema, err, sizeof err);
        FUZZ_ASSERT(xpath || err[0] != '\0', "selector refused without a reason");
        free(schema);
        schema = xpath;
        if (!schema)
            goto out;
    }
    cJSON *j = convert_to_json(f, schema, body, blen, err, sizeof err);
    if (!j) {
        FUZZ_ASSERT(err[0] != '\0', "%s: NULL without a reason", convert_format_label(f));
    } else {
        char *s = cJSON_PrintUnformatted(j);
        FUZZ_ASSERT(s != NULL, "%s: the result does not print", convert_format_label(f));
        FUZZ_ASSERT(utf8_valid(s, strlen(s), NULL), "%s: printed JSON is not UTF-8: %s",
                    convert_format_label(f), s);
        cJSON *back = cJSON_Parse(s);
        FUZZ_ASSERT(back != NULL, "%s: printed JSON does not parse: %s", convert_format_label(f),
                    s);
        if (f != MODEL_FORMAT_JSON && f != MODEL_FORMAT_YAML) /* numbers may round there */
            FUZZ_ASSERT(cJSON_Compare(j, back, true), "%s: round trip differs: %s",
                        convert_format_label(f), s);
        if (f == MODEL_FORMAT_HTML)
            FUZZ_ASSERT(cJSON_IsArray(cJSON_GetObjectItem(j, "tables")), "html: no tables: %s", s);
        if (f == MODEL_FORMAT_MARKDOWN)
            FUZZ_ASSERT(cJSON_IsObject(cJSON_GetObjectItem(j, "frontMatter")) &&
                            cJSON_IsArray(cJSON_GetObjectItem(j, "sections")),
                        "markdown: members missing: %s", s);
        cJSON_Delete(back);
        cJSON_free(s);
        cJSON_Delete(j);
    }
out:
    free(schema);
    free(body);
    return 0;
}
