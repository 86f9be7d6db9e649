/* Unit tests for the per-request shortcuts in mapping (issue 13 "trim"): the digits-only answer
 * of mapping_is_number_text, placeholder names copied to the stack when short (and to the heap
 * when not), and an error struct that mapping_build clears only in part. */
#include "harness.h"
#include "testrt.h"

#include <stdlib.h>

#include "spec/config.h"
#include "spec/loader.h"
#include "core/mapping.h"
#include "core/runtime.h"

static bool num(const char *s, bool integer)
{
    return mapping_is_number_text(s, strlen(s), integer);
}

static void test_number_text(void)
{
    /* Plain digits, signed or not: the shortcut. */
    CHECK(num("0", true) && num("00", true) && num("007", true) && num("-0", true));
    CHECK(num("+5", true) && num("-5", true) && num("+5", false));
    /* A sign alone, two signs, or nothing: not numbers (the shortcut must not take them). */
    CHECK(!num("-", false) && !num("+", false) && !num("+-1", false) && !num("--1", true));
    CHECK(!mapping_is_number_text("", 0, false));
    CHECK(!mapping_is_number_text("12", 0, true));
    /* a NUL inside the value is no number (strtod stops there, strchr finds the terminator) */
    CHECK(!mapping_is_number_text("5\0x", 3, false));
    CHECK(!mapping_is_number_text("5\0", 2, true));
    CHECK(!mapping_is_number_text("1.5\0", 4, false));
    /* Spaces either side, an embedded NUL past the digits. */
    CHECK(!num(" 1", true) && !num("1 ", true) && !num("1\t", false));
    /* The longest text taken (63 bytes) and one longer. */
    char digits[80];
    memset(digits, '9', sizeof digits);
    CHECK(mapping_is_number_text(digits, 63, true));
    CHECK(!mapping_is_number_text(digits, 64, true));
    digits[0] = '-';
    CHECK(mapping_is_number_text(digits, 63, true));
    /* Not digits only: strtod's answer, as before. */
    CHECK(num("1e2", false) && !num("1e2", true) && num("-1.5E+3", false));
    CHECK(!num("1e400", false)); /* not finite */
    CHECK(!num("0x1", false) && !num("nan", false) && !num("-inf", false) && !num("1.", true));
}

/* A consumed path whose placeholders are named <short> (127 bytes: the stack copy's last fit)
 * and <long> (200: the heap copy). */
static char *doc_with_names(const char *shortname, const char *longname)
{
    return xasprintf("naftiko: 1.0.0-alpha2\n"
                     "capability:\n"
                     "  consumes:\n"
                     "    - type: http\n"
                     "      namespace: api\n"
                     "      baseUri: http://up.example\n"
                     "      resources:\n"
                     "        - name: things\n"
                     "          path: /t/{%s}/{%s}\n"
                     "          operations:\n"
                     "            - name: get\n"
                     "              method: GET\n"
                     "              inputParameters:\n"
                     "                - {name: %s, in: path, type: string, required: true}\n"
                     "                - {name: %s, in: path, type: string, required: true}\n"
                     "  exposes:\n"
                     "    - type: rest\n"
                     "      namespace: api-rest\n"
                     "      port: 8080\n"
                     "      resources:\n"
                     "        - path: /v1/{a}/{b}\n"
                     "          operations:\n"
                     "            - method: GET\n"
                     "              call: api.get\n"
                     "              with: {%s: rest.a, %s: rest.b}\n",
                     shortname, longname, shortname, longname, shortname, longname);
}

static void test_long_placeholder_names(void)
{
    char s[128], l[201];
    memset(s, 's', sizeof s - 1);
    s[sizeof s - 1] = '\0';
    memset(l, 'l', sizeof l - 1);
    l[sizeof l - 1] = '\0';
    char *yaml = doc_with_names(s, l);
    struct config cfg;
    config_defaults(&cfg);
    struct runtime *rt = testrt_load("long-names", yaml, &cfg);
    free(yaml);
    CHECK(rt != NULL);
    if (!rt)
        goto out;
    const struct rt_call *call = NULL;
    for (size_t i = 0; i < rt->ncalls; i++)
        if (!rt->calls[i].tool)
            call = &rt->calls[i];
    CHECK(call != NULL);
    if (!call)
        goto out;
    struct mapping_kv path[] = {{"a", "first", 5}, {"b", "second", 6}};
    struct mapping_input in = {.path = path, .npath = 2};
    struct outreq out;
    struct mapping_error err;
    /* Garbage first: a success must leave status 0 and both strings empty. */
    memset(&err, 0xA5, sizeof err);
    outreq_init(&out, MAPPING_MAX_URL);
    CHECK(mapping_build(rt, call, &in, &out, &err) == 0);
    CHECK_STR(out.url.data, "http://up.example/t/first/second");
    CHECK(err.status == 0 && err.param[0] == '\0' && err.detail[0] == '\0');
    outreq_deinit(&out);

    /* The long-named one missing: named in full (a 128-byte name buffer keeps 127 of it). */
    in.npath = 1;
    memset(&err, 0xA5, sizeof err);
    outreq_init(&out, MAPPING_MAX_URL);
    CHECK(mapping_build(rt, call, &in, &out, &err) == -1);
    CHECK(err.status == 400);
    CHECK(strlen(err.param) < sizeof err.param && strncmp(err.param, l, strlen(err.param)) == 0);
    CHECK(strlen(err.detail) < sizeof err.detail);
    outreq_deinit(&out);
    /* Then a success with the same struct: the earlier error is gone. */
    in.npath = 2;
    outreq_init(&out, MAPPING_MAX_URL);
    CHECK(mapping_build(rt, call, &in, &out, &err) == 0);
    CHECK(err.status == 0 && err.param[0] == '\0' && err.detail[0] == '\0');
    outreq_deinit(&out);
out:
    runtime_free(rt);
    config_deinit(&cfg);
}

int main(void)
{
    RUN(test_number_text());
    RUN(test_long_placeholder_names());
    return harness_report();
}
