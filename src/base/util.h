/*
 * util: allocation that aborts on OOM, a bounded growable byte buffer, an arena for data that
 * lives as long as a loaded model, and small string helpers. No project dependencies.
 */
#ifndef CAPPROXY_UTIL_H
#define CAPPROXY_UTIL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#if defined(__GNUC__)
#define UTIL_PRINTF(a, b) __attribute__((format(printf, a, b)))
#define UTIL_NONNULL(...) __attribute__((nonnull(__VA_ARGS__)))
#else
#define UTIL_PRINTF(a, b)
#define UTIL_NONNULL(...)
#endif

#define UTIL_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* Allocate or abort with a message on stderr: input sizes are capped, so OOM is environmental. */
void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
char *xasprintf(const char *fmt, ...) UTIL_PRINTF(1, 2) UTIL_NONNULL(1);

/* Free *<pp> and set it to NULL, so no reachable pointer points to freed memory. */
void free_null(void *pp);

/* A growable buffer with a hard cap; always NUL-terminated after any successful append. */
struct strbuf {
    char *data;
    size_t len;
    size_t cap;
    size_t max; /* 0: unlimited */
};
void strbuf_init(struct strbuf *b, size_t max);
void strbuf_deinit(struct strbuf *b);
void strbuf_reset(struct strbuf *b);
/* Each returns 0, or -1 when the cap would be exceeded (the buffer is then left unchanged). */
int strbuf_add(struct strbuf *b, const void *data, size_t len);
int strbuf_addc(struct strbuf *b, char c);
int strbuf_adds(struct strbuf *b, const char *s);
int strbuf_addf(struct strbuf *b, const char *fmt, ...) UTIL_PRINTF(2, 3);
/* Take the contents (caller frees); the buffer is left empty. Never NULL. */
char *strbuf_detach(struct strbuf *b, size_t *len);

/* Bump allocator: everything allocated is released at once by arena_deinit. */
struct arena_block;
struct arena {
    struct arena_block *_head;
};
void arena_init(struct arena *a);
void arena_deinit(struct arena *a);
void *arena_alloc(struct arena *a, size_t n); /* zeroed, aligned for any type */
char *arena_strdup(struct arena *a, const char *s);
char *arena_strndup(struct arena *a, const char *s, size_t n);

bool str_eq(const char *a, const char *b);         /* NULL-safe */
bool str_eq_ci_full(const char *a, const char *b); /* str_eq_ci without the first-byte test */
/* ASCII case-insensitive, NULL-safe. The first bytes with bit 0x20 set (which only folds case)
 * tell most different names apart here, without a call: header names are looked up among many. */
static inline bool str_eq_ci(const char *a, const char *b)
{
    if (a && b && (*a | 0x20) != (*b | 0x20))
        return false;
    return str_eq_ci_full(a, b);
}
bool str_eq_ci_n(const char *a, size_t alen, const char *b); /* a[0..alen) vs C string b */
bool str_has_prefix(const char *s, const char *prefix);
/* Why JSON text <s>[0..len) must not be handed to cJSON, or NULL when it may: cJSON reads a
 * raw NUL byte and the escape \u0000 without complaint, but its strings are C strings, so either
 * would silently cut a value; and it takes raw control characters anywhere, which RFC 8259
 * allows only as whitespace (tab, LF, CR) outside strings. <strict> also refuses those control
 * characters (for what callers send); otherwise only the two NUL forms count (an upstream
 * answer holding one is passed through as text). <*at> (may be NULL) gets the byte offset. */
const char *json_text_refusal(const char *s, size_t len, bool strict, size_t *at);
/* Length of the valid UTF-8 sequence at <s> (at most <n> bytes, n >= 1), 0 when invalid.
 * Overlong forms, surrogates, code points above U+10FFFF and the NUL byte are invalid (RFC 3629;
 * NUL because parsed strings are C strings). The one home of UTF-8 validity. */
size_t utf8_seq(const unsigned char *s, size_t n);
/* Whether <s>[0..len) is valid UTF-8 (see utf8_seq); if not, <*bad_at> (may be NULL) gets the
 * offset of the first bad byte. */
/* FNV-1a of <data>[0..len): the hash of capproxy's own tables (anchors, metric series, MCP
 * cancellations) and of tool lists compared across reloads. Not for anything an attacker could
 * aim collisions at beyond a slower bucket. */
uint64_t util_fnv1a(const void *data, size_t len);
/* <v> in decimal, as printf("%lld") writes it, without printf (which costs ~1k instructions a
 * call on hot paths): written to <out> (room for UTIL_LL_MAX bytes, NUL added); returns the
 * length. */
#define UTIL_LL_MAX 21
size_t util_fmt_ll(long long v, char *out);

bool utf8_valid(const char *s, size_t len, size_t *bad_at);
/* A copy of <s>[0..len) as valid UTF-8 (a new string; free it): each byte that does not start
 * a valid sequence (see utf8_seq, so NUL too) becomes U+FFFD, one replacement per byte. */
char *utf8_sanitize(const char *s, size_t len);
/* Whether Content-Type value <ct> is a JSON media type: application/json or
 * application/<anything>+json, case-insensitive, parameters (charset=utf-8) allowed. */
bool media_type_is_json(const char *ct);
/* Constant-time comparison of two byte strings (length leaks, content does not). */
bool str_ct_eq(const char *a, size_t alen, const char *b, size_t blen);
/* "Did you mean": the candidate closest to a misspelt word, by ASCII case-insensitive
 * Damerau-Levenshtein distance (a swap of two neighbours counts once). A candidate counts only
 * when its distance is at most max(1, strlen(word) / 3) and it differs from <word>; ties keep
 * the first. Feed candidates one by one with util_closest_add, or use util_closest on an array. */
struct util_closest {
    const char *word;
    const char *best; /* NULL until a candidate is close enough */
    size_t best_dist;
};
void util_closest_init(struct util_closest *c, const char *word);
void util_closest_add(struct util_closest *c, const char *candidate); /* NULL-safe */
/* <cand>[0..n) (NULL entries skipped); NULL when none is close enough. */
const char *util_closest(const char *word, const char *const *cand, size_t n);

/* Split "host[:port]" or "[v6][:port]" (<s>[0..len), as a Host header or an allowed-hosts
 * entry carries it) into <host> (NUL-terminated, IPv6 brackets kept) and <*port> (0..65535, or
 * -1 when absent). False when malformed: empty, an unclosed '[', text after ']' that is not
 * ":port", an unbracketed IPv6 address, an empty host or port, a host of <hostcap> bytes or
 * more, or a port that is not a number in range. */
bool hostport_split(const char *s, size_t len, char *host, size_t hostcap, long *port);
/* Parse a whole decimal integer; 0 on success, -1 if not a number or out of [min, max]. */
int str_to_long(const char *s, long min, long max, long *out);
/* Parse a duration such as "1500", "1500ms", "30s", "2m" into milliseconds; -1 on error. */
int str_to_ms(const char *s, long *out_ms);
/* Parse a size such as "1048576", "64k", "1m", "1MiB" into bytes; -1 on error. */
int str_to_size(const char *s, size_t *out);

#endif
