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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
    size_t repeats;        /* how often the query parameter the last lookup found was given */
    char missing_ref[128]; /* a step's child: a {{<step>.<path>}} the scope does not have */
};

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

bool mapping_is_number_text(const char *s, size_t len, bool integer)
{
    char buf[64];
    if (len == 0 || len >= sizeof buf)
        return false;
    memcpy(buf, s, len);
    buf[len] = '\0';
    if (isspace((unsigned char)buf[0]))
        return false;
    char *end;
    double d = strtod(buf, &end);
    if (*end || !isfinite(d))
        return false;
    /* strtod also takes hex, inf and nan: allow only JSON-like decimal text. */
    for (size_t i = 0; i < len; i++)
        if (!isdigit((unsigned char)buf[i]) && !strchr("+-.eE", buf[i]))
            return false;
    return !integer || (d == floor(d) && !strpbrk(buf, ".eE"));
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

/* An input by name: REST looks in path variables (case-insensitive), query, headers
 * (case-insensitive), then top-level body fields, and `body` is the whole body; MCP reads the
 * tool arguments. */
static bool input_find(struct ctx *c, const char *name, struct val *v)
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
    if (d == floor(d) && fabs(d) < 9007199254740992.0)
        strbuf_addf(out, "%lld", (long long)d);
    else
        strbuf_addf(out, "%.17g", d);
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

static bool resolve(struct ctx *c, const struct rt_param *rp, struct val *v)
{
    const struct model_param *p = rp->p;
    const struct model_with *w = rp->with;
    *v = (struct val){VAL_NONE, NULL, 0, NULL};
    if (w) {
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
    }
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
        return (cJSON_IsNumber(j) && j->valuedouble == floor(j->valuedouble)) || cJSON_IsRaw(j);
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
    char *n = xstrndup(name, len);
    const struct val *v = resolved_find(pc->c, n, MODEL_IN_PATH);
    struct val in;
    int rc = 1;
    if (v) {
        rc = strbuf_add(out, v->s, v->len);
    } else if (input_find(pc->c, n, &in)) {
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

/* Render string leaves of a {type: json} body template. */
static cJSON *render_json(struct ctx *c, const cJSON *tpl)
{
    if (cJSON_IsString(tpl) && template_has_placeholder(tpl->valuestring)) {
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

static int build_body(struct ctx *c, struct outreq *out)
{
    const struct model_operation *op = c->call->op;
    cJSON *fields = NULL;
    for (size_t i = 0; i < c->nres; i++) {
        const struct resolved *r = &c->res[i];
        if (r->p->in != MODEL_IN_BODY)
            continue;
        if (str_eq(r->p->name, "body")) {
            /* The whole body: forwarded byte for byte when it is the caller's own JSON. */
            cJSON_Delete(fields);
            bool text = r->v.kind == VAL_TEXT || (r->v.kind == VAL_RAW_BODY && r->v.s);
            if (text) {
                out->body = xstrndup(r->v.s, r->v.len);
                out->body_len = r->v.len;
            } else {
                out->body = cJSON_PrintUnformatted(r->v.j);
                out->body_len = strlen(out->body);
            }
            return 0;
        }
        if (!fields)
            fields = cJSON_CreateObject();
        cJSON *j =
            r->v.kind == VAL_TEXT ? text_to_json(&r->v, r->p->type) : cJSON_Duplicate(r->v.j, 1);
        cJSON_AddItemToObject(fields, r->p->name, j);
    }
    if (op->body.kind == MODEL_BODY_TEMPLATE) {
        cJSON_Delete(fields);
        size_t len;
        const char *s = render(c, op->body.template, &len);
        out->body = xstrndup(s, len);
        out->body_len = len;
        return 0;
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
    return 0;
}

/* Credentials: the caller's own header wins, else the configured one; with neither, 401. The
 * list (runtime_build) holds the consumer's credentials the call sends, then the declared
 * credential headers that nothing configures. */
static int add_credentials(struct ctx *c, struct outreq *out)
{
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

int mapping_build(const struct runtime *rt, const struct rt_call *call,
                  const struct mapping_input *in, struct outreq *out, struct mapping_error *err)
{
    struct ctx c = {.rt = rt, .call = call, .in = in, .err = err};
    const struct model_operation *op = call->op;
    int rc = -1;

    memset(err, 0, sizeof *err);
    /* A step's request reads the scope the orchestration built, checked when the call came in
     * (mapping_check_inputs). */
    if (!call->parent && (check_unknown(&c) < 0 || check_declared(&c) < 0))
        goto out;
    for (size_t i = 0; i < call->nparams; i++)
        if (resolve_param(&c, &call->params[i]) < 0)
            goto out;

    out->method = op->method;
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
    /* The default Content-Type of a body is the outreq's rule (outreq_content_type). */
    rc = 0;
out:
    for (size_t i = 0; i < c.nowned; i++)
        free(c.owned[i]);
    free(c.owned);
    return rc;
}

int mapping_check_inputs(const struct runtime *rt, const struct rt_call *call,
                         const struct mapping_input *in, struct mapping_error *err)
{
    struct ctx c = {.rt = rt, .call = call, .in = in, .err = err};
    memset(err, 0, sizeof *err);
    int rc = check_unknown(&c) < 0 || check_declared(&c) < 0 ? -1 : 0;
    for (size_t i = 0; i < c.nowned; i++)
        free(c.owned[i]);
    free(c.owned);
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

cJSON *mapping_scope(const struct rt_call *call, const struct mapping_input *in)
{
    if (in->mcp)
        return cJSON_IsObject(in->args) ? cJSON_Duplicate(in->args, 1) : cJSON_CreateObject();
    cJSON *scope = cJSON_IsObject(in->body) ? cJSON_Duplicate(in->body, 1) : cJSON_CreateObject();
    /* Path variables first: they name the resource and win over a same-named field. */
    for (size_t i = 0; i < in->npath; i++)
        cJSON_DeleteItemFromObjectCaseSensitive(scope, in->path[i].name);
    scope_add_kv(scope, call->mcall, in->path, in->npath);
    scope_add_kv(scope, call->mcall, in->query, in->nquery);
    return scope;
}
