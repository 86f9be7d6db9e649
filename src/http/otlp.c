/*
 * otlp: see otlp.h. Waiting spans are kept as cJSON objects already in their OTLP shape, so an
 * export is only the envelope around a batch of them. The queue is bounded (tracing.queueSize)
 * and an export is bounded (tracing.batchSize), so memory is too, whatever the collector does.
 * A failed export is not retried: tracing must never add load to an outage.
 */
#include "http/otlp.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>
#include <event2/buffer.h>

#include "base/crypto.h"
#include "base/log.h"
#include "base/util.h"
#include "core/outreq.h"

struct otlp {
    struct event_base *base;
    struct upstream *up;
    struct metrics *m;
    char *endpoint;
    char *service;
    size_t batch;     /* spans per export */
    size_t queue_max; /* spans waiting, beyond which new ones are dropped */
    struct event *timer;
    cJSON *pending; /* array of spans in OTLP JSON */
    size_t npending;
    struct upstream_xfer *xfer; /* the export in flight, NULL when none */
    struct outreq req;          /* its request (upstream_start borrows it) */
    size_t nsending;            /* spans in it */
    bool failing;               /* the last export failed: log the next change only */
};

uint64_t otlp_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

bool otlp_url_host(const char *url, char *host, size_t cap, long *port)
{
    const char *p = strstr(url, "://");
    if (!p)
        return false;
    p += 3;
    size_t n = strcspn(p, "/?#");
    const char *at = memchr(p, '@', n);
    while (at) { /* userinfo never leaves: the host is after the last '@' */
        n -= (size_t)(at + 1 - p);
        p = at + 1;
        at = memchr(p, '@', n);
    }
    return hostport_split(p, n, host, cap, port);
}

static void send_batch(struct otlp *o);

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
    struct otlp *o = arg;
    if (o->npending && !o->xfer)
        send_batch(o);
}

struct otlp *otlp_new(struct event_base *base, struct upstream *up, struct metrics *m,
                      const struct config *cfg)
{
    if (!cfg->otlp_endpoint || !*cfg->otlp_endpoint)
        return NULL;
    struct otlp *o = xcalloc(1, sizeof *o);
    o->base = base;
    o->up = up;
    o->m = m;
    o->endpoint = xstrdup(cfg->otlp_endpoint);
    o->service = xstrdup(cfg->otlp_service ? cfg->otlp_service : "capproxy");
    o->batch = (size_t)(cfg->otlp_batch_size > 0 ? cfg->otlp_batch_size : 512);
    o->queue_max = (size_t)(cfg->otlp_queue_size > 0 ? cfg->otlp_queue_size : 2048);
    o->pending = cJSON_CreateArray();
    long ms = cfg->otlp_flush_interval_ms > 0 ? cfg->otlp_flush_interval_ms : 5000;
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
    o->timer = event_new(base, -1, EV_PERSIST, on_tick, o);
    if (o->timer)
        event_add(o->timer, &tv);
    return o;
}

void otlp_free(struct otlp *o)
{
    if (!o)
        return;
    if (o->xfer)
        upstream_cancel(o->xfer);
    outreq_deinit(&o->req);
    if (o->timer)
        event_free(o->timer);
    cJSON_Delete(o->pending);
    free(o->endpoint);
    free(o->service);
    free(o);
}

static void add_attr(cJSON *arr, const char *key, const char *str, long long num)
{
    cJSON *a = cJSON_CreateObject();
    cJSON_AddStringToObject(a, "key", key);
    cJSON *v = cJSON_AddObjectToObject(a, "value");
    if (str) {
        cJSON_AddStringToObject(v, "stringValue", str);
    } else {
        char n[24]; /* int64 as a string: the protobuf JSON mapping */
        snprintf(n, sizeof n, "%lld", num);
        cJSON_AddStringToObject(v, "intValue", n);
    }
    cJSON_AddItemToArray(arr, a);
}

static void add_hex(cJSON *obj, const char *key, const uint8_t *b, size_t n)
{
    char hex[2 * TRACE_ID_LEN + 1];
    crypto_hex(b, n, hex);
    cJSON_AddStringToObject(obj, key, hex);
}

static void add_ns(cJSON *obj, const char *key, uint64_t ns)
{
    char s[24];
    snprintf(s, sizeof s, "%llu", (unsigned long long)ns);
    cJSON_AddStringToObject(obj, key, s);
}

void otlp_record(struct otlp *o, const struct otlp_span *s)
{
    if (!o)
        return;
    if (o->npending >= o->queue_max) {
        metrics_otlp_spans(o->m, "queue_full", 1);
        return;
    }
    cJSON *j = cJSON_CreateObject();
    add_hex(j, "traceId", s->trace_id, TRACE_ID_LEN);
    add_hex(j, "spanId", s->span_id, TRACE_SPAN_LEN);
    if (s->parent_id)
        add_hex(j, "parentSpanId", s->parent_id, TRACE_SPAN_LEN);
    cJSON_AddStringToObject(j, "name", s->name);
    cJSON_AddNumberToObject(j, "kind", s->kind);
    add_ns(j, "startTimeUnixNano", s->start_ns);
    add_ns(j, "endTimeUnixNano", s->end_ns > s->start_ns ? s->end_ns : s->start_ns);
    cJSON *attrs = cJSON_AddArrayToObject(j, "attributes");
    for (size_t i = 0; i < s->nattrs; i++)
        add_attr(attrs, s->attrs[i].key, s->attrs[i].str, s->attrs[i].num);
    if (s->error)
        cJSON_AddNumberToObject(cJSON_AddObjectToObject(j, "status"), "code", 2);
    cJSON_AddItemToArray(o->pending, j);
    o->npending++;
    if (o->npending >= o->batch && !o->xfer && !o->failing)
        send_batch(o);
}

static void on_export_done(const struct upstream_result *res, void *arg)
{
    struct otlp *o = arg;
    o->xfer = NULL;
    bool ok = res->error == UPSTREAM_OK && res->status >= 200 && res->status < 300;
    metrics_otlp_spans(o->m, ok ? "exported" : "export_failed", o->nsending);
    if (!ok && !o->failing)
        LOG_W("otlp: export to %s failed (%s); spans are dropped until it answers", o->endpoint,
              res->error == UPSTREAM_OK ? "an HTTP error status" : upstream_error_name(res->error));
    else if (ok && o->failing)
        LOG_I("otlp: export to %s works again", o->endpoint);
    o->failing = !ok;
    o->nsending = 0;
    outreq_deinit(&o->req);
    /* After a failure only the interval sends again: a dead collector is not hammered. */
    if (ok && o->npending >= o->batch)
        send_batch(o);
}

/* Send up to one batch of the waiting spans. Called only with no export in flight. */
static void send_batch(struct otlp *o)
{
    cJSON *spans = cJSON_CreateArray();
    size_t n = 0;
    while (n < o->batch && o->npending) {
        cJSON_AddItemToArray(spans, cJSON_DetachItemFromArray(o->pending, 0));
        o->npending--;
        n++;
    }
    cJSON *root = cJSON_CreateObject();
    cJSON *rs = cJSON_CreateObject();
    cJSON_AddItemToArray(cJSON_AddArrayToObject(root, "resourceSpans"), rs);
    cJSON *rattrs = cJSON_AddArrayToObject(cJSON_AddObjectToObject(rs, "resource"), "attributes");
    add_attr(rattrs, "service.name", o->service, 0);
    add_attr(rattrs, "service.version", CAPPROXY_VERSION, 0);
    add_attr(rattrs, "telemetry.sdk.name", "capproxy", 0);
    add_attr(rattrs, "telemetry.sdk.language", "c", 0);
    cJSON *ss = cJSON_CreateObject();
    cJSON_AddItemToArray(cJSON_AddArrayToObject(rs, "scopeSpans"), ss);
    cJSON *scope = cJSON_AddObjectToObject(ss, "scope");
    cJSON_AddStringToObject(scope, "name", "capproxy");
    cJSON_AddStringToObject(scope, "version", CAPPROXY_VERSION);
    cJSON_AddItemToObject(ss, "spans", spans);
    char *body = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);

    outreq_init(&o->req, 0);
    o->req.method = MODEL_POST;
    strbuf_adds(&o->req.url, o->endpoint);
    outreq_add_header(&o->req, "Content-Type", "application/json", 16);
    static const char ua[] = "capproxy/" CAPPROXY_VERSION;
    outreq_add_header(&o->req, "User-Agent", ua, sizeof ua - 1);
    o->req.body = xstrdup(body ? body : "{}");
    o->req.body_len = strlen(o->req.body);
    cJSON_free(body);
    o->nsending = n;
    /* api stays NULL: capproxy's own call, outside every consumed API's limits and retries. */
    o->xfer = upstream_start(o->up, &o->req, on_export_done, o);
    if (!o->xfer) {
        metrics_otlp_spans(o->m, "export_failed", n);
        o->nsending = 0;
        outreq_deinit(&o->req);
    }
}

bool otlp_drain(struct otlp *o)
{
    if (!o)
        return true;
    if (!o->xfer && o->npending)
        send_batch(o);
    return !o->xfer && !o->npending;
}
