/*
 * harness: the smallest unit-test kit. CHECK records a pass or a failure (with file:line and the
 * expression); CHECK_STR compares strings. RUN(test_x()) runs one test case; harness_report()
 * prints the assertion count and then "N passed, M failed" counting test cases, and returns the
 * exit status.
 */
#ifndef CAPPROXY_HARNESS_H
#define CAPPROXY_HARNESS_H

#include <stdio.h>
#include <string.h>

static int harness_passed, harness_failed;

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (cond) {                                                                                \
            harness_passed++;                                                                      \
        } else {                                                                                   \
            harness_failed++;                                                                      \
            fprintf(stderr, "FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond);                        \
        }                                                                                          \
    } while (0)

#define CHECK_STR(got, want)                                                                       \
    do {                                                                                           \
        const char *g_ = (got), *w_ = (want);                                                      \
        if (g_ && w_ && strcmp(g_, w_) == 0) {                                                     \
            harness_passed++;                                                                      \
        } else {                                                                                   \
            harness_failed++;                                                                      \
            fprintf(stderr, "FAIL %s:%d: %s\n  got:  %s\n  want: %s\n", __FILE__, __LINE__, #got,  \
                    g_ ? g_ : "(null)", w_ ? w_ : "(null)");                                       \
        }                                                                                          \
    } while (0)

/* Assertions made inside RUN, and how many of them failed. */
static int harness_run_checks, harness_run_failed;
static int harness_cases_passed, harness_cases_failed;

/* Run one test case, a call such as RUN(test_seed()) or RUN(test_concurrent(4, 100)). It passes
 * when none of the CHECKs it makes fails. */
#define RUN(call)                                                                                  \
    do {                                                                                           \
        int failed_before_ = harness_failed, checks_before_ = harness_passed + harness_failed;     \
        call;                                                                                      \
        harness_run_checks += harness_passed + harness_failed - checks_before_;                    \
        harness_run_failed += harness_failed - failed_before_;                                     \
        if (harness_failed == failed_before_) {                                                    \
            harness_cases_passed++;                                                                \
        } else {                                                                                   \
            harness_cases_failed++;                                                                \
            fprintf(stderr, "FAILED %s\n", #call);                                                 \
        }                                                                                          \
    } while (0)

/* Print the assertion count, then "N passed, M failed" counting test cases (the line CI reads).
 * Assertions made outside every RUN count as one more case, so that none goes uncounted; a
 * program that ran no case at all fails. */
static inline int harness_report(void)
{
    int cases_passed = harness_cases_passed, cases_failed = harness_cases_failed;
    int outside = harness_passed + harness_failed - harness_run_checks;
    if (outside > 0) {
        if (harness_failed > harness_run_failed)
            cases_failed++;
        else
            cases_passed++;
    }
    if (cases_passed + cases_failed == 0)
        cases_failed = 1;
    printf("%d assertions, %d failed\n", harness_passed + harness_failed, harness_failed);
    printf("%d passed, %d failed\n", cases_passed, cases_failed);
    return cases_failed ? 1 : 0;
}

#endif
