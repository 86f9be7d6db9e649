/*
 * loader: see loader.h. Two stages: ynode turns the YAML text into a positioned tree (syntax,
 * size and alias limits), then the functions below walk the tree into the model, reporting each
 * problem at the node it concerns and carrying on, so one run lists every problem of a
 * document. Checks that need every document (calls into another file, namespaces, routes and
 * tool names shared by several files) are spec/checks.c's, run by checks_validate; the same
 * uniqueness checks run here on each document alone as it is loaded.
 */
#include "spec/loader.h"

#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "spec/checks.h"
#include "spec/jsonpath.h"
#include "spec/selector.h"
#include "spec/template.h"
#include "spec/ynode.h"

#define LOADER_MAX_DOC_SIZE ((size_t)4 << 20)
#define LOADER_VERSION      "1.0.0-alpha2"
/* Later versions of the format: root key `ikanos:`, named lists may be maps keyed by name. */
#define LOADER_IKANOS_PREFIX "1.0.0-alpha"
/* Errors reported per document: an alias repeated many times could otherwise turn one mistake
 * into hundreds of thousands of messages. */
#define LOADER_MAX_ERRORS CHECKS_MAX_ERRORS

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
 * checked), a body's `data`. Not checked, because capproxy does not read them at all:
 * aggregates, steps, mappings, MCP resources and prompts, forward, skill and control adapters.
 * ikanos documents follow a later schema with other keys and are not checked. */
YNODE_KEYS(keys_root, "the document root", "naftiko", "info", "binds", "capability", "consumes");
YNODE_KEYS(keys_info, "info", "label", "description", "tags", "created", "modified",
           "stakeholders");
YNODE_KEYS(keys_person, "stakeholder", "role", "fullName", "email");
YNODE_KEYS(keys_bind, "binds entry", "namespace", "description", "location", "keys");
YNODE_KEYS(keys_capability, "capability", "binds", "exposes", "consumes", "aggregates");
/* ConsumesHttp, plus ImportedConsumesHttp's location, import and as. */
YNODE_KEYS(keys_consumes, "consumes entry", "type", "namespace", "description", "baseUri",
           "inputParameters", "authentication", "resources", "location", "import", "as");
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
/* Mapped {type, mapping, value, const, properties, items}, orchestrated and mock output
 * parameters (+ name), and ConsumedOutputParameter {name, type, value}: capproxy reads them
 * all alike. */
YNODE_KEYS(keys_output, "output parameter", "name", "type", "mapping", "value", "const",
           "properties", "items");
YNODE_KEYS(keys_auth_bearer, "bearer authentication", "type", "token");
YNODE_KEYS(keys_auth_basic, "basic authentication", "type", "username", "password");
YNODE_KEYS(keys_auth_apikey, "apikey authentication", "type", "key", "value", "placement");
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
           "description", "authentication", "resources", "tools", "prompts", "path");
YNODE_KEYS(keys_rest_resource, "REST resource", "name", "label", "description", "path",
           "inputParameters", "operations", "forward");
YNODE_KEYS(keys_rest_op, "REST operation", "name", "label", "description", "method",
           "inputParameters", "ref", "call", "with", "outputParameters", "steps", "mappings");
/* ExposedInputParameter; capproxy also reads `required`, as on tool parameters. */
YNODE_KEYS(keys_rest_param, "REST parameter", "name", "in", "type", "description", "pattern",
           "value", "required");
YNODE_KEYS(keys_tool, "MCP tool", "name", "label", "description", "inputParameters", "ref", "call",
           "with", "steps", "mappings", "hints", "outputParameters");
YNODE_KEYS(keys_tool_param, "MCP tool parameter", "name", "type", "description", "required");
YNODE_KEYS(keys_hints, "hints", "readOnly", "destructive", "idempotent", "openWorld");

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
        if (v->kind != YNODE_SCALAR)
            lerr(l, v, "expected a scalar for 'value', got %s", ynode_describe(v));
        else
            p->value = sdup(l, v->str);
    }
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

static void load_output(struct ld *l, const struct ynode *n, const char *name,
                        struct model_output *o)
{
    const struct ynode *map = ynode_get(n, "mapping");
    const char *key = "mapping";

    check_keys(l, n, &keys_output);
    if (absent(map)) {
        map = ynode_get(n, "value");
        key = "value";
    }
    o->pos = pos_of(l, n);
    o->name = name ? sdup(l, name) : opt_str(l, n, "name");
    o->type = model_type_parse(opt_str(l, n, "type"));
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
    load_outputs(l, ynode_get(n, "properties"), "properties", &o->properties, &o->nproperties);

    const struct ynode *items = ynode_get(n, "items");
    if (!absent(items)) {
        /* One element description; the reference examples wrap it in a one-entry list. */
        if (items->kind == YNODE_SEQUENCE && items->nitems == 1)
            items = items->items[0];
        if (items->kind != YNODE_MAPPING) {
            lerr(l, items, "expected a mapping (or a one-entry sequence) for 'items', got %s",
                 ynode_describe(items));
        } else {
            o->items = arena_alloc(&l->m->arena, sizeof *o->items);
            load_output(l, items, NULL, o->items);
        }
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
            lerr(l, n, "missing required key 'type' in authentication (bearer, basic or apikey)");
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
    } else {
        lerr(l, t, "unknown authentication type '%s', expected bearer, basic or apikey",
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

static void load_body(struct ld *l, const struct ynode *n, struct model_body *b)
{
    b->kind = MODEL_BODY_NONE;
    if (absent(n))
        return;
    b->pos = pos_of(l, n);
    if (n->kind == YNODE_SCALAR) {
        b->kind = MODEL_BODY_TEMPLATE;
        b->template = sdup(l, n->str);
        return;
    }
    if (n->kind != YNODE_MAPPING) {
        lerr(l, n,
             "expected a string template or a mapping {type: json, data: ...} for 'body', "
             "got %s",
             ynode_describe(n));
        return;
    }
    const struct ynode *t = ynode_get(n, "type"), *data = ynode_get(n, "data");
    check_keys(l, n, &keys_body);
    if (!absent(t) && !(t->kind == YNODE_SCALAR && str_eq_ci(t->str, "json"))) {
        lerr(l, t, "unsupported body type '%s', expected 'json'",
             t->kind == YNODE_SCALAR ? t->str : ynode_describe(t));
        return;
    }
    if (!data) {
        if (!misspelt(l, n, "data"))
            lerr(l, n, "missing required key 'data' in body");
        return;
    }
    b->kind = MODEL_BODY_JSON;
    b->json = model_own_json(l->m, ynode_to_json(data));
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

static void load_consumer(struct ld *l, const struct ynode *n, struct model_consumer *c)
{
    const struct ynode *res = ynode_get(n, "resources");
    const char *type = opt_str(l, n, "type");
    size_t unknown = l->nunknown;

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

/* ---- exposes ---- */

/* Where a REST operation or tool gets its values (see model_with_kind). */
static void classify_with(struct ld *l, const struct ynode *v, const struct model_expose *e,
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
    const char *ref = template_ref_key(s, strlen(s), e->ns, TREF_ANY, &klen, &kind);
    if (kind != TREF_NONE) {
        w->kind = MODEL_WITH_REF;
        w->ref = sdup(l, ref);
        return;
    }
    w->kind = MODEL_WITH_LITERAL;
    w->text = sdup(l, s);
    w->literal = model_own_json(l->m, ynode_scalar_json(v));
}

/* `call:` of a REST operation or tool. A call into a namespace this document consumes is
 * checked now, at the call's position; one into a namespace that no document loaded so far
 * consumes may still be defined by a later file, so checks_validate checks it. */
static void load_call(struct ld *l, const struct ynode *n, const struct model_expose *e,
                      struct model_call *call, const char *where,
                      const struct ynode_keys *param_keys)
{
    const struct ynode *v = ynode_get(n, "call");
    const struct ynode *with = ynode_get(n, "with");

    call->call = req_str(l, n, "call", where);
    if (call->call) {
        const char *dot = strrchr(call->call, '.');
        if (!dot || dot == call->call || !dot[1]) {
            lerr(l, v, "expected '<consumes namespace>.<operation>' for 'call', got '%s'",
                 call->call);
        } else {
            call->target = model_find_operation(l->m, call->call);
            if (!call->target) {
                char *ns = xstrndup(call->call, (size_t)(dot - call->call));
                const struct model_consumer *c = model_find_consumer(l->m, ns);
                if (c && !model_consumer_has_nameless_operation(c))
                    lerr(l, v,
                         "call '%s' names no consumed operation: consumes namespace '%s' has "
                         "no operation '%s'",
                         call->call, ns, dot + 1);
                free(ns);
            }
        }
    }

    if (!absent(with) && want_map(l, with, "with")) {
        call->nwith = with->npairs;
        call->with = alloc_array(l, with->npairs, sizeof *call->with);
        for (size_t i = 0; i < with->npairs; i++) {
            const struct ynode *k = with->pairs[i].key, *val = with->pairs[i].value;
            struct model_with *w = &call->with[i];
            w->name = sdup(l, k->str);
            w->pos = pos_of(l, k);
            if (val->kind != YNODE_SCALAR) {
                lerr(l, val, "expected a scalar for 'with' entry '%s', got %s", k->str,
                     ynode_describe(val));
                w->kind = MODEL_WITH_LITERAL;
                w->text = "";
                continue;
            }
            classify_with(l, val, e, w);
        }
    }
    load_params(l, ynode_get(n, "inputParameters"), param_keys, &call->params, &call->nparams);
    call->params_declared = !absent(ynode_get(n, "inputParameters"));
    load_outputs(l, ynode_get(n, "outputParameters"), "outputParameters", &call->outputs,
                 &call->noutputs);
}

static void load_rest_resource(struct ld *l, const struct ynode *n, const struct ynode *key,
                               struct model_expose *e, struct model_rest_resource *r)
{
    const struct ynode *ops = ynode_get(n, "operations");

    check_keys(l, n, &keys_rest_resource);
    r->pos = pos_of(l, n);
    r->expose = e;
    r->path = load_path(l, n, "REST resource");
    r->name = entry_name(l, n, key, false, "REST resource");
    r->description = opt_str(l, n, "description");
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
        load_call(l, item, e, &op->call, "REST operation", &keys_rest_param);
    }
}

static void load_tool(struct ld *l, const struct ynode *n, const struct ynode *key,
                      struct model_expose *e, struct model_tool *t)
{
    const struct ynode *hints = ynode_get(n, "hints");

    check_keys(l, n, &keys_tool);
    t->pos = pos_of(l, n);
    t->expose = e;
    t->name = entry_name(l, n, key, true, "MCP tool");
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
    load_call(l, n, e, &t->call, "MCP tool", &keys_tool_param);
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

static void load_expose(struct ld *l, const struct ynode *n, struct model_expose *e)
{
    const struct ynode *t = ynode_get(n, "type");
    bool rest = t && t->kind == YNODE_SCALAR && strcmp(t->str, "rest") == 0;
    bool mcp = t && t->kind == YNODE_SCALAR && strcmp(t->str, "mcp") == 0;

    /* Keys first, so a missing key that a typo explains is not reported again. Another type
     * (skill, control) is refused below, and its keys are not ours to judge. */
    if (rest || mcp || absent(t))
        check_keys(l, n, rest ? &keys_expose_rest : mcp ? &keys_expose_mcp : &keys_expose_any);
    e->pos = pos_of(l, n);
    e->cap = l->cap;
    e->ns = req_str(l, n, "namespace", "exposes entry");
    load_port(l, n, e);
    e->address = opt_str(l, n, "address");
    e->description = opt_str(l, n, "description");
    load_auth(l, ynode_get(n, "authentication"), &e->auth);
    if (absent(t)) {
        if (!misspelt(l, n, "type"))
            lerr(l, at_key(n, "type"),
                 "missing required key 'type' in exposes entry (rest or mcp)");
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
    } else {
        lerr(l, t, "unknown exposes type '%s', expected 'rest' or 'mcp'",
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

static void load_capability(struct ld *l, const struct ynode *capn)
{
    struct model_capability *cap = l->cap;
    const struct ynode *cons = ynode_get(capn, "consumes");
    const struct ynode *exps = ynode_get(capn, "exposes");
    const struct ynode *binds = ynode_get(capn, "binds");

    check_keys(l, capn, &keys_capability);
    /* alpha2 allows binds here too; like the reference engine, capproxy reads only the root
     * list, but a typo inside is still one. */
    for (size_t i = 0; binds && binds->kind == YNODE_SEQUENCE && i < binds->nitems; i++)
        check_keys(l, binds->items[i], &keys_bind);

    /* Consumes first, whatever the key order, so calls into this document resolve. */
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
    size_t errors = d->nerrors;
    struct ynode_doc *doc = NULL;
    struct ld l = {.m = m, .d = d, .file = name};
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

    l.cap = model_add_capability(m, name);
    l.file = l.cap->file;
    l.cap->version = sdup(&l, version);
    l.cap->pos = pos_of(&l, doc->root);
    load_info(&l, ynode_get(doc->root, "info"));
    load_binds(&l, ynode_get(doc->root, "binds"));

    const struct ynode *capn = ynode_get(doc->root, "capability");
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
    return d->nerrors > errors ? -1 : 0;
}

int loader_load_file(struct model *m, const char *path, struct diag *d)
{
    FILE *fp = fopen(path, "rb");
    struct strbuf buf;
    char chunk[65536];
    size_t n;
    int rc = -1;

    if (!fp) {
        diag_error(d, path, 0, 0, "cannot open capability file: %s", strerror(errno));
        return -1;
    }
    /* Read up to the cap instead of trusting st_size: the file may be a pipe or may grow while
     * it is read. */
    strbuf_init(&buf, LOADER_MAX_DOC_SIZE);
    while ((n = fread(chunk, 1, sizeof chunk, fp)) > 0) {
        if (strbuf_add(&buf, chunk, n) < 0) {
            diag_error(d, path, 0, 0, "document too large: more than %zu bytes (4 MiB)",
                       LOADER_MAX_DOC_SIZE);
            goto cleanup;
        }
    }
    if (ferror(fp)) {
        diag_error(d, path, 0, 0, "cannot read capability file: %s", strerror(errno));
        goto cleanup;
    }
    rc = loader_load_buffer(m, path, buf.data ? buf.data : "", buf.len, d);
cleanup:
    strbuf_deinit(&buf);
    fclose(fp);
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
