/*
 * framing: see framing.h. RFC 9112 sections 3 (request line), 5 (field syntax), 6 (message body
 * length) and 7.1 (chunked coding), read strictly: where the RFC lets a recipient be lenient
 * (bare LF, obs-fold, whitespace before the colon, several codings), a gateway that another
 * parser may read differently refuses instead.
 */
#include "http/framing.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "base/swar.h"
#include "base/util.h"
#include "spec/urlenc.h"

/* Longest chunk-size line accepted (size digits only: extensions are refused). */
#define FRAMING_CHUNK_LINE_MAX 64
/* Empty lines tolerated before a request line (RFC 9112 2.2 "at least one"). */
#define FRAMING_LEADING_MAX 4

static int refuse(struct framing_refusal *why, int status, const char *fmt, ...) UTIL_PRINTF(3, 4);

static int refuse(struct framing_refusal *why, int status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why->detail, sizeof why->detail, fmt, ap);
    va_end(ap);
    why->status = status;
    return status;
}

/* Field content: visible ASCII, SP, HTAB and obs-text; never NUL, CR, LF or another CTL. */
static bool is_field_char(unsigned char c)
{
    return c == '\t' || (c >= 0x20 && c != 0x7f);
}

/* Characters of a Host value (RFC 3986 reg-name, IP-literal and port). */
static bool is_host_char(unsigned char c)
{
    static const char extra[] = "-._~!$&'()*+,;=:[]%";
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c && memchr(extra, c, sizeof extra - 1));
}

/* <v>[0..n) for quoting in a refusal detail: at most 64 bytes, each byte that is not printable
 * ASCII as '?'. The detail goes into a JSON problem body and the log; a raw obs-text byte
 * there is invalid UTF-8 (the body is no longer JSON) and a raw tab or DEL is log noise. */
static const char *quotable(char out[65], const char *v, size_t n)
{
    if (n > 64)
        n = 64;
    for (size_t i = 0; i < n; i++)
        out[i] = (unsigned char)v[i] >= 0x20 && (unsigned char)v[i] < 0x7f ? v[i] : '?';
    out[n] = '\0';
    return out;
}

static bool name_is(const char *n, size_t len, const char *want)
{
    return len == strlen(want) && str_eq_ci_n(n, len, want); /* the length first: cheap */
}

/* The methods the front ends serve; anything else is refused before evhttp sees it. */
static bool method_known(const char *m, size_t len)
{
    static const char *const known[] = {"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"};
    for (size_t i = 0; i < UTIL_ARRAY_LEN(known); i++)
        if (len == strlen(known[i]) && memcmp(m, known[i], len) == 0)
            return true;
    return false;
}

int framing_check_head(const char *p, size_t len, const struct framing_limits *lim,
                       struct framing_state *st, struct framing_refusal *why)
{
    const char *s = p, *end = p + len;

    /* request-line = method SP request-target SP HTTP-version CRLF */
    const char *m = s;
    while (urlenc_is_tchar((unsigned char)*s))
        s++;
    size_t mlen = (size_t)(s - m);
    if (mlen == 0 || *s != ' ')
        return refuse(why, 400, "the request line is not 'METHOD /path HTTP/1.1'");
    if (!method_known(m, mlen))
        return refuse(why, 501, "method '%.*s' is not supported", (int)(mlen > 32 ? 32 : mlen), m);
    const char *target = ++s;
    /* A word at a time first, as header values below: a space, a control byte or DEL ends
     * the target. */
    for (uint64_t w, stop; s + 8 <= end; s += 8) {
        w = swar_load(s);
        stop =
            swar_control(w) | swar_zero(w ^ (SWAR_ONES * ' ')) | swar_zero(w ^ (SWAR_ONES * 0x7f));
        if (stop) {
            s += swar_first(stop);
            break;
        }
    }
    while ((unsigned char)*s > 0x20 && *s != 0x7f)
        s++;
    if (s == target || *s != ' ')
        return refuse(why, 400, "the request target is empty or contains a control character");
    if (*target != '/')
        return refuse(why, 400, "the request target must be a path starting with '/'");
    s++;
    bool http10;
    if (end - s >= 10 && memcmp(s, "HTTP/1.1\r\n", 10) == 0)
        http10 = false;
    else if (end - s >= 10 && memcmp(s, "HTTP/1.0\r\n", 10) == 0)
        http10 = true;
    else if (end - s >= 10 && memcmp(s, "HTTP/", 5) == 0 && s[5] >= '0' && s[5] <= '9' &&
             s[6] == '.' && s[7] >= '0' && s[7] <= '9' && s[8] == '\r' && s[9] == '\n')
        return refuse(why, 505, "HTTP version %.3s is not supported (HTTP/1.1 and 1.0 are)", s + 5);
    else
        return refuse(why, 400, "the request line does not end in HTTP/1.1 and CRLF");
    s += 10;

    size_t nheaders = 0, nhost = 0, ncl = 0, nte = 0, norigin = 0;
    uint64_t cl = 0;
    char q[65];
    st->expect_100 = false;
    /* The head ends with CRLF CRLF, and every loop below stops at any CTL, so none runs past
     * <end>. */
    while (!(s[0] == '\r' && s[1] == '\n')) {
        if (*s == ' ' || *s == '\t')
            return refuse(why, 400, "a header line starts with whitespace (obsolete line folding)");
        const char *name = s;
        while (urlenc_is_tchar((unsigned char)*s))
            s++;
        int nlen = (int)(s - name);
        if (*s != ':') {
            const char *t = s;
            while (*t == ' ' || *t == '\t')
                t++;
            if (nlen > 0 && t != s && *t == ':')
                return refuse(why, 400, "whitespace between the header name '%.*s' and the colon",
                              nlen > 64 ? 64 : nlen, name);
            if (nlen > 0)
                return refuse(why, 400,
                              "header name '%.*s' is followed by a character that is "
                              "not allowed in a header name",
                              nlen > 64 ? 64 : nlen, name);
            return refuse(why, 400, "a header line has no valid name");
        }
        if (nlen == 0)
            return refuse(why, 400, "a header line has no name");
        s++;
        /* Leading spaces only: evhttp keeps a leading tab in the value it stores, so a
         * "Transfer-Encoding:<TAB>chunked" must not be read as chunked here. */
        while (*s == ' ')
            s++;
        const char *v = s;
        /* a word at a time while whole words lie inside the head (values such as a session
         * id or a token are long), then byte by byte from the first byte that is not one */
        for (uint64_t w, bad; s + 8 <= end; s += 8) {
            w = swar_load(s);
            bad = (swar_control(w) & ~swar_zero(w ^ (SWAR_ONES * '\t'))) |
                  swar_zero(w ^ (SWAR_ONES * 0x7f));
            if (bad) {
                s += swar_first(bad);
                break;
            }
        }
        while (is_field_char((unsigned char)*s))
            s++;
        if (!(s[0] == '\r' && s[1] == '\n'))
            return refuse(why, 400, "header '%.*s' contains a control character (NUL, CR, LF)",
                          nlen > 64 ? 64 : nlen, name);
        const char *ve = s;
        while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
            ve--;
        size_t vlen = (size_t)(ve - v);
        s += 2;
        if (++nheaders > lim->max_headers)
            return refuse(why, 431, "more than %zu header fields (the configured limit)",
                          lim->max_headers);
        if (name_is(name, (size_t)nlen, "host")) {
            if (++nhost > 1)
                return refuse(why, 400, "more than one Host header");
            if (vlen == 0)
                return refuse(why, 400, "the Host header is empty");
            for (size_t i = 0; i < vlen; i++)
                if (!is_host_char((unsigned char)v[i]))
                    return refuse(why, 400,
                                  "the Host header contains a character that is not "
                                  "allowed in a host name");
        } else if (name_is(name, (size_t)nlen, "content-length")) {
            if (++ncl > 1)
                return refuse(why, 400, "more than one Content-Length header");
            if (vlen == 0 || vlen > 18)
                return refuse(why, 400, "Content-Length must be 1 to 18 digits");
            for (size_t i = 0; i < vlen; i++) {
                if (v[i] < '0' || v[i] > '9')
                    return refuse(why, 400, "Content-Length must be digits only");
                cl = cl * 10 + (uint64_t)(v[i] - '0');
            }
        } else if (name_is(name, (size_t)nlen, "transfer-encoding")) {
            if (++nte > 1)
                return refuse(why, 400, "more than one Transfer-Encoding header");
            if (!str_eq_ci_n(v, vlen, "chunked"))
                return refuse(why, 400, "Transfer-Encoding '%s' is not accepted: only 'chunked'",
                              quotable(q, v, vlen));
        } else if (name_is(name, (size_t)nlen, "origin")) {
            /* The MCP Origin check reads one value: it must be the only one. */
            if (++norigin > 1)
                return refuse(why, 400, "more than one Origin header");
        } else if (name_is(name, (size_t)nlen, "expect")) {
            if (!str_eq_ci_n(v, vlen, "100-continue"))
                return refuse(why, 417, "Expect '%s' is not supported: only '100-continue'",
                              quotable(q, v, vlen));
            st->expect_100 = !http10; /* RFC 9110 10.1.1: never a 1xx to an HTTP/1.0 client */
        }
    }
    if (nhost == 0 && !http10)
        return refuse(why, 400, "the Host header is required in HTTP/1.1");
    if (nte && ncl)
        return refuse(why, 400, "both Transfer-Encoding and Content-Length: ambiguous framing");
    if (nte && http10)
        return refuse(why, 400, "Transfer-Encoding is not allowed in HTTP/1.0");
    /* evhttp reads no body for HEAD: its bytes would be parsed as the next request. */
    if ((nte || cl) && mlen == 4 && memcmp(m, "HEAD", 4) == 0)
        return refuse(why, 400, "a HEAD request must not have a body");
    if (cl > lim->max_body)
        return refuse(why, 413,
                      "request body is larger than the configured limit "
                      "(Content-Length %llu)",
                      (unsigned long long)cl);
    if (nte) {
        st->phase = FRAMING_CHUNK_LINE;
        st->scan = len;
    } else {
        st->phase = FRAMING_BODY;
        st->end = len + (size_t)cl;
    }
    return 0;
}

/* Offset of the CRLF at or after <from> in <buf>, or -1. */
static ev_ssize_t find_crlf(struct evbuffer *buf, size_t from, const char *what, size_t wlen)
{
    struct evbuffer_ptr at;
    if (evbuffer_ptr_set(buf, &at, from, EVBUFFER_PTR_SET) < 0)
        return -1;
    struct evbuffer_ptr r = evbuffer_search(buf, what, wlen, &at);
    return r.pos;
}

/* A chunk-size line: hex digits only (no sign, no "0x", no extension, no whitespace). */
static int chunk_size(const char *line, size_t n, uint64_t *size)
{
    if (n == 0 || n > 15)
        return -1;
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        char c = line[i];
        int d = c >= '0' && c <= '9'   ? c - '0'
                : c >= 'a' && c <= 'f' ? c - 'a' + 10
                : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                       : -1;
        if (d < 0)
            return -1;
        v = v * 16 + (uint64_t)d;
    }
    *size = v;
    return 0;
}

/* The raw bytes a chunked body may take (its framing included): twice the body limit plus the
 * head and some slack, saturated so that a huge configured limit cannot wrap it. */
static size_t raw_cap(const struct framing_limits *lim)
{
    size_t slack = lim->max_head + 65536;
    if (slack < lim->max_head || lim->max_body > (SIZE_MAX - slack) / 2)
        return SIZE_MAX;
    return slack + 2 * lim->max_body;
}

enum framing_result framing_scan(struct framing_state *st, struct evbuffer *buf,
                                 const struct framing_limits *lim, size_t *len,
                                 struct framing_refusal *why)
{
    for (;;) {
        size_t have = evbuffer_get_length(buf);
        switch (st->phase) {
        case FRAMING_HEAD: {
            unsigned char two[2];
            while (st->scan == 0 && have >= 2 && evbuffer_copyout(buf, two, 2) == 2 &&
                   two[0] == '\r' && two[1] == '\n') {
                if (++st->leading > FRAMING_LEADING_MAX) {
                    refuse(why, 400, "too many empty lines before the request line");
                    return FRAMING_REFUSED;
                }
                evbuffer_drain(buf, 2);
                have -= 2;
            }
            ev_ssize_t at = find_crlf(buf, st->scan, "\r\n\r\n", 4);
            if (at < 0) {
                if (have > lim->max_head) {
                    refuse(why, 431, "request head is larger than the configured limit");
                    return FRAMING_REFUSED;
                }
                st->scan = have > 3 ? have - 3 : 0;
                return FRAMING_MORE;
            }
            size_t hlen = (size_t)at + 4;
            if (hlen > lim->max_head) {
                refuse(why, 431, "request head is larger than the configured limit");
                return FRAMING_REFUSED;
            }
            const char *p = (const char *)evbuffer_pullup(buf, (ev_ssize_t)hlen);
            if (framing_check_head(p, hlen, lim, st, why))
                return FRAMING_REFUSED;
            break;
        }
        case FRAMING_BODY:
            if (have < st->end)
                return FRAMING_MORE;
            *len = st->end;
            memset(st, 0, sizeof *st);
            return FRAMING_DONE;
        case FRAMING_CHUNK_LINE: {
            ev_ssize_t at = find_crlf(buf, st->scan, "\r\n", 2);
            if (at < 0) {
                if (have - st->scan > FRAMING_CHUNK_LINE_MAX) {
                    refuse(why, 400, "a chunk-size line is not hexadecimal digits and CRLF");
                    return FRAMING_REFUSED;
                }
                return FRAMING_MORE;
            }
            char line[FRAMING_CHUNK_LINE_MAX];
            size_t n = (size_t)at - st->scan;
            struct evbuffer_ptr from;
            uint64_t size = 0;
            if (n > sizeof line || evbuffer_ptr_set(buf, &from, st->scan, EVBUFFER_PTR_SET) < 0 ||
                evbuffer_copyout_from(buf, &from, line, n) != (ev_ssize_t)n ||
                chunk_size(line, n, &size) < 0) {
                refuse(why, 400,
                       "a chunk size is not hexadecimal digits only (no sign, prefix, "
                       "whitespace or extension)");
                return FRAMING_REFUSED;
            }
            /* Tiny chunks make the framing outweigh the data: cap the raw bytes held too. */
            if (size > lim->max_body || st->decoded + size > lim->max_body ||
                st->scan > raw_cap(lim)) {
                refuse(why, 413, "request body is larger than the configured limit (chunked)");
                return FRAMING_REFUSED;
            }
            st->scan = (size_t)at + 2;
            st->left = size;
            st->phase = size ? FRAMING_CHUNK_DATA : FRAMING_TRAILER;
            break;
        }
        case FRAMING_CHUNK_DATA: {
            if (have < st->scan + st->left + 2)
                return FRAMING_MORE;
            char crlf[2];
            struct evbuffer_ptr from;
            if (evbuffer_ptr_set(buf, &from, st->scan + st->left, EVBUFFER_PTR_SET) < 0 ||
                evbuffer_copyout_from(buf, &from, crlf, 2) != 2 || crlf[0] != '\r' ||
                crlf[1] != '\n') {
                refuse(why, 400, "chunk data is not followed by CRLF (chunk size and data differ)");
                return FRAMING_REFUSED;
            }
            st->decoded += st->left;
            st->scan += st->left + 2;
            st->left = 0;
            st->phase = FRAMING_CHUNK_LINE;
            break;
        }
        case FRAMING_TRAILER: {
            char crlf[2];
            struct evbuffer_ptr from;
            size_t n = have - st->scan >= 2 ? 2 : have - st->scan;
            if (n == 0)
                return FRAMING_MORE;
            if (evbuffer_ptr_set(buf, &from, st->scan, EVBUFFER_PTR_SET) < 0 ||
                evbuffer_copyout_from(buf, &from, crlf, n) != (ev_ssize_t)n)
                return FRAMING_MORE;
            /* evhttp would merge trailer fields into the request headers, after they were
             * checked: a Host or credential there would bypass every check. */
            if (crlf[0] != '\r' || (n == 2 && crlf[1] != '\n')) {
                refuse(why, 400, "trailer fields after a chunked body are not accepted");
                return FRAMING_REFUSED;
            }
            if (n < 2)
                return FRAMING_MORE;
            *len = st->scan + 2;
            memset(st, 0, sizeof *st);
            return FRAMING_DONE;
        }
        }
    }
}
