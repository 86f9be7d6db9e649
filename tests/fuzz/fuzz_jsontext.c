/*
 * fuzz_jsontext: jsontext_is_printed, which lets an upstream's compact answer stand for cJSON's
 * print of the tree parsed from it (the MCP structuredContent of a passthrough tool). Property:
 * whenever it answers yes, cJSON_PrintUnformatted of the tree is byte for byte the input; with
 * big integers kept as raw nodes (jsonnum_keep_big_ints, as the tools do) and without. It may
 * answer no for a text that prints the same; it never says yes to one that prints otherwise.
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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *in = malloc(size + 1);
    memcpy(in, data, size);
    in[size] = '\0';
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
