/*
 * base/fnum.h: the same answers as libm's floor() and ceil() (this test links libm to compare).
 */
#include <float.h>
#include <math.h>
#include <stdint.h>

#include "base/fnum.h"
#include "harness.h"

static int whole_agrees(double d)
{
    return fnum_is_whole(d) == (d == floor(d));
}

static void test_is_whole_edges(void)
{
    const double v[] = {0.0,
                        -0.0,
                        0.5,
                        -0.5,
                        1.0,
                        -1.0,
                        2.5,
                        -2.5,
                        1e-300,
                        -1e-300,
                        DBL_MIN,
                        DBL_TRUE_MIN,
                        4503599627370495.5,
                        -4503599627370495.5,
                        4503599627370496.0,
                        -4503599627370496.0,
                        4503599627370497.0,
                        9007199254740993.0,
                        9.2e18,
                        -9.2e18,
                        1e300,
                        -1e300,
                        DBL_MAX,
                        -DBL_MAX,
                        INFINITY,
                        -INFINITY,
                        NAN,
                        0.1 + 0.2,
                        123456789.0};
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++)
        CHECK(whole_agrees(v[i]));
    CHECK(fnum_is_whole(INFINITY));
    CHECK(!fnum_is_whole(NAN));
    CHECK(!fnum_is_whole(4503599627370495.5));
    CHECK(fnum_is_whole(-0.0));
}

static void test_is_whole_sweep(void)
{
    /* Every binade from 2^-60 to 2^70, both signs, with neighbours of each whole number. */
    int bad = 0;
    for (int e = -60; e <= 70; e++) {
        double p = ldexp(1.0, e);
        const double c[] = {
            p,       nextafter(p, 0), nextafter(p, INFINITY), p * 1.5,
            p + 0.5, p - 0.5,         nextafter(p + 1.0, 0),  nextafter(p + 1.0, INFINITY)};
        for (size_t i = 0; i < sizeof c / sizeof c[0]; i++)
            bad += !whole_agrees(c[i]) + !whole_agrees(-c[i]);
    }
    CHECK(bad == 0);
}

static void test_ceil_i64(void)
{
    const double v[] = {0.0,
                        0.25,
                        1.0,
                        1.0000001,
                        999999999.5,
                        1e9,
                        4503599627370495.5,
                        4503599627370496.0,
                        9007199254740993.0,
                        1e18,
                        9.2e18};
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++)
        CHECK(fnum_ceil_i64(v[i]) == (int64_t)ceil(v[i]));
    int bad = 0;
    for (int e = -40; e <= 62; e++) {
        double p = ldexp(1.0, e);
        const double c[] = {p, nextafter(p, 0), nextafter(p, INFINITY), p + 0.5};
        for (size_t i = 0; i < sizeof c / sizeof c[0]; i++)
            if (c[i] < 9.2e18)
                bad += fnum_ceil_i64(c[i]) != (int64_t)ceil(c[i]);
    }
    CHECK(bad == 0);
    /* From 2^63 on, where the cast is undefined: saturated (a token bucket's refill time). */
    CHECK(fnum_ceil_i64(nextafter(9223372036854775808.0, 0)) == 9223372036854774784LL);
    CHECK(fnum_ceil_i64(9223372036854775808.0) == INT64_MAX);
    CHECK(fnum_ceil_i64(8.64e22) == INT64_MAX);
    CHECK(fnum_ceil_i64(INFINITY) == INT64_MAX);
}

int main(void)
{
    RUN(test_is_whole_edges());
    RUN(test_is_whole_sweep());
    RUN(test_ceil_i64());
    return harness_report();
}
