/*
 * loader: see loader.h. Two stages: ynode turns the YAML text into a positioned tree (syntax,
 * size and alias limits), then the functions below walk the tree into the model, reporting each
 * problem at the node it concerns and carrying on, so one run lists every problem of a
 * document. Checks that need every document (calls into another file, namespaces, routes and
 * tool names shared by several files) are spec/checks.c's, run by checks_validate; the same
 * uniqueness checks run here on each document alone as it is loaded.
 */
#include "spec/loader.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "spec/checks.h"
#include "spec/jsonpath.h"
#include "spec/location.h"
#include "spec/selector.h"
#include "spec/template.h"
#include "spec/typedval.h"
#include "spec/uritpl.h"
#include "spec/urlenc.h"
#include "spec/ynode.h"

#define LOADER_MAX_DOC_SIZE ((size_t)4 << 20)
#define LOADER_VERSION      "1.0.0-alpha2"
/* Later versions of the format: root key `ikanos:`, named lists may be maps keyed by name. */
#define LOADER_IKANOS_PREFIX "1.0.0-alpha"
/* Errors reported per document: an alias repeated many times could otherwise turn one mistake
 * into hundreds of thousands of messages. */
#define LOADER_MAX_ERRORS CHECKS_MAX_ERRORS
/* Imports: a shared file may import from another; this bounds the chain, and the bytes read
 * through imports for one document (each import reads its file again). */
#define LOADER_MAX_IMPORT_DEPTH 8
#define LOADER_MAX_IMPORT_BYTES ((size_t)64 << 20)

/* The files being loaded, innermost first, to find import cycles: the document itself, then
 * each shared file imported on the way down. */
struct ld_import {
    const char *real; /* realpath of the file; NULL when unknown (a document read from memory) */
    const char *file; /* where it was imported (the import's `location`); NULL for the document */
    int line;
    int col;
    int depth; /* 0 for the document */
    const struct ld_import *up;
};

/* An unknown key reported as a misspelling of <suggestion> in mapping <map>. */
struct ld_typo {
    const struct ynode *map;
    const char *suggestion;
};

struct ld {
    struct model *m;
    struct diag *d;
    struct model_capability *cap;
    const char *file; /* the capability's own copy, used in positions */
    bool ikanos;
    int nerrors;
    size_t nunknown;       /* unknown keys found so far */
    struct ld_typo *typos; /* the first LOADER_MAX_ERRORS of them with a suggestion */
    size_t ntypos;
    const struct ld_import *chain; /* the file being read and those importing it */
    size_t *import_bytes;          /* read through imports so far, for the whole document */
};

/* ---- small helpers ---- */

static void lerr_at(struct ld *l, int line, int col, const char *fmt, ...) UTIL_PRINTF(4, 5);
static void lerr(struct ld *l, const struct ynode *at, const char *fmt, ...) UTIL_PRINTF(3, 4);

/* Past the cap errors are only counted; loader_load_buffer says how many were left out. */
static void lerr_v(struct ld *l, int line, int col, const char *fmt, va_list ap)
{
    if (l->nerrors++ < LOADER_MAX_ERRORS)
        diag_vadd(l->d, DIAG_ERROR, l->file, line, col, fmt, ap);
}

static void lerr_at(struct ld *l, int line, int col, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    lerr_v(l, line, col, fmt, ap);
    va_end(ap);
}

static void lerr(struct ld *l, const struct ynode *at, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    lerr_v(l, at ? at->line : 0, at ? at->col : 0, fmt, ap);
    va_end(ap);
}

static struct model_pos pos_of(const struct ld *l, const struct ynode *n)
{
    return (struct model_pos){l->file, n ? n->line : 0, n ? n->col : 0};
}

static void *alloc_array(struct ld *l, size_t n, size_t size)
{
    return n ? arena_alloc(&l->m->arena, n * size) : NULL;
}

static const char *sdup(struct ld *l, const char *s)
{
    return arena_strdup(&l->m->arena, s);
}

/* Whether <n> is absent or a YAML null: an optional key written as `key:` counts as absent. */
static bool absent(const struct ynode *n)
{
    return !n || ynode_is_null(n);
}

/* Where to report a missing <key> of <map>: at the key when it is written with no value, else
 * at the mapping. */
static const struct ynode *at_key(const struct ynode *map, const char *key)
{
    const struct ynode *k = ynode_get_key(map, key);
    return k ? k : map;
}

/* ---- the keys each object may hold ----
 * From the alpha2 JSON schema (naftiko/framework, tag v1.0.0-alpha2,
 * src/main/resources/schemas/naftiko-schema.json), where each of these objects sets
 * additionalProperties (or unevaluatedProperties) to false: a key not listed is a typo, reported
 * at its own position with "did you mean". Valid alpha2 keys that capproxy does not run are listed
 * too, so they stay ignored (or refused by their reader) instead of reported as typos; the few
 * keys capproxy reads beyond the schema are marked. Keys starting with "x-" are always allowed.
 * Adding a key is one more string in its table.
 *
 * Not checked, because the schema leaves them open: `with` (parameter -> value), `binds[].keys`
 * (variable -> provider key), an output's `properties` (name -> output parameter; each value is
 * checked), a json body's `data` (a multipartForm part is checked). ikanos documents follow a
 * later schema with other keys and are not checked. */
YNODE_KEYS(keys_root, "the document root", "naftiko", "info", "binds", "capability", "consumes");
YNODE_KEYS(keys_info, "info", "label", "description", "tags", "created", "modified",
           "stakeholders");
YNODE_KEYS(keys_person, "stakeholder", "role", "fullName", "email");
YNODE_KEYS(keys_bind, "binds entry", "namespace", "description", "location", "keys");
YNODE_KEYS(keys_capability, "capability", "binds", "exposes", "consumes", "aggregates");
YNODE_KEYS(keys_consumes, "consumes entry", "type", "namespace", "description", "baseUri",
           "inputParameters", "authentication", "resources");
/* ImportedConsumesHttp: an entry with `import` or `location` is one. */
YNODE_KEYS(keys_import, "imported consumes entry", "import", "location", "as", "description");
YNODE_KEYS(keys_resource, "consumed resource", "name", "label", "description", "path",
           "inputParameters", "operations");
YNODE_KEYS(keys_operation, "consumed operation", "name", "label", "description", "method",
           "inputParameters", "outputRawFormat", "outputSchema", "outputParameters", "body");
/* ConsumedInputParameter is {name, in, value}; the reference engine's reader also takes the
 * rest, and documents use type, description and required (which capproxy checks). */
YNODE_KEYS(keys_consumed_param, "consumed parameter", "name", "in", "value", "type", "description",
           "required", "const", "template", "pattern", "items");
/* Every object form of RequestBody (json, text, xml, sparql, formUrlEncoded, multipartForm). */
YNODE_KEYS(keys_body, "body", "type", "data");
YNODE_KEYS(keys_body_part, "multipartForm part", "name", "value", "filename", "contentType");
/* Mapped {type, mapping, value, const, properties, items}, orchestrated and mock output
 * parameters (+ name), and ConsumedOutputParameter {name, type, value}: capproxy reads them
 * all alike. `values` (a map's members), `maxLength` and `description` are not in the alpha2
 * schema but the reference engine reads the first two (OutputParameterSpec). */
YNODE_KEYS(keys_output, "output parameter", "name", "type", "mapping", "value", "const",
           "properties", "items", "values", "maxLength", "description");
YNODE_KEYS(keys_auth_bearer, "bearer authentication", "type", "token");
YNODE_KEYS(keys_auth_basic, "basic authentication", "type", "username", "password");
YNODE_KEYS(keys_auth_apikey, "apikey authentication", "type", "key", "value", "placement");
YNODE_KEYS(keys_auth_digest, "digest authentication", "type", "username", "password");
YNODE_KEYS(keys_auth_oauth2, "oauth2 authentication", "type", "authorizationServerUri", "resource",
           "scopes", "audience", "tokenEndpoint", "tokenValidation");
/* Without a type: the keys of every alpha2 authentication (digest and oauth2 too). */
YNODE_KEYS(keys_auth_any, "authentication", "type", "token", "username", "password", "key", "value",
           "placement", "authorizationServerUri", "resource", "scopes", "audience", "tokenEndpoint",
           "tokenValidation");
/* ExposesRest; capproxy also reads `description` (the shipped documents have it). */
YNODE_KEYS(keys_expose_rest, "REST exposes entry", "type", "address", "port", "namespace",
           "authentication", "resources", "description");
/* ExposesMcp, plus capproxy's documented `path` extension. */
YNODE_KEYS(keys_expose_mcp, "MCP exposes entry", "type", "transport", "address", "port",
           "namespace", "description", "authentication", "tools", "resources", "prompts", "path");
/* Without a type: both. */
YNODE_KEYS(keys_expose_any, "exposes entry", "type", "transport", "address", "port", "namespace",
           "description", "authentication", "resources", "tools", "prompts", "path", "skills",
           "management", "observability");
YNODE_KEYS(keys_expose_skill, "skill exposes entry", "type", "address", "port", "namespace",
           "description", "authentication", "skills");
YNODE_KEYS(keys_skill, "skill", "name", "description", "license", "compatibility", "metadata",
           "allowed-tools", "argument-hint", "user-invocable", "disable-model-invocation",
           "location", "tools");
YNODE_KEYS(keys_skill_tool, "skill tool", "name", "description", "from", "instruction");
YNODE_KEYS(keys_skill_from, "from", "sourceNamespace", "action");
YNODE_KEYS(keys_expose_control, "control exposes entry", "type", "address", "port",
           "authentication", "management", "observability");
YNODE_KEYS(keys_management, "management", "health", "info", "reload", "validate", "logs",
           "scripting");
YNODE_KEYS(keys_control_logs, "logs", "level-control", "stream", "max-subscribers");
YNODE_KEYS(keys_scripting, "scripting", "enabled", "defaultLocation", "defaultLanguage", "timeout",
           "statementLimit", "allowedLanguages");
YNODE_KEYS(keys_observability, "observability", "enabled", "metrics", "traces", "exporters");
YNODE_KEYS(keys_obs_metrics, "observability metrics", "local");
YNODE_KEYS(keys_obs_local, "local endpoint", "enabled");
YNODE_KEYS(keys_obs_traces, "observability traces", "sampling", "propagation", "local");
YNODE_KEYS(keys_obs_traces_local, "traces local endpoint", "enabled", "buffer-size");
YNODE_KEYS(keys_obs_exporters, "exporters", "otlp");
YNODE_KEYS(keys_obs_otlp, "otlp exporter", "endpoint");
YNODE_KEYS(keys_rest_resource, "REST resource", "name", "label", "description", "path",
           "inputParameters", "operations", "forward");
YNODE_KEYS(keys_forward, "forward", "targetNamespace", "trustedHeaders");
YNODE_KEYS(keys_rest_op, "REST operation", "name", "label", "description", "method",
           "inputParameters", "ref", "call", "with", "outputParameters", "steps", "mappings");
/* ExposedInputParameter; capproxy also reads `required`, as on tool parameters. */
YNODE_KEYS(keys_rest_param, "REST parameter", "name", "in", "type", "description", "pattern",
           "value", "required", "items");
YNODE_KEYS(keys_tool, "MCP tool", "name", "label", "description", "inputParameters", "ref", "call",
           "with", "steps", "mappings", "hints", "outputParameters");
/* McpToolInputParameter, plus `items` (the reference engine's reader takes it on every input
 * parameter): an array's item type, for the input schema and argument conversion. */
YNODE_KEYS(keys_tool_param, "MCP tool parameter", "name", "type", "description", "required",
           "items");
YNODE_KEYS(keys_param_items, "parameter items", "type", "description");
YNODE_KEYS(keys_mcp_resource, "MCP resource", "name", "label", "uri", "description", "mimeType",
           "call", "with", "steps", "mappings", "outputParameters", "location");
YNODE_KEYS(keys_prompt, "MCP prompt", "name", "label", "description", "arguments", "template",
           "location");
YNODE_KEYS(keys_prompt_arg, "prompt argument", "name", "label", "description", "required");
YNODE_KEYS(keys_prompt_msg, "prompt message", "role", "content");
YNODE_KEYS(keys_hints, "hints", "readOnly", "destructive", "idempotent", "openWorld");
YNODE_KEYS(keys_aggregate, "aggregate", "label", "namespace", "functions");
YNODE_KEYS(keys_function, "aggregate function", "name", "description", "semantics",
           "inputParameters", "call", "with", "steps", "mappings", "outputParameters");
YNODE_KEYS(keys_semantics, "semantics", "safe", "idempotent", "cacheable");
/* OperationStepCall and OperationStepLookup; without a usable type: every step key (script
 * steps are refused by their reader, not reported as typos). */
YNODE_KEYS(keys_step_call, "call step", "type", "name", "call", "with");
YNODE_KEYS(keys_step_lookup, "lookup step", "type", "name", "index", "match", "lookupValue",
           "outputParameters");
YNODE_KEYS(keys_step_any, "step", "type", "name", "call", "with", "index", "match", "lookupValue",
           "outputParameters", "language", "location", "file", "dependencies");
YNODE_KEYS(keys_mapping, "mapping", "targetName", "value");

struct ld_check {
    struct ld *l;
    const struct ynode *map;
};

static void on_unknown_key(void *arg, const struct ynode *key, const char *suggestion,
                           const char *message)
{
    struct ld_check *c = arg;
    struct ld *l = c->l;

    lerr(l, key, "%s", message);
    l->nunknown++;
    /* Only reported typos need remembering: past the cap nothing more is reported anyway. */
    if (suggestion && l->ntypos < LOADER_MAX_ERRORS) {
        l->typos = xrealloc(l->typos, (l->ntypos + 1) * sizeof *l->typos);
        l->typos[l->ntypos++] = (struct ld_typo){c->map, suggestion};
    }
}

/* Report the keys of mapping <map> that <keys> does not list. */
static void check_keys(struct ld *l, const struct ynode *map, const struct ynode_keys *keys)
{
    struct ld_check c = {l, map};
    if (!l->ikanos)
        ynode_check_keys(map, keys, on_unknown_key, &c);
}

/* Whether an unknown key of <map> was reported as a misspelling of <key>: a missing <key> then
 * follows from that typo, and reporting it too would only repeat the same mistake. */
static bool misspelt(const struct ld *l, const struct ynode *map, const char *key)
{
    for (size_t i = 0; i < l->ntypos; i++)
        if (l->typos[i].map == map && strcmp(l->typos[i].suggestion, key) == 0)
            return true;
    return false;
}

/* <n> must be a mapping (the value of <what>). */
static bool want_map(struct ld *l, const struct ynode *n, const char *what)
{
    if (n && n->kind == YNODE_MAPPING)
        return true;
    lerr(l, n, "expected a mapping for '%s', got %s", what, ynode_describe(n));
    return false;
}

/* Optional string under <key>: NULL when absent or null; an error when not a scalar. */
static const char *opt_str(struct ld *l, const struct ynode *map, const char *key)
{
    const struct ynode *v = ynode_get(map, key);
    if (absent(v))
        return NULL;
    if (v->kind != YNODE_SCALAR) {
        lerr(l, v, "expected a string for '%s', got %s", key, ynode_describe(v));
        return NULL;
    }
    return sdup(l, v->str);
}

/* Required non-empty string under <key> of mapping <map>, which is <where> in messages. */
static const char *req_str(struct ld *l, const struct ynode *map, const char *key,
                           const char *where)
{
    const struct ynode *v = ynode_get(map, key);
    if (absent(v)) {
        if (!misspelt(l, map, key))
            lerr(l, at_key(map, key), "missing required key '%s' in %s", key, where);
        return NULL;
    }
    if (v->kind != YNODE_SCALAR) {
        lerr(l, v, "expected a string for '%s', got %s", key, ynode_describe(v));
        return NULL;
    }
    if (v->len == 0) {
        lerr(l, v, "'%s' must not be empty in %s", key, where);
        return NULL;
    }
    return sdup(l, v->str);
}

static int opt_bool(struct ld *l, const struct ynode *map, const char *key, signed char *out)
{
    const struct ynode *v = ynode_get(map, key);
    bool b;
    if (absent(v))
        return 0;
    if (ynode_bool(v, &b) < 0) {
        if (v->kind == YNODE_SCALAR)
            lerr(l, v, "expected true or false for '%s', got '%s'", key, v->str);
        else
            lerr(l, v, "expected true or false for '%s', got %s", key, ynode_describe(v));
        return -1;
    }
    *out = b;
    return 0;
}

/* The column of byte <off> of scalar <n>'s text, when it can be known: the text of a one-line
 * plain or quoted scalar starts at the node (after the quote). Escapes make it approximate. */
static int scalar_col(const struct ynode *n, size_t off)
{
    if (n->style == YNODE_BLOCK || memchr(n->str, '\n', n->len))
        return n->col;
    int col = n->col + (n->style == YNODE_PLAIN ? 0 : 1);
    for (size_t i = 0; i < off && i < n->len; i++)
        if (((unsigned char)n->str[i] & 0xC0) != 0x80)
            col++;
    return col;
}

/* A "named list": in alpha2 a sequence of mappings that carry a `name`; in ikanos documents
 * also a mapping keyed by name. Returns the number of entries (0 when absent or wrong). */
static size_t nl_count(struct ld *l, const struct ynode *n, const char *what)
{
    if (absent(n))
        return 0;
    if (n->kind == YNODE_SEQUENCE)
        return n->nitems;
    if (n->kind == YNODE_MAPPING && l->ikanos)
        return n->npairs;
    lerr(l, n, "expected a sequence for '%s', got %s", what, ynode_describe(n));
    return 0;
}

/* Entry <i> of a named list: the mapping, or NULL after reporting that it is not one.
 * <*key> receives the key node of a keyed entry (its name), else NULL. */
static const struct ynode *nl_item(struct ld *l, const struct ynode *n, size_t i, const char *what,
                                   const struct ynode **key)
{
    const struct ynode *item;
    *key = NULL;
    if (n->kind == YNODE_SEQUENCE) {
        item = n->items[i];
    } else {
        *key = n->pairs[i].key;
        item = n->pairs[i].value;
    }
    if (item->kind != YNODE_MAPPING) {
        lerr(l, item, "expected a mapping for an entry of '%s', got %s", what,
             ynode_describe(item));
        return NULL;
    }
    return item;
}

/* The name of a named-list entry: its key in a keyed list, else its required `name`. */
static const char *entry_name(struct ld *l, const struct ynode *item, const struct ynode *key,
                              bool required, const char *where)
{
    if (key)
        return sdup(l, key->str);
    return required ? req_str(l, item, "name", where) : opt_str(l, item, "name");
}

/* ---- parameters, outputs, authentication, body ---- */

/* `items:` of parameter <p>: {type: <scalar type>} (or a one-entry sequence of it, as the
 * reference engine reads it), only on an array. */
static void load_param_items(struct ld *l, const struct ynode *v, struct model_param *p)
{
    static const char *const names[] = {"string", "number", "integer", "boolean", "object"};
    if (v->kind == YNODE_SEQUENCE && v->nitems == 1)
        v = v->items[0];
    if (v->kind != YNODE_MAPPING) {
        lerr(l, v, "expected a mapping such as {type: string} for 'items', got %s",
             ynode_describe(v));
        return;
    }
    check_keys(l, v, &keys_param_items);
    if (p->type != MODEL_TYPE_ARRAY) {
        lerr(l, v, "'items' describes the items of an array, but parameter '%s' is of type %s",
             p->name ? p->name : "?", model_type_name(p->type));
        return;
    }
    const char *s = req_str(l, v, "type", "'items'");
    if (!s)
        return;
    enum model_type t = model_type_parse(s);
    if (t == MODEL_TYPE_ANY || t == MODEL_TYPE_ARRAY || !str_eq_ci(s, model_type_name(t))) {
        const char *near = util_closest(s, names, UTIL_ARRAY_LEN(names));
        lerr(l, ynode_get(v, "type"),
             "unknown item type '%s' for 'items'%s%s%s: expected string, number, integer, "
             "boolean or object",
             s, near ? " (did you mean '" : "", near ? near : "", near ? "'?)" : "");
        return;
    }
    p->items = t;
}

static void load_param(struct ld *l, const struct ynode *n, const struct ynode *key,
                       const struct ynode_keys *keys, struct model_param *p)
{
    const struct ynode *v;

    check_keys(l, n, keys);
    p->pos = pos_of(l, n);
    p->name = entry_name(l, n, key, true, "parameter");
    p->description = opt_str(l, n, "description");
    p->type = model_type_parse(opt_str(l, n, "type"));
    p->in = MODEL_IN_NONE;
    v = ynode_get(n, "in");
    if (!absent(v)) {
        int in = v->kind == YNODE_SCALAR ? model_in_parse(v->str) : -1;
        if (in < 0)
            lerr(l, v,
                 "unknown parameter location '%s' for 'in', expected one of path, query, "
                 "header, cookie, body, environment",
                 v->kind == YNODE_SCALAR ? v->str : ynode_describe(v));
        else
            p->in = (enum model_in)in;
    }
    signed char req = 0;
    opt_bool(l, n, "required", &req);
    p->required = req > 0;
    v = ynode_get(n, "value");
    if (!absent(v)) {
        const char *err = NULL;
        if (v->kind != YNODE_SCALAR)
            lerr(l, v, "expected a scalar for 'value', got %s", ynode_describe(v));
        else if (keys == &keys_rest_param && v->str[0] == '$' && jsonpath_check(v->str, &err) < 0)
            /* An exposed parameter's `$...` value selects from the request body. */
            lerr(l, v, "invalid JSONPath '%s' for 'value': %s", v->str, err ? err : "syntax error");
        else
            p->value = sdup(l, v->str);
    }
    v = ynode_get(n, "items");
    if (!absent(v))
        load_param_items(l, v, p);
}

/* <keys>: the keys a parameter may have where this list is (consumed, REST or MCP tool). */
static void load_params(struct ld *l, const struct ynode *n, const struct ynode_keys *keys,
                        struct model_param **out, size_t *nout)
{
    size_t count = nl_count(l, n, "inputParameters");
    *out = alloc_array(l, count, sizeof **out);
    *nout = count;
    for (size_t i = 0; i < count; i++) {
        const struct ynode *key, *item = nl_item(l, n, i, "inputParameters", &key);
        if (item)
            load_param(l, item, key, keys, &(*out)[i]);
        else
            (*out)[i].pos = pos_of(l, n);
    }
}

static void load_output(struct ld *l, const struct ynode *n, const char *name,
                        struct model_output *o);

static void load_outputs(struct ld *l, const struct ynode *n, const char *what,
                         struct model_output **out, size_t *nout)
{
    *out = NULL;
    *nout = 0;
    if (absent(n))
        return;
    if (n->kind == YNODE_SEQUENCE) {
        *out = alloc_array(l, n->nitems, sizeof **out);
        *nout = n->nitems;
        for (size_t i = 0; i < n->nitems; i++) {
            const struct ynode *item = n->items[i];
            (*out)[i].pos = pos_of(l, item);
            if (item->kind != YNODE_MAPPING)
                lerr(l, item, "expected a mapping for an entry of '%s', got %s", what,
                     ynode_describe(item));
            else
                load_output(l, item, NULL, &(*out)[i]);
        }
    } else if (n->kind == YNODE_MAPPING && strcmp(what, "properties") == 0) {
        /* `properties: {name: {type, mapping}}`, the shape later versions and the reference
         * examples use. */
        *out = alloc_array(l, n->npairs, sizeof **out);
        *nout = n->npairs;
        for (size_t i = 0; i < n->npairs; i++) {
            const struct ynode *item = n->pairs[i].value;
            (*out)[i].pos = pos_of(l, n->pairs[i].key);
            if (item->kind != YNODE_MAPPING)
                lerr(l, item, "expected a mapping for property '%s', got %s", n->pairs[i].key->str,
                     ynode_describe(item));
            else
                load_output(l, item, n->pairs[i].key->str, &(*out)[i]);
        }
    } else {
        lerr(l, n, "expected a sequence for '%s', got %s", what, ynode_describe(n));
    }
}

/* The byte offset of the first "{{" of <s> that no "}}" closes before the next "{{", or -1. */
static long unclosed_open(const char *s)
{
    for (const char *p = strstr(s, "{{"); p;) {
        const char *close = strstr(p + 2, "}}"), *next = strstr(p + 2, "{{");
        if (!close || (next && next < close))
            return p - s;
        p = strstr(close + 2, "{{");
    }
    return -1;
}

/* `type:` of an output: one of the JSON schema's names; an unknown one is an error, not "any". */
static enum model_type load_output_type(struct ld *l, const struct ynode *n)
{
    static const char *const names[] = {"string",  "number", "integer",
                                        "boolean", "array",  "object"};
    const struct ynode *v = ynode_get(n, "type");
    const char *s = opt_str(l, n, "type");
    enum model_type t = model_type_parse(s);
    if (s && t == MODEL_TYPE_ANY && !str_eq_ci(s, "any")) {
        const char *near = util_closest(s, names, UTIL_ARRAY_LEN(names));
        if (near)
            lerr(l, v, "unknown type '%s' for an output parameter (did you mean '%s'?)", s, near);
        else
            lerr(l, v,
                 "unknown type '%s' for an output parameter: expected string, number, integer, "
                 "boolean, array or object",
                 s);
    }
    return t;
}

/* `value:` that is not a JSONPath: a static value, which must convert to the declared type, or
 * a Mustache template over the inputs, whose every "{{" must be closed. */
static void load_output_value(struct ld *l, const struct ynode *v, struct model_output *o)
{
    long open = unclosed_open(v->str);
    if (open >= 0) {
        lerr_at(l, v->line, scalar_col(v, (size_t)open),
                "unclosed '{{' in value '%s': a Mustache placeholder is written {{name}}", v->str);
        return;
    }
    if (!template_has_placeholder(v->str)) {
        cJSON *j = typedval_parse(o->type, v->str);
        if (!j) {
            lerr(l, v, "value '%s' is not of type %s", v->str, model_type_name(o->type));
            return;
        }
        cJSON_Delete(j);
    } else if (o->type == MODEL_TYPE_OBJECT || o->type == MODEL_TYPE_ARRAY) {
        cJSON *j = typedval_parse(o->type, v->str);
        if (j)
            o->value_json = model_own_json(l->m, j);
    }
    o->value = sdup(l, v->str);
}

/* `const:` any JSON, typed as declared: a scalar is read like a static value (so `const: 42`
 * under `type: string` is "42"), a mapping or sequence must be an object or array output. */
static void load_output_const(struct ld *l, const struct ynode *v, struct model_output *o)
{
    cJSON *j;
    if (v->kind == YNODE_SCALAR && o->type != MODEL_TYPE_ANY)
        j = typedval_parse(o->type, v->str);
    else
        j = ynode_to_json(v);
    if (j && o->type == MODEL_TYPE_OBJECT && !cJSON_IsObject(j)) {
        cJSON_Delete(j);
        j = NULL;
    } else if (j && o->type == MODEL_TYPE_ARRAY && !cJSON_IsArray(j)) {
        cJSON_Delete(j);
        j = NULL;
    } else if (v->kind != YNODE_SCALAR && o->type != MODEL_TYPE_ANY &&
               o->type != MODEL_TYPE_OBJECT && o->type != MODEL_TYPE_ARRAY) {
        cJSON_Delete(j);
        j = NULL;
    }
    if (!j) {
        if (v->kind == YNODE_SCALAR)
            lerr(l, v, "const '%s' is not of type %s", v->str, model_type_name(o->type));
        else
            lerr(l, v, "const is %s, not of type %s", ynode_describe(v), model_type_name(o->type));
        return;
    }
    o->const_value = model_own_json(l->m, j);
}

/* `maxLength:` a positive number of characters, on an output that can be a string. */
static void load_output_max_length(struct ld *l, const struct ynode *v, struct model_output *o)
{
    long max;
    if (v->kind != YNODE_SCALAR || str_to_long(v->str, 1, INT_MAX, &max) < 0) {
        if (v->kind == YNODE_SCALAR)
            lerr(l, v, "expected a positive integer for 'maxLength', got '%s'", v->str);
        else
            lerr(l, v, "expected a positive integer for 'maxLength', got %s", ynode_describe(v));
        return;
    }
    if (o->type != MODEL_TYPE_STRING && o->type != MODEL_TYPE_ANY) {
        lerr(l, v, "'maxLength' cuts strings, but this output has type %s",
             model_type_name(o->type));
        return;
    }
    o->max_length = (size_t)max;
}

/* Whether sequence <v> lists named outputs: `items: [{name: a, ...}, {name: b, ...}]`, the
 * orchestrated form of an array of objects (each element has those properties). */
static bool named_outputs(const struct ynode *v)
{
    for (size_t i = 0; i < v->nitems; i++)
        if (v->items[i]->kind != YNODE_MAPPING || absent(ynode_get(v->items[i], "name")))
            return false;
    return v->nitems > 0;
}

/* `items:` or `values:`: one output description (`items` also as a one-entry sequence, the
 * shape the reference examples use, or as a list of named outputs: an object element with
 * those properties, as the reference engine's orchestrated form has it). */
static struct model_output *load_output_one(struct ld *l, const struct ynode *v, const char *key)
{
    if (!strcmp(key, "items") && v->kind == YNODE_SEQUENCE && named_outputs(v)) {
        struct model_output *obj = arena_alloc(&l->m->arena, sizeof *obj);
        memset(obj, 0, sizeof *obj);
        obj->pos = pos_of(l, v);
        obj->type = MODEL_TYPE_OBJECT;
        load_outputs(l, v, "items", &obj->properties, &obj->nproperties);
        return obj;
    }
    if (!strcmp(key, "items") && v->kind == YNODE_SEQUENCE && v->nitems == 1)
        v = v->items[0];
    if (v->kind != YNODE_MAPPING) {
        if (!strcmp(key, "items"))
            lerr(l, v,
                 "expected a mapping, a one-entry sequence or a list of named outputs for 'items', "
                 "got %s",
                 ynode_describe(v));
        else
            lerr(l, v, "expected a mapping for '%s', got %s", key, ynode_describe(v));
        return NULL;
    }
    struct model_output *one = arena_alloc(&l->m->arena, sizeof *one);
    memset(one, 0, sizeof *one);
    load_output(l, v, NULL, one);
    return one;
}

static void load_output(struct ld *l, const struct ynode *n, const char *name,
                        struct model_output *o)
{
    const struct ynode *map = ynode_get(n, "mapping"), *val = ynode_get(n, "value");
    const struct ynode *cst = ynode_get(n, "const"), *maxlen = ynode_get(n, "maxLength");
    const struct ynode *items = ynode_get(n, "items"), *values = ynode_get(n, "values");
    const char *key = "mapping";

    check_keys(l, n, &keys_output);
    o->pos = pos_of(l, n);
    o->name = name ? sdup(l, name) : opt_str(l, n, "name");
    o->type = load_output_type(l, n);
    if (!absent(map) && !absent(val)) {
        /* The schema allows one of them; the engine would let value win silently. */
        lerr(l, val,
             "both 'mapping' and 'value' given: keep one ('mapping' reads the upstream answer, "
             "'value' answers without it)");
    } else if (!absent(val)) {
        if (val->kind != YNODE_SCALAR)
            lerr(l, val, "expected a string for 'value', got %s", ynode_describe(val));
        else if (val->str[0] == '$')
            map = val, key = "value"; /* a JSONPath, as ConsumedOutputParameter writes it */
        else
            load_output_value(l, val, o);
    }
    if (!absent(map)) {
        const char *err = NULL;
        if (map->kind != YNODE_SCALAR)
            lerr(l, map, "expected a JSONPath string for '%s', got %s", key, ynode_describe(map));
        else if (jsonpath_check(map->str, &err) < 0)
            lerr(l, map, "invalid JSONPath '%s' for '%s': %s", map->str, key,
                 err ? err : "syntax error");
        else
            o->mapping = sdup(l, map->str);
    }
    if (!absent(cst))
        load_output_const(l, cst, o);
    if (!absent(maxlen))
        load_output_max_length(l, maxlen, o);
    load_outputs(l, ynode_get(n, "properties"), "properties", &o->properties, &o->nproperties);
    if (!absent(items))
        o->items = load_output_one(l, items, "items");
    if (!absent(values)) {
        if (o->type != MODEL_TYPE_OBJECT)
            lerr(l, values,
                 "'values' describes the members of an object, but this output has "
                 "type %s",
                 model_type_name(o->type));
        else if (o->nproperties)
            lerr(l, values,
                 "both 'properties' and 'values' given: an object is described by "
                 "its named properties or by one description of every member");
        else
            o->values = load_output_one(l, values, "values");
    }
}

/* An oauth2 URI <key> of <n>: required unless <opt>, absolute http(s) without fragment. http
 * only names a loopback host: keys or introspection answers fetched in clear over a network
 * could be replaced on the way, and every token would then be accepted. */
static const char *oauth2_uri(struct ld *l, const struct ynode *n, const char *key, bool opt)
{
    const char *v = opt ? opt_str(l, n, key) : req_str(l, n, key, "oauth2 authentication");
    if (!v)
        return NULL;
    const struct ynode *at = ynode_get(n, key);
    bool https = str_has_prefix(v, "https://");
    const char *hp = https ? v + 8 : str_has_prefix(v, "http://") ? v + 7 : NULL;
    size_t hlen = hp ? strcspn(hp, "/?#") : 0;
    char host[256];
    long port;
    if (!hp || !hlen || strchr(v, '#') || memchr(hp, '@', hlen) ||
        !hostport_split(hp, hlen, host, sizeof host, &port)) {
        lerr(l, at, "'%s' must be an absolute http(s) URI without user info or fragment, got '%s'",
             key, v);
        return NULL;
    }
    if (!https && !str_eq_ci(host, "localhost") && !str_has_prefix(host, "127.") &&
        !str_eq(host, "[::1]")) {
        lerr(l, at,
             "'%s' must use https (http only for a loopback host): keys and token answers "
             "fetched in clear could be replaced on the way",
             key);
        return NULL;
    }
    return v;
}

/* `type: oauth2` (AuthOAuth2): capproxy as an OAuth 2.1 resource server. */
static void load_oauth2(struct ld *l, const struct ynode *n, struct model_auth *a)
{
    check_keys(l, n, &keys_auth_oauth2);
    a->kind = MODEL_AUTH_OAUTH2;
    struct model_oauth2 *o = arena_alloc(&l->m->arena, sizeof *o); /* zeroed */
    a->oauth2 = o;
    o->as_uri = oauth2_uri(l, n, "authorizationServerUri", false);
    o->resource = oauth2_uri(l, n, "resource", false);
    o->token_endpoint = oauth2_uri(l, n, "tokenEndpoint", true);
    o->audience = opt_str(l, n, "audience");
    if (o->audience && !*o->audience) {
        lerr(l, ynode_get(n, "audience"),
             "'audience' must not be empty (leave it out to expect "
             "the 'resource' URI)");
        o->audience = NULL;
    }
    const struct ynode *tv = ynode_get(n, "tokenValidation");
    if (!absent(tv)) {
        if (tv->kind == YNODE_SCALAR && str_eq(tv->str, "introspection"))
            o->introspection = true;
        else if (!(tv->kind == YNODE_SCALAR && str_eq(tv->str, "jwks")))
            lerr(l, tv, "unknown tokenValidation '%s', expected jwks or introspection",
                 tv->kind == YNODE_SCALAR ? tv->str : ynode_describe(tv));
    }
    const struct ynode *sc = ynode_get(n, "scopes");
    if (absent(sc))
        return;
    if (sc->kind != YNODE_SEQUENCE) {
        lerr(l, sc, "expected a sequence of scope names for 'scopes', got %s", ynode_describe(sc));
        return;
    }
    o->scopes = alloc_array(l, sc->nitems, sizeof *o->scopes);
    for (size_t i = 0; i < sc->nitems; i++) {
        const struct ynode *s = sc->items[i];
        /* RFC 6749 3.3: a scope token is printable ASCII without space, '"' or '\\'. */
        bool ok = s->kind == YNODE_SCALAR && s->len > 0;
        for (size_t j = 0; ok && j < s->len; j++)
            ok = s->str[j] > 0x20 && s->str[j] < 0x7f && s->str[j] != '"' && s->str[j] != '\\';
        if (!ok) {
            lerr(l, s,
                 "a scope is a non-empty word of printable ASCII without spaces, quotes or "
                 "backslashes, got %s",
                 s->kind == YNODE_SCALAR ? s->str : ynode_describe(s));
            continue;
        }
        o->scopes[o->nscopes++] = sdup(l, s->str);
    }
}

static void load_auth(struct ld *l, const struct ynode *n, struct model_auth *a)
{
    const struct ynode *t;
    const char *need[3] = {NULL, NULL, NULL};

    a->kind = MODEL_AUTH_NONE;
    if (absent(n))
        return;
    a->pos = pos_of(l, n);
    if (!want_map(l, n, "authentication"))
        return;
    t = ynode_get(n, "type");
    if (absent(t)) {
        check_keys(l, n, &keys_auth_any);
        if (!misspelt(l, n, "type"))
            lerr(l, n,
                 "missing required key 'type' in authentication (bearer, basic, apikey, digest "
                 "or oauth2)");
        return;
    }
    if (t->kind == YNODE_SCALAR && str_eq_ci(t->str, "bearer")) {
        a->kind = MODEL_AUTH_BEARER;
        need[0] = "token";
        check_keys(l, n, &keys_auth_bearer);
    } else if (t->kind == YNODE_SCALAR && str_eq_ci(t->str, "basic")) {
        a->kind = MODEL_AUTH_BASIC;
        need[0] = "username";
        check_keys(l, n, &keys_auth_basic);
    } else if (t->kind == YNODE_SCALAR && str_eq_ci(t->str, "apikey")) {
        a->kind = MODEL_AUTH_APIKEY;
        need[0] = "key";
        need[1] = "value";
        check_keys(l, n, &keys_auth_apikey);
    } else if (t->kind == YNODE_SCALAR && str_eq_ci(t->str, "digest")) {
        a->kind = MODEL_AUTH_DIGEST;
        need[0] = "username";
        need[1] = "password"; /* digest hashes it: an empty one is a choice, not a default */
        check_keys(l, n, &keys_auth_digest);
    } else if (t->kind == YNODE_SCALAR && str_eq_ci(t->str, "oauth2")) {
        load_oauth2(l, n, a);
        return;
    } else {
        lerr(l, t,
             "unknown authentication type '%s', expected bearer, basic, apikey, digest or "
             "oauth2",
             t->kind == YNODE_SCALAR ? t->str : ynode_describe(t));
        return;
    }
    for (int i = 0; need[i]; i++)
        if (absent(ynode_get(n, need[i])) && !misspelt(l, n, need[i]))
            lerr(l, n, "missing required key '%s' in %s authentication", need[i], t->str);
    a->token = opt_str(l, n, "token");
    a->username = opt_str(l, n, "username");
    a->password = opt_str(l, n, "password");
    a->key = opt_str(l, n, "key");
    a->value = opt_str(l, n, "value");
    const struct ynode *pl = ynode_get(n, "placement");
    if (!absent(pl)) {
        if (pl->kind == YNODE_SCALAR && str_eq_ci(pl->str, "query"))
            a->in_query = true;
        else if (!(pl->kind == YNODE_SCALAR && str_eq_ci(pl->str, "header")))
            lerr(l, pl, "unknown placement '%s', expected header or query",
                 pl->kind == YNODE_SCALAR ? pl->str : ynode_describe(pl));
    }
}

/* The body types of the alpha2 schema, spelt as it spells them. */
static const struct {
    const char *name;
    enum model_body_kind kind;
} body_types[] = {
    {"json", MODEL_BODY_JSON},
    {"text", MODEL_BODY_TEXT},
    {"xml", MODEL_BODY_XML},
    {"sparql", MODEL_BODY_SPARQL},
    {"formUrlEncoded", MODEL_BODY_FORM},
    {"multipartForm", MODEL_BODY_MULTIPART},
};

/* A body template's every "{{" must be closed: an unclosed one would go upstream as text. The
 * error points at the brace. */
static bool body_template_ok(struct ld *l, const struct ynode *v)
{
    for (const char *o = strstr(v->str, "{{"); o; o = strstr(o + 2, "{{"))
        if (!strstr(o + 2, "}}")) {
            lerr_at(l, v->line, scalar_col(v, (size_t)(o - v->str)),
                    "unclosed '{{' in body template (expected '}}' after it)");
            return false;
        }
    return true;
}

/* Check every string leaf of a json body's `data`. */
static bool body_json_ok(struct ld *l, const struct ynode *v)
{
    bool ok = true;
    if (v->kind == YNODE_SCALAR)
        return body_template_ok(l, v);
    for (size_t i = 0; v->kind == YNODE_SEQUENCE && i < v->nitems; i++)
        ok = body_json_ok(l, v->items[i]) && ok;
    for (size_t i = 0; v->kind == YNODE_MAPPING && i < v->npairs; i++)
        ok = body_json_ok(l, v->pairs[i].value) && ok;
    return ok;
}

/* A string the body's `data` must be (text, xml, sparql; formUrlEncoded written pre-encoded). */
static const char *body_string(struct ld *l, const struct ynode *data, const char *type)
{
    if (data->kind != YNODE_SCALAR) {
        lerr(l, data, "expected a string for the 'data' of a %s body, got %s", type,
             ynode_describe(data));
        return NULL;
    }
    return body_template_ok(l, data) ? sdup(l, data->str) : NULL;
}

/* formUrlEncoded `data` as a mapping: field name -> a scalar value (a template when a string). */
static cJSON *body_form_fields(struct ld *l, const struct ynode *data)
{
    bool ok = true;
    for (size_t i = 0; i < data->npairs; i++) {
        const struct ynode *v = data->pairs[i].value;
        if (v->kind != YNODE_SCALAR || ynode_is_null(v)) {
            lerr(l, v, "expected a string, number or boolean for form field '%s', got %s",
                 data->pairs[i].key->str, ynode_describe(v));
            ok = false;
        } else {
            ok = body_template_ok(l, v) && ok;
        }
    }
    return ok ? model_own_json(l->m, ynode_to_json(data)) : NULL;
}

/* A part's name or filename goes inside a quoted Content-Disposition parameter: a quote, a
 * backslash or a control byte would end it or start a header of its own. */
static bool part_token_ok(struct ld *l, const struct ynode *part, const char *key)
{
    const struct ynode *v = ynode_get(part, key);
    if (absent(v) || v->kind != YNODE_SCALAR)
        return true;
    for (size_t i = 0; i < v->len; i++) {
        unsigned char c = (unsigned char)v->str[i];
        if (c < 0x20 || c == 0x7F || c == '"' || c == '\\') {
            lerr_at(l, v->line, scalar_col(v, i),
                    "multipartForm part %s contains a quote, backslash or control character "
                    "(CR, LF, ...)",
                    key);
            return false;
        }
    }
    return true;
}

static void load_body_parts(struct ld *l, const struct ynode *data, struct model_body *b)
{
    if (data->kind != YNODE_SEQUENCE) {
        lerr(l, data,
             "expected a sequence of parts {name, value, filename, contentType} for the 'data' "
             "of a multipartForm body, got %s",
             ynode_describe(data));
        return;
    }
    b->parts = alloc_array(l, data->nitems, sizeof *b->parts);
    b->nparts = data->nitems;
    for (size_t i = 0; i < data->nitems; i++) {
        const struct ynode *n = data->items[i];
        struct model_body_part *p = &b->parts[i];
        if (!want_map(l, n, "multipartForm part"))
            continue;
        check_keys(l, n, &keys_body_part);
        p->pos = pos_of(l, n);
        p->name = req_str(l, n, "name", "multipartForm part");
        const struct ynode *v = ynode_get(n, "value");
        if (absent(v)) {
            if (!misspelt(l, n, "value"))
                lerr(l, at_key(n, "value"), "missing required key 'value' in multipartForm part");
        } else if (v->kind != YNODE_SCALAR) {
            lerr(l, v, "expected a string for 'value', got %s", ynode_describe(v));
        } else if (body_template_ok(l, v)) {
            p->value = sdup(l, v->str);
        }
        p->filename = opt_str(l, n, "filename");
        p->content_type = opt_str(l, n, "contentType");
        part_token_ok(l, n, "name");
        part_token_ok(l, n, "filename");
        const struct ynode *ct = ynode_get(n, "contentType");
        if (p->content_type && !urlenc_header_value_ok(ct->str, ct->len))
            lerr(l, ct, "multipartForm part contentType contains a control character");
    }
}

/* `body`: a raw Mustache string, or {type, data} with a type of the schema's (json when the
 * type is left out, as the reference engine reads it). */
static void load_body(struct ld *l, const struct ynode *n, struct model_body *b)
{
    b->kind = MODEL_BODY_NONE;
    if (absent(n))
        return;
    b->pos = pos_of(l, n);
    if (n->kind == YNODE_SCALAR) {
        if (body_template_ok(l, n)) {
            b->kind = MODEL_BODY_TEMPLATE;
            b->template = sdup(l, n->str);
        }
        return;
    }
    if (n->kind != YNODE_MAPPING) {
        lerr(l, n,
             "expected a string template or a mapping {type, data} for 'body', "
             "got %s",
             ynode_describe(n));
        return;
    }
    const struct ynode *t = ynode_get(n, "type"), *data = ynode_get(n, "data");
    check_keys(l, n, &keys_body);
    enum model_body_kind kind = MODEL_BODY_JSON;
    const char *type = "json";
    if (!absent(t)) {
        const char *names[sizeof body_types / sizeof body_types[0]];
        size_t i = 0;
        for (; i < sizeof body_types / sizeof body_types[0]; i++) {
            names[i] = body_types[i].name;
            if (t->kind == YNODE_SCALAR && str_eq(t->str, body_types[i].name))
                break;
        }
        if (i == sizeof body_types / sizeof body_types[0]) {
            const char *shown = t->kind == YNODE_SCALAR ? t->str : ynode_describe(t);
            const char *near = t->kind == YNODE_SCALAR ? util_closest(t->str, names, i) : NULL;
            if (near)
                lerr(l, t, "unknown body type '%s' (did you mean '%s'?)", shown, near);
            else
                lerr(l, t,
                     "unknown body type '%s', expected one of json, text, xml, sparql, "
                     "formUrlEncoded, multipartForm",
                     shown);
            return;
        }
        kind = body_types[i].kind;
        type = body_types[i].name;
    }
    if (absent(data)) {
        if (!misspelt(l, n, "data"))
            lerr(l, at_key(n, "data"), "missing required key 'data' in %s body", type);
        return;
    }
    switch (kind) {
    case MODEL_BODY_JSON:
        if (body_json_ok(l, data))
            b->json = model_own_json(l->m, ynode_to_json(data));
        break;
    case MODEL_BODY_FORM:
        if (data->kind == YNODE_MAPPING)
            b->json = body_form_fields(l, data);
        else if (data->kind == YNODE_SCALAR)
            b->template = body_string(l, data, type);
        else
            lerr(l, data,
                 "expected a mapping of form fields or a pre-encoded string for the 'data' of a "
                 "formUrlEncoded body, got %s",
                 ynode_describe(data));
        if (!b->json && !b->template)
            return;
        break;
    case MODEL_BODY_MULTIPART:
        load_body_parts(l, data, b);
        break;
    default: /* text, xml, sparql */
        if (!(b->template = body_string(l, data, type)))
            return;
        break;
    }
    b->kind = kind;
}

/* ---- consumes ---- */

static const char *const method_list = "GET, POST, PUT, PATCH, DELETE, HEAD, OPTIONS";

static bool load_method(struct ld *l, const struct ynode *map, enum model_method *out,
                        const char *where)
{
    const struct ynode *v = ynode_get(map, "method");
    int m;
    if (absent(v)) {
        if (!misspelt(l, map, "method"))
            lerr(l, at_key(map, "method"), "missing required key 'method' in %s", where);
        return false;
    }
    m = v->kind == YNODE_SCALAR ? model_method_parse(v->str) : -1;
    if (m < 0) {
        lerr(l, v, "unknown method '%s', expected one of %s",
             v->kind == YNODE_SCALAR ? v->str : ynode_describe(v), method_list);
        return false;
    }
    *out = (enum model_method)m;
    return true;
}

/* A path template must be balanced; the error points at the offending brace. */
static const char *load_path(struct ld *l, const struct ynode *map, const char *where)
{
    const char *path = req_str(l, map, "path", where);
    const struct ynode *v = ynode_get(map, "path");
    size_t off = 0;
    const char *err = NULL;

    if (!path)
        return NULL;
    if (template_check_path(path, &off, &err) < 0) {
        lerr_at(l, v->line, scalar_col(v, off), "invalid path template '%s': %s", path,
                err ? err : "unbalanced braces");
        return NULL;
    }
    return path;
}

/* `outputRawFormat` and `outputSchema`: what the upstream answers and, for html and markdown,
 * what part of it to read. Avro and protobuf are refused here rather than at the first call. */
static void load_format(struct ld *l, const struct ynode *n, struct model_operation *op)
{
    static const char *const known[] = {"json", "xml",  "csv",      "tsv",  "psv",
                                        "yaml", "html", "markdown", "avro", "protobuf"};
    const struct ynode *v = ynode_get(n, "outputRawFormat");
    op->output_raw_format = opt_str(l, n, "outputRawFormat");
    op->output_schema = opt_str(l, n, "outputSchema");
    op->output_format = MODEL_FORMAT_JSON;
    if (!op->output_raw_format)
        return;
    int f = model_format_parse(op->output_raw_format);
    if (f >= 0) {
        op->output_format = (enum model_format)f;
    } else if (str_eq_ci(op->output_raw_format, "avro")) {
        lerr(l, v,
             "outputRawFormat 'avro' is not supported: capproxy has no Avro decoder (reading "
             "Avro binary needs the writer's schema from outputSchema); have the upstream "
             "answer JSON");
        return;
    } else if (str_eq_ci(op->output_raw_format, "protobuf")) {
        lerr(l, v,
             "outputRawFormat 'protobuf' is not supported: decoding Protocol Buffers in C "
             "needs code generated from the .proto file, and no library reads a .proto at run "
             "time; have the upstream answer JSON");
        return;
    } else {
        const char *close = util_closest(op->output_raw_format, known, UTIL_ARRAY_LEN(known));
        lerr(l, v,
             "unknown outputRawFormat '%s'%s%s%s; expected one of json, xml, csv, tsv, psv, "
             "yaml, html, markdown",
             op->output_raw_format, close ? " (did you mean '" : "", close ? close : "",
             close ? "'?)" : "");
        return;
    }
    if (op->output_format == MODEL_FORMAT_HTML && op->output_schema) {
        char why[160];
        char *xp = selector_to_xpath(op->output_schema, why, sizeof why);
        if (!xp)
            lerr(l, ynode_get(n, "outputSchema"), "invalid outputSchema CSS selector '%s': %s",
                 op->output_schema, why);
        else
            op->output_xpath = sdup(l, xp); /* once, not per answer */
        free(xp);
    }
}

static void load_operation(struct ld *l, const struct ynode *n, const struct ynode *key,
                           struct model_operation *op)
{
    check_keys(l, n, &keys_operation);
    op->pos = pos_of(l, n);
    op->name = entry_name(l, n, key, true, "consumed operation");
    load_method(l, n, &op->method, "consumed operation");
    op->description = opt_str(l, n, "description");
    load_params(l, ynode_get(n, "inputParameters"), &keys_consumed_param, &op->params,
                &op->nparams);
    load_body(l, ynode_get(n, "body"), &op->body);
    load_format(l, n, op);
    load_outputs(l, ynode_get(n, "outputParameters"), "outputParameters", &op->outputs,
                 &op->noutputs);
}

static void load_resource(struct ld *l, const struct ynode *n, const struct ynode *key,
                          struct model_consumer *c, struct model_resource *r)
{
    const struct ynode *ops = ynode_get(n, "operations");

    check_keys(l, n, &keys_resource);
    r->pos = pos_of(l, n);
    r->name = entry_name(l, n, key, false, "consumed resource");
    r->path = load_path(l, n, "consumed resource");
    r->description = opt_str(l, n, "description");
    r->noperations = nl_count(l, ops, "operations");
    r->operations = alloc_array(l, r->noperations, sizeof *r->operations);
    for (size_t i = 0; i < r->noperations; i++) {
        struct model_operation *op = &r->operations[i];
        const struct ynode *k, *item = nl_item(l, ops, i, "operations", &k);
        op->resource = r;
        op->consumer = c;
        op->pos = pos_of(l, ops);
        if (item)
            load_operation(l, item, k, op);
    }
}

static void load_import(struct ld *l, const struct ynode *n, struct model_consumer *c);

static void load_consumer(struct ld *l, const struct ynode *n, struct model_consumer *c)
{
    const struct ynode *res = ynode_get(n, "resources");
    size_t unknown = l->nunknown;

    if (ynode_get_key(n, "import") || ynode_get_key(n, "location")) {
        load_import(l, n, c);
        return;
    }
    const char *type = opt_str(l, n, "type");
    check_keys(l, n, &keys_consumes);
    c->pos = pos_of(l, n);
    c->cap = l->cap;
    c->type = type ? type : "http";
    if (type && !str_eq_ci(type, "http"))
        lerr(l, ynode_get(n, "type"), "unsupported consumes type '%s', expected 'http'", type);
    c->ns = req_str(l, n, "namespace", "consumes entry");
    c->base_uri = opt_str(l, n, "baseUri");
    if (!c->base_uri)
        c->base_uri = "";
    c->description = opt_str(l, n, "description");
    load_params(l, ynode_get(n, "inputParameters"), &keys_consumed_param, &c->params, &c->nparams);
    const struct ynode *auth_type = ynode_get(ynode_get(n, "authentication"), "type");
    if (auth_type && auth_type->kind == YNODE_SCALAR && str_eq_ci(auth_type->str, "oauth2"))
        lerr(l, auth_type,
             "oauth2 makes capproxy check the tokens of its own callers: it belongs on an "
             "exposes adapter, not on a consumed API");
    else
        load_auth(l, ynode_get(n, "authentication"), &c->auth);
    c->nresources = nl_count(l, res, "resources");
    c->resources = alloc_array(l, c->nresources, sizeof *c->resources);
    for (size_t i = 0; i < c->nresources; i++) {
        const struct ynode *k, *item = nl_item(l, res, i, "resources", &k);
        c->resources[i].pos = pos_of(l, res);
        if (item)
            load_resource(l, item, k, c, &c->resources[i]);
    }
    c->incomplete = l->nunknown > unknown;
}

/* ---- shared files and imports ---- */

static int check_version(struct ld *l, const struct ynode *root, const char **version);

/* Read <path> whole into <buf>, up to the document size limit. 0 on success; -1 with errno set
 * (EFBIG past the limit); -2 when <regular> asks for a regular file and <path> is not one.
 * Reads up to the cap instead of trusting st_size: a document named on the command line may be
 * a pipe, and a file may grow while it is read. A file a document names (an import, a resource
 * or prompt file) must be regular: opening a FIFO would block the load until a writer came, a
 * device might never end. It is opened without blocking and checked before it is read. */
static int read_doc(struct model *m, const char *path, bool regular, struct strbuf *buf)
{
    FILE *fp = NULL;
    char chunk[65536];
    size_t n;
    int rc = 0;

    strbuf_init(buf, LOADER_MAX_DOC_SIZE);
    if (regular) {
        struct stat st;
        int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
        if (fd < 0)
            return -1;
        if (fstat(fd, &st) < 0)
            rc = -1;
        else if (!S_ISREG(st.st_mode))
            rc = -2;
        if (rc < 0) {
            int saved = errno;
            close(fd);
            errno = saved;
            return rc;
        }
        fp = fdopen(fd, "rb");
        if (!fp)
            close(fd);
    } else {
        fp = fopen(path, "rb");
    }
    if (!fp)
        return -1;
    while (rc == 0 && (n = fread(chunk, 1, sizeof chunk, fp)) > 0)
        if (strbuf_add(buf, chunk, n) < 0) {
            errno = EFBIG;
            rc = -1;
        }
    if (rc == 0 && ferror(fp)) {
        errno = EIO;
        rc = -1;
    }
    fclose(fp);
    if (rc == 0)
        model_note_source(m, path, buf->data ? buf->data : "", buf->len);
    return rc;
}

/* The namespace an entry of a shared file's `consumes` is imported under: its `namespace`, or
 * for an entry that is itself an import, its `as` else its `import`. NULL when it has none. */
static const char *shared_entry_ns(const struct ynode *item)
{
    static const char *const keys[] = {"namespace", "as", "import"};
    if (item->kind != YNODE_MAPPING)
        return NULL;
    for (size_t i = 0; i < UTIL_ARRAY_LEN(keys); i++) {
        const struct ynode *v = ynode_get(item, keys[i]);
        if (v && v->kind == YNODE_SCALAR && !ynode_is_null(v))
            return v->str;
    }
    return NULL;
}

/* The entry of shared file <doc> (read by <sub>) named <name>, or NULL after reporting why not
 * at <at>, the importing entry's `location` (read by <l>). */
static const struct ynode *shared_entry(struct ld *l, struct ld *sub, const struct ynode *at,
                                        const struct ynode_doc *doc, const char *name)
{
    const struct ynode *root = doc->root, *cons;
    const char *version;

    if (!root) {
        lerr(l, at, "imported file '%s' is empty: expected a shared file with a root 'consumes'",
             sub->file);
        return NULL;
    }
    if (root->kind != YNODE_MAPPING) {
        lerr(l, at,
             "imported file '%s' is not a shared file: its root is %s, expected a mapping "
             "with 'naftiko' and 'consumes'",
             sub->file, ynode_describe(root));
        return NULL;
    }
    sub->ikanos = ynode_get(root, "naftiko") == NULL && ynode_get(root, "ikanos") != NULL;
    check_keys(sub, root, &keys_root);
    if (check_version(sub, root, &version) < 0)
        return NULL;
    if (ynode_get(root, "capability")) {
        lerr(l, at,
             "imported file '%s' is a capability document, not a shared file (one with a root "
             "'consumes' and no 'capability')",
             sub->file);
        return NULL;
    }
    cons = ynode_get(root, "consumes");
    if (absent(cons)) {
        lerr(l, at, "imported file '%s' is not a shared file: it has no root 'consumes'",
             sub->file);
        return NULL;
    }
    if (cons->kind != YNODE_SEQUENCE) {
        lerr(sub, cons, "expected a sequence for 'consumes', got %s", ynode_describe(cons));
        return NULL;
    }
    struct util_closest close;
    struct strbuf names;
    util_closest_init(&close, name);
    strbuf_init(&names, 0);
    for (size_t i = 0; i < cons->nitems; i++) {
        const char *ns = shared_entry_ns(cons->items[i]);
        if (ns && strcmp(ns, name) == 0) {
            strbuf_deinit(&names);
            return cons->items[i];
        }
        if (ns) {
            util_closest_add(&close, ns);
            strbuf_addf(&names, "%s'%s'", names.len ? ", " : "", ns);
        }
    }
    if (close.best)
        lerr(l, at, "imported file '%s' has no consumes namespace '%s' (did you mean '%s'?)",
             sub->file, name, close.best);
    else
        lerr(l, at, "imported file '%s' has no consumes namespace '%s'; it has %s", sub->file, name,
             names.len ? names.data : "none");
    strbuf_deinit(&names);
    return NULL;
}

/* Whether importing <real> from <l>'s file closes a cycle; reported at <at> with where that file
 * is already being read. */
static bool import_cycle(struct ld *l, const struct ynode *at, const char *path, const char *real)
{
    for (const struct ld_import *i = l->chain; i; i = i->up) {
        if (!i->real || strcmp(i->real, real) != 0)
            continue;
        if (i->file)
            lerr(l, at, "import cycle: '%s' is already being imported, at %s:%d:%d", path, i->file,
                 i->line, i->col);
        else
            lerr(l, at, "import cycle: '%s' is the document these imports start from", path);
        return true;
    }
    return false;
}

/* `{import: NAME, location: PATH, as: ALIAS}`: consumes entry NAME of the shared file at PATH
 * (relative to this file's directory), as this document's consumes namespace ALIAS (NAME when
 * absent). The imported entry is read like one written here, its positions in the shared file;
 * the consumer's own position is the import's, so that collisions name it. */
static void load_import(struct ld *l, const struct ynode *n, struct model_consumer *c)
{
    const struct ynode *at = ynode_get(n, "location");
    const char *name, *loc, *alias;
    char *path = NULL, *err = NULL, *real = NULL;
    struct strbuf buf = {0};
    struct ynode_doc *doc = NULL;
    struct ld_import link;
    struct ld sub;

    check_keys(l, n, &keys_import);
    c->pos = pos_of(l, n);
    c->cap = l->cap;
    /* Until the import is read: a call into it is then not reported again as unresolved. */
    c->incomplete = true;
    name = req_str(l, n, "import", "imported consumes entry");
    loc = req_str(l, n, "location", "imported consumes entry");
    alias = opt_str(l, n, "as");
    c->ns = alias ? alias : name;
    if (!name || !loc)
        return;
    path = location_file(l->file, loc, true, &err);
    if (!path) {
        lerr(l, at, "import 'location': %s", err);
        goto cleanup;
    }
    if (l->chain && l->chain->depth >= LOADER_MAX_IMPORT_DEPTH) {
        lerr(l, at, "imports nested more than %d deep (a shared file importing from another)",
             LOADER_MAX_IMPORT_DEPTH);
        goto cleanup;
    }
    real = realpath(path, NULL);
    if (real && import_cycle(l, at, path, real))
        goto cleanup;
    int rd = real ? read_doc(l->m, real, true, &buf) : -1;
    if (rd == -2) {
        lerr(l, at, "imported file '%s' is not a regular file", path);
        goto cleanup;
    }
    if (rd < 0) {
        if (errno == EFBIG)
            lerr(l, at, "imported file '%s' is too large: the limit is %zu bytes (4 MiB)", path,
                 LOADER_MAX_DOC_SIZE);
        else
            lerr(l, at, "cannot read imported file '%s': %s", path, strerror(errno));
        goto cleanup;
    }
    if (buf.len > LOADER_MAX_IMPORT_BYTES - *l->import_bytes) {
        lerr(l, at, "imports read more than %zu bytes in all for this document",
             LOADER_MAX_IMPORT_BYTES);
        goto cleanup;
    }
    *l->import_bytes += buf.len;

    link = (struct ld_import){
        real, l->file, at->line, at->col, l->chain ? l->chain->depth + 1 : 1, l->chain};
    sub = (struct ld){.m = l->m,
                      .d = l->d,
                      .cap = l->cap,
                      .file = sdup(l, path),
                      .nerrors = l->nerrors,
                      .chain = &link,
                      .import_bytes = l->import_bytes};
    if (ynode_looks_like_html(buf.data ? buf.data : "", buf.len)) {
        lerr(l, at, "imported file '%s' looks like an HTML page, not a YAML shared file", path);
        goto cleanup;
    }
    doc = ynode_parse(sub.file, buf.data ? buf.data : "", buf.len, l->d);
    const struct ynode *entry = doc ? shared_entry(l, &sub, at, doc, name) : NULL;
    if (entry && entry->kind != YNODE_MAPPING)
        lerr(&sub, entry, "expected a mapping for an entry of 'consumes', got %s",
             ynode_describe(entry));
    else if (entry)
        load_consumer(&sub, entry, c);
    l->nerrors = sub.nerrors;
    free(sub.typos);
    if (!entry)
        goto cleanup;
    /* What the importing entry says wins: its position, its name for the API, its text. */
    c->pos = pos_of(l, n);
    c->cap = l->cap;
    c->ns = alias ? alias : name;
    char *source = xasprintf("%s#%s", real, name);
    c->source = sdup(l, source);
    free(source);
    if (!absent(ynode_get(n, "description")))
        c->description = opt_str(l, n, "description");
cleanup:
    ynode_doc_free(doc);
    strbuf_deinit(&buf);
    free(real);
    free(path);
    free(err);
}

/* ---- exposes ---- */

/* Where a REST operation or tool gets its values (see model_with_kind). */
static void classify_with(struct ld *l, const struct ynode *v, const char *own_ns,
                          struct model_with *w)
{
    const char *s = v->str;

    if (template_has_open(s)) {
        w->kind = MODEL_WITH_TEMPLATE;
        w->text = sdup(l, s);
        return;
    }
    /* Either prefix is accepted on either adapter: documents are often copied between the two,
     * and the literal text "rest.x" is never what a document means. */
    enum template_ref kind;
    size_t klen;
    const char *ref = template_ref_key(s, strlen(s), own_ns, TREF_ANY, &klen, &kind);
    if (kind != TREF_NONE) {
        w->kind = MODEL_WITH_REF;
        w->ref = sdup(l, ref);
        return;
    }
    w->kind = MODEL_WITH_LITERAL;
    w->text = sdup(l, s);
    w->literal = model_own_json(l->m, ynode_scalar_json(v));
}

/* A call step can be no longer than this many steps: each step is one upstream request (or a
 * lookup) per call, so the cap bounds what one request can cost. The document bounds it too,
 * this only refuses the absurd. */
#define LOADER_MAX_STEPS 32

/* Resolve "<ns>.<operation>" <str> (the value of node <v>) into <*target> when its namespace is
 * already loaded; a namespace that no document loaded so far consumes may still be defined by a
 * later file, so checks_validate checks it. */
static void resolve_call(struct ld *l, const struct ynode *v, const char *str,
                         struct model_operation **target)
{
    const char *dot = strrchr(str, '.');
    if (!dot || dot == str || !dot[1]) {
        lerr(l, v, "expected '<consumes namespace>.<operation>' for 'call', got '%s'", str);
        return;
    }
    *target = model_find_operation(l->m, str);
    if (*target)
        return;
    char *ns = xstrndup(str, (size_t)(dot - str));
    const struct model_consumer *c = model_find_consumer(l->m, ns);
    if (c && !model_consumer_has_nameless_operation(c))
        lerr(l, v,
             "call '%s' names no consumed operation: consumes namespace '%s' has no operation '%s'",
             str, ns, dot + 1);
    free(ns);
}

/* `with:` (of a call or a call step): consumed parameter -> reference, template or literal. */
static void load_with(struct ld *l, const struct ynode *with, const char *own_ns,
                      struct model_with **out, size_t *nout)
{
    if (absent(with) || !want_map(l, with, "with"))
        return;
    *nout = with->npairs;
    *out = alloc_array(l, with->npairs, sizeof **out);
    for (size_t i = 0; i < with->npairs; i++) {
        const struct ynode *k = with->pairs[i].key, *val = with->pairs[i].value;
        struct model_with *w = &(*out)[i];
        w->name = sdup(l, k->str);
        w->pos = pos_of(l, k);
        if (val->kind != YNODE_SCALAR) {
            lerr(l, val, "expected a scalar for 'with' entry '%s', got %s", k->str,
                 ynode_describe(val));
            w->kind = MODEL_WITH_LITERAL;
            w->text = "";
            continue;
        }
        classify_with(l, val, own_ns, w);
    }
}

/* Whether an outputParameters list (or an output's properties/items) gives some value of its
 * own (a `value` that is no JSONPath, or `const`): a call without `call` or `steps` then mocks. */
static bool outputs_give_values(const struct ynode *n)
{
    if (absent(n))
        return false;
    if (n->kind == YNODE_SEQUENCE) {
        for (size_t i = 0; i < n->nitems; i++)
            if (outputs_give_values(n->items[i]))
                return true;
        return false;
    }
    if (n->kind != YNODE_MAPPING)
        return false;
    const struct ynode *v = ynode_get(n, "value");
    if (ynode_get(n, "const") || (!absent(v) && v->kind == YNODE_SCALAR && v->str[0] != '$'))
        return true;
    if (outputs_give_values(ynode_get(n, "items")))
        return true;
    const struct ynode *props = ynode_get(n, "properties");
    if (!absent(props) && props->kind == YNODE_MAPPING) {
        for (size_t i = 0; i < props->npairs; i++)
            if (outputs_give_values(props->pairs[i].value))
                return true;
        return false;
    }
    return outputs_give_values(props);
}

/* Step names are kebab-case identifiers (alpha2 IdentifierKebab): `$.<step>.<path>` and
 * {{<step>.<field>}} split at the first dot, so a name cannot hold one. */
static bool step_name_ok(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++)
        if (!(isalnum((unsigned char)*s) || *s == '-'))
            return false;
    return true;
}

static void load_step_lookup(struct ld *l, const struct ynode *n, struct model_step *st)
{
    check_keys(l, n, &keys_step_lookup);
    st->kind = MODEL_STEP_LOOKUP;
    st->index = req_str(l, n, "index", "lookup step");
    st->match = req_str(l, n, "match", "lookup step");
    st->lookup_value = req_str(l, n, "lookupValue", "lookup step");
    const struct ynode *f = ynode_get(n, "outputParameters");
    if (absent(f))
        return; /* every field of the matched entries */
    if (f->kind != YNODE_SEQUENCE) {
        lerr(l, f,
             "expected a sequence of field names for 'outputParameters' of a lookup step, got %s",
             ynode_describe(f));
        return;
    }
    st->fields = alloc_array(l, f->nitems, sizeof *st->fields);
    for (size_t i = 0; i < f->nitems; i++) {
        const struct ynode *it = f->items[i];
        if (it->kind != YNODE_SCALAR || it->len == 0)
            lerr(
                l, it,
                "expected a field name for an entry of 'outputParameters' of a lookup step, got %s",
                ynode_describe(it));
        else
            st->fields[st->nfields++] = sdup(l, it->str);
    }
}

/* One entry of `steps:`. Returns false when it is not usable (reported). */
static bool load_step(struct ld *l, const struct ynode *n, const char *own_ns,
                      struct model_step *st)
{
    st->pos = pos_of(l, n);
    const struct ynode *t = ynode_get(n, "type");
    if (absent(t)) {
        check_keys(l, n, &keys_step_any);
        if (!misspelt(l, n, "type"))
            lerr(l, n, "missing required key 'type' in step (call or lookup)");
        return false;
    }
    const char *type = t->kind == YNODE_SCALAR ? t->str : "";
    if (str_eq(type, "script")) {
        lerr(l, n,
             "script steps (javascript, python, groovy) are not supported by capproxy: step '%s' "
             "cannot run; use call and lookup steps, or move the logic behind a consumed API",
             ynode_get(n, "name") && ynode_get(n, "name")->kind == YNODE_SCALAR
                 ? ynode_get(n, "name")->str
                 : "?");
        return false;
    }
    if (!str_eq(type, "call") && !str_eq(type, "lookup")) {
        lerr(l, t, "unknown step type '%s', expected call or lookup",
             t->kind == YNODE_SCALAR ? t->str : ynode_describe(t));
        return false;
    }
    st->name = req_str(l, n, "name", "step");
    if (st->name && !step_name_ok(st->name))
        lerr(l, ynode_get(n, "name"),
             "step name '%s' must be kebab-case (letters, digits and '-'): later steps and "
             "mappings read it as '$.%s.<field>'",
             st->name, st->name);
    if (str_eq(type, "lookup")) {
        load_step_lookup(l, n, st);
        return true;
    }
    check_keys(l, n, &keys_step_call);
    st->kind = MODEL_STEP_CALL;
    st->call = req_str(l, n, "call", "call step");
    if (st->call)
        resolve_call(l, ynode_get(n, "call"), st->call, &st->target);
    load_with(l, ynode_get(n, "with"), own_ns, &st->with, &st->nwith);
    return true;
}

/* The step named <name>[0..len) among <steps>[0..n), or -1. */
static long step_find(const struct model_step *steps, size_t n, const char *name, size_t len)
{
    for (size_t i = 0; i < n; i++)
        if (steps[i].name && strlen(steps[i].name) == len && memcmp(steps[i].name, name, len) == 0)
            return (long)i;
    return -1;
}

/* Report that <what> '<ref>' (the value of <at>) names no step of <steps>[0..n), with the
 * closest step name when one is near. */
static void step_unknown(struct ld *l, const struct ynode *at, const char *what, const char *ref,
                         const char *name, size_t len, const struct model_step *steps, size_t n)
{
    char *word = xstrndup(name, len);
    struct util_closest c;
    util_closest_init(&c, word);
    for (size_t i = 0; i < n; i++)
        util_closest_add(&c, steps[i].name);
    if (c.best)
        lerr(l, at, "%s '%s' names no step (did you mean '%s'?)", what, ref, c.best);
    else
        lerr(l, at, "%s '%s' names no step of this call", what, ref);
    free(word);
}

/* A `$.<step>[.<path>]` reference <ref> (the value of <at>) must name one of the first <n>
 * steps; <what> says where it is written. <all>: the call's steps, for "did you mean" and to
 * tell a later step from an unknown one. */
static void step_ref_check(struct ld *l, const struct ynode *at, const char *what, const char *ref,
                           const struct model_step *all, size_t nall, size_t n)
{
    if (strncmp(ref, "$.", 2) != 0 || !ref[2]) {
        lerr(l, at, "expected '$.<step>.<path>' for %s, got '%s'", what, ref);
        return;
    }
    /* The step name ends at the path after it: `.field`, or an index or wildcard (`[0]`). */
    const char *name = ref + 2, *why = NULL;
    size_t len = strcspn(name, ".[");
    if (jsonpath_check(ref, &why) < 0) {
        lerr(l, at, "invalid JSONPath '%s' for %s: %s", ref, what, why);
        return;
    }
    long i = step_find(all, nall, name, len);
    if (i < 0)
        step_unknown(l, at, what, ref, name, len, all, nall);
    else if ((size_t)i >= n)
        lerr(l, at, "%s '%s' reads step '%s', which runs later: a step reads only earlier ones",
             what, ref, all[i].name);
}

/* What one call's steps and mappings may refer to, all within the call: unique names, lookups
 * over earlier steps, mappings over existing steps. */
static void check_steps(struct ld *l, const struct ynode *steps_n, const struct ynode *maps_n,
                        const struct model_call *call)
{
    for (size_t i = 0; i < call->nsteps; i++) {
        const struct model_step *st = &call->steps[i];
        const struct ynode *sn = steps_n->items[i];
        if (!st->name)
            continue;
        long first = step_find(call->steps, i, st->name, strlen(st->name));
        if (first >= 0)
            lerr(l, ynode_get(sn, "name"), "duplicate step name '%s': already defined at %s:%d:%d",
                 st->name, call->steps[first].pos.file, call->steps[first].pos.line,
                 call->steps[first].pos.col);
        if (st->kind != MODEL_STEP_LOOKUP)
            continue;
        if (st->index) {
            long ix = step_find(call->steps, call->nsteps, st->index, strlen(st->index));
            if (ix < 0)
                step_unknown(l, ynode_get(sn, "index"), "lookup index", st->index, st->index,
                             strlen(st->index), call->steps, call->nsteps);
            else if ((size_t)ix >= i)
                lerr(l, ynode_get(sn, "index"),
                     "lookup index '%s' is not an earlier step: a lookup searches the result of "
                     "a step that ran before it",
                     st->index);
        }
        /* `$.<step>.<path>`, else a text that may hold {{placeholders}} (as the engine). */
        if (st->lookup_value && st->lookup_value[0] == '$')
            step_ref_check(l, ynode_get(sn, "lookupValue"), "lookupValue", st->lookup_value,
                           call->steps, call->nsteps, i);
    }
    for (size_t i = 0; i < call->nmappings; i++) {
        const struct model_step_mapping *mp = &call->mappings[i];
        if (mp->value)
            step_ref_check(l, ynode_get(maps_n->items[i], "value"), "mapping value", mp->value,
                           call->steps, call->nsteps, call->nsteps);
    }
}

static bool target_name_ok(const char *s)
{
    for (; *s; s++)
        if (!(isalnum((unsigned char)*s) || *s == '-' || *s == '_' || *s == '.'))
            return false;
    return true;
}

static void load_mappings(struct ld *l, const struct ynode *n, struct model_call *call)
{
    if (n->kind != YNODE_SEQUENCE) {
        lerr(l, n, "expected a sequence for 'mappings', got %s", ynode_describe(n));
        return;
    }
    call->mappings = alloc_array(l, n->nitems, sizeof *call->mappings);
    call->nmappings = n->nitems;
    for (size_t i = 0; i < n->nitems; i++) {
        const struct ynode *item = n->items[i];
        struct model_step_mapping *mp = &call->mappings[i];
        mp->pos = pos_of(l, item);
        if (!want_map(l, item, "mappings"))
            continue;
        check_keys(l, item, &keys_mapping);
        mp->target = req_str(l, item, "targetName", "mapping");
        mp->value = req_str(l, item, "value", "mapping");
        if (mp->target && (!target_name_ok(mp->target) || mp->target[0] == '.' ||
                           mp->target[strlen(mp->target) - 1] == '.' || strstr(mp->target, "..")))
            lerr(l, ynode_get(item, "targetName"),
                 "invalid targetName '%s': expected names of letters, digits, '-' and '_' joined "
                 "by '.' (route.from)",
                 mp->target);
    }
}

static void load_steps(struct ld *l, const struct ynode *n, const char *own_ns,
                       struct model_call *call)
{
    if (n->kind != YNODE_SEQUENCE || n->nitems == 0) {
        lerr(l, n, "expected a non-empty sequence for 'steps', got %s", ynode_describe(n));
        return;
    }
    if (n->nitems > LOADER_MAX_STEPS) {
        lerr(l, n, "too many steps (%zu): at most %d per call", n->nitems, LOADER_MAX_STEPS);
        return;
    }
    call->steps = alloc_array(l, n->nitems, sizeof *call->steps);
    call->nsteps = n->nitems;
    bool ok = true;
    for (size_t i = 0; i < n->nitems; i++)
        if (!want_map(l, n->items[i], "steps") ||
            !load_step(l, n->items[i], own_ns, &call->steps[i]))
            ok = false;
    if (ok)
        call->kind = MODEL_CALL_STEPS;
}

/* What a REST operation, tool or aggregate function does (<own_ns>: the namespace a `with`
 * value may start with to name an input, the adapter's or the aggregate's): `call` (+ `with`)
 * one consumed operation, `steps`
 * (+ `mappings`) several, `ref` an aggregate function (resolved by checks_validate), or none
 * of them with outputParameters that give values: a mock. A call into a namespace this
 * document consumes is checked now, at the call's position; one into a namespace that no
 * document loaded so far consumes may still be defined by a later file, so checks_validate
 * checks it. */
static void load_call(struct ld *l, const struct ynode *n, const char *own_ns,
                      struct model_call *call, const char *where,
                      const struct ynode_keys *param_keys)
{
    const struct ynode *v = ynode_get(n, "call");
    const struct ynode *steps = ynode_get(n, "steps"), *maps = ynode_get(n, "mappings");

    call->ref = opt_str(l, n, "ref");
    load_params(l, ynode_get(n, "inputParameters"), param_keys, &call->params, &call->nparams);
    call->params_declared = !absent(ynode_get(n, "inputParameters"));
    load_outputs(l, ynode_get(n, "outputParameters"), "outputParameters", &call->outputs,
                 &call->noutputs);
    if (!absent(v) && !absent(steps)) {
        lerr(l, steps,
             "'call' and 'steps' cannot be used together in %s: 'call' calls one consumed "
             "operation, 'steps' several (each call step names its own)",
             where);
        return;
    }
    if (!absent(steps)) {
        if (!absent(ynode_get(n, "with")))
            lerr(l, ynode_get(n, "with"),
                 "'with' belongs to 'call': with 'steps', each call step has its own 'with'");
        load_steps(l, steps, own_ns, call);
        if (!absent(maps))
            load_mappings(l, maps, call);
        if (call->kind == MODEL_CALL_STEPS)
            check_steps(l, steps, maps, call);
        return;
    }
    if (!absent(maps))
        lerr(l, maps, "'mappings' needs 'steps': it builds the answer from the steps' results");
    if (absent(v) && !call->ref) {
        if (outputs_give_values(ynode_get(n, "outputParameters"))) {
            call->kind = MODEL_CALL_MOCK;
            return;
        }
        if (!misspelt(l, n, "call") && !misspelt(l, n, "steps"))
            lerr(
                l, at_key(n, "call"),
                "missing required key 'call' in %s (or 'steps' to orchestrate calls, 'ref' to "
                "use an aggregate function, or outputParameters with a 'value' to mock the answer)",
                where);
        return;
    }
    if (absent(v)) {
        /* `ref`: checks_validate copies the function's call here; the referrer's own `with`
         * entries are kept and win over the function's. */
        load_with(l, ynode_get(n, "with"), own_ns, &call->with, &call->nwith);
        return;
    }
    call->kind = MODEL_CALL_SIMPLE;
    call->call = req_str(l, n, "call", where);
    if (call->call)
        resolve_call(l, v, call->call, &call->target);
    load_with(l, ynode_get(n, "with"), own_ns, &call->with, &call->nwith);
}

/* `forward` of a REST resource: {targetNamespace, trustedHeaders}. The namespace is resolved
 * by checks_validate (a later file may consume it); the header names are checked here. */
static struct model_forward *load_forward(struct ld *l, const struct ynode *n)
{
    struct model_forward *f = alloc_array(l, 1, sizeof *f);
    const struct ynode *th = ynode_get(n, "trustedHeaders");
    const struct ynode *ns = ynode_get(n, "targetNamespace");

    check_keys(l, n, &keys_forward);
    f->pos = pos_of(l, absent(ns) ? at_key(n, "targetNamespace") : ns);
    f->target_ns = req_str(l, n, "targetNamespace", "forward");
    if (absent(th))
        return f;
    if (th->kind != YNODE_SEQUENCE) {
        lerr(l, th, "expected a sequence of header names for 'trustedHeaders', got %s",
             ynode_describe(th));
        return f;
    }
    if (th->nitems == 0) {
        lerr(l, th,
             "'trustedHeaders' must list at least one header name (leave it out to "
             "forward none of the caller's headers)");
        return f;
    }
    f->trusted_headers = alloc_array(l, th->nitems, sizeof *f->trusted_headers);
    for (size_t i = 0; i < th->nitems; i++) {
        const struct ynode *h = th->items[i];
        if (h->kind != YNODE_SCALAR || !urlenc_header_name_ok(h->str)) {
            lerr(l, h,
                 "expected an HTTP header name (letters, digits and !#$%%&'*+-.^_`|~) in "
                 "'trustedHeaders', got %s%s%s",
                 h->kind == YNODE_SCALAR ? "'" : "",
                 h->kind == YNODE_SCALAR ? h->str : ynode_describe(h),
                 h->kind == YNODE_SCALAR ? "'" : "");
            continue;
        }
        bool dup = false;
        for (size_t j = 0; j < f->ntrusted && !dup; j++)
            dup = str_eq_ci(f->trusted_headers[j], h->str);
        if (dup) {
            lerr(l, h, "header '%s' is listed twice in 'trustedHeaders'", h->str);
            continue;
        }
        f->trusted_headers[f->ntrusted++] = sdup(l, h->str);
    }
    return f;
}

/* An operation's declared inputs: its own, then its resource's it does not redeclare (the
 * reference engine reads the resource's first and lets the operation's overwrite them). */
static void inherit_resource_params(struct ld *l, const struct model_rest_resource *r,
                                    struct model_call *call)
{
    if (r->nparams == 0)
        return;
    struct model_param *all = alloc_array(l, call->nparams + r->nparams, sizeof *all);
    size_t n = 0;
    for (size_t i = 0; i < call->nparams; i++)
        all[n++] = call->params[i];
    for (size_t i = 0; i < r->nparams; i++) {
        bool mine = false;
        for (size_t j = 0; j < call->nparams && !mine; j++)
            mine = r->params[i].name && call->params[j].name &&
                   str_eq(r->params[i].name, call->params[j].name);
        if (!mine)
            all[n++] = r->params[i];
    }
    call->params = all;
    call->nparams = n;
    call->params_declared = true;
}

static void load_rest_resource(struct ld *l, const struct ynode *n, const struct ynode *key,
                               struct model_expose *e, struct model_rest_resource *r)
{
    const struct ynode *ops = ynode_get(n, "operations");
    const struct ynode *fwd = ynode_get(n, "forward");

    check_keys(l, n, &keys_rest_resource);
    r->pos = pos_of(l, n);
    r->expose = e;
    r->path = load_path(l, n, "REST resource");
    r->name = entry_name(l, n, key, false, "REST resource");
    r->description = opt_str(l, n, "description");
    load_params(l, ynode_get(n, "inputParameters"), &keys_rest_param, &r->params, &r->nparams);
    if (!absent(fwd) && want_map(l, fwd, "forward"))
        r->forward = load_forward(l, fwd);
    /* The schema's anyOf: a resource serves operations, forwards, or both (then its operations
     * serve their methods and the forward every other one, as in the reference engine). */
    if (absent(ops) && absent(fwd) && !misspelt(l, n, "operations") && !misspelt(l, n, "forward"))
        lerr(l, n, "REST resource '%s' has neither 'operations' nor 'forward'",
             r->path ? r->path : "?");
    r->noperations = nl_count(l, ops, "operations");
    r->operations = alloc_array(l, r->noperations, sizeof *r->operations);
    for (size_t i = 0; i < r->noperations; i++) {
        struct model_rest_op *op = &r->operations[i];
        const struct ynode *k, *item = nl_item(l, ops, i, "operations", &k);
        op->resource = r;
        op->pos = pos_of(l, item ? item : ops);
        if (!item)
            continue;
        check_keys(l, item, &keys_rest_op);
        load_method(l, item, &op->method, "REST operation");
        op->name = entry_name(l, item, k, false, "REST operation");
        op->description = opt_str(l, item, "description");
        load_call(l, item, e->ns, &op->call, "REST operation", &keys_rest_param);
        inherit_resource_params(l, r, &op->call);
    }
}

static void load_tool(struct ld *l, const struct ynode *n, const struct ynode *key,
                      struct model_expose *e, struct model_tool *t)
{
    const struct ynode *hints = ynode_get(n, "hints");

    check_keys(l, n, &keys_tool);
    t->pos = pos_of(l, n);
    t->expose = e;
    /* With `ref`, the name defaults to the function's, known from the ref already (set after
     * load_call below), so duplicate tool names are still found at load. */
    t->name = entry_name(l, n, key, absent(ynode_get(n, "ref")), "MCP tool");
    t->description = opt_str(l, n, "description");
    t->label = opt_str(l, n, "label");
    if (!t->label && l->ikanos)
        t->label = opt_str(l, n, "display");
    t->hints = (struct model_hints){-1, -1, -1, -1};
    if (!absent(hints) && want_map(l, hints, "hints")) {
        check_keys(l, hints, &keys_hints);
        opt_bool(l, hints, "readOnly", &t->hints.read_only);
        opt_bool(l, hints, "destructive", &t->hints.destructive);
        opt_bool(l, hints, "idempotent", &t->hints.idempotent);
        opt_bool(l, hints, "openWorld", &t->hints.open_world);
    }
    load_call(l, n, e->ns, &t->call, "MCP tool", &keys_tool_param);
    if (!t->name && t->call.ref && strrchr(t->call.ref, '.'))
        t->name = strrchr(t->call.ref, '.') + 1;
}

/* ---- MCP resources and prompts ---- */

/* Files of one `location` directory served as resources, and how deep it is walked. */
#define LOADER_MAX_RESOURCE_FILES 1000
#define LOADER_MAX_RESOURCE_DEPTH 16

/* The MIME type of a resource file without `mimeType`, by its extension; a file of another
 * extension is text/plain when it is text, else application/octet-stream. */
static const char *guess_mime(const char *path, bool binary)
{
    static const struct {
        const char *ext, *mime;
    } types[] = {
        {".md", "text/markdown"},      {".markdown", "text/markdown"}, {".txt", "text/plain"},
        {".json", "application/json"}, {".yaml", "application/yaml"},  {".yml", "application/yaml"},
        {".xml", "application/xml"},   {".html", "text/html"},         {".htm", "text/html"},
        {".csv", "text/csv"},          {".png", "image/png"},          {".jpg", "image/jpeg"},
        {".jpeg", "image/jpeg"},       {".gif", "image/gif"},          {".svg", "image/svg+xml"},
        {".pdf", "application/pdf"},
    };
    const char *dot = strrchr(path, '.');
    for (size_t i = 0; dot && !strchr(dot, '/') && i < UTIL_ARRAY_LEN(types); i++)
        if (str_eq_ci(dot, types[i].ext))
            return types[i].mime;
    return binary ? "application/octet-stream" : "text/plain";
}

/* Read <path> (a resource or prompt file) into the arena, counted against the document's
 * import budget: these files are read at every (re)load, never per request. NULL after
 * reporting at <at>. */
static const char *read_side_file(struct ld *l, const struct ynode *at, const char *path,
                                  size_t *len)
{
    struct strbuf buf;
    const char *data = NULL;
    int rd = read_doc(l->m, path, true, &buf);
    if (rd == -2) {
        lerr(l, at, "file '%s' is not a regular file", path);
    } else if (rd < 0) {
        if (errno == EFBIG)
            lerr(l, at, "file '%s' is larger than %zu bytes", path, LOADER_MAX_DOC_SIZE);
        else
            lerr(l, at, "cannot read file '%s': %s", path, strerror(errno));
    } else if (buf.len > LOADER_MAX_IMPORT_BYTES - *l->import_bytes) {
        lerr(l, at,
             "file '%s': more than %zu bytes of imported and resource files for this "
             "document",
             path, LOADER_MAX_IMPORT_BYTES);
    } else {
        *l->import_bytes += buf.len;
        char *d = arena_alloc(&l->m->arena, buf.len + 1);
        if (buf.len)
            memcpy(d, buf.data, buf.len);
        *len = buf.len;
        data = d;
    }
    strbuf_deinit(&buf);
    return data;
}

/* One file served as resource <uri>. */
static void resource_file(struct ld *l, const struct ynode *at, struct model_mcp_resource *r,
                          const char *path, const char *uri)
{
    size_t len = 0;
    const char *data = read_side_file(l, at, path, &len);
    if (!data)
        return;
    if (r->nfiles % 16 == 0) {
        struct model_mcp_file *f = alloc_array(l, r->nfiles + 16, sizeof *f);
        if (r->nfiles)
            memcpy(f, r->files, r->nfiles * sizeof *f);
        r->files = f;
    }
    struct model_mcp_file *f = &r->files[r->nfiles++];
    f->uri = sdup(l, uri);
    f->data = data;
    f->len = len;
    f->binary = memchr(data, '\0', len) || !utf8_valid(data, len, NULL);
    f->mime_type = r->mime_type ? r->mime_type : guess_mime(path, f->binary);
}

static int name_strcmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Every regular file under directory <dir> (hidden entries skipped), in name order, as
 * <uri>/<relative path>. */
static void resource_dir(struct ld *l, const struct ynode *at, struct model_mcp_resource *r,
                         const char *dir, const char *uri, int depth)
{
    DIR *dp = opendir(dir);
    if (!dp) {
        lerr(l, at, "cannot read directory '%s': %s", dir, strerror(errno));
        return;
    }
    model_note_source(l->m, dir, NULL, 0);
    char **names = NULL;
    size_t n = 0;
    for (struct dirent *de; (de = readdir(dp));) {
        if (de->d_name[0] == '.')
            continue;
        names = xrealloc(names, (n + 1) * sizeof *names);
        names[n++] = xstrdup(de->d_name);
    }
    closedir(dp);
    if (n)
        qsort(names, n, sizeof *names, name_strcmp);
    for (size_t i = 0; i < n; i++) {
        char *path = xasprintf("%s/%s", dir, names[i]);
        char *sub = xasprintf("%s/%s", uri, names[i]);
        struct stat st;
        if (stat(path, &st) < 0) {
            lerr(l, at, "cannot read '%s': %s", path, strerror(errno));
        } else if (S_ISDIR(st.st_mode)) {
            if (depth >= LOADER_MAX_RESOURCE_DEPTH)
                lerr(l, at, "directory '%s' is nested more than %d levels deep", path,
                     LOADER_MAX_RESOURCE_DEPTH);
            else
                resource_dir(l, at, r, path, sub, depth + 1);
        } else if (S_ISREG(st.st_mode)) {
            if (r->nfiles >= LOADER_MAX_RESOURCE_FILES)
                lerr(l, at, "more than %d files under '%s'", LOADER_MAX_RESOURCE_FILES, dir);
            else
                resource_file(l, at, r, path, sub);
        }
        free(path);
        free(sub);
        free(names[i]);
        if (r->nfiles >= LOADER_MAX_RESOURCE_FILES && depth == 0 && i + 1 < n) {
            for (size_t j = i + 1; j < n; j++)
                free(names[j]);
            break;
        }
    }
    free(names);
}

static void load_resource_location(struct ld *l, const struct ynode *n,
                                   struct model_mcp_resource *r)
{
    const struct ynode *at = ynode_get(n, "location");
    char *err = NULL, *path = location_file(l->file, r->location, false, &err);
    struct stat st;
    if (!path) {
        lerr(l, at, "resource 'location': %s", err);
    } else if (stat(path, &st) < 0) {
        lerr(l, at, "resource 'location' '%s': %s", path, strerror(errno));
    } else if (S_ISDIR(st.st_mode)) {
        r->is_dir = true;
        resource_dir(l, at, r, path, r->uri, 0);
    } else {
        resource_file(l, at, r, path, r->uri);
    }
    free(path);
    free(err);
}

/* A uri template's placeholder becomes a declared string input of the resource's call. */
static void add_uri_param(void *arg, const char *name, size_t len)
{
    struct ld *l = ((void **)arg)[0];
    struct model_mcp_resource *r = ((void **)arg)[1];
    struct model_call *c = &r->call;
    for (size_t i = 0; i < c->nparams; i++)
        if (strlen(c->params[i].name) == len && memcmp(c->params[i].name, name, len) == 0)
            return;
    struct model_param *p = alloc_array(l, c->nparams + 1, sizeof *p);
    if (c->nparams)
        memcpy(p, c->params, c->nparams * sizeof *p);
    p[c->nparams] = (struct model_param){.name = arena_strndup(&l->m->arena, name, len),
                                         .in = MODEL_IN_NONE,
                                         .type = MODEL_TYPE_STRING,
                                         .description = "URI template variable",
                                         .required = true,
                                         .pos = r->pos};
    c->params = p;
    c->nparams++;
}

/* A MIME type as RFC 6838 writes it: type/subtype, then optional ; parameters. */
static bool mime_ok(const char *s)
{
    static const char tok[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
                              "!#$&^_.+-";
    size_t a = strspn(s, tok);
    if (a == 0 || s[a] != '/')
        return false;
    size_t b = strspn(s + a + 1, tok);
    const char *rest = s + a + 1 + b;
    return b > 0 && (!*rest || *rest == ';' || *rest == ' ');
}

static void load_mcp_resource(struct ld *l, const struct ynode *n, const struct ynode *key,
                              struct model_expose *e, struct model_mcp_resource *r)
{
    const struct ynode *loc = ynode_get(n, "location"), *call = ynode_get(n, "call"),
                       *steps = ynode_get(n, "steps");

    check_keys(l, n, &keys_mcp_resource);
    r->pos = pos_of(l, n);
    r->expose = e;
    r->name = entry_name(l, n, key, true, "MCP resource");
    r->label = opt_str(l, n, "label");
    r->description = opt_str(l, n, "description");
    r->uri = req_str(l, n, "uri", "MCP resource");
    r->mime_type = opt_str(l, n, "mimeType");
    if (r->mime_type && !mime_ok(r->mime_type)) {
        lerr(l, ynode_get(n, "mimeType"),
             "'mimeType' must be a MIME type such as text/markdown or application/json, got '%s'",
             r->mime_type);
        r->mime_type = NULL;
    }
    if (r->uri) {
        size_t off;
        const char *err;
        const struct ynode *u = ynode_get(n, "uri");
        size_t scheme = strspn(r->uri, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                       "0123456789+.-");
        int nvars = uritpl_check(r->uri, &off, &err);
        if (nvars < 0) {
            lerr_at(l, u->line, scalar_col(u, off), "resource 'uri' '%s': %s", r->uri, err);
            r->uri = NULL;
        } else if (scheme == 0 || r->uri[scheme] != ':' || !isalpha((unsigned char)r->uri[0])) {
            lerr(l, u,
                 "resource 'uri' must be an absolute URI with a scheme (docs://guide, "
                 "file:///x, users://{id}), got '%s'",
                 r->uri);
            r->uri = NULL;
        } else {
            r->is_template = nvars > 0;
        }
    }
    bool dynamic = !absent(call) || !absent(steps);
    if (!absent(loc)) {
        r->location = opt_str(l, n, "location");
        if (dynamic) {
            lerr(l, loc,
                 "'location' and '%s' cannot be used together in an MCP resource: 'location' "
                 "serves files, '%s' calls the consumed API",
                 absent(call) ? "steps" : "call", absent(call) ? "steps" : "call");
            return;
        }
        if (r->uri && r->is_template) {
            lerr(l, ynode_get(n, "uri"),
                 "a resource with 'location' serves fixed files: its 'uri' cannot have {param} "
                 "placeholders (a directory's files are served under <uri>/<file>)");
            return;
        }
        if (r->location && r->uri)
            load_resource_location(l, n, r);
        return;
    }
    if (!dynamic) {
        if (!misspelt(l, n, "location") && !misspelt(l, n, "call") && !misspelt(l, n, "steps"))
            lerr(l, at_key(n, "location"),
                 "an MCP resource needs 'location' (files served as they are) or 'call' / "
                 "'steps' (read from the consumed API)");
        return;
    }
    load_call(l, n, e->ns, &r->call, "MCP resource", &keys_tool_param);
    /* Its inputs are the uri's variables, exactly: a read has no other arguments. */
    r->call.params_declared = true;
    if (r->uri && r->is_template)
        uritpl_each(r->uri, add_uri_param, (void *[]){l, r});
}

/* A prompt text's {{placeholders}} must name its arguments. */
struct prompt_check {
    struct ld *l;
    const struct ynode *at;
    const struct model_mcp_prompt *p;
};

static int prompt_placeholder(void *arg, const char *name, size_t len)
{
    struct prompt_check *pc = arg;
    const struct model_mcp_prompt *p = pc->p;
    for (size_t i = 0; i < p->nargs; i++)
        if (p->args[i].name && strlen(p->args[i].name) == len &&
            memcmp(p->args[i].name, name, len) == 0)
            return 0;
    char *word = xstrndup(name, len);
    struct util_closest c;
    util_closest_init(&c, word);
    for (size_t i = 0; i < p->nargs; i++)
        util_closest_add(&c, p->args[i].name);
    const char *best = c.best;
    if (best)
        lerr(pc->l, pc->at,
             "prompt '%s': placeholder '{{%s}}' names no argument (did you mean "
             "'%s'?)",
             p->name ? p->name : "", word, best);
    else
        lerr(pc->l, pc->at, "prompt '%s': placeholder '{{%s}}' names no argument of the prompt",
             p->name ? p->name : "", word);
    free(word);
    return 0;
}

static void load_prompt_args(struct ld *l, const struct ynode *n, struct model_mcp_prompt *p)
{
    p->nargs = nl_count(l, n, "arguments");
    p->args = alloc_array(l, p->nargs, sizeof *p->args);
    for (size_t i = 0; i < p->nargs; i++) {
        const struct ynode *key, *item = nl_item(l, n, i, "arguments", &key);
        struct model_prompt_arg *a = &p->args[i];
        a->pos = pos_of(l, item ? item : n);
        a->required = true;
        if (!item)
            continue;
        check_keys(l, item, &keys_prompt_arg);
        a->name = entry_name(l, item, key, true, "prompt argument");
        a->label = opt_str(l, item, "label");
        a->description = opt_str(l, item, "description");
        signed char req = -1;
        opt_bool(l, item, "required", &req);
        a->required = req != 0;
        for (size_t j = 0; a->name && j < i; j++)
            if (str_eq(p->args[j].name, a->name))
                lerr(l, item, "prompt argument '%s' is also declared at %d:%d", a->name,
                     p->args[j].pos.line, p->args[j].pos.col);
    }
}

static void load_prompt_template(struct ld *l, const struct ynode *n, struct model_mcp_prompt *p)
{
    p->nmessages = nl_count(l, n, "template");
    p->messages = alloc_array(l, p->nmessages, sizeof *p->messages);
    for (size_t i = 0; i < p->nmessages; i++) {
        const struct ynode *key, *item = nl_item(l, n, i, "template", &key);
        struct model_prompt_msg *msg = &p->messages[i];
        msg->pos = pos_of(l, item ? item : n);
        if (!item)
            continue;
        check_keys(l, item, &keys_prompt_msg);
        msg->role = req_str(l, item, "role", "prompt message");
        if (msg->role && !str_eq(msg->role, "user") && !str_eq(msg->role, "assistant")) {
            lerr(l, ynode_get(item, "role"),
                 "unknown prompt message role '%s', expected user or "
                 "assistant",
                 msg->role);
            msg->role = NULL;
        }
        msg->content = opt_str(l, item, "content");
        if (!msg->content) {
            if (!misspelt(l, item, "content"))
                lerr(l, at_key(item, "content"),
                     "missing required key 'content' in prompt "
                     "message");
            continue;
        }
        struct prompt_check pc = {l, ynode_get(item, "content"), p};
        template_each(msg->content, prompt_placeholder, &pc);
    }
}

static void load_prompt(struct ld *l, const struct ynode *n, const struct ynode *key,
                        struct model_expose *e, struct model_mcp_prompt *p)
{
    const struct ynode *tpl = ynode_get(n, "template"), *loc = ynode_get(n, "location");

    check_keys(l, n, &keys_prompt);
    p->pos = pos_of(l, n);
    p->expose = e;
    p->name = entry_name(l, n, key, true, "MCP prompt");
    p->label = opt_str(l, n, "label");
    p->description = opt_str(l, n, "description");
    load_prompt_args(l, ynode_get(n, "arguments"), p);
    if (!absent(tpl) && !absent(loc)) {
        lerr(l, loc,
             "'template' and 'location' cannot be used together in an MCP prompt: "
             "'template' lists the messages, 'location' reads one from a file");
        return;
    }
    if (!absent(tpl)) {
        load_prompt_template(l, tpl, p);
        return;
    }
    if (absent(loc)) {
        if (!misspelt(l, n, "template") && !misspelt(l, n, "location"))
            lerr(l, at_key(n, "template"),
                 "an MCP prompt needs 'template' (its messages) or "
                 "'location' (a file read as one user message)");
        return;
    }
    p->location = opt_str(l, n, "location");
    if (!p->location)
        return;
    char *err = NULL, *path = location_file(l->file, p->location, false, &err);
    size_t len = 0;
    const char *text = path ? read_side_file(l, loc, path, &len) : NULL;
    if (!path)
        lerr(l, loc, "prompt 'location': %s", err);
    else if (text && (memchr(text, '\0', len) || !utf8_valid(text, len, NULL)))
        lerr(l, loc, "prompt file '%s' is not UTF-8 text", path);
    else if (text) {
        p->messages = alloc_array(l, 1, sizeof *p->messages);
        p->messages[0] = (struct model_prompt_msg){.role = "user", .content = text, .pos = p->pos};
        p->nmessages = 1;
        struct prompt_check pc = {l, loc, p};
        template_each(text, prompt_placeholder, &pc);
    }
    free(path);
    free(err);
}

/* `resources` and `prompts` of an MCP adapter, each name (and resource uri) once. */
static void load_mcp_extras(struct ld *l, const struct ynode *n, struct model_expose *e)
{
    const struct ynode *res = ynode_get(n, "resources"), *prm = ynode_get(n, "prompts");
    e->nmcp_resources = nl_count(l, res, "resources");
    e->mcp_resources = alloc_array(l, e->nmcp_resources, sizeof *e->mcp_resources);
    for (size_t i = 0; i < e->nmcp_resources; i++) {
        const struct ynode *k, *item = nl_item(l, res, i, "resources", &k);
        struct model_mcp_resource *r = &e->mcp_resources[i];
        r->expose = e;
        r->pos = pos_of(l, res);
        if (!item)
            continue;
        load_mcp_resource(l, item, k, e, r);
        for (size_t j = 0; j < i; j++) {
            const struct model_mcp_resource *o = &e->mcp_resources[j];
            if (r->name && str_eq(o->name, r->name))
                lerr(l, item, "MCP resource name '%s' is also used at %d:%d", r->name, o->pos.line,
                     o->pos.col);
            if (r->uri && str_eq(o->uri, r->uri))
                lerr(l, item, "MCP resource uri '%s' is also used at %d:%d", r->uri, o->pos.line,
                     o->pos.col);
        }
    }
    e->nprompts = nl_count(l, prm, "prompts");
    e->prompts = alloc_array(l, e->nprompts, sizeof *e->prompts);
    for (size_t i = 0; i < e->nprompts; i++) {
        const struct ynode *k, *item = nl_item(l, prm, i, "prompts", &k);
        struct model_mcp_prompt *p = &e->prompts[i];
        p->expose = e;
        p->pos = pos_of(l, prm);
        if (!item)
            continue;
        load_prompt(l, item, k, e, p);
        for (size_t j = 0; p->name && j < i; j++)
            if (str_eq(e->prompts[j].name, p->name))
                lerr(l, item, "MCP prompt '%s' is also defined at %d:%d", p->name,
                     e->prompts[j].pos.line, e->prompts[j].pos.col);
    }
}

static void load_port(struct ld *l, const struct ynode *n, struct model_expose *e)
{
    const struct ynode *v = ynode_get(n, "port");
    long port;

    e->port = -1;
    if (absent(v))
        return;
    if (v->kind != YNODE_SCALAR || str_to_long(v->str, 1, 65535, &port) < 0) {
        lerr(l, v, "expected a port number between 1 and 65535 for 'port', got %s%s%s",
             v->kind == YNODE_SCALAR ? "'" : "",
             v->kind == YNODE_SCALAR ? v->str : ynode_describe(v),
             v->kind == YNODE_SCALAR ? "'" : "");
        return;
    }
    e->port = (int)port;
}

/* ---- skill and control adapters ---- */

/* A kebab-case identifier (the schema's IdentifierKebab): lower-case letters, digits and
 * single hyphens, 1 to 64 characters. */
static bool kebab_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 64 || s[0] == '-' || s[n - 1] == '-')
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') ||
              (s[i] == '-' && s[i + 1] != '-')))
            return false;
    return true;
}

static const char *kebab_name(struct ld *l, const struct ynode *item, const char *where)
{
    const char *name = req_str(l, item, "name", where);
    if (name && !kebab_ok(name))
        lerr(l, ynode_get(item, "name"),
             "%s name '%s' must be kebab-case (lower-case letters, digits, hyphens; at most 64)",
             where, name);
    return name;
}

/* The number of characters (code points) of UTF-8 text <s>. */
static size_t char_count(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        if (((unsigned char)*s & 0xC0) != 0x80)
            n++;
    return n;
}

/* A string of at most <max> characters (the schema's maxLength), when present. */
static const char *opt_str_max(struct ld *l, const struct ynode *map, const char *key, size_t max)
{
    const char *v = opt_str(l, map, key);
    if (v && char_count(v) > max)
        lerr(l, ynode_get(map, key), "'%s' is longer than %zu characters", key, max);
    return v;
}

static void load_skill_tool(struct ld *l, const struct ynode *n, struct model_skill *sk,
                            struct model_skill_tool *t)
{
    const struct ynode *from = ynode_get(n, "from");
    check_keys(l, n, &keys_skill_tool);
    t->pos = pos_of(l, n);
    t->name = kebab_name(l, n, "skill tool");
    t->description = req_str(l, n, "description", "skill tool");
    t->instruction = opt_str(l, n, "instruction");
    if (!absent(from) && want_map(l, from, "from")) {
        check_keys(l, from, &keys_skill_from);
        t->from_ns = req_str(l, from, "sourceNamespace", "from");
        t->from_action = req_str(l, from, "action", "from");
        t->from_ns_pos = pos_of(
            l, ynode_get(from, "sourceNamespace") ? ynode_get(from, "sourceNamespace") : from);
        t->from_action_pos =
            pos_of(l, ynode_get(from, "action") ? ynode_get(from, "action") : from);
    }
    if (!absent(from) && t->instruction)
        lerr(l, n, "skill tool '%s' has both 'from' and 'instruction'; give one",
             t->name ? t->name : "?");
    else if (absent(from) && !t->instruction && !misspelt(l, n, "from") &&
             !misspelt(l, n, "instruction"))
        lerr(l, n,
             "skill tool '%s' needs 'from' (a sibling adapter's operation or tool) or "
             "'instruction' (a file under the skill's location)",
             t->name ? t->name : "?");
    if (t->instruction && !sk->location)
        lerr(l, ynode_get(n, "instruction"),
             "skill tool '%s' uses 'instruction' but skill '%s' has no 'location'",
             t->name ? t->name : "?", sk->name ? sk->name : "?");
    if (t->instruction && (t->instruction[0] == '/' || strstr(t->instruction, "..")))
        lerr(l, ynode_get(n, "instruction"),
             "'instruction' must be a path inside the skill's location, got '%s'", t->instruction);
}

static void load_skill(struct ld *l, const struct ynode *n, struct model_skill *sk)
{
    const struct ynode *meta = ynode_get(n, "metadata"), *tools = ynode_get(n, "tools");
    check_keys(l, n, &keys_skill);
    sk->pos = pos_of(l, n);
    sk->name = kebab_name(l, n, "skill");
    sk->description = req_str(l, n, "description", "skill");
    if (sk->description && char_count(sk->description) > 1024)
        lerr(l, ynode_get(n, "description"), "'description' is longer than 1024 characters");
    sk->license = opt_str(l, n, "license");
    sk->compatibility = opt_str_max(l, n, "compatibility", 500);
    sk->allowed_tools = opt_str_max(l, n, "allowed-tools", 1024);
    sk->argument_hint = opt_str(l, n, "argument-hint");
    sk->user_invocable = sk->disable_model_invocation = -1;
    opt_bool(l, n, "user-invocable", &sk->user_invocable);
    opt_bool(l, n, "disable-model-invocation", &sk->disable_model_invocation);
    if (!absent(meta) && want_map(l, meta, "metadata")) {
        sk->meta_keys = alloc_array(l, meta->npairs, sizeof *sk->meta_keys);
        sk->meta_values = alloc_array(l, meta->npairs, sizeof *sk->meta_values);
        for (size_t i = 0; i < meta->npairs; i++) {
            const struct ynode *v = meta->pairs[i].value;
            if (v->kind != YNODE_SCALAR) {
                lerr(l, v, "expected a string for metadata '%s', got %s", meta->pairs[i].key->str,
                     ynode_describe(v));
                continue;
            }
            sk->meta_keys[sk->nmeta] = sdup(l, meta->pairs[i].key->str);
            sk->meta_values[sk->nmeta++] = sdup(l, v->str);
        }
    }
    sk->location = opt_str(l, n, "location");
    if (sk->location) {
        /* Relative to the document, as every other location (file:///./x is not /x). */
        char *err = NULL, *path = location_file(l->file, sk->location, false, &err);
        if (!path)
            lerr(l, ynode_get(n, "location"), "skill 'location': %s", err);
        else
            sk->dir = sdup(l, path);
        free(path);
        free(err);
    }
    if (!absent(tools) && tools->kind == YNODE_SEQUENCE && tools->nitems == 0)
        lerr(l, tools, "'tools' must list at least one tool (or be left out)");
    sk->ntools = absent(tools) ? 0 : tools->kind == YNODE_SEQUENCE ? tools->nitems : 0;
    if (!absent(tools) && tools->kind != YNODE_SEQUENCE)
        lerr(l, tools, "expected a sequence for 'tools', got %s", ynode_describe(tools));
    sk->tools = alloc_array(l, sk->ntools, sizeof *sk->tools);
    for (size_t i = 0; i < sk->ntools; i++) {
        const struct ynode *item = tools->items[i];
        if (!want_map(l, item, "an entry of 'tools'"))
            continue;
        load_skill_tool(l, item, sk, &sk->tools[i]);
        for (size_t j = 0; j < i && sk->tools[i].name; j++)
            if (sk->tools[j].name && str_eq(sk->tools[j].name, sk->tools[i].name))
                lerr(l, ynode_get(item, "name"), "skill '%s' declares tool '%s' twice",
                     sk->name ? sk->name : "?", sk->tools[i].name);
    }
}

static void load_skills(struct ld *l, const struct ynode *n, struct model_expose *e)
{
    const struct ynode *skills = ynode_get(n, "skills");
    if (absent(skills)) {
        if (!misspelt(l, n, "skills"))
            lerr(l, at_key(n, "skills"), "missing required key 'skills' in skill exposes entry");
        return;
    }
    if (skills->kind != YNODE_SEQUENCE || skills->nitems == 0) {
        lerr(l, skills, "expected a non-empty sequence of skills for 'skills', got %s",
             ynode_describe(skills));
        return;
    }
    e->nskills = skills->nitems;
    e->skills = alloc_array(l, e->nskills, sizeof *e->skills);
    for (size_t i = 0; i < e->nskills; i++) {
        const struct ynode *item = skills->items[i];
        if (!want_map(l, item, "an entry of 'skills'"))
            continue;
        load_skill(l, item, &e->skills[i]);
        for (size_t j = 0; j < i && e->skills[i].name; j++)
            if (e->skills[j].name && str_eq(e->skills[j].name, e->skills[i].name))
                lerr(l, ynode_get(item, "name"), "skill '%s' is declared twice in '%s'",
                     e->skills[i].name, e->ns ? e->ns : "?");
    }
}

/* `enabled` of an observability local endpoint (default true). */
static bool load_obs_local(struct ld *l, const struct ynode *n, const struct ynode_keys *keys)
{
    signed char on = 1;
    if (absent(n) || !want_map(l, n, "local"))
        return true;
    check_keys(l, n, keys);
    opt_bool(l, n, "enabled", &on);
    if (keys == &keys_obs_traces_local) {
        const struct ynode *bs = ynode_get(n, "buffer-size");
        long v;
        if (!absent(bs) && (bs->kind != YNODE_SCALAR || str_to_long(bs->str, 10, 10000, &v) < 0))
            lerr(l, bs, "expected a number between 10 and 10000 for 'buffer-size'");
    }
    return on != 0;
}

static void load_observability(struct ld *l, const struct ynode *n, struct model_control *c)
{
    const struct ynode *metrics = ynode_get(n, "metrics"), *traces = ynode_get(n, "traces");
    const struct ynode *exp = ynode_get(n, "exporters");
    signed char on = 1;
    check_keys(l, n, &keys_observability);
    opt_bool(l, n, "enabled", &on);
    if (!absent(metrics) && want_map(l, metrics, "metrics")) {
        check_keys(l, metrics, &keys_obs_metrics);
        c->metrics = load_obs_local(l, ynode_get(metrics, "local"), &keys_obs_local);
    }
    if (!absent(traces) && want_map(l, traces, "traces")) {
        const struct ynode *sampling = ynode_get(traces, "sampling");
        const char *prop = opt_str(l, traces, "propagation");
        char *end = NULL;
        check_keys(l, traces, &keys_obs_traces);
        if (!absent(sampling)) {
            double v = sampling->kind == YNODE_SCALAR ? strtod(sampling->str, &end) : -1;
            if (!end || *end || v < 0 || v > 1)
                lerr(l, sampling, "expected a number between 0 and 1 for 'sampling'");
        }
        if (prop && !str_eq(prop, "w3c") && !str_eq(prop, "b3"))
            lerr(l, ynode_get(traces, "propagation"),
                 "unknown trace propagation '%s', expected w3c or b3", prop);
        load_obs_local(l, ynode_get(traces, "local"), &keys_obs_traces_local);
    }
    if (!absent(exp) && want_map(l, exp, "exporters")) {
        const struct ynode *otlp = ynode_get(exp, "otlp");
        check_keys(l, exp, &keys_obs_exporters);
        if (!absent(otlp) && want_map(l, otlp, "otlp")) {
            check_keys(l, otlp, &keys_obs_otlp);
            req_str(l, otlp, "endpoint", "otlp exporter");
        }
    }
    if (!on)
        c->metrics = false;
}

static void load_control(struct ld *l, const struct ynode *n, struct model_control *c)
{
    const struct ynode *mg = ynode_get(n, "management"), *obs = ynode_get(n, "observability");
    *c = (struct model_control){.health = true, .metrics = true};
    if (!absent(mg) && want_map(l, mg, "management")) {
        const struct ynode *logs = ynode_get(mg, "logs"), *scripting = ynode_get(mg, "scripting");
        signed char health = 1, info = 0, reload = 0, validate = 0;
        check_keys(l, mg, &keys_management);
        opt_bool(l, mg, "health", &health);
        opt_bool(l, mg, "info", &info);
        opt_bool(l, mg, "reload", &reload);
        opt_bool(l, mg, "validate", &validate);
        c->health = health;
        c->info = info;
        c->reload = reload;
        c->validate = validate;
        bool b;
        if (!absent(logs) && logs->kind == YNODE_SCALAR) {
            /* Simple mode: true enables level control and the stream. */
            if (ynode_bool(logs, &b) < 0)
                lerr(l, logs, "expected true, false or a mapping for 'logs', got '%s'", logs->str);
            else
                c->logs = c->logs_stream = b;
        } else if (!absent(logs) && want_map(l, logs, "logs")) {
            const struct ynode *ms = ynode_get(logs, "max-subscribers");
            signed char level = 1, stream = 0;
            long v;
            check_keys(l, logs, &keys_control_logs);
            opt_bool(l, logs, "level-control", &level);
            opt_bool(l, logs, "stream", &stream);
            if (!absent(ms) && (ms->kind != YNODE_SCALAR || str_to_long(ms->str, 1, 20, &v) < 0))
                lerr(l, ms, "expected a number between 1 and 20 for 'max-subscribers'");
            c->logs = level;
            c->logs_stream = stream;
        }
        /* capproxy runs no scripts: the governance block is read for its keys only. */
        if (!absent(scripting) && want_map(l, scripting, "scripting"))
            check_keys(l, scripting, &keys_scripting);
    }
    if (!absent(obs) && want_map(l, obs, "observability"))
        load_observability(l, obs, c);
}

static void load_expose(struct ld *l, const struct ynode *n, struct model_expose *e)
{
    const struct ynode *t = ynode_get(n, "type");
    bool rest = t && t->kind == YNODE_SCALAR && strcmp(t->str, "rest") == 0;
    bool mcp = t && t->kind == YNODE_SCALAR && strcmp(t->str, "mcp") == 0;
    bool skill = t && t->kind == YNODE_SCALAR && strcmp(t->str, "skill") == 0;
    bool control = t && t->kind == YNODE_SCALAR && strcmp(t->str, "control") == 0;

    /* Keys first, so a missing key that a typo explains is not reported again. An unknown type
     * is refused below, and its keys are not ours to judge. */
    if (rest || mcp || skill || control || absent(t))
        check_keys(l, n,
                   rest      ? &keys_expose_rest
                   : mcp     ? &keys_expose_mcp
                   : skill   ? &keys_expose_skill
                   : control ? &keys_expose_control
                             : &keys_expose_any);
    e->pos = pos_of(l, n);
    e->cap = l->cap;
    /* The control adapter has no namespace (the schema gives it none). */
    if (!control)
        e->ns = req_str(l, n, "namespace", "exposes entry");
    load_port(l, n, e);
    if ((skill || control) && e->port < 0 && absent(ynode_get(n, "port")) &&
        !misspelt(l, n, "port"))
        lerr(l, at_key(n, "port"), "missing required key 'port' in %s exposes entry",
             skill ? "skill" : "control");
    e->address = opt_str(l, n, "address");
    e->description = opt_str(l, n, "description");
    load_auth(l, ynode_get(n, "authentication"), &e->auth);
    if ((skill || control) && e->auth.kind == MODEL_AUTH_OAUTH2)
        lerr(l, ynode_get(n, "authentication"),
             "oauth2 protects rest and mcp adapters; the %s adapter takes bearer, basic, apikey "
             "or digest",
             skill ? "skill" : "control");
    if (absent(t)) {
        if (!misspelt(l, n, "type"))
            lerr(l, at_key(n, "type"),
                 "missing required key 'type' in exposes entry (rest, mcp, skill or control)");
        return;
    }
    if (rest) {
        const struct ynode *res = ynode_get(n, "resources");
        e->type = MODEL_EXPOSE_REST;
        e->nresources = nl_count(l, res, "resources");
        e->resources = alloc_array(l, e->nresources, sizeof *e->resources);
        for (size_t i = 0; i < e->nresources; i++) {
            const struct ynode *k, *item = nl_item(l, res, i, "resources", &k);
            e->resources[i].expose = e;
            e->resources[i].pos = pos_of(l, res);
            if (item)
                load_rest_resource(l, item, k, e, &e->resources[i]);
        }
    } else if (mcp) {
        const struct ynode *tools = ynode_get(n, "tools");
        e->type = MODEL_EXPOSE_MCP;
        e->transport = opt_str(l, n, "transport");
        e->path = opt_str(l, n, "path");
        if (e->path && (e->path[0] != '/' || strpbrk(e->path, "?# ") || strcmp(e->path, "/") == 0))
            lerr(l, ynode_get(n, "path"),
                 "MCP 'path' must be an absolute path such as /cal-platform, got '%s'", e->path);
        if (!e->transport)
            e->transport = "http";
        else if (strcmp(e->transport, "http") != 0 && strcmp(e->transport, "stdio") != 0)
            lerr(l, ynode_get(n, "transport"), "unknown MCP transport '%s', expected http or stdio",
                 e->transport);
        e->ntools = nl_count(l, tools, "tools");
        e->tools = alloc_array(l, e->ntools, sizeof *e->tools);
        for (size_t i = 0; i < e->ntools; i++) {
            const struct ynode *k, *item = nl_item(l, tools, i, "tools", &k);
            e->tools[i].expose = e;
            e->tools[i].pos = pos_of(l, tools);
            e->tools[i].hints = (struct model_hints){-1, -1, -1, -1};
            if (item)
                load_tool(l, item, k, e, &e->tools[i]);
        }
        load_mcp_extras(l, n, e);
    } else if (skill) {
        e->type = MODEL_EXPOSE_SKILL;
        load_skills(l, n, e);
    } else if (control) {
        e->type = MODEL_EXPOSE_CONTROL;
        load_control(l, n, &e->control);
    } else {
        lerr(l, t, "unknown exposes type '%s', expected 'rest', 'mcp', 'skill' or 'control'",
             t->kind == YNODE_SCALAR ? t->str : ynode_describe(t));
    }
}

/* ---- the document ---- */

static void load_info(struct ld *l, const struct ynode *n)
{
    const struct ynode *people;

    if (absent(n) || !want_map(l, n, "info"))
        return;
    check_keys(l, n, &keys_info);
    people = ynode_get(n, "stakeholders");
    for (size_t i = 0; people && people->kind == YNODE_SEQUENCE && i < people->nitems; i++)
        check_keys(l, people->items[i], &keys_person);
    l->cap->label = opt_str(l, n, "label");
    l->cap->description = opt_str(l, n, "description");
}

static void load_bind(struct ld *l, const struct ynode *n, struct model_bind *b)
{
    const struct ynode *keys = ynode_get(n, "keys");

    check_keys(l, n, &keys_bind);
    b->pos = pos_of(l, n);
    b->ns = opt_str(l, n, "namespace");
    b->location = opt_str(l, n, "location");
    if (b->location && !*b->location)
        b->location = NULL; /* `location: ''`: the environment, as when absent */
    if (b->location) {
        /* Only the form is checked here; the file is read when the variables are (each
         * (re)load), by core/secrets.c. */
        char *err = NULL, *path = location_file(l->file, b->location, false, &err);
        if (!path)
            lerr(l, ynode_get(n, "location"), "binds 'location': %s", err);
        else if (location_format_of(path) == LOCATION_OTHER)
            lerr(l, ynode_get(n, "location"),
                 "binds file '%s' is read as JSON or YAML by its extension: expected .json, "
                 ".yaml or .yml",
                 path);
        free(path);
        free(err);
    }
    if (absent(keys) || !want_map(l, keys, "keys"))
        return;
    b->keys = alloc_array(l, keys->npairs, sizeof *b->keys);
    b->nkeys = keys->npairs;
    for (size_t i = 0; i < keys->npairs; i++) {
        const struct ynode *k = keys->pairs[i].key, *v = keys->pairs[i].value;
        b->keys[i].var = sdup(l, k->str);
        b->keys[i].pos = pos_of(l, k);
        if (v->kind != YNODE_SCALAR || ynode_is_null(v))
            lerr(l, v, "expected the name of a variable for bind key '%s', got %s", k->str,
                 ynode_describe(v));
        else
            b->keys[i].provider = sdup(l, v->str);
    }
}

static void load_binds(struct ld *l, const struct ynode *n)
{
    if (absent(n))
        return;
    if (n->kind != YNODE_SEQUENCE) {
        lerr(l, n, "expected a sequence for 'binds', got %s", ynode_describe(n));
        return;
    }
    l->cap->nbinds = n->nitems;
    l->cap->binds = alloc_array(l, n->nitems, sizeof *l->cap->binds);
    for (size_t i = 0; i < n->nitems; i++) {
        const struct ynode *item = n->items[i];
        l->cap->binds[i].pos = pos_of(l, item);
        if (item->kind != YNODE_MAPPING)
            lerr(l, item, "expected a mapping for an entry of 'binds', got %s",
                 ynode_describe(item));
        else
            load_bind(l, item, &l->cap->binds[i]);
    }
}

/* The list under <key> of `capability`: a sequence of mappings. */
static size_t section_count(struct ld *l, const struct ynode *n, const char *key)
{
    if (absent(n))
        return 0;
    if (n->kind != YNODE_SEQUENCE) {
        lerr(l, n, "expected a sequence for '%s', got %s", key, ynode_describe(n));
        return 0;
    }
    return n->nitems;
}

/* ---- aggregates ---- */

static void load_function(struct ld *l, const struct ynode *n, const struct ynode *key,
                          struct model_aggregate *a, struct model_function *f)
{
    const struct ynode *sem = ynode_get(n, "semantics");

    check_keys(l, n, &keys_function);
    f->pos = pos_of(l, n);
    f->aggregate = a;
    f->semantics = (struct model_semantics){-1, -1, -1};
    f->name = entry_name(l, n, key, true, "aggregate function");
    f->description = opt_str(l, n, "description");
    if (!absent(sem) && want_map(l, sem, "semantics")) {
        check_keys(l, sem, &keys_semantics);
        opt_bool(l, sem, "safe", &f->semantics.safe);
        opt_bool(l, sem, "idempotent", &f->semantics.idempotent);
        opt_bool(l, sem, "cacheable", &f->semantics.cacheable);
    }
    /* A function is what a referrer runs: one of the three ways to answer must be there. */
    if (absent(ynode_get(n, "call")) && absent(ynode_get(n, "steps")) &&
        absent(ynode_get(n, "outputParameters"))) {
        if (!misspelt(l, n, "call") && !misspelt(l, n, "steps") &&
            !misspelt(l, n, "outputParameters"))
            lerr(l, n,
                 "aggregate function '%s' has nothing to run: expected 'call', 'steps' or "
                 "'outputParameters' with values (a mock)",
                 f->name ? f->name : "?");
        return;
    }
    /* A `with` value may name an input as <aggregate namespace>.NAME. */
    load_call(l, n, a->ns, &f->call, "aggregate function", &keys_tool_param);
}

static void load_aggregate(struct ld *l, const struct ynode *n, struct model_aggregate *a)
{
    const struct ynode *fns = ynode_get(n, "functions");

    check_keys(l, n, &keys_aggregate);
    a->pos = pos_of(l, n);
    a->cap = l->cap;
    a->ns = req_str(l, n, "namespace", "aggregate");
    a->label = opt_str(l, n, "label");
    a->nfunctions = nl_count(l, fns, "functions");
    if (a->nfunctions == 0 && (absent(fns) || fns->kind == YNODE_SEQUENCE) &&
        !misspelt(l, n, "functions"))
        lerr(l, absent(fns) ? at_key(n, "functions") : fns,
             "aggregate '%s' needs at least one entry in 'functions'", a->ns ? a->ns : "?");
    a->functions = alloc_array(l, a->nfunctions, sizeof *a->functions);
    for (size_t i = 0; i < a->nfunctions; i++) {
        const struct ynode *k, *item = nl_item(l, fns, i, "functions", &k);
        a->functions[i].aggregate = a;
        a->functions[i].pos = pos_of(l, fns);
        a->functions[i].semantics = (struct model_semantics){-1, -1, -1};
        if (item)
            load_function(l, item, k, a, &a->functions[i]);
    }
}

/* `capability.aggregates`: read after consumes, so a function's call into this document is
 * checked at load like any other. Refs to the functions are resolved by checks_validate. */
static void load_aggregates(struct ld *l, const struct ynode *n)
{
    struct model_capability *cap = l->cap;

    cap->naggregates = section_count(l, n, "aggregates");
    cap->aggregates = alloc_array(l, cap->naggregates, sizeof *cap->aggregates);
    for (size_t i = 0; i < cap->naggregates; i++) {
        const struct ynode *item = n->items[i];
        cap->aggregates[i].cap = cap;
        cap->aggregates[i].pos = pos_of(l, item);
        if (item->kind != YNODE_MAPPING)
            lerr(l, item, "expected a mapping for an entry of 'aggregates', got %s",
                 ynode_describe(item));
        else
            load_aggregate(l, item, &cap->aggregates[i]);
    }
}

/* A `consumes` list: the capability's, or a shared file's root one. */
static void load_consumes(struct ld *l, const struct ynode *cons)
{
    struct model_capability *cap = l->cap;

    cap->nconsumers = section_count(l, cons, "consumes");
    cap->consumers = alloc_array(l, cap->nconsumers, sizeof *cap->consumers);
    for (size_t i = 0; i < cap->nconsumers; i++) {
        const struct ynode *item = cons->items[i];
        cap->consumers[i].cap = cap;
        cap->consumers[i].pos = pos_of(l, item);
        cap->consumers[i].base_uri = "";
        cap->consumers[i].type = "http";
        if (item->kind != YNODE_MAPPING)
            lerr(l, item, "expected a mapping for an entry of 'consumes', got %s",
                 ynode_describe(item));
        else
            load_consumer(l, item, &cap->consumers[i]);
    }
    checks_operation_names(l->cap, l->d);
}

static void load_capability(struct ld *l, const struct ynode *capn)
{
    struct model_capability *cap = l->cap;
    const struct ynode *exps = ynode_get(capn, "exposes");
    const struct ynode *binds = ynode_get(capn, "binds");

    check_keys(l, capn, &keys_capability);
    /* alpha2 allows binds here too; like the reference engine, capproxy reads only the root
     * list, but a typo inside is still one. */
    for (size_t i = 0; binds && binds->kind == YNODE_SEQUENCE && i < binds->nitems; i++)
        check_keys(l, binds->items[i], &keys_bind);

    /* Consumes first, whatever the key order, so calls into this document resolve. */
    load_consumes(l, ynode_get(capn, "consumes"));
    load_aggregates(l, ynode_get(capn, "aggregates"));

    cap->nexposes = section_count(l, exps, "exposes");
    cap->exposes = alloc_array(l, cap->nexposes, sizeof *cap->exposes);
    for (size_t i = 0; i < cap->nexposes; i++) {
        const struct ynode *item = exps->items[i];
        cap->exposes[i].cap = cap;
        cap->exposes[i].pos = pos_of(l, item);
        cap->exposes[i].port = -1;
        if (item->kind != YNODE_MAPPING)
            lerr(l, item, "expected a mapping for an entry of 'exposes', got %s",
                 ynode_describe(item));
        else
            load_expose(l, item, &cap->exposes[i]);
    }
}

/* The version key decides how the rest is read; another version's document is not read at
 * all, as its errors would only be noise. */
static int check_version(struct ld *l, const struct ynode *root, const char **version)
{
    const struct ynode *v = ynode_get(root, "naftiko");

    if (!v && (v = ynode_get(root, "ikanos"))) {
        if (v->kind == YNODE_SCALAR && str_has_prefix(v->str, LOADER_IKANOS_PREFIX)) {
            l->ikanos = true;
            *version = v->str;
            return 0;
        }
        lerr(l, v,
             "unsupported ikanos version %s%s%s: this runtime reads naftiko: " LOADER_VERSION
             " (and ikanos: " LOADER_IKANOS_PREFIX "*)",
             v->kind == YNODE_SCALAR ? "'" : "",
             v->kind == YNODE_SCALAR ? v->str : ynode_describe(v),
             v->kind == YNODE_SCALAR ? "'" : "");
        return -1;
    }
    if (!v) {
        if (!misspelt(l, root, "naftiko"))
            lerr(l, root,
                 "missing required key 'naftiko': this runtime reads naftiko: " LOADER_VERSION
                 " documents");
        return -1;
    }
    if (v->kind != YNODE_SCALAR || strcmp(v->str, LOADER_VERSION) != 0) {
        lerr(l, v, "unsupported naftiko version %s%s%s: this runtime supports " LOADER_VERSION,
             v->kind == YNODE_SCALAR ? "'" : "",
             v->kind == YNODE_SCALAR ? v->str : ynode_describe(v),
             v->kind == YNODE_SCALAR ? "'" : "");
        return -1;
    }
    *version = v->str;
    return 0;
}

int loader_load_buffer(struct model *m, const char *name, const char *buf, size_t len,
                       struct diag *d)
{
    size_t errors = d->nerrors, import_bytes = 0;
    struct ynode_doc *doc = NULL;
    struct ld_import top = {realpath(name, NULL), NULL, 0, 0, 0, NULL};
    struct ld l = {.m = m, .d = d, .file = name, .chain = &top, .import_bytes = &import_bytes};
    struct model *scratch = NULL;
    const char *version = NULL;

    if (len > LOADER_MAX_DOC_SIZE) {
        diag_error(d, name, 0, 0, "document too large: %zu bytes, the limit is %zu bytes (4 MiB)",
                   len, LOADER_MAX_DOC_SIZE);
        goto cleanup;
    }
    if (ynode_looks_like_html(buf, len)) {
        diag_error(d, name, 1, 1,
                   "this looks like an HTML page, not a YAML capability document: did you save "
                   "a web page instead of the raw file?");
        goto cleanup;
    }
    doc = ynode_parse(name, buf, len, d);
    if (!doc)
        goto cleanup;
    if (!doc->root) {
        diag_error(d, name, 0, 0, "empty document: expected a mapping with 'naftiko: %s'",
                   LOADER_VERSION);
        goto cleanup;
    }
    if (doc->root->kind != YNODE_MAPPING) {
        lerr(&l, doc->root,
             "expected a mapping at the document root, got %s: a capability document starts "
             "with 'naftiko: " LOADER_VERSION "'",
             ynode_describe(doc->root));
        goto cleanup;
    }
    /* The root's keys first (an ikanos document has its own), so that `naftiko` or
     * `capability` misspelt is one error at the typo. */
    l.ikanos = ynode_get(doc->root, "naftiko") == NULL && ynode_get(doc->root, "ikanos") != NULL;
    check_keys(&l, doc->root, &keys_root);
    if (check_version(&l, doc->root, &version) < 0)
        goto cleanup;

    /* alpha2: a document has `capability`, or a root `consumes` and is a shared file. */
    const struct ynode *capn = ynode_get(doc->root, "capability");
    const struct ynode *shared = ynode_get(doc->root, "consumes");
    if (!absent(capn) && !absent(shared)) {
        lerr(&l, ynode_get_key(doc->root, "consumes"),
             "a document has either 'capability' or a root 'consumes' (a shared file that "
             "capabilities import), not both: move these entries under 'capability'");
        shared = NULL;
    }
    /* A shared file alone serves nothing: it is read and checked in a model of its own, so that
     * its namespaces do not collide with the documents that import them. */
    if (absent(capn) && !absent(shared))
        l.m = scratch = model_new();
    else
        shared = NULL;

    l.cap = model_add_capability(l.m, name);
    l.file = l.cap->file;
    l.cap->version = sdup(&l, version);
    l.cap->pos = pos_of(&l, doc->root);
    load_info(&l, ynode_get(doc->root, "info"));
    load_binds(&l, ynode_get(doc->root, "binds"));

    if (shared) {
        load_consumes(&l, shared);
        checks_duplicates(scratch, 0, 1, false, d);
        goto cleanup;
    }
    if (absent(capn)) {
        if (!misspelt(&l, doc->root, "capability"))
            lerr(&l, at_key(doc->root, "capability"), "missing required key 'capability'");
        goto cleanup;
    }
    if (!want_map(&l, capn, "capability"))
        goto cleanup;
    load_capability(&l, capn);
    checks_duplicates(m, m->ncaps - 1, m->ncaps, false, d);

cleanup:
    if (l.nerrors > LOADER_MAX_ERRORS)
        diag_error(d, l.file, 0, 0,
                   "%d more errors in this document not reported (%d errors in all; at most %d "
                   "are reported per document)",
                   l.nerrors - LOADER_MAX_ERRORS, l.nerrors, LOADER_MAX_ERRORS);
    free(l.typos);
    ynode_doc_free(doc);
    model_free(scratch);
    free((char *)top.real);
    return d->nerrors > errors ? -1 : 0;
}

int loader_load_file(struct model *m, const char *path, struct diag *d)
{
    struct strbuf buf;
    int rc = -1;

    if (read_doc(m, path, false, &buf) < 0) {
        if (errno == EFBIG)
            diag_error(d, path, 0, 0, "document too large: more than %zu bytes (4 MiB)",
                       LOADER_MAX_DOC_SIZE);
        else
            diag_error(d, path, 0, 0, "cannot %s capability file: %s",
                       errno == EIO ? "read" : "open", strerror(errno));
        goto cleanup;
    }
    rc = loader_load_buffer(m, path, buf.data ? buf.data : "", buf.len, d);
cleanup:
    strbuf_deinit(&buf);
    return rc;
}

static int name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool is_capability_name(const char *name)
{
    size_t n = strlen(name);
    if (name[0] == '.')
        return false;
    return (n > 5 && strcmp(name + n - 5, ".yaml") == 0) ||
           (n > 4 && strcmp(name + n - 4, ".yml") == 0);
}

int loader_load_path(struct model *m, const char *path, struct diag *d)
{
    struct stat st;
    DIR *dir = NULL;
    char **names = NULL;
    size_t n = 0;
    int rc = 0;

    if (stat(path, &st) < 0) {
        diag_error(d, path, 0, 0, "cannot read capability path '%s': %s", path, strerror(errno));
        return -1;
    }
    if (!S_ISDIR(st.st_mode))
        return loader_load_file(m, path, d);

    dir = opendir(path);
    if (!dir) {
        diag_error(d, path, 0, 0, "cannot open capability directory '%s': %s", path,
                   strerror(errno));
        return -1;
    }
    model_note_source(m, path, NULL, 0);
    for (struct dirent *de; (de = readdir(dir));) {
        if (!is_capability_name(de->d_name))
            continue;
        char *full =
            xasprintf("%s%s%s", path, path[strlen(path) - 1] == '/' ? "" : "/", de->d_name);
        if (stat(full, &st) < 0 || S_ISDIR(st.st_mode)) {
            free(full);
            continue;
        }
        names = xrealloc(names, (n + 1) * sizeof *names);
        names[n++] = full;
    }
    closedir(dir);
    if (n == 0) {
        diag_error(d, path, 0, 0, "no capability documents (*.yaml, *.yml) in directory '%s'",
                   path);
        rc = -1;
        goto cleanup;
    }
    qsort(names, n, sizeof *names, name_cmp);
    for (size_t i = 0; i < n; i++)
        if (loader_load_file(m, names[i], d) < 0)
            rc = -1;
cleanup:
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    return rc;
}
