/*
 * routes: see routes.h. One line per consumed operation and document, so a route exposed both
 * over REST and as a tool reads as one row.
 */
#include "app/routes.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"

/* Where the credentials of a call come from, for the route table: "caller|<source>". */
static void credential_text(const struct rt_call *c, struct strbuf *out)
{
    const struct rt_consumer *cons = c->consumer;
    /* The credentials the call sends (runtime_build's list); declared ones nothing configures
     * (no rt_credential) only come from the caller and are not listed. */
    for (size_t j = 0; j < c->ncreds; j++) {
        const struct rt_credential *cr = c->creds[j].cr;
        if (!cr)
            continue;
        strbuf_addf(out, "%s%s: caller, else %s%s", out->len ? "; " : "", cr->header, cr->source,
                    cr->value ? "" : " (unset)");
    }
    if (cons->query_auth_name)
        strbuf_addf(out, "%squery %s: bind%s", out->len ? "; " : "", cons->query_auth_name,
                    cons->query_auth_value ? "" : " (unset)");
    if (!out->len)
        strbuf_adds(out, "none");
}

/* A forward resource: every method of its path, the rest of the path after the base URI. */
static void print_forward(const struct rt_call *c, FILE *fp)
{
    struct strbuf cred;
    strbuf_init(&cred, 0);
    credential_text(c, &cred);
    fprintf(fp, "%-7s %-62s %-72s %-7s %s%-*s %s\n", "*", c->route_path, "-", "*",
            c->consumer->base_uri,
            (int)(72 > strlen(c->consumer->base_uri) ? 72 - strlen(c->consumer->base_uri) : 0),
            c->route_path[strlen(c->route_path) - 1] == '}' ? "/..." : "", cred.data);
    strbuf_deinit(&cred);
}

void routes_print(const struct runtime *rt, FILE *fp)
{
    bool *done = xcalloc(rt->ncalls ? rt->ncalls : 1, sizeof *done);
    size_t lines = 0, nrest = 0, ntools = 0;
    fprintf(fp, "%-7s %-62s %-72s %-7s %-72s %s\n", "METHOD", "PATH", "MCP TOOL", "UP",
            "UPSTREAM URL", "CREDENTIAL");
    for (size_t i = 0; i < rt->ncalls; i++) {
        if (done[i])
            continue;
        /* Every exposure of the same consumed operation in the same document: one line. */
        const struct rt_call *c = &rt->calls[i];
        if (c->resource)
            continue; /* MCP resources are not routes: resources/list names them */
        if (c->forward) {
            print_forward(c, fp);
            lines++;
            nrest++;
            continue;
        }
        if (!c->op) {
            /* Orchestrated or mock: no one upstream URL; a line of its own. */
            done[i] = true;
            fprintf(fp, "%-7s %-62s %-72s %-7s %-72s %s\n",
                    c->tool ? "-" : model_method_name(c->route_method),
                    c->tool ? "-" : c->route_path, c->tool ? c->name : "-",
                    c->kind == MODEL_CALL_STEPS ? "STEPS" : "MOCK",
                    c->kind == MODEL_CALL_STEPS ? "(each step calls its own operation)"
                                                : "(no upstream)",
                    "-");
            if (c->tool)
                ntools++;
            else
                nrest++;
            lines++;
            continue;
        }
        struct strbuf methods, paths, tools, cred;
        strbuf_init(&methods, 0);
        strbuf_init(&paths, 0);
        strbuf_init(&tools, 0);
        strbuf_init(&cred, 0);
        for (size_t j = i; j < rt->ncalls; j++) {
            const struct rt_call *o = &rt->calls[j];
            if (done[j] || !o->op || o->op != c->op || o->expose->cap != c->expose->cap ||
                o->resource)
                continue;
            done[j] = true;
            if (o->tool) {
                strbuf_addf(&tools, "%s%s", tools.len ? "," : "", o->name);
                ntools++;
            } else {
                strbuf_addf(&methods, "%s%s", methods.len ? "," : "",
                            model_method_name(o->route_method));
                strbuf_addf(&paths, "%s%s", paths.len ? "," : "", o->route_path);
                nrest++;
            }
        }
        credential_text(c, &cred);
        fprintf(fp, "%-7s %-62s %-72s %-7s %s%-*s %s\n", methods.len ? methods.data : "-",
                paths.len ? paths.data : "-", tools.len ? tools.data : "-",
                model_method_name(c->op->method), c->consumer->base_uri,
                (int)(72 > strlen(c->consumer->base_uri) ? 72 - strlen(c->consumer->base_uri) : 0),
                c->op->resource->path, cred.data);
        strbuf_deinit(&methods);
        strbuf_deinit(&paths);
        strbuf_deinit(&tools);
        strbuf_deinit(&cred);
        lines++;
    }
    fprintf(fp, "%zu routes: %zu REST operations, %zu MCP tools\n", lines, nrest, ntools);
    free(done);
}
