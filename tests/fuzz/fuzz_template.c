/*
 * fuzz_template: Mustache {{name}} rendering (`with` values, body templates) and consumed path
 * templates ({x} / {{x}}), with the values a request could supply.
 *
 * Input: the template, then optionally a NUL byte and the value every placeholder gets. A name
 * starting with '?' is unknown to the lookup and one starting with '!' aborts rendering, so
 * those paths are reached too. Properties (abort on violation):
 *  - a path template template_check_path accepts expands when every name has a plain value,
 *    with one lookup per placeholder template_path_vars lists;
 *  - whatever the value, an expanded path has exactly the '/', '?' and '#' of the template's
 *    literal text: a value can never add a segment, a query or a fragment;
 *  - a failed render or expansion leaves the output buffer as it was.
 */
#include "fuzz.h"

#include "spec/template.h"

struct lookup_arg {
    const char *value;
    size_t len;
    size_t calls;
};

static int lookup(void *arg, const char *name, size_t len, struct strbuf *out)
{
    struct lookup_arg *a = arg;
    a->calls++;
    FUZZ_ASSERT(len > 0, "empty placeholder name looked up");
    if (name[0] == '?')
        return 1;
    if (name[0] == '!')
        return -1;
    return strbuf_add(out, a->value, a->len) < 0 ? -1 : 0;
}

static void count_var(void *arg, const char *name, size_t len)
{
    FUZZ_ASSERT(len > 0 && name[0] != ' ' && name[len - 1] != ' ', "untrimmed name");
    (*(size_t *)arg)++;
}

static size_t count_of(const char *s, size_t len, char c)
{
    size_t n = 0;
    for (size_t i = 0; i < len; i++)
        n += s[i] == c;
    return n;
}

static bool plain_names(const char *tpl)
{
    /* Whether no name starts with '?' or '!' (the lookup knows every one). */
    for (const char *p = strchr(tpl, '{'); p; p = strchr(p + 1, '{')) {
        const char *n = p + 1;
        while (*n == '{' || *n == ' ' || *n == '\t')
            n++;
        if (*n == '?' || *n == '!')
            return false;
    }
    return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *tpl, *value;
    size_t tlen, vlen;
    fuzz_split(data, size, &tpl, &tlen, &value, &vlen);

    /* Mustache rendering, into a buffer holding a prefix, capped by the first byte. */
    static const char prefix[] = "pre:";
    struct strbuf out;
    strbuf_init(&out, size ? 8 + (size_t)data[0] * 8 : 0);
    strbuf_adds(&out, prefix);
    struct lookup_arg a = {value, vlen, 0};
    if (template_render(tpl, lookup, &a, &out) < 0)
        FUZZ_ASSERT(out.len == sizeof prefix - 1 && strcmp(out.data, prefix) == 0,
                    "a failed render changed the buffer");
    strbuf_deinit(&out);
    (void)template_has_placeholder(tpl);

    /* Path templates. The reference expansion gives every name the value "x". */
    size_t err_off = 0;
    const char *err = NULL;
    bool valid = template_check_path(tpl, &err_off, &err) == 0;
    if (!valid)
        FUZZ_ASSERT(err && err_off <= tlen, "bad error offset %zu of %zu", err_off, tlen);
    size_t nvars = 0;
    size_t listed = template_path_vars(tpl, count_var, &nvars);
    FUZZ_ASSERT(listed == nvars, "%zu placeholders counted, %zu listed", nvars, listed);

    struct strbuf ref, got;
    strbuf_init(&ref, 0);
    strbuf_init(&got, 0);
    struct lookup_arg x = {"x", 1, 0};
    const char *missing = NULL;
    size_t missing_len = 0;
    int rrc = template_expand_path(tpl, lookup, &x, &ref, &missing, &missing_len);
    if (valid && plain_names(tpl)) {
        FUZZ_ASSERT(rrc == 0, "a checked template did not expand (missing '%.*s')",
                    (int)missing_len, missing ? missing : "");
        FUZZ_ASSERT(x.calls == nvars, "%zu lookups for %zu placeholders", x.calls, nvars);
    }
    if (rrc < 0)
        FUZZ_ASSERT(ref.len == 0, "a failed expansion left %zu bytes", ref.len);
    struct lookup_arg v = {value, vlen, 0};
    if (rrc == 0 && template_expand_path(tpl, lookup, &v, &got, NULL, NULL) == 0) {
        static const char structural[] = "/?#";
        for (const char *c = structural; *c; c++)
            FUZZ_ASSERT(count_of(got.data, got.len, *c) == count_of(ref.data, ref.len, *c),
                        "the value changed the number of '%c' in '%s'", *c, got.data);
    } else {
        FUZZ_ASSERT(got.len == 0, "a failed expansion left %zu bytes", got.len);
    }
    strbuf_deinit(&ref);
    strbuf_deinit(&got);
    free(tpl);
    free(value);
    return 0;
}
