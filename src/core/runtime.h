/*
 * runtime: what the workers serve, built once per (re)load from the model and the
 * configuration, then only read (shared by every worker thread without locks): the listeners
 * with their route tables and tool lists, the effective base URI and credentials of each
 * consumed API, and the bind variables.
 */
#ifndef CAPPROXY_RUNTIME_H
#define CAPPROXY_RUNTIME_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "spec/config.h"
#include "base/diag.h"
#include "spec/model.h"
#include "core/router.h"

struct rt_inbound;
struct digest_cred;
struct catalog;

/* A header the runtime may put on upstream requests when the caller sent none. */
struct rt_credential {
    const char *header; /* header name, e.g. "x-cal-secret-key" or "Authorization" */
    char *value;        /* full header value (e.g. "Bearer ..."); NULL when none is configured */
    char *source;       /* where it comes from, safe to print: "env CAL_COM_CLIENT_SECRET" */
    bool from_auth;     /* from the document's authentication block (else from config) */
};

struct rt_consumer {
    const struct model_consumer *mc;
    char *base_uri; /* effective, without a trailing '/' */
    bool https;
    struct rt_credential *creds;
    size_t ncreds;
    char *query_auth_name;  /* apikey placement: query (NULL otherwise) */
    char *query_auth_value; /* NULL when its bind is missing */
    char *query_auth_enc;   /* "name=value" query-encoded once, when both are set; a secret */
    /* `digest` authentication towards the API: rendered once (secrets); NULL when the
     * document has none or a bind it reads is not set. curl answers the API's challenge. */
    char *digest_user;
    char *digest_pass;
};

/* One consumed parameter of a call as mapping reads it, resolved at load so that no request
 * looks anything up in the documents. */
struct rt_param {
    const struct model_param *p;   /* the operation's, or its namespace's unless hidden */
    const struct model_with *with; /* the call's `with` entry for it, or NULL */
    bool credential;               /* a credential header: from the caller's headers only */
    char *query_name_enc;          /* in: query: the name query-encoded; else NULL */
};

/* One credential header mapping may add to a call's upstream request, in the order it adds
 * them: the consumer's credentials the call sends, then the operation's and namespace's
 * declared credential headers that nothing configures (only the caller can send those). */
struct rt_cred_out {
    const struct rt_credential *cr; /* NULL: a declared credential nothing configures */
    const struct model_param *p;    /* the operation's parameter of that name, or NULL */
    const char *header;             /* the name looked up in the caller's headers */
    const char *send_as;            /* the name sent upstream (the declared spelling) */
    bool required;                  /* no value from the caller nor configuration: 401 */
};

/* One exposed operation (REST op or MCP tool) bound to the consumed operation it calls; or,
 * for an orchestrated call, to one child per step; or, for a mock, to nothing. */
struct rt_call {
    const struct model_call *mcall;
    enum model_call_kind kind; /* SIMPLE: <op> and <consumer> set; STEPS, MOCK: both NULL */
    const struct model_operation *op;
    struct rt_consumer *consumer;
    /* STEPS: [mcall->nsteps] children, one per step; a call step's child is built like a
     * SIMPLE call (its own `with`, no declared inputs), a lookup's is left empty (op NULL). */
    struct rt_call *steps;
    struct model_call *step_mcalls; /* what each child's <mcall> points to */
    const struct rt_call *parent;   /* a step's child: the exposed call; else NULL */
    const struct model_expose *expose;
    const char *name;       /* REST operation name or tool name (logs, metrics) */
    const char *route_path; /* REST: exposed path template; NULL for tools */
    enum model_method route_method;
    const struct model_tool *tool; /* NULL for REST */
    bool passthrough; /* the output mapping is the whole document: no JSON re-encoding */
    /* The input names the call reads from the caller (built once per load): REST query
     * parameters and top-level body fields, MCP tool arguments. Anything else the caller sends
     * there is refused rather than dropped. Credentials are not inputs (headers only). */
    const char **inputs;
    size_t ninputs;
    bool opaque_body; /* REST: `rest.body` takes the whole body, whose fields are not checked */
    /* Facts mapping would otherwise derive per request, computed in runtime_build: */
    struct rt_param *params; /* operation params, then the namespace's not hidden by one */
    size_t nparams;
    bool *declared_is_cred; /* [mcall->nparams]: runtime_input_is_credential of each */
    struct rt_cred_out *creds;
    size_t ncreds;
    const struct rt_inbound *inbound; /* runtime_inbound(rt, expose), NULL when none */
    bool object_body; /* POST/PUT/PATCH with an `in: body` parameter: always a JSON object */
    /* A REST `forward` resource (core/forward.h): every method of its path goes to
     * <consumer>; <op> and <mcall> are then NULL, and only <creds> and <inbound> are built. */
    const struct model_forward *forward;
    /* An MCP resource's call (resources/read runs it like a tool); NULL otherwise. */
    const struct model_mcp_resource *resource;
    /* The JSON Schema of its structuredContent (outschema_for_call), made once: tools/list
     * advertises it and every tool result is checked against it. NULL when none. */
    cJSON *output_schema;
};

/* A tool of the stdio endpoint left out for its name: <kept> has it already. */
struct rt_tool_dup {
    const struct rt_call *kept, *dropped;
};

/* Tools served together at one MCP path ("/mcp" or "/mcp/<namespace>"). */
struct rt_mcp_endpoint {
    char *path;
    const struct model_expose *expose; /* the single adapter behind it; NULL for an aggregate */
    const char *description;           /* sent as `instructions` */
    struct rt_call **tools;
    size_t ntools;
    struct catalog *catalog; /* tools/list answer, credentials, tool index (core/catalog.h) */
    /* The stdio endpoint only: tools left out because an earlier one has the same name, and
     * the instructions it owns. */
    struct rt_tool_dup *dups;
    size_t ndups;
    char *owned_description; /* instructions built for several adapters (catalog_settle) */
    /* MCP resources and prompts served at this path, in document order (the catalog indexes
     * them; a dynamic resource's rt_call has rt_call.resource pointing back). */
    const struct model_mcp_resource **resources;
    size_t nresources;
    const struct model_mcp_prompt **prompts;
    size_t nprompts;
    /* Tools not listed because a listed tool of another adapter calls the same upstream
     * operation ({kept: the listed one, dropped: the hidden one}); still callable by name. */
    struct rt_tool_dup *same_op;
    size_t nsame_op;
};

struct rt_listener {
    enum model_expose_type type;
    char *host;
    int port;
    struct router *router; /* REST */
    size_t nroutes;
    struct rt_mcp_endpoint *endpoints; /* MCP */
    size_t nendpoints;
    const struct model_expose *expose; /* skill, control: the one adapter it serves */
};

/* An exposed adapter's inbound credential (its `authentication` block), rendered once. */
struct rt_inbound {
    const struct model_expose *expose;
    enum model_auth_kind kind;
    const char *name; /* header ("Authorization", or the apikey's key), or query parameter */
    bool in_query;
    char *expected; /* bearer token, base64(user:pass) or apikey value; NULL: nothing matches */
    struct digest_cred *digest; /* digest: what the caller must prove (core/digest.h) */
};

struct rt_var {
    const char *name;
    char *value; /* NULL when the bind is missing */
};

struct runtime {
    atomic_int refs;             /* the server's, every worker's and every exchange's pin */
    struct config *owned_config; /* set when the runtime owns its configuration (reloads) */
    struct model *model;         /* owned */
    const struct config *config; /* borrowed, or owned_config */
    struct rt_var *vars;
    size_t nvars;
    struct rt_consumer *consumers;
    size_t nconsumers;
    struct rt_call *calls;
    size_t ncalls;
    struct rt_listener *listeners;
    size_t nlisteners;
    struct rt_mcp_endpoint *stdio_ep; /* what `capproxy mcp-stdio` serves: every tool */
    struct rt_inbound *inbound;       /* one per exposed adapter that has authentication */
    size_t ninbound;
    /* Run mode: the tools of the one `transport: stdio` adapter, served on the process's own
     * stdin/stdout next to the HTTP listeners; NULL when no document declares one. */
    struct rt_mcp_endpoint *stdio_adapter_ep;
};

/* Build the runtime for a validated model (takes ownership of <m> whatever the outcome).
 * Reports errors (empty baseUri without configuration, missing binds that are used, routes
 * colliding once adapters share a listener) and warnings (unused missing binds, credentials
 * not configured) into <d>. NULL on error. */
struct runtime *runtime_build(struct model *m, const struct config *c, struct diag *d);
void runtime_free(struct runtime *rt); /* NULL-safe; ignores references */
/* Reference counting across threads: a reload swaps the runtime while requests that started
 * on the old one finish on it; the last unref frees it (and its owned configuration). */
void runtime_ref(const struct runtime *rt);
void runtime_unref(const struct runtime *rt); /* NULL-safe */

/* Whether <name> is one of <call>'s inputs (case-sensitive, as JSON keys and query names are). */
bool runtime_call_has_input(const struct rt_call *call, const char *name);

/* The inbound credential adapter <e> demands, or NULL when it has none (core/inbound.c). */
const struct rt_inbound *runtime_inbound(const struct runtime *rt, const struct model_expose *e);

/* Bind variable <name>[0..len) (declared by a `binds` entry), or NULL when there is none. */
const struct rt_var *runtime_find_var(const struct runtime *rt, const char *name, size_t len);
/* The value of bind variable <name>[0..len), NULL when unknown or missing. Never log it. */
const char *runtime_var(const struct runtime *rt, const char *name, size_t len);
/* The credential the runtime holds for header <name> of <c> (case-insensitive), or NULL. */
const struct rt_credential *runtime_credential(const struct rt_consumer *c, const char *name);
/* Whether header <name> of a consumed API is a credential: never logged, never a tool
 * argument, only taken from the caller's HTTP headers. A header name, not any parameter's.
 * Load time only (it lower-cases and scans the name): requests read rt_param.credential. */
bool runtime_is_credential(const struct rt_consumer *c, const char *name);
/* Whether input <name> of a call to <op> is a credential: it feeds a credential header of the
 * operation (or names a credential header the runtime injects). Body or query parameters such
 * as `refreshToken` or a webhook `secret` are ordinary arguments. Load time only: requests read
 * rt_call.declared_is_cred. */
bool runtime_input_is_credential(const struct rt_consumer *c, const struct model_operation *op,
                                 const char *name);

#endif
