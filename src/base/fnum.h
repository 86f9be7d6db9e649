/*
 * fnum: the two questions capproxy asks of a double, answered without libm. floor() and ceil()
 * were capproxy's only calls into libm, which nothing else in the process needs: without them
 * libm is not loaded at all, which spares every process about 0.3 MiB of resident memory
 * (its pages and relocations; issue 13's idle RSS bound). gcc inlines neither on plain x86-64
 * (it may not, for the FP exception flags), clang never does.
 */
#ifndef CAPPROXY_FNUM_H
#define CAPPROXY_FNUM_H

#include <math.h> /* isnan: a compiler builtin, no libm call */
#include <stdbool.h>
#include <stdint.h>

/* 2^52: every double at least this large in magnitude is a whole number. */
#define FNUM_WHOLE_ABOVE 4503599627370496.0

/* Whether <d> is a whole number: exactly d == floor(d) (false for NaN, true for infinities). */
static inline bool fnum_is_whole(double d)
{
    if (!(d > -FNUM_WHOLE_ABOVE && d < FNUM_WHOLE_ABOVE))
        return !isnan(d);
    return (double)(int64_t)d == d;
}

/* (int64_t)ceil(d) for d >= 0, INT64_MAX from 2^63 on (where that cast is undefined: a
 * token bucket's time to refill at a rate of 1 a day reaches it, see base/tbucket.c). */
static inline int64_t fnum_ceil_i64(double d)
{
    if (d >= 9223372036854775808.0)
        return INT64_MAX;
    int64_t t = (int64_t)d; /* truncation: floor for d >= 0, and d itself beyond 2^52 */
    return t + ((double)t < d);
}

#endif
