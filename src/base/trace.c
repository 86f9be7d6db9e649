/*
 * trace: see trace.h. Ids need to be unique, not secret (they travel in clear headers), so a
 * fast per-thread xoshiro256** seeded once from the CSPRNG serves every request without a
 * libcrypto call or a lock.
 */
#include "base/trace.h"

#include <string.h>
#include <time.h>

#include "base/crypto.h"

static _Thread_local uint64_t rng_s[4];
static _Thread_local bool rng_seeded;

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

static uint64_t rng_next(void)
{
    if (!rng_seeded) {
        uint64_t seed[4];
        if (crypto_random(seed, sizeof seed) < 0) {
            /* No CSPRNG: time and this thread's address still make ids unlikely to collide. */
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            uint64_t x = ((uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec) ^
                         (uint64_t)(uintptr_t)&rng_seeded;
            for (int i = 0; i < 4; i++)
                seed[i] = splitmix64(&x);
        }
        memcpy(rng_s, seed, sizeof rng_s);
        if (!(rng_s[0] | rng_s[1] | rng_s[2] | rng_s[3]))
            rng_s[0] = 1; /* the one state xoshiro cannot leave */
        rng_seeded = true;
    }
    uint64_t r = rotl(rng_s[1] * 5, 7) * 9, t = rng_s[1] << 17;
    rng_s[2] ^= rng_s[0];
    rng_s[3] ^= rng_s[1];
    rng_s[1] ^= rng_s[2];
    rng_s[0] ^= rng_s[3];
    rng_s[2] ^= t;
    rng_s[3] = rotl(rng_s[3], 45);
    return r;
}

static bool all_zero(const uint8_t *b, size_t n)
{
    uint8_t acc = 0;
    for (size_t i = 0; i < n; i++)
        acc |= b[i];
    return acc == 0;
}

/* <n> random bytes, not all zero (an all-zero id is invalid). */
static void random_id(uint8_t *out, size_t n)
{
    if (n % 8 == 0) {
        /* The ids' lengths (16 and 8): whole words, and zero tested on the words, not byte by
         * byte (this runs for every request's trace and span ids). */
        uint64_t any;
        do {
            any = 0;
            for (size_t i = 0; i < n; i += 8) {
                uint64_t r = rng_next();
                any |= r;
                memcpy(out + i, &r, 8);
            }
        } while (!any);
        return;
    }
    do {
        for (size_t i = 0; i < n; i += 8) {
            uint64_t r = rng_next();
            memcpy(out + i, &r, n - i < 8 ? n - i : 8);
        }
    } while (all_zero(out, n));
}

void trace_new_span(uint8_t span_id[TRACE_SPAN_LEN])
{
    random_id(span_id, TRACE_SPAN_LEN);
}

void trace_new_trace(uint8_t trace_id[TRACE_ID_LEN])
{
    random_id(trace_id, TRACE_ID_LEN);
}

/* A lowercase hex digit's value, -1 for anything else (uppercase is invalid in traceparent). */
static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

static bool unhex(const char *s, uint8_t *out, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        int hi = hexval(s[2 * i]), lo = hexval(s[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return false;
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    return true;
}

int trace_parse_parent(const char *s, uint8_t trace_id[TRACE_ID_LEN],
                       uint8_t parent_id[TRACE_SPAN_LEN], uint8_t *flags)
{
    if (!s)
        return -1;
    size_t len = strnlen(s, TRACE_PARENT_LEN + 1);
    uint8_t ver, tid[TRACE_ID_LEN], pid[TRACE_SPAN_LEN], fl;
    if (len < TRACE_PARENT_LEN || !unhex(s, &ver, 1) || ver == 0xff)
        return -1;
    /* Version 00 is exactly 55 characters; a later one may append "-..." fields we ignore. */
    if (ver == 0 ? len != TRACE_PARENT_LEN : (len > TRACE_PARENT_LEN && s[55] != '-'))
        return -1;
    if (s[2] != '-' || s[35] != '-' || s[52] != '-')
        return -1;
    if (!unhex(s + 3, tid, TRACE_ID_LEN) || !unhex(s + 36, pid, TRACE_SPAN_LEN) ||
        !unhex(s + 53, &fl, 1))
        return -1;
    if (all_zero(tid, TRACE_ID_LEN) || all_zero(pid, TRACE_SPAN_LEN))
        return -1;
    memcpy(trace_id, tid, TRACE_ID_LEN);
    memcpy(parent_id, pid, TRACE_SPAN_LEN);
    *flags = fl & TRACE_FLAG_SAMPLED; /* other bits are not defined by version 00 */
    return 0;
}

static bool key_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '*' ||
           c == '/' || c == '@';
}

bool trace_state_ok(const char *s)
{
    if (!s)
        return false;
    size_t len = strnlen(s, TRACE_STATE_MAX + 1);
    if (len == 0 || len > TRACE_STATE_MAX)
        return false;
    int members = 0;
    const char *p = s, *end = s + len;
    while (p <= end) {
        const char *comma = memchr(p, ',', (size_t)(end - p));
        const char *e = comma ? comma : end;
        const char *a = p, *b = e;
        while (a < b && (*a == ' ' || *a == '\t'))
            a++;
        while (b > a && (b[-1] == ' ' || b[-1] == '\t'))
            b--;
        if (a < b) { /* empty members are allowed and skipped */
            const char *eq = memchr(a, '=', (size_t)(b - a));
            if (!eq || eq == a || eq + 1 == b || ++members > 32 || eq - a > 256)
                return false;
            for (const char *k = a; k < eq; k++)
                if (!key_char(*k))
                    return false;
            for (const char *v = eq + 1; v < b; v++)
                if (*v < 0x20 || *v > 0x7e || *v == ',' || *v == '=')
                    return false;
        }
        if (!comma)
            break;
        p = comma + 1;
    }
    return members > 0;
}

void trace_begin(struct trace_ctx *t, const char *traceparent, const char *tracestate,
                 bool sample_new)
{
    t->state[0] = '\0';
    t->remote = trace_parse_parent(traceparent, t->trace_id, t->parent_id, &t->flags) == 0;
    if (t->remote) {
        if (tracestate && trace_state_ok(tracestate))
            memcpy(t->state, tracestate, strlen(tracestate) + 1);
    } else {
        trace_new_trace(t->trace_id);
        memset(t->parent_id, 0, sizeof t->parent_id);
        t->flags = sample_new ? TRACE_FLAG_SAMPLED : 0;
    }
    trace_new_span(t->span_id);
}

void trace_format_parent(const uint8_t trace_id[TRACE_ID_LEN],
                         const uint8_t span_id[TRACE_SPAN_LEN], uint8_t flags, char *out)
{
    memcpy(out, "00-", 3);
    crypto_hex(trace_id, TRACE_ID_LEN, out + 3);
    out[35] = '-';
    crypto_hex(span_id, TRACE_SPAN_LEN, out + 36);
    out[52] = '-';
    crypto_hex(&flags, 1, out + 53);
}
