/*
 * mcpres: see mcpres.h.
 */
#include "core/mcpres.h"

#include <stdlib.h>
#include <string.h>

#include "base/b64.h"
#include "base/httpstatus.h"
#include "base/util.h"
#include "core/jsonrpc.h"
#include "core/respmap.h"
#include "spec/template.h"

static void add_opt(cJSON *o, const char *key, const char *v)
{
    if (v && *v)
        cJSON_AddStringToObject(o, key, v);
}

void mcpres_list_entries(const struct model_mcp_resource *r, cJSON *arr)
{
    if (r->is_template)
        return;
    if (!r->location) {
        cJSON *e = cJSON_CreateObject();
        cJSON_AddStringToObject(e, "uri", r->uri);
        cJSON_AddStringToObject(e, "name", r->name);
        add_opt(e, "title", r->label);
        add_opt(e, "description", r->description);
        add_opt(e, "mimeType", r->mime_type);
        cJSON_AddItemToArray(arr, e);
        return;
    }
    for (size_t i = 0; i < r->nfiles; i++) {
        const struct model_mcp_file *f = &r->files[i];
        cJSON *e = cJSON_CreateObject();
        cJSON_AddStringToObject(e, "uri", f->uri);
        /* A directory's files share the resource's name; their uris tell them apart. */
        cJSON_AddStringToObject(e, "name", r->name);
        add_opt(e, "title", r->label);
        add_opt(e, "description", r->description);
        cJSON_AddStringToObject(e, "mimeType", f->mime_type);
        cJSON_AddNumberToObject(e, "size", (double)f->len);
        cJSON_AddItemToArray(arr, e);
    }
}

cJSON *mcpres_template_entry(const struct model_mcp_resource *r)
{
    cJSON *e = cJSON_CreateObject();
    cJSON_AddStringToObject(e, "uriTemplate", r->uri);
    cJSON_AddStringToObject(e, "name", r->name);
    add_opt(e, "title", r->label);
    add_opt(e, "description", r->description);
    add_opt(e, "mimeType", r->mime_type);
    return e;
}

cJSON *mcpres_prompt_entry(const struct model_mcp_prompt *p)
{
    cJSON *e = cJSON_CreateObject();
    cJSON_AddStringToObject(e, "name", p->name);
    add_opt(e, "title", p->label);
    add_opt(e, "description", p->description);
    if (p->nargs) {
        cJSON *args = cJSON_AddArrayToObject(e, "arguments");
        for (size_t i = 0; i < p->nargs; i++) {
            cJSON *a = cJSON_CreateObject();
            cJSON_AddStringToObject(a, "name", p->args[i].name ? p->args[i].name : "");
            add_opt(a, "title", p->args[i].label);
            add_opt(a, "description", p->args[i].description);
            cJSON_AddBoolToObject(a, "required", p->args[i].required);
            cJSON_AddItemToArray(args, a);
        }
    }
    return e;
}

const char *mcpres_read_params(const cJSON *params, const char **uri)
{
    const cJSON *u =
        cJSON_IsObject(params) ? cJSON_GetObjectItemCaseSensitive(params, "uri") : NULL;
    if (!cJSON_IsString(u))
        return "resources/read params need a string \"uri\"";
    *uri = u->valuestring;
    return NULL;
}

/* One contents item: text when <data> is UTF-8 without NUL, else base64 `blob`. */
static cJSON *contents(const char *uri, const char *mime, const char *data, size_t len, bool binary)
{
    cJSON *r = cJSON_CreateObject();
    cJSON *item = cJSON_CreateObject();
    cJSON_AddStringToObject(item, "uri", uri);
    if (mime)
        cJSON_AddStringToObject(item, "mimeType", mime);
    if (binary) {
        char *b = b64_encode(data, len);
        cJSON_AddStringToObject(item, "blob", b);
        free(b);
    } else {
        cJSON *t = cJSON_CreateString("");
        /* Text may be long: hand cJSON the bytes without a second copy through a C string. */
        cJSON_free(t->valuestring);
        t->valuestring = cJSON_malloc(len + 1);
        memcpy(t->valuestring, data, len);
        t->valuestring[len] = '\0';
        cJSON_AddItemToObject(item, "text", t);
    }
    cJSON_AddItemToArray(cJSON_AddArrayToObject(r, "contents"), item);
    return r;
}

cJSON *mcpres_file_result(const struct model_mcp_file *f)
{
    return contents(f->uri, f->mime_type, f->data, f->len, f->binary);
}

static bool is_text(const char *s, size_t len)
{
    return !memchr(s, '\0', len) && utf8_valid(s, len, NULL);
}

cJSON *mcpres_upstream_result(const struct rt_call *call, const char *uri, long status,
                              const char *ctype, const char *body, size_t len, int *code,
                              char **msg)
{
    const struct model_mcp_resource *r = call->resource;
    *msg = NULL;
    if (status < 200 || status >= 300) {
        /* The uri is the client's text: cut short and kept valid UTF-8. */
        char *safe = utf8_sanitize(uri, strnlen(uri, 200));
        *code = status == 404 || status == 410 ? MCPRES_NOT_FOUND : JSONRPC_INTERNAL_ERROR;
        *msg = xasprintf("%s: %s (upstream answered %ld %s)",
                         *code == MCPRES_NOT_FOUND ? "Resource not found" : "Resource read failed",
                         safe, status, httpstatus_text((int)status));
        free(safe);
        return NULL;
    }
    char why[384];
    cJSON *mapped = len > 0 ? respmap_apply(call, body, len, why, sizeof why) : NULL;
    if (mapped && !call->passthrough) {
        char *s = cJSON_PrintUnformatted(mapped);
        cJSON *res =
            contents(uri, r->mime_type ? r->mime_type : "application/json", s, strlen(s), false);
        cJSON_free(s);
        cJSON_Delete(mapped);
        return res;
    }
    cJSON_Delete(mapped);
    if (len > 0 && !mapped && respmap_converts(call)) {
        char *safe = utf8_sanitize(uri, strnlen(uri, 200));
        *code = JSONRPC_INTERNAL_ERROR;
        *msg = xasprintf("Resource read failed: %s (%s)", safe, why);
        free(safe);
        return NULL;
    }
    const char *mime = r->mime_type ? r->mime_type : ctype && *ctype ? ctype : "application/json";
    return contents(uri, mime, body, len, !is_text(body, len));
}

cJSON *mcpres_answer_result(const struct model_mcp_resource *r, const char *uri, cJSON *answer)
{
    char *s = answer ? cJSON_PrintUnformatted(answer) : NULL;
    cJSON *res = contents(uri, r->mime_type ? r->mime_type : "application/json", s ? s : "",
                          s ? strlen(s) : 0, false);
    cJSON_free(s);
    cJSON_Delete(answer);
    return res;
}

/* The -32602 message for arguments <p> does not accept, or NULL when they fit. */
static char *prompt_args_refusal(const struct model_mcp_prompt *p, const cJSON *args)
{
    if (args && !cJSON_IsNull(args) && !cJSON_IsObject(args))
        return xstrdup("prompts/get \"arguments\" must be an object of strings");
    const cJSON *obj = cJSON_IsObject(args) ? args : NULL, *a;
    cJSON_ArrayForEach(a, obj)
    {
        const struct model_prompt_arg *decl = NULL;
        for (size_t i = 0; i < p->nargs && !decl; i++)
            if (str_eq(p->args[i].name, a->string))
                decl = &p->args[i];
        /* The names are the client's text: cut short and kept valid UTF-8. */
        char *safe = utf8_sanitize(a->string, strnlen(a->string, 100));
        char *msg = NULL;
        if (!decl) {
            struct util_closest c;
            util_closest_init(&c, a->string);
            for (size_t i = 0; i < p->nargs; i++)
                util_closest_add(&c, p->args[i].name);
            msg = c.best ? xasprintf("prompt '%s' has no argument '%s' (did you mean '%s'?)",
                                     p->name, safe, c.best)
                         : xasprintf("prompt '%s' has no argument '%s'", p->name, safe);
        } else if (!cJSON_IsString(a)) {
            msg = xasprintf("prompt argument '%s' must be a string", safe);
        }
        free(safe);
        if (msg)
            return msg;
    }
    struct strbuf missing;
    strbuf_init(&missing, 0);
    size_t n = 0;
    for (size_t i = 0; i < p->nargs; i++)
        if (p->args[i].required && !cJSON_GetObjectItemCaseSensitive(args, p->args[i].name)) {
            strbuf_addf(&missing, "%s'%s'", n ? ", " : "", p->args[i].name);
            n++;
        }
    char *msg = n ? xasprintf("prompt '%s' is missing required argument%s %s", p->name,
                              n > 1 ? "s" : "", missing.data)
                  : NULL;
    strbuf_deinit(&missing);
    return msg;
}

cJSON *mcpres_prompt_get(const struct model_mcp_prompt *p, const cJSON *args, char **err)
{
    *err = prompt_args_refusal(p, args);
    if (*err)
        return NULL;
    const cJSON *scope = cJSON_IsObject(args) ? args : NULL;
    cJSON *r = cJSON_CreateObject();
    add_opt(r, "description", p->description);
    cJSON *msgs = cJSON_AddArrayToObject(r, "messages");
    struct strbuf text;
    strbuf_init(&text, MCPRES_MAX_PROMPT);
    size_t total = 0;
    for (size_t i = 0; i < p->nmessages; i++) {
        strbuf_reset(&text);
        if (template_render_scope(p->messages[i].content, scope, &text) < 0 ||
            (total += text.len) > MCPRES_MAX_PROMPT) {
            *err = xasprintf("prompt '%s' renders larger than %zu bytes with these arguments",
                             p->name, MCPRES_MAX_PROMPT);
            cJSON_Delete(r);
            r = NULL;
            break;
        }
        cJSON *m = cJSON_CreateObject();
        cJSON_AddStringToObject(m, "role", p->messages[i].role);
        cJSON *c = cJSON_AddObjectToObject(m, "content");
        cJSON_AddStringToObject(c, "type", "text");
        cJSON_AddStringToObject(c, "text", text.data ? text.data : "");
        cJSON_AddItemToArray(msgs, m);
    }
    strbuf_deinit(&text);
    return r;
}
