/*
 * runtime: see runtime.h. Everything a request needs is resolved here, once: base URIs,
 * credential header values (bind variables rendered), route tables and tool lists, so the
 * request path only reads.
 */
#include "core/runtime.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "spec/jsonpath.h"
#include "base/log.h"
#include "base/secret.h"
#include "spec/template.h"
#include "spec/urlenc.h"
#include "core/catalog.h"
#include "core/digest.h"
#include "core/forward.h"
#include "core/inbound.h"
#include "core/outschema.h"
#include "core/secrets.h"

/* Loopback unless a document's `address`, the configuration or CAPPROXY_REST_LISTEN says
 * otherwise: the proxy injects credentials, so it is not offered to the network by default. */
#define RT_DEFAULT_REST_HOST "127.0.0.1"
#define RT_DEFAULT_REST_PORT 8080
#define RT_DEFAULT_MCP_HOST  "127.0.0.1"
#define RT_DEFAULT_MCP_PORT  9090

const struct rt_var *runtime_find_var(const struct runtime *rt, const char *name, size_t len)
{
    for (size_t i = 0; i < rt->nvars; i++)
        if (strlen(rt->vars[i].name) == len && memcmp(rt->vars[i].name, name, len) == 0)
            return &rt->vars[i];
    return NULL;
}

const char *runtime_var(const struct runtime *rt, const char *name, size_t len)
{
    const struct rt_var *v = runtime_find_var(rt, name, len);
    return v ? v->value : NULL;
}

const struct rt_credential *runtime_credential(const struct rt_consumer *c, const char *name)
{
    for (size_t i = 0; i < c->ncreds; i++)
        if (str_eq_ci(c->creds[i].header, name))
            return &c->creds[i];
    return NULL;
}

bool runtime_is_credential(const struct rt_consumer *c, const char *name)
{
    if (c && runtime_credential(c, name))
        return true;
    /* Header names that carry credentials by convention are treated as such even when nothing
     * configures them: they must never become tool arguments or log fields. */
    static const char *const exact[] = {"authorization", "proxy-authorization", "cookie"};
    for (size_t i = 0; i < UTIL_ARRAY_LEN(exact); i++)
        if (str_eq_ci(name, exact[i]))
            return true;
    static const char *const parts[] = {"secret", "password", "token", "api-key", "apikey"};
    char lower[128];
    size_t n = strlen(name);
    if (n >= sizeof lower)
        n = sizeof lower - 1;
    for (size_t i = 0; i < n; i++)
        lower[i] = (char)((name[i] >= 'A' && name[i] <= 'Z') ? name[i] + 32 : name[i]);
    lower[n] = '\0';
    for (size_t i = 0; i < UTIL_ARRAY_LEN(parts); i++)
        if (strstr(lower, parts[i]))
            return true;
    return false;
}

bool runtime_input_is_credential(const struct rt_consumer *c, const struct model_operation *op,
                                 const char *name)
{
    const struct model_param *p = model_op_param(op, name);
    if (p)
        return p->in == MODEL_IN_HEADER && runtime_is_credential(c, p->name);
    return runtime_credential(c, name) != NULL || str_eq_ci(name, "authorization");
}

/* ---- listeners ---- */

static struct rt_listener *listener_for(struct runtime *rt, enum model_expose_type type,
                                        const char *host, int port)
{
    for (size_t i = 0; i < rt->nlisteners; i++) {
        struct rt_listener *l = &rt->listeners[i];
        if (l->type == type && l->port == port && str_eq(l->host, host))
            return l;
    }
    rt->listeners = xrealloc(rt->listeners, (rt->nlisteners + 1) * sizeof *rt->listeners);
    struct rt_listener *l = &rt->listeners[rt->nlisteners++];
    memset(l, 0, sizeof *l);
    l->type = type;
    l->host = xstrdup(host);
    l->port = port;
    if (type == MODEL_EXPOSE_REST)
        l->router = router_new();
    return l;
}

static struct rt_mcp_endpoint *endpoint_for(struct rt_listener *l, const char *path,
                                            const struct model_expose *e)
{
    for (size_t i = 0; i < l->nendpoints; i++)
        if (str_eq(l->endpoints[i].path, path))
            return &l->endpoints[i];
    l->endpoints = xrealloc(l->endpoints, (l->nendpoints + 1) * sizeof *l->endpoints);
    struct rt_mcp_endpoint *ep = &l->endpoints[l->nendpoints++];
    memset(ep, 0, sizeof *ep);
    ep->path = xstrdup(path);
    ep->expose = e;
    ep->description = e ? e->description : NULL;
    return ep;
}

static int endpoint_add(struct rt_mcp_endpoint *ep, struct rt_call *call, struct diag *d)
{
    for (size_t i = 0; i < ep->ntools; i++)
        if (str_eq(ep->tools[i]->name, call->name)) {
            const struct model_pos *p = &call->tool->pos, *q = &ep->tools[i]->tool->pos;
            diag_error(d, p->file, p->line, p->col,
                       "tool '%s' is also defined at %s:%d:%d and both are served at %s",
                       call->name, q->file, q->line, q->col, ep->path);
            return -1;
        }
    ep->tools = xrealloc(ep->tools, (ep->ntools + 1) * sizeof *ep->tools);
    ep->tools[ep->ntools++] = call;
    return 0;
}

static bool outputs_passthrough(const struct model_call *mc)
{
    /* The exposed side speaks JSON: an XML, CSV... answer is always converted, even when no
     * outputParameters shape it (respmap_apply). */
    if (mc->target && mc->target->output_format != MODEL_FORMAT_JSON)
        return false;
    if (mc->noutputs == 0)
        return true;
    const struct model_output *o = &mc->outputs[0];
    /* Only the whole document, untouched: any shaping (a value, const, cut or map) re-encodes. */
    return mc->noutputs == 1 && !o->name && jsonpath_is_root(o->mapping) && !o->nproperties &&
           !o->items && !o->values && !o->value && !o->const_value && !o->max_length;
}

static struct rt_consumer *consumer_of(struct runtime *rt, const struct model_operation *op)
{
    if (!op)
        return NULL; /* orchestrated or mock: no one consumed operation */
    for (size_t i = 0; i < rt->nconsumers; i++)
        if (rt->consumers[i].mc == op->consumer)
            return &rt->consumers[i];
    return NULL;
}

/* Where adapter <e> listens: the configured shared listener of its kind, else its own
 * `address` and `port`, else the defaults. */
static void expose_listen(const struct config *cfg, const struct model_expose *e, const char **host,
                          int *port)
{
    bool rest = e->type == MODEL_EXPOSE_REST;
    const struct config_listen *cl = rest ? &cfg->rest_listen : &cfg->mcp_listen;
    const char *dhost = rest ? RT_DEFAULT_REST_HOST : RT_DEFAULT_MCP_HOST;
    int dport = rest ? RT_DEFAULT_REST_PORT : RT_DEFAULT_MCP_PORT;
    if (cl->port >= 0) {
        *host = cl->host ? cl->host : dhost;
        *port = cl->port;
    } else {
        *host = e->address ? e->address : dhost;
        *port = e->port >= 0 ? e->port : dport;
    }
}

/* Whether checks_validate resolved everything <mc> calls (an unresolved call was reported). */
static bool call_resolved(const struct model_call *mc)
{
    if (mc->kind == MODEL_CALL_MOCK)
        return true;
    if (mc->kind == MODEL_CALL_SIMPLE)
        return mc->target != NULL;
    for (size_t i = 0; i < mc->nsteps; i++)
        if (mc->steps[i].kind == MODEL_STEP_CALL && !mc->steps[i].target)
            return false;
    return mc->nsteps > 0;
}

/* Route every method of forward resource <res> to one call. Its own operations, registered
 * first, keep their methods (the reference engine tries them first too); a route of another
 * resource on the same path is a collision. Trusted headers that are never forwarded are
 * reported, not refused: the rest of the list still works. */
static void add_forward_route(struct runtime *rt, struct rt_listener *l,
                              const struct model_expose *ex, const struct model_rest_resource *res,
                              const char *host, int port, struct diag *d)
{
    const struct model_forward *f = res->forward;
    struct rt_call *c = &rt->calls[rt->ncalls++];
    struct rt_consumer *cons = NULL;
    for (size_t i = 0; i < rt->nconsumers && !cons; i++)
        if (rt->consumers[i].mc == f->target)
            cons = &rt->consumers[i];
    *c = (struct rt_call){.consumer = cons,
                          .expose = ex,
                          .name = res->name ? res->name : res->path,
                          .route_path = res->path,
                          .passthrough = true,
                          .forward = f};
    /* X-Request-Id (the caller's goes upstream as capproxy's own when it is acceptable) and
     * Content-Type (it goes with the body) are in effect forwarded: no warning for those. */
    for (size_t i = 0; i < f->ntrusted; i++)
        if (forward_header_never(f->trusted_headers[i]) &&
            !str_eq_ci(f->trusted_headers[i], "x-request-id") &&
            !str_eq_ci(f->trusted_headers[i], "content-type"))
            diag_warn(d, f->pos.file, f->pos.line, f->pos.col,
                      "trusted header '%s' is never forwarded: the upstream connection has its "
                      "own (Host, hop-by-hop and framing headers)",
                      f->trusted_headers[i]);
    for (int m = 0; m < MODEL_METHOD_COUNT; m++) {
        void *conflict = NULL;
        const char *err = NULL;
        if (router_add_rest(l->router, (enum model_method)m, res->path, c, &conflict, &err) == 0)
            continue;
        const struct rt_call *other = conflict;
        if (other && other->route_path == res->path && other->expose == ex)
            continue; /* one of the resource's own operations */
        if (other)
            diag_error(d, res->pos.file, res->pos.line, res->pos.col,
                       "forward %s: route %s %s is also defined by '%s' (%s) on listener %s:%d",
                       res->path, model_method_name((enum model_method)m), res->path, other->name,
                       other->expose->cap->file, host, port);
        else
            diag_error(d, res->pos.file, res->pos.line, res->pos.col, "path '%s': %s", res->path,
                       err ? err : "invalid");
        return;
    }
    l->nroutes++;
}

/* A skill or control adapter gets a listener of its own at its `address` (loopback when
 * absent: the control endpoints reload and reveal configuration) and its required `port`. Two
 * of them on one address are then refused by the server, as any two listeners are. */
static void listener_own(struct runtime *rt, const struct model_expose *ex)
{
    rt->listeners = xrealloc(rt->listeners, (rt->nlisteners + 1) * sizeof *rt->listeners);
    struct rt_listener *l = &rt->listeners[rt->nlisteners++];
    memset(l, 0, sizeof *l);
    l->type = ex->type;
    l->host = xstrdup(ex->address ? ex->address : "127.0.0.1");
    l->port = ex->port >= 0 ? ex->port : 0;
    l->expose = ex;
}

/* An MCP resource (by uri) or prompt (by name) served once per endpoint: a second one of the
 * same key is an error naming both. */
static int endpoint_add_resource(struct rt_mcp_endpoint *ep, const struct model_mcp_resource *r,
                                 struct diag *d)
{
    for (size_t i = 0; i < ep->nresources; i++)
        if (str_eq(ep->resources[i]->uri, r->uri)) {
            const struct model_pos *p = &r->pos, *q = &ep->resources[i]->pos;
            diag_error(d, p->file, p->line, p->col,
                       "MCP resource uri '%s' is also used at %s:%d:%d and both are served at %s",
                       r->uri, q->file, q->line, q->col, ep->path);
            return -1;
        }
    ep->resources = xrealloc(ep->resources, (ep->nresources + 1) * sizeof *ep->resources);
    ep->resources[ep->nresources++] = r;
    return 0;
}

static int endpoint_add_prompt(struct rt_mcp_endpoint *ep, const struct model_mcp_prompt *p,
                               struct diag *d)
{
    for (size_t i = 0; i < ep->nprompts; i++)
        if (str_eq(ep->prompts[i]->name, p->name)) {
            const struct model_pos *a = &p->pos, *q = &ep->prompts[i]->pos;
            diag_error(d, a->file, a->line, a->col,
                       "MCP prompt '%s' is also defined at %s:%d:%d and both are served at %s",
                       p->name, q->file, q->line, q->col, ep->path);
            return -1;
        }
    ep->prompts = xrealloc(ep->prompts, (ep->nprompts + 1) * sizeof *ep->prompts);
    ep->prompts[ep->nprompts++] = p;
    return 0;
}

/* Whether an MCP resource was loaded whole: a name, a uri, and for a dynamic one its call
 * resolved (an unloaded one was reported). */
static bool resource_ok(const struct model_mcp_resource *r)
{
    return r->name && r->uri && (r->location ? true : call_resolved(&r->call));
}

/* <ex>'s resources and prompts at endpoint <ep>. */
static void endpoint_add_extras(struct rt_mcp_endpoint *ep, const struct model_expose *ex,
                                struct diag *d)
{
    for (size_t r = 0; r < ex->nmcp_resources; r++)
        if (resource_ok(&ex->mcp_resources[r]))
            endpoint_add_resource(ep, &ex->mcp_resources[r], d);
    for (size_t p = 0; p < ex->nprompts; p++)
        if (ex->prompts[p].name && ex->prompts[p].nmessages)
            endpoint_add_prompt(ep, &ex->prompts[p], d);
}

/* The `transport: stdio` adapter <ex> whose tools are rt->calls[first..]: the run mode serves
 * it on the process's stdin/stdout, which there is one of, so a second one is an error. */
static void stdio_adapter_add(struct runtime *rt, const struct model_expose *ex, size_t first,
                              struct diag *d)
{
    struct rt_mcp_endpoint *ep = rt->stdio_adapter_ep;
    if (ep) {
        const struct model_pos *q = &ep->expose->pos;
        diag_error(d, ex->pos.file, ex->pos.line, ex->pos.col,
                   "MCP adapter '%s' has transport: stdio, and so has '%s' (%s:%d:%d): a process "
                   "has one stdin/stdout, so it serves at most one stdio adapter. Load them in "
                   "separate processes, or serve one over http",
                   ex->ns, ep->expose->ns, q->file, q->line, q->col);
        return;
    }
    ep = rt->stdio_adapter_ep = xcalloc(1, sizeof *ep);
    ep->path = xstrdup("stdio");
    ep->expose = ex;
    ep->description = ex->description;
    for (size_t k = first; k < rt->ncalls; k++)
        if (!rt->calls[k].resource) /* served through the endpoint's resources */
            endpoint_add(ep, &rt->calls[k], d);
    endpoint_add_extras(ep, ex, d);
}

static int build_exposes(struct runtime *rt, struct diag *d)
{
    size_t before = d->nerrors;
    const struct model *m = rt->model;
    const struct config *cfg = rt->config;
    size_t ncalls = 0;
    for (size_t i = 0; i < m->ncaps; i++)
        for (size_t e = 0; e < m->caps[i]->nexposes; e++) {
            const struct model_expose *ex = &m->caps[i]->exposes[e];
            ncalls += ex->ntools + ex->nmcp_resources;
            for (size_t r = 0; r < ex->nresources; r++)
                ncalls += ex->resources[r].noperations + (ex->resources[r].forward ? 1 : 0);
        }
    /* Calls are allocated once: routers and endpoints keep pointers to them. */
    rt->calls = xcalloc(ncalls, sizeof *rt->calls);

    for (size_t i = 0; i < m->ncaps; i++) {
        for (size_t e = 0; e < m->caps[i]->nexposes; e++) {
            const struct model_expose *ex = &m->caps[i]->exposes[e];
            if (ex->type == MODEL_EXPOSE_REST) {
                const char *host;
                int port;
                expose_listen(cfg, ex, &host, &port);
                struct rt_listener *l = listener_for(rt, MODEL_EXPOSE_REST, host, port);
                for (size_t r = 0; r < ex->nresources; r++) {
                    const struct model_rest_resource *res = &ex->resources[r];
                    for (size_t o = 0; o < res->noperations; o++) {
                        const struct model_rest_op *op = &res->operations[o];
                        if (!call_resolved(&op->call))
                            continue;
                        struct rt_call *c = &rt->calls[rt->ncalls++];
                        *c = (struct rt_call){.mcall = &op->call,
                                              .kind = op->call.kind,
                                              .op = op->call.target,
                                              .consumer = consumer_of(rt, op->call.target),
                                              .expose = ex,
                                              .name = op->name          ? op->name
                                                      : op->call.target ? op->call.target->name
                                                                        : res->path,
                                              .route_path = res->path,
                                              .route_method = op->method,
                                              .passthrough = outputs_passthrough(&op->call)};
                        void *conflict = NULL;
                        const char *err = NULL;
                        if (router_add(l->router, op->method, res->path, c, &conflict, &err) < 0) {
                            const struct rt_call *other = conflict;
                            if (other)
                                diag_error(d, op->pos.file, op->pos.line, op->pos.col,
                                           "route %s %s is also defined by '%s' (%s) on "
                                           "listener %s:%d",
                                           model_method_name(op->method), res->path, other->name,
                                           other->expose->cap->file, host, port);
                            else
                                diag_error(d, res->pos.file, res->pos.line, res->pos.col,
                                           "path '%s': %s", res->path, err ? err : "invalid");
                            continue;
                        }
                        l->nroutes++;
                    }
                    if (res->forward && res->forward->target)
                        add_forward_route(rt, l, ex, res, host, port, d);
                }
            } else if (ex->type == MODEL_EXPOSE_SKILL || ex->type == MODEL_EXPOSE_CONTROL) {
                listener_own(rt, ex);
            } else {
                size_t first = rt->ncalls;
                for (size_t t = 0; t < ex->ntools; t++) {
                    const struct model_tool *tool = &ex->tools[t];
                    if (!call_resolved(&tool->call))
                        continue;
                    rt->calls[rt->ncalls++] =
                        (struct rt_call){.mcall = &tool->call,
                                         .kind = tool->call.kind,
                                         .op = tool->call.target,
                                         .consumer = consumer_of(rt, tool->call.target),
                                         .expose = ex,
                                         .name = tool->name,
                                         .route_method = MODEL_POST,
                                         .tool = tool,
                                         .passthrough = outputs_passthrough(&tool->call)};
                }
                for (size_t r = 0; r < ex->nmcp_resources; r++) {
                    const struct model_mcp_resource *res = &ex->mcp_resources[r];
                    if (res->location || !resource_ok(res))
                        continue;
                    rt->calls[rt->ncalls++] =
                        (struct rt_call){.mcall = &res->call,
                                         .kind = res->call.kind,
                                         .op = res->call.target,
                                         .consumer = consumer_of(rt, res->call.target),
                                         .expose = ex,
                                         .name = res->name,
                                         .route_method = MODEL_GET,
                                         .resource = res,
                                         .passthrough = outputs_passthrough(&res->call)};
                }
                /* A stdio adapter has no listener: the run mode serves its tools on stdin and
                 * stdout (rt->stdio_adapter_ep), mcp-stdio every tool (rt->stdio_ep). */
                if (ex->transport && str_eq(ex->transport, "stdio")) {
                    stdio_adapter_add(rt, ex, first, d);
                    continue;
                }
                const char *host;
                int port;
                expose_listen(cfg, ex, &host, &port);
                struct rt_listener *l = listener_for(rt, MODEL_EXPOSE_MCP, host, port);
                char *own = xasprintf("/mcp/%s", ex->ns);
                /* Several adapters on one port share /mcp; catalog_settle writes instructions
                 * naming each of them. */
                endpoint_for(l, "/mcp", NULL);
                /* The `path` extension: adapters naming the same path are served together, also
                 * at <path>/mcp for clients that only take URLs ending in /mcp. */
                bool extra = ex->path && !str_eq(ex->path, "/mcp") && !str_eq(ex->path, own);
                char *extra_mcp = extra ? xasprintf("%s/mcp", ex->path) : NULL;
                endpoint_add_extras(endpoint_for(l, own, ex), ex, d);
                endpoint_add_extras(endpoint_for(l, "/mcp", NULL), ex, d);
                if (extra) {
                    endpoint_add_extras(endpoint_for(l, ex->path, NULL), ex, d);
                    if (!str_eq(extra_mcp, own))
                        endpoint_add_extras(endpoint_for(l, extra_mcp, NULL), ex, d);
                }
                for (size_t k = first; k < rt->ncalls; k++) {
                    if (rt->calls[k].resource)
                        continue; /* served through the endpoint's resources */
                    endpoint_add(endpoint_for(l, own, ex), &rt->calls[k], d);
                    endpoint_add(endpoint_for(l, "/mcp", NULL), &rt->calls[k], d);
                    if (extra) {
                        endpoint_add(endpoint_for(l, ex->path, NULL), &rt->calls[k], d);
                        if (!str_eq(extra_mcp, own))
                            endpoint_add(endpoint_for(l, extra_mcp, NULL), &rt->calls[k], d);
                    }
                }
                free(extra_mcp);
                free(own);
            }
        }
    }
    return d->nerrors > before ? -1 : 0;
}

/* Whether some operation of <c> would send credential <cr>: the document's own
 * authentication always does; a configured one only where an operation declares the header. */
static bool credential_used(const struct rt_consumer *c, const struct rt_credential *cr)
{
    if (cr->from_auth)
        return true;
    const struct model_consumer *mc = c->mc;
    for (size_t i = 0; i < mc->nparams; i++)
        if (mc->params[i].in == MODEL_IN_HEADER && str_eq_ci(mc->params[i].name, cr->header))
            return true;
    for (size_t r = 0; r < mc->nresources; r++)
        for (size_t o = 0; o < mc->resources[r].noperations; o++) {
            const struct model_operation *op = &mc->resources[r].operations[o];
            for (size_t i = 0; i < op->nparams; i++)
                if (op->params[i].in == MODEL_IN_HEADER &&
                    str_eq_ci(op->params[i].name, cr->header))
                    return true;
        }
    return false;
}

/* ---- per-call facts for mapping ---- */

/* A POST, PUT or PATCH to an operation with an `in: body` parameter always sends a JSON object:
 * the real API refuses a missing body ("Body parameter is required") even when every field is
 * optional. */
static bool takes_object_body(const struct rt_call *call)
{
    const struct model_operation *op = call->op;
    if (op->method != MODEL_POST && op->method != MODEL_PUT && op->method != MODEL_PATCH)
        return false;
    const struct model_param *lists[2] = {op->params, call->consumer->mc->params};
    size_t counts[2] = {op->nparams, call->consumer->mc->nparams};
    for (int l = 0; l < 2; l++)
        for (size_t i = 0; i < counts[l]; i++)
            if (lists[l][i].in == MODEL_IN_BODY)
                return true;
    return false;
}

static void add_cred_out(struct rt_call *c, struct rt_cred_out co)
{
    c->creds = xrealloc(c->creds, (c->ncreds + 1) * sizeof *c->creds);
    c->creds[c->ncreds++] = co;
}

/* What mapping_build reads for <c> besides the request: its parameters in mapping order with
 * their `with` entry and credential flag, the credential headers it may add, its inbound
 * credential and whether it always sends a body. The same answers the document lookups gave
 * per request before. */
static void build_call_tables(const struct runtime *rt, struct rt_call *c)
{
    const struct model_operation *op = c->op;
    const struct rt_consumer *cons = c->consumer;
    const struct model_param *lists[2] = {op->params, cons->mc->params};
    size_t counts[2] = {op->nparams, cons->mc->nparams};
    c->params = xcalloc(counts[0] + counts[1] + 1, sizeof *c->params);
    for (int l = 0; l < 2; l++)
        for (size_t i = 0; i < counts[l]; i++) {
            const struct model_param *p = &lists[l][i];
            /* An operation's own parameter hides the namespace-level one of the same name. */
            if (l == 1 && model_op_param(op, p->name) != p)
                continue;
            struct rt_param *rp = &c->params[c->nparams++];
            rp->p = p;
            rp->with = model_call_with(c->mcall, p->name);
            rp->credential = p->in == MODEL_IN_HEADER && runtime_is_credential(cons, p->name);
            if (p->in == MODEL_IN_QUERY) {
                struct strbuf b;
                strbuf_init(&b, 0);
                urlenc_query(p->name, strlen(p->name), &b);
                rp->query_name_enc = strbuf_detach(&b, NULL);
            }
        }
    const struct model_call *mc = c->mcall;
    c->declared_is_cred = xcalloc(mc->nparams + 1, sizeof *c->declared_is_cred);
    for (size_t i = 0; i < mc->nparams; i++)
        c->declared_is_cred[i] = runtime_input_is_credential(cons, op, mc->params[i].name);
    /* Credentials: a configured secret only goes where the operation declares it; the
     * document's own authentication always does. */
    for (size_t i = 0; i < cons->ncreds; i++) {
        const struct rt_credential *cr = &cons->creds[i];
        const struct model_param *p = model_op_param(op, cr->header);
        bool declared = p && p->in == MODEL_IN_HEADER;
        if (!declared && !cr->from_auth)
            continue;
        add_cred_out(c, (struct rt_cred_out){cr, p, cr->header, declared ? p->name : cr->header,
                                             cr->from_auth || (p && p->required)});
    }
    /* Declared credential headers that nothing configures: only the caller can send them. */
    for (int l = 0; l < 2; l++)
        for (size_t i = 0; i < counts[l]; i++) {
            const struct model_param *p = &lists[l][i];
            if (p->in != MODEL_IN_HEADER || !runtime_is_credential(cons, p->name) ||
                runtime_credential(cons, p->name))
                continue;
            add_cred_out(c, (struct rt_cred_out){NULL, p, p->name, p->name, p->required});
        }
    c->inbound = runtime_inbound(rt, c->expose);
    c->object_body = takes_object_body(c);
}

/* A forward call's credentials: those of its consumer that an operation would send without
 * declaring them (the document's authentication), configured ones the namespace declares as
 * header parameters, and declared credential headers nothing configures (the caller's, when
 * trusted). What mapping_add_credentials places. */
static void build_forward_call(const struct runtime *rt, struct rt_call *c)
{
    const struct rt_consumer *cons = c->consumer;
    const struct model_consumer *mc = cons->mc;
    for (size_t i = 0; i < cons->ncreds; i++) {
        const struct rt_credential *cr = &cons->creds[i];
        const struct model_param *p = NULL;
        for (size_t j = 0; j < mc->nparams && !p; j++)
            if (mc->params[j].in == MODEL_IN_HEADER && str_eq_ci(mc->params[j].name, cr->header))
                p = &mc->params[j];
        if (!p && !cr->from_auth)
            continue;
        add_cred_out(c, (struct rt_cred_out){cr, p, cr->header, p ? p->name : cr->header,
                                             cr->from_auth || (p && p->required)});
    }
    for (size_t i = 0; i < mc->nparams; i++) {
        const struct model_param *p = &mc->params[i];
        if (p->in != MODEL_IN_HEADER || !runtime_is_credential(cons, p->name) ||
            runtime_credential(cons, p->name))
            continue;
        add_cred_out(c, (struct rt_cred_out){NULL, p, p->name, p->name, p->required});
    }
    c->inbound = runtime_inbound(rt, c->expose);
}

/* "name=value" of an apikey placed in the query, encoded once (mapping appends it as is). */
static void build_query_auth(struct rt_consumer *rc)
{
    if (!rc->query_auth_name || !rc->query_auth_value)
        return;
    struct strbuf b;
    strbuf_init(&b, 0);
    urlenc_query(rc->query_auth_name, strlen(rc->query_auth_name), &b);
    strbuf_addc(&b, '=');
    urlenc_query(rc->query_auth_value, strlen(rc->query_auth_value), &b);
    rc->query_auth_enc = strbuf_detach(&b, NULL);
}

/* ---- the input names of each call ---- */

struct names {
    const struct runtime *rt;
    struct rt_call *call;
};

static void names_add(struct names *s, const char *name, size_t len)
{
    struct rt_call *c = s->call;
    if (len == 0)
        return;
    if (!c->tool && !c->resource && len == 4 && memcmp(name, "body", 4) == 0) {
        c->opaque_body = true; /* REST reads `body` as the whole request body */
        return;
    }
    for (size_t i = 0; i < c->ninputs; i++)
        if (strlen(c->inputs[i]) == len && memcmp(c->inputs[i], name, len) == 0)
            return;
    char *n = arena_strndup(&s->rt->model->arena, name, len);
    if (c->op && runtime_input_is_credential(c->consumer, c->op, n))
        return; /* from headers or configuration only */
    c->inputs = xrealloc(c->inputs, (c->ninputs + 1) * sizeof *c->inputs);
    c->inputs[c->ninputs++] = n;
}

/* A placeholder as mapping's template lookup reads it: rest.NAME, tools.NAME and
 * <namespace>.NAME are the input NAME; a bare name is an input unless it is a bind variable. */
static int names_placeholder(void *arg, const char *name, size_t len)
{
    struct names *s = arg;
    const char *ns = s->call->expose ? s->call->expose->ns : NULL;
    enum template_ref kind;
    size_t klen;
    const char *key = template_ref_key(name, len, ns, TREF_ANY, &klen, &kind);
    if (kind != TREF_NONE || !runtime_find_var(s->rt, name, len))
        names_add(s, key, klen);
    return 0;
}

static void names_template(struct names *s, const char *tpl)
{
    template_each(tpl, names_placeholder, s);
}

static void names_json(struct names *s, const cJSON *j)
{
    if (cJSON_IsString(j))
        names_template(s, j->valuestring);
    for (const cJSON *e = j ? j->child : NULL; e; e = e->next)
        names_json(s, e);
}

static void names_path_var(void *arg, const char *name, size_t len)
{
    struct names *s = arg;
    char *n = xstrndup(name, len);
    if (!model_op_param(s->call->op, n)) {
        /* An undeclared placeholder takes its `with` entry (what that reads is the input),
         * else the same-named input. */
        const struct model_with *w = model_call_with(s->call->mcall, n);
        if (w && w->kind == MODEL_WITH_REF)
            names_add(s, w->ref, strlen(w->ref));
        else if (w && w->kind == MODEL_WITH_TEMPLATE)
            names_template(s, w->text);
        else if (!w)
            names_add(s, name, len);
    }
    free(n);
}

/* What mapping_build reads from the caller for <c>, in the same order of rules: the exposed
 * call's declared inputParameters, then per consumed parameter its `with` reference or
 * template, else its `value` template, else the input of its own name; body templates; and
 * consumed path placeholders without a parameter. */
static void build_inputs(const struct runtime *rt, struct rt_call *c)
{
    struct names s = {rt, c};
    const struct model_call *mc = c->mcall;
    const struct model_operation *op = c->op;
    for (size_t i = 0; i < mc->nparams; i++) {
        const struct model_param *p = &mc->params[i];
        names_add(&s, p->name, strlen(p->name));
        /* A parameter read by JSONPath from the body (`value: $.user.id`) reads its first
         * field (`user`): the caller may send that. */
        if (p->value && p->value[0] == '$' && p->value[1] == '.' && p->value[2])
            names_add(&s, p->value + 2, strcspn(p->value + 2, ".[*"));
    }
    for (size_t i = 0; i < c->nparams; i++) {
        const struct model_param *p = c->params[i].p;
        if (p->in == MODEL_IN_ENVIRONMENT || c->params[i].credential)
            continue;
        const struct model_with *w = c->params[i].with;
        if (w && w->kind == MODEL_WITH_REF)
            names_add(&s, w->ref, strlen(w->ref));
        else if (w && w->kind == MODEL_WITH_TEMPLATE)
            names_template(&s, w->text);
        else if (!w && p->value)
            names_template(&s, p->value);
        else if (!w)
            names_add(&s, p->name, strlen(p->name));
    }
    /* Every body kind: the template string (raw, text, xml, sparql, a pre-encoded form), the
     * string leaves of json data or form fields, the values of multipart parts. */
    if (op->body.template)
        names_template(&s, op->body.template);
    names_json(&s, op->body.json);
    for (size_t i = 0; i < op->body.nparts; i++)
        if (op->body.parts[i].value)
            names_template(&s, op->body.parts[i].value);
    if (op->resource)
        template_path_vars(op->resource->path, names_path_var, &s);
}

/* Whether input name <n> reads a step's result rather than the caller: `<step>` or
 * `<step>.<path>` for a step of <c>. */
static bool names_step(const struct rt_call *c, const char *n)
{
    const struct model_call *mc = c->mcall;
    size_t len = strcspn(n, ".");
    for (size_t i = 0; i < mc->nsteps; i++)
        if (mc->steps[i].name && strlen(mc->steps[i].name) == len &&
            memcmp(mc->steps[i].name, n, len) == 0)
            return true;
    return false;
}

/* An orchestrated call: one child per call step, built with the same tables as a simple call
 * so mapping builds each step's request exactly as it builds a call's. The call's inputs are
 * its declared inputParameters plus what its steps read that no step provides. */
static void build_steps(const struct runtime *rt, struct rt_call *c)
{
    const struct model_call *mc = c->mcall;
    struct names s = {rt, c};
    c->steps = xcalloc(mc->nsteps, sizeof *c->steps);
    c->step_mcalls = xcalloc(mc->nsteps, sizeof *c->step_mcalls);
    c->declared_is_cred = xcalloc(mc->nparams + 1, sizeof *c->declared_is_cred);
    c->inbound = runtime_inbound(rt, c->expose);
    for (size_t i = 0; i < mc->nparams; i++)
        names_add(&s, mc->params[i].name, strlen(mc->params[i].name));
    for (size_t i = 0; i < mc->nsteps; i++) {
        const struct model_step *st = &mc->steps[i];
        struct rt_call *k = &c->steps[i];
        k->parent = c;
        k->name = st->name;
        if (st->kind != MODEL_STEP_CALL)
            continue;
        struct model_call *kmc = &c->step_mcalls[i];
        kmc->kind = MODEL_CALL_SIMPLE;
        kmc->call = st->call;
        kmc->target = st->target;
        kmc->with = st->with;
        kmc->nwith = st->nwith;
        k->mcall = kmc;
        k->kind = MODEL_CALL_SIMPLE;
        k->op = st->target;
        k->consumer = consumer_of((struct runtime *)rt, st->target);
        k->expose = c->expose;
        k->tool = c->tool;
        k->route_method = st->target->method;
        build_call_tables(rt, k);
        build_inputs(rt, k);
        for (size_t j = 0; j < k->ninputs; j++)
            if (!names_step(c, k->inputs[j]))
                names_add(&s, k->inputs[j], strlen(k->inputs[j]));
    }
}

static void names_outputs(struct names *s, const struct model_output *o, size_t n)
{
    for (size_t i = 0; o && i < n; i++) {
        if (o[i].value)
            names_template(s, o[i].value);
        names_outputs(s, o[i].properties, o[i].nproperties);
        names_outputs(s, o[i].items, o[i].items ? 1 : 0);
        names_outputs(s, o[i].values, o[i].values ? 1 : 0);
    }
}

/* A mock: its declared inputParameters and what its output values render. */
static void build_mock(const struct runtime *rt, struct rt_call *c)
{
    const struct model_call *mc = c->mcall;
    struct names s = {rt, c};
    c->declared_is_cred = xcalloc(mc->nparams + 1, sizeof *c->declared_is_cred);
    c->inbound = runtime_inbound(rt, c->expose);
    for (size_t i = 0; i < mc->nparams; i++)
        names_add(&s, mc->params[i].name, strlen(mc->params[i].name));
    names_outputs(&s, mc->outputs, mc->noutputs);
}

static void free_call(struct rt_call *c)
{
    free(c->inputs);
    for (size_t j = 0; j < c->nparams; j++)
        free(c->params[j].query_name_enc);
    free(c->params);
    free(c->declared_is_cred);
    free(c->creds);
    for (size_t j = 0; c->steps && j < c->mcall->nsteps; j++)
        free_call(&c->steps[j]);
    free(c->steps);
    free(c->step_mcalls);
    cJSON_Delete(c->output_schema);
}

bool runtime_call_has_input(const struct rt_call *call, const char *name)
{
    for (size_t i = 0; i < call->ninputs; i++)
        if (str_eq(call->inputs[i], name))
            return true;
    return false;
}

/* Whether <host> can only be reached from this machine. A name other than localhost counts
 * as reachable: it is not resolved here. */
static bool loopback_host(const char *host)
{
    struct in_addr a4;
    struct in6_addr a6;
    if (str_eq_ci(host, "localhost"))
        return true;
    if (inet_pton(AF_INET, host, &a4) == 1)
        return (ntohl(a4.s_addr) >> 24) == 127;
    if (inet_pton(AF_INET6, host, &a6) == 1)
        return IN6_IS_ADDR_LOOPBACK(&a6);
    return false;
}

/* Append <name> to the ", "-separated list <b> unless it is there already. */
static void list_add_once(struct strbuf *b, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = b->data; p && *p;) {
        const char *e = strstr(p, ", ");
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (len == n && strncasecmp(p, name, n) == 0)
            return;
        p = e ? e + 2 : p + len;
    }
    strbuf_addf(b, "%s%s", b->len ? ", " : "", name);
}

/* Warn about every adapter that anyone on the network can use to send the configured
 * credentials upstream: it listens on a non-loopback address, has no `authentication`, and
 * some of its operations get a credential injected (one the caller does not have to send). */
static void warn_open_adapters(const struct runtime *rt, struct diag *d)
{
    const struct model *m = rt->model;
    for (size_t i = 0; i < m->ncaps; i++)
        for (size_t e = 0; e < m->caps[i]->nexposes; e++) {
            const struct model_expose *ex = &m->caps[i]->exposes[e];
            if ((ex->transport && str_eq(ex->transport, "stdio")) || runtime_inbound(rt, ex))
                continue;
            const char *host;
            int port;
            expose_listen(rt->config, ex, &host, &port);
            if (loopback_host(host))
                continue;
            struct strbuf names;
            strbuf_init(&names, 0);
            for (size_t k = 0; k < rt->ncalls; k++) {
                const struct rt_call *c = &rt->calls[k];
                if (c->expose != ex || !c->consumer)
                    continue;
                for (size_t j = 0; j < c->ncreds; j++) {
                    const struct rt_credential *cr = c->creds[j].cr;
                    if (cr && cr->value)
                        list_add_once(&names, cr->header);
                }
                if (c->consumer->query_auth_value)
                    list_add_once(&names, c->consumer->query_auth_name);
            }
            if (names.len)
                diag_warn(d, ex->pos.file, ex->pos.line, ex->pos.col,
                          "adapter '%s' listens on %s:%d, which is not loopback, has no "
                          "'authentication' and injects the configured %s: anyone who can reach "
                          "that address can call the upstream API with that credential. Add an "
                          "'authentication' block or listen on 127.0.0.1",
                          ex->ns, host, port, names.data);
            strbuf_deinit(&names);
        }
}

struct runtime *runtime_build(struct model *m, const struct config *c, struct diag *d)
{
    struct runtime *rt = xcalloc(1, sizeof *rt);
    atomic_init(&rt->refs, 1);
    rt->model = m;
    rt->config = c;
    size_t before = d->nerrors;
    secrets_build_vars(rt, d);
    size_t n = 0;
    for (size_t i = 0; i < m->ncaps; i++)
        n += m->caps[i]->nconsumers;
    rt->consumers = xcalloc(n, sizeof *rt->consumers);
    for (size_t i = 0; i < m->ncaps; i++)
        for (size_t j = 0; j < m->caps[i]->nconsumers; j++)
            secrets_build_consumer(rt, &m->caps[i]->consumers[j], &rt->consumers[rt->nconsumers++],
                                   d);
    if (d->nerrors == before)
        build_exposes(rt, d);
    for (size_t i = 0; d->nerrors == before && i < m->ncaps; i++)
        for (size_t j = 0; j < m->caps[i]->nexposes; j++)
            inbound_build(rt, &m->caps[i]->exposes[j]);
    if (d->nerrors > before) {
        runtime_free(rt);
        return NULL;
    }
    for (size_t i = 0; i < rt->nconsumers; i++)
        build_query_auth(&rt->consumers[i]);
    for (size_t i = 0; i < rt->ncalls; i++) {
        struct rt_call *call = &rt->calls[i];
        if (call->forward) {
            build_forward_call(rt, call);
        } else if (call->kind == MODEL_CALL_STEPS) {
            build_steps(rt, call);
        } else if (call->kind == MODEL_CALL_MOCK) {
            build_mock(rt, call);
        } else {
            build_call_tables(rt, call);
            build_inputs(rt, call);
        }
        call->output_schema = outschema_for_call(call);
    }
    /* Last: the MCP catalogs read the finished calls and inbound credentials. */
    for (size_t i = 0; i < rt->nlisteners; i++)
        for (size_t j = 0; j < rt->listeners[i].nendpoints; j++) {
            catalog_settle(&rt->listeners[i].endpoints[j]);
            rt->listeners[i].endpoints[j].catalog =
                catalog_build(rt, &rt->listeners[i].endpoints[j]);
        }
    if (rt->stdio_adapter_ep)
        rt->stdio_adapter_ep->catalog = catalog_build(rt, rt->stdio_adapter_ep);
    rt->stdio_ep = catalog_stdio_endpoint(rt);
    for (size_t i = 0; i < rt->nconsumers; i++)
        for (size_t j = 0; j < rt->consumers[i].ncreds; j++) {
            const struct rt_credential *cr = &rt->consumers[i].creds[j];
            if (!cr->value && credential_used(&rt->consumers[i], cr))
                diag_warn(d, NULL, 0, 0,
                          "no %s configured for consumes '%s' (%s): requests must carry their "
                          "own, or get 401",
                          cr->header, rt->consumers[i].mc->ns, cr->source);
        }
    warn_open_adapters(rt, d);
    return rt;
}

void runtime_free(struct runtime *rt)
{
    if (!rt)
        return;
    for (size_t i = 0; i < rt->nvars; i++)
        secret_free(rt->vars[i].value);
    free(rt->vars);
    for (size_t i = 0; i < rt->nconsumers; i++) {
        struct rt_consumer *c = &rt->consumers[i];
        free(c->base_uri);
        for (size_t j = 0; j < c->ncreds; j++) {
            secret_free(c->creds[j].value);
            free(c->creds[j].source);
        }
        free(c->creds);
        free(c->query_auth_name);
        secret_free(c->query_auth_value);
        secret_free(c->query_auth_enc);
        secret_free(c->digest_user);
        secret_free(c->digest_pass);
    }
    free(rt->consumers);
    for (size_t i = 0; i < rt->nlisteners; i++) {
        struct rt_listener *l = &rt->listeners[i];
        free(l->host);
        router_free(l->router);
        for (size_t j = 0; j < l->nendpoints; j++) {
            catalog_free(l->endpoints[j].catalog);
            free(l->endpoints[j].path);
            free(l->endpoints[j].tools);
            free(l->endpoints[j].resources);
            free(l->endpoints[j].prompts);
            free(l->endpoints[j].owned_description);
            free(l->endpoints[j].same_op);
        }
        free(l->endpoints);
    }
    free(rt->listeners);
    catalog_stdio_free(rt->stdio_ep);
    catalog_stdio_free(rt->stdio_adapter_ep);
    for (size_t i = 0; i < rt->ninbound; i++)
        secret_free(rt->inbound[i].expected);
    for (size_t i = 0; i < rt->ninbound; i++)
        digest_cred_free(rt->inbound[i].digest);
    free(rt->inbound);
    for (size_t i = 0; i < rt->ncalls; i++)
        free_call(&rt->calls[i]);
    free(rt->calls);
    model_free(rt->model);
    if (rt->owned_config) {
        config_deinit(rt->owned_config);
        free(rt->owned_config);
    }
    free(rt);
}

void runtime_ref(const struct runtime *rt)
{
    atomic_fetch_add(&((struct runtime *)rt)->refs, 1);
}

void runtime_unref(const struct runtime *rt)
{
    if (rt && atomic_fetch_sub(&((struct runtime *)rt)->refs, 1) == 1)
        runtime_free((struct runtime *)rt);
}
