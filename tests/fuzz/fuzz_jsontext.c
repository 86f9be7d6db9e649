/*
 * fuzz_jsontext: jsontext_is_printed, which lets an upstream's compact answer stand for cJSON's
 * print of the tree parsed from it (the MCP structuredContent of a passthrough tool). Property:
 * whenever it answers yes, cJSON_PrintUnformatted of the tree is byte for byte the input; with
 * big integers kept as raw nodes (jsonnum_keep_big_ints, as the tools do) and without. It may
 * answer no for a text that prints the same; it never says yes to one that prints otherwise.
 * Also, for the same bytes as a text: jsontext_scan's facts tell what a pass byte by byte
 * tells, and the literal jsontext_put_literal writes in place (when jsontext_literal_len gives
 * its length) is jsontext_string's, to the byte and to the length.
 * Input: any bytes (cJSON decides what is JSON). Any violation aborts.
 */
#include "fuzz.h"

#include "base/jsonnum.h"
#include "base/jsontext.h"

static void check(const cJSON *doc, const char *in, size_t size, const char *how)
{
    if (!jsontext_is_printed(doc, in, size))
        return;
    char *printed = cJSON_PrintUnformatted(doc);
    FUZZ_ASSERT(printed && strlen(printed) == size && memcmp(printed, in, size) == 0,
                "%s: said printed, cJSON prints %s", how, printed ? printed : "(null)");
    free(printed);
}

static void check_facts(const char *in, size_t size)
{
    struct jsontext_facts f;
    jsontext_scan(in, size, &f);
    bool plain = true, ascii = true;
    size_t quotes = 0;
    for (size_t i = 0; i < size; i++) {
        unsigned char c = (unsigned char)in[i];
        plain = plain && c >= 0x20 && c != '\\';
        ascii = ascii && c < 0x80;
        quotes += c == '"';
    }
    FUZZ_ASSERT(f.plain == plain && f.ascii == ascii && f.quotes == quotes,
                "facts: plain %d/%d ascii %d/%d quotes %zu/%zu", f.plain, plain, f.ascii, ascii,
                f.quotes, quotes);
    size_t litlen = jsontext_literal_len(in, size, &f), n = 0;
    if (!litlen)
        return;
    char *want = jsontext_string(in, size, NULL, NULL, &n);
    char *got = malloc(litlen);
    char *end = jsontext_put_literal(got, in, size, litlen);
    FUZZ_ASSERT(n == litlen && end == got + litlen && memcmp(got, want, n) == 0,
                "literal in place differs from jsontext_string's %s", want);
    free(got);
    free(want);
}

/* jsontext_is_printed_object, which lets a compact upstream object through without a tree of
 * it: whenever it answers yes, cJSON reads the whole text as one object (what the passthrough
 * reads: one value, big integers' digits kept) and prints it byte for byte as it is. */
static void check_object(const char *in, size_t size)
{
    struct jsontext_facts f;
    jsontext_scan(in, size, &f);
    if (!jsontext_is_printed_object(in, size, &f))
        return;
    cJSON *doc = jsonnum_parse_exact(in, size, NULL);
    FUZZ_ASSERT(cJSON_IsObject(doc), "said a printed object, cJSON does not read one");
    char *printed = cJSON_PrintUnformatted(doc);
    FUZZ_ASSERT(printed && strlen(printed) == size && memcmp(printed, in, size) == 0,
                "said a printed object, cJSON prints %s", printed ? printed : "(null)");
    free(printed);
    cJSON_Delete(doc);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *in = malloc(size + 1);
    memcpy(in, data, size);
    in[size] = '\0';
    check_facts(in, size);
    check_object(in, size);
    const char *end = NULL;
    cJSON *doc = cJSON_ParseWithLengthOpts(in, size, &end, false);
    if (doc && end == in + size) {
        check(doc, in, size, "plain tree");
        if (jsonnum_keep_big_ints(doc, NULL, in, size))
            check(doc, in, size, "big integers kept");
    }
    cJSON_Delete(doc);
    free(in);
    return 0;
}
