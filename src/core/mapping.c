/*
 * mapping: see mapping.h. A request is mapped in three passes over the consumed operation's
 * parameters (declared on the operation, then on its namespace): resolve each value through
 * `with` (or a same-named input), check it (required, type, path-segment and header safety),
 * then place it (path, query, header, cookie, body). Credentials are resolved last so that a bad
 * input is reported before a missing credential.
 */
#include "core/mapping.h"

#include <ctype.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/fnum.h"
#include "base/jsonnum.h"
#include "spec/jsonpath.h"
#include "spec/template.h"
#include "spec/urlenc.h"

#define MAPPING_MAX_PARAMS 64

enum val_kind { VAL_NONE, VAL_TEXT, VAL_JSON, VAL_RAW_BODY };

/* A resolved value: text from a URL or header, JSON from a body or tool arguments. */
struct val {
    enum val_kind kind;
    const char *s;
    size_t len;
    const cJSON *j;
};

struct resolved {
    const struct model_param *p;
    const struct rt_param *rp;
    struct val v;
};

struct ctx {
    const struct runtime *rt;
    const struct rt_call *call;
    const struct mapping_input *in;
    struct mapping_error *err;
    struct resolved res[MAPPING_MAX_PARAMS];
    size_t nres;
    char **owned; /* strings owned by this mapping (freed at the end) */
    size_t nowned;
    cJSON **owned_json; /* JSON values made for this mapping (JSONPath selections) */
    size_t nowned_json;
    cJSON *converted;      /* JSON inputs converted to their declared type, by name (owned) */
    cJSON *made;           /* values converted for a consumed parameter's type (owned) */
    size_t repeats;        /* how often the query parameter the last lookup found was given */
    char missing_ref[128]; /* a step's child: a {{<step>.<path>}} the scope does not have */
    /* val_cstr's text of whole JSON numbers (tool arguments), and how much of it is used */
    char nums[4 * UTIL_LL_MAX];
    size_t nnums;
};

/* A zeroed context, but for res[] (kilobytes, read only below nres): this runs for every
 * request. */
static void ctx_init(struct ctx *c, const struct runtime *rt, const struct rt_call *call,
                     const struct mapping_input *in, struct mapping_error *err)
{
    memset(c, 0, offsetof(struct ctx, res));
    memset(&c->nres, 0, sizeof *c - offsetof(struct ctx, nres));
    c->rt = rt;
    c->call = call;
    c->in = in;
    c->err = err;
    /* No error yet: what a caller reads of <err> (the strings stay empty until fail). */
    err->status = 0;
    err->param[0] = '\0';
    err->detail[0] = '\0';
}

static int fail(struct ctx *c, int status, const char *param, const char *fmt, ...)
    UTIL_PRINTF(4, 5);

static int fail(struct ctx *c, int status, const char *param, const char *fmt, ...)
{
    c->err->status = status;
    snprintf(c->err->param, sizeof c->err->param, "%s", param ? param : "");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->err->detail, sizeof c->err->detail, fmt, ap);
    va_end(ap);
    return -1;
}

static const char *keep(struct ctx *c, char *s)
{
    c->owned = xrealloc(c->owned, (c->nowned + 1) * sizeof *c->owned);
    c->owned[c->nowned++] = s;
    return s;
}

static const cJSON *keep_json(struct ctx *c, cJSON *j)
{
    c->owned_json = xrealloc(c->owned_json, (c->nowned_json + 1) * sizeof *c->owned_json);
    c->owned_json[c->nowned_json++] = j;
    return j;
}

/* Free what the mapping made for itself. */
static void ctx_release(struct ctx *c)
{
    for (size_t i = 0; i < c->nowned; i++)
        free(c->owned[i]);
    free(c->owned);
    for (size_t i = 0; i < c->nowned_json; i++)
        cJSON_Delete(c->owned_json[i]);
    free(c->owned_json);
    cJSON_Delete(c->converted);
    cJSON_Delete(c->made);
}

bool mapping_is_number_text(const char *s, size_t len, bool integer)
{
    char buf[64];
    if (len == 0 || len >= sizeof buf)
        return false;
    /* Plain digits, signed or not (most path and query numbers): strtod would take them and
     * find a finite whole number with no '.', 'e' or 'E', so the answer is known without it. */
    size_t d0 = s[0] == '-' || s[0] == '+';
    size_t i = d0;
    while (i < len && s[i] >= '0' && s[i] <= '9')
        i++;
    if (i == len && i > d0)
        return true;
    memcpy(buf, s, len);
    buf[len] = '\0';
    if (isspace((unsigned char)buf[0]))
        return false;
    char *end;
    double d = strtod(buf, &end);
    if (*end || !isfinite(d))
        return false;
    /* strtod also takes hex, inf and nan: allow only JSON-like decimal text. */
    for (i = 0; i < len; i++)
        if (buf[i] == '\0' || (!isdigit((unsigned char)buf[i]) && !strchr("+-.eE", buf[i])))
            return false; /* strchr finds the terminator: a NUL is refused first */
    return !integer || (fnum_is_whole(d) && !strpbrk(buf, ".eE"));
}

/* ---- reading inputs ---- */

static bool kv_find(const struct mapping_kv *kv, size_t n, const char *name, bool ci, struct val *v)
{
    for (size_t i = 0; i < n; i++)
        if (ci ? str_eq_ci(kv[i].name, name) : str_eq(kv[i].name, name)) {
            *v = (struct val){VAL_TEXT, kv[i].value, kv[i].len, NULL};
            return true;
        }
    return false;
}

/* Query parameters may repeat (?emails=a&emails=b): join them with commas. */
static bool query_find(struct ctx *c, const char *name, struct val *v)
{
    const struct mapping_input *in = c->in;
    size_t count = 0;
    c->repeats = 0;
    struct strbuf b;
    strbuf_init(&b, 0);
    for (size_t i = 0; i < in->nquery; i++) {
        if (!str_eq(in->query[i].name, name))
            continue;
        if (count++)
            strbuf_addc(&b, ',');
        strbuf_add(&b, in->query[i].value, in->query[i].len);
    }
    if (count == 0) {
        strbuf_deinit(&b);
        return false;
    }
    size_t len;
    const char *s = keep(c, strbuf_detach(&b, &len));
    *v = (struct val){VAL_TEXT, s, len, NULL};
    c->repeats = count;
    return true;
}

/* The value of cookie <name> in the caller's Cookie header (`a=1; b=2`), or false. */
static bool cookie_find(struct ctx *c, const char *name, struct val *v)
{
    struct val h;
    if (!kv_find(c->in->headers, c->in->nheaders, "cookie", true, &h))
        return false;
    size_t nlen = strlen(name);
    const char *p = h.s, *end = h.s + h.len;
    while (p < end) {
        while (p < end && (*p == ' ' || *p == ';'))
            p++;
        const char *semi = memchr(p, ';', (size_t)(end - p));
        const char *pair_end = semi ? semi : end;
        const char *eq = memchr(p, '=', (size_t)(pair_end - p));
        if (eq && (size_t)(eq - p) == nlen && memcmp(p, name, nlen) == 0) {
            *v = (struct val){VAL_TEXT, eq + 1, (size_t)(pair_end - eq - 1), NULL};
            return true;
        }
        p = pair_end;
    }
    return false;
}

static bool input_find_any(struct ctx *c, const char *name, struct val *v);

/* A REST input the exposed operation declares with an `in` or a `value`, read as the reference
 * engine reads it: a `value` starting with '$' is a JSONPath into the JSON body, another
 * `value` a constant; else only from where `in` says (a body parameter: the field of its name,
 * else the whole body). */
static bool declared_find(struct ctx *c, const struct model_param *p, struct val *v)
{
    const struct mapping_input *in = c->in;
    if (p->value && p->value[0] == '$') {
        cJSON *j = in->body ? jsonpath_eval(in->body, p->value) : NULL;
        if (!j || cJSON_IsNull(j)) {
            cJSON_Delete(j);
            return false;
        }
        *v = (struct val){VAL_JSON, NULL, 0, keep_json(c, j)};
        return true;
    }
    if (p->value) {
        *v = (struct val){VAL_TEXT, p->value, strlen(p->value), NULL};
        return true;
    }
    switch (p->in) {
    case MODEL_IN_PATH:
        return kv_find(in->path, in->npath, p->name, true, v);
    case MODEL_IN_QUERY:
        return query_find(c, p->name, v);
    case MODEL_IN_HEADER:
        return kv_find(in->headers, in->nheaders, p->name, true, v);
    case MODEL_IN_COOKIE:
        return cookie_find(c, p->name, v);
    case MODEL_IN_ENVIRONMENT: {
        const char *e = getenv(p->name);
        if (!e)
            return false;
        *v = (struct val){VAL_TEXT, e, strlen(e), NULL};
        return true;
    }
    case MODEL_IN_BODY:
        if (cJSON_IsObject(in->body)) {
            const cJSON *j = cJSON_GetObjectItemCaseSensitive(in->body, p->name);
            if (j && !cJSON_IsNull(j)) {
                *v = (struct val){VAL_JSON, NULL, 0, j};
                return true;
            }
        }
        if (!in->body)
            return false;
        *v = (struct val){VAL_RAW_BODY, in->raw_body, in->raw_body_len, in->body};
        return true;
    case MODEL_IN_NONE:
        break;
    }
    return input_find_any(c, p->name, v);
}

/* The REST operation's declared parameter <name> when it says where it comes from. */
static const struct model_param *declared_located(const struct ctx *c, const char *name)
{
    const struct model_call *mc = c->call->mcall;
    if (c->in->mcp || !mc)
        return NULL;
    for (size_t i = 0; i < mc->nparams; i++)
        if ((mc->params[i].in != MODEL_IN_NONE || mc->params[i].value) &&
            str_eq(mc->params[i].name, name))
            return &mc->params[i];
    return NULL;
}

/* An input by name: a REST parameter the operation declares with `in` or `value` comes from
 * there (declared_find); otherwise REST looks in path variables (case-insensitive), query,
 * headers (case-insensitive), then top-level body fields, and `body` is the whole body; MCP
 * reads the tool arguments. */
static bool input_find(struct ctx *c, const char *name, struct val *v)
{
    /* A declared input already converted to its type (mapping_check_inputs): that value. */
    const cJSON *conv = cJSON_GetObjectItemCaseSensitive(c->converted, name);
    if (conv) {
        c->repeats = 0;
        *v = (struct val){VAL_JSON, NULL, 0, conv};
        return true;
    }
    const struct model_param *p = declared_located(c, name);
    if (p) {
        c->repeats = 0;
        return declared_find(c, p, v);
    }
    return input_find_any(c, name, v);
}

static bool input_find_any(struct ctx *c, const char *name, struct val *v)
{
    const struct mapping_input *in = c->in;
    c->repeats = 0;
    if (in->mcp) {
        const cJSON *j = in->args ? cJSON_GetObjectItemCaseSensitive(in->args, name) : NULL;
        /* A step reads earlier steps' results in the scope: {{get-ship.imo_number}}. */
        if (!j && c->call->parent && in->args)
            j = template_scope_get(in->args, name, strlen(name));
        if (!j || cJSON_IsNull(j))
            return false;
        *v = (struct val){VAL_JSON, NULL, 0, j};
        return true;
    }
    if (str_eq(name, "body")) {
        if (!in->body)
            return false;
        *v = (struct val){VAL_RAW_BODY, in->raw_body, in->raw_body_len, in->body};
        return true;
    }
    if (kv_find(in->path, in->npath, name, true, v) || query_find(c, name, v) ||
        kv_find(in->headers, in->nheaders, name, true, v))
        return true;
    if (cJSON_IsObject(in->body)) {
        const cJSON *j = cJSON_GetObjectItemCaseSensitive(in->body, name);
        if (j && !cJSON_IsNull(j)) {
            *v = (struct val){VAL_JSON, NULL, 0, j};
            return true;
        }
    }
    return false;
}

/* ---- turning values into text ---- */

static void number_text(double d, struct strbuf *out)
{
    if (fnum_is_whole(d) && fabs(d) < 9007199254740992.0) {
        char buf[UTIL_LL_MAX];
        strbuf_add(out, buf, util_fmt_ll((long long)d, buf));
    } else {
        strbuf_addf(out, "%.17g", d);
    }
}

static int json_text(const cJSON *j, struct strbuf *out)
{
    if (cJSON_IsString(j) || cJSON_IsRaw(j))
        return strbuf_adds(out, j->valuestring);
    if (cJSON_IsNumber(j)) {
        number_text(j->valuedouble, out);
        return 0;
    }
    if (cJSON_IsBool(j))
        return strbuf_adds(out, cJSON_IsTrue(j) ? "true" : "false");
    if (cJSON_IsNull(j))
        return 0;
    if (cJSON_IsArray(j)) {
        /* Arrays go out comma-joined (query values such as emails=a,b). */
        const cJSON *e;
        int first = 1;
        cJSON_ArrayForEach(e, j)
        {
            if (!first)
                strbuf_addc(out, ',');
            first = 0;
            if (cJSON_IsObject(e) || cJSON_IsArray(e)) {
                char *s = cJSON_PrintUnformatted(e);
                strbuf_adds(out, s);
                cJSON_free(s);
            } else {
                json_text(e, out);
            }
        }
        return 0;
    }
    char *s = cJSON_PrintUnformatted(j);
    int rc = strbuf_adds(out, s ? s : "");
    cJSON_free(s);
    return rc;
}

static void val_text(const struct val *v, struct strbuf *out)
{
    if (v->kind == VAL_TEXT || v->kind == VAL_RAW_BODY)
        strbuf_add(out, v->s, v->len);
    else if (v->kind == VAL_JSON)
        json_text(v->j, out);
}

/* Text of <v> kept alive for the rest of the mapping. */
static const char *val_cstr(struct ctx *c, const struct val *v, size_t *len)
{
    if (v->kind == VAL_TEXT && v->s[v->len] == '\0') {
        *len = v->len;
        return v->s;
    }
    /* A JSON string (a tool argument, most often) is its own text, and lives as long as the
     * mapping: no copy. */
    if (v->kind == VAL_JSON && (cJSON_IsString(v->j) || cJSON_IsRaw(v->j))) {
        *len = strlen(v->j->valuestring);
        return v->j->valuestring;
    }
    /* A whole number as number_text writes it, into the context's own room while it lasts. */
    double d = v->kind == VAL_JSON && cJSON_IsNumber(v->j) ? v->j->valuedouble : 0.5;
    if (fnum_is_whole(d) && fabs(d) < 9007199254740992.0 &&
        c->nnums + UTIL_LL_MAX <= sizeof c->nums) {
        char *t = c->nums + c->nnums;
        *len = util_fmt_ll((long long)d, t);
        c->nnums += *len + 1;
        return t;
    }
    struct strbuf b;
    strbuf_init(&b, 0);
    val_text(v, &b);
    return keep(c, strbuf_detach(&b, len));
}

/* ---- templates ---- */

/* Whether input name <k> of a step's child reads an earlier step's result (`<step>.<path>`):
 * such a placeholder that resolves to nothing fails the call instead of rendering empty (the
 * reference engine renders "" and sends a request built on a hole). */
static bool step_ref(const struct ctx *c, const char *k)
{
    const struct rt_call *parent = c->call->parent;
    const char *dot = strchr(k, '.');
    if (!parent || !dot)
        return false;
    const struct model_call *mc = parent->mcall;
    for (size_t i = 0; i < mc->nsteps; i++)
        if (mc->steps[i].name && strlen(mc->steps[i].name) == (size_t)(dot - k) &&
            memcmp(mc->steps[i].name, k, (size_t)(dot - k)) == 0)
            return true;
    return false;
}

static int tpl_lookup(void *arg, const char *name, size_t len, struct strbuf *out)
{
    struct ctx *c = arg;
    const char *ns = c->call->expose ? c->call->expose->ns : NULL;
    size_t klen;
    const char *key = template_ref_key(name, len, ns, TREF_ANY, &klen, NULL);
    /* A bare name that a `binds` entry declares is that variable, whatever the caller sends:
     * an input of the same name (a header, say) must never replace a configured value. */
    const struct rt_var *bound = key == name ? runtime_find_var(c->rt, name, len) : NULL;
    if (bound)
        return bound->value ? strbuf_adds(out, bound->value) : 1;
    char *k = xstrndup(key, klen);
    struct val v;
    bool found = input_find(c, k, &v);
    if (!found && !c->missing_ref[0] && step_ref(c, k))
        snprintf(c->missing_ref, sizeof c->missing_ref, "%s", k);
    free(k);
    if (found) {
        val_text(&v, out);
        return 0;
    }
    return 1;
}

static const char *render(struct ctx *c, const char *tpl, size_t *len)
{
    struct strbuf b;
    strbuf_init(&b, MAPPING_MAX_URL);
    template_render(tpl, tpl_lookup, c, &b);
    return keep(c, strbuf_detach(&b, len));
}

/* ---- resolving parameters ---- */

/* The value `with` entry <w> gives. */
static bool resolve_with(struct ctx *c, const struct model_with *w, struct val *v)
{
    *v = (struct val){VAL_NONE, NULL, 0, NULL};
    switch (w->kind) {
    case MODEL_WITH_REF:
        return input_find(c, w->ref, v);
    case MODEL_WITH_TEMPLATE:
        v->kind = VAL_TEXT;
        v->s = render(c, w->text, &v->len);
        return true;
    case MODEL_WITH_LITERAL:
        if (!w->literal || cJSON_IsNull(w->literal))
            return false;
        *v = (struct val){VAL_JSON, NULL, 0, w->literal};
        return true;
    }
    return false;
}

static bool resolve(struct ctx *c, const struct rt_param *rp, struct val *v)
{
    const struct model_param *p = rp->p;
    *v = (struct val){VAL_NONE, NULL, 0, NULL};
    if (rp->with)
        return resolve_with(c, rp->with, v);
    if (p->value) {
        v->kind = VAL_TEXT;
        v->s = render(c, p->value, &v->len);
        return true;
    }
    return input_find(c, p->name, v);
}

/* Whether <v> fits declared type <t>; texts are checked for their content. */
static bool type_ok(const struct val *v, enum model_type t)
{
    if (v->kind == VAL_TEXT) {
        switch (t) {
        case MODEL_TYPE_NUMBER:
            return mapping_is_number_text(v->s, v->len, false);
        case MODEL_TYPE_INTEGER:
            return mapping_is_number_text(v->s, v->len, true);
        case MODEL_TYPE_BOOLEAN:
            return (v->len == 4 && memcmp(v->s, "true", 4) == 0) ||
                   (v->len == 5 && memcmp(v->s, "false", 5) == 0);
        default:
            return true;
        }
    }
    if (v->kind != VAL_JSON && v->kind != VAL_RAW_BODY)
        return true;
    const cJSON *j = v->j;
    switch (t) {
    case MODEL_TYPE_STRING:
        return cJSON_IsString(j);
    case MODEL_TYPE_NUMBER:
        return cJSON_IsNumber(j) || cJSON_IsRaw(j);
    case MODEL_TYPE_INTEGER:
        /* A raw input is an integer beyond 2^53 that keeps its digits (jsonnum). */
        return (cJSON_IsNumber(j) && fnum_is_whole(j->valuedouble)) || cJSON_IsRaw(j);
    case MODEL_TYPE_BOOLEAN:
        return cJSON_IsBool(j);
    case MODEL_TYPE_ARRAY:
        return cJSON_IsArray(j);
    case MODEL_TYPE_OBJECT:
        return cJSON_IsObject(j);
    default:
        return true;
    }
}

static const char *type_article(enum model_type t)
{
    return t == MODEL_TYPE_INTEGER || t == MODEL_TYPE_OBJECT || t == MODEL_TYPE_ARRAY ? "an" : "a";
}

/* ---- converting JSON strings to the declared type ---- */

/* A model often writes a number as "42" or a list as "a, b": a JSON string given where the
 * document declares a number, integer, boolean or array is converted when its text is exactly
 * one (see docs/capability-format.md, "From inputs to the upstream request"). Anything else is
 * refused with what was expected. */

static const char *type_plural(enum model_type t)
{
    switch (t) {
    case MODEL_TYPE_NUMBER:
        return "numbers";
    case MODEL_TYPE_INTEGER:
        return "integers";
    case MODEL_TYPE_BOOLEAN:
        return "booleans";
    case MODEL_TYPE_OBJECT:
        return "objects";
    default:
        return "strings";
    }
}

/* Text <s>[0..len) as a JSON value of scalar type <t>: a number written as JSON writes it (an
 * integer without fraction or exponent; 16 digits or more stay raw digits, as base/jsonnum
 * keeps them), true or false. NULL when it is not one. */
static cJSON *coerce_scalar(const char *s, size_t len, enum model_type t)
{
    if (t == MODEL_TYPE_NUMBER || t == MODEL_TYPE_INTEGER) {
        if (!jsonnum_is_json_number(s, len) ||
            (t == MODEL_TYPE_INTEGER &&
             (memchr(s, '.', len) || memchr(s, 'e', len) || memchr(s, 'E', len))))
            return NULL;
        char *z = xstrndup(s, len);
        cJSON *j = len <= 15 ? cJSON_CreateNumber(strtod(z, NULL)) : cJSON_CreateRaw(z);
        free(z);
        return j;
    }
    if (t == MODEL_TYPE_BOOLEAN) {
        if (len == 4 && memcmp(s, "true", 4) == 0)
            return cJSON_CreateTrue();
        if (len == 5 && memcmp(s, "false", 5) == 0)
            return cJSON_CreateFalse();
    }
    return NULL;
}

/* Whether JSON <j> is of scalar type <t> (an item of a typed array). */
static bool item_ok(const cJSON *j, enum model_type t)
{
    struct val v = {VAL_JSON, NULL, 0, j};
    return type_ok(&v, t);
}

/* Comma-separated text <s> as an array of <items>: each item without the spaces around it;
 * an empty (or all-space) text is an empty array, an empty item between commas is refused. */
static cJSON *coerce_list(const char *s, enum model_type items, char *why, size_t whylen)
{
    cJSON *arr = cJSON_CreateArray();
    size_t n = 0;
    const char *p = s;
    while (*p == ' ' || *p == '\t')
        p++;
    if (!*p)
        return arr;
    for (;;) {
        const char *end = strchr(p, ',');
        const char *stop = end ? end : p + strlen(p);
        const char *a = p, *b = stop;
        while (a < b && (*a == ' ' || *a == '\t'))
            a++;
        while (b > a && (b[-1] == ' ' || b[-1] == '\t'))
            b--;
        n++;
        cJSON *item = NULL;
        if (a == b) {
            snprintf(why, whylen, "an array (got a comma-separated string with an empty item %zu)",
                     n);
        } else if (items == MODEL_TYPE_ANY || items == MODEL_TYPE_STRING) {
            char *z = xstrndup(a, (size_t)(b - a));
            item = cJSON_CreateString(z);
            free(z);
        } else if (!(item = coerce_scalar(a, (size_t)(b - a), items))) {
            snprintf(why, whylen,
                     "an array of %s (item %zu of the comma-separated string, '%.*s', is not one)",
                     type_plural(items), n, (int)((b - a) > 40 ? 40 : (b - a)), a);
        }
        if (!item) {
            cJSON_Delete(arr);
            return NULL;
        }
        cJSON_AddItemToArray(arr, item);
        if (!end)
            return arr;
        p = end + 1;
    }
}

/* Array <j> whose items must be <items>: a copy with string items converted, or NULL with
 * <why> filled when an item is not one (<*changed> false and NULL: nothing to convert). */
static cJSON *coerce_items(const cJSON *j, enum model_type items, bool *changed, char *why,
                           size_t whylen)
{
    *changed = false;
    size_t n = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, j)
    {
        n++;
        if (item_ok(e, items))
            continue;
        cJSON *conv = cJSON_IsString(e) && items != MODEL_TYPE_OBJECT
                          ? coerce_scalar(e->valuestring, strlen(e->valuestring), items)
                          : NULL;
        if (!conv) {
            snprintf(why, whylen, "an array of %s (item %zu is not one)", type_plural(items), n);
            return NULL;
        }
        cJSON_Delete(conv);
        *changed = true;
    }
    if (!*changed)
        return NULL;
    cJSON *copy = cJSON_CreateArray();
    cJSON_ArrayForEach(e, j)
    {
        cJSON_AddItemToArray(
            copy, item_ok(e, items) ? cJSON_Duplicate(e, 1)
                                    : coerce_scalar(e->valuestring, strlen(e->valuestring), items));
    }
    return copy;
}

enum coerce_rc { COERCE_KEEP, COERCE_CONVERTED, COERCE_BAD };

/* JSON input <j> for a value of declared type <t> (items <items>): KEEP it as it is (it fits,
 * or it is of another JSON type, which type_ok reports), CONVERTED into new node <*out>, or BAD
 * with <why> ("a number (got a string that is not one)"). */
static enum coerce_rc coerce_json(const cJSON *j, enum model_type t, enum model_type items,
                                  cJSON **out, char *why, size_t whylen)
{
    *out = NULL;
    if (t == MODEL_TYPE_ARRAY && cJSON_IsArray(j) && items != MODEL_TYPE_ANY &&
        items != MODEL_TYPE_STRING) {
        bool changed;
        *out = coerce_items(j, items, &changed, why, whylen);
        return *out ? COERCE_CONVERTED : *why ? COERCE_BAD : COERCE_KEEP;
    }
    if (!cJSON_IsString(j))
        return COERCE_KEEP;
    const char *s = j->valuestring;
    switch (t) {
    case MODEL_TYPE_NUMBER:
    case MODEL_TYPE_INTEGER:
        *out = coerce_scalar(s, strlen(s), t);
        if (!*out)
            snprintf(why, whylen, "%s %s (got a string that is not one)", type_article(t),
                     model_type_name(t));
        break;
    case MODEL_TYPE_BOOLEAN:
        *out = coerce_scalar(s, strlen(s), t);
        if (!*out)
            snprintf(why, whylen, "a boolean (got a string that is neither true nor false)");
        break;
    case MODEL_TYPE_ARRAY:
        *out = coerce_list(s, items, why, whylen);
        break;
    default:
        return COERCE_KEEP;
    }
    return *out ? COERCE_CONVERTED : COERCE_BAD;
}

/* Convert JSON value <v> of input <name> for declared type <t> in place; the new node is kept
 * in <owner> (under <name> when <owner> is an object). 0, or -1 refusing the input. */
static int coerce_val(struct ctx *c, const char *name, enum model_type t, enum model_type items,
                      struct val *v, cJSON **owner, bool by_name)
{
    if (v->kind != VAL_JSON)
        return 0;
    char why[200] = "";
    cJSON *conv;
    switch (coerce_json(v->j, t, items, &conv, why, sizeof why)) {
    case COERCE_KEEP:
        return 0;
    case COERCE_BAD:
        return fail(c, 400, name, "%s '%s' must be %s", c->in->mcp ? "argument" : "parameter", name,
                    why);
    case COERCE_CONVERTED:
        break;
    }
    if (!*owner)
        *owner = by_name ? cJSON_CreateObject() : cJSON_CreateArray();
    if (by_name)
        cJSON_AddItemToObject(*owner, name, conv);
    else
        cJSON_AddItemToArray(*owner, conv);
    v->j = conv;
    return 0;
}

/* A query parameter given several times joins into a list, which only an array (or an
 * untyped parameter) takes: for a scalar, `limit=10&limit=20` is refused as what it is. */
static int check_repeats(struct ctx *c, const char *name, enum model_type t)
{
    if (c->repeats > 1 && t != MODEL_TYPE_ARRAY && t != MODEL_TYPE_ANY)
        return fail(c, 400, name, "query parameter '%s' was given %zu times; it takes one value",
                    name, c->repeats);
    return 0;
}

/* Check the exposed call's own declared inputParameters (tools in particular). */
static int check_declared(struct ctx *c)
{
    const struct model_call *mc = c->call->mcall;
    for (size_t i = 0; i < mc->nparams; i++) {
        const struct model_param *p = &mc->params[i];
        if (c->call->declared_is_cred[i])
            continue;
        struct val v;
        if (!input_find(c, p->name, &v)) {
            if (p->required)
                return fail(c, 400, p->name, "missing required parameter '%s'", p->name);
            continue;
        }
        if (check_repeats(c, p->name, p->type) < 0)
            return -1;
        /* Converted once here: everything that reads the input by name sees the new value. */
        if (coerce_val(c, p->name, p->type, p->items, &v, &c->converted, true) < 0)
            return -1;
        if (!type_ok(&v, p->type))
            return fail(c, 400, p->name, "parameter '%s' must be %s %s", p->name,
                        type_article(p->type), model_type_name(p->type));
    }
    return 0;
}

/* Refuse input <name> that the call does not read: 400 naming it, with the closest declared
 * name when one is near (`timezone` -> `timeZone`). */
static int unknown(struct ctx *c, const char *what, const char *name)
{
    const struct rt_call *call = c->call;
    const char *near = util_closest(name, call->inputs, call->ninputs);
    /* The caller's text: cut it short and keep the message valid UTF-8. */
    char shown[64];
    size_t n = strnlen(name, sizeof shown - 1);
    while (n > 0 && !utf8_valid(name, n, NULL))
        n--;
    memcpy(shown, name, n);
    shown[n] = '\0';
    if (near)
        return fail(c, 400, shown, "unknown %s '%s' (did you mean '%s'?)", what, shown, near);
    if (call->ninputs == 0)
        return fail(c, 400, shown, "unknown %s '%s': this operation takes none", what, shown);
    struct strbuf b;
    strbuf_init(&b, 300);
    for (size_t i = 0; i < call->ninputs; i++)
        if (strbuf_addf(&b, "%s%s", i ? ", " : "", call->inputs[i]) < 0) {
            strbuf_adds(&b, ", ...");
            break;
        }
    fail(c, 400, shown, "unknown %s '%s' (accepted: %s)", what, shown, b.data ? b.data : "");
    strbuf_deinit(&b);
    return -1;
}

/* Keys of object <obj> must be inputs, each given once (cJSON keeps duplicate keys, and only
 * the first would be read). */
static int check_keys(struct ctx *c, const cJSON *obj, const char *what)
{
    const struct rt_call *call = c->call;
    unsigned char seen_small[64] = {0};
    unsigned char *seen =
        call->ninputs <= sizeof seen_small ? seen_small : xcalloc(call->ninputs, 1);
    int rc = 0;
    for (const cJSON *e = obj->child; e && rc == 0; e = e->next) {
        size_t i = 0;
        while (i < call->ninputs && !str_eq(call->inputs[i], e->string))
            i++;
        if (i == call->ninputs)
            rc = unknown(c, what, e->string);
        else if (seen[i]++)
            rc = fail(c, 400, e->string, "%s '%s' was given twice", what, e->string);
    }
    if (seen != seen_small)
        free(seen);
    return rc;
}

/* Nothing the caller sends is dropped in silence: every query parameter, body field and tool
 * argument must be one the call reads (runtime's input names, computed at load). Headers are
 * not checked: clients send many standard ones. */
static int check_unknown(struct ctx *c)
{
    const struct mapping_input *in = c->in;
    if (in->mcp)
        return in->args ? check_keys(c, in->args, "argument") : 0;
    for (size_t i = 0; i < in->nquery; i++)
        if (!runtime_call_has_input(c->call, in->query[i].name))
            return unknown(c, "query parameter", in->query[i].name);
    if (!in->body || c->call->opaque_body)
        return 0;
    if (!cJSON_IsObject(in->body))
        return fail(c, 400, "body", "the request body must be a JSON object of named fields");
    return check_keys(c, in->body, "body field");
}

static int resolve_param(struct ctx *c, const struct rt_param *rp)
{
    struct val v;
    const struct model_param *p = rp->p;
    if (p->in == MODEL_IN_ENVIRONMENT)
        return 0;
    if (rp->credential)
        return 0; /* credentials are resolved last, from headers only */
    c->repeats = 0;
    if (!resolve(c, rp, &v)) {
        if (p->required || p->in == MODEL_IN_PATH)
            return fail(c, 400, p->name, "missing required parameter '%s'", p->name);
        return 0;
    }
    if (v.kind == VAL_TEXT && check_repeats(c, p->name, p->type) < 0)
        return -1;
    const char *arg = rp->with && rp->with->kind == MODEL_WITH_REF ? rp->with->ref : p->name;
    if (coerce_val(c, arg, p->type, p->items, &v, &c->made, false) < 0)
        return -1;
    if (!type_ok(&v, p->type))
        return fail(c, 400, p->name, "parameter '%s' must be %s %s", p->name, type_article(p->type),
                    model_type_name(p->type));
    if (p->in == MODEL_IN_PATH || p->in == MODEL_IN_HEADER || p->in == MODEL_IN_QUERY ||
        p->in == MODEL_IN_COOKIE) {
        size_t len;
        const char *s = val_cstr(c, &v, &len);
        if (p->in == MODEL_IN_PATH && !urlenc_segment_value_ok(s, len))
            return fail(c, 400, p->name,
                        "path parameter '%s' must be a single non-empty segment: no '/', '\\', "
                        "'.', '..' or control characters",
                        p->name);
        if ((p->in == MODEL_IN_HEADER || p->in == MODEL_IN_COOKIE) &&
            !urlenc_header_value_ok(s, len))
            return fail(c, 400, p->name,
                        "header parameter '%s' contains CR, LF or a control "
                        "character",
                        p->name);
        v = (struct val){VAL_TEXT, s, len, NULL};
    }
    if (c->nres >= MAPPING_MAX_PARAMS)
        return fail(c, 500, p->name, "too many parameters");
    c->res[c->nres++] = (struct resolved){p, rp, v};
    return 0;
}

static const struct val *resolved_find(const struct ctx *c, const char *name, enum model_in in)
{
    for (size_t i = 0; i < c->nres; i++)
        if (c->res[i].p->in == in && str_eq(c->res[i].p->name, name))
            return &c->res[i].v;
    for (size_t i = 0; i < c->nres; i++)
        if (c->res[i].p->in == in && str_eq_ci(c->res[i].p->name, name))
            return &c->res[i].v;
    return NULL;
}

/* ---- building the request ---- */

struct path_ctx {
    struct ctx *c;
    bool bad; /* an undeclared placeholder's value is not a safe segment */
};

/* Values of declared path parameters were checked when resolved; a placeholder with no declared
 * parameter takes the same-named input, checked here. */
static int path_lookup(void *arg, const char *name, size_t len, struct strbuf *out)
{
    struct path_ctx *pc = arg;
    /* The name as a C string: on the stack when it fits (every placeholder of every request). */
    char stack[128];
    char *n = len < sizeof stack ? stack : xstrndup(name, len);
    if (n == stack) {
        memcpy(stack, name, len);
        stack[len] = '\0';
    }
    const struct val *v = resolved_find(pc->c, n, MODEL_IN_PATH);
    struct val in;
    int rc = 1;
    /* An undeclared placeholder: its `with` entry (as the reference engine fills it), else
     * the input of its name. */
    const struct model_with *w = v ? NULL : model_call_with(pc->c->call->mcall, n);
    if (v) {
        rc = strbuf_add(out, v->s, v->len);
    } else if (w ? resolve_with(pc->c, w, &in) : input_find(pc->c, n, &in)) {
        size_t tlen;
        const char *t = val_cstr(pc->c, &in, &tlen);
        if (!urlenc_segment_value_ok(t, tlen)) {
            fail(pc->c, 400, n,
                 "path parameter '%s' must be a single non-empty segment: no '/', '\\', '.', "
                 "'..' or control characters",
                 n);
            pc->bad = true;
            rc = -1;
        } else {
            rc = strbuf_add(out, t, tlen);
        }
    }
    if (n != stack)
        free(n);
    return rc;
}

static cJSON *text_to_json(const struct val *v, enum model_type t)
{
    char *s = xstrndup(v->s, v->len);
    cJSON *j = NULL;
    switch (t) {
    case MODEL_TYPE_NUMBER:
    case MODEL_TYPE_INTEGER:
        j = cJSON_CreateNumber(strtod(s, NULL));
        break;
    case MODEL_TYPE_BOOLEAN:
        j = cJSON_CreateBool(strcmp(s, "true") == 0);
        break;
    case MODEL_TYPE_OBJECT:
        j = cJSON_Parse(s);
        break;
    case MODEL_TYPE_ARRAY:
        if (s[0] == '[') {
            j = cJSON_Parse(s);
        } else {
            j = cJSON_CreateArray();
            for (char *tok = s, *next; tok; tok = next) {
                next = strchr(tok, ',');
                if (next)
                    *next++ = '\0';
                cJSON_AddItemToArray(j, cJSON_CreateString(tok));
            }
        }
        break;
    default:
        break;
    }
    if (!j)
        j = cJSON_CreateString(s);
    free(s);
    return j;
}

/* ---- bodies ---- */

/* The cap of a body built from a template (the caller's own body, forwarded, is capped by the
 * front end). */
#define MAPPING_MAX_BODY ((size_t)16 << 20)

/* The caller's JSON value placeholder <name>[0..len) reads (a tool argument or a body field),
 * or NULL: a text input (path, query, header), or a `binds` variable of that bare name, which
 * shadows any input as in tpl_lookup. */
static const cJSON *json_input(struct ctx *c, const char *name, size_t len)
{
    const char *ns = c->call->expose ? c->call->expose->ns : NULL;
    size_t klen;
    const char *key = template_ref_key(name, len, ns, TREF_ANY, &klen, NULL);
    if (key == name && runtime_find_var(c->rt, name, len))
        return NULL;
    char *k = xstrndup(key, klen);
    struct val v;
    bool found = input_find(c, k, &v);
    free(k);
    return found && v.kind == VAL_JSON ? v.j : NULL;
}

static int one_name(void *arg, const char *name, size_t len)
{
    const char **n = arg;
    n[0] = name;
    n[1] = name + len;
    return 0;
}

/* The name of <s> when <s> is exactly one placeholder, "{{x}}" (spaces inside allowed). */
static bool sole_placeholder(const char *s, const char **name, size_t *len)
{
    size_t n = strlen(s);
    if (n < 5 || strncmp(s, "{{", 2) != 0 || strcmp(s + n - 2, "}}") != 0 ||
        strstr(s + 2, "}}") != s + n - 2 || strstr(s + 2, "{{"))
        return false;
    const char *found[2] = {NULL, NULL};
    if (template_each(s, one_name, found) != 1)
        return false;
    *name = found[0];
    *len = (size_t)(found[1] - found[0]);
    return true;
}

/* Render string leaves of a {type: json} body template. A leaf that is exactly {{x}} takes x's
 * JSON value when the caller sent one (a number stays a number, an array an array); other
 * leaves render to strings. */
static cJSON *render_json(struct ctx *c, const cJSON *tpl)
{
    if (cJSON_IsString(tpl) && template_has_placeholder(tpl->valuestring)) {
        const char *name;
        size_t nlen;
        const cJSON *j =
            sole_placeholder(tpl->valuestring, &name, &nlen) ? json_input(c, name, nlen) : NULL;
        if (j)
            return cJSON_Duplicate(j, 1);
        size_t len;
        const char *s = render(c, tpl->valuestring, &len);
        return cJSON_CreateString(s);
    }
    if (cJSON_IsObject(tpl) || cJSON_IsArray(tpl)) {
        cJSON *copy = cJSON_IsObject(tpl) ? cJSON_CreateObject() : cJSON_CreateArray();
        const cJSON *e;
        cJSON_ArrayForEach(e, tpl)
        {
            cJSON *r = render_json(c, e);
            if (cJSON_IsObject(tpl))
                cJSON_AddItemToObject(copy, e->string, r);
            else
                cJSON_AddItemToArray(copy, r);
        }
        return copy;
    }
    return cJSON_Duplicate(tpl, 1);
}

/* How a value is written into a text body: as it is (raw templates, text, multipart values),
 * as XML character data, as the content of a SPARQL string literal, or form-encoded. */
enum body_esc { ESC_NONE, ESC_XML, ESC_SPARQL, ESC_FORM };

struct body_render {
    struct ctx *c;
    enum body_esc esc;
    size_t missing; /* placeholders that named no value */
    char bad[128];  /* the placeholder whose value the format cannot carry */
};

/* Append <v>[0..len) to <out> escaped for <esc>; -1 when the cap is hit, -2 when XML cannot
 * carry a byte of it (a control character other than tab, CR and LF, which XML 1.0 forbids
 * even as a character reference). */
static int body_escape(enum body_esc esc, const char *v, size_t len, struct strbuf *out)
{
    if (esc == ESC_NONE)
        return strbuf_add(out, v, len);
    if (esc == ESC_FORM)
        return urlenc_query(v, len, out);
    int rc = 0;
    for (size_t i = 0; i < len && rc == 0; i++) {
        unsigned char ch = (unsigned char)v[i];
        const char *rep = NULL;
        if (esc == ESC_XML) {
            if (ch < 0x20 && ch != '\t' && ch != '\n' && ch != '\r')
                return -2;
            rep = ch == '&'    ? "&amp;"
                  : ch == '<'  ? "&lt;"
                  : ch == '>'  ? "&gt;"
                  : ch == '"'  ? "&quot;"
                  : ch == '\'' ? "&apos;"
                               : NULL;
        } else { /* SPARQL ECHAR: \t \b \n \r \f \" \' \\ */
            rep = ch == '\\'   ? "\\\\"
                  : ch == '"'  ? "\\\""
                  : ch == '\'' ? "\\'"
                  : ch == '\n' ? "\\n"
                  : ch == '\r' ? "\\r"
                  : ch == '\t' ? "\\t"
                  : ch == '\b' ? "\\b"
                  : ch == '\f' ? "\\f"
                               : NULL;
        }
        rc = rep ? strbuf_adds(out, rep) : strbuf_addc(out, (char)ch);
    }
    return rc;
}

/* A placeholder in a body: the value as tpl_lookup gives it, except that an array or object the
 * caller sent goes in as compact JSON (the tutorial's `"crewIds": {{crewIds}}`), then escaped
 * for the body's format. */
static int body_lookup(void *arg, const char *name, size_t len, struct strbuf *out)
{
    struct body_render *br = arg;
    struct strbuf v;
    strbuf_init(&v, MAPPING_MAX_BODY);
    const cJSON *j = json_input(br->c, name, len);
    int rc;
    if (cJSON_IsArray(j) || cJSON_IsObject(j)) {
        template_value_text(j, &v);
        rc = 0;
    } else {
        rc = tpl_lookup(br->c, name, len, &v);
    }
    if (rc == 1)
        br->missing++;
    else if (rc == 0 && (rc = body_escape(br->esc, v.data ? v.data : "", v.len, out)) == -2) {
        snprintf(br->bad, sizeof br->bad, "%.*s", (int)len, name);
        rc = -1;
    }
    strbuf_deinit(&v);
    return rc;
}

/* Render body template <tpl> into <out> with values escaped for <esc>; <*missing> (may be NULL)
 * counts the placeholders that named nothing. -1 with the error set. */
static int body_render(struct ctx *c, const char *tpl, enum body_esc esc, struct strbuf *out,
                       size_t *missing)
{
    struct body_render br = {.c = c, .esc = esc};
    int rc = template_render(tpl, body_lookup, &br, out);
    if (missing)
        *missing = br.missing;
    if (rc == 0)
        return 0;
    if (br.bad[0])
        return fail(c, 400, br.bad,
                    "the value of '%s' contains a control character that an XML body cannot "
                    "carry",
                    br.bad);
    return fail(c, 400, "body", "the upstream request body would exceed %zu bytes",
                MAPPING_MAX_BODY);
}

/* formUrlEncoded from a mapping: each field form-encoded, name=value joined by '&'. A field
 * whose template names an input the caller did not send is left out (as an absent optional
 * parameter is); the caller's flat `in: body` fields follow and win over same-named ones. */
static int build_form(struct ctx *c, const cJSON *data, const cJSON *fields, struct strbuf *out)
{
    struct strbuf v;
    strbuf_init(&v, MAPPING_MAX_BODY);
    int rc = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, data)
    {
        if (fields && cJSON_GetObjectItemCaseSensitive(fields, e->string))
            continue;
        strbuf_reset(&v);
        size_t missing = 0;
        if (cJSON_IsString(e))
            rc = body_render(c, e->valuestring, ESC_NONE, &v, &missing);
        else
            template_value_text(e, &v);
        if (rc < 0)
            break;
        if (missing)
            continue;
        if ((out->len && strbuf_addc(out, '&') < 0) ||
            urlenc_query(e->string, strlen(e->string), out) < 0 || strbuf_addc(out, '=') < 0 ||
            urlenc_query(v.data ? v.data : "", v.len, out) < 0) {
            rc = fail(c, 400, "body", "the upstream request body would exceed %zu bytes",
                      MAPPING_MAX_BODY);
            break;
        }
    }
    cJSON_ArrayForEach(e, fields)
    {
        if (rc < 0)
            break;
        strbuf_reset(&v);
        template_value_text(e, &v);
        if ((out->len && strbuf_addc(out, '&') < 0) ||
            urlenc_query(e->string, strlen(e->string), out) < 0 || strbuf_addc(out, '=') < 0 ||
            urlenc_query(v.data ? v.data : "", v.len, out) < 0)
            rc = fail(c, 400, "body", "the upstream request body would exceed %zu bytes",
                      MAPPING_MAX_BODY);
    }
    strbuf_deinit(&v);
    return rc;
}

static bool mem_has(const struct strbuf *b, const char *needle)
{
    return b->data && memmem(b->data, b->len, needle, strlen(needle)) != NULL;
}

/* multipart/form-data (RFC 7578). Part values are rendered first: the boundary is then one that
 * appears in none of them (names and filenames were checked at load for quotes and CR/LF). A
 * part whose value names an input the caller did not send is left out. */
static int build_multipart(struct ctx *c, const struct model_body *b, struct strbuf *out,
                           char *boundary, size_t bsize)
{
    struct strbuf *vals = xcalloc(b->nparts ? b->nparts : 1, sizeof *vals);
    bool *skip = xcalloc(b->nparts ? b->nparts : 1, sizeof *skip);
    int rc = 0;
    for (size_t i = 0; i < b->nparts && rc == 0; i++) {
        size_t missing = 0;
        strbuf_init(&vals[i], MAPPING_MAX_BODY);
        rc = body_render(c, b->parts[i].value, ESC_NONE, &vals[i], &missing);
        skip[i] = missing > 0;
    }
    for (unsigned n = 0; rc == 0; n++) {
        snprintf(boundary, bsize, "capproxy-boundary-%08x", n * 2654435761u);
        bool clash = false;
        for (size_t i = 0; i < b->nparts && !clash; i++)
            clash = mem_has(&vals[i], boundary);
        if (!clash)
            break;
    }
    for (size_t i = 0; i < b->nparts && rc == 0; i++) {
        const struct model_body_part *p = &b->parts[i];
        if (skip[i])
            continue;
        strbuf_addf(out, "--%s\r\nContent-Disposition: form-data; name=\"%s\"", boundary, p->name);
        if (p->filename)
            strbuf_addf(out, "; filename=\"%s\"", p->filename);
        strbuf_adds(out, "\r\n");
        if (p->content_type)
            strbuf_addf(out, "Content-Type: %s\r\n", p->content_type);
        strbuf_adds(out, "\r\n");
        strbuf_add(out, vals[i].data ? vals[i].data : "", vals[i].len);
        if (strbuf_adds(out, "\r\n") < 0)
            rc = fail(c, 400, "body", "the upstream request body would exceed %zu bytes",
                      MAPPING_MAX_BODY);
    }
    if (rc == 0 && strbuf_addf(out, "--%s--\r\n", boundary) < 0)
        rc = fail(c, 400, "body", "the upstream request body would exceed %zu bytes",
                  MAPPING_MAX_BODY);
    for (size_t i = 0; i < b->nparts; i++)
        strbuf_deinit(&vals[i]);
    free(vals);
    free(skip);
    return rc;
}

/* A raw template goes out as JSON when what it rendered is JSON (the reference engine sends
 * every raw body as JSON), else as UTF-8 text. */
static const char *raw_content_type(const char *s)
{
    cJSON *j = cJSON_ParseWithOpts(s, NULL, true);
    bool json = j != NULL;
    cJSON_Delete(j);
    return json ? "application/json" : "text/plain; charset=utf-8";
}

/* Render the operation's {type, data} body (other than json) or raw template into <out>;
 * <*ct> gets its Content-Type (a static string, or <ctbuf> for multipart's boundary). */
static int build_text_body(struct ctx *c, const cJSON *fields, struct outreq *out, const char **ct,
                           char ctbuf[static 96])
{
    const struct model_body *b = &c->call->op->body;
    static const char *const types[] = {
        [MODEL_BODY_TEXT] = "text/plain; charset=utf-8",
        [MODEL_BODY_XML] = "application/xml",
        [MODEL_BODY_SPARQL] = "application/sparql-query",
        [MODEL_BODY_FORM] = "application/x-www-form-urlencoded",
    };
    static const enum body_esc escs[] = {
        [MODEL_BODY_TEMPLATE] = ESC_NONE, [MODEL_BODY_TEXT] = ESC_NONE, [MODEL_BODY_XML] = ESC_XML,
        [MODEL_BODY_SPARQL] = ESC_SPARQL, [MODEL_BODY_FORM] = ESC_FORM,
    };
    struct strbuf s;
    strbuf_init(&s, MAPPING_MAX_BODY);
    int rc;
    if (b->kind == MODEL_BODY_MULTIPART) {
        char bnd[48];
        rc = build_multipart(c, b, &s, bnd, sizeof bnd);
        snprintf(ctbuf, 96, "multipart/form-data; boundary=%s", bnd);
        *ct = ctbuf;
    } else if (b->kind == MODEL_BODY_FORM && b->json) {
        rc = build_form(c, b->json, fields, &s);
        *ct = types[b->kind];
    } else {
        rc = body_render(c, b->template, escs[b->kind], &s, NULL);
        *ct = b->kind == MODEL_BODY_TEMPLATE ? NULL : types[b->kind];
    }
    if (rc < 0) {
        strbuf_deinit(&s);
        return -1;
    }
    out->body = strbuf_detach(&s, &out->body_len);
    if (!out->body)
        out->body = xstrndup("", 0);
    if (!*ct)
        *ct = raw_content_type(out->body);
    return 0;
}

/* The body, and its Content-Type as a header of the request unless the operation declares its
 * own Content-Type header parameter (which the schema names as the way to override it). */
static int build_body(struct ctx *c, struct outreq *out)
{
    const struct model_operation *op = c->call->op;
    cJSON *fields = NULL;
    const char *ct = "application/json";
    char ctbuf[96];
    int rc = 0;
    for (size_t i = 0; i < c->nres; i++) {
        const struct resolved *r = &c->res[i];
        if (r->p->in != MODEL_IN_BODY)
            continue;
        if (str_eq(r->p->name, "body")) {
            /* The whole body: forwarded byte for byte when it is the caller's own JSON. */
            cJSON_Delete(fields);
            fields = NULL;
            bool text = r->v.kind == VAL_TEXT || (r->v.kind == VAL_RAW_BODY && r->v.s);
            if (text) {
                out->body = xstrndup(r->v.s, r->v.len);
                out->body_len = r->v.len;
            } else {
                out->body = cJSON_PrintUnformatted(r->v.j);
                out->body_len = strlen(out->body);
            }
            goto content_type;
        }
        if (!fields)
            fields = cJSON_CreateObject();
        cJSON *j =
            r->v.kind == VAL_TEXT ? text_to_json(&r->v, r->p->type) : cJSON_Duplicate(r->v.j, 1);
        cJSON_AddItemToObject(fields, r->p->name, j);
    }
    if (op->body.kind != MODEL_BODY_NONE && op->body.kind != MODEL_BODY_JSON) {
        /* Flat `in: body` fields join a form; the other text formats have no place for them. */
        rc = build_text_body(c, fields, out, &ct, ctbuf);
        cJSON_Delete(fields);
        fields = NULL;
        if (rc < 0)
            return -1;
        goto content_type;
    }
    if (op->body.kind == MODEL_BODY_JSON) {
        cJSON *j = render_json(c, op->body.json);
        if (fields && cJSON_IsObject(j)) {
            /* Flat body fields complete the template's object; they win on conflicts. */
            cJSON *e = fields->child;
            while (e) {
                cJSON *next = e->next;
                cJSON_DetachItemViaPointer(fields, e);
                cJSON_DeleteItemFromObjectCaseSensitive(j, e->string);
                cJSON_AddItemToObject(j, e->string, e);
                e = next;
            }
        }
        cJSON_Delete(fields);
        fields = j;
    }
    if (!fields && c->call->object_body)
        fields = cJSON_CreateObject(); /* the API wants a body even when no field is given */
    if (fields) {
        out->body = cJSON_PrintUnformatted(fields);
        out->body_len = strlen(out->body);
        cJSON_Delete(fields);
    }
content_type:
    if (out->body && !outreq_find_header(out, "Content-Type"))
        outreq_add_header(out, "Content-Type", ct, strlen(ct));
    return rc;
}

/* Credentials: the caller's own header wins, else the configured one; with neither, 401. The
 * list (runtime_build) holds the consumer's credentials the call sends, then the declared
 * credential headers that nothing configures. */
static int add_credentials(struct ctx *c, struct outreq *out)
{
    const struct rt_consumer *rc = c->call->consumer;
    if (rc && rc->mc->auth.kind == MODEL_AUTH_DIGEST) {
        if (!rc->digest_user)
            return fail(c, 401, "authentication",
                        "no digest credentials for consumes '%s': a bind its authentication "
                        "reads is not set",
                        rc->mc->ns);
        out->digest_user = rc->digest_user;
        out->digest_pass = rc->digest_pass;
    }
    for (size_t i = 0; i < c->call->ncreds; i++) {
        const struct rt_cred_out *co = &c->call->creds[i];
        const struct rt_credential *cr = co->cr;
        struct val v;
        if (kv_find(c->in->headers, c->in->nheaders, co->header, true, &v) && v.len > 0) {
            if (!urlenc_header_value_ok(v.s, v.len))
                return fail(c, 400, co->header,
                            "header '%s' contains CR, LF or a control "
                            "character",
                            co->header);
            outreq_add_header(out, co->send_as, v.s, v.len);
        } else if (cr && cr->value) {
            outreq_add_header(out, co->send_as, cr->value, strlen(cr->value));
        } else if (co->required && cr) {
            return fail(c, 401, co->header,
                        "no credential for header '%s': send it with the request or configure "
                        "it (%s)",
                        co->header, cr->source);
        } else if (co->required) {
            return fail(c, 401, co->header,
                        "no credential for header '%s': send it with the "
                        "request",
                        co->header);
        }
    }
    return 0;
}

int mapping_add_credentials(const struct runtime *rt, const struct rt_call *call,
                            const struct mapping_kv *headers, size_t n, struct outreq *out,
                            struct mapping_error *err)
{
    struct mapping_input in = {.headers = headers, .nheaders = n};
    struct ctx c = {.rt = rt, .call = call, .in = &in, .err = err};
    memset(err, 0, sizeof *err);
    return add_credentials(&c, out);
}

bool mapping_call_idempotent(const struct rt_call *call)
{
    for (const struct rt_call *c = call; c; c = c->parent) {
        if (c->tool && c->tool->hints.idempotent == 1)
            return true;
        const struct model_function *fn = c->mcall ? c->mcall->ref_fn : NULL;
        if (fn && fn->semantics.idempotent == 1)
            return true;
    }
    return false;
}

int mapping_build(const struct runtime *rt, const struct rt_call *call,
                  const struct mapping_input *in, struct outreq *out, struct mapping_error *err)
{
    struct ctx c;
    ctx_init(&c, rt, call, in, err);
    const struct model_operation *op = call->op;
    int rc = -1;

    /* A step's request reads the scope the orchestration built, checked when the call came in
     * (mapping_check_inputs). */
    if (!call->parent && (check_unknown(&c) < 0 || check_declared(&c) < 0))
        goto out;
    for (size_t i = 0; i < call->nparams; i++)
        if (resolve_param(&c, &call->params[i]) < 0)
            goto out;

    out->method = op->method;
    out->api = call->consumer->mc->ns;
    out->idempotent = mapping_call_idempotent(call);
    strbuf_adds(&out->url, call->consumer->base_uri);
    struct path_ctx pc = {&c, false};
    const char *missing = NULL;
    size_t missing_len = 0;
    if (template_expand_path(op->resource->path, path_lookup, &pc, &out->url, &missing,
                             &missing_len) < 0) {
        if (pc.bad)
            goto out;
        char name[128];
        snprintf(name, sizeof name, "%.*s", (int)missing_len, missing ? missing : "");
        if (missing)
            fail(&c, 400, name, "missing required path parameter '%s'", name);
        else
            fail(&c, 400, "", "the upstream URL is too long");
        goto out;
    }
    char sep = '?';
    for (size_t i = 0; i < c.nres; i++) {
        const struct resolved *r = &c.res[i];
        if (r->p->in != MODEL_IN_QUERY)
            continue;
        strbuf_addc(&out->url, sep);
        sep = '&';
        strbuf_adds(&out->url, r->rp->query_name_enc);
        strbuf_addc(&out->url, '=');
        urlenc_query(r->v.s, r->v.len, &out->url);
    }
    const struct rt_consumer *cons = call->consumer;
    if (cons->query_auth_enc) {
        strbuf_addc(&out->url, sep);
        strbuf_adds(&out->url, cons->query_auth_enc);
    }
    if (out->url.len >= MAPPING_MAX_URL - 1) {
        fail(&c, 400, "", "the upstream URL is too long");
        goto out;
    }

    struct strbuf cookie;
    strbuf_init(&cookie, 0);
    for (size_t i = 0; i < c.nres; i++) {
        const struct resolved *r = &c.res[i];
        if (r->p->in == MODEL_IN_HEADER) {
            outreq_add_header(out, r->p->name, r->v.s, r->v.len);
        } else if (r->p->in == MODEL_IN_COOKIE) {
            if (!urlenc_cookie_value_ok(r->v.s, r->v.len)) {
                strbuf_deinit(&cookie);
                fail(&c, 400, r->p->name,
                     "cookie '%s' may hold only cookie characters (no space, quote, comma, "
                     "semicolon, backslash or control character)",
                     r->p->name);
                goto out;
            }
            strbuf_addf(&cookie, "%s%s=%.*s", cookie.len ? "; " : "", r->p->name, (int)r->v.len,
                        r->v.s);
        }
    }
    if (cookie.len)
        outreq_add_header(out, "Cookie", cookie.data, cookie.len);
    strbuf_deinit(&cookie);

    if (add_credentials(&c, out) < 0)
        goto out;
    if (build_body(&c, out) < 0)
        goto out;
    if (c.missing_ref[0]) {
        fail(&c, 502, c.missing_ref, "'%s' is not in the result of an earlier step", c.missing_ref);
        goto out;
    }
    rc = 0;
out:
    ctx_release(&c);
    return rc;
}

int mapping_check_inputs(const struct runtime *rt, const struct rt_call *call,
                         const struct mapping_input *in, struct mapping_error *err)
{
    struct ctx c = {.rt = rt, .call = call, .in = in, .err = err};
    memset(err, 0, sizeof *err);
    int rc = check_unknown(&c) < 0 || check_declared(&c) < 0 ? -1 : 0;
    ctx_release(&c);
    return rc;
}

/* Text <s>[0..len) from a URL as the JSON value declared type <t> asks for: numbers and booleans
 * typed (integers past 2^53 keep their digits), anything else a string. */
static cJSON *scope_text(const char *s, size_t len, enum model_type t)
{
    bool num = (t == MODEL_TYPE_NUMBER || t == MODEL_TYPE_INTEGER) &&
               mapping_is_number_text(s, len, t == MODEL_TYPE_INTEGER);
    char *z = xstrndup(s, len);
    cJSON *j;
    if (num && len <= 15)
        j = cJSON_CreateNumber(strtod(z, NULL));
    else if (num)
        j = cJSON_CreateRaw(z);
    else if (t == MODEL_TYPE_BOOLEAN && (str_eq(z, "true") || str_eq(z, "false")))
        j = cJSON_CreateBool(str_eq(z, "true"));
    else
        j = cJSON_CreateString(z);
    free(z);
    return j;
}

static void scope_add_kv(cJSON *scope, const struct model_call *mc, const struct mapping_kv *kv,
                         size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const struct model_param *p = NULL;
        for (size_t j = 0; j < mc->nparams && !p; j++)
            if (str_eq(mc->params[j].name, kv[i].name))
                p = &mc->params[j];
        enum model_type t = p ? p->type : MODEL_TYPE_STRING;
        cJSON *have = cJSON_GetObjectItemCaseSensitive(scope, kv[i].name);
        if (have && t == MODEL_TYPE_ARRAY && cJSON_IsArray(have)) {
            cJSON_AddItemToArray(have, cJSON_CreateString(kv[i].value));
        } else if (!have && t == MODEL_TYPE_ARRAY) {
            cJSON *a = cJSON_AddArrayToObject(scope, kv[i].name);
            cJSON_AddItemToArray(a, cJSON_CreateString(kv[i].value));
        } else if (!have) {
            cJSON_AddItemToObject(scope, kv[i].name, scope_text(kv[i].value, kv[i].len, t));
        }
    }
}

/* Declared inputs of <scope> (arguments or body fields) converted as mapping_check_inputs
 * accepted them: the orchestration reads the same values a single call would send. */
static void scope_convert(cJSON *scope, const struct model_call *mc)
{
    for (size_t i = 0; i < mc->nparams; i++) {
        const struct model_param *p = &mc->params[i];
        cJSON *j = cJSON_GetObjectItemCaseSensitive(scope, p->name), *conv;
        char why[200] = "";
        if (j && coerce_json(j, p->type, p->items, &conv, why, sizeof why) == COERCE_CONVERTED)
            cJSON_ReplaceItemInObjectCaseSensitive(scope, p->name, conv);
    }
}

cJSON *mapping_scope(const struct rt_call *call, const struct mapping_input *in)
{
    const cJSON *fields = in->mcp ? in->args : in->body;
    cJSON *scope = cJSON_IsObject(fields) ? cJSON_Duplicate(fields, 1) : cJSON_CreateObject();
    scope_convert(scope, call->mcall);
    if (in->mcp)
        return scope;
    /* Path variables first: they name the resource and win over a same-named field. */
    for (size_t i = 0; i < in->npath; i++)
        cJSON_DeleteItemFromObjectCaseSensitive(scope, in->path[i].name);
    scope_add_kv(scope, call->mcall, in->path, in->npath);
    scope_add_kv(scope, call->mcall, in->query, in->nquery);
    /* Parameters declared with `in` or `value` are what those say, whatever else has the name. */
    const struct model_call *mc = call->mcall;
    struct mapping_error err;
    struct ctx c = {.call = call, .in = in, .err = &err};
    for (size_t i = 0; i < mc->nparams; i++) {
        const struct model_param *p = &mc->params[i];
        struct val v;
        if ((p->in == MODEL_IN_NONE && !p->value) || !declared_find(&c, p, &v))
            continue;
        cJSON *j = v.kind == VAL_TEXT ? scope_text(v.s, v.len, p->type) : cJSON_Duplicate(v.j, 1);
        cJSON_DeleteItemFromObjectCaseSensitive(scope, p->name);
        if (j)
            cJSON_AddItemToObject(scope, p->name, j);
    }
    ctx_release(&c);
    return scope;
}
