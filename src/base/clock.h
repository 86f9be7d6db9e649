/*
 * clock: the process's clocks. Durations (request and upstream timings, timeouts) use the
 * monotonic clock, which a wall-clock step cannot move; session lifetimes use seconds of
 * wall-clock time. Log timestamps are formatted by log.c from CLOCK_REALTIME themselves.
 */
#ifndef CAPPROXY_CLOCK_H
#define CAPPROXY_CLOCK_H

#include <stdint.h>
#include <time.h>

/* Store the monotonic time in <t>: the start of a duration for clock_ms_since. */
void clock_mono(struct timespec *t);
/* Milliseconds of monotonic time elapsed since <t0> (taken with clock_mono). */
double clock_ms_since(const struct timespec *t0);
/* Monotonic time in nanoseconds (an arbitrary origin): for deadlines and rates kept as integers. */
int64_t clock_mono_ns(void);
/* Wall-clock seconds since the epoch: what sessions are issued and checked against. */
int64_t clock_now_s(void);
/* The current time as an HTTP Date header value (IMF-fixdate), formatted at most once a
 * second per thread; valid until the next call on the same thread. */
const char *clock_http_date(void);

#endif
