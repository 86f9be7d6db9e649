/*
 * uritpl: see uritpl.h. Matching backtracks over each placeholder's length (longest first),
 * remembering where each placeholder failed, so the work stays linear in the URI.
 */
#include "spec/uritpl.h"

#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "spec/urlenc.h"

static bool name_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

int uritpl_check(const char *uri, size_t *err_off, const char **err)
{
    int n = 0;
    bool after_var = false;
    for (const char *p = uri; *p;) {
        if (*p == '}') {
            *err_off = (size_t)(p - uri);
            *err = "'}' without its '{'";
            return -1;
        }
        if (*p != '{') {
            after_var = false;
            p++;
            continue;
        }
        const char *s = p + 1, *e = s;
        while (name_char(*e))
            e++;
        if (*e != '}' || e == s) {
            *err_off = (size_t)(p - uri);
            *err = *e == '}' || !*e || *e == '{'
                       ? "a placeholder is {name}: letters, digits or '_', closed by '}'"
                       : "only simple {name} placeholders are read (no RFC 6570 operator such "
                         "as {+x} or {?x}, no ',' list)";
            return -1;
        }
        if (after_var) {
            *err_off = (size_t)(p - uri);
            *err = "two placeholders must be separated by text, or the URI splits many ways";
            return -1;
        }
        if (++n > URITPL_MAX_VARS) {
            *err_off = (size_t)(p - uri);
            *err = "too many placeholders (at most 16)";
            return -1;
        }
        after_var = true;
        p = e + 1;
    }
    return n;
}

void uritpl_each(const char *tpl, void (*fn)(void *arg, const char *name, size_t len), void *arg)
{
    for (const char *p = strchr(tpl, '{'); p; p = strchr(p, '{')) {
        const char *e = strchr(p, '}');
        if (!e)
            return;
        fn(arg, p + 1, (size_t)(e - p - 1));
        p = e + 1;
    }
}

/* What match_at learnt: fail_at[k] is the lowest start of placeholder k known to fail, NULL
 * when none. Every start of placeholder k lies in one run without '/' (text between two
 * placeholders that holds a '/' pins where the first ends), and a start that fails has every
 * value end after it fail; so a start at or past fail_at[k] fails too, and an earlier one only
 * needs to try the ends up to fail_at[k]. Each end of each placeholder is then tried once:
 * linear in the URI, where plain backtracking is polynomial in it with the placeholders as
 * exponent (`{a}-{b}-{c}.x` against 3000 dashes took minutes). */
struct match_memo {
    const char *fail_at[URITPL_MAX_VARS];
};

/* Match <tpl> against <s>; each placeholder's raw value span is pushed on <spans>. The values
 * are tried longest first, so the split is the one plain backtracking finds. */
static bool match_at(const char *tpl, const char *s, const char **spans, size_t *nspans,
                     struct match_memo *memo)
{
    while (*tpl && *tpl != '{') {
        if (*tpl != *s)
            return false;
        tpl++;
        s++;
    }
    if (!*tpl)
        return !*s;
    size_t k = *nspans;
    const char *fail = memo->fail_at[k];
    if (fail && s >= fail)
        return false;
    const char *close = strchr(tpl, '}');
    size_t run = fail ? (size_t)(fail - s) : strcspn(s, "/");
    for (size_t len = run; len >= 1; len--) {
        spans[k * 2] = s;
        spans[k * 2 + 1] = s + len;
        (*nspans)++;
        if (match_at(close + 1, s + len, spans, nspans, memo))
            return true;
        (*nspans)--;
    }
    memo->fail_at[k] = s;
    return false;
}

struct fill {
    cJSON *vars;
    const char *const *spans;
    size_t i;
    bool ok;
};

static void fill_var(void *arg, const char *name, size_t len)
{
    struct fill *f = arg;
    const char *v = f->spans[f->i * 2], *ve = f->spans[f->i * 2 + 1];
    f->i++;
    size_t dlen;
    char *dec = urlenc_decode_dup(v, (size_t)(ve - v), false, &dlen);
    if (!dec || memchr(dec, '\0', dlen)) {
        f->ok = false;
    } else if (f->vars) {
        char *key = xstrndup(name, len);
        /* A name used twice keeps its first value; uritpl_match checks they agree. */
        const cJSON *had = cJSON_GetObjectItemCaseSensitive(f->vars, key);
        if (!had)
            cJSON_AddItemToObject(f->vars, key, cJSON_CreateString(dec));
        else if (!str_eq(cJSON_GetStringValue(had), dec))
            f->ok = false;
        free(key);
    }
    free(dec);
}

bool uritpl_match(const char *tpl, const char *uri, cJSON *vars)
{
    const char *spans[URITPL_MAX_VARS * 2];
    size_t n = 0;
    struct match_memo memo = {{NULL}};
    if (!match_at(tpl, uri, spans, &n, &memo))
        return false;
    /* Filled apart, so that a URI that fails half-way leaves <vars> as it was. */
    cJSON *tmp = cJSON_CreateObject();
    struct fill f = {.vars = tmp, .spans = spans, .ok = true};
    uritpl_each(tpl, fill_var, &f);
    while (f.ok && vars && tmp->child) {
        cJSON *item = cJSON_DetachItemViaPointer(tmp, tmp->child);
        cJSON_AddItemToObject(vars, item->string, item);
    }
    cJSON_Delete(tmp);
    return f.ok;
}
