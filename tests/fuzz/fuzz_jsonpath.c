/*
 * fuzz_jsonpath: a JSONPath expression as a document's output `mapping` holds it, checked as
 * the loader does (jsonpath_check) and evaluated as a response mapping does (jsonpath_eval).
 *
 * Input: the expression, then optionally a NUL byte and a JSON document; without a valid one
 * the expression runs against a fixed document shaped like the Cal.com answers. Properties
 * (abort on violation): an expression jsonpath_check refuses never yields a value; "$", "$."
 * and "" give a copy equal to the document; every result serialises.
 */
#include "fuzz.h"

#include "spec/jsonpath.h"
#include "base/util.h"

static cJSON *fixed;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    static const char doc[] =
        "{\"status\":\"success\",\"data\":{\"users\":[{\"id\":1,\"email\":\"a@example.test\","
        "\"name\":null,\"tags\":[\"x\",\"y\"]},{\"id\":2,\"email\":\"b@example.test\","
        "\"a.b\":{\"c'd\":true}}],\"total\":2,\"\":[[]]},\"pagination\":{\"next\":[1,[2,[3]]]}}";
    fixed = cJSON_Parse(doc);
    if (!fixed)
        abort();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *path, *json;
    size_t plen, jlen;
    fuzz_split(data, size, &path, &plen, &json, &jlen);
    cJSON *own = NULL;
    if (jlen && !json_text_refusal(json, jlen, false, NULL))
        own = cJSON_ParseWithLength(json, jlen);
    const cJSON *doc = own ? own : fixed;

    const char *err = NULL;
    bool valid = jsonpath_check(path, &err) == 0;
    FUZZ_ASSERT(valid || err, "refused without a message");
    cJSON *r = jsonpath_eval(doc, path);
    if (!valid)
        FUZZ_ASSERT(!r, "'%s' was refused but yields a value", path);
    if (jsonpath_is_root(path)) {
        /* Compared as text: cJSON_Compare looks keys up by name, so an object with a duplicate
         * key never equals even its own copy. */
        char *want = cJSON_PrintUnformatted(doc);
        char *got = r ? cJSON_PrintUnformatted(r) : NULL;
        FUZZ_ASSERT(got && strcmp(got, want) == 0, "root path '%s' is not the document", path);
        cJSON_free(want);
        cJSON_free(got);
    }
    if (r) {
        char *s = cJSON_PrintUnformatted(r);
        FUZZ_ASSERT(s, "result does not serialise");
        cJSON_free(s);
        cJSON_Delete(r);
    }
    cJSON_Delete(own);
    free(path);
    free(json);
    return 0;
}
