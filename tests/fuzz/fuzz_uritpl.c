/*
 * fuzz_uritpl: MCP resource URI templates (spec/uritpl.h): the template is the document's, the
 * URI a caller's `resources/read` names, matched with backtracking.
 *
 * Input: the template, a NUL byte, then the URI (no NUL: the front end hands over a C string).
 * Properties (abort on violation; a slow match is libFuzzer's -timeout):
 *  - a refused template has its fault inside it and a message;
 *  - uritpl_each lists as many names as uritpl_check counted;
 *  - a match gives one string per distinct name, each non-empty, without NUL; the URI without
 *    '%' is given back exactly by putting the values in the template (so a value holds no '/');
 *  - a match against a URI that holds a '/' never puts it in a value;
 *  - for a short URI, the match agrees with a plain exhaustive matcher written here (longest
 *    value first for each placeholder, left to right): same verdict, same values;
 *  - a failed match leaves the caller's object as it was.
 */
#include "fuzz.h"

#include "base/util.h"
#include "spec/uritpl.h"

/* The exhaustive reference: placeholder spans in <spans>, as uritpl.h documents the match. */
static bool ref_match(const char *tpl, const char *s, const char **spans, size_t *n)
{
    while (*tpl && *tpl != '{') {
        if (*tpl != *s)
            return false;
        tpl++;
        s++;
    }
    if (!*tpl)
        return !*s;
    const char *close = strchr(tpl, '}');
    size_t run = strcspn(s, "/");
    for (size_t len = run; len >= 1; len--) {
        spans[*n * 2] = s;
        spans[*n * 2 + 1] = s + len;
        (*n)++;
        if (ref_match(close + 1, s + len, spans, n))
            return true;
        (*n)--;
    }
    return false;
}

struct names {
    size_t n;
    const char *name[URITPL_MAX_VARS];
    size_t len[URITPL_MAX_VARS];
};

static void add_name(void *arg, const char *name, size_t len)
{
    struct names *ns = arg;
    FUZZ_ASSERT(ns->n < URITPL_MAX_VARS, "more names than allowed");
    ns->name[ns->n] = name;
    ns->len[ns->n] = len;
    ns->n++;
}

/* <tpl> with each placeholder replaced by its value in <vars>. */
static char *expand(const char *tpl, const struct names *ns, const cJSON *vars)
{
    struct strbuf b;
    strbuf_init(&b, 0);
    const char *p = tpl;
    for (size_t i = 0; i < ns->n; i++) {
        const char *open = ns->name[i] - 1;
        strbuf_add(&b, p, (size_t)(open - p));
        char *key = xstrndup(ns->name[i], ns->len[i]);
        const char *v = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(vars, key));
        FUZZ_ASSERT(v != NULL, "no value for {%s}", key);
        strbuf_adds(&b, v);
        free(key);
        p = ns->name[i] + ns->len[i] + 1;
    }
    strbuf_adds(&b, p);
    return strbuf_detach(&b, NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *tpl, *uri;
    size_t tlen, ulen;
    fuzz_split(data, size, &tpl, &tlen, &uri, &ulen);
    if (memchr(uri, '\0', ulen))
        goto out;

    size_t off = 0;
    const char *err = NULL;
    int nvars = uritpl_check(tpl, &off, &err);
    if (nvars < 0) {
        FUZZ_ASSERT(err && *err && off < tlen, "refusal at %zu of %zu", off, tlen);
        goto out;
    }
    struct names ns = {0};
    uritpl_each(tpl, add_name, &ns);
    FUZZ_ASSERT(ns.n == (size_t)nvars, "%zu names listed, %d counted", ns.n, nvars);

    /* The caller's object already holds a member: a failed match must leave it alone. */
    cJSON *vars = cJSON_CreateObject();
    cJSON_AddStringToObject(vars, "-pre", "x"); /* never a placeholder name */
    bool m = uritpl_match(tpl, uri, vars);
    if (!m) {
        FUZZ_ASSERT(cJSON_GetArraySize(vars) == 1, "a failed match changed the values");
    } else {
        size_t distinct = 0;
        for (size_t i = 0; i < ns.n; i++) {
            bool seen = false;
            for (size_t j = 0; j < i && !seen; j++)
                seen = ns.len[j] == ns.len[i] && !memcmp(ns.name[j], ns.name[i], ns.len[i]);
            distinct += !seen;
        }
        FUZZ_ASSERT((size_t)cJSON_GetArraySize(vars) == 1 + distinct, "%d values for %zu names",
                    cJSON_GetArraySize(vars) - 1, distinct);
        const cJSON *v;
        cJSON_ArrayForEach(v, vars)
        {
            FUZZ_ASSERT(cJSON_IsString(v) && v->valuestring[0], "an empty or absent value");
            FUZZ_ASSERT(strchr(uri, '%') || !strchr(v->valuestring, '/'), "'/' in a value: %s",
                        v->valuestring);
        }
        if (!strchr(uri, '%')) {
            char *back = expand(tpl, &ns, vars);
            FUZZ_ASSERT(str_eq(back, uri), "the values give back '%s', not '%s'", back, uri);
            free(back);
        }
    }

    /* The exhaustive reference, on URIs short enough for it. */
    if (ulen <= 48) {
        const char *spans[URITPL_MAX_VARS * 2];
        size_t n = 0;
        bool r = ref_match(tpl, uri, spans, &n);
        FUZZ_ASSERT(r || !m, "the matcher matches what the reference does not");
        bool repeated = false;
        for (size_t i = 0; i < ns.n; i++)
            for (size_t j = 0; j < i; j++)
                repeated |= ns.len[j] == ns.len[i] && !memcmp(ns.name[j], ns.name[i], ns.len[i]);
        /* With the same split, only a value that does not decode, or a name used twice with
         * two values, fails the real match. */
        FUZZ_ASSERT(!r || m || strchr(uri, '%') || repeated,
                    "the reference matches but the matcher does not");
        if (r && m && !strchr(uri, '%'))
            for (size_t i = 0; i < n; i++) {
                char *key = xstrndup(ns.name[i], ns.len[i]);
                const char *got = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(vars, key));
                size_t want = (size_t)(spans[i * 2 + 1] - spans[i * 2]);
                FUZZ_ASSERT(got && strlen(got) == want && !memcmp(got, spans[i * 2], want),
                            "{%s} is '%s', the reference says '%.*s'", key, got ? got : "(none)",
                            (int)want, spans[i * 2]);
                free(key);
            }
    }
    cJSON_Delete(vars);
out:
    free(tpl);
    free(uri);
    return 0;
}
