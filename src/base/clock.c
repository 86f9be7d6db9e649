/*
 * clock: see clock.h.
 */
#include "base/clock.h"

#include <stdio.h>

void clock_mono(struct timespec *t)
{
    clock_gettime(CLOCK_MONOTONIC, t);
}

int64_t clock_mono_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
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

const char *clock_http_date(void)
{
    static const char days[][4] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static const char months[][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                     "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    static _Thread_local time_t at = -1;
    static _Thread_local char buf[32];
    time_t now = time(NULL);
    if (now != at) { /* once a second per thread: gmtime and formatting cost ~2k instructions */
        struct tm tm;
        gmtime_r(&now, &tm);
        snprintf(buf, sizeof buf, "%s, %02d %s %04d %02d:%02d:%02d GMT", days[tm.tm_wday],
                 tm.tm_mday, months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
                 tm.tm_sec);
        at = now;
    }
    return buf;
}
