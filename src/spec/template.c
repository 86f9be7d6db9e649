/*
 * template: see template.h. Rendering runs per request, so nothing here allocates except through
 * the caller's output buffer: lookups append straight into <out>, and path values are then
 * percent-encoded in place rather than through a scratch buffer.
 */
#include "spec/template.h"

#include <stdint.h>
#include <string.h>

#include "spec/urlenc.h"

/* A path placeholder found by parse_path_placeholder. */
struct placeholder {
    const char *name; /* trimmed */
    size_t len;
    size_t end; /* offset just past the closing brace(s) */
};

static bool is_space(char c)
{
    return c == ' ' || c == '\t';
}

static void trim(const char **s, size_t *len)
{
    while (*len && is_space(**s)) {
        (*s)++;
        (*len)--;
    }
    while (*len && is_space((*s)[*len - 1]))
        (*len)--;
}

static void truncate_to(struct strbuf *out, size_t len)
{
    out->len = len;
    if (out->data)
        out->data[len] = '\0';
}

/* Ask <lookup> for <name>: 0 found, 1 unknown, -1 abort. A NULL lookup knows nothing. */
static int do_lookup(template_lookup_fn lookup, void *arg, const char *name, size_t len,
                     struct strbuf *out)
{
    if (!lookup)
        return 1;
    int rc = lookup(arg, name, len, out);
    return rc < 0 ? -1 : rc > 0 ? 1 : 0;
}

/* Find the next {{...}} placeholder at or after <p>: <*open> gets its "{{", <*close> its "}}".
 * False when there is none (no "{{", or no "}}" after it: the rest is text). The placeholder is
 * opened by the last "{{" before the first "}}": in "{{{x}}}" or "{{a {{b}}" the earlier braces
 * are plain text, which keeps JSON bodies such as {"a":{{{x}}}} (an object holding a
 * placeholder) rendering as written. */
static bool next_placeholder(const char *p, const char **open, const char **close)
{
    const char *o = strstr(p, "{{");
    if (!o)
        return false;
    const char *q = o + 2;
    while (*q && !(q[0] == '}' && q[1] == '}')) {
        if (q[0] == '{' && q[-1] == '{')
            o = q - 1;
        q++;
    }
    if (!*q)
        return false;
    *open = o;
    *close = q;
    return true;
}

int template_render(const char *tpl, template_lookup_fn lookup, void *arg, struct strbuf *out)
{
    size_t start = out->len;
    const char *p = tpl ? tpl : "";
    const char *open, *q;

    while (next_placeholder(p, &open, &q)) {
        if (strbuf_add(out, p, (size_t)(open - p)) < 0)
            goto fail;

        const char *name = open + 2;
        size_t len = (size_t)(q - name);
        trim(&name, &len);
        if (len) {
            size_t vstart = out->len;
            int rc = do_lookup(lookup, arg, name, len, out);
            if (rc < 0)
                goto fail;
            if (rc > 0)
                truncate_to(out, vstart); /* unknown renders empty, whatever was appended */
        }
        p = q + 2;
    }
    /* Always append (maybe nothing) so <out> is NUL-terminated. */
    if (strbuf_adds(out, p) < 0)
        goto fail;
    return 0;

fail:
    truncate_to(out, start);
    return -1;
}

size_t template_each(const char *tpl, int (*fn)(void *arg, const char *name, size_t len), void *arg)
{
    size_t count = 0;
    const char *p = tpl ? tpl : "";
    const char *open, *q;

    while (next_placeholder(p, &open, &q)) {
        const char *name = open + 2;
        size_t len = (size_t)(q - name);
        trim(&name, &len);
        p = q + 2;
        if (!len)
            continue;
        count++;
        if (fn && fn(arg, name, len))
            break;
    }
    return count;
}

bool template_has_open(const char *s)
{
    return s && strstr(s, "{{");
}

const char *template_ref_key(const char *name, size_t len, const char *ns, unsigned accept,
                             size_t *klen, enum template_ref *kind)
{
    size_t nslen = ns ? strlen(ns) : 0;
    enum template_ref k = TREF_NONE;
    size_t skip = 0;

    if ((accept & TREF_REST) && len > 5 && memcmp(name, "rest.", 5) == 0)
        k = TREF_REST, skip = 5;
    else if ((accept & TREF_TOOLS) && len > 6 && memcmp(name, "tools.", 6) == 0)
        k = TREF_TOOLS, skip = 6;
    else if ((accept & TREF_NS) && nslen && len > nslen + 1 && memcmp(name, ns, nslen) == 0 &&
             name[nslen] == '.')
        k = TREF_NS, skip = nslen + 1;
    if (kind)
        *kind = k;
    *klen = len - skip;
    return name + skip;
}

bool template_has_placeholder(const char *s)
{
    if (!s)
        return false;
    const char *open = strstr(s, "{{");
    return open && strstr(open + 2, "}}");
}

/* Parse the path placeholder whose first '{' is at tpl[i]: {x} or {{x}}. 0 on success; else -1
 * with the offset of the offending brace and a static message. */
static int parse_path_placeholder(const char *tpl, size_t i, struct placeholder *ph,
                                  size_t *err_off, const char **err)
{
    bool dbl = tpl[i + 1] == '{';
    size_t j = i + (dbl ? 2 : 1);

    while (tpl[j] && tpl[j] != '}' && tpl[j] != '{' && tpl[j] != '/')
        j++;
    if (tpl[j] == '{') {
        *err_off = j;
        *err = "'{' inside a placeholder";
        return -1;
    }
    if (tpl[j] != '}') {
        *err_off = i;
        *err = "unclosed placeholder";
        return -1;
    }
    if (dbl && tpl[j + 1] != '}') {
        *err_off = i;
        *err = "'{{' closed by a single '}'";
        return -1;
    }
    ph->name = tpl + i + (dbl ? 2 : 1);
    ph->len = (size_t)(tpl + j - ph->name);
    trim(&ph->name, &ph->len);
    if (!ph->len) {
        *err_off = i;
        *err = "empty placeholder";
        return -1;
    }
    ph->end = j + (dbl ? 2 : 1);
    return 0;
}

int template_expand_path(const char *tpl, template_lookup_fn lookup, void *arg, struct strbuf *out,
                         const char **missing, size_t *missing_len)
{
    size_t start = out->len;
    const char *p = tpl ? tpl : "";
    size_t i = 0;

    if (missing)
        *missing = NULL;
    if (missing_len)
        *missing_len = 0;

    for (;;) {
        const char *open = strchr(p + i, '{');
        if (!open)
            break;
        if (strbuf_add(out, p + i, (size_t)(open - (p + i))) < 0)
            goto fail;
        i = (size_t)(open - p);

        struct placeholder ph;
        size_t err_off;
        const char *err;
        if (parse_path_placeholder(p, i, &ph, &err_off, &err) < 0)
            goto fail; /* template_check_path refuses such templates at load time */

        size_t vstart = out->len;
        int rc = do_lookup(lookup, arg, ph.name, ph.len, out);
        if (rc < 0)
            goto fail;
        /* An empty, "." or ".." value would turn /users/{id} into /users/ or climb a level:
         * encoding cannot neutralise that, so such a value counts as missing. */
        size_t vlen = out->len - vstart;
        const char *v = out->data ? out->data + vstart : "";
        if (rc > 0 || vlen == 0 || (vlen == 1 && v[0] == '.') ||
            (vlen == 2 && v[0] == '.' && v[1] == '.')) {
            if (missing)
                *missing = ph.name;
            if (missing_len)
                *missing_len = ph.len;
            goto fail;
        }
        if (urlenc_segment_in_place(out, vstart) < 0)
            goto fail;
        i = ph.end;
    }
    if (strbuf_adds(out, p + i) < 0)
        goto fail;
    return 0;

fail:
    truncate_to(out, start);
    return -1;
}

int template_check_path(const char *tpl, size_t *err_offset, const char **err)
{
    size_t off_dummy;
    const char *err_dummy;
    if (!err_offset)
        err_offset = &off_dummy;
    if (!err)
        err = &err_dummy;
    if (!tpl) {
        *err_offset = 0;
        *err = "no path template";
        return -1;
    }

    for (size_t i = 0; tpl[i];) {
        if (tpl[i] == '}') {
            *err_offset = i;
            *err = "unmatched '}'";
            return -1;
        }
        if (tpl[i] != '{') {
            i++;
            continue;
        }
        struct placeholder ph;
        if (parse_path_placeholder(tpl, i, &ph, err_offset, err) < 0)
            return -1;
        i = ph.end;
    }
    return 0;
}

size_t template_path_vars(const char *tpl, void (*fn)(void *arg, const char *name, size_t len),
                          void *arg)
{
    size_t count = 0;
    if (!tpl)
        return 0;
    for (size_t i = 0; tpl[i];) {
        struct placeholder ph;
        size_t err_off;
        const char *err;
        if (tpl[i] != '{') {
            i++;
            continue;
        }
        if (parse_path_placeholder(tpl, i, &ph, &err_off, &err) < 0) {
            i++; /* malformed: skip this brace (template_check_path reports it) */
            continue;
        }
        if (fn)
            fn(arg, ph.name, ph.len);
        count++;
        i = ph.end;
    }
    return count;
}

/* ---- rendering over a JSON object ---- */

const cJSON *template_scope_get(const cJSON *scope, const char *name, size_t len)
{
    if (!cJSON_IsObject(scope) || len == 0)
        return NULL;
    const cJSON *v = NULL;
    for (const cJSON *it = scope->child; it; it = it->next)
        if (it->string && strlen(it->string) == len && memcmp(it->string, name, len) == 0)
            return it;
    /* A dotted walk: each segment is a member name, or an index into an array. */
    const cJSON *cur = scope;
    const char *p = name, *end = name + len;
    while (p < end && cur) {
        const char *dot = memchr(p, '.', (size_t)(end - p));
        size_t seg = dot ? (size_t)(dot - p) : (size_t)(end - p);
        v = NULL;
        if (cJSON_IsArray(cur)) {
            long idx;
            char buf[24];
            if (seg > 0 && seg < sizeof buf) {
                memcpy(buf, p, seg);
                buf[seg] = '\0';
                if (str_to_long(buf, 0, INT32_MAX, &idx) == 0)
                    v = cJSON_GetArrayItem(cur, (int)idx);
            }
        } else if (cJSON_IsObject(cur)) {
            for (const cJSON *it = cur->child; it; it = it->next)
                if (it->string && strlen(it->string) == seg && memcmp(it->string, p, seg) == 0) {
                    v = it;
                    break;
                }
        }
        cur = v;
        p = dot ? dot + 1 : end;
    }
    return cur == scope ? NULL : cur;
}

void template_value_text(const cJSON *v, struct strbuf *out)
{
    if (cJSON_IsString(v)) {
        strbuf_adds(out, v->valuestring);
        return;
    }
    if (cJSON_IsRaw(v)) { /* a big integer kept with its digits (base/jsonnum) */
        strbuf_adds(out, v->valuestring);
        return;
    }
    char *t = cJSON_PrintUnformatted(v);
    if (t)
        strbuf_adds(out, t);
    cJSON_free(t);
}

static int scope_lookup(void *arg, const char *name, size_t len, struct strbuf *out)
{
    const cJSON *v = template_scope_get(arg, name, len);
    if (!v)
        return 1;
    template_value_text(v, out);
    return 0;
}

int template_render_scope(const char *tpl, const cJSON *scope, struct strbuf *out)
{
    return template_render(tpl, scope_lookup, (void *)scope, out);
}
