/*
 * ynode: a YAML document read with libyaml's event parser into a tree of positioned nodes
 * (scalar, sequence, mapping), each with its file name and 1-based line and column, so that
 * whoever interprets the tree can say exactly where a value is wrong. Syntax errors are
 * reported into a struct diag at libyaml's problem mark.
 *
 * Hostile input is bounded: nesting depth, node count (aliases counted as the nodes they stand
 * for, against "billion laughs"), expanded scalar bytes, a single document per stream, no NUL
 * inside scalars, no duplicate mapping keys (each reported, the first kept). An alias shares the
 * anchored node instead of copying it, so the tree may be a DAG; it is never cyclic (an alias to a
 * collection that is still open is refused).
 *
 * Everything lives in the document's arena and is released by ynode_doc_free.
 */
#ifndef CAPPROXY_YNODE_H
#define CAPPROXY_YNODE_H

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

#include "base/diag.h"
#include "base/util.h"

#define YNODE_MAX_DEPTH 64          /* nested collections */
#define YNODE_MAX_NODES 500000      /* nodes, aliases expanded */
#define YNODE_MAX_BYTES (16u << 20) /* scalar bytes, aliases expanded */

enum ynode_kind { YNODE_SCALAR, YNODE_SEQUENCE, YNODE_MAPPING };

/* How a scalar was written: plain scalars are typed by their text (numbers, booleans, null);
 * quoted and block scalars are always strings. */
enum ynode_style { YNODE_PLAIN, YNODE_SINGLE_QUOTED, YNODE_DOUBLE_QUOTED, YNODE_BLOCK };

struct ynode;

struct ynode_pair {
    struct ynode *key; /* always a scalar */
    struct ynode *value;
};

struct ynode {
    enum ynode_kind kind;
    const char *file;
    int line; /* 1-based */
    int col;  /* 1-based, in characters */

    /* YNODE_SCALAR: NUL-terminated text (never contains a NUL itself). */
    const char *str;
    size_t len;
    enum ynode_style style;
    const char *tag; /* explicit tag as resolved by libyaml ("tag:yaml.org,2002:str"), or NULL */

    /* YNODE_SEQUENCE */
    struct ynode **items;
    size_t nitems;

    /* YNODE_MAPPING, in document order */
    struct ynode_pair *pairs;
    size_t npairs;

    /* Bookkeeping for the limits: collection levels below this node, and the nodes and scalar
     * bytes it stands for once aliases are expanded. */
    int height;
    size_t weight;
    size_t bytes;
};

struct ynode_doc {
    struct arena arena;
    const char *file;
    struct ynode *root; /* NULL for an empty stream */
};

/* Parse <buf>[0..len), named <file> in positions and messages. Returns the document (root NULL
 * when the stream holds no document), or NULL when an error stopped the parse (reported into
 * <d>). A duplicate key is reported but does not stop it: the document comes back without the
 * repeated pair, so that the rest is checked too; callers look at <d> as well. */
struct ynode_doc *ynode_parse(const char *file, const char *buf, size_t len, struct diag *d);
void ynode_doc_free(struct ynode_doc *doc); /* NULL-safe */

/* The value of <key> in mapping <map>; NULL when <map> is not a mapping or has no such key. */
struct ynode *ynode_get(const struct ynode *map, const char *key);
/* The key node of <key> in mapping <map> (for positions); NULL when absent. */
struct ynode *ynode_get_key(const struct ynode *map, const char *key);

/* The keys one kind of object may hold: <what> names the kind in messages ("parameter"),
 * <names> is NULL-terminated. Keys starting with "x-" are always allowed (extensions). */
struct ynode_keys {
    const char *what;
    const char *const *names;
};
/* Declare a key table: YNODE_KEYS(keys_hints, "hints", "readOnly", "destructive"). */
#define YNODE_KEYS(var, what, ...)                                                                 \
    static const struct ynode_keys var = {(what), (const char *const[]){__VA_ARGS__, NULL}}

/* Called once per unknown key of a mapping with its message, e.g. "unknown key 'requird' in
 * parameter (did you mean 'required'?)", and the known key it is close to (NULL when none). */
typedef void ynode_unknown_fn(void *arg, const struct ynode *key, const char *suggestion,
                              const char *message);
/* Report every key of mapping <map> that <keys> does not list (nothing when <map> is not a
 * mapping). Returns how many were reported. */
size_t ynode_check_keys(const struct ynode *map, const struct ynode_keys *keys,
                        ynode_unknown_fn *report, void *arg);

/* Whether the text looks like an HTML page (a leading '<' after an optional byte-order mark and
 * white space): a saved web page instead of the raw YAML file. */
bool ynode_looks_like_html(const char *buf, size_t len);

/* Whether <n> is a YAML null: a plain `null`, `Null`, `NULL`, `~` or empty scalar, or !!null. */
bool ynode_is_null(const struct ynode *n);
/* Read a YAML boolean (plain or !!bool true/false in any case). 0 on success, -1 otherwise. */
int ynode_bool(const struct ynode *n, bool *out);
/* "a mapping", "a sequence", "null" or "a scalar": for "expected X, got Y" messages. */
const char *ynode_describe(const struct ynode *n);

/* A scalar as a typed JSON value: plain numbers become numbers, true/false booleans, null
 * null; quoted, block and !!str scalars are strings. Caller deletes the result. */
cJSON *ynode_scalar_json(const struct ynode *n);
/* The whole subtree as JSON (mappings become objects, sequences arrays). Caller deletes. */
cJSON *ynode_to_json(const struct ynode *n);

#endif
