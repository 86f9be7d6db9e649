/*
 * ynode: see ynode.h. One pass over libyaml's events with an explicit stack of open
 * collections: children are gathered in a heap vector per open collection and copied into the
 * arena when the collection ends, so the arena only ever holds finished nodes.
 */
#include "spec/ynode.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#define TAG_STR   "tag:yaml.org,2002:str"
#define TAG_NULL  "tag:yaml.org,2002:null"
#define TAG_BOOL  "tag:yaml.org,2002:bool"
#define TAG_INT   "tag:yaml.org,2002:int"
#define TAG_FLOAT "tag:yaml.org,2002:float"

struct frame {
    struct ynode *node;
    struct ynode **kids;
    size_t n;
    size_t cap;
    const char *anchor; /* registered when the collection ends, so aliases cannot form a cycle */
};

struct anchor_slot {
    const char *name;
    struct ynode *node;
};

/* Open-addressing hash table: a document may define and use many anchors, and a linear scan per
 * alias would turn a 4 MiB document into quadratic work. */
struct anchor_tab {
    struct anchor_slot *slots;
    size_t cap; /* power of two, or 0 */
    size_t n;
};

struct yparse {
    struct ynode_doc *doc;
    struct diag *d;
    const char *buf;
    size_t len;
    struct frame stack[YNODE_MAX_DEPTH];
    int depth;
    struct anchor_tab anchors;
    size_t nodes; /* aliases expanded */
    size_t bytes; /* aliases expanded */
    int ndocs;
    bool failed;
    int nduplicates; /* duplicate keys reported (they do not stop the parse) */
};

static void yerr(struct yparse *p, int line, int col, const char *fmt, ...) UTIL_PRINTF(4, 5);

static void yerr(struct yparse *p, int line, int col, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    diag_vadd(p->d, DIAG_ERROR, p->doc->file, line, col, fmt, ap);
    va_end(ap);
    p->failed = true;
}

static struct anchor_slot *anchor_find_slot(struct anchor_slot *slots, size_t cap, const char *name)
{
    size_t i = (size_t)util_fnv1a(name, strlen(name)) & (cap - 1);
    while (slots[i].name && strcmp(slots[i].name, name) != 0)
        i = (i + 1) & (cap - 1);
    return &slots[i];
}

/* YAML lets a later anchor of the same name replace an earlier one. */
static void anchor_put(struct anchor_tab *t, const char *name, struct ynode *node)
{
    if ((t->n + 1) * 2 > t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 16;
        struct anchor_slot *slots = xcalloc(cap, sizeof *slots);
        for (size_t i = 0; i < t->cap; i++)
            if (t->slots[i].name)
                *anchor_find_slot(slots, cap, t->slots[i].name) = t->slots[i];
        free(t->slots);
        t->slots = slots;
        t->cap = cap;
    }
    struct anchor_slot *s = anchor_find_slot(t->slots, t->cap, name);
    if (!s->name)
        t->n++;
    s->name = name;
    s->node = node;
}

static struct ynode *anchor_get(const struct anchor_tab *t, const char *name)
{
    if (!t->cap)
        return NULL;
    return anchor_find_slot(t->slots, t->cap, name)->node;
}

static struct ynode *new_node(struct yparse *p, enum ynode_kind kind, yaml_mark_t mark)
{
    struct ynode *n = arena_alloc(&p->doc->arena, sizeof *n);
    n->kind = kind;
    n->file = p->doc->file;
    n->line = (int)mark.line + 1;
    n->col = (int)mark.column + 1;
    n->weight = 1;
    return n;
}

/* Count <weight> more nodes and <bytes> more scalar bytes; report when a limit is crossed. */
static int account(struct yparse *p, size_t weight, size_t bytes, int line, int col)
{
    p->nodes += weight;
    p->bytes += bytes;
    if (p->nodes > YNODE_MAX_NODES) {
        yerr(p, line, col, "document too large: more than %d nodes (aliases counted expanded)",
             YNODE_MAX_NODES);
        return -1;
    }
    if (p->bytes > YNODE_MAX_BYTES) {
        yerr(p, line, col,
             "document too large: more than %u bytes of scalars (aliases counted expanded)",
             YNODE_MAX_BYTES);
        return -1;
    }
    return 0;
}

static void attach(struct yparse *p, struct ynode *child)
{
    if (p->depth == 0) {
        p->doc->root = child;
        return;
    }
    struct frame *f = &p->stack[p->depth - 1];
    if (f->n == f->cap) {
        f->cap = f->cap ? f->cap * 2 : 8;
        f->kids = xrealloc(f->kids, f->cap * sizeof *f->kids);
    }
    f->kids[f->n++] = child;
}

static const char *dup_anchor(struct yparse *p, const yaml_char_t *anchor)
{
    return anchor ? arena_strdup(&p->doc->arena, (const char *)anchor) : NULL;
}

static void on_scalar(struct yparse *p, const yaml_event_t *ev)
{
    const char *val = (const char *)ev->data.scalar.value;
    size_t len = ev->data.scalar.length;
    struct ynode *n = new_node(p, YNODE_SCALAR, ev->start_mark);

    /* A "\0" escape would silently cut every C string built from this value (and could smuggle
     * a shorter header or path past a check made on the full text). */
    if (memchr(val, '\0', len)) {
        yerr(p, n->line, n->col, "a NUL character is not allowed in a scalar");
        return;
    }
    if (account(p, 1, len, n->line, n->col) < 0)
        return;
    n->str = arena_strndup(&p->doc->arena, val, len);
    n->len = len;
    n->bytes = len;
    switch (ev->data.scalar.style) {
    case YAML_SINGLE_QUOTED_SCALAR_STYLE:
        n->style = YNODE_SINGLE_QUOTED;
        break;
    case YAML_DOUBLE_QUOTED_SCALAR_STYLE:
        n->style = YNODE_DOUBLE_QUOTED;
        break;
    case YAML_LITERAL_SCALAR_STYLE:
    case YAML_FOLDED_SCALAR_STYLE:
        n->style = YNODE_BLOCK;
        break;
    default:
        n->style = YNODE_PLAIN;
        break;
    }
    if (ev->data.scalar.tag)
        n->tag = arena_strdup(&p->doc->arena, (const char *)ev->data.scalar.tag);
    if (ev->data.scalar.anchor)
        anchor_put(&p->anchors, dup_anchor(p, ev->data.scalar.anchor), n);
    attach(p, n);
}

static void on_alias(struct yparse *p, const yaml_event_t *ev)
{
    const char *name = (const char *)ev->data.alias.anchor;
    int line = (int)ev->start_mark.line + 1, col = (int)ev->start_mark.column + 1;
    struct ynode *target = anchor_get(&p->anchors, name);

    if (!target) {
        yerr(p, line, col,
             "alias '*%s' names no anchor defined before it (an alias may not refer to a "
             "collection that contains it)",
             name);
        return;
    }
    if (p->depth + target->height > YNODE_MAX_DEPTH) {
        yerr(p, line, col, "nesting deeper than %d levels (through alias '*%s')", YNODE_MAX_DEPTH,
             name);
        return;
    }
    if (account(p, target->weight, target->bytes, line, col) < 0)
        return;
    attach(p, target);
}

static void on_start(struct yparse *p, const yaml_event_t *ev, enum ynode_kind kind)
{
    struct ynode *n = new_node(p, kind, ev->start_mark);
    const yaml_char_t *anchor =
        kind == YNODE_MAPPING ? ev->data.mapping_start.anchor : ev->data.sequence_start.anchor;

    if (p->depth >= YNODE_MAX_DEPTH) {
        yerr(p, n->line, n->col, "nesting deeper than %d levels", YNODE_MAX_DEPTH);
        return;
    }
    if (account(p, 1, 0, n->line, n->col) < 0)
        return;
    p->stack[p->depth++] = (struct frame){.node = n, .anchor = dup_anchor(p, anchor)};
}

struct key_ref {
    const struct ynode *key;
    size_t index;
};

static int key_ref_cmp(const void *a, const void *b)
{
    const struct key_ref *x = a, *y = b;
    size_t n = x->key->len < y->key->len ? x->key->len : y->key->len;
    int c = memcmp(x->key->str, y->key->str, n);
    if (c)
        return c;
    if (x->key->len != y->key->len)
        return x->key->len < y->key->len ? -1 : 1;
    return x->index < y->index ? -1 : x->index > y->index;
}

static bool same_key(const struct ynode *a, const struct ynode *b)
{
    return a->len == b->len && memcmp(a->str, b->str, a->len) == 0;
}

/* Duplicate keys reported per document before the parse gives up. */
#define YNODE_MAX_DUPLICATES 100

/* A duplicate key is an error, but not one that stops the parse: the rest of the document is
 * still read and checked, so one run lists every problem. Past the cap it does stop, as a
 * mapping could hold a million copies of one key. */
static void dup_key_error(struct yparse *p, const struct ynode *first, const struct ynode *again)
{
    if (++p->nduplicates > YNODE_MAX_DUPLICATES) {
        yerr(p, again->line, again->col,
             "too many duplicate keys (%d): the rest of the document is not read",
             YNODE_MAX_DUPLICATES);
        return;
    }
    diag_error(p->d, p->doc->file, again->line, again->col,
               "duplicate key '%s' (first at line %d, column %d)", again->str, first->line,
               first->col);
}

/* Keys must be unique: a repeated `call:` or `path:` has no evident meaning. Each repetition is
 * reported and dropped, so readers see the first. Sorting keeps a mapping with many keys from
 * costing quadratic time. */
static void check_duplicate_keys(struct yparse *p, struct ynode *map)
{
    size_t n = map->npairs, kept = 0;
    bool *drop;

    if (n < 2)
        return;
    drop = xcalloc(n, sizeof *drop);
    if (n <= 16) {
        for (size_t i = 1; i < n && !p->failed; i++)
            for (size_t j = 0; j < i; j++)
                if (!drop[j] && same_key(map->pairs[j].key, map->pairs[i].key)) {
                    dup_key_error(p, map->pairs[j].key, map->pairs[i].key);
                    drop[i] = true;
                    break;
                }
    } else {
        struct key_ref *refs = xmalloc(n * sizeof *refs);
        for (size_t i = 0; i < n; i++)
            refs[i] = (struct key_ref){map->pairs[i].key, i};
        /* Equal keys sort by position, so the first of a run is the one kept. */
        qsort(refs, n, sizeof *refs, key_ref_cmp);
        for (size_t i = 1, first = 0; i < n && !p->failed; i++) {
            if (!same_key(refs[first].key, refs[i].key)) {
                first = i;
                continue;
            }
            dup_key_error(p, refs[first].key, refs[i].key);
            drop[refs[i].index] = true;
        }
        free(refs);
    }
    for (size_t i = 0; i < n; i++)
        if (!drop[i])
            map->pairs[kept++] = map->pairs[i];
    map->npairs = kept;
    free(drop);
}

static void on_end(struct yparse *p)
{
    /* libyaml pairs every end event with a start; the check keeps a broken pairing from
     * reading outside the stack. */
    if (p->depth == 0 || !p->stack[p->depth - 1].node) {
        yerr(p, 0, 0, "unbalanced YAML collection events");
        return;
    }
    struct frame f = p->stack[--p->depth];
    struct ynode *n = f.node;
    int height = 0;

    for (size_t i = 0; i < f.n; i++) {
        if (f.kids[i]->height > height)
            height = f.kids[i]->height;
        n->weight += f.kids[i]->weight;
        n->bytes += f.kids[i]->bytes;
    }
    n->height = height + 1;

    if (n->kind == YNODE_SEQUENCE) {
        n->nitems = f.n;
        n->items = arena_alloc(&p->doc->arena, (f.n ? f.n : 1) * sizeof *n->items);
        if (f.n)
            memcpy(n->items, f.kids, f.n * sizeof *n->items);
    } else {
        n->npairs = f.n / 2;
        n->pairs = arena_alloc(&p->doc->arena, (n->npairs ? n->npairs : 1) * sizeof *n->pairs);
        for (size_t i = 0; i < n->npairs; i++) {
            struct ynode *k = f.kids[2 * i];
            if (k->kind != YNODE_SCALAR) {
                yerr(p, k->line, k->col, "expected a scalar as mapping key, got %s",
                     ynode_describe(k));
                goto cleanup;
            }
            n->pairs[i] = (struct ynode_pair){k, f.kids[2 * i + 1]};
        }
        check_duplicate_keys(p, n);
        if (p->failed)
            goto cleanup;
    }
    if (f.anchor)
        anchor_put(&p->anchors, f.anchor, n);
    attach(p, n);
cleanup:
    free(f.kids);
}

/* Line and column (1-based, column in characters) of byte <off>: reader errors only carry an
 * offset. */
static void offset_to_pos(const char *buf, size_t len, size_t off, int *line, int *col)
{
    *line = 1;
    *col = 1;
    for (size_t i = 0; i < off && i < len; i++) {
        if (buf[i] == '\n') {
            (*line)++;
            *col = 1;
        } else if (((unsigned char)buf[i] & 0xC0) != 0x80) {
            (*col)++;
        }
    }
}

static void syntax_error(struct yparse *p, const yaml_parser_t *yp)
{
    int line, col;

    switch (yp->error) {
    case YAML_MEMORY_ERROR:
        yerr(p, 0, 0, "out of memory while parsing YAML");
        break;
    case YAML_READER_ERROR:
        offset_to_pos(p->buf, p->len, yp->problem_offset, &line, &col);
        if (yp->problem_value != -1)
            yerr(p, line, col, "invalid YAML: %s (#x%X)", yp->problem, (unsigned)yp->problem_value);
        else
            yerr(p, line, col, "invalid YAML: %s", yp->problem);
        break;
    default:
        line = (int)yp->problem_mark.line + 1;
        col = (int)yp->problem_mark.column + 1;
        if (yp->context)
            yerr(p, line, col, "invalid YAML: %s (%s at line %d, column %d)",
                 yp->problem ? yp->problem : "syntax error", yp->context,
                 (int)yp->context_mark.line + 1, (int)yp->context_mark.column + 1);
        else
            yerr(p, line, col, "invalid YAML: %s", yp->problem ? yp->problem : "syntax error");
        break;
    }
}

struct ynode_doc *ynode_parse(const char *file, const char *buf, size_t len, struct diag *d)
{
    struct ynode_doc *doc = xcalloc(1, sizeof *doc);
    struct yparse p = {.doc = doc, .d = d, .buf = buf, .len = len};
    yaml_parser_t yp;
    bool done = false;

    arena_init(&doc->arena);
    doc->file = arena_strdup(&doc->arena, file);
    if (!yaml_parser_initialize(&yp)) {
        yerr(&p, 0, 0, "out of memory while parsing YAML");
        goto cleanup;
    }
    yaml_parser_set_input_string(&yp, (const unsigned char *)buf, len);

    while (!done && !p.failed) {
        yaml_event_t ev;
        if (!yaml_parser_parse(&yp, &ev)) {
            syntax_error(&p, &yp);
            break;
        }
        switch (ev.type) {
        case YAML_STREAM_END_EVENT:
            done = true;
            break;
        case YAML_DOCUMENT_START_EVENT:
            /* One capability per file keeps "file:line" unambiguous. */
            if (++p.ndocs > 1)
                yerr(&p, (int)ev.start_mark.line + 1, (int)ev.start_mark.column + 1,
                     "expected a single YAML document, found a second one");
            break;
        case YAML_SCALAR_EVENT:
            on_scalar(&p, &ev);
            break;
        case YAML_ALIAS_EVENT:
            on_alias(&p, &ev);
            break;
        case YAML_SEQUENCE_START_EVENT:
            on_start(&p, &ev, YNODE_SEQUENCE);
            break;
        case YAML_MAPPING_START_EVENT:
            on_start(&p, &ev, YNODE_MAPPING);
            break;
        case YAML_SEQUENCE_END_EVENT:
        case YAML_MAPPING_END_EVENT:
            on_end(&p);
            break;
        default:
            break;
        }
        yaml_event_delete(&ev);
    }
    yaml_parser_delete(&yp);

cleanup:
    /* After an error some collections are still open: their child vectors are on the heap. */
    while (p.depth > 0)
        free(p.stack[--p.depth].kids);
    free(p.anchors.slots);
    if (p.failed) {
        ynode_doc_free(doc);
        return NULL;
    }
    return doc;
}

void ynode_doc_free(struct ynode_doc *doc)
{
    if (!doc)
        return;
    arena_deinit(&doc->arena);
    free(doc);
}

/* The pair of mapping <map> whose key is <key>, or NULL (also when <map> is not a mapping). */
static const struct ynode_pair *find_pair(const struct ynode *map, const char *key)
{
    if (!map || map->kind != YNODE_MAPPING)
        return NULL;
    for (size_t i = 0; i < map->npairs; i++)
        if (strcmp(map->pairs[i].key->str, key) == 0)
            return &map->pairs[i];
    return NULL;
}

struct ynode *ynode_get_key(const struct ynode *map, const char *key)
{
    const struct ynode_pair *p = find_pair(map, key);
    return p ? p->key : NULL;
}

struct ynode *ynode_get(const struct ynode *map, const char *key)
{
    const struct ynode_pair *p = find_pair(map, key);
    return p ? p->value : NULL;
}

/* At most this many bytes of a key are quoted in a message: a key may be megabytes long. */
#define YNODE_KEY_QUOTE 64
/* Keys are listed in the message when no key is close and the table has at most this many. */
#define YNODE_KEYS_LISTED 8

size_t ynode_check_keys(const struct ynode *map, const struct ynode_keys *keys,
                        ynode_unknown_fn *report, void *arg)
{
    size_t unknown = 0;

    if (!map || map->kind != YNODE_MAPPING)
        return 0;
    for (size_t i = 0; i < map->npairs; i++) {
        const struct ynode *k = map->pairs[i].key;
        const char *const *name = keys->names;
        size_t nnames = 0;
        bool known = str_has_prefix(k->str, "x-");

        for (; !known && name[nnames]; nnames++)
            known = strcmp(name[nnames], k->str) == 0;
        if (known)
            continue;
        unknown++;
        /* Quote a bounded, printable copy: the message is one line of a terminal or log. */
        char quoted[YNODE_KEY_QUOTE + 4];
        size_t q = 0;
        for (size_t j = 0; j < k->len && q < YNODE_KEY_QUOTE; j++) {
            unsigned char c = (unsigned char)k->str[j];
            quoted[q++] = c < 0x20 || c == 0x7f ? '?' : (char)c;
        }
        if (k->len > YNODE_KEY_QUOTE)
            memcpy(quoted + q, "...", 3), q += 3;
        quoted[q] = '\0';

        const char *close = util_closest(k->str, keys->names, nnames);
        struct strbuf msg;
        strbuf_init(&msg, 0);
        strbuf_addf(&msg, "unknown key '%s' in %s", quoted, keys->what);
        if (close) {
            strbuf_addf(&msg, " (did you mean '%s'?)", close);
        } else if (nnames <= YNODE_KEYS_LISTED) {
            strbuf_adds(&msg, " (expected ");
            for (size_t j = 0; j < nnames; j++)
                strbuf_addf(&msg, "%s%s",
                            j == 0            ? ""
                            : j + 1 == nnames ? " or "
                                              : ", ",
                            keys->names[j]);
            strbuf_addc(&msg, ')');
        }
        report(arg, k, close, msg.data);
        strbuf_deinit(&msg);
    }
    return unknown;
}

bool ynode_looks_like_html(const char *buf, size_t len)
{
    size_t i = 0;
    if (len >= 3 && memcmp(buf, "\xEF\xBB\xBF", 3) == 0)
        i = 3;
    while (i < len && (buf[i] == ' ' || buf[i] == '\t' || buf[i] == '\r' || buf[i] == '\n'))
        i++;
    /* YAML could start with '<' only as a plain scalar or key such as "<a>: b", which no
     * capability document or configuration has at its top: nothing valid is refused. */
    return i < len && buf[i] == '<';
}

static bool is_plain_like(const struct ynode *n)
{
    return n->style == YNODE_PLAIN && !n->tag;
}

bool ynode_is_null(const struct ynode *n)
{
    if (!n || n->kind != YNODE_SCALAR)
        return false;
    if (n->tag)
        return strcmp(n->tag, TAG_NULL) == 0;
    if (n->style != YNODE_PLAIN)
        return false;
    return n->len == 0 || strcmp(n->str, "~") == 0 || strcmp(n->str, "null") == 0 ||
           strcmp(n->str, "Null") == 0 || strcmp(n->str, "NULL") == 0;
}

int ynode_bool(const struct ynode *n, bool *out)
{
    if (!n || n->kind != YNODE_SCALAR)
        return -1;
    if (!is_plain_like(n) && !(n->tag && strcmp(n->tag, TAG_BOOL) == 0))
        return -1;
    if (str_eq_ci(n->str, "true")) {
        *out = true;
        return 0;
    }
    if (str_eq_ci(n->str, "false")) {
        *out = false;
        return 0;
    }
    return -1;
}

const char *ynode_describe(const struct ynode *n)
{
    if (!n)
        return "nothing";
    switch (n->kind) {
    case YNODE_MAPPING:
        return "a mapping";
    case YNODE_SEQUENCE:
        return "a sequence";
    default:
        return ynode_is_null(n) ? "null" : "a scalar";
    }
}

static bool all_in(const char *s, const char *set)
{
    if (!*s)
        return false;
    for (; *s; s++)
        if (!strchr(set, *s))
            return false;
    return true;
}

/* YAML 1.2 core schema numbers. Integers beyond 2^53 stay strings: a double would silently
 * change them, and an ID sent upstream must arrive as written. Infinity and NaN stay strings
 * too, as JSON cannot carry them. */
static cJSON *number_or_null(const char *s)
{
    const char *digits = s + (*s == '-' || *s == '+');
    char *end;
    double v;

    if (str_has_prefix(s, "0x") && all_in(s + 2, "0123456789abcdefABCDEF")) {
        v = (double)strtoull(s + 2, &end, 16);
    } else if (str_has_prefix(s, "0o") && all_in(s + 2, "01234567")) {
        v = (double)strtoull(s + 2, &end, 8);
    } else if (all_in(digits, "0123456789")) {
        v = strtod(s, &end);
    } else {
        /* [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)? */
        const char *q = digits;
        size_t intd = 0, fracd = 0;
        while (*q >= '0' && *q <= '9') {
            q++;
            intd++;
        }
        if (*q == '.') {
            q++;
            while (*q >= '0' && *q <= '9') {
                q++;
                fracd++;
            }
        }
        if (intd + fracd == 0)
            return NULL;
        if (*q == 'e' || *q == 'E') {
            q++;
            if (*q == '-' || *q == '+')
                q++;
            if (!(*q >= '0' && *q <= '9'))
                return NULL;
            while (*q >= '0' && *q <= '9')
                q++;
        }
        if (*q)
            return NULL;
        v = strtod(s, &end);
        if (!isfinite(v))
            return NULL;
        return cJSON_CreateNumber(v);
    }
    if (fabs(v) > 9007199254740992.0)
        return NULL;
    return cJSON_CreateNumber(v);
}

cJSON *ynode_scalar_json(const struct ynode *n)
{
    bool b;
    cJSON *num;

    if (!n || n->kind != YNODE_SCALAR)
        return NULL;
    if (ynode_is_null(n))
        return cJSON_CreateNull();
    if (ynode_bool(n, &b) == 0)
        return cJSON_CreateBool(b);
    bool numeric_tag = n->tag && (strcmp(n->tag, TAG_INT) == 0 || strcmp(n->tag, TAG_FLOAT) == 0);
    if ((is_plain_like(n) || numeric_tag) && (num = number_or_null(n->str)))
        return num;
    return cJSON_CreateString(n->str);
}

cJSON *ynode_to_json(const struct ynode *n)
{
    cJSON *out;

    if (!n)
        return cJSON_CreateNull();
    switch (n->kind) {
    case YNODE_SEQUENCE:
        out = cJSON_CreateArray();
        for (size_t i = 0; i < n->nitems; i++)
            cJSON_AddItemToArray(out, ynode_to_json(n->items[i]));
        return out;
    case YNODE_MAPPING:
        out = cJSON_CreateObject();
        for (size_t i = 0; i < n->npairs; i++)
            cJSON_AddItemToObject(out, n->pairs[i].key->str, ynode_to_json(n->pairs[i].value));
        return out;
    default:
        return ynode_scalar_json(n);
    }
}
