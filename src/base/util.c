/*
 * util: see util.h. OOM aborts (the orchestrator restarts us); every input-driven size is capped
 * elsewhere, so running out of memory here means the environment is broken.
 */
#include "base/util.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/crypto.h"
#include "base/swar.h"

static void oom(size_t n)
{
    fprintf(stderr, "capproxy: out of memory allocating %zu bytes\n", n);
    abort();
}

void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        oom(n);
    return p;
}

void *xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p)
        oom(n * size);
    return p;
}

void *xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q)
        oom(n);
    return q;
}

char *xstrdup(const char *s)
{
    return xstrndup(s, strlen(s));
}

char *xstrndup(const char *s, size_t n)
{
    char *p = xmalloc(n + 1);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

char *xasprintf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        oom(0);
    char *p = xmalloc((size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf(p, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return p;
}

void free_null(void *pp)
{
    void **p = pp;
    free(*p);
    *p = NULL;
}

/* ---- strbuf ---- */

void strbuf_init(struct strbuf *b, size_t max)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    b->max = max;
}

void strbuf_deinit(struct strbuf *b)
{
    free_null(&b->data);
    b->len = b->cap = 0;
}

void strbuf_reset(struct strbuf *b)
{
    b->len = 0;
    if (b->data)
        b->data[0] = '\0';
}

static int strbuf_grow(struct strbuf *b, size_t extra)
{
    if (extra > SIZE_MAX - b->len - 1)
        return -1;
    size_t need = b->len + extra + 1;
    if (b->max && need - 1 > b->max)
        return -1;
    if (need <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need)
        cap *= 2;
    b->data = xrealloc(b->data, cap);
    b->cap = cap;
    return 0;
}

int strbuf_add(struct strbuf *b, const void *data, size_t len)
{
    /* Room already (the usual case once a buffer has grown): no growth arithmetic. Written so
     * that no sum can wrap: len < cap - b->len, and b->len <= max when max is set. */
    bool room = len < b->cap - b->len && (!b->max || len <= b->max - b->len);
    if (!room && strbuf_grow(b, len) < 0)
        return -1;
    if (len)
        memcpy(b->data + b->len, data, len);
    b->len += len;
    b->data[b->len] = '\0';
    return 0;
}

int strbuf_addc(struct strbuf *b, char c)
{
    if (b->cap - b->len > 1 && (!b->max || b->len < b->max)) {
        b->data[b->len++] = c;
        b->data[b->len] = '\0';
        return 0;
    }
    return strbuf_add(b, &c, 1);
}

int strbuf_adds(struct strbuf *b, const char *s)
{
    return strbuf_add(b, s, strlen(s));
}

int strbuf_addf(struct strbuf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || strbuf_grow(b, (size_t)n) < 0)
        return -1;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return 0;
}

char *strbuf_detach(struct strbuf *b, size_t *len)
{
    char *p = b->data ? b->data : xstrdup("");
    if (len)
        *len = b->len;
    b->data = NULL;
    b->len = b->cap = 0;
    return p;
}

/* ---- arena ---- */

struct arena_block {
    struct arena_block *next;
    size_t used, size;
    max_align_t data[];
};

#define ARENA_BLOCK 16384

void arena_init(struct arena *a)
{
    a->_head = NULL;
}

void arena_deinit(struct arena *a)
{
    struct arena_block *b = a->_head;
    while (b) {
        struct arena_block *next = b->next;
        free(b);
        b = next;
    }
    a->_head = NULL;
}

void *arena_alloc(struct arena *a, size_t n)
{
    const size_t align = sizeof(max_align_t);
    n = (n + align - 1) / align * align;
    if (!n)
        n = align;
    struct arena_block *b = a->_head;
    if (!b || b->size - b->used < n) {
        size_t size = n > ARENA_BLOCK ? n : ARENA_BLOCK;
        b = xmalloc(sizeof *b + size);
        b->size = size;
        b->used = 0;
        b->next = a->_head;
        a->_head = b;
    }
    void *p = (char *)b->data + b->used;
    b->used += n;
    memset(p, 0, n);
    return p;
}

char *arena_strndup(struct arena *a, const char *s, size_t n)
{
    char *p = arena_alloc(a, n + 1);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

char *arena_strdup(struct arena *a, const char *s)
{
    return s ? arena_strndup(a, s, strlen(s)) : NULL;
}

/* ---- strings ---- */

bool str_eq(const char *a, const char *b)
{
    if (!a || !b)
        return a == b;
    return strcmp(a, b) == 0;
}

/* ASCII lower case, as tolower() in the C locale capproxy runs in (it never calls setlocale),
 * without the libc call per byte: header names are compared on every request. */
static inline unsigned char ascii_lower(unsigned char c)
{
    return c >= 'A' && c <= 'Z' ? (unsigned char)(c | 0x20) : c;
}

bool str_eq_ci_full(const char *a, const char *b)
{
    if (!a || !b)
        return a == b;
    /* Names mostly come in their usual case: libc's word-wide strcmp answers those, and a
     * mismatch it reports costs it a byte or two. */
    if (strcmp(a, b) == 0)
        return true;
    for (; *a && *b; a++, b++)
        if (*a != *b && ascii_lower((unsigned char)*a) != ascii_lower((unsigned char)*b))
            return false;
    return *a == *b;
}

bool str_eq_ci_n(const char *a, size_t alen, const char *b)
{
    size_t i = 0;
    for (; i < alen && b[i]; i++)
        if (a[i] != b[i] && ascii_lower((unsigned char)a[i]) != ascii_lower((unsigned char)b[i]))
            return false;
    return i == alen && b[i] == '\0';
}

/* Whether <s>[0..len) has no control byte and no backslash: then json_text_refusal has nothing
 * to refuse, wherever its strings are (the usual compact message: one word test per 8 bytes). */
static bool no_control_or_backslash(const char *s, size_t len)
{
    size_t i = 0;
    for (; i + 8 <= len; i += 8) {
        uint64_t w = swar_load(s + i);
        if (swar_control(w) | swar_zero(w ^ (SWAR_ONES * '\\')))
            return false;
    }
    for (; i < len; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == '\\')
            return false;
    return true;
}

const char *json_text_refusal(const char *s, size_t len, bool strict, size_t *at)
{
    if (no_control_or_backslash(s, len))
        return NULL;
    bool in_string = false;
    for (size_t i = 0; i < len; i++) {
        /* bytes other than a quote, backslash or control byte change nothing here: skip to
         * the next one a word at a time */
        for (uint64_t w, m; i + 8 <= len; i += 8) {
            w = swar_load(s + i);
            if ((m = swar_quote(w) | swar_control(w)) != 0) {
                i += swar_first(m);
                break;
            }
        }
        if (i >= len)
            break;
        unsigned char ch = (unsigned char)s[i];
        const char *why = NULL;
        if (ch == '\0') {
            /* cJSON reads it inside a string and cuts the string there
             * ("get-managed-user<NUL>evil" would name get-managed-user) */
            why = "a NUL byte";
        } else if (in_string && ch == '\\') {
            if (i + 5 < len && s[i + 1] == 'u' && memcmp(s + i + 2, "0000", 4) == 0)
                why = "the escape \\u0000";
            else
                i++; /* skip the escaped character: "\\\\u0000" is a backslash, then text */
        } else if (ch == '"') {
            in_string = !in_string;
        } else if (strict && ch < 0x20 && (in_string || (ch != '\t' && ch != '\n' && ch != '\r'))) {
            /* RFC 8259 allows them nowhere but as whitespace; cJSON takes them anywhere */
            why = "a control character";
        }
        if (why) {
            if (at)
                *at = i;
            return why;
        }
    }
    return NULL;
}

size_t utf8_seq(const unsigned char *s, size_t n)
{
    unsigned c = s[0];
    size_t len;
    unsigned min, cp;
    if (c < 0x80)
        return c ? 1 : 0;
    if ((c & 0xE0) == 0xC0)
        len = 2, min = 0x80, cp = c & 0x1F;
    else if ((c & 0xF0) == 0xE0)
        len = 3, min = 0x800, cp = c & 0x0F;
    else if ((c & 0xF8) == 0xF0)
        len = 4, min = 0x10000, cp = c & 0x07;
    else
        return 0;
    if (len > n)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return len;
}

bool utf8_valid(const char *s, size_t len, size_t *bad_at)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    while (i < len) {
        /* ASCII runs are the common case: no sequence decoding for them, a word at a time */
        uint64_t w;
        if (i + 8 <= len && !((w = swar_load(s + i)) & SWAR_HIGHS) && !swar_zero(w)) {
            i += 8;
            continue;
        }
        if (p[i] >= 0x01 && p[i] < 0x80) {
            i++;
            continue;
        }
        size_t n = utf8_seq(p + i, len - i);
        if (!n) {
            if (bad_at)
                *bad_at = i;
            return false;
        }
        i += n;
    }
    return true;
}

char *utf8_sanitize(const char *s, size_t len)
{
    /* Valid text (the usual case) is one copy; otherwise runs of valid sequences are copied
     * whole, each bad byte replaced. */
    size_t bad = 0;
    if (utf8_valid(s, len, &bad))
        return xstrndup(s, len);
    struct strbuf b;
    strbuf_init(&b, 0);
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    while (i < len) {
        size_t start = i, n;
        while (i < len && (n = utf8_seq(p + i, len - i)) != 0)
            i += n;
        if (i > start)
            strbuf_add(&b, p + start, i - start);
        if (i < len) {
            strbuf_add(&b, "\xEF\xBF\xBD", 3);
            i++;
        }
    }
    return strbuf_detach(&b, NULL);
}

bool media_type_is_json(const char *ct)
{
    if (!ct)
        return false;
    while (*ct == ' ' || *ct == '\t')
        ct++;
    size_t n = strcspn(ct, "; \t");
    const char *rest = ct + n;
    while (*rest == ' ' || *rest == '\t')
        rest++;
    if (*rest != '\0' && *rest != ';')
        return false;
    if (n < 16 || strncasecmp(ct, "application/", 12) != 0)
        return false;
    const char *sub = ct + 12;
    size_t sublen = n - 12;
    if (sublen == 4 && strncasecmp(sub, "json", 4) == 0)
        return true;
    /* application/<x>+json: a structured syntax suffix (RFC 6839), <x> not empty. */
    return sublen > 5 && strncasecmp(sub + sublen - 5, "+json", 5) == 0 &&
           !memchr(sub, '/', sublen);
}

bool str_has_prefix(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

bool str_ct_eq(const char *a, size_t alen, const char *b, size_t blen)
{
    /* libcrypto's CRYPTO_memcmp over the expected length <b>: the time depends neither on
     * where <a> differs nor on its length (a wrong length compares <b> with itself). */
    bool same = crypto_equal(alen == blen ? a : b, b, blen);
    return same && alen == blen;
}

int str_to_long(const char *s, long min, long max, long *out)
{
    if (!s || !*s || isspace((unsigned char)*s))
        return -1;
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || *end || v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

static int parse_number_suffix(const char *s, double *num, const char **suffix)
{
    if (!s || !*s || !isdigit((unsigned char)*s))
        return -1;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || v < 0)
        return -1;
    while (*end == ' ')
        end++;
    *num = v;
    *suffix = end;
    return 0;
}

bool hostport_split(const char *s, size_t len, char *host, size_t hostcap, long *port)
{
    const char *end = s + len, *colon = NULL;
    *port = -1;
    if (len == 0)
        return false;
    if (s[0] == '[') {
        const char *rb = memchr(s, ']', len);
        if (!rb)
            return false;
        if (rb + 1 < end) {
            if (rb[1] != ':')
                return false;
            colon = rb + 1;
        }
    } else {
        colon = memchr(s, ':', len);
        if (colon && memchr(colon + 1, ':', (size_t)(end - colon - 1)))
            return false; /* an unbracketed IPv6 address is not a valid Host */
    }
    size_t hlen = colon ? (size_t)(colon - s) : len;
    if (hlen == 0 || hlen >= hostcap)
        return false;
    memcpy(host, s, hlen);
    host[hlen] = '\0';
    if (colon) {
        char pbuf[8];
        size_t plen = (size_t)(end - colon - 1);
        if (plen == 0 || plen >= sizeof pbuf)
            return false;
        memcpy(pbuf, colon + 1, plen);
        pbuf[plen] = '\0';
        if (str_to_long(pbuf, 0, 65535, port) < 0)
            return false;
    }
    return true;
}

/* A unit suffix and what it multiplies by; "" is a number without a unit. */
struct unit {
    const char *name;
    double mult;
};

/* Parse "<number>[ ]<unit>" with <units> (a table ended by a NULL name; names compared
 * case-insensitively when <ci>): <*out> gets number * mult, which must not exceed <max>. */
static int parse_scaled(const char *s, const struct unit *units, bool ci, double max, double *out)
{
    double v;
    const char *u;
    if (parse_number_suffix(s, &v, &u) < 0)
        return -1;
    for (; units->name; units++)
        if (ci ? str_eq_ci(u, units->name) : str_eq(u, units->name))
            break;
    if (!units->name)
        return -1;
    v *= units->mult;
    if (v > max)
        return -1;
    *out = v;
    return 0;
}

int str_to_ms(const char *s, long *out_ms)
{
    static const struct unit units[] = {
        {"", 1}, {"ms", 1}, {"s", 1000}, {"m", 60000}, {NULL, 0},
    };
    double v;
    if (parse_scaled(s, units, false, (double)LONG_MAX / 2, &v) < 0)
        return -1;
    *out_ms = (long)v;
    return 0;
}

int str_to_size(const char *s, size_t *out)
{
    static const struct unit units[] = {
        {"", 1},
        {"b", 1},
        {"k", 1024},
        {"kb", 1024},
        {"kib", 1024},
        {"m", 1024.0 * 1024},
        {"mb", 1024.0 * 1024},
        {"mib", 1024.0 * 1024},
        {"g", 1024.0 * 1024 * 1024},
        {"gb", 1024.0 * 1024 * 1024},
        {"gib", 1024.0 * 1024 * 1024},
        {NULL, 0},
    };
    double v;
    if (parse_scaled(s, units, true, (double)(SIZE_MAX / 2), &v) < 0)
        return -1;
    *out = (size_t)v;
    return 0;
}

/* Optimal-string-alignment distance (Damerau-Levenshtein without repeated edits of one
 * substring), case-insensitive; gives up above <limit> (returns limit + 1). Names compared here
 * are keys and parameter names, so both are short: longer ones are never "close". */
static size_t osa_distance(const char *a, const char *b, size_t limit)
{
    enum { MAXLEN = 64 };
    size_t la = strlen(a), lb = strlen(b);
    if (la > MAXLEN || lb > MAXLEN)
        return limit + 1;
    if ((la > lb ? la - lb : lb - la) > limit)
        return limit + 1;
    size_t d[MAXLEN + 1][MAXLEN + 1];
    for (size_t i = 0; i <= la; i++)
        d[i][0] = i;
    for (size_t j = 0; j <= lb; j++)
        d[0][j] = j;
    for (size_t i = 1; i <= la; i++) {
        for (size_t j = 1; j <= lb; j++) {
            int ca = tolower((unsigned char)a[i - 1]), cb = tolower((unsigned char)b[j - 1]);
            size_t cost = ca != cb;
            size_t v = d[i - 1][j] + 1;
            if (d[i][j - 1] + 1 < v)
                v = d[i][j - 1] + 1;
            if (d[i - 1][j - 1] + cost < v)
                v = d[i - 1][j - 1] + cost;
            if (i > 1 && j > 1 && ca == tolower((unsigned char)b[j - 2]) &&
                tolower((unsigned char)a[i - 2]) == cb && d[i - 2][j - 2] + 1 < v)
                v = d[i - 2][j - 2] + 1;
            d[i][j] = v;
        }
    }
    return d[la][lb];
}

void util_closest_init(struct util_closest *c, const char *word)
{
    c->word = word;
    c->best = NULL;
    c->best_dist = 0;
}

void util_closest_add(struct util_closest *c, const char *candidate)
{
    if (!c->word || !candidate || strcmp(c->word, candidate) == 0)
        return;
    size_t limit = strlen(c->word) / 3;
    if (limit < 1)
        limit = 1;
    size_t dist = osa_distance(c->word, candidate, limit);
    if (dist <= limit && (!c->best || dist < c->best_dist)) {
        c->best = candidate;
        c->best_dist = dist;
    }
}

const char *util_closest(const char *word, const char *const *cand, size_t n)
{
    struct util_closest c;
    util_closest_init(&c, word);
    for (size_t i = 0; i < n; i++)
        util_closest_add(&c, cand[i]);
    return c.best;
}

size_t util_fmt_ll(long long v, char *out)
{
    unsigned long long u = v < 0 ? 0ull - (unsigned long long)v : (unsigned long long)v;
    char tmp[UTIL_LL_MAX];
    size_t n = 0, k = 0;
    do
        tmp[n++] = (char)('0' + u % 10);
    while ((u /= 10) != 0);
    if (v < 0)
        out[k++] = '-';
    while (n)
        out[k++] = tmp[--n];
    out[k] = '\0';
    return k;
}

uint64_t util_fnv1a(const void *data, size_t len)
{
    const unsigned char *p = data;
    uint64_t h = 14695981039346656037ull;
    for (size_t i = 0; i < len; i++)
        h = (h ^ p[i]) * 1099511628211ull;
    return h;
}
