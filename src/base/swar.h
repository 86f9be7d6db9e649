/*
 * swar: eight bytes at a time in a 64-bit word ("SIMD within a register"). JSON and HTTP text
 * is mostly plain bytes; one test per word instead of a test per byte is what makes the scans
 * of a request's and an upstream answer's text cheap. Every mask is exact (no carry crosses a
 * byte): bit 7 of each flagged byte is set, nothing else.
 */
#ifndef CAPPROXY_SWAR_H
#define CAPPROXY_SWAR_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define SWAR_ONES  0x0101010101010101ULL
#define SWAR_HIGHS 0x8080808080808080ULL

static inline uint64_t swar_load(const char *s)
{
    uint64_t w;
    memcpy(&w, s, sizeof w);
    return w;
}

/* Bytes of <t> that are zero. */
static inline uint64_t swar_zero(uint64_t t)
{
    return ~(((t & ~SWAR_HIGHS) + ~SWAR_HIGHS) | t) & SWAR_HIGHS;
}

/* Control bytes (below 0x20, NUL included). */
static inline uint64_t swar_control(uint64_t w)
{
    return swar_zero(w & (SWAR_ONES * 0xE0));
}

/* '"' and '\\' bytes. */
static inline uint64_t swar_quote(uint64_t w)
{
    return swar_zero(w ^ (SWAR_ONES * '"')) | swar_zero(w ^ (SWAR_ONES * '\\'));
}

/* ASCII digits ('0'-'9'): a high nibble of 3 and a low one below 10 (a low nibble of 10 or
 * more carries into bit 4 when 6 is added: moved to bit 7). */
static inline uint64_t swar_digit(uint64_t w)
{
    uint64_t high3 = swar_zero((w & (SWAR_ONES * 0xF0)) ^ (SWAR_ONES * 0x30));
    uint64_t low_big = (((w & (SWAR_ONES * 0x0F)) + SWAR_ONES * 6) & (SWAR_ONES * 0x10)) << 3;
    return high3 & ~low_big;
}

/* How many bytes a mask flags (no popcount instruction in the x86-64 baseline; the builtin
 * would be a libgcc call): one bit per byte summed into the top byte. */
static inline size_t swar_count(uint64_t m)
{
    return (size_t)(((m >> 7) * SWAR_ONES) >> 56);
}

/* Index (0-7) in memory order of the first byte a mask (not 0) flags. */
static inline size_t swar_first(uint64_t m)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    return (size_t)__builtin_clzll(m) / 8;
#else
    return (size_t)__builtin_ctzll(m) / 8;
#endif
}

#endif
