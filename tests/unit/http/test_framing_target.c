/* Unit tests for framing's request-target scan, which reads eight bytes at a time before a
 * byte loop finishes: every byte value at every offset of targets 1 to 40 bytes long, so that
 * each lands at every place in a word and in the tail the word loop leaves. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/framing.h"
#include "harness.h"

static const struct framing_limits lim = {.max_head = 4096, .max_headers = 8, .max_body = 100};

/* Whether a target may hold byte <c>: it ends at a space, a control byte or DEL. */
static bool allowed(unsigned char c)
{
    return c > 0x20 && c != 0x7f;
}

static void test_every_byte_at_every_offset(void)
{
    static const char tail[] = " HTTP/1.1\r\nHost: a\r\n\r\n";
    char head[128];
    int wrong = 0;
    for (size_t tlen = 1; tlen <= 40; tlen++) {
        for (size_t at = 1; at < tlen; at++) {
            for (int c = 0; c < 256; c++) {
                size_t n = 0;
                memcpy(head, "GET ", 4);
                n = 4;
                head[n] = '/';
                memset(head + n + 1, 'a', tlen - 1);
                head[n + at] = (char)c;
                n += tlen;
                memcpy(head + n, tail, sizeof tail - 1);
                n += sizeof tail - 1;
                struct framing_state st = {0};
                struct framing_refusal why;
                memset(&why, 0, sizeof why);
                int got = framing_check_head(head, n, &lim, &st, &why);
                int want = allowed((unsigned char)c) ? 0 : 400;
                if (got != want && wrong++ < 5)
                    fprintf(stderr, "target of %zu bytes, byte 0x%02x at %zu: %d, want %d\n", tlen,
                            c, at, got, want);
            }
        }
    }
    CHECK(wrong == 0);
}

/* The target runs to the end of what was read when the head is cut short: refused, and the
 * scan stays inside the buffer (ASan and valgrind watch the reads). */
static void test_target_at_the_end(void)
{
    for (size_t tlen = 1; tlen <= 40; tlen++) {
        char *head = malloc(4 + tlen + 1); /* exactly the bytes: a read past them is caught */
        memcpy(head, "GET /", 5);
        memset(head + 5, 'b', tlen - 1);
        head[4 + tlen] = ' ';
        struct framing_state st = {0};
        struct framing_refusal why;
        CHECK(framing_check_head(head, 4 + tlen + 1, &lim, &st, &why) == 400);
        free(head);
    }
}

int main(void)
{
    RUN(test_every_byte_at_every_offset());
    RUN(test_target_at_the_end());
    return harness_report();
}
