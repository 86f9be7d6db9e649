/*
 * jsonnum: see jsonnum.h.
 */
#include "base/jsonnum.h"

#include <stdlib.h>
#include <string.h>

#include "base/swar.h"
#include "base/util.h"

/* cJSON 1.7.15 prints a number with 15 significant digits when that reads back within a
 * relative DBL_EPSILON, so an integer of 16 digits or more can come out changed even below 2^53
 * (9007199254740991 prints as 9.00719925474099e+15): such integers keep their text. */
#define JSONNUM_MIN_DIGITS 16
_Static_assert(JSONNUM_MIN_DIGITS >= 15, "has_long_digit_run looks for a whole word of digits");

struct tok {
    size_t off, len;
};

/* The number tokens of JSON text <s>, in order (caller frees *<out>). Strings are skipped with
 * their escapes; everything else that starts with '-' or a digit is a number in a text cJSON
 * accepted (true, false and null hold no digits). */
static size_t scan(const char *s, size_t len, struct tok **out)
{
    size_t n = 0, cap = 0;
    struct tok *t = NULL;
    size_t i = 0;
    while (i < len) {
        char c = s[i];
        if (c == '"') {
            for (i++; i < len && s[i] != '"'; i++)
                if (s[i] == '\\')
                    i++;
            i++;
        } else if (c == '-' || (c >= '0' && c <= '9')) {
            size_t b = i;
            while (i < len && (strchr("0123456789+-.eE", s[i]) && s[i] != '\0'))
                i++;
            if (n == cap) {
                cap = cap ? 2 * cap : 16;
                t = xrealloc(t, cap * sizeof *t);
            }
            t[n++] = (struct tok){b, i - b};
        } else {
            i++;
        }
    }
    *out = t;
    return n;
}

static size_t skip_ws(const char *s, size_t len, size_t i)
{
    while (i < len && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r'))
        i++;
    return i;
}

/* After the string whose opening quote is <s>[i]. */
static size_t skip_string(const char *s, size_t len, size_t i)
{
    for (i++; i < len && s[i] != '"'; i++)
        if (s[i] == '\\')
            i++;
    return i + 1;
}

/* After the value that starts at <s>[i] (a text cJSON accepted: no checking here). */
static size_t skip_value(const char *s, size_t len, size_t i)
{
    if (i < len && s[i] == '"')
        return skip_string(s, len, i);
    if (i < len && (s[i] == '{' || s[i] == '[')) {
        size_t depth = 0;
        while (i < len) {
            if (s[i] == '"') {
                i = skip_string(s, len, i);
                continue;
            }
            if (s[i] == '{' || s[i] == '[')
                depth++;
            else if ((s[i] == '}' || s[i] == ']') && --depth == 0)
                return i + 1;
            i++;
        }
        return i;
    }
    while (i < len && s[i] != ',' && s[i] != '}' && s[i] != ']' && s[i] != ' ' && s[i] != '\t' &&
           s[i] != '\n' && s[i] != '\r')
        i++; /* a number or a literal */
    return i;
}

const char *jsonnum_member(const char *s, size_t len, const char *name, size_t *toklen)
{
    size_t nlen = strlen(name);
    size_t i = skip_ws(s, len, 0);
    if (i >= len || s[i] != '{')
        return NULL;
    i = skip_ws(s, len, i + 1);
    while (i < len && s[i] == '"') {
        size_t k = i + 1, e = k;
        while (e < len && s[e] != '"' && s[e] != '\\')
            e++;
        if (e >= len || s[e] == '\\')
            return NULL; /* an escaped key: cJSON's reading of it is the one that counts */
        i = skip_ws(s, len, e + 1);
        if (i >= len || s[i] != ':')
            return NULL;
        i = skip_ws(s, len, i + 1);
        size_t end = skip_value(s, len, i);
        if (e - k == nlen && memcmp(s + k, name, nlen) == 0) {
            if (i >= len || !(s[i] == '-' || (s[i] >= '0' && s[i] <= '9')))
                return NULL;
            *toklen = end - i;
            return s + i;
        }
        i = skip_ws(s, len, end);
        if (i >= len || s[i] != ',')
            return NULL;
        i = skip_ws(s, len, i + 1);
    }
    return NULL;
}

static size_t count_numbers(const cJSON *j)
{
    size_t n = cJSON_IsNumber(j) ? 1 : 0;
    for (const cJSON *c = j->child; c; c = c->next)
        n += count_numbers(c);
    return n;
}

bool jsonnum_is_json_number(const char *s, size_t len)
{
    size_t i = 0;
    if (i < len && s[i] == '-')
        i++;
    if (i >= len)
        return false;
    if (s[i] == '0') {
        i++;
    } else if (s[i] >= '1' && s[i] <= '9') {
        while (i < len && s[i] >= '0' && s[i] <= '9')
            i++;
    } else {
        return false;
    }
    if (i < len && s[i] == '.') {
        size_t d = ++i;
        while (i < len && s[i] >= '0' && s[i] <= '9')
            i++;
        if (i == d)
            return false;
    }
    if (i < len && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < len && (s[i] == '+' || s[i] == '-'))
            i++;
        size_t d = i;
        while (i < len && s[i] >= '0' && s[i] <= '9')
            i++;
        if (i == d)
            return false;
    }
    return i == len;
}

/* An integer token of JSONNUM_MIN_DIGITS digits or more, as RFC 8259 writes it. */
static bool is_long_integer_token(const char *s, size_t len)
{
    size_t digits = len - (len > 0 && s[0] == '-');
    return digits >= JSONNUM_MIN_DIGITS && jsonnum_is_json_number(s, len) && !memchr(s, '.', len) &&
           !memchr(s, 'e', len) && !memchr(s, 'E', len);
}

/* Walk <j> in document order; <*k> counts number nodes. Nodes change only once the walk is
 * inside <under> (NULL: everywhere). */
static size_t keep_walk(cJSON *j, const cJSON *under, bool inside, const char *src,
                        const struct tok *t, size_t *k)
{
    size_t changed = 0;
    inside = inside || !under || j == under;
    if (cJSON_IsNumber(j)) {
        const struct tok *tk = &t[(*k)++];
        if (inside && !j->valuestring && is_long_integer_token(src + tk->off, tk->len)) {
            /* Printed verbatim by cJSON; the digits are the upstream's own. */
            char *raw = cJSON_malloc(tk->len + 1);
            if (raw) {
                memcpy(raw, src + tk->off, tk->len);
                raw[tk->len] = '\0';
                j->type = cJSON_Raw;
                j->valuestring = raw;
                changed++;
            }
        }
    }
    for (cJSON *c = j->child; c; c = c->next)
        changed += keep_walk(c, under, inside, src, t, k);
    return changed;
}

static bool has_long_digit_run(const char *s, size_t len)
{
    /* A run of 16 digits holds eight that start at a multiple of 8: without such a word of
     * digits there is none, and that is checked a word at a time (JSONNUM_MIN_DIGITS >= 15) */
    bool word = false;
    for (size_t i = 0; i + 8 <= len && !word; i += 8) {
        word = swar_digit(swar_load(s + i)) == SWAR_HIGHS;
    }
    if (!word)
        return false;
    size_t run = 0;
    for (size_t i = 0; i < len; i++) {
        run = (s[i] >= '0' && s[i] <= '9') ? run + 1 : 0;
        if (run >= JSONNUM_MIN_DIGITS)
            return true;
    }
    return false;
}

size_t jsonnum_keep_big_ints(cJSON *doc, const cJSON *under, const char *src, size_t len)
{
    if (!doc || !src || !has_long_digit_run(src, len))
        return 0;
    struct tok *t = NULL;
    size_t changed = 0;
    size_t n = scan(src, len, &t);
    if (n == count_numbers(doc)) {
        size_t k = 0;
        changed = keep_walk(doc, under, false, src, t, &k);
    }
    free(t);
    return changed;
}

/* The document-order index of number node <node> in <j>, counting from *<k>. */
static bool find_walk(const cJSON *j, const cJSON *node, size_t *k)
{
    if (j == node)
        return true;
    if (cJSON_IsNumber(j))
        (*k)++;
    for (const cJSON *c = j->child; c; c = c->next)
        if (find_walk(c, node, k))
            return true;
    return false;
}

const char *jsonnum_token(const cJSON *doc, const cJSON *node, const char *src, size_t len,
                          size_t *toklen)
{
    if (!doc || !cJSON_IsNumber(node))
        return NULL;
    size_t k = 0;
    if (!find_walk(doc, node, &k))
        return NULL;
    struct tok *t = NULL;
    const char *r = NULL;
    size_t n = scan(src, len, &t);
    if (n == count_numbers(doc) && k < n) {
        r = src + t[k].off;
        *toklen = t[k].len;
    }
    free(t);
    return r;
}

cJSON *jsonnum_parse_one(const char *s, size_t len, size_t *bad_at)
{
    const char *end = NULL;
    if (bad_at)
        *bad_at = len;
    cJSON *doc = cJSON_ParseWithLengthOpts(s, len, &end, 0);
    if (!doc)
        return NULL;
    while (end < s + len && (*end == ' ' || *end == '\t' || *end == '\r' || *end == '\n'))
        end++;
    if (end != s + len) {
        if (bad_at)
            *bad_at = (size_t)(end - s);
        cJSON_Delete(doc);
        return NULL;
    }
    return doc;
}

cJSON *jsonnum_parse_exact(const char *s, size_t len, size_t *bad_at)
{
    cJSON *doc = jsonnum_parse_one(s, len, bad_at);
    jsonnum_keep_big_ints(doc, NULL, s, len);
    return doc;
}
