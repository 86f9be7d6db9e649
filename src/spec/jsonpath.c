/*
 * jsonpath: see jsonpath.h. Paths are short and come from the loaded documents, so they are
 * re-parsed step by step on every evaluation instead of being compiled: that keeps the API a
 * plain string and costs far less than the upstream round trip it follows.
 */
#include "spec/jsonpath.h"

#include <limits.h>
#include <stddef.h>
#include <string.h>

enum step_kind { STEP_END, STEP_MEMBER, STEP_INDEX, STEP_WILDCARD };

struct step {
    enum step_kind kind;
    const char *name; /* STEP_MEMBER: not NUL-terminated */
    size_t len;
    bool escaped; /* the name came from ['...'] and may hold backslash escapes */
    long index;   /* STEP_INDEX, negative counts from the end */
};

static void skip_spaces(const char **p)
{
    while (**p == ' ' || **p == '\t')
        (*p)++;
}

/* Bytes allowed in a dotted member name; anything else needs the ['...'] form. */
static bool is_name_byte(char c)
{
    return c && !strchr(".[]*'\" \t\r\n", c);
}

static int parse_index(const char **pp, long *out, const char **err)
{
    const char *p = *pp;
    bool neg = false;
    long v = 0;

    if (*p == '-') {
        neg = true;
        p++;
    }
    if (*p < '0' || *p > '9') {
        *err = "expected a number in [ ]";
        return -1;
    }
    while (*p >= '0' && *p <= '9') {
        v = v * 10 + (*p - '0');
        if (v > INT_MAX) {
            /* cJSON indexes arrays with int */
            *err = "array index out of range";
            return -1;
        }
        p++;
    }
    *out = neg ? -v : v;
    *pp = p;
    return 0;
}

/* Parse the quoted name starting at the quote **pp; leave *pp after the closing quote. */
static int parse_quoted(const char **pp, struct step *st, const char **err)
{
    char quote = **pp;
    const char *p = *pp + 1;

    st->name = p;
    st->escaped = false;
    while (*p && *p != quote) {
        if (*p == '\\') {
            st->escaped = true;
            if (!p[1])
                break;
            p++;
        }
        p++;
    }
    if (*p != quote) {
        *err = "unterminated quoted name";
        return -1;
    }
    st->len = (size_t)(p - st->name);
    st->kind = STEP_MEMBER;
    *pp = p + 1;
    return 0;
}

/* Parse the step at *pp (just after '$' or after the previous step) and advance *pp. */
static int next_step(const char **pp, struct step *st, const char **err)
{
    const char *p = *pp;

    memset(st, 0, sizeof *st);
    if (!*p) {
        st->kind = STEP_END;
        return 0;
    }
    if (*p == '.') {
        p++;
        if (*p == '.') {
            *err = "recursive descent '..' is not supported";
            return -1;
        }
        if (*p == '*') {
            st->kind = STEP_WILDCARD;
            *pp = p + 1;
            return 0;
        }
        st->name = p;
        while (is_name_byte(*p))
            p++;
        st->len = (size_t)(p - st->name);
        if (!st->len) {
            *err = *st->name ? "unexpected character after '.'" : "a path cannot end with '.'";
            return -1;
        }
        st->kind = STEP_MEMBER;
        *pp = p;
        return 0;
    }
    if (*p == '[') {
        p++;
        skip_spaces(&p);
        if (*p == '*') {
            st->kind = STEP_WILDCARD;
            p++;
        } else if (*p == '\'' || *p == '"') {
            if (parse_quoted(&p, st, err) < 0)
                return -1;
        } else if (*p == '-' || (*p >= '0' && *p <= '9')) {
            if (parse_index(&p, &st->index, err) < 0)
                return -1;
            st->kind = STEP_INDEX;
        } else {
            /* slices, unions and filters land here too */
            *err = "expected an index, '*' or a quoted name in [ ]";
            return -1;
        }
        skip_spaces(&p);
        if (*p != ']') {
            *err = "expected ']' (slices, unions and filters are not supported)";
            return -1;
        }
        *pp = p + 1;
        return 0;
    }
    *err = "expected '.' or '['";
    return -1;
}

/* Skip the leading "$" (and the "." of "$."): the first step starts there. */
static int path_start(const char *path, const char **start, const char **err)
{
    if (!path || !*path) {
        *start = "";
        return 0;
    }
    if (path[0] != '$') {
        *err = "a path must start with '$'";
        return -1;
    }
    *start = path[1] == '.' && path[2] == '\0' ? path + 2 : path + 1;
    return 0;
}

/* Validate the whole path; report whether it has a wildcard. */
static int scan(const char *path, bool *wild, const char **err)
{
    const char *p;
    struct step st;

    *wild = false;
    if (path_start(path, &p, err) < 0)
        return -1;
    for (;;) {
        if (next_step(&p, &st, err) < 0)
            return -1;
        if (st.kind == STEP_END)
            return 0;
        if (st.kind == STEP_WILDCARD)
            *wild = true;
    }
}

int jsonpath_check(const char *path, const char **err)
{
    const char *dummy;
    bool wild;
    return scan(path, &wild, err ? err : &dummy);
}

bool jsonpath_is_root(const char *path)
{
    return !path || !*path || strcmp(path, "$") == 0 || strcmp(path, "$.") == 0;
}

static bool name_eq(const struct step *st, const char *key)
{
    if (!st->escaped)
        return strncmp(key, st->name, st->len) == 0 && key[st->len] == '\0';
    for (size_t i = 0; i < st->len; key++) {
        char c = st->name[i];
        if (c == '\\' && i + 1 < st->len) {
            c = st->name[i + 1];
            i += 2;
        } else {
            i++;
        }
        if (*key != c)
            return false;
    }
    return *key == '\0';
}

/* The single child <st> selects in <node>, or NULL. */
static const cJSON *select_one(const cJSON *node, const struct step *st)
{
    if (st->kind == STEP_MEMBER) {
        if (!cJSON_IsObject(node))
            return NULL;
        /* The first of duplicate keys wins, as with cJSON_GetObjectItemCaseSensitive. */
        for (const cJSON *c = node->child; c; c = c->next)
            if (c->string && name_eq(st, c->string))
                return c;
        return NULL;
    }
    if (st->kind == STEP_INDEX) {
        if (!cJSON_IsArray(node))
            return NULL;
        long idx = st->index;
        if (idx < 0) {
            idx += cJSON_GetArraySize(node);
            if (idx < 0)
                return NULL;
        }
        return cJSON_GetArrayItem(node, (int)idx);
    }
    return NULL;
}

/* Append a copy of every match of the steps at <p> under <node> to <out>. -1 on OOM. */
static int collect(const cJSON *node, const char *p, cJSON *out)
{
    struct step st;
    const char *err;

    if (next_step(&p, &st, &err) < 0)
        return -1; /* cannot happen: scan() validated the path */
    if (st.kind == STEP_END) {
        cJSON *copy = cJSON_Duplicate(node, true);
        if (!copy)
            return -1;
        if (!cJSON_AddItemToArray(out, copy)) {
            cJSON_Delete(copy);
            return -1;
        }
        return 0;
    }
    if (st.kind == STEP_WILDCARD) {
        if (!cJSON_IsArray(node) && !cJSON_IsObject(node))
            return 0;
        for (const cJSON *c = node->child; c; c = c->next)
            if (collect(c, p, out) < 0)
                return -1;
        return 0;
    }
    const cJSON *next = select_one(node, &st);
    return next ? collect(next, p, out) : 0;
}

cJSON *jsonpath_eval(const cJSON *doc, const char *path)
{
    const char *p;
    const char *err;
    bool wild;

    if (!doc || scan(path, &wild, &err) < 0 || path_start(path, &p, &err) < 0)
        return NULL;

    if (wild) {
        cJSON *out = cJSON_CreateArray();
        if (out && collect(doc, p, out) < 0) {
            cJSON_Delete(out);
            out = NULL;
        }
        return out;
    }

    const cJSON *node = doc;
    for (;;) {
        struct step st;
        next_step(&p, &st, &err);
        if (st.kind == STEP_END)
            break;
        node = select_one(node, &st);
        if (!node)
            return NULL;
    }
    return cJSON_Duplicate(node, true);
}
