/* Unit tests for the per-request shortcuts in base (issue 13 "trim"): strbuf_add/addc's room
 * test at the capacity and the cap, str_eq_ci's strcmp first, crypto_hex's digit pairs, and the
 * metrics registry's last-series cache across label values. */
#include <stdio.h>
#include <stdlib.h>

#include "harness.h"
#include "base/crypto.h"
#include "base/metrics.h"
#include "base/util.h"

/* Byte by byte, then in pieces of every size: a cap of <max> takes exactly <max> bytes. */
static void test_strbuf_edges(void)
{
    int wrong = 0;
    for (size_t max = 1; max <= 300; max++) {
        struct strbuf b;
        strbuf_init(&b, max);
        size_t n = 0;
        while (strbuf_addc(&b, (char)('a' + n % 26)) == 0)
            n++;
        if (n != max || b.len != max || b.data[max] != '\0' || strlen(b.data) != max)
            wrong++;
        strbuf_deinit(&b);
        for (size_t piece = 1; piece <= 70; piece++) {
            strbuf_init(&b, max);
            static const char src[80] = "0123456789012345678901234567890123456789012345678901234"
                                        "567890123456789012345";
            size_t want = 0;
            for (;;) {
                int rc = strbuf_add(&b, src, piece);
                if (want + piece <= max ? rc != 0 : rc != -1)
                    wrong++;
                if (rc < 0)
                    break;
                want += piece;
            }
            if (b.len != want || (b.data && b.data[want] != '\0'))
                wrong++;
            /* What is left still fits byte by byte, up to the cap exactly. */
            while (strbuf_addc(&b, 'z') == 0)
                want++;
            if (want != max || b.len != max)
                wrong++;
            strbuf_deinit(&b);
        }
    }
    CHECK(wrong == 0);

    /* No cap: growth across the first capacities, the NUL always in place. */
    struct strbuf b;
    strbuf_init(&b, 0);
    CHECK(strbuf_add(&b, "", 0) == 0 && b.data && b.data[0] == '\0');
    for (size_t i = 0; i < 1000; i++) {
        CHECK(strbuf_addc(&b, 'x') == 0);
        if (b.len != i + 1 || b.data[b.len] != '\0')
            CHECK(!"NUL after addc");
    }
    strbuf_deinit(&b);
}

static void test_str_eq_ci(void)
{
    CHECK(str_eq_ci("Content-Type", "Content-Type"));
    CHECK(str_eq_ci("content-TYPE", "Content-Type"));
    CHECK(!str_eq_ci("Content-Type", "Content-Typ"));
    CHECK(!str_eq_ci("Content-Typ", "Content-Type"));
    CHECK(!str_eq_ci("Content-Type", "Content-Tyqe"));
    CHECK(str_eq_ci("", ""));
    CHECK(!str_eq_ci("", "a"));
    CHECK(str_eq_ci(NULL, NULL) && !str_eq_ci(NULL, "") && !str_eq_ci("", NULL));
    /* ASCII letters only fold: not '@' with '`', nor bytes above 0x7f. */
    CHECK(!str_eq_ci("@", "`") && !str_eq_ci("[", "{"));
    CHECK(!str_eq_ci("caf\xc3\xa9", "caf\xe3\xa9") && str_eq_ci("CAF\xc3\xa9", "caf\xc3\xa9"));
    /* The inline first-byte test answers as the full comparison does, for every pair of first
     * bytes (NUL included: "" against " ", whose bytes differ only by 0x20). */
    for (int a = 0; a < 256; a++)
        for (int b = 0; b < 256; b++) {
            char x[3] = {(char)a, 'k', '\0'}, y[3] = {(char)b, 'K', '\0'};
            bool lower_eq = (a | 0x20) == (b | 0x20) && (a | 0x20) >= 'a' && (a | 0x20) <= 'z';
            bool want = a == 0 ? b == 0 : (a == b || lower_eq);
            CHECK(str_eq_ci(x, y) == want);
        }
}

static void test_hex_pairs(void)
{
    uint8_t all[256];
    for (int i = 0; i < 256; i++)
        all[i] = (uint8_t)i;
    char got[513], want[513];
    crypto_hex(all, sizeof all, got);
    for (int i = 0; i < 256; i++)
        snprintf(want + 2 * i, 3, "%02x", i);
    CHECK_STR(got, want);
    crypto_hex(all, 0, got);
    CHECK_STR(got, "");
}

/* The count line of <name> with labels <labels> in <text>, or -1. */
static long series_value(const char *text, const char *name_labels)
{
    const char *p = strstr(text, name_labels);
    if (!p)
        return -1;
    return strtol(p + strlen(name_labels), NULL, 10);
}

static void test_metrics_last_series(void)
{
    struct metrics *m = metrics_new();
    /* Alternate label values, and values that are prefixes of each other (same family). */
    for (int i = 0; i < 5; i++) {
        metrics_request(m, "rest", "a", "GET", 200);
        metrics_request(m, "rest", "a", "GET", 200);
        metrics_request(m, "rest", "ab", "GET", 200);
        metrics_request(m, "rest", "a", "GET", 404);
        metrics_request(m, "rest", NULL, "GET", 404);
        metrics_mcp_call(m, "a", "ok"); /* another family, same first label value */
    }
    /* Enough series to grow the table past its first size while one is cached. */
    char route[32];
    for (int i = 0; i < 200; i++) {
        snprintf(route, sizeof route, "r%d", i);
        metrics_request(m, "rest", route, "GET", 200);
        metrics_request(m, "rest", "a", "GET", 200);
    }
    struct strbuf out;
    strbuf_init(&out, 0);
    struct metrics_gauges g = {.version = "test"};
    metrics_render(&m, 1, &g, &out);
    CHECK(series_value(out.data, "capproxy_requests_total{adapter=\"rest\",route=\"a\","
                                 "method=\"GET\",status=\"200\"} ") == 210);
    CHECK(series_value(out.data, "capproxy_requests_total{adapter=\"rest\",route=\"ab\","
                                 "method=\"GET\",status=\"200\"} ") == 5);
    CHECK(series_value(out.data, "capproxy_requests_total{adapter=\"rest\",route=\"a\","
                                 "method=\"GET\",status=\"404\"} ") == 5);
    CHECK(series_value(out.data, "capproxy_requests_total{adapter=\"rest\",route=\"r199\","
                                 "method=\"GET\",status=\"200\"} ") == 1);
    CHECK(series_value(out.data, "capproxy_mcp_tool_calls_total{tool=\"a\",outcome=\"ok\"} ") == 5);
    if (harness_run_failed)
        fprintf(stderr, "%s\n", out.data);
    strbuf_deinit(&out);
    metrics_free(m);
}

int main(void)
{
    RUN(test_strbuf_edges());
    RUN(test_str_eq_ci());
    RUN(test_hex_pairs());
    RUN(test_metrics_last_series());
    return harness_report();
}
