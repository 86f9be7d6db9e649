/*
 * mcptool: see mcptool.h. Input schemas follow the value-flow rules of
 * docs/capability-format.md in this repository ("How values flow"), mirroring what
 * mapping_build will read from a tool's arguments, so the schema a model sees is what the call
 * accepts.
 */
#include "core/mcptool.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/httpstatus.h"
#include "base/jsontext.h"
#include "base/util.h"
#include "core/jsonrpc.h"
#include "core/outschema.h"
#include "core/respmap.h"
#include "spec/template.h"

/* ---- MCP: initialize ---- */

cJSON *mcptool_initialize_result(const char *version, const char *instructions, unsigned caps)
{
    cJSON *r = cJSON_CreateObject();
    cJSON_AddStringToObject(r, "protocolVersion", version);
    cJSON *caps_json = cJSON_AddObjectToObject(r, "capabilities");
    cJSON *tools = cJSON_AddObjectToObject(caps_json, "tools");
    cJSON_AddFalseToObject(tools, "listChanged");
    /* Only what the endpoint has: a client then does not ask for empty lists. */
    if (caps & MCPTOOL_CAP_RESOURCES) {
        cJSON *res = cJSON_AddObjectToObject(caps_json, "resources");
        cJSON_AddFalseToObject(res, "subscribe");
        cJSON_AddFalseToObject(res, "listChanged");
    }
    if (caps & MCPTOOL_CAP_PROMPTS)
        cJSON_AddFalseToObject(cJSON_AddObjectToObject(caps_json, "prompts"), "listChanged");
    cJSON *info = cJSON_AddObjectToObject(r, "serverInfo");
    cJSON_AddStringToObject(info, "name", "capproxy");
    cJSON_AddStringToObject(info, "version", CAPPROXY_VERSION);
    if (instructions && *instructions)
        cJSON_AddStringToObject(r, "instructions", instructions);
    return r;
}

/* ---- MCP: input schemas ---- */

struct schema {
    const struct rt_call *call;
    cJSON *props;
    cJSON *required;
};

static bool in_required(const cJSON *required, const char *name)
{
    const cJSON *e;
    cJSON_ArrayForEach(e, required) if (str_eq(e->valuestring, name)) return true;
    return false;
}

/* Add property <name>; a second mention only adds to `required` (the first one's type and
 * description stay). An array says its <items> type when the document declares it; without one
 * it has no `items` at all (an empty `items: {}` tells a model nothing, and some reject it). */
static void schema_prop(struct schema *s, const char *name, enum model_type t,
                        enum model_type items, const char *desc, bool required)
{
    if (!name || !*name)
        return;
    if (!cJSON_GetObjectItemCaseSensitive(s->props, name)) {
        cJSON *p = cJSON_AddObjectToObject(s->props, name);
        const char *ty = model_json_type(t);
        if (ty)
            cJSON_AddStringToObject(p, "type", ty);
        if (t == MODEL_TYPE_ARRAY && model_json_type(items))
            cJSON_AddStringToObject(cJSON_AddObjectToObject(p, "items"), "type",
                                    model_json_type(items));
        if (desc && *desc)
            cJSON_AddStringToObject(p, "description", desc);
    }
    if (required && !in_required(s->required, name))
        cJSON_AddItemToArray(s->required, cJSON_CreateString(name));
}

/* Whether argument <name> would feed a credential header: those come from the client's HTTP
 * headers or configuration, never from arguments (a body field named `secret` is an argument). */
static bool is_credential(const struct schema *s, const char *name)
{
    return s->call->op && runtime_input_is_credential(s->call->consumer, s->call->op, name);
}

/* Whether mapping reads consumed parameter <p> from the arguments at all: credentials come from
 * headers or configuration, environment parameters from the environment. */
static bool param_from_args(const struct schema *s, const struct model_param *p)
{
    if (p->in == MODEL_IN_ENVIRONMENT)
        return false;
    return !(p->in == MODEL_IN_HEADER && runtime_is_credential(s->call->consumer, p->name));
}

/* `{{tools.NAME}}` (or `{{<own namespace>.NAME}}`) placeholders of a `with` template read the
 * argument NAME; it renders as text, so any JSON scalar works. (`rest.NAME` reads it too, but
 * is not advertised as a tool argument.) */
static int schema_placeholder(void *arg, const char *name, size_t len)
{
    struct schema *s = arg;
    const char *ns = s->call->expose ? s->call->expose->ns : NULL;
    enum template_ref kind;
    size_t klen;
    const char *key = template_ref_key(name, len, ns, TREF_TOOLS | TREF_NS, &klen, &kind);
    if (kind == TREF_NONE)
        return 0;
    char *n = xstrndup(key, klen);
    if (!is_credential(s, n))
        schema_prop(s, n, MODEL_TYPE_ANY, MODEL_TYPE_ANY, NULL, false);
    free(n);
    return 0;
}

static void schema_template(struct schema *s, const char *tpl)
{
    template_each(tpl, schema_placeholder, s);
}

static void schema_from_with(struct schema *s)
{
    const struct model_call *mc = s->call->mcall;
    const struct model_operation *op = s->call->op;
    for (size_t i = 0; i < mc->nwith; i++) {
        const struct model_with *w = &mc->with[i];
        /* mapping resolves `with` only for declared consumed parameters. */
        const struct model_param *p = model_op_param(op, w->name);
        if (!p || !param_from_args(s, p))
            continue;
        if (w->kind == MODEL_WITH_REF) {
            if (!is_credential(s, w->ref))
                schema_prop(s, w->ref, p->type, p->items, p->description,
                            p->required || p->in == MODEL_IN_PATH);
        } else if (w->kind == MODEL_WITH_TEMPLATE) {
            schema_template(s, w->text);
        }
    }
}

static void schema_uncovered(struct schema *s, const struct model_param *p)
{
    const struct model_call *mc = s->call->mcall;
    if (model_call_with(mc, p->name) || p->value || !param_from_args(s, p))
        return;
    if (p->in != MODEL_IN_PATH && p->in != MODEL_IN_QUERY && p->in != MODEL_IN_HEADER &&
        p->in != MODEL_IN_BODY)
        return;
    schema_prop(s, p->name, p->type, p->items, p->description,
                p->required || p->in == MODEL_IN_PATH);
}

/* A path placeholder without a declared parameter takes the same-named argument. */
static void schema_path_var(void *arg, const char *name, size_t len)
{
    struct schema *s = arg;
    char *n = xstrndup(name, len);
    if (!model_op_param(s->call->op, n) && !is_credential(s, n))
        schema_prop(s, n, MODEL_TYPE_STRING, MODEL_TYPE_ANY, NULL, true);
    free(n);
}

/* The item type of declared array parameter <p>: its own `items`, else that of the consumed
 * parameter a `with` entry feeds from it (`emails: tools.emails`). */
static enum model_type declared_items(const struct schema *s, const struct model_param *p)
{
    if (p->type != MODEL_TYPE_ARRAY || p->items != MODEL_TYPE_ANY || !s->call->op)
        return p->items;
    const struct model_call *mc = s->call->mcall;
    for (size_t i = 0; i < mc->nwith; i++) {
        const struct model_with *w = &mc->with[i];
        const struct model_param *cp = model_op_param(s->call->op, w->name);
        if (w->kind == MODEL_WITH_REF && str_eq(w->ref, p->name) && cp &&
            cp->type == MODEL_TYPE_ARRAY && cp->items != MODEL_TYPE_ANY)
            return cp->items;
    }
    return MODEL_TYPE_ANY;
}

cJSON *mcptool_input_schema(const struct rt_call *call)
{
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "type", "object");
    struct schema s = {call, cJSON_AddObjectToObject(root, "properties"), cJSON_CreateArray()};
    const struct model_call *mc = call->mcall;
    const struct model_operation *op = call->op;
    if (mc->params_declared) {
        for (size_t i = 0; i < mc->nparams; i++) {
            const struct model_param *p = &mc->params[i];
            if (!is_credential(&s, p->name))
                schema_prop(&s, p->name, p->type, declared_items(&s, p), p->description,
                            p->required);
        }
    } else if (!op) {
        /* Orchestrated or mock, without declared inputParameters: what its steps or output
         * values read (runtime's input names), of any type. */
        for (size_t i = 0; i < call->ninputs; i++)
            schema_prop(&s, call->inputs[i], MODEL_TYPE_ANY, MODEL_TYPE_ANY, NULL, false);
    } else {
        schema_from_with(&s);
        for (size_t i = 0; i < op->nparams; i++)
            schema_uncovered(&s, &op->params[i]);
        const struct model_consumer *mcons = op->consumer;
        for (size_t i = 0; mcons && i < mcons->nparams; i++) {
            const struct model_param *p = &mcons->params[i];
            /* An operation's own parameter hides the namespace-level one of the same name. */
            if (model_op_param(op, p->name) == p)
                schema_uncovered(&s, p);
        }
        if (op->resource)
            template_path_vars(op->resource->path, schema_path_var, &s);
    }
    if (cJSON_GetArraySize(s.required) > 0)
        cJSON_AddItemToObject(root, "required", s.required);
    else
        cJSON_Delete(s.required);
    return root;
}

cJSON *mcptool_tool(const struct rt_call *call)
{
    const struct model_tool *t = call->tool;
    cJSON *r = cJSON_CreateObject();
    cJSON_AddStringToObject(r, "name", call->name);
    if (t && t->label && *t->label)
        cJSON_AddStringToObject(r, "title", t->label);
    const char *desc = t && t->description ? t->description
                       : call->op          ? call->op->description
                                           : NULL;
    if (desc && *desc)
        cJSON_AddStringToObject(r, "description", desc);
    cJSON_AddItemToObject(r, "inputSchema", mcptool_input_schema(call));
    if (call->output_schema)
        cJSON_AddItemToObject(r, "outputSchema", cJSON_Duplicate(call->output_schema, 1));
    if (t) {
        static const char *const names[] = {"readOnlyHint", "destructiveHint", "idempotentHint",
                                            "openWorldHint"};
        const signed char v[] = {t->hints.read_only, t->hints.destructive, t->hints.idempotent,
                                 t->hints.open_world};
        cJSON *ann = NULL;
        for (size_t i = 0; i < UTIL_ARRAY_LEN(names); i++) {
            if (v[i] < 0)
                continue;
            if (!ann)
                ann = cJSON_AddObjectToObject(r, "annotations");
            cJSON_AddBoolToObject(ann, names[i], v[i] != 0);
        }
    }
    return r;
}

char *mcptool_tools_list(struct rt_call *const *tools, size_t ntools)
{
    cJSON *r = cJSON_CreateObject();
    cJSON *arr = cJSON_AddArrayToObject(r, "tools");
    for (size_t i = 0; i < ntools; i++)
        cJSON_AddItemToArray(arr, mcptool_tool(tools[i]));
    char *s = cJSON_PrintUnformatted(r);
    cJSON_Delete(r);
    /* cJSON_free and free are the same allocator unless hooks are installed (they are not);
     * copy anyway so callers can use plain free(). */
    char *out = xstrdup(s);
    cJSON_free(s);
    return out;
}

/* ---- MCP: tool calls ---- */

const char *mcptool_call_params(const cJSON *params, const char **name, const cJSON **args)
{
    *name = NULL;
    *args = NULL;
    if (!cJSON_IsObject(params))
        return "tools/call params must be an object with the tool's name";
    const cJSON *n = cJSON_GetObjectItemCaseSensitive(params, "name");
    if (!cJSON_IsString(n) || !*n->valuestring)
        return "tools/call params need a string \"name\"";
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(params, "arguments");
    if (a && !cJSON_IsNull(a) && !cJSON_IsObject(a))
        return "tools/call \"arguments\" must be an object";
    *name = n->valuestring;
    *args = cJSON_IsObject(a) ? a : NULL;
    return NULL;
}

cJSON *mcptool_text_result(const char *text, size_t len, bool is_error)
{
    cJSON *r = cJSON_CreateObject();
    cJSON *content = cJSON_AddArrayToObject(r, "content");
    cJSON *item = cJSON_CreateObject();
    cJSON_AddStringToObject(item, "type", "text");
    char *t = utf8_sanitize(text ? text : "", text ? len : 0);
    cJSON_AddStringToObject(item, "text", t);
    free(t);
    cJSON_AddItemToArray(content, item);
    if (is_error)
        cJSON_AddTrueToObject(r, "isError");
    return r;
}

/* Add text item <text>[0..len) (made valid UTF-8) to tool result <r>. */
static void add_text(cJSON *r, const char *text, size_t len)
{
    cJSON *item = cJSON_CreateObject();
    cJSON_AddStringToObject(item, "type", "text");
    char *t = utf8_sanitize(text, len);
    cJSON_AddStringToObject(item, "text", t);
    free(t);
    cJSON_AddItemToArray(cJSON_GetObjectItemCaseSensitive(r, "content"), item);
}

/* A tool that advertises an outputSchema must answer structuredContent conforming to it (the
 * SDK clients check): a successful result that does not (the upstream answered other types
 * than the outputs declare, or no JSON) becomes a tool error saying where, its text kept. */
static cJSON *keep_output_contract(const struct rt_call *call, cJSON *r)
{
    if (!call->output_schema)
        return r;
    char where[256];
    const cJSON *sc = cJSON_GetObjectItemCaseSensitive(r, "structuredContent");
    bool ok = sc ? outschema_check(call->output_schema, sc, where, sizeof where) : false;
    if (ok)
        return r;
    struct strbuf msg;
    strbuf_init(&msg, 0);
    strbuf_addf(&msg, "the upstream answer does not match the tool's declared outputs: %s",
                sc ? where : "it is not a JSON object");
    cJSON *e = mcptool_text_result(msg.data, msg.len, true);
    strbuf_deinit(&msg);
    const cJSON *first = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(r, "content"), 0);
    const cJSON *text = cJSON_GetObjectItemCaseSensitive(first, "text");
    if (cJSON_IsString(text))
        add_text(e, text->valuestring, strlen(text->valuestring));
    cJSON_Delete(r);
    return e;
}

/* A successful call whose output is the whole upstream document, which is a JSON object: the
 * whole result is written as text, in one buffer of its exact size, for the HTTP transport to
 * send without a result tree (content, structuredContent, _meta, as cJSON prints the general
 * path's tree). One scan of the body (jsontext_scan) tells what the steps need. cJSON reads the
 * document (respmap_parse_json_scanned: what respmap_apply reads for a passthrough call, big
 * integers' digits kept) and prints structuredContent, unless the body already is that text
 * (jsontext_is_printed_scanned); the text content is the body's own text as a JSON string, what
 * cJSON would print for it: written in place when the scan gives its length
 * (jsontext_put_literal), else made by jsontext_string. */
char *mcptool_passthrough_text(const struct rt_call *call, long status, const char *body,
                               size_t len, const char *before, const char *after, size_t *outlen)
{
    static const char head[] = "{\"content\":[{\"type\":\"text\",\"text\":";
    static const char mid[] = "}],\"structuredContent\":";
    static const char meta[] = ",\"_meta\":{\"upstreamStatus\":";
    if (status < 200 || status >= 300 || len == 0 || !call->passthrough || call->output_schema ||
        respmap_converts(call))
        return NULL;
    /* One pass over the body answers what reading it, comparing it and quoting it ask. */
    struct jsontext_facts facts;
    jsontext_scan(body, len, &facts);
    /* An upstream's compact answer is already what cJSON would print for it: no second
     * print then (it costs as much as the parse), the body goes out as it came. Its bytes
     * outside strings tell it, and cJSON reads its skeleton only (jsontext_is_printed_object),
     * without a tree of the whole body. */
    bool same = jsontext_is_printed_object(body, len, &facts);
    char *printed = NULL;
    if (!same) {
        /* what respmap_apply answers for a passthrough JSON call, given the facts */
        cJSON *doc = respmap_parse_json_scanned(body, len, &facts);
        if (!cJSON_IsObject(doc)) {
            cJSON_Delete(doc);
            return NULL; /* not a JSON object: the general path says so */
        }
        same = jsontext_is_printed_scanned(doc, body, len, &facts);
        printed = same ? NULL : cJSON_PrintUnformatted(doc);
        cJSON_Delete(doc);
        if (!same && !printed)
            return NULL;
    }
    const char *sc = same ? body : printed;
    size_t sclen = same ? len : strlen(sc), litlen = 0;
    char st[UTIL_LL_MAX];
    size_t stlen = util_fmt_ll(status, st);
    size_t blen = before ? strlen(before) : 0, alen = after ? strlen(after) : 0;
    /* the literal is written in place when the facts tell its length, else made apart */
    litlen = jsontext_literal_len(body, len, &facts);
    char *lit = litlen ? NULL : jsontext_string(body, len, NULL, NULL, &litlen);
    size_t cap = blen + sizeof head - 1 + litlen + sizeof mid - 1 + sclen + sizeof meta - 1 +
                 stlen + 2 + alen + 1;
    char *r = xmalloc(cap), *p = r;
    memcpy(p, before ? before : "", blen);
    p += blen;
    memcpy(p, head, sizeof head - 1);
    p += sizeof head - 1;
    if (lit) {
        memcpy(p, lit, litlen);
        p += litlen;
    } else {
        p = jsontext_put_literal(p, body, len, litlen);
    }
    memcpy(p, mid, sizeof mid - 1);
    p += sizeof mid - 1;
    memcpy(p, sc, sclen);
    p += sclen;
    memcpy(p, meta, sizeof meta - 1);
    p += sizeof meta - 1;
    memcpy(p, st, stlen);
    p += stlen;
    *p++ = '}', *p++ = '}';
    memcpy(p, after ? after : "", alen);
    p += alen;
    *p = '\0';
    free(lit);
    cJSON_free(printed);
    if (outlen)
        *outlen = (size_t)(p - r);
    return r;
}

cJSON *mcptool_upstream_result(const struct rt_call *call, long status, const char *location,
                               const char *body, size_t len)
{
    bool ok = status >= 200 && status < 300;
    char why[384];
    char *text = location ? NULL : mcptool_passthrough_text(call, status, body, len, "", "", NULL);
    if (text) { /* the whole result, _meta included */
        cJSON *raw = cJSON_CreateRaw(text);
        free(text);
        return raw;
    }
    cJSON *r = NULL, *mapped = NULL;
    mapped = ok && len > 0 ? respmap_apply(call, body, len, why, sizeof why) : NULL;
    if (mapped && !call->passthrough) {
        char *s = cJSON_PrintUnformatted(mapped);
        r = mcptool_text_result(s, strlen(s), false);
        cJSON_free(s);
    } else if (ok && len > 0 && respmap_converts(call)) {
        /* The document says XML, CSV...: a body that is not is an error, not a result. */
        r = mcptool_text_result(why, strlen(why), true);
    } else {
        /* Not JSON, not mapped, or the whole document unchanged: its own text keeps numbers
         * exactly as the upstream wrote them. */
        r = mcptool_text_result(body, len, status >= 400);
    }
    if (!ok) {
        /* Nothing the upstream said is lost: the status (and a redirect's Location) as a
         * sentence a model reads. The body stays the first item, which clients parse. */
        struct strbuf said;
        strbuf_init(&said, 0);
        strbuf_addf(&said, "upstream answered %ld %s", status, httpstatus_text((int)status));
        if (location)
            strbuf_addf(&said, "; Location: %s", location);
        if (len == 0)
            cJSON_DeleteItemFromArray(cJSON_GetObjectItemCaseSensitive(r, "content"), 0);
        add_text(r, said.data, said.len);
        strbuf_deinit(&said);
    }
    if (cJSON_IsObject(mapped))
        cJSON_AddItemToObject(r, "structuredContent", mapped);
    else
        cJSON_Delete(mapped);
    if (!cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(r, "isError")))
        r = keep_output_contract(call, r);
    /* ... and for programs, in _meta. */
    cJSON *meta = cJSON_AddObjectToObject(r, "_meta");
    /* Raw: cJSON prints a number through printf("%1.15g") and reads it back with sscanf. */
    char st[24];
    snprintf(st, sizeof st, "%ld", status);
    cJSON_AddRawToObject(meta, "upstreamStatus", st);
    if (location) {
        char *l = utf8_sanitize(location, strlen(location));
        cJSON_AddStringToObject(meta, "upstreamLocation", l);
        free(l);
    }
    return r;
}
