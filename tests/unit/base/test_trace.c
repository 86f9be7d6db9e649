/* Unit tests for trace: traceparent parsing against the W3C Trace Context rules (version,
 * length, lowercase hex, zero ids, future versions), tracestate checks, formatting round trips,
 * and the ids (never zero, different each time). */
#include "harness.h"

#include <stdint.h>
#include <string.h>

#include "base/crypto.h"
#include "base/trace.h"

#define TP_OK "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

static bool parses(const char *s)
{
    uint8_t t[TRACE_ID_LEN], p[TRACE_SPAN_LEN], f;
    return trace_parse_parent(s, t, p, &f) == 0;
}

static void test_parent_valid(void)
{
    uint8_t t[TRACE_ID_LEN], p[TRACE_SPAN_LEN], f = 9;
    CHECK(trace_parse_parent(TP_OK, t, p, &f) == 0);
    char hex[33];
    crypto_hex(t, TRACE_ID_LEN, hex);
    CHECK_STR(hex, "4bf92f3577b34da6a3ce929d0e0e4736");
    crypto_hex(p, TRACE_SPAN_LEN, hex);
    CHECK_STR(hex, "00f067aa0ba902b7");
    CHECK(f == TRACE_FLAG_SAMPLED);
    CHECK(trace_parse_parent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00", t, p, &f) ==
          0);
    CHECK(f == 0);
    /* Unknown flag bits are dropped, the sampled bit kept. */
    CHECK(trace_parse_parent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-ff", t, p, &f) ==
          0);
    CHECK(f == TRACE_FLAG_SAMPLED);
}

static void test_parent_invalid(void)
{
    CHECK(!parses(NULL));
    CHECK(!parses(""));
    CHECK(!parses("garbage"));
    /* uppercase hex */
    CHECK(!parses("00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01"));
    CHECK(!parses("00-4bf92f3577b34da6a3ce929d0e0e4736-00F067AA0BA902B7-01"));
    /* all-zero ids */
    CHECK(!parses("00-00000000000000000000000000000000-00f067aa0ba902b7-01"));
    CHECK(!parses("00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01"));
    /* version ff is forbidden; version 00 has exactly 55 characters */
    CHECK(!parses("ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"));
    CHECK(!parses(TP_OK "-extra"));
    CHECK(!parses(TP_OK " "));
    CHECK(!parses("00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01"));
    /* separators and non-hex */
    CHECK(!parses("00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"));
    CHECK(!parses("00-4bf92f3577b34da6a3ce929d0e0e4736_00f067aa0ba902b7-01"));
    CHECK(!parses("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7_01"));
    CHECK(!parses("00-4bf92f3577b34da6a3ce929d0e0e473g-00f067aa0ba902b7-01"));
    CHECK(!parses("0x-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"));
    CHECK(!parses("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0g"));
    /* a failed parse leaves the outputs alone */
    uint8_t t[TRACE_ID_LEN] = {7}, p[TRACE_SPAN_LEN] = {7}, f = 7;
    CHECK(trace_parse_parent("00-zz", t, p, &f) < 0);
    CHECK(t[0] == 7 && p[0] == 7 && f == 7);
}

static void test_parent_future_version(void)
{
    /* A later version is read as 00 when its first 55 characters fit, extra fields after '-'. */
    CHECK(parses("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"));
    CHECK(parses("cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-what-the-future-holds"));
    CHECK(!parses("cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01what"));
}

static void test_state(void)
{
    CHECK(trace_state_ok("congo=t61rcWkgMzE"));
    CHECK(trace_state_ok("rojo=00f067aa0ba902b7,congo=t61rcWkgMzE"));
    CHECK(trace_state_ok("rojo=1 , ,congo=2"));
    CHECK(trace_state_ok("tenant@vendor=x,a_b-c*d/e=v"));
    CHECK(!trace_state_ok(NULL));
    CHECK(!trace_state_ok(""));
    CHECK(!trace_state_ok(" , "));
    CHECK(!trace_state_ok("novalue"));
    CHECK(!trace_state_ok("=v"));
    CHECK(!trace_state_ok("k="));
    CHECK(!trace_state_ok("Upper=v"));
    CHECK(!trace_state_ok("k=v\r\nX-Evil: 1"));
    CHECK(!trace_state_ok("k=a=b"));
    char big[600];
    memset(big, 'a', sizeof big);
    memcpy(big, "k=", 2);
    big[513] = '\0';
    CHECK(!trace_state_ok(big)); /* 513 bytes */
    big[512] = '\0';
    CHECK(trace_state_ok(big)); /* 512 bytes */
    char many[400] = "";
    for (int i = 0; i < 33; i++) {
        char m[16];
        snprintf(m, sizeof m, "%sk%d=v", i ? "," : "", i);
        strcat(many, m);
    }
    CHECK(!trace_state_ok(many)); /* 33 members */
}

static void test_begin_and_format(void)
{
    struct trace_ctx t;
    trace_begin(&t, TP_OK, "congo=t61rcWkgMzE", false);
    CHECK(t.remote);
    CHECK(t.flags == TRACE_FLAG_SAMPLED);
    CHECK_STR(t.state, "congo=t61rcWkgMzE");
    char out[TRACE_PARENT_LEN + 1];
    trace_format_parent(t.trace_id, t.parent_id, t.flags, out);
    CHECK_STR(out, TP_OK);
    trace_format_parent(t.trace_id, t.span_id, t.flags, out);
    CHECK(strncmp(out, TP_OK, 36) == 0);      /* same trace */
    CHECK(strcmp(out + 36, TP_OK + 36) != 0); /* new span */
    CHECK(parses(out));

    /* Invalid parent: a new trace, and its tracestate is not kept. */
    trace_begin(&t, "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01", "congo=1", true);
    CHECK(!t.remote);
    CHECK(t.flags == TRACE_FLAG_SAMPLED);
    CHECK_STR(t.state, "");
    trace_format_parent(t.trace_id, t.span_id, t.flags, out);
    CHECK(parses(out));
    CHECK(strncmp(out, TP_OK, 36) != 0);
    trace_begin(&t, NULL, NULL, false);
    CHECK(!t.remote && t.flags == 0);
    /* A bad tracestate with a good parent: the parent is kept, the state dropped. */
    trace_begin(&t, TP_OK, "bad state", false);
    CHECK(t.remote);
    CHECK_STR(t.state, "");
}

static void test_ids_differ(void)
{
    uint8_t a[TRACE_SPAN_LEN], b[TRACE_SPAN_LEN], z[TRACE_SPAN_LEN] = {0};
    int same = 0;
    for (int i = 0; i < 1000; i++) {
        trace_new_span(a);
        trace_new_span(b);
        same += memcmp(a, b, sizeof a) == 0;
        CHECK(memcmp(a, z, sizeof a) != 0);
    }
    CHECK(same == 0);
    uint8_t t1[TRACE_ID_LEN], t2[TRACE_ID_LEN];
    trace_new_trace(t1);
    trace_new_trace(t2);
    CHECK(memcmp(t1, t2, sizeof t1) != 0);
}

int main(void)
{
    RUN(test_parent_valid());
    RUN(test_parent_invalid());
    RUN(test_parent_future_version());
    RUN(test_state());
    RUN(test_begin_and_format());
    RUN(test_ids_differ());
    return harness_report();
}
