/*
 * model: the loaded capability documents as plain data. Built by the loader, read-only after
 * load and shared by every worker thread. All strings and arrays live in the model's arena;
 * cJSON values (body data, literals) are owned by the model and deleted by model_free.
 * No libevent or libcurl here, so everything on top can be unit-tested without a loop.
 */
#ifndef CAPPROXY_MODEL_H
#define CAPPROXY_MODEL_H

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

#include "base/util.h"

enum model_method {
    MODEL_GET,
    MODEL_POST,
    MODEL_PUT,
    MODEL_PATCH,
    MODEL_DELETE,
    MODEL_HEAD,
    MODEL_OPTIONS,
    MODEL_METHOD_COUNT
};

/* Where a parameter lives. MODEL_IN_NONE for exposed/tool parameters that declare no `in`. */
enum model_in {
    MODEL_IN_NONE,
    MODEL_IN_PATH,
    MODEL_IN_QUERY,
    MODEL_IN_HEADER,
    MODEL_IN_COOKIE,
    MODEL_IN_BODY,
    MODEL_IN_ENVIRONMENT
};

/* A parameter's declared JSON type. MODEL_TYPE_ANY when absent or unknown. */
enum model_type {
    MODEL_TYPE_ANY,
    MODEL_TYPE_STRING,
    MODEL_TYPE_NUMBER,
    MODEL_TYPE_INTEGER,
    MODEL_TYPE_BOOLEAN,
    MODEL_TYPE_ARRAY,
    MODEL_TYPE_OBJECT
};

/* Position in a source file, 1-based. <file> points to the capability's file name. */
struct model_pos {
    const char *file;
    int line;
    int col;
};

struct model_param {
    const char *name;
    enum model_in in;
    enum model_type type;
    const char *description; /* NULL when absent */
    bool required;
    const char *value; /* optional fixed value or {{template}} (`value:`), NULL when absent */
    struct model_pos pos;
    enum model_type items; /* an array's item type (`items: {type: ...}`); MODEL_TYPE_ANY when
                              absent or not an array */
};

enum model_auth_kind {
    MODEL_AUTH_NONE,
    MODEL_AUTH_BEARER,
    MODEL_AUTH_BASIC,
    MODEL_AUTH_APIKEY,
    MODEL_AUTH_DIGEST, /* RFC 7616: exposed adapters check it; a consumed API's challenge is
                          answered */
    MODEL_AUTH_OAUTH2, /* exposes only: an OAuth 2.1 resource server (struct model_oauth2) */
};

/* `type: oauth2` on an exposed adapter: capproxy is an OAuth 2.1 resource server that accepts
 * access tokens issued by the authorization server <as_uri>. Strings as written (no
 * templates: they are public identifiers, not secrets). */
struct model_oauth2 {
    const char *as_uri;   /* authorizationServerUri: the issuer, http(s) */
    const char *resource; /* this server's canonical URI (RFC 8707), http(s) */
    const char **scopes;  /* every one is required of a token; also scopes_supported */
    size_t nscopes;
    const char *audience;       /* expected `aud`; NULL: <resource> */
    const char *token_endpoint; /* read and kept; capproxy itself never asks for tokens */
    bool introspection;         /* tokenValidation: introspection (RFC 7662), else jwks */
};

/* Outbound (consumes) or inbound (exposes) authentication. Values may hold {{VAR}} templates. */
struct model_auth {
    enum model_auth_kind kind;
    const char *token;    /* bearer */
    const char *username; /* basic, digest */
    const char *password; /* basic, digest */
    const char *key;      /* apikey: header or query parameter name */
    const char *value;    /* apikey */
    bool in_query;        /* apikey placement: query instead of header */
    struct model_pos pos;
    struct model_oauth2 *oauth2; /* MODEL_AUTH_OAUTH2 only, else NULL */
};

/* An output parameter. <mapping> is a JSONPath (`mapping:`, or a `value:` that starts with
 * '$'); NULL means the whole document. Object outputs may list <properties>; array outputs may
 * describe <items>; an object output with <values> maps every member of the mapped object. */
struct model_output {
    const char *name; /* NULL when absent */
    enum model_type type;
    const char *mapping;
    const char *value;        /* `value:` not starting with '$': a static value or a Mustache
                                 template over the inputs (mock mode); NULL when absent */
    const cJSON *const_value; /* `const`: wins over mapping and value; NULL when absent */
    const cJSON *value_json;  /* an object or array `value` with placeholders that is JSON as
                                 written (`{"a": "{{q}}"}`): its string leaves render one by
                                 one, so an input cannot change its structure; else NULL */
    size_t max_length;        /* `maxLength`: longer strings are cut (in characters); 0 when
                                 absent (maxLength 0 is refused at load) */
    struct model_output *properties;
    size_t nproperties;
    struct model_output *items;  /* NULL when absent */
    struct model_output *values; /* NULL when absent */
    struct model_pos pos;
};

enum model_body_kind {
    MODEL_BODY_NONE,
    MODEL_BODY_TEMPLATE, /* a raw Mustache string */
    MODEL_BODY_JSON,     /* {type: json, data} */
    MODEL_BODY_TEXT,     /* {type: text, data: string} */
    MODEL_BODY_XML,      /* {type: xml, data: string} */
    MODEL_BODY_SPARQL,   /* {type: sparql, data: string} */
    MODEL_BODY_FORM,     /* {type: formUrlEncoded, data: {name: value}} */
    MODEL_BODY_MULTIPART /* {type: multipartForm, data: [{name, value, filename, contentType}]} */
};

/* One part of a multipartForm body; <value> may hold {{x}}. */
struct model_body_part {
    const char *name;
    const char *value;
    const char *filename;     /* NULL when absent */
    const char *content_type; /* NULL when absent */
    struct model_pos pos;
};

/* An operation's `body:`: a Mustache string template or {type, data}. */
struct model_body {
    enum model_body_kind kind;
    const char *template; /* TEMPLATE, and the `data` string of TEXT, XML and SPARQL */
    cJSON *json;          /* JSON: the `data` value; FORM: the `data` object (string leaves may
                             hold {{x}}) */
    struct model_body_part *parts; /* MULTIPART */
    size_t nparts;
    struct model_pos pos;
};

/* `outputRawFormat`: what the consumed API answers, turned into JSON before output mapping. */
enum model_format {
    MODEL_FORMAT_JSON,
    MODEL_FORMAT_XML,
    MODEL_FORMAT_CSV,
    MODEL_FORMAT_TSV,
    MODEL_FORMAT_PSV,
    MODEL_FORMAT_YAML,
    MODEL_FORMAT_HTML,
    MODEL_FORMAT_MARKDOWN
};

struct model_resource;
struct model_consumer;
struct model_capability;
struct model_expose;

struct model_operation {
    const char *name;
    enum model_method method;
    const char *description;
    struct model_param *params;
    size_t nparams;
    struct model_body body;
    const char *output_raw_format;   /* NULL when absent */
    enum model_format output_format; /* parsed output_raw_format (JSON when absent) */
    const char *output_schema;       /* `outputSchema`: html: a CSS selector scoping the tables;
                                        markdown: a heading prefix filtering the sections;
                                        NULL when absent */
    const char *output_xpath;        /* html: output_schema's selector as XPath, made at load
                                        (spec/selector.h); NULL when absent */
    struct model_output *outputs;
    size_t noutputs;
    struct model_resource *resource; /* back pointer */
    struct model_consumer *consumer; /* back pointer */
    struct model_pos pos;
};

struct model_resource {
    const char *name;
    const char *path; /* as written, e.g. /v2/oauth-clients/{clientId}/users */
    const char *description;
    struct model_operation *operations;
    size_t noperations;
    struct model_pos pos;
};

struct model_consumer {
    const char *type; /* "http" */
    const char *ns;
    const char *base_uri; /* as written; may be "" (then configuration must supply it) */
    const char *description;
    struct model_param *params; /* namespace-level inputParameters, sent on every operation */
    size_t nparams;
    struct model_auth auth; /* kind MODEL_AUTH_NONE when absent */
    struct model_resource *resources;
    size_t nresources;
    struct model_capability *cap;
    struct model_pos pos;
    bool incomplete; /* an unknown key was reported inside: an operation may be missing */
    /* Imported (`{import, location, as}`): "<real path of the shared file>#<import>", the same
     * for every document importing that entry, which may then share its namespace; NULL for an
     * entry written in place. <pos> is the import entry's, the rest the shared file's. */
    const char *source;
};

enum model_with_kind {
    MODEL_WITH_REF,      /* rest.NAME, tools.NAME or <own namespace>.NAME: the input NAME */
    MODEL_WITH_TEMPLATE, /* a string containing {{...}} */
    MODEL_WITH_LITERAL   /* any other scalar */
};

/* One entry of `with:`: consumed parameter <name> gets a value. */
struct model_with {
    const char *name;
    enum model_with_kind kind;
    const char *ref;  /* REF: the input name, prefix removed */
    const char *text; /* TEMPLATE: the template; LITERAL: the scalar as written */
    cJSON *literal;   /* LITERAL: typed value (number, bool, string, null) */
    struct model_pos pos;
};

enum model_step_kind { MODEL_STEP_CALL, MODEL_STEP_LOOKUP };

/* One step of an orchestrated call. A call step's result is stored under its name (projected
 * through the consumed operation's named outputParameters, as the reference engine does); later
 * steps read it through `with` templates ({{<step>.<field>}}) and `$.<step>.<path>`. */
struct model_step {
    const char *name;
    enum model_step_kind kind;
    /* MODEL_STEP_CALL */
    const char *call;               /* "<consumes namespace>.<operation>" as written */
    struct model_operation *target; /* resolved by checks_validate */
    struct model_with *with;
    size_t nwith;
    /* MODEL_STEP_LOOKUP: the elements of step <index>'s result whose field <match> equals
     * <lookup_value> (`$.<step>.<path>`, or a Mustache template over the inputs), each cut down
     * to the fields <fields> (all of them when nfields is 0). */
    const char *index;
    const char *match;
    const char *lookup_value;
    const char **fields;
    size_t nfields;
    struct model_pos pos;
};

/* One entry of `mappings`: the answer's field <target> (dotted: nested objects) gets
 * <value> (`$.<step>.<path>`). */
struct model_step_mapping {
    const char *target;
    const char *value;
    struct model_pos pos;
};

enum model_call_kind {
    MODEL_CALL_SIMPLE, /* `call` + `with`: one consumed operation */
    MODEL_CALL_STEPS,  /* `steps` (+ `mappings`): several, in order */
    MODEL_CALL_MOCK    /* no call, no steps: the answer is built from outputParameters' values */
};

struct model_function;

/* What REST operations, MCP tools and aggregate functions have in common: what a call does.
 * A `ref` is resolved by checks_validate, which copies the function's call into the
 * referring operation's (what the referrer sets itself wins), so nothing after it sees refs. */
struct model_call {
    enum model_call_kind kind;
    const char *call;               /* "<consumes namespace>.<operation>" as written */
    struct model_operation *target; /* SIMPLE: resolved by checks_validate, never NULL after */
    struct model_step *steps;       /* STEPS */
    size_t nsteps;
    struct model_step_mapping *mappings;
    size_t nmappings;
    const char *ref;                     /* `ref: <aggregate namespace>.<function>`, or NULL */
    const struct model_function *ref_fn; /* resolved by checks_validate */
    struct model_with *with;
    size_t nwith;
    struct model_param *params; /* declared inputParameters of the exposed op/tool */
    size_t nparams;
    bool params_declared; /* `inputParameters` is present (possibly empty: a tool without
                             arguments), as opposed to absent (the schema is then derived) */
    struct model_output *outputs;
    size_t noutputs;
};

struct model_rest_resource;

struct model_rest_op {
    enum model_method method;
    const char *name;
    const char *description;
    struct model_call call;
    struct model_rest_resource *resource; /* back pointer */
    struct model_pos pos;
};

/* `forward`: the rest of the path, the method and the raw body go to a consumed API's base
 * URI with only the trusted headers (plus the consumed API's own parameters and credentials). */
struct model_forward {
    const char *target_ns;
    struct model_consumer *target; /* resolved by checks_validate */
    const char **trusted_headers;
    size_t ntrusted;
    struct model_pos pos;
};

struct model_rest_resource {
    const char *path;              /* as written, e.g. /v1/v2/oauth-clients/{clientid}/users */
    struct model_forward *forward; /* NULL when absent */
    const char *name;
    const char *description;
    struct model_rest_op *operations;
    size_t noperations;
    struct model_expose *expose; /* back pointer */
    struct model_pos pos;
    /* Resource-level inputParameters; the loader also gives them to each operation's call
     * (after its own, which win by name), so nothing else reads these. */
    struct model_param *params;
    size_t nparams;
};

/* Tri-state MCP hints: -1 when the document does not set them. */
struct model_hints {
    signed char read_only;
    signed char destructive;
    signed char idempotent;
    signed char open_world;
};

struct model_tool {
    const char *name;
    const char *description;
    const char *label; /* becomes MCP `title`; NULL when absent */
    struct model_hints hints;
    struct model_call call;
    struct model_expose *expose; /* back pointer */
    struct model_pos pos;
};

enum model_expose_type {
    MODEL_EXPOSE_REST,
    MODEL_EXPOSE_MCP,
    MODEL_EXPOSE_SKILL,  /* a catalog of skills over HTTP (front/skill.h) */
    MODEL_EXPOSE_CONTROL /* the management endpoints (app/control.h) */
};

/* A tool a skill declares: derived `from` a sibling rest or mcp adapter, or an `instruction`
 * file under the skill's location. */
struct model_skill_tool {
    const char *name;
    const char *description;
    const char *from_ns;     /* from.sourceNamespace; NULL for an instruction */
    const char *from_action; /* from.action: the operation (rest) or tool (mcp) name */
    const char *instruction; /* a path relative to the skill's location; NULL for `from` */
    const struct model_expose *from_expose; /* resolved by checks_validate */
    struct model_pos pos;
    struct model_pos from_ns_pos, from_action_pos;
};

struct model_skill {
    const char *name;
    const char *description;
    const char *license; /* NULL when absent, as every optional string here */
    const char *compatibility;
    const char *allowed_tools;            /* `allowed-tools` */
    const char *argument_hint;            /* `argument-hint` */
    signed char user_invocable;           /* -1 when absent */
    signed char disable_model_invocation; /* -1 when absent */
    const char **meta_keys;               /* `metadata`, in document order */
    const char **meta_values;
    size_t nmeta;
    const char *location; /* file:///dir as written; NULL when absent */
    const char *dir;      /* <location>'s directory path (spec/location.h) */
    struct model_skill_tool *tools;
    size_t ntools;
    struct model_pos pos;
};

/* The control adapter's `management` and `observability` switches, defaults applied. */
struct model_control {
    bool health;   /* /health/live, /health/ready (default on) */
    bool info;     /* /status */
    bool reload;   /* POST /config/reload */
    bool validate; /* POST /config/validate */
    bool logs;     /* GET /logs, PUT /logs/{logger} (level control) */
    bool logs_stream;
    bool metrics; /* /metrics: observability on and metrics.local not disabled (default on) */
};

/* One file an MCP resource serves: the whole `location` file, or one file of a `location`
 * directory (its uri is then the resource's uri + "/" + the relative path). Read at load. */
struct model_mcp_file {
    const char *uri;
    const char *mime_type; /* the resource's mimeType, else guessed from the extension */
    const char *data;      /* the bytes, NUL-terminated (arena) */
    size_t len;
    bool binary; /* not valid UTF-8 (or holds a NUL): served as a base64 `blob` */
};

/* An MCP `resources` entry: static (`location`, files read at load) or dynamic (`call` or
 * `steps`, run per resources/read like a tool). A uri with {param} placeholders is a
 * resource template; its variables become the call's declared (string, required) inputs. */
struct model_mcp_resource {
    const char *name;
    const char *label;
    const char *description;
    const char *uri;
    const char *mime_type;        /* NULL when absent */
    const char *location;         /* static: as written; NULL for a dynamic resource */
    bool is_template;             /* the uri has {param} placeholders */
    struct model_mcp_file *files; /* static only */
    size_t nfiles;
    bool is_dir;            /* static: `location` is a directory */
    struct model_call call; /* dynamic only */
    struct model_expose *expose;
    struct model_pos pos;
};

struct model_prompt_arg {
    const char *name;
    const char *label;
    const char *description;
    bool required; /* default true */
    struct model_pos pos;
};

struct model_prompt_msg {
    const char *role;    /* "user" or "assistant" */
    const char *content; /* a Mustache template over the arguments */
    struct model_pos pos;
};

/* An MCP `prompts` entry; a `location` prompt is read at load into one user message. */
struct model_mcp_prompt {
    const char *name;
    const char *label;
    const char *description;
    struct model_prompt_arg *args;
    size_t nargs;
    struct model_prompt_msg *messages;
    size_t nmessages;
    const char *location; /* NULL for an inline `template` */
    struct model_expose *expose;
    struct model_pos pos;
};

struct model_expose {
    enum model_expose_type type;
    const char *ns;
    int port;              /* -1 when absent */
    const char *address;   /* NULL when absent */
    const char *transport; /* mcp: "http" (default) or "stdio"; NULL for rest */
    const char *path;      /* mcp extension: an extra endpoint path shared by every adapter
                              that names it (e.g. /cal-platform); NULL when absent */
    const char *description;
    struct model_auth auth; /* inbound; kind MODEL_AUTH_NONE when absent */
    struct model_rest_resource *resources;
    size_t nresources;
    struct model_tool *tools;
    size_t ntools;
    struct model_capability *cap;
    struct model_pos pos;
    /* skill: */
    struct model_skill *skills;
    size_t nskills;
    /* control: */
    struct model_control control;
    /* MCP `resources` and `prompts` (the REST `resources` above are another thing). */
    struct model_mcp_resource *mcp_resources;
    size_t nmcp_resources;
    struct model_mcp_prompt *prompts;
    size_t nprompts;
};

struct model_bind_key {
    const char *var;      /* usable as {{var}} */
    const char *provider; /* environment variable (or file key) it is read from */
    struct model_pos pos;
};

struct model_bind {
    const char *ns;
    const char *location; /* NULL: environment; else file:///path.json or .yaml */
    struct model_bind_key *keys;
    size_t nkeys;
    struct model_pos pos;
};

/* An aggregate function's `semantics`: tri-state, -1 when not set. */
struct model_semantics {
    signed char safe;
    signed char idempotent;
    signed char cacheable;
};

struct model_aggregate;

/* A reusable piece of behaviour that REST operations and tools use through `ref`. */
struct model_function {
    const char *name;
    const char *description;
    struct model_semantics semantics;
    struct model_call call;            /* its inputParameters, call/steps/mock outputs */
    struct model_aggregate *aggregate; /* back pointer */
    struct model_pos pos;
};

struct model_aggregate {
    const char *ns;
    const char *label;
    struct model_function *functions;
    size_t nfunctions;
    struct model_capability *cap;
    struct model_pos pos;
};

struct model_capability {
    const char *file;
    const char *version; /* the `naftiko:` value */
    const char *label;
    const char *description;
    struct model_bind *binds;
    size_t nbinds;
    struct model_consumer *consumers;
    size_t nconsumers;
    struct model_expose *exposes;
    size_t nexposes;
    struct model_aggregate *aggregates;
    size_t naggregates;
    struct model_pos pos;
};

/* A file or directory the loader read: what a reload watches, and what its log compares. */
struct model_source {
    const char *path; /* as opened */
    uint64_t hash;    /* FNV-1a of the content; 0 for a directory */
    bool dir;
};

struct model {
    struct arena arena;
    struct model_capability **caps;
    size_t ncaps;
    cJSON **_owned; /* cJSON values to delete in model_free */
    size_t _nowned;
    struct model_source *sources; /* in reading order, each path once */
    size_t nsources;
};

struct model *model_new(void);
void model_free(struct model *m); /* NULL-safe */
/* Add an empty capability for <file> and return it (owned by <m>). */
struct model_capability *model_add_capability(struct model *m, const char *file);
/* Record that the loader read <path> (<data>, <len>: its content; NULL for a directory). */
void model_note_source(struct model *m, const char *path, const void *data, size_t len);
/* Record <v> as owned by <m> (deleted by model_free) and return it. */
cJSON *model_own_json(struct model *m, cJSON *v);

/* "GET" -> MODEL_GET (case-insensitive); -1 when unknown. */
int model_method_parse(const char *s);
const char *model_method_name(enum model_method m);
int model_in_parse(const char *s); /* -1 when unknown */
const char *model_in_name(enum model_in in);
enum model_type model_type_parse(const char *s); /* unknown -> MODEL_TYPE_ANY */
const char *model_type_name(enum model_type t);
/* The JSON Schema `type` of <t> ("string", ..., "object"); NULL for MODEL_TYPE_ANY. */
const char *model_json_type(enum model_type t);
/* "xml" -> MODEL_FORMAT_XML (case-insensitive); -1 when not one capproxy converts. */
int model_format_parse(const char *s);
const char *model_format_name(enum model_format f);

/* Resolve "<ns>.<operation>" against every capability; NULL when not found. The namespace may
 * itself contain dots: the split is at the last dot. */
struct model_operation *model_find_operation(const struct model *m, const char *call);
struct model_consumer *model_find_consumer(const struct model *m, const char *ns);
/* Whether some operation of <c> has no name, or some key under <c> was unknown (`opertions:`
 * leaves a resource without its operations): that was reported already and may be why a call
 * does not resolve, so an unresolved call into <c> is not reported again. */
bool model_consumer_has_nameless_operation(const struct model_consumer *c);

/* The `with` entry of <mc> for consumed parameter <name>: exact name first, then
 * case-insensitive (header names); NULL when none. */
const struct model_with *model_call_with(const struct model_call *mc, const char *name);

/* Find a consumed operation's parameter by name (operation params first, then the consumer's
 * namespace-level params); NULL when not declared. */
const struct model_param *model_op_param(const struct model_operation *op, const char *name);

#endif
