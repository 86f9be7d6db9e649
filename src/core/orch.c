/*
 * orch: see orch.h. One orch per request; everything it keeps is in the scope object and
 * the last call step's raw answer, each bounded by the upstream response limit per step.
 */
#include "core/orch.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/httpstatus.h"
#include "base/util.h"
#include "core/convert.h"
#include "core/respmap.h"
#include "spec/jsonpath.h"
#include "spec/template.h"

struct orch {
    const struct runtime *rt;
    const struct rt_call *call;
    cJSON *scope;
    struct mapping_kv *headers; /* copies: the caller's request is gone after the first step */
    size_t nheaders;
    size_t next;    /* the next step to run */
    size_t current; /* the call step whose request is out */
    cJSON *last;    /* the last call step's answer as received (no projection) */
    int last_status;
    enum orch_state state;
    struct orch_failure fail;
};

struct orch *orch_new(const struct runtime *rt, const struct rt_call *call, cJSON *scope,
                      const struct mapping_kv *headers, size_t nheaders)
{
    struct orch *o = xcalloc(1, sizeof *o);
    o->rt = rt;
    o->call = call;
    o->scope = scope ? scope : cJSON_CreateObject();
    o->headers = xcalloc(nheaders + 1, sizeof *o->headers);
    for (size_t i = 0; i < nheaders; i++) {
        char *v = xmalloc(headers[i].len + 1);
        memcpy(v, headers[i].value, headers[i].len);
        v[headers[i].len] = '\0';
        o->headers[i] = (struct mapping_kv){xstrdup(headers[i].name), v, headers[i].len};
    }
    o->nheaders = nheaders;
    o->state = ORCH_SEND;
    return o;
}

void orch_free(struct orch *o)
{
    if (!o)
        return;
    for (size_t i = 0; i < o->nheaders; i++) {
        free((char *)o->headers[i].name);
        free((char *)o->headers[i].value);
    }
    free(o->headers);
    cJSON_Delete(o->scope);
    cJSON_Delete(o->last);
    free(o);
}

static const struct model_step *step_at(const struct orch *o, size_t i)
{
    return &o->call->mcall->steps[i];
}

static enum orch_state failed(struct orch *o, int status, const struct model_step *st,
                              long upstream_status, const char *fmt, ...) UTIL_PRINTF(5, 6);

static enum orch_state failed(struct orch *o, int status, const struct model_step *st,
                              long upstream_status, const char *fmt, ...)
{
    o->fail.status = status;
    o->fail.step = st->name;
    o->fail.call = st->call;
    o->fail.upstream_status = upstream_status;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(o->fail.message, sizeof o->fail.message, fmt, ap);
    va_end(ap);
    o->state = ORCH_FAILED;
    return o->state;
}

/* Put <v> (taken) in the scope as step <name>'s result. */
static void scope_set(struct orch *o, const char *name, cJSON *v)
{
    cJSON_DeleteItemFromObjectCaseSensitive(o->scope, name);
    cJSON_AddItemToObject(o->scope, name, v ? v : cJSON_CreateNull());
}

/* `$.<step>.<path>` read from the scope: a copy, or NULL when it names nothing. A path with
 * an index or wildcard (`$.list-crew[0].name`, as the engine's JsonPath reads it) is JSONPath;
 * a dotted one reads as templates do (a numeric segment indexes an array). */
static cJSON *scope_path(const struct orch *o, const char *ref)
{
    if (strncmp(ref, "$.", 2) != 0)
        return NULL;
    if (strpbrk(ref, "[*"))
        return jsonpath_eval(o->scope, ref);
    const cJSON *v = template_scope_get(o->scope, ref + 2, strlen(ref + 2));
    return v ? cJSON_Duplicate(v, 1) : NULL;
}

/* Scalar text for the lookup's comparison: a string as is, anything else as compact JSON (so
 * 42 matches "42"). */
static char *as_text(const cJSON *v)
{
    struct strbuf b;
    strbuf_init(&b, 0);
    template_value_text(v, &b);
    char *s = strbuf_detach(&b, NULL);
    return s ? s : xstrdup("");
}

/* The first element of <index> (an array of objects, or one object) whose field <match> reads
 * as <value>, cut down to <st>'s fields; NULL when none. */
static cJSON *lookup_one(const struct model_step *st, const cJSON *index, const char *value)
{
    const cJSON *e = cJSON_IsArray(index) ? index->child : index;
    for (; e; e = cJSON_IsArray(index) ? e->next : NULL) {
        const cJSON *f = cJSON_IsObject(e) ? cJSON_GetObjectItemCaseSensitive(e, st->match) : NULL;
        if (!f)
            continue;
        char *t = as_text(f);
        bool hit = str_eq(t, value);
        free(t);
        if (!hit)
            continue;
        if (st->nfields == 0)
            return cJSON_Duplicate(e, 1);
        cJSON *r = cJSON_CreateObject();
        for (size_t i = 0; i < st->nfields; i++) {
            const cJSON *v = cJSON_GetObjectItemCaseSensitive(e, st->fields[i]);
            cJSON_AddItemToObject(r, st->fields[i], v ? cJSON_Duplicate(v, 1) : cJSON_CreateNull());
        }
        return r;
    }
    return NULL;
}

/* A lookup step: its result is one entry (a scalar lookup value) or an array of entries (an
 * array lookup value, one per value that matches), or null when nothing matches. */
static void run_lookup(struct orch *o, const struct model_step *st)
{
    const cJSON *index = cJSON_GetObjectItemCaseSensitive(o->scope, st->index);
    cJSON *value = NULL;
    if (strncmp(st->lookup_value, "$.", 2) != 0) {
        struct strbuf b;
        strbuf_init(&b, 0);
        template_render_scope(st->lookup_value, o->scope, &b);
        char *s = strbuf_detach(&b, NULL);
        value = cJSON_CreateString(s ? s : "");
        free(s);
    } else {
        value = scope_path(o, st->lookup_value);
    }
    cJSON *result = NULL;
    if (value && index && cJSON_IsArray(value)) {
        result = cJSON_CreateArray();
        const cJSON *v;
        cJSON_ArrayForEach(v, value)
        {
            char *t = as_text(v);
            cJSON *hit = lookup_one(st, index, t);
            free(t);
            if (hit)
                cJSON_AddItemToArray(result, hit);
        }
    } else if (value && index && !cJSON_IsNull(value)) {
        char *t = as_text(value);
        result = lookup_one(st, index, t);
        free(t);
    }
    cJSON_Delete(value);
    scope_set(o, st->name, result);
}

/* The answer: the mappings' object (dotted targetName builds nested objects; a value that
 * names nothing is null), else the last call step's answer through the exposed
 * outputParameters. */
static void finish(struct orch *o)
{
    const struct model_call *mc = o->call->mcall;
    o->state = ORCH_DONE;
    if (mc->nmappings == 0)
        return;
    cJSON *r = cJSON_CreateObject();
    for (size_t i = 0; i < mc->nmappings; i++) {
        const struct model_step_mapping *mp = &mc->mappings[i];
        cJSON *v = scope_path(o, mp->value);
        cJSON *at = r;
        const char *name = mp->target;
        for (const char *dot; (dot = strchr(name, '.')) != NULL; name = dot + 1) {
            char *head = xstrndup(name, (size_t)(dot - name));
            cJSON *child = cJSON_GetObjectItemCaseSensitive(at, head);
            if (!cJSON_IsObject(child)) {
                cJSON_DeleteItemFromObjectCaseSensitive(at, head);
                child = cJSON_AddObjectToObject(at, head);
            }
            free(head);
            at = child;
        }
        cJSON_DeleteItemFromObjectCaseSensitive(at, name);
        cJSON_AddItemToObject(at, name, v ? v : cJSON_CreateNull());
    }
    cJSON_Delete(o->last);
    o->last = r;
    o->last_status = 200;
}

enum orch_state orch_next(struct orch *o, struct outreq *out)
{
    if (o->state != ORCH_SEND)
        return o->state;
    const struct model_call *mc = o->call->mcall;
    while (o->next < mc->nsteps && step_at(o, o->next)->kind == MODEL_STEP_LOOKUP)
        run_lookup(o, step_at(o, o->next++));
    if (o->next == mc->nsteps) {
        finish(o);
        return o->state;
    }
    o->current = o->next++;
    const struct model_step *st = step_at(o, o->current);
    struct mapping_input in = {
        .mcp = true,
        .args = o->scope,
        .headers = o->headers,
        .nheaders = o->nheaders,
    };
    struct mapping_error err;
    if (mapping_build(o->rt, &o->call->steps[o->current], &in, out, &err) < 0) {
        failed(o, err.status, st, 0, "step '%s' (%s) could not be built: %s", st->name, st->call,
               err.detail);
        snprintf(o->fail.param, sizeof o->fail.param, "%s", err.param);
        return o->state;
    }
    return ORCH_SEND;
}

/* A call step's result as later steps see it: its JSON answer projected through the consumed
 * operation's named outputParameters (the reference engine's resolveStepOutput: an array
 * answer keeps its elements and gains the named fields), the whole answer when the operation
 * declares none. <doc> is taken. */
static cJSON *project(const struct model_operation *op, cJSON *doc)
{
    bool named = false;
    for (size_t i = 0; i < op->noutputs; i++)
        named |= op->outputs[i].name != NULL;
    if (op->noutputs == 0 || (cJSON_IsArray(doc) && !named))
        return doc;
    if (cJSON_IsArray(doc)) {
        cJSON *arr = cJSON_CreateArray();
        const cJSON *e;
        cJSON_ArrayForEach(e, doc)
        {
            cJSON *aug = cJSON_IsObject(e) ? cJSON_Duplicate(e, 1) : cJSON_CreateObject();
            for (size_t i = 0; i < op->noutputs; i++) {
                if (!op->outputs[i].name)
                    continue;
                cJSON *one = respmap_outputs(&op->outputs[i], 1, e, NULL);
                cJSON *v = cJSON_IsObject(one)
                               ? cJSON_DetachItemFromObjectCaseSensitive(one, op->outputs[i].name)
                               : NULL;
                cJSON_Delete(one);
                if (v) {
                    cJSON_DeleteItemFromObjectCaseSensitive(aug, op->outputs[i].name);
                    cJSON_AddItemToObject(aug, op->outputs[i].name, v);
                }
            }
            cJSON_AddItemToArray(arr, aug);
        }
        cJSON_Delete(doc);
        return arr;
    }
    cJSON *r = respmap_outputs(op->outputs, op->noutputs, doc, NULL);
    cJSON_Delete(doc);
    return r ? r : cJSON_CreateNull();
}

/* A JSON body as a tree (big integers keep their digits); a body that is not JSON as a string
 * holding its text; nothing as null. */
static cJSON *parse_body(const struct orch_outcome *r)
{
    if (r->len == 0)
        return cJSON_CreateNull();
    cJSON *doc = respmap_parse_json(r->body, r->len);
    if (doc)
        return doc;
    char *s = utf8_sanitize(r->body, r->len);
    doc = cJSON_CreateString(s);
    free(s);
    return doc;
}

void orch_feed(struct orch *o, const struct orch_outcome *r)
{
    if (o->state != ORCH_SEND)
        return;
    const struct model_step *st = step_at(o, o->current);
    if (r->transport != ORCH_OK) {
        bool timeout = r->transport == ORCH_ERR_TIMEOUT;
        failed(o, timeout ? 504 : 502, st, 0, "step '%s' (%s) failed: %s (%s)", st->name, st->call,
               timeout ? "the upstream did not answer in time"
                       : "the upstream could not be reached or failed",
               r->error_name ? r->error_name : "error");
        return;
    }
    if (r->status < 200 || r->status >= 300) {
        /* A client error stays one (the caller's input was wrong, or the thing is not there);
         * anything else is the upstream's failure: 502. A redirect is not followed. */
        int status = r->status >= 400 && r->status < 500 ? (int)r->status : 502;
        failed(o, status, st, r->status, "step '%s' (%s) failed: upstream answered %ld %s",
               st->name, st->call, r->status, httpstatus_text((int)r->status));
        return;
    }
    cJSON *doc;
    const struct model_operation *op = st->target;
    if (op->output_format != MODEL_FORMAT_JSON && r->len > 0) {
        /* The step's answer is in the format its operation declares: read as JSON first, so
         * later steps and mappings address it like any JSON answer. */
        char why[384];
        doc = convert_answer(op, r->body, r->len, why, sizeof why);
        if (!doc) {
            failed(o, 502, st, r->status, "step '%s' (%s) failed: %s", st->name, st->call, why);
            return;
        }
    } else {
        doc = parse_body(r);
    }
    cJSON_Delete(o->last);
    o->last = cJSON_Duplicate(doc, 1);
    o->last_status = (int)r->status;
    scope_set(o, st->name, project(st->target, doc));
}

const char *orch_step_name(const struct orch *o)
{
    return step_at(o, o->current)->name;
}

cJSON *orch_answer(struct orch *o, int *status)
{
    const struct model_call *mc = o->call->mcall;
    cJSON *r = o->last;
    o->last = NULL;
    *status = o->last_status ? o->last_status : 200;
    if (mc->nmappings == 0 && mc->noutputs > 0 && r) {
        cJSON *mapped = respmap_outputs(mc->outputs, mc->noutputs, r, o->scope);
        cJSON_Delete(r);
        r = mapped;
    }
    if (!r || cJSON_IsNull(r)) {
        cJSON_Delete(r);
        *status = 204;
        return NULL;
    }
    return r;
}

const struct orch_failure *orch_failure(const struct orch *o)
{
    return &o->fail;
}

cJSON *orch_failure_extra(const struct orch_failure *f)
{
    cJSON *x = cJSON_CreateObject();
    if (f->step)
        cJSON_AddStringToObject(x, "step", f->step);
    if (f->call)
        cJSON_AddStringToObject(x, "call", f->call);
    if (f->upstream_status)
        cJSON_AddNumberToObject(x, "upstream_status", (double)f->upstream_status);
    return x;
}

cJSON *orch_mock(const struct rt_call *call, const cJSON *scope)
{
    const struct model_call *mc = call->mcall;
    cJSON *r = respmap_outputs(mc->outputs, mc->noutputs, NULL, scope);
    if (cJSON_IsNull(r)) {
        cJSON_Delete(r); /* nothing to say: 204 */
        r = NULL;
    }
    return r;
}
