/*
 * clock: see clock.h.
 */
#include "base/clock.h"

void clock_mono(struct timespec *t)
{
    clock_gettime(CLOCK_MONOTONIC, t);
}

double clock_ms_since(const struct timespec *t0)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)(now.tv_sec - t0->tv_sec) * 1e3 + (double)(now.tv_nsec - t0->tv_nsec) / 1e6;
}

int64_t clock_now_s(void)
{
    return (int64_t)time(NULL);
}
