/*
 * Unit tests for framing: the head checks one by one, and the scanner fed a request in pieces
 * (a byte at a time, pipelined, chunked), which is how it sees bytes on a connection.
 */
#include <stdio.h>
#include <string.h>

#include <event2/buffer.h>

#include "http/framing.h"
#include "harness.h"
#include "base/util.h"

static const struct framing_limits lim = {.max_head = 1024, .max_headers = 4, .max_body = 100};

/* The status framing_check_head gives <head>, its detail in <why>. */
static int head(const char *h, struct framing_refusal *why)
{
    struct framing_state st = {0};
    memset(why, 0, sizeof *why);
    return framing_check_head(h, strlen(h), &lim, &st, why);
}

static bool names(const struct framing_refusal *why, const char *what)
{
    return strstr(why->detail, what) != NULL;
}

static void test_heads(void)
{
    struct framing_refusal w;
    CHECK(head("GET / HTTP/1.1\r\nHost: a\r\n\r\n", &w) == 0);
    CHECK(head("GET / HTTP/1.0\r\n\r\n", &w) == 0); /* 1.0 may leave Host out */
    CHECK(head("POST /x HTTP/1.1\r\nHost: a:8080\r\nContent-Length: 100\r\n\r\n", &w) == 0);
    CHECK(head("POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: Chunked \r\n\r\n", &w) == 0);
    CHECK(head("GET / HTTP/1.1\r\nHost: a\r\nX-V: caf\xc3\xa9\t!\r\n\r\n", &w) == 0);

    CHECK(head("GET / HTTP/1.1\r\n\r\n", &w) == 400 && names(&w, "Host"));
    CHECK(head("GET / HTTP/1.1\r\nHost: a\r\nhost: b\r\n\r\n", &w) == 400 && names(&w, "Host"));
    CHECK(head("GET / HTTP/1.1\r\nHost: a b\r\n\r\n", &w) == 400 && names(&w, "Host"));
    CHECK(head("GET / HTTP/1.1\r\nHost: a\r\nOrigin: x\r\nOrigin: y\r\n\r\n", &w) == 400 &&
          names(&w, "Origin"));
    CHECK(head("GET / HTTP/1.1\r\nHost:\r\n\r\n", &w) == 400 && names(&w, "Host"));
    static const char nul[] = "GET / HTTP/1.1\r\nHost: a\r\nX-K: a\0b\r\n\r\n";
    struct framing_state st = {0};
    CHECK(framing_check_head(nul, sizeof nul - 1, &lim, &st, &w) == 400 && names(&w, "X-K"));
    CHECK(head("GET / HTTP/1.1\r\nHost: a\r\nX-K: a\rb\r\n\r\n", &w) == 400 && names(&w, "X-K"));
    CHECK(head("GET / HTTP/1.1\r\nHost: a\r\nX-K: a\nb: c\r\n\r\n", &w) == 400 && names(&w, "X-K"));
    CHECK(head("GET / HTTP/1.1\r\nHost: a\r\nX-K: a\x7f\r\n\r\n", &w) == 400);
    CHECK(head("GET / HTTP/1.1\r\nHost: a\r\nX-K: a\r\n b\r\n\r\n", &w) == 400 &&
          names(&w, "folding"));
    CHECK(head("GET / HTTP/1.1\r\nHost: a\r\nContent-Length : 1\r\n\r\n", &w) == 400 &&
          names(&w, "Content-Length") && names(&w, "colon"));
    CHECK(head("GET / HTTP/1.1\r\nHost: a\r\nX(K): 1\r\n\r\n", &w) == 400);
    CHECK(head("GET / HTTP/1.1\r\nHost: a\r\n: 1\r\n\r\n", &w) == 400);
    CHECK(head("GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\n\r\n", &w) == 431);
    CHECK(head("GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n", &w) == 0);

    CHECK(head("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n", &w) == 400 &&
          names(&w, "Transfer-Encoding"));
    CHECK(head("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", &w) ==
          400);
    CHECK(head("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n"
               "Transfer-Encoding: chunked\r\n\r\n",
               &w) == 400);
    CHECK(head("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n"
               "Content-Length: 3\r\n\r\n",
               &w) == 400);
    CHECK(head("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", &w) == 400);
    CHECK(head("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n",
               &w) == 400);
    CHECK(head("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n", &w) == 400);
    CHECK(head("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 101\r\n\r\n", &w) == 413);
    CHECK(head("POST / HTTP/1.1\r\nHost: a\r\nExpect: nope\r\n\r\n", &w) == 417);
    /* a quoted value is printable ASCII: the detail goes into a JSON body and the log */
    CHECK(head("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: g\xffz\tip\r\n\r\n", &w) == 400 &&
          names(&w, "'g?z?ip'") && utf8_valid(w.detail, strlen(w.detail), NULL));
    CHECK(head("POST / HTTP/1.1\r\nHost: a\r\nExpect: 20\xd1\xd2\x90\x94\r\n\r\n", &w) == 417 &&
          names(&w, "'20?\?\?\?'") && utf8_valid(w.detail, strlen(w.detail), NULL));
    /* evhttp keeps a leading tab: values are read the way evhttp reads them */
    CHECK(head("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:\tchunked\r\n\r\n", &w) == 400);
    CHECK(head("POST / HTTP/1.1\r\nHost: a\r\nContent-Length:\t1\r\n\r\n", &w) == 400);
    CHECK(head("HEAD / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\n\r\n", &w) == 400 &&
          names(&w, "HEAD"));
    CHECK(head("HEAD / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n", &w) == 0);

    CHECK(head("CONNECT a:443 HTTP/1.1\r\nHost: a\r\n\r\n", &w) == 501 && names(&w, "CONNECT"));
    CHECK(head("TRACE / HTTP/1.1\r\nHost: a\r\n\r\n", &w) == 501);
    CHECK(head("get / HTTP/1.1\r\nHost: a\r\n\r\n", &w) == 501); /* methods are case-sensitive */
    CHECK(head("GET / HTTP/2.0\r\nHost: a\r\n\r\n", &w) == 505);
    CHECK(head("GET / HTTP/1.1 \r\nHost: a\r\n\r\n", &w) == 400);
    CHECK(head("GET  / HTTP/1.1\r\nHost: a\r\n\r\n", &w) == 400);
    CHECK(head("GET http://b/ HTTP/1.1\r\nHost: a\r\n\r\n", &w) == 400);
    CHECK(head("GET * HTTP/1.1\r\nHost: a\r\n\r\n", &w) == 400);
    CHECK(head("GET /\x01 HTTP/1.1\r\nHost: a\r\n\r\n", &w) == 400);
}

/* Feed <bytes> to a fresh scanner <step> bytes at a time; the lengths of the requests it
 * hands on go to <lens>, their count is returned, or -status when it refuses. */
static int feed(const char *bytes, size_t n, size_t step, size_t *lens, int maxlens)
{
    struct evbuffer *held = evbuffer_new();
    struct framing_state st = {0};
    int count = 0, rc = 0;
    for (size_t at = 0; at < n && rc == 0; at += step) {
        evbuffer_add(held, bytes + at, at + step > n ? n - at : step);
        for (;;) {
            size_t len = 0;
            struct framing_refusal why;
            enum framing_result r = framing_scan(&st, held, &lim, &len, &why);
            if (r == FRAMING_MORE)
                break;
            if (r == FRAMING_REFUSED) {
                rc = -why.status;
                break;
            }
            if (count < maxlens)
                lens[count] = len;
            count++;
            evbuffer_drain(held, len);
        }
    }
    evbuffer_free(held);
    return rc ? rc : count;
}

static void test_scan(void)
{
    size_t lens[4];
    static const char two[] = "GET /a HTTP/1.1\r\nHost: a\r\n\r\n"
                              "POST /b HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc";
    for (size_t step = 1; step <= sizeof two; step++) {
        memset(lens, 0, sizeof lens);
        CHECK(feed(two, sizeof two - 1, step, lens, 4) == 2 && lens[0] == 28 && lens[1] == 51);
    }
    static const char chunked[] =
        "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
        "3\r\nabc\r\nA\r\n0123456789\r\n0\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n";
    for (size_t step = 1; step <= sizeof chunked; step++) {
        memset(lens, 0, sizeof lens);
        CHECK(feed(chunked, sizeof chunked - 1, step, lens, 4) == 2 && lens[0] == 84);
    }
    /* empty lines before a request line are skipped, a few of them */
    CHECK(feed("\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", 29, 1, lens, 4) == 1);
    CHECK(feed("\r\n\r\n\r\n\r\n\r\nGET / HTTP/1.1\r\n\r\n", 30, 3, lens, 4) == -400);

#define BODY(s) "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n" s
    static const char *const bad[] = {
        BODY("0x3\r\nabc\r\n0\r\n\r\n"), BODY("-1\r\nabc\r\n0\r\n\r\n"),
        BODY("zz\r\nabc\r\n0\r\n\r\n"),  BODY("3;a=b\r\nabc\r\n0\r\n\r\n"),
        BODY("3 \r\nabc\r\n0\r\n\r\n"),  BODY("\r\nabc\r\n0\r\n\r\n"),
        BODY("2\r\nabc\r\n0\r\n\r\n"),   BODY("3\r\nabc\r\n0\r\nX-A: b\r\n\r\n"),
        BODY("3\r\nabc\n0\r\n\r\n"),     BODY("0000000000000000003\r\nabc\r\n0\r\n\r\n"),
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        CHECK(feed(bad[i], strlen(bad[i]), 1, lens, 4) == -400);
    /* over max_body (100): as soon as a chunk size says so */
    CHECK(feed(BODY("65\r\n"), strlen(BODY("65\r\n")), 1, lens, 4) == -413);
    CHECK(feed(BODY("40\r\n"), strlen(BODY("40\r\n")), 1, lens, 4) == 0);
    /* a head that never ends: 431 once it is over max_head */
    char big[1100];
    memset(big, 'a', sizeof big);
    memcpy(big, "GET / HTTP/1.1\r\nX: ", 19);
    CHECK(feed(big, sizeof big, 7, lens, 4) == -431);
}

/* "100 Continue" is promised to HTTP/1.1 clients only (RFC 9110 10.1.1). */
static void test_expect(void)
{
    struct framing_refusal w;
    struct framing_state st = {0};
    static const char h11[] =
        "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nExpect: 100-continue\r\n\r\n";
    CHECK(framing_check_head(h11, sizeof h11 - 1, &lim, &st, &w) == 0 && st.expect_100);
    memset(&st, 0, sizeof st);
    static const char h10[] =
        "POST / HTTP/1.0\r\nContent-Length: 1\r\nExpect: 100-continue\r\n\r\n";
    CHECK(framing_check_head(h10, sizeof h10 - 1, &lim, &st, &w) == 0 && !st.expect_100);
}

/* A body limit near SIZE_MAX / 2 (the largest the configuration takes) must not wrap the cap
 * on the raw bytes of a chunked body: 60,000 one-byte chunks (360 kB of framing) pass. */
static void test_huge_limit(void)
{
    const struct framing_limits huge = {
        .max_head = 16384, .max_headers = 100, .max_body = SIZE_MAX / 2};
    struct evbuffer *b = evbuffer_new();
    evbuffer_add_printf(b, "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n");
    for (int i = 0; i < 60000; i++)
        evbuffer_add(b, "1\r\na\r\n", 6);
    evbuffer_add(b, "0\r\n\r\n", 5);
    struct framing_state st = {0};
    struct framing_refusal why;
    size_t len = 0;
    CHECK(framing_scan(&st, b, &huge, &len, &why) == FRAMING_DONE);
    CHECK(len == evbuffer_get_length(b));
    evbuffer_free(b);
}

/* Header values are scanned a word at a time: a byte that ends or spoils one is seen at every
 * offset, and a tab or obs-text byte anywhere is content. */
static void test_value_words(void)
{
    struct framing_refusal w;
    char h[160], val[40];
    static const char bad[] = {'\0', '\x01', '\n', '\r', '\x1f', '\x7f'};
    for (size_t at = 0; at < 24; at++) {
        for (size_t k = 0; k < sizeof bad; k++) {
            memset(val, 'v', 30);
            val[at] = bad[k];
            static const char start[] = "GET / HTTP/1.1\r\nHost: a\r\nX-Long: ";
            size_t n = sizeof start - 1;
            memcpy(h, start, n);
            memcpy(h + n, val, 30);
            memcpy(h + n + 30, "\r\n\r\n", 4);
            struct framing_state st = {0};
            CHECK(framing_check_head(h, n + 34, &lim, &st, &w) == 400);
        }
        memset(val, 'v', 30);
        val[at] = '\t';
        val[29 - at] = (char)0xe9;
        snprintf(h, sizeof h, "GET / HTTP/1.1\r\nHost: a\r\nX-Long: %.30s\r\n\r\n", val);
        CHECK(head(h, &w) == 0);
    }
}

int main(void)
{
    RUN(test_value_words());
    RUN(test_heads());
    RUN(test_scan());
    RUN(test_expect());
    RUN(test_huge_limit());
    return harness_report();
}
