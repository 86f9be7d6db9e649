/*
 * framing: where one client request ends, and whether its head can be trusted, decided on the
 * raw bytes before evhttp parses them. libevent 2.1's parser accepts what a gateway that
 * injects secrets must not: codings other than chunked (it then reads the body as the next
 * request), whitespace before the colon, NUL in values (cut there), several Host headers,
 * signed or "0x" chunk sizes. The scanner holds a request back until its head and body are
 * complete and checked, so evhttp only ever sees whole requests that parse one way.
 */
#ifndef CAPPROXY_FRAMING_H
#define CAPPROXY_FRAMING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <event2/buffer.h>

struct framing_limits {
    size_t max_head;    /* request line and header section, on the wire: larger is 431 */
    size_t max_headers; /* header fields: more is 431 */
    size_t max_body;    /* decoded body: larger is 413 */
};

enum framing_phase {
    FRAMING_HEAD,       /* waiting for the end of a request head */
    FRAMING_BODY,       /* Content-Length body */
    FRAMING_CHUNK_LINE, /* a chunk-size line */
    FRAMING_CHUNK_DATA, /* chunk data and its CRLF */
    FRAMING_TRAILER,    /* after the last chunk: only the final CRLF is accepted */
};

/* One connection's position in the request it is receiving. Zeroed: at a request's start. */
struct framing_state {
    enum framing_phase phase;
    size_t scan;      /* offset where the next search starts (head) or the next line is */
    size_t end;       /* Content-Length: offset where the request ends */
    uint64_t left;    /* chunk data bytes still to come */
    uint64_t decoded; /* chunk data bytes so far */
    unsigned leading; /* empty lines skipped before this request line */
    bool expect_100;  /* the head asked for "100 Continue" */
};

enum framing_result {
    FRAMING_MORE,    /* incomplete: keep the bytes and wait */
    FRAMING_DONE,    /* a whole request of *len bytes is at the front */
    FRAMING_REFUSED, /* refused: answer <status> with <detail> and close */
};

struct framing_refusal {
    int status;
    char detail[192];
};

/* Scan the request at the front of <buf> from where <st> left off. Leading empty lines are
 * drained. On FRAMING_DONE <st> is reset for the next request. */
enum framing_result framing_scan(struct framing_state *st, struct evbuffer *buf,
                                 const struct framing_limits *lim, size_t *len,
                                 struct framing_refusal *why);

/* Check one complete request head <p>[0..len) (ending with CRLF CRLF). 0 with the body's
 * framing in <st> (phase, end, expect_100), or the status to answer with <why> filled. */
int framing_check_head(const char *p, size_t len, const struct framing_limits *lim,
                       struct framing_state *st, struct framing_refusal *why);

#endif
