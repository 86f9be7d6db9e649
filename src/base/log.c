/*
 * log: see log.h. Each line is formatted into a stack buffer and written with one write(2), so
 * lines from different worker threads never interleave.
 */
#include "base/log.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Set at start and again by a reload (main thread) while workers log: atomics, relaxed. */
static _Atomic int log_level_cur = LOG_INFO;
static atomic_bool log_access_on = true;
static atomic_bool log_json = false;

void log_init(enum log_level level, bool access, bool json)
{
    log_level_cur = level;
    log_access_on = access;
    log_json = json;
}

bool log_enabled(enum log_level level)
{
    return (int)level <= atomic_load_explicit(&log_level_cur, memory_order_relaxed);
}

enum log_level log_level_get(void)
{
    return (enum log_level)atomic_load_explicit(&log_level_cur, memory_order_relaxed);
}

void log_level_set(enum log_level level)
{
    atomic_store_explicit(&log_level_cur, (int)level, memory_order_relaxed);
}

const char *log_level_name(enum log_level level)
{
    static const char *const names[] = {"error", "warn", "info", "debug"};
    return (unsigned)level < UTIL_ARRAY_LEN(names) ? names[level] : "info";
}

bool log_access_enabled(void)
{
    return log_access_on;
}

int log_level_parse(const char *s)
{
    static const char *const names[] = {"error", "warn", "info", "debug"};
    for (int i = 0; i < (int)UTIL_ARRAY_LEN(names); i++)
        if (str_eq_ci(s, names[i]))
            return i;
    if (str_eq_ci(s, "warning"))
        return LOG_WARN;
    return -1;
}

static void write_line(char *buf, size_t cap, int n)
{
    if (n < 0)
        return;
    size_t len = (size_t)n < cap - 1 ? (size_t)n : cap - 2; /* truncate long lines, keep '\n' */
    buf[len++] = '\n';
    ssize_t w = write(STDERR_FILENO, buf, len);
    (void)w;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Escape <src> as the inside of a JSON string (control bytes as \u00XX). */
static void json_escape(char *dst, size_t cap, const char *src)
{
    size_t j = 0;
    for (size_t i = 0; src && src[i] && j + 7 < cap; i++) {
        unsigned char c = (unsigned char)src[i];
        if (c == '"' || c == '\\') {
            dst[j++] = '\\';
            dst[j++] = (char)c;
        } else if (c < 0x20 || c == 0x7f) {
            j += (size_t)snprintf(dst + j, cap - j, "\\u%04x", c);
        } else {
            dst[j++] = (char)c;
        }
    }
    dst[j] = '\0';
}

void log_msg(enum log_level level, const char *fmt, ...)
{
    static const char *const names[] = {"error", "warning", "info", "debug"};
    if (!log_enabled(level))
        return;
    char buf[2048];
    va_list ap;
    if (log_json) {
        char msg[1536], esc[1800];
        va_start(ap, fmt);
        vsnprintf(msg, sizeof msg, fmt, ap);
        va_end(ap);
        json_escape(esc, sizeof esc, msg);
        int n = snprintf(buf, sizeof buf, "{\"time\":%.3f,\"level\":\"%s\",\"msg\":\"%s\"}",
                         now_s(), names[level], esc);
        write_line(buf, sizeof buf, n);
        return;
    }
    int n = snprintf(buf, sizeof buf, "capproxy: %s: ", names[level]);
    va_start(ap, fmt);
    int m = vsnprintf(buf + n, sizeof buf - (size_t)n, fmt, ap);
    va_end(ap);
    write_line(buf, sizeof buf, m < 0 ? n : n + m);
}

/* Paths come from clients: keep the line parseable by escaping spaces and control bytes. */
static void safe_copy(char *dst, size_t cap, const char *src)
{
    size_t j = 0;
    for (size_t i = 0; src && src[i] && j + 4 < cap; i++) {
        unsigned char c = (unsigned char)src[i];
        if (c <= 0x20 || c == 0x7f || c == '"') {
            j += (size_t)snprintf(dst + j, cap - j, "%%%02X", c);
        } else {
            dst[j++] = (char)c;
        }
    }
    dst[j] = '\0';
}

void log_access(const struct log_access_rec *r)
{
    if (!log_access_on)
        return;
    char path[512], buf[2560], ups[16], rid[160], client[64], uaddr[80], ums[32], ua[600],
        tid[40];
    if (r->upstream_status >= 0)
        snprintf(ups, sizeof ups, "%d", r->upstream_status);
    else
        strcpy(ups, log_json ? "null" : "-");
    if (r->upstream_ms >= 0)
        snprintf(ums, sizeof ums, "%.3f", r->upstream_ms);
    else
        strcpy(ums, log_json ? "null" : "-");
    if (log_json) {
        char route[256], err[64], uaddr_q[84];
        json_escape(path, sizeof path, r->path);
        json_escape(route, sizeof route, r->route ? r->route : "");
        json_escape(err, sizeof err, r->upstream_error ? r->upstream_error : "");
        json_escape(rid, sizeof rid, r->request_id ? r->request_id : "");
        json_escape(client, sizeof client, r->client ? r->client : "");
        json_escape(uaddr, sizeof uaddr, r->upstream_addr ? r->upstream_addr : "");
        json_escape(ua, sizeof ua, r->user_agent ? r->user_agent : "");
        json_escape(tid, sizeof tid, r->trace_id ? r->trace_id : "");
        if (r->upstream_addr)
            snprintf(uaddr_q, sizeof uaddr_q, "\"%s\"", uaddr);
        else
            strcpy(uaddr_q, "null");
        int n = snprintf(buf, sizeof buf,
                         "{\"time\":%.3f,\"level\":\"access\",\"adapter\":\"%s\",\"method\":\"%s\","
                         "\"path\":\"%s\",\"status\":%d,\"upstream_status\":%s,"
                         "\"duration_ms\":%.3f,\"route\":\"%s\",\"upstream_error\":\"%s\","
                         "\"request_id\":\"%s\",\"client\":\"%s\",\"bytes_in\":%zu,"
                         "\"bytes_out\":%zu,\"upstream_addr\":%s,\"upstream_ms\":%s,"
                         "\"trace_id\":\"%s\",\"user_agent\":\"%s\"}",
                         now_s(), r->adapter, r->method, path, r->status, ups, r->duration_ms,
                         route, err, rid, client, r->bytes_in, r->bytes_out, uaddr_q, ums, tid,
                         ua);
        write_line(buf, sizeof buf, n);
        return;
    }
    safe_copy(path, sizeof path, r->path);
    safe_copy(rid, sizeof rid, r->request_id ? r->request_id : "-");
    safe_copy(client, sizeof client, r->client ? r->client : "-");
    safe_copy(uaddr, sizeof uaddr, r->upstream_addr ? r->upstream_addr : "-");
    safe_copy(ua, sizeof ua, r->user_agent && *r->user_agent ? r->user_agent : "-");
    safe_copy(tid, sizeof tid, r->trace_id ? r->trace_id : "-");
    int n = snprintf(buf, sizeof buf,
                     "capproxy: access: adapter=%s method=%s path=%s status=%d upstream_status=%s "
                     "duration_ms=%.3f route=%s request_id=%s client=%s bytes_in=%zu "
                     "bytes_out=%zu upstream_addr=%s upstream_ms=%s trace_id=%s user_agent=%s%s%s",
                     r->adapter, r->method, path, r->status, ups, r->duration_ms,
                     r->route ? r->route : "-", rid, client, r->bytes_in, r->bytes_out, uaddr, ums,
                     tid, ua, r->upstream_error ? " upstream_error=" : "",
                     r->upstream_error ? r->upstream_error : "");
    write_line(buf, sizeof buf, n);
}
