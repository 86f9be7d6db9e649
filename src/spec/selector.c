/*
 * selector: CSS subset -> XPath (see selector.h).
 */
#include "spec/selector.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "base/util.h"

static void fail(char *err, size_t errlen, const char *fmt, ...) UTIL_PRINTF(3, 4);
static void fail(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || !errlen)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

static bool name_char(char c)
{
    return isalnum((unsigned char)c) || c == '-' || c == '_';
}

static size_t name_len(const char *s)
{
    size_t n = 0;
    while (name_char(s[n]))
        n++;
    return n;
}

/* One compound selector at *<pp> appended to <out> as an XPath step; -1 with the reason when
 * there is none or it holds something outside the subset. */
static int compound(const char **pp, const char *css, struct strbuf *out, char *err, size_t errlen)
{
    const char *p = *pp;
    size_t n = name_len(p);
    if (*p == '*') {
        strbuf_addc(out, '*');
        p++;
    } else if (n > 0) {
        for (size_t i = 0; i < n; i++)
            strbuf_addc(out, (char)tolower((unsigned char)p[i]));
        p += n;
    } else if (*p == '.' || *p == '#') {
        strbuf_addc(out, '*');
    } else {
        fail(err, errlen, "expected a tag name, '*', '.class' or '#id' at offset %zu",
             (size_t)(p - css));
        return -1;
    }
    while (*p == '.' || *p == '#') {
        char kind = *p++;
        n = name_len(p);
        if (n == 0) {
            fail(err, errlen, "expected a name after '%c' at offset %zu", kind, (size_t)(p - css));
            return -1;
        }
        if (kind == '.')
            strbuf_addf(out, "[contains(concat(' ',normalize-space(@class),' '),' %.*s ')]", (int)n,
                        p);
        else
            strbuf_addf(out, "[@id='%.*s']", (int)n, p);
        p += n;
    }
    *pp = p;
    return 0;
}

char *selector_to_xpath(const char *css, char *err, size_t errlen)
{
    struct strbuf out;
    strbuf_init(&out, 0);
    const char *p = css;
    if (!css || strlen(css) > SELECTOR_MAX_LEN) {
        fail(err, errlen, "a selector holds at most %d bytes", SELECTOR_MAX_LEN);
        goto fail;
    }
    for (;;) { /* one selector of the comma-separated group */
        while (*p == ' ' || *p == '\t')
            p++;
        strbuf_adds(&out, "//");
        for (;;) { /* compounds joined by combinators */
            if (compound(&p, css, &out, err, errlen) < 0)
                goto fail;
            const char *q = p;
            while (*q == ' ' || *q == '\t')
                q++;
            if (*q == '>') {
                q++;
                while (*q == ' ' || *q == '\t')
                    q++;
                strbuf_addc(&out, '/');
            } else if (q != p && *q && *q != ',') {
                strbuf_adds(&out, "//");
            } else {
                p = q;
                break;
            }
            p = q;
        }
        if (*p == '\0')
            break;
        if (*p != ',') {
            fail(err, errlen,
                 "'%c' at offset %zu is not supported (only tag, '*', '.class', '#id', the "
                 "descendant and '>' combinators, and ',')",
                 *p, (size_t)(p - css));
            goto fail;
        }
        p++;
        strbuf_adds(&out, " | ");
    }
    return strbuf_detach(&out, NULL);
fail:
    strbuf_deinit(&out);
    return NULL;
}
