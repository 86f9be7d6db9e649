/*
 * catalog: see catalog.h. Built at load so that no request builds or locks anything: the
 * tools/list answer is the same bytes for every request to an endpoint until the next reload.
 */
#include "core/catalog.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "core/mcptool.h"

struct catalog {
    char *tools_json;
    const struct rt_inbound **auth;
    size_t nauth;
    const struct rt_call **by_name; /* the endpoint's tools sorted by name */
    size_t ntools;
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
    if (ep->expose && ep->ntools == 0)
        auth_add(c, rt, ep->expose);
    c->ntools = ep->ntools;
    c->by_name = xcalloc(ep->ntools + 1, sizeof *c->by_name);
    for (size_t i = 0; i < ep->ntools; i++)
        c->by_name[i] = ep->tools[i];
    qsort(c->by_name, c->ntools, sizeof *c->by_name, by_name_cmp);
    for (size_t i = 1; i < c->ntools; i++)
        assert(strcmp(c->by_name[i - 1]->name, c->by_name[i]->name) != 0);
    return c;
}

void catalog_free(struct catalog *c)
{
    if (!c)
        return;
    free(c->tools_json);
    free(c->auth);
    free(c->by_name);
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

struct rt_mcp_endpoint *catalog_stdio_endpoint(const struct runtime *rt)
{
    struct rt_mcp_endpoint *ep = xcalloc(1, sizeof *ep);
    struct strbuf instr;
    strbuf_init(&instr, 0);
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
        if (!adapter_seen(ep->tools, ep->ntools, c->expose) && c->expose->description &&
            *c->expose->description)
            strbuf_addf(&instr, "%s%s", instr.len ? "\n\n" : "", c->expose->description);
        ep->tools[ep->ntools++] = c;
    }
    ep->owned_description = strbuf_detach(&instr, NULL);
    ep->description = ep->owned_description;
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
    free(ep->owned_description);
    free(ep);
}
