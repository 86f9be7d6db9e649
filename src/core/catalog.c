/*
 * catalog: see catalog.h. Built at load so that no request builds or locks anything: the
 * tools/list answer is the same bytes for every request to an endpoint until the next reload.
 */
#include "core/catalog.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "core/mcpres.h"
#include "core/mcptool.h"
#include "spec/uritpl.h"

struct catalog {
    char *tools_json;
    const struct rt_inbound **auth;
    size_t nauth;
    const struct rt_call **by_name; /* the endpoint's tools sorted by name */
    size_t ntools;
    char *resources_json, *templates_json, *prompts_json;
    const struct model_mcp_resource *const *resources; /* the endpoint's */
    const struct rt_call **resource_calls;             /* each one's call (NULL: static) */
    size_t nresources;
    const struct model_mcp_prompt *const *prompts;
    size_t nprompts;
};

static void auth_add(struct catalog *c, const struct runtime *rt, const struct model_expose *e)
{
    const struct rt_inbound *in = runtime_inbound(rt, e);
    if (!in)
        return;
    /* The same adapter behind /mcp and /mcp/<ns> needs its credential once. */
    for (size_t i = 0; i < c->nauth; i++)
        if (c->auth[i] == in)
            return;
    c->auth = xrealloc(c->auth, (c->nauth + 1) * sizeof *c->auth);
    c->auth[c->nauth++] = in;
}

/* Whether one of the first <n> tools of <tools> comes from adapter <e>. */
static bool adapter_seen(struct rt_call *const *tools, size_t n, const struct model_expose *e)
{
    for (size_t i = 0; i < n; i++)
        if (tools[i]->expose == e)
            return true;
    return false;
}

static int by_name_cmp(const void *a, const void *b)
{
    const struct rt_call *const *x = a, *const *y = b;
    return strcmp((*x)->name, (*y)->name);
}

/* The call runtime_build made for dynamic resource <r>; NULL for a static one, or when its
 * call did not resolve (reported). */
static const struct rt_call *resource_call(const struct runtime *rt,
                                           const struct model_mcp_resource *r)
{
    for (size_t k = 0; !r->location && k < rt->ncalls; k++)
        if (rt->calls[k].resource == r)
            return &rt->calls[k];
    return NULL;
}

/* A serialised {"<key>": <arr>} (takes <arr>). */
static char *list_text(const char *key, cJSON *arr)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddItemToObject(o, key, arr);
    char *t = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    char *r = xstrdup(t);
    cJSON_free(t);
    return r;
}

/* The resources and prompts part of <c>: their lists serialised once, each dynamic resource's
 * call found, and the adapters behind them among the credentials a request must satisfy. */
static void build_extras(struct catalog *c, const struct runtime *rt,
                         const struct rt_mcp_endpoint *ep)
{
    cJSON *list = cJSON_CreateArray(), *tpls = cJSON_CreateArray(), *prompts = cJSON_CreateArray();
    c->resources = ep->resources;
    c->nresources = ep->nresources;
    c->resource_calls = xcalloc(ep->nresources + 1, sizeof *c->resource_calls);
    for (size_t i = 0; i < ep->nresources; i++) {
        const struct model_mcp_resource *r = ep->resources[i];
        mcpres_list_entries(r, list);
        if (r->is_template)
            cJSON_AddItemToArray(tpls, mcpres_template_entry(r));
        c->resource_calls[i] = resource_call(rt, r);
        auth_add(c, rt, r->expose);
    }
    c->prompts = ep->prompts;
    c->nprompts = ep->nprompts;
    for (size_t i = 0; i < ep->nprompts; i++) {
        cJSON_AddItemToArray(prompts, mcpres_prompt_entry(ep->prompts[i]));
        auth_add(c, rt, ep->prompts[i]->expose);
    }
    c->resources_json = list_text("resources", list);
    c->templates_json = list_text("resourceTemplates", tpls);
    c->prompts_json = list_text("prompts", prompts);
}

/* ---- one tool per upstream operation (catalog_settle) ---- */

/* Whether path templates <a> and <b> are the same but for their placeholders' names. */
static bool same_path_template(const char *a, const char *b)
{
    while (*a && *b) {
        if (*a == '{' && *b == '{') {
            a = strchr(a, '}');
            b = strchr(b, '}');
            if (!a || !b)
                return false;
            a++;
            b++;
        } else if (*a++ != *b++) {
            return false;
        }
    }
    return *a == *b;
}

/* Whether every fixed parameter value (`value:`) of <a>'s request is also in <b>'s. */
static bool fixed_values_within(const struct rt_call *a, const struct rt_call *b)
{
    for (size_t i = 0; i < a->nparams; i++) {
        const struct model_param *p = a->params[i].p;
        if (!p->value)
            continue;
        bool found = false;
        for (size_t j = 0; j < b->nparams && !found; j++) {
            const struct model_param *q = b->params[j].p;
            found = q->in == p->in && str_eq(q->name, p->name) && q->value &&
                    str_eq(q->value, p->value);
        }
        if (!found)
            return false;
    }
    return true;
}

/* Whether the tool only passes the caller's arguments on: no constant or template of its own
 * in `with`, which would make it a different request from another tool of the operation. */
static bool with_refs_only(const struct rt_call *c)
{
    for (size_t i = 0; i < c->mcall->nwith; i++)
        if (c->mcall->with[i].kind != MODEL_WITH_REF)
            return false;
    return true;
}

/* Whether tools <a> and <b> send the same upstream request for the same arguments: simple
 * calls to the same base URI, method and path template, with the same fixed values. The
 * argument names and shapes may differ (one takes a whole `body`, the other its fields). */
static bool same_upstream(const struct rt_call *a, const struct rt_call *b)
{
    if (a->kind != MODEL_CALL_SIMPLE || b->kind != MODEL_CALL_SIMPLE || !a->op || !b->op ||
        !a->consumer || !b->consumer || a->forward || b->forward)
        return false;
    return a->op->method == b->op->method && str_eq(a->consumer->base_uri, b->consumer->base_uri) &&
           same_path_template(a->op->resource->path, b->op->resource->path) && with_refs_only(a) &&
           with_refs_only(b) && fixed_values_within(a, b) && fixed_values_within(b, a);
}

/* The listed tool among those of one upstream operation: one of an adapter naming a shared tool
 * set (`path`, such as /cal-platform) before one that does not, then the first loaded. */
static bool preferred(const struct rt_mcp_endpoint *ep, size_t i, size_t j)
{
    bool pi = ep->tools[i]->expose->path != NULL, pj = ep->tools[j]->expose->path != NULL;
    return pi != pj ? pi : i < j;
}

/* Move the tools that another adapter's listed tool duplicates to <ep->same_op>. */
static void settle_same_op(struct rt_mcp_endpoint *ep)
{
    size_t n = ep->ntools;
    bool *hidden = xcalloc(n + 1, sizeof *hidden);
    const struct rt_call **kept = xcalloc(n + 1, sizeof *kept);
    for (size_t i = 0; i < n; i++) {
        size_t best = i;
        for (size_t j = 0; j < n; j++)
            if (j != i && ep->tools[j]->expose != ep->tools[i]->expose &&
                same_upstream(ep->tools[i], ep->tools[j]) && preferred(ep, j, best))
                best = j;
        if (best != i) {
            hidden[i] = true;
            kept[i] = ep->tools[best];
        }
    }
    size_t w = 0;
    for (size_t i = 0; i < n; i++) {
        if (!hidden[i]) {
            ep->tools[w++] = ep->tools[i];
            continue;
        }
        ep->same_op = xrealloc(ep->same_op, (ep->nsame_op + 1) * sizeof *ep->same_op);
        ep->same_op[ep->nsame_op++] = (struct rt_tool_dup){kept[i], ep->tools[i]};
    }
    ep->ntools = w;
    free(hidden);
    free(kept);
}

/* Whether adapter <e> has a tool listed at <ep>. */
static bool adapter_listed(const struct rt_mcp_endpoint *ep, const struct model_expose *e)
{
    return adapter_seen(ep->tools, ep->ntools, e);
}

/* Adapter <e>'s entry in the instructions of an endpoint serving several. */
static void instructions_add(struct strbuf *b, const struct rt_mcp_endpoint *ep,
                             const struct model_expose *e)
{
    strbuf_addf(b, "\n- %s", e->ns);
    if (e->description && *e->description)
        strbuf_addf(b, ": %s", e->description);
    if (!adapter_listed(ep, e))
        strbuf_adds(b, " (its tools are not listed: each calls the same upstream operation as a "
                       "listed tool of another adapter; they stay callable by name)");
}

void catalog_settle(struct rt_mcp_endpoint *ep)
{
    /* The adapters behind <ep>, in tool order, before any tool is hidden. */
    const struct model_expose **adapters = xcalloc(ep->ntools + 1, sizeof *adapters);
    size_t nadapters = 0;
    for (size_t i = 0; i < ep->ntools; i++)
        if (!adapter_seen(ep->tools, i, ep->tools[i]->expose))
            adapters[nadapters++] = ep->tools[i]->expose;
    if (nadapters > 1) {
        settle_same_op(ep);
        struct strbuf b;
        strbuf_init(&b, 0);
        strbuf_addf(&b, "This MCP endpoint serves the tools of %zu adapters:", nadapters);
        for (size_t i = 0; i < nadapters; i++)
            instructions_add(&b, ep, adapters[i]);
        free(ep->owned_description);
        ep->owned_description = strbuf_detach(&b, NULL);
        ep->description = ep->owned_description;
    } else if (nadapters == 1) {
        ep->description = adapters[0]->description;
    }
    free(adapters);
}

struct catalog *catalog_build(const struct runtime *rt, const struct rt_mcp_endpoint *ep)
{
    struct catalog *c = xcalloc(1, sizeof *c);
    c->tools_json = mcptool_tools_list(ep->tools, ep->ntools);
    /* The aggregate /mcp serves several adapters: a request must satisfy each one's
     * authentication, or it could reach a protected adapter's tools through it. */
    for (size_t i = 0; i < ep->ntools; i++) {
        const struct model_expose *e = ep->tools[i]->expose;
        if (e && !adapter_seen(ep->tools, i, e))
            auth_add(c, rt, e);
    }
    /* A hidden tool is callable: its adapter's authentication applies too (auth_add keeps
     * each once). */
    for (size_t i = 0; i < ep->nsame_op; i++)
        if (ep->same_op[i].dropped->expose)
            auth_add(c, rt, ep->same_op[i].dropped->expose);
    if (ep->expose && ep->ntools == 0)
        auth_add(c, rt, ep->expose);
    c->ntools = ep->ntools + ep->nsame_op;
    c->by_name = xcalloc(c->ntools + 1, sizeof *c->by_name);
    for (size_t i = 0; i < ep->ntools; i++)
        c->by_name[i] = ep->tools[i];
    for (size_t i = 0; i < ep->nsame_op; i++)
        c->by_name[ep->ntools + i] = ep->same_op[i].dropped;
    qsort(c->by_name, c->ntools, sizeof *c->by_name, by_name_cmp);
    for (size_t i = 1; i < c->ntools; i++)
        assert(strcmp(c->by_name[i - 1]->name, c->by_name[i]->name) != 0);
    build_extras(c, rt, ep);
    return c;
}

void catalog_free(struct catalog *c)
{
    if (!c)
        return;
    free(c->tools_json);
    free(c->auth);
    free(c->by_name);
    free(c->resources_json);
    free(c->templates_json);
    free(c->prompts_json);
    free(c->resource_calls);
    free(c);
}

const char *catalog_tools_json(const struct catalog *c)
{
    return c->tools_json;
}

const struct rt_inbound *const *catalog_auth(const struct catalog *c, size_t *n)
{
    *n = c->nauth;
    return c->auth;
}

const struct rt_call *catalog_find_tool(const struct catalog *c, const char *name)
{
    size_t lo = 0, hi = c->ntools;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int d = strcmp(name, c->by_name[mid]->name);
        if (d == 0)
            return c->by_name[mid];
        if (d < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return NULL;
}

const char *catalog_resources_json(const struct catalog *c)
{
    return c->resources_json;
}

const char *catalog_templates_json(const struct catalog *c)
{
    return c->templates_json;
}

const char *catalog_prompts_json(const struct catalog *c)
{
    return c->prompts_json;
}

bool catalog_has_resources(const struct catalog *c)
{
    return c->nresources > 0;
}

bool catalog_has_prompts(const struct catalog *c)
{
    return c->nprompts > 0;
}

const struct model_mcp_resource *catalog_find_resource(const struct catalog *c, const char *uri,
                                                       cJSON *vars,
                                                       const struct model_mcp_file **file,
                                                       const struct rt_call **call)
{
    *file = NULL;
    *call = NULL;
    for (size_t i = 0; i < c->nresources; i++) {
        const struct model_mcp_resource *r = c->resources[i];
        for (size_t f = 0; f < r->nfiles; f++)
            if (str_eq(r->files[f].uri, uri)) {
                *file = &r->files[f];
                return r;
            }
        if (!r->location && !r->is_template && str_eq(r->uri, uri)) {
            *call = c->resource_calls[i];
            return r;
        }
    }
    for (size_t i = 0; i < c->nresources; i++) {
        const struct model_mcp_resource *r = c->resources[i];
        if (r->is_template && uritpl_match(r->uri, uri, vars)) {
            *call = c->resource_calls[i];
            return r;
        }
    }
    return NULL;
}

const struct model_mcp_prompt *catalog_find_prompt(const struct catalog *c, const char *name)
{
    for (size_t i = 0; i < c->nprompts; i++)
        if (str_eq(c->prompts[i]->name, name))
            return c->prompts[i];
    return NULL;
}

/* The stdio endpoint's resources and prompts: every MCP adapter's, the first of each uri
 * (resource) or name (prompt), as its tools. */
static void stdio_extras(const struct runtime *rt, struct rt_mcp_endpoint *ep)
{
    const struct model *m = rt->model;
    for (size_t i = 0; i < m->ncaps; i++)
        for (size_t e = 0; e < m->caps[i]->nexposes; e++) {
            const struct model_expose *ex = &m->caps[i]->exposes[e];
            for (size_t r = 0; r < ex->nmcp_resources; r++) {
                const struct model_mcp_resource *res = &ex->mcp_resources[r];
                bool seen = !res->name || !res->uri;
                for (size_t k = 0; k < ep->nresources && !seen; k++)
                    seen = str_eq(ep->resources[k]->uri, res->uri);
                if (seen || (!res->location && !resource_call(rt, res)))
                    continue;
                ep->resources =
                    xrealloc(ep->resources, (ep->nresources + 1) * sizeof *ep->resources);
                ep->resources[ep->nresources++] = res;
            }
            for (size_t p = 0; p < ex->nprompts; p++) {
                const struct model_mcp_prompt *pr = &ex->prompts[p];
                bool seen = !pr->name || !pr->nmessages;
                for (size_t k = 0; k < ep->nprompts && !seen; k++)
                    seen = str_eq(ep->prompts[k]->name, pr->name);
                if (seen)
                    continue;
                ep->prompts = xrealloc(ep->prompts, (ep->nprompts + 1) * sizeof *ep->prompts);
                ep->prompts[ep->nprompts++] = pr;
            }
        }
}

struct rt_mcp_endpoint *catalog_stdio_endpoint(const struct runtime *rt)
{
    struct rt_mcp_endpoint *ep = xcalloc(1, sizeof *ep);
    ep->path = xstrdup("stdio");
    ep->tools = xcalloc(rt->ncalls ? rt->ncalls : 1, sizeof *ep->tools);
    for (size_t i = 0; i < rt->ncalls; i++) {
        struct rt_call *c = &rt->calls[i];
        if (!c->tool)
            continue;
        const struct rt_call *dup = NULL;
        for (size_t j = 0; j < ep->ntools && !dup; j++)
            if (str_eq(ep->tools[j]->name, c->name))
                dup = ep->tools[j];
        if (dup) {
            ep->dups = xrealloc(ep->dups, (ep->ndups + 1) * sizeof *ep->dups);
            ep->dups[ep->ndups++] = (struct rt_tool_dup){dup, c};
            continue;
        }
        ep->tools[ep->ntools++] = c;
    }
    catalog_settle(ep);
    stdio_extras(rt, ep);
    ep->catalog = catalog_build(rt, ep);
    return ep;
}

void catalog_stdio_free(struct rt_mcp_endpoint *ep)
{
    if (!ep)
        return;
    catalog_free(ep->catalog);
    free(ep->path);
    free(ep->tools);
    free(ep->dups);
    free(ep->same_op);
    free(ep->owned_description);
    free(ep->resources);
    free(ep->prompts);
    free(ep);
}
