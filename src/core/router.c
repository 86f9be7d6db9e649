/*
 * router: see router.h. The table is a trie of path segments: each node has sorted literal
 * children and at most one variable child, so two templates with the same shape meet at the
 * same node whatever their variable names (the names live in the per-method route). Matching
 * is a depth-first walk that tries the literal child before the variable one; each trie node is
 * visited at most once per request, so the cost is bounded by the table, and nothing is
 * allocated.
 *
 * Semantics worth knowing:
 *  - Trailing slashes are strict: "/v1/users/" is the segments v1, users, "" and does not match
 *    "/v1/users" (nor "/v1/users/{id}", since a variable never matches an empty segment). A
 *    template may end in '/' to serve exactly that path.
 *  - When the most specific path match lacks the method, less specific ones are tried: with
 *    POST /users/me and GET /users/{id}, GET /users/me reaches the second route. allow_mask is
 *    the union over every route whose path matches, i.e. exactly the methods that would succeed.
 *  - There is no implicit HEAD for GET: callers decide that.
 *  - A catch-all route (router_add_rest) hangs off its own child of the node before its last
 *    segment and is tried after the literal and variable children: it only serves what no
 *    more specific route matches.
 */
#include "core/router.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/util.h"

/* Deeper templates are refused; this also bounds the recursion in match_node and free_node. */
#define ROUTER_MAX_DEPTH 64

struct router_node;

struct router_lit {
    char *seg;
    size_t len;
    struct router_node *node;
};

struct router_route {
    bool used;
    void *target;
    char *names[ROUTER_MAX_CAPTURES]; /* variable names of this route, in path order */
    size_t nnames;
};

struct router_node {
    struct router_lit *lits; /* sorted by (len, bytes) */
    size_t nlits;
    size_t caplits;
    struct router_node *var;
    struct router_node *rest; /* catch-all: the rest of the path, one capture */
    unsigned mask;            /* (1u << method) for each used route */
    struct router_route routes[MODEL_METHOD_COUNT];
};

struct router {
    struct router_node root;
    size_t count;
};

/* One parsed template segment. */
struct tpl_seg {
    const char *p; /* literal bytes, or the trimmed variable name */
    size_t len;
    bool var;
};

struct router *router_new(void)
{
    return xcalloc(1, sizeof(struct router));
}

static void free_node_contents(struct router_node *n)
{
    for (size_t i = 0; i < n->nlits; i++) {
        free_node_contents(n->lits[i].node);
        free(n->lits[i].node);
        free(n->lits[i].seg);
    }
    free_null(&n->lits);
    if (n->var) {
        free_node_contents(n->var);
        free_null(&n->var);
    }
    if (n->rest) {
        free_node_contents(n->rest);
        free_null(&n->rest);
    }
    for (size_t m = 0; m < MODEL_METHOD_COUNT; m++)
        for (size_t i = 0; i < n->routes[m].nnames; i++)
            free_null(&n->routes[m].names[i]);
}

void router_free(struct router *r)
{
    if (!r)
        return;
    free_node_contents(&r->root);
    free(r);
}

size_t router_count(const struct router *r)
{
    return r ? r->count : 0;
}

static int lit_cmp(const char *a, size_t alen, const char *b, size_t blen)
{
    if (alen != blen)
        return alen < blen ? -1 : 1;
    return memcmp(a, b, alen);
}

/* Binary search; returns the index of the match, or of the insertion point with *found false. */
static size_t lit_find(const struct router_node *n, const char *seg, size_t len, bool *found)
{
    size_t lo = 0, hi = n->nlits;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = lit_cmp(seg, len, n->lits[mid].seg, n->lits[mid].len);
        if (c == 0) {
            *found = true;
            return mid;
        }
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    *found = false;
    return lo;
}

static struct router_node *lit_child(struct router_node *n, const char *seg, size_t len)
{
    bool found;
    size_t at = lit_find(n, seg, len, &found);
    if (found)
        return n->lits[at].node;
    if (n->nlits == n->caplits) {
        n->caplits = n->caplits ? n->caplits * 2 : 4;
        n->lits = xrealloc(n->lits, n->caplits * sizeof *n->lits);
    }
    memmove(n->lits + at + 1, n->lits + at, (n->nlits - at) * sizeof *n->lits);
    n->lits[at].seg = xstrndup(seg, len);
    n->lits[at].len = len;
    n->lits[at].node = xcalloc(1, sizeof(struct router_node));
    n->nlits++;
    return n->lits[at].node;
}

static bool is_space(char c)
{
    return c == ' ' || c == '\t';
}

/* Parse segment [p, p+len) of a template. */
static int parse_seg(const char *p, size_t len, bool last, struct tpl_seg *s, const char **err)
{
    if (len && p[0] == '{') {
        bool dbl = len >= 2 && p[1] == '{';
        size_t open = dbl ? 2 : 1;
        if (len < 2 * open || p[len - 1] != '}' || (dbl && p[len - 2] != '}')) {
            *err = "a variable must be a whole segment: {name} or {{name}}";
            return -1;
        }
        s->p = p + open;
        s->len = len - 2 * open;
        while (s->len && is_space(s->p[0])) {
            s->p++;
            s->len--;
        }
        while (s->len && is_space(s->p[s->len - 1]))
            s->len--;
        if (!s->len) {
            *err = "empty variable name";
            return -1;
        }
        for (size_t i = 0; i < s->len; i++) {
            if (s->p[i] == '{' || s->p[i] == '}') {
                *err = "a variable must be a whole segment: {name} or {{name}}";
                return -1;
            }
        }
        s->var = true;
        return 0;
    }
    if (!len && !last) {
        *err = "empty path segment ('//')";
        return -1;
    }
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)p[i];
        if (c == '{' || c == '}') {
            *err = "a variable must be a whole segment: {name} or {{name}}";
            return -1;
        }
        /* Such bytes cannot appear in a request path, so the route could never match. */
        if (c <= 0x20 || c == 0x7F || c == '?' || c == '#') {
            *err = "invalid character in a path template";
            return -1;
        }
    }
    s->p = p;
    s->len = len;
    s->var = false;
    return 0;
}

/* Split and validate <tpl> into <segs>; nothing in the router changes until this succeeds. */
static int parse_template(const char *tpl, struct tpl_seg *segs, size_t *nsegs, size_t *nvars,
                          const char **err)
{
    if (!tpl || tpl[0] != '/') {
        *err = "a path template must start with '/'";
        return -1;
    }
    *nsegs = 0;
    *nvars = 0;
    const char *p = tpl + 1;
    for (;;) {
        const char *slash = strchr(p, '/');
        size_t len = slash ? (size_t)(slash - p) : strlen(p);
        if (*nsegs == ROUTER_MAX_DEPTH) {
            *err = "too many segments in a path template";
            return -1;
        }
        struct tpl_seg *s = &segs[*nsegs];
        if (parse_seg(p, len, !slash, s, err) < 0)
            return -1;
        (*nsegs)++;
        if (s->var) {
            if (*nvars == ROUTER_MAX_CAPTURES) {
                *err = "too many variables in a path template";
                return -1;
            }
            /* Path variables are looked up case-insensitively, so {id} and {ID} would clash. */
            for (size_t i = 0; i + 1 < *nsegs; i++) {
                if (segs[i].var && segs[i].len == s->len &&
                    strncasecmp(segs[i].p, s->p, s->len) == 0) {
                    *err = "duplicate variable name in a path template";
                    return -1;
                }
            }
            (*nvars)++;
        }
        if (!slash)
            return 0;
        p = slash + 1;
    }
}

static int add_route(struct router *r, enum model_method method, const char *tpl, void *target,
                     bool rest, void **conflict, const char **err)
{
    struct tpl_seg segs[ROUTER_MAX_DEPTH];
    size_t nsegs, nvars;
    void *conflict_dummy;
    const char *err_dummy;

    if (!conflict)
        conflict = &conflict_dummy;
    if (!err)
        err = &err_dummy;
    *conflict = NULL;
    if ((unsigned)method >= MODEL_METHOD_COUNT) {
        *err = "invalid method";
        return -1;
    }
    if (parse_template(tpl, segs, &nsegs, &nvars, err) < 0)
        return -1;

    struct router_node *n = &r->root;
    for (size_t i = 0; i < nsegs; i++) {
        if (rest && i + 1 == nsegs && segs[i].var) {
            if (!n->rest)
                n->rest = xcalloc(1, sizeof(struct router_node));
            n = n->rest;
        } else if (segs[i].var) {
            if (!n->var)
                n->var = xcalloc(1, sizeof(struct router_node));
            n = n->var;
        } else {
            n = lit_child(n, segs[i].p, segs[i].len);
        }
    }

    struct router_route *route = &n->routes[method];
    if (route->used) {
        *conflict = route->target;
        *err = "a route with the same method and path exists already";
        return -1;
    }
    route->used = true;
    route->target = target;
    route->nnames = 0;
    for (size_t i = 0; i < nsegs; i++)
        if (segs[i].var)
            route->names[route->nnames++] = xstrndup(segs[i].p, segs[i].len);
    n->mask |= 1u << method;
    r->count++;
    return 0;
}

int router_add(struct router *r, enum model_method method, const char *tpl, void *target,
               void **conflict, const char **err)
{
    return add_route(r, method, tpl, target, false, conflict, err);
}

int router_add_rest(struct router *r, enum model_method method, const char *tpl, void *target,
                    void **conflict, const char **err)
{
    return add_route(r, method, tpl, target, true, conflict, err);
}

struct match_state {
    const char *end;
    enum model_method method;
    struct router_match *out;
    bool found;
    size_t nvars;
    struct {
        const char *p;
        size_t len;
    } vars[ROUTER_MAX_CAPTURES];
};

/* Visit every route whose path matches, most specific first: the first one with the method
 * wins, and every one adds to allow_mask. <seg> starts the next segment; <done> means the path
 * is consumed. */
static void match_node(const struct router_node *n, const char *seg, bool done,
                       struct match_state *st)
{
    if (done) {
        if (!n->mask)
            return;
        st->out->allow_mask |= n->mask;
        if (st->found || (unsigned)st->method >= MODEL_METHOD_COUNT)
            return;
        const struct router_route *route = &n->routes[st->method];
        if (!route->used)
            return;
        /* Equal by construction (both count the variable edges from the root to <n>); the
         * minimum only keeps the copy in bounds should that ever change. */
        size_t ncap = route->nnames < st->nvars ? route->nnames : st->nvars;
        st->found = true;
        st->out->target = route->target;
        st->out->ncaptures = ncap;
        for (size_t i = 0; i < ncap; i++) {
            st->out->captures[i].name = route->names[i];
            st->out->captures[i].value = st->vars[i].p;
            st->out->captures[i].len = st->vars[i].len;
        }
        return;
    }

    const char *slash = memchr(seg, '/', (size_t)(st->end - seg));
    const char *seg_end = slash ? slash : st->end;
    size_t len = (size_t)(seg_end - seg);
    const char *next = slash ? slash + 1 : st->end;

    bool found;
    size_t at = lit_find(n, seg, len, &found);
    if (found)
        match_node(n->lits[at].node, next, !slash, st);
    /* A trie path has no more variable edges than its deepest template: the guard is only a
     * belt for the captures array. */
    if (n->var && len && st->nvars < ROUTER_MAX_CAPTURES) {
        st->vars[st->nvars].p = seg;
        st->vars[st->nvars].len = len;
        st->nvars++;
        match_node(n->var, next, !slash, st);
        st->nvars--;
    }
    /* Last: everything from this segment to the end, when it is not empty. */
    if (n->rest && seg < st->end && st->nvars < ROUTER_MAX_CAPTURES) {
        st->vars[st->nvars].p = seg;
        st->vars[st->nvars].len = (size_t)(st->end - seg);
        st->nvars++;
        match_node(n->rest, st->end, true, st);
        st->nvars--;
    }
}

enum router_result router_match(const struct router *r, enum model_method method, const char *path,
                                size_t len, struct router_match *out)
{
    out->target = NULL;
    out->ncaptures = 0;
    out->allow_mask = 0;
    if (!r || !path || !len || path[0] != '/')
        return ROUTER_NOT_FOUND;

    struct match_state st;
    st.end = path + len;
    st.method = method;
    st.out = out;
    st.found = false;
    st.nvars = 0;
    match_node(&r->root, path + 1, false, &st);

    if (st.found)
        return ROUTER_FOUND;
    return out->allow_mask ? ROUTER_METHOD_NOT_ALLOWED : ROUTER_NOT_FOUND;
}
