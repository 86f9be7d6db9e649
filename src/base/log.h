/*
 * log: levelled lines on stderr ("capproxy: info: ...") and the access log, one line per
 * request. Thread-safe (one write(2) per line). Callers must never pass a secret.
 */
#ifndef CAPPROXY_LOG_H
#define CAPPROXY_LOG_H

#include <stdbool.h>

#include "base/util.h"

enum log_level { LOG_ERROR, LOG_WARN, LOG_INFO, LOG_DEBUG };

/* <json>: every line a JSON object ({"level":...,"msg":...} / the access fields). */
void log_init(enum log_level level, bool access, bool json);
bool log_enabled(enum log_level level);
bool log_access_enabled(void);
void log_msg(enum log_level level, const char *fmt, ...) UTIL_PRINTF(2, 3);
int log_level_parse(const char *s); /* -1 when unknown */
/* The current level, and a change of it while running (the control adapter's /logs); a reload
 * sets the configured one again. */
enum log_level log_level_get(void);
void log_level_set(enum log_level level);
const char *log_level_name(enum log_level level); /* "error" ... "debug" */

#define LOG_E(...) log_msg(LOG_ERROR, __VA_ARGS__)
#define LOG_W(...) log_msg(LOG_WARN, __VA_ARGS__)
#define LOG_I(...) log_msg(LOG_INFO, __VA_ARGS__)
#define LOG_D(...)                                                                                 \
    do {                                                                                           \
        if (log_enabled(LOG_DEBUG))                                                                \
            log_msg(LOG_DEBUG, __VA_ARGS__);                                                       \
    } while (0)

struct log_access_rec {
    const char *adapter; /* "rest" or "mcp" */
    const char *method;
    const char *path; /* without the query string */
    int status;
    int upstream_status; /* -1 when nothing was sent upstream */
    double duration_ms;
    const char *route;          /* operation or tool name, NULL when none matched */
    const char *upstream_error; /* NULL, "refused", "timeout", ... */
    const char *request_id;
    const char *client;        /* the client's address; NULL: unknown */
    size_t bytes_in;           /* request body bytes */
    size_t bytes_out;          /* reply body bytes */
    const char *upstream_addr; /* "ip:port" of the last upstream hop; NULL: none */
    double upstream_ms;        /* time spent in upstream transfers; < 0: none */
    const char *user_agent;    /* the caller's; NULL: none */
    const char *trace_id;      /* 32 hex digits; NULL: none */
};
void log_access(const struct log_access_rec *r);

#endif
