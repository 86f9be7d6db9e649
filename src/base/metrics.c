/*
 * metrics: see metrics.h. A shard is a hash table from a series key (family and label values,
 * NUL-separated) to its values: one for a counter, the buckets plus sum and count for a
 * histogram. Label values come from the route table (route and tool names), methods, statuses
 * and fixed outcome names, so the number of series is bounded by the documents.
 */
#include "base/metrics.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum family {
    FAM_REQUESTS,
    FAM_UPSTREAM_DURATION,
    FAM_UPSTREAM_ERRORS,
    FAM_MCP_CALLS,
    FAM_OTLP_SPANS,
    FAM_COUNT
};

static const double buckets[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                 0.25,  0.5,    1,     2.5,  5,     10,   30};
#define NBUCKETS    UTIL_ARRAY_LEN(buckets)
#define HIST_VALUES (NBUCKETS + 3) /* buckets, +Inf, sum, count */

struct series {
    enum family fam;
    char *key; /* label values, each NUL-terminated, <nlabels> of them */
    size_t keylen;
    double *v;
    struct series *next;
};

struct metrics {
    pthread_mutex_t lock;
    struct series **buckets;
    size_t nbuckets;
    size_t n;
    /* The series each family found last: a proxy counts the same route, method and status
     * over and over, and a memcmp with it spares hashing the labels. Series live as long as
     * the registry. */
    struct series *last[FAM_COUNT];
};

static const struct {
    const char *name;
    const char *help;
    const char *type;
    const char *labels[4];
    size_t nlabels;
    size_t nvalues;
} fams[FAM_COUNT] = {
    [FAM_REQUESTS] = {"capproxy_requests_total",
                      "Client requests served, by adapter, route, "
                      "method and status.",
                      "counter",
                      {"adapter", "route", "method", "status"},
                      4,
                      1},
    [FAM_UPSTREAM_DURATION] = {"capproxy_upstream_duration_seconds",
                               "Upstream transfer duration, by route.",
                               "histogram",
                               {"route"},
                               1,
                               HIST_VALUES},
    [FAM_UPSTREAM_ERRORS] = {"capproxy_upstream_errors_total",
                             "Upstream transfers that got no HTTP answer, by kind.",
                             "counter",
                             {"kind"},
                             1,
                             1},
    [FAM_MCP_CALLS] = {"capproxy_mcp_tool_calls_total",
                       "MCP tools/call requests, by tool and "
                       "outcome.",
                       "counter",
                       {"tool", "outcome"},
                       2,
                       1},
    [FAM_OTLP_SPANS] = {"capproxy_otlp_spans_total",
                        "Spans for the OTLP collector, by outcome: exported, queue_full or "
                        "export_failed (both dropped).",
                        "counter",
                        {"outcome"},
                        1,
                        1},
};

struct metrics *metrics_new(void)
{
    struct metrics *m = xcalloc(1, sizeof *m);
    pthread_mutex_init(&m->lock, NULL);
    m->nbuckets = 64;
    m->buckets = xcalloc(m->nbuckets, sizeof *m->buckets);
    return m;
}

void metrics_free(struct metrics *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->nbuckets; i++)
        for (struct series *s = m->buckets[i], *next; s; s = next) {
            next = s->next;
            free(s->key);
            free(s->v);
            free(s);
        }
    free(m->buckets);
    pthread_mutex_destroy(&m->lock);
    free(m);
}

static size_t hash(enum family fam, const char *key, size_t len)
{
    return (size_t)(util_fnv1a(key, len) ^ ((uint64_t)fam * 0x9E3779B97F4A7C15ull));
}

/* The series for <fam> and label values <key>[0..len); created on first use. Lock held. */
static struct series *series_get(struct metrics *m, enum family fam, const char *key, size_t len)
{
    struct series *last = m->last[fam];
    if (last && last->keylen == len && memcmp(last->key, key, len) == 0)
        return last;
    size_t h = hash(fam, key, len);
    for (struct series *s = m->buckets[h & (m->nbuckets - 1)]; s; s = s->next)
        if (s->fam == fam && s->keylen == len && memcmp(s->key, key, len) == 0)
            return m->last[fam] = s;
    if (m->n >= m->nbuckets) {
        size_t nb = m->nbuckets * 2;
        struct series **b = xcalloc(nb, sizeof *b);
        for (size_t i = 0; i < m->nbuckets; i++)
            for (struct series *s = m->buckets[i], *next; s; s = next) {
                next = s->next;
                size_t j = hash(s->fam, s->key, s->keylen) & (nb - 1);
                s->next = b[j];
                b[j] = s;
            }
        free(m->buckets);
        m->buckets = b;
        m->nbuckets = nb;
    }
    struct series *s = xcalloc(1, sizeof *s);
    s->fam = fam;
    s->key = xmalloc(len);
    memcpy(s->key, key, len);
    s->keylen = len;
    s->v = xcalloc(fams[fam].nvalues, sizeof *s->v);
    size_t j = h & (m->nbuckets - 1);
    s->next = m->buckets[j];
    m->buckets[j] = s;
    m->n++;
    return m->last[fam] = s;
}

/* Pack label values into <buf> as consecutive NUL-terminated strings; returns the length. */
static size_t pack(char *buf, size_t cap, const char *const *vals, size_t n)
{
    size_t len = 0;
    for (size_t i = 0; i < n; i++) {
        const char *v = vals[i] ? vals[i] : "";
        size_t l = strlen(v);
        if (len + l + 1 > cap)
            l = cap > len + 1 ? cap - len - 1 : 0;
        memcpy(buf + len, v, l);
        len += l;
        buf[len++] = '\0';
    }
    return len;
}

void metrics_request(struct metrics *m, const char *adapter, const char *route, const char *method,
                     int status)
{
    char st[16], key[512];
    if (status >= 100 && status <= 999) /* every HTTP status: no printf per request */
        st[0] = (char)('0' + status / 100), st[1] = (char)('0' + status / 10 % 10),
        st[2] = (char)('0' + status % 10), st[3] = '\0';
    else
        snprintf(st, sizeof st, "%d", status);
    const char *vals[] = {adapter, route ? route : "", method, st};
    size_t len = pack(key, sizeof key, vals, 4);
    pthread_mutex_lock(&m->lock);
    series_get(m, FAM_REQUESTS, key, len)->v[0] += 1;
    pthread_mutex_unlock(&m->lock);
}

void metrics_upstream(struct metrics *m, const char *route, double seconds, const char *error)
{
    char key[512];
    const char *vals[] = {route ? route : ""};
    size_t len = pack(key, sizeof key, vals, 1);
    pthread_mutex_lock(&m->lock);
    struct series *s = series_get(m, FAM_UPSTREAM_DURATION, key, len);
    size_t b = 0;
    while (b < NBUCKETS && seconds > buckets[b])
        b++;
    s->v[b] += 1; /* cumulated when rendered */
    s->v[NBUCKETS + 1] += seconds;
    s->v[NBUCKETS + 2] += 1;
    if (error) {
        const char *ev[] = {error};
        len = pack(key, sizeof key, ev, 1);
        series_get(m, FAM_UPSTREAM_ERRORS, key, len)->v[0] += 1;
    }
    pthread_mutex_unlock(&m->lock);
}

void metrics_mcp_call(struct metrics *m, const char *tool, const char *outcome)
{
    char key[512];
    const char *vals[] = {tool, outcome};
    size_t len = pack(key, sizeof key, vals, 2);
    pthread_mutex_lock(&m->lock);
    series_get(m, FAM_MCP_CALLS, key, len)->v[0] += 1;
    pthread_mutex_unlock(&m->lock);
}

void metrics_otlp_spans(struct metrics *m, const char *outcome, size_t n)
{
    char key[64];
    const char *vals[] = {outcome};
    size_t len = pack(key, sizeof key, vals, 1);
    pthread_mutex_lock(&m->lock);
    series_get(m, FAM_OTLP_SPANS, key, len)->v[0] += (double)n;
    pthread_mutex_unlock(&m->lock);
}

/* ---- rendering ---- */

static void label_value(struct strbuf *out, const char *v)
{
    for (; *v; v++) {
        if (*v == '\\' || *v == '"')
            strbuf_addc(out, '\\');
        if (*v == '\n') {
            strbuf_adds(out, "\\n");
            continue;
        }
        strbuf_addc(out, *v);
    }
}

void metrics_label_value(struct strbuf *out, const char *v)
{
    label_value(out, v);
}

static void labels(struct strbuf *out, enum family fam, const char *key, const char *extra_name,
                   const char *extra_value)
{
    strbuf_addc(out, '{');
    const char *v = key;
    for (size_t i = 0; i < fams[fam].nlabels; i++) {
        strbuf_addf(out, "%s%s=\"", i ? "," : "", fams[fam].labels[i]);
        label_value(out, v);
        strbuf_addc(out, '"');
        v += strlen(v) + 1;
    }
    if (extra_name)
        strbuf_addf(out, ",%s=\"%s\"", extra_name, extra_value);
    strbuf_addc(out, '}');
}

static int cmp_series(const void *a, const void *b)
{
    const struct series *x = *(const struct series *const *)a,
                        *y = *(const struct series *const *)b;
    if (x->fam != y->fam)
        return (int)x->fam - (int)y->fam;
    size_t n = x->keylen < y->keylen ? x->keylen : y->keylen;
    int c = memcmp(x->key, y->key, n);
    return c ? c : (x->keylen > y->keylen) - (x->keylen < y->keylen);
}

void metrics_render(struct metrics *const *shards, size_t n, const struct metrics_gauges *g,
                    struct strbuf *out)
{
    /* Merge the shards into one table (a shard of its own), then print it sorted. */
    struct metrics *all = metrics_new();
    for (size_t i = 0; i < n; i++) {
        pthread_mutex_lock(&shards[i]->lock);
        for (size_t b = 0; b < shards[i]->nbuckets; b++)
            for (struct series *s = shards[i]->buckets[b]; s; s = s->next) {
                struct series *t = series_get(all, s->fam, s->key, s->keylen);
                for (size_t k = 0; k < fams[s->fam].nvalues; k++)
                    t->v[k] += s->v[k];
            }
        pthread_mutex_unlock(&shards[i]->lock);
    }
    struct series **v = xcalloc(all->n ? all->n : 1, sizeof *v);
    size_t nv = 0;
    for (size_t b = 0; b < all->nbuckets; b++)
        for (struct series *s = all->buckets[b]; s; s = s->next)
            v[nv++] = s;
    qsort(v, nv, sizeof *v, cmp_series);

    strbuf_addf(out,
                "# HELP capproxy_build_info capproxy version.\n# TYPE capproxy_build_info "
                "gauge\ncapproxy_build_info{version=\"%s\"} 1\n",
                g->version);
    strbuf_addf(out,
                "# HELP capproxy_ready 1 when serving, 0 when starting or draining.\n"
                "# TYPE capproxy_ready gauge\ncapproxy_ready %d\n",
                g->ready);
    strbuf_addf(out,
                "# HELP capproxy_inflight_requests Client requests being served.\n"
                "# TYPE capproxy_inflight_requests gauge\ncapproxy_inflight_requests %ld\n",
                g->inflight);
    strbuf_addf(out,
                "# HELP capproxy_client_connections Open client connections.\n"
                "# TYPE capproxy_client_connections gauge\ncapproxy_client_connections %ld\n",
                g->connections);
    for (int fam = 0; fam < FAM_COUNT; fam++) {
        strbuf_addf(out, "# HELP %s %s\n# TYPE %s %s\n", fams[fam].name, fams[fam].help,
                    fams[fam].name, fams[fam].type);
        for (size_t i = 0; i < nv; i++) {
            const struct series *s = v[i];
            if ((int)s->fam != fam)
                continue;
            if (fams[fam].nvalues == 1) {
                strbuf_adds(out, fams[fam].name);
                labels(out, s->fam, s->key, NULL, NULL);
                strbuf_addf(out, " %.17g\n", s->v[0]);
                continue;
            }
            double cum = 0;
            for (size_t b = 0; b <= NBUCKETS; b++) {
                char le[32];
                cum += s->v[b];
                if (b < NBUCKETS)
                    snprintf(le, sizeof le, "%g", buckets[b]);
                else
                    strcpy(le, "+Inf");
                strbuf_addf(out, "%s_bucket", fams[fam].name);
                labels(out, s->fam, s->key, "le", le);
                strbuf_addf(out, " %.17g\n", cum);
            }
            strbuf_addf(out, "%s_sum", fams[fam].name);
            labels(out, s->fam, s->key, NULL, NULL);
            strbuf_addf(out, " %.9f\n%s_count", s->v[NBUCKETS + 1], fams[fam].name);
            labels(out, s->fam, s->key, NULL, NULL);
            strbuf_addf(out, " %.17g\n", s->v[NBUCKETS + 2]);
        }
    }
    free(v);
    metrics_free(all);
}
