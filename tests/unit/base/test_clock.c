/*
 * Unit tests for clock and secret: durations move forward on the monotonic clock, wall-clock
 * seconds agree with time(), and wiping zeroes exactly the bytes asked for.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/clock.h"
#include "base/secret.h"
#include "base/util.h"
#include "harness.h"

static void test_clock(void)
{
    struct timespec t0;
    clock_mono(&t0);
    double a = clock_ms_since(&t0);
    CHECK(a >= 0 && a < 1000);
    struct timespec nap = {0, 20 * 1000 * 1000};
    nanosleep(&nap, NULL);
    double b = clock_ms_since(&t0);
    CHECK(b >= 20 && b >= a);

    int64_t before = (int64_t)time(NULL);
    int64_t now = clock_now_s();
    CHECK(now >= before && now <= (int64_t)time(NULL));
}

static void test_secret(void)
{
    unsigned char buf[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    secret_wipe(buf + 2, 4);
    const unsigned char want[8] = {1, 2, 0, 0, 0, 0, 7, 8};
    CHECK(memcmp(buf, want, sizeof buf) == 0);
    secret_wipe(NULL, 0);
    secret_free(NULL);
    secret_free(xstrdup("s3cret")); /* freed after wiping: ASan and valgrind check the frees */
    secret_free(xstrdup(""));
}

/* The cached Date value is what the C library formats for the same second. */
static void test_http_date(void)
{
    for (int i = 0; i < 3; i++) {
        time_t before = time(NULL);
        const char *d = clock_http_date();
        char want[64];
        struct tm tm;
        gmtime_r(&before, &tm);
        strftime(want, sizeof want, "%a, %d %b %Y %H:%M:%S GMT", &tm); /* C locale */
        if (time(NULL) == before) /* not across a second boundary */
            CHECK_STR(d, want);
        CHECK(strlen(d) == 29);
    }
}

int main(void)
{
    RUN(test_http_date());
    RUN(test_clock());
    RUN(test_secret());
    return harness_report();
}
