/*
 * config: see config.h. The file is read with the same positioned YAML reader as the
 * capability documents, so a bad setting is reported with file:line:col too.
 */
#include "spec/config.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/log.h"
#include "base/secret.h"
#include "spec/location.h"
#include "spec/ynode.h"

#define CONFIG_MAX_FILE   (1u << 20)
#define CONFIG_MAX_SECRET ((size_t)64 * 1024)

void config_defaults(struct config *c)
{
    memset(c, 0, sizeof *c);
    c->rest_listen = (struct config_listen){NULL, -1};
    c->mcp_listen = (struct config_listen){NULL, -1};
    c->admin_listen = (struct config_listen){xstrdup("127.0.0.1"), 9901};
    c->drain_timeout_ms = 10000;
    c->workers = 0;
    c->max_body_size = (size_t)1024 * 1024;
    c->max_header_size = (size_t)16 * 1024;
    c->max_headers = 100;
    c->header_timeout_ms = 10000;
    c->body_timeout_ms = 30000;
    c->client_timeout_ms = 30000;
    c->max_connections = 4096;
    c->digest_nonce_ttl_ms = 300000;
    c->mcp_max_streams = 1024;
    c->mcp_keepalive_ms = 25000;
    c->upstream_connect_timeout_ms = 3000;
    c->upstream_timeout_ms = 30000;
    c->resil = (struct config_resil){
        .retries = 2,
        .backoff_base_ms = 100,
        .backoff_cap_ms = 2000,
        .budget_percent = 20,
        .budget_min_per_s = 3,
        .breaker_failures = 5,
        .breaker_cooldown_ms = 10000,
        .breaker_max_cooldown_ms = 300000,
        .max_concurrent = 256,
        .queue = 1024,
    };
    c->upstream_max_idle_connections = 256;
    c->upstream_idle_timeout_ms = 30000;
    c->oauth_fetch_timeout_ms = 5000;
    c->oauth_min_refresh_ms = 30000;
    c->oauth_leeway_ms = 60000;
    c->upstream_max_response_size = (size_t)16 * 1024 * 1024;
    c->upstream_tls_verify = true;
    c->reload_watch = true;
    c->reload_debounce_ms = 200;
    c->log_level = LOG_INFO;
    c->access_log = true;
    c->rate_limit_clients = 100000;
    c->otlp_service = xstrdup("capproxy");
    c->trace_sample_new = true;
    c->otlp_batch_size = 512;
    c->otlp_queue_size = 2048;
    c->otlp_flush_interval_ms = 5000;
}

static void credential_deinit(struct config_credential *cr)
{
    free(cr->header);
    free(cr->env);
    free(cr->file);
    secret_free(cr->value); /* do not leave the secret in freed heap memory */
    free(cr->source);
}

static void allowed_free(struct config *c)
{
    for (size_t i = 0; i < c->nmcp_allowed; i++)
        free(c->mcp_allowed[i].host);
    free(c->mcp_allowed);
    c->mcp_allowed = NULL;
    c->nmcp_allowed = 0;
}

/* An allowedHosts entry is "host[:port]" or "[v6][:port]"; anything that does not split that
 * way (a bare IPv6 address, say) is taken as a whole bracketed host on any port. */
static void allowed_parse(struct config *c)
{
    allowed_free(c);
    if (!c->nmcp_allowed_hosts)
        return;
    c->mcp_allowed = xcalloc(c->nmcp_allowed_hosts, sizeof *c->mcp_allowed);
    for (size_t i = 0; i < c->nmcp_allowed_hosts; i++) {
        const char *e = c->mcp_allowed_hosts[i];
        struct config_allowed_host *a = &c->mcp_allowed[c->nmcp_allowed++];
        char host[CONFIG_HOST_MAX];
        if (hostport_split(e, strlen(e), host, sizeof host, &a->port)) {
            a->host = xstrdup(host);
        } else {
            a->host = xasprintf("[%s]", e);
            a->port = -1;
        }
    }
}

bool config_mcp_host_allowed(const struct config *c, const char *host, long port)
{
    for (size_t i = 0; i < c->nmcp_allowed; i++) {
        const struct config_allowed_host *a = &c->mcp_allowed[i];
        if (str_eq_ci(a->host, host) && (a->port < 0 || port < 0 || a->port == port))
            return true;
    }
    return false;
}

void config_deinit(struct config *c)
{
    free(c->file);
    free(c->rest_listen.host);
    free(c->mcp_listen.host);
    free(c->admin_listen.host);
    for (size_t i = 0; i < c->nmcp_allowed_hosts; i++)
        free(c->mcp_allowed_hosts[i]);
    free(c->mcp_allowed_hosts);
    allowed_free(c);
    for (size_t i = 0; i < c->nconsumers; i++) {
        struct config_consumer *cc = &c->consumers[i];
        free(cc->pattern);
        free(cc->base_uri);
        for (size_t j = 0; j < cc->ncredentials; j++)
            credential_deinit(&cc->credentials[j]);
        free(cc->credentials);
    }
    free(c->consumers);
    for (size_t i = 0; i < c->noauth_clients; i++) {
        free(c->oauth_clients[i].pattern);
        free(c->oauth_clients[i].client_id);
        credential_deinit(&c->oauth_clients[i].secret);
    }
    free(c->oauth_clients);
    free(c->otlp_endpoint);
    free(c->otlp_service);
    free(c->upstream_ca_file);
    memset(c, 0, sizeof *c);
}

bool config_glob_match(const char *p, const char *s)
{
    const char *star = NULL, *resume = NULL;
    while (*s) {
        if (*p == '*') {
            while (p[1] == '*')
                p++;
            if (p[1] == '\0')
                return true; /* a trailing star takes the rest ("cal-com-*", per request) */
            star = p++;
            resume = s;
        } else if (*p == '?' || *p == *s) {
            p++;
            s++;
        } else if (star) {
            p = star + 1;
            s = ++resume;
        } else {
            return false;
        }
    }
    while (*p == '*')
        p++;
    return *p == '\0';
}

char *config_expand_env(const char *s, const char **err)
{
    struct strbuf b;
    strbuf_init(&b, 0);
    for (const char *p = s; *p;) {
        if (p[0] != '$' || p[1] != '{') {
            strbuf_addc(&b, *p++);
            continue;
        }
        const char *end = strchr(p, '}');
        if (!end) {
            *err = "unterminated ${...}";
            strbuf_deinit(&b);
            return NULL;
        }
        const char *name = p + 2;
        const char *dflt = strstr(name, ":-");
        size_t nlen = (size_t)((dflt && dflt < end ? dflt : end) - name);
        if (nlen == 0) {
            *err = "empty variable name in ${}";
            strbuf_deinit(&b);
            return NULL;
        }
        char *var = xstrndup(name, nlen);
        const char *val = getenv(var);
        free(var);
        if (val && *val)
            strbuf_adds(&b, val);
        else if (dflt && dflt < end)
            strbuf_add(&b, dflt + 2, (size_t)(end - dflt - 2));
        p = end + 1;
    }
    return strbuf_detach(&b, NULL);
}

int config_parse_listen(const char *s, struct config_listen *out)
{
    const char *colon = strrchr(s, ':');
    const char *port = colon ? colon + 1 : s;
    long v;
    if (str_to_long(port, 0, 65535, &v) < 0)
        return -1;
    free(out->host);
    out->host = NULL;
    if (colon && colon > s) {
        const char *h = s;
        size_t hlen = (size_t)(colon - s);
        if (h[0] == '[' && hlen > 2 && h[hlen - 1] == ']') {
            h++;
            hlen -= 2;
        }
        out->host = xstrndup(h, hlen);
    }
    out->port = (int)v;
    return 0;
}

int config_parse_rate(const char *s, struct config_rate *out)
{
    if (str_eq_ci(s, "off") || str_eq(s, "0")) {
        out->count = 0;
        return 0;
    }
    const char *slash = strchr(s, '/');
    if (!slash || slash == s)
        return -1;
    char *num = xstrndup(s, (size_t)(slash - s));
    long count, period;
    int rc = str_to_long(num, 1, 1000000000, &count);
    free(num);
    const char *per = slash + 1;
    if (str_eq_ci(per, "s") || str_eq_ci(per, "sec") || str_eq_ci(per, "second"))
        period = 1000;
    else if (str_eq_ci(per, "m") || str_eq_ci(per, "min") || str_eq_ci(per, "minute"))
        period = 60000;
    else if (str_eq_ci(per, "h") || str_eq_ci(per, "hour"))
        period = 3600000;
    else if (str_to_ms(per, &period) < 0)
        rc = -1;
    if (rc < 0 || period <= 0 || period > 86400000L)
        return -1;
    out->count = count;
    out->period_ms = period;
    return 0;
}

const struct config_consumer *config_consumer_for(const struct config *c, const char *ns)
{
    for (size_t i = 0; i < c->nconsumers; i++)
        if (config_glob_match(c->consumers[i].pattern, ns))
            return &c->consumers[i];
    return NULL;
}

/* ---- reading the file ---- */

/* The keys each section may hold: any other key is an error at its own position, with "did you
 * mean" when a known key is close (keys starting with "x-" are allowed). A new setting is one
 * more string in its section's table, next to its reader below. */
YNODE_KEYS(cfg_keys_root, "the configuration", "rest", "mcp", "admin", "drainTimeout", "workers",
           "limits", "upstream", "log", "consumers", "oauth2", "reload", "tracing");
YNODE_KEYS(cfg_keys_rest, "rest", "listen");
YNODE_KEYS(cfg_keys_mcp, "mcp", "listen", "allowedHosts", "maxStreams", "keepAlive");
YNODE_KEYS(cfg_keys_admin, "admin", "listen");
YNODE_KEYS(cfg_keys_limits, "limits", "maxBodySize", "maxHeaderSize", "maxHeaders", "headerTimeout",
           "bodyTimeout", "clientTimeout", "maxConnections", "digestNonceTtl", "rateLimit",
           "rateLimitBurst", "rateLimitClients");
YNODE_KEYS(cfg_keys_upstream, "upstream", "connectTimeout", "timeout", "maxConnectionsPerHost",
           "maxIdleConnections", "idleTimeout", "maxResponseSize", "tlsVerify", "retries",
           "retryBackoff", "retryBackoffMax", "retryBudget", "retryBudgetMinPerSecond",
           "breakerFailures", "breakerCooldown", "breakerMaxCooldown", "maxConcurrent", "queue", "caFile");
YNODE_KEYS(cfg_keys_log, "log", "level", "access", "format");
YNODE_KEYS(cfg_keys_reload, "reload", "watch", "debounce");
YNODE_KEYS(cfg_keys_consumer, "consumers entry", "namespace", "baseUri", "credentials", "rate",
           "rateBurst", "rateMaxWait", "retries", "retryBackoff", "retryBackoffMax", "retryBudget",
           "retryBudgetMinPerSecond", "breakerFailures", "breakerCooldown", "breakerMaxCooldown",
           "maxConcurrent", "queue");
YNODE_KEYS(cfg_keys_credential, "credentials entry", "header", "fromEnv", "fromFile");
YNODE_KEYS(cfg_keys_oauth2, "oauth2", "fetchTimeout", "keysMinRefresh", "leeway",
           "introspectionClients");
YNODE_KEYS(cfg_keys_tracing, "tracing", "otlpEndpoint", "serviceName", "sampleNew", "batchSize",
           "queueSize", "flushInterval");
YNODE_KEYS(cfg_keys_oauth_client, "introspectionClients entry", "authorizationServer", "clientId",
           "clientSecretFromEnv", "clientSecretFromFile");

struct cfg_reader {
    struct config *c;
    struct diag *d;
    const char *file;
};

static void cfg_err(struct cfg_reader *r, const struct ynode *n, const char *fmt, ...)
    UTIL_PRINTF(3, 4);

static void cfg_err(struct cfg_reader *r, const struct ynode *n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    diag_vadd(r->d, DIAG_ERROR, r->file, n ? n->line : 0, n ? n->col : 0, fmt, ap);
    va_end(ap);
}

struct cfg_check {
    struct cfg_reader *r;
    const char *required;
    bool misspelt;
};

static void cfg_unknown_key(void *arg, const struct ynode *key, const char *suggestion,
                            const char *message)
{
    struct cfg_check *c = arg;
    cfg_err(c->r, key, "%s", message);
    if (suggestion && c->required && strcmp(suggestion, c->required) == 0)
        c->misspelt = true;
}

/* Report the keys of section <map> that <keys> does not list. Returns whether one of them was
 * reported as a misspelling of <required> (NULL: none), whose absence then needs no second
 * error. */
static bool cfg_check_keys(struct cfg_reader *r, const struct ynode *map,
                           const struct ynode_keys *keys, const char *required)
{
    struct cfg_check c = {r, required, false};
    ynode_check_keys(map, keys, cfg_unknown_key, &c);
    return c.misspelt;
}

/* The scalar at <key> of <map>, with ${VAR} expanded (caller frees); NULL when absent. */
static char *cfg_str(struct cfg_reader *r, const struct ynode *map, const char *key)
{
    const struct ynode *n = ynode_get(map, key);
    if (!n || ynode_is_null(n))
        return NULL;
    if (n->kind != YNODE_SCALAR) {
        cfg_err(r, n, "expected a scalar for '%s', got %s", key, ynode_describe(n));
        return NULL;
    }
    const char *err = NULL;
    char *s = config_expand_env(n->str, &err);
    if (!s)
        cfg_err(r, n, "'%s': %s", key, err);
    return s;
}

/* A file path setting: one written relative in the file is relative to the configuration file's
 * directory, not to the working directory, so that the same file works whatever directory
 * capproxy starts in. A path that comes whole from the environment (`${VAR}`) stays as given. */
static char *cfg_path(struct cfg_reader *r, const struct ynode *map, const char *key)
{
    char *s = cfg_str(r, map, key);
    const struct ynode *n = ynode_get(map, key);
    if (!s || !*s || s[0] == '/' || strncmp(n->str, "${", 2) == 0 || !strchr(r->file, '/'))
        return s;
    char *err = NULL;
    char *joined = location_file(r->file, s, true, &err);
    if (!joined) {
        cfg_err(r, n, "'%s': %s", key, err);
        free(err);
    }
    free(s);
    return joined;
}

static void cfg_ms(struct cfg_reader *r, const struct ynode *map, const char *key, long *out)
{
    char *s = cfg_str(r, map, key);
    if (s && *s && str_to_ms(s, out) < 0)
        cfg_err(r, ynode_get(map, key),
                "'%s' expects a duration such as 500ms, 30s or 2m, got '%s'", key, s);
    free(s);
}

static void cfg_size(struct cfg_reader *r, const struct ynode *map, const char *key, size_t *out)
{
    char *s = cfg_str(r, map, key);
    if (s && *s && str_to_size(s, out) < 0)
        cfg_err(r, ynode_get(map, key), "'%s' expects a size such as 16KiB or 1MiB, got '%s'", key,
                s);
    free(s);
}

static void cfg_long(struct cfg_reader *r, const struct ynode *map, const char *key, long min,
                     long max, long *out)
{
    char *s = cfg_str(r, map, key);
    if (s && *s && str_to_long(s, min, max, out) < 0)
        cfg_err(r, ynode_get(map, key), "'%s' expects a whole number from %ld to %ld, got '%s'",
                key, min, max, s);
    free(s);
}

static void cfg_bool(struct cfg_reader *r, const struct ynode *map, const char *key, bool *out)
{
    char *s = cfg_str(r, map, key);
    if (s && *s) {
        if (str_eq_ci(s, "true") || str_eq_ci(s, "on") || str_eq_ci(s, "yes") || str_eq(s, "1"))
            *out = true;
        else if (str_eq_ci(s, "false") || str_eq_ci(s, "off") || str_eq_ci(s, "no") ||
                 str_eq(s, "0"))
            *out = false;
        else
            cfg_err(r, ynode_get(map, key), "'%s' expects true or false, got '%s'", key, s);
    }
    free(s);
}

static void cfg_rate(struct cfg_reader *r, const struct ynode *map, const char *key,
                     struct config_rate *out)
{
    char *s = cfg_str(r, map, key);
    if (s && *s && config_parse_rate(s, out) < 0)
        cfg_err(r, ynode_get(map, key),
                "'%s' expects a rate such as 100/s, 600/1m or off, got '%s'", key, s);
    free(s);
}

static void cfg_listen(struct cfg_reader *r, const struct ynode *map, struct config_listen *l)
{
    char *s = cfg_str(r, map, "listen");
    if (s && str_eq_ci(s, "off")) {
        free(l->host);
        *l = (struct config_listen){NULL, -1};
    } else if (s && *s && config_parse_listen(s, l) < 0)
        cfg_err(r, ynode_get(map, "listen"), "'listen' expects host:port, got '%s'", s);
    free(s);
}

static const struct ynode *cfg_section(struct cfg_reader *r, const struct ynode *root,
                                       const char *key, enum ynode_kind kind)
{
    const struct ynode *n = ynode_get(root, key);
    if (!n || ynode_is_null(n))
        return NULL;
    if (n->kind != kind) {
        cfg_err(r, n, "expected %s for '%s', got %s",
                kind == YNODE_MAPPING ? "a mapping" : "a sequence", key, ynode_describe(n));
        return NULL;
    }
    return n;
}

/* Whether item <n> of sequence <what> is a mapping; reports it when not. */
static bool cfg_map_item(struct cfg_reader *r, const struct ynode *n, const char *what)
{
    if (n->kind == YNODE_MAPPING)
        return true;
    cfg_err(r, n, "expected a mapping in '%s', got %s", what, ynode_describe(n));
    return false;
}

static void cfg_credentials(struct cfg_reader *r, struct config_consumer *cc,
                            const struct ynode *creds)
{
    cc->credentials = xcalloc(creds->nitems, sizeof *cc->credentials);
    for (size_t j = 0; j < creds->nitems; j++) {
        const struct ynode *cn = creds->items[j];
        if (!cfg_map_item(r, cn, "credentials"))
            continue;
        bool misspelt = cfg_check_keys(r, cn, &cfg_keys_credential, "header");
        char *header = cfg_str(r, cn, "header");
        if (!header || !*header) {
            if (!misspelt)
                cfg_err(r, cn, "a credential needs 'header' (the header name to inject)");
            free(header);
            continue;
        }
        struct config_credential *cr = &cc->credentials[cc->ncredentials++];
        cr->header = header;
        cr->env = cfg_str(r, cn, "fromEnv");
        cr->file = cfg_path(r, cn, "fromFile");
        if (cr->env && !*cr->env)
            free_null(&cr->env);
        if (cr->file && !*cr->file)
            free_null(&cr->file);
    }
}

/* The resilience keys of <map> (the upstream section or a consumers entry) into <o>. */
static void cfg_resil(struct cfg_reader *r, const struct ynode *map, struct config_resil *o)
{
    cfg_long(r, map, "retries", 0, 10, &o->retries);
    cfg_ms(r, map, "retryBackoff", &o->backoff_base_ms);
    cfg_ms(r, map, "retryBackoffMax", &o->backoff_cap_ms);
    cfg_long(r, map, "retryBudget", 0, 100, &o->budget_percent);
    cfg_long(r, map, "retryBudgetMinPerSecond", 0, 1000000, &o->budget_min_per_s);
    cfg_long(r, map, "breakerFailures", 0, 1000000, &o->breaker_failures);
    cfg_ms(r, map, "breakerCooldown", &o->breaker_cooldown_ms);
    cfg_ms(r, map, "breakerMaxCooldown", &o->breaker_max_cooldown_ms);
    cfg_long(r, map, "maxConcurrent", 0, 1000000, &o->max_concurrent);
    cfg_long(r, map, "queue", 0, 1000000, &o->queue);
    const struct ynode *old = ynode_get(map, "maxConnectionsPerHost");
    if (old && !ynode_get(map, "maxConcurrent")) {
        /* curl's per-host cap cost 30-70 % CPU (issue 13) and is gone; the per-API cap
         * bounds upstream concurrency now. */
        cfg_long(r, map, "maxConnectionsPerHost", 0, 1000000, &o->max_concurrent);
        diag_warn(r->d, r->file, old->line, old->col,
                  "'maxConnectionsPerHost' is deprecated: it now sets 'maxConcurrent', the cap "
                  "on calls in progress per consumed API");
    }
}

static void cfg_consumers(struct cfg_reader *r, const struct ynode *seq)
{
    struct config *c = r->c;
    c->consumers = xcalloc(seq->nitems, sizeof *c->consumers);
    for (size_t i = 0; i < seq->nitems; i++) {
        const struct ynode *n = seq->items[i];
        if (!cfg_map_item(r, n, "consumers"))
            continue;
        cfg_check_keys(r, n, &cfg_keys_consumer, NULL);
        struct config_consumer *cc = &c->consumers[c->nconsumers++];
        cc->pattern = cfg_str(r, n, "namespace");
        if (!cc->pattern)
            cc->pattern = xstrdup("*");
        cc->base_uri = cfg_str(r, n, "baseUri");
        cc->rate_max_wait_ms = 1000;
        cfg_rate(r, n, "rate", &cc->rate);
        cfg_long(r, n, "rateBurst", 1, 1000000000, &cc->rate.burst);
        cfg_ms(r, n, "rateMaxWait", &cc->rate_max_wait_ms);
        memset(&cc->resil, 0xff, sizeof cc->resil); /* every field -1: inherited */
        cfg_resil(r, n, &cc->resil);
        const struct ynode *creds = cfg_section(r, n, "credentials", YNODE_SEQUENCE);
        if (creds)
            cfg_credentials(r, cc, creds);
    }
}

/* oauth2: {fetchTimeout, keysMinRefresh, leeway, introspectionClients}. */
static void cfg_oauth2(struct cfg_reader *r, const struct ynode *s)
{
    struct config *c = r->c;
    cfg_check_keys(r, s, &cfg_keys_oauth2, NULL);
    cfg_ms(r, s, "fetchTimeout", &c->oauth_fetch_timeout_ms);
    cfg_ms(r, s, "keysMinRefresh", &c->oauth_min_refresh_ms);
    cfg_ms(r, s, "leeway", &c->oauth_leeway_ms);
    /* A refresh more often than once a second would let made-up kids drive the fetches. */
    if (c->oauth_min_refresh_ms < 1000)
        cfg_err(r, ynode_get(s, "keysMinRefresh"), "'keysMinRefresh' must be at least 1s");
    if (c->oauth_fetch_timeout_ms < 1)
        cfg_err(r, ynode_get(s, "fetchTimeout"), "'fetchTimeout' must be more than 0");
    const struct ynode *seq = cfg_section(r, s, "introspectionClients", YNODE_SEQUENCE);
    if (!seq)
        return;
    c->oauth_clients = xcalloc(seq->nitems, sizeof *c->oauth_clients);
    for (size_t i = 0; i < seq->nitems; i++) {
        const struct ynode *n = seq->items[i];
        if (!cfg_map_item(r, n, "introspectionClients"))
            continue;
        bool misspelt = cfg_check_keys(r, n, &cfg_keys_oauth_client, "clientId");
        char *id = cfg_str(r, n, "clientId");
        if (!id || !*id) {
            if (!misspelt)
                cfg_err(r, n, "an introspection client needs 'clientId'");
            free(id);
            continue;
        }
        struct config_oauth_client *oc = &c->oauth_clients[c->noauth_clients++];
        oc->client_id = id;
        oc->pattern = cfg_str(r, n, "authorizationServer");
        if (!oc->pattern)
            oc->pattern = xstrdup("*");
        /* Sent as HTTP Basic: the credential's header names it in messages. */
        oc->secret.header = xstrdup("Authorization");
        oc->secret.env = cfg_str(r, n, "clientSecretFromEnv");
        oc->secret.file = cfg_path(r, n, "clientSecretFromFile");
        if (oc->secret.env && !*oc->secret.env)
            free_null(&oc->secret.env);
        if (oc->secret.file && !*oc->secret.file)
            free_null(&oc->secret.file);
    }
}

void config_resil_for(const struct config *c, const char *ns, struct config_resil *out)
{
    *out = c->resil;
    const struct config_consumer *cc = ns ? config_consumer_for(c, ns) : NULL;
    if (!cc)
        return;
#define INHERIT(f)                                                                                 \
    if (cc->resil.f >= 0)                                                                          \
    out->f = cc->resil.f
    INHERIT(retries);
    INHERIT(backoff_base_ms);
    INHERIT(backoff_cap_ms);
    INHERIT(budget_percent);
    INHERIT(budget_min_per_s);
    INHERIT(breaker_failures);
    INHERIT(breaker_cooldown_ms);
    INHERIT(breaker_max_cooldown_ms);
    INHERIT(max_concurrent);
    INHERIT(queue);
#undef INHERIT
}

/* Whether an OTLP endpoint has user:password@ in its authority: refused, and never echoed (a
 * URL is logged when an export fails). */
static bool otlp_endpoint_has_userinfo(const char *s)
{
    const char *a = strstr(s, "://");
    if (!a)
        return false;
    a += 3;
    size_t n = strcspn(a, "/?#");
    return memchr(a, '@', n) != NULL;
}

/* An OTLP endpoint is an absolute http(s) URL without spaces, control bytes or credentials. */
static bool otlp_endpoint_ok(const char *s)
{
    if (strncasecmp(s, "http://", 7) != 0 && strncasecmp(s, "https://", 8) != 0)
        return false;
    for (const char *p = s; *p; p++)
        if ((unsigned char)*p <= 0x20 || *p == 0x7f)
            return false;
    return strlen(s) > (s[4] == ':' ? 7u : 8u) && !otlp_endpoint_has_userinfo(s);
}

/* tracing: {otlpEndpoint, serviceName, sampleNew, batchSize, queueSize, flushInterval}. */
static void cfg_tracing(struct cfg_reader *r, const struct ynode *s)
{
    struct config *c = r->c;
    cfg_check_keys(r, s, &cfg_keys_tracing, NULL);
    char *ep = cfg_str(r, s, "otlpEndpoint");
    if (ep && *ep && !otlp_endpoint_ok(ep)) {
        if (otlp_endpoint_has_userinfo(ep))
            cfg_err(r, ynode_get(s, "otlpEndpoint"),
                    "'otlpEndpoint' must not carry user:password@ (it would be logged); "
                    "put the collector's credentials in a header-adding proxy or network policy");
        else
            cfg_err(r, ynode_get(s, "otlpEndpoint"),
                    "'otlpEndpoint' expects an http:// or https:// URL such as "
                    "http://collector:4318/v1/traces, got '%s'",
                    ep);
        free_null(&ep);
    }
    if (ep && *ep) {
        free(c->otlp_endpoint);
        c->otlp_endpoint = ep;
    } else {
        free(ep);
    }
    char *svc = cfg_str(r, s, "serviceName");
    if (svc && *svc) {
        free(c->otlp_service);
        c->otlp_service = svc;
    } else {
        free(svc);
    }
    cfg_bool(r, s, "sampleNew", &c->trace_sample_new);
    cfg_long(r, s, "batchSize", 1, 10000, &c->otlp_batch_size);
    cfg_long(r, s, "queueSize", 1, 1000000, &c->otlp_queue_size);
    cfg_ms(r, s, "flushInterval", &c->otlp_flush_interval_ms);
    if (c->otlp_flush_interval_ms < 1)
        cfg_err(r, ynode_get(s, "flushInterval"), "'flushInterval' must be more than 0");
}

const struct config_oauth_client *config_oauth_client_for(const struct config *c,
                                                          const char *as_uri)
{
    for (size_t i = 0; i < c->noauth_clients; i++)
        if (config_glob_match(c->oauth_clients[i].pattern, as_uri))
            return &c->oauth_clients[i];
    return NULL;
}

int config_load_file(struct config *c, const char *path, bool required, struct diag *d)
{
    FILE *fp = fopen(path, "rb");
    if (!fp) {
        if (!required && errno == ENOENT)
            return 0;
        diag_error(d, path, 0, 0, "cannot read configuration: %s", strerror(errno));
        return -1;
    }
    struct strbuf buf;
    strbuf_init(&buf, CONFIG_MAX_FILE);
    char chunk[8192];
    size_t n;
    int too_big = 0;
    while ((n = fread(chunk, 1, sizeof chunk, fp)) > 0)
        if (strbuf_add(&buf, chunk, n) < 0) {
            too_big = 1;
            break;
        }
    fclose(fp);
    if (too_big) {
        diag_error(d, path, 0, 0, "configuration file is larger than 1 MiB");
        strbuf_deinit(&buf);
        return -1;
    }
    int rc = config_load_buffer(c, path, buf.data ? buf.data : "", buf.len, d);
    strbuf_deinit(&buf);
    return rc;
}

int config_load_buffer(struct config *c, const char *name, const char *buf, size_t len,
                       struct diag *d)
{
    size_t before = d->nerrors;
    if (ynode_looks_like_html(buf, len)) {
        diag_error(d, name, 1, 1,
                   "this looks like an HTML page, not a YAML configuration file: did you save a "
                   "web page instead of the raw file?");
        return -1;
    }
    struct ynode_doc *doc = ynode_parse(name, buf, len, d);
    if (!doc)
        return -1;
    free(c->file);
    c->file = xstrdup(name);
    struct cfg_reader r = {c, d, name};
    const struct ynode *root = doc->root;
    if (root && !ynode_is_null(root) && root->kind != YNODE_MAPPING) {
        cfg_err(&r, root, "expected a mapping at the top of the configuration, got %s",
                ynode_describe(root));
        goto out;
    }
    if (!root || ynode_is_null(root))
        goto out;
    cfg_check_keys(&r, root, &cfg_keys_root, NULL);
    const struct ynode *s;
    if ((s = cfg_section(&r, root, "rest", YNODE_MAPPING))) {
        cfg_check_keys(&r, s, &cfg_keys_rest, NULL);
        cfg_listen(&r, s, &c->rest_listen);
    }
    if ((s = cfg_section(&r, root, "mcp", YNODE_MAPPING))) {
        cfg_check_keys(&r, s, &cfg_keys_mcp, NULL);
        cfg_listen(&r, s, &c->mcp_listen);
        const struct ynode *hosts = cfg_section(&r, s, "allowedHosts", YNODE_SEQUENCE);
        for (size_t i = 0; hosts && i < hosts->nitems; i++) {
            if (hosts->items[i]->kind != YNODE_SCALAR) {
                cfg_err(&r, hosts->items[i], "expected a host name in 'allowedHosts'");
                continue;
            }
            c->mcp_allowed_hosts =
                xrealloc(c->mcp_allowed_hosts, (c->nmcp_allowed_hosts + 1) * sizeof(char *));
            c->mcp_allowed_hosts[c->nmcp_allowed_hosts++] = xstrdup(hosts->items[i]->str);
        }
        cfg_long(&r, s, "maxStreams", 0, 1000000, &c->mcp_max_streams);
        cfg_ms(&r, s, "keepAlive", &c->mcp_keepalive_ms);
    }
    if ((s = cfg_section(&r, root, "admin", YNODE_MAPPING))) {
        cfg_check_keys(&r, s, &cfg_keys_admin, NULL);
        cfg_listen(&r, s, &c->admin_listen);
    }
    cfg_ms(&r, root, "drainTimeout", &c->drain_timeout_ms);
    long workers = c->workers;
    cfg_long(&r, root, "workers", 0, 256, &workers);
    c->workers = (int)workers;
    if ((s = cfg_section(&r, root, "limits", YNODE_MAPPING))) {
        cfg_check_keys(&r, s, &cfg_keys_limits, NULL);
        cfg_size(&r, s, "maxBodySize", &c->max_body_size);
        cfg_size(&r, s, "maxHeaderSize", &c->max_header_size);
        cfg_long(&r, s, "maxHeaders", 1, CONFIG_MAX_HEADERS_LIMIT, &c->max_headers);
        cfg_ms(&r, s, "headerTimeout", &c->header_timeout_ms);
        cfg_ms(&r, s, "bodyTimeout", &c->body_timeout_ms);
        cfg_ms(&r, s, "clientTimeout", &c->client_timeout_ms);
        cfg_long(&r, s, "maxConnections", 1, 1000000, &c->max_connections);
        cfg_ms(&r, s, "digestNonceTtl", &c->digest_nonce_ttl_ms);
        cfg_rate(&r, s, "rateLimit", &c->rate_limit);
        cfg_long(&r, s, "rateLimitBurst", 1, 1000000000, &c->rate_limit.burst);
        cfg_long(&r, s, "rateLimitClients", 1, 10000000, &c->rate_limit_clients);
    }
    if ((s = cfg_section(&r, root, "upstream", YNODE_MAPPING))) {
        cfg_check_keys(&r, s, &cfg_keys_upstream, NULL);
        cfg_ms(&r, s, "connectTimeout", &c->upstream_connect_timeout_ms);
        cfg_ms(&r, s, "timeout", &c->upstream_timeout_ms);
        cfg_long(&r, s, "maxIdleConnections", 1, 100000, &c->upstream_max_idle_connections);
        cfg_ms(&r, s, "idleTimeout", &c->upstream_idle_timeout_ms);
        cfg_size(&r, s, "maxResponseSize", &c->upstream_max_response_size);
        cfg_bool(&r, s, "tlsVerify", &c->upstream_tls_verify);
        cfg_resil(&r, s, &c->resil);
        char *ca = cfg_str(&r, s, "caFile");
        if (ca && *ca) {
            free(c->upstream_ca_file);
            c->upstream_ca_file = ca;
        } else {
            free(ca);
        }
    }
    if ((s = cfg_section(&r, root, "log", YNODE_MAPPING))) {
        cfg_check_keys(&r, s, &cfg_keys_log, NULL);
        char *lvl = cfg_str(&r, s, "level");
        if (lvl && *lvl) {
            int l = log_level_parse(lvl);
            if (l < 0)
                cfg_err(&r, ynode_get(s, "level"),
                        "'level' expects error, warn, info or debug, got '%s'", lvl);
            else
                c->log_level = l;
        }
        free(lvl);
        cfg_bool(&r, s, "access", &c->access_log);
        char *fmt = cfg_str(&r, s, "format");
        if (fmt && *fmt) {
            if (str_eq_ci(fmt, "json") || str_eq_ci(fmt, "text"))
                c->log_json = str_eq_ci(fmt, "json");
            else
                cfg_err(&r, ynode_get(s, "format"), "'format' expects text or json, got '%s'", fmt);
        }
        free(fmt);
    }
    if ((s = cfg_section(&r, root, "reload", YNODE_MAPPING))) {
        cfg_check_keys(&r, s, &cfg_keys_reload, NULL);
        cfg_bool(&r, s, "watch", &c->reload_watch);
        cfg_ms(&r, s, "debounce", &c->reload_debounce_ms);
    }
    if ((s = cfg_section(&r, root, "consumers", YNODE_SEQUENCE)))
        cfg_consumers(&r, s);
    if ((s = cfg_section(&r, root, "oauth2", YNODE_MAPPING)))
        cfg_oauth2(&r, s);
    if ((s = cfg_section(&r, root, "tracing", YNODE_MAPPING)))
        cfg_tracing(&r, s);
out:
    ynode_doc_free(doc);
    return d->nerrors > before ? -1 : 0;
}

/* ---- environment ---- */

static int env_apply(struct diag *d, const char *name, int (*parse)(const char *, void *),
                     void *out, const char *expected)
{
    const char *v = getenv(name);
    if (!v || !*v)
        return 0;
    if (parse(v, out) < 0) {
        diag_error(d, NULL, 0, 0, "environment %s expects %s, got '%s'", name, expected, v);
        return -1;
    }
    return 0;
}

static int parse_listen_or_off(const char *s, void *out)
{
    struct config_listen *l = out;
    if (str_eq_ci(s, "off")) {
        free(l->host);
        *l = (struct config_listen){NULL, -1};
        return 0;
    }
    return config_parse_listen(s, l);
}

static int parse_format(const char *s, void *out)
{
    if (!str_eq_ci(s, "json") && !str_eq_ci(s, "text"))
        return -1;
    *(bool *)out = str_eq_ci(s, "json");
    return 0;
}

static int parse_ms(const char *s, void *out)
{
    return str_to_ms(s, out);
}

static int parse_size(const char *s, void *out)
{
    return str_to_size(s, out);
}

static int parse_listen(const char *s, void *out)
{
    return config_parse_listen(s, out);
}

static int parse_workers(const char *s, void *out)
{
    long v;
    if (str_to_long(s, 0, 256, &v) < 0)
        return -1;
    *(int *)out = (int)v;
    return 0;
}

static int parse_conns(const char *s, void *out)
{
    return str_to_long(s, 1, 1000000, out);
}

static int parse_retries(const char *s, void *out)
{
    return str_to_long(s, 0, 10, out);
}

static int parse_count(const char *s, void *out)
{
    return str_to_long(s, 0, 1000000, out);
}

static int parse_streams(const char *s, void *out)
{
    return str_to_long(s, 0, 1000000, out);
}

static int parse_max_headers(const char *s, void *out)
{
    return str_to_long(s, 1, CONFIG_MAX_HEADERS_LIMIT, out);
}

static int parse_rate(const char *s, void *out)
{
    return config_parse_rate(s, out);
}

static int parse_burst(const char *s, void *out)
{
    return str_to_long(s, 1, 1000000000, out);
}

static int parse_clients(const char *s, void *out)
{
    return str_to_long(s, 1, 10000000, out);
}

static int parse_level(const char *s, void *out)
{
    int l = log_level_parse(s);
    if (l < 0)
        return -1;
    *(int *)out = l;
    return 0;
}

static int parse_onoff(const char *s, void *out)
{
    if (str_eq_ci(s, "on") || str_eq_ci(s, "true") || str_eq(s, "1"))
        *(bool *)out = true;
    else if (str_eq_ci(s, "off") || str_eq_ci(s, "false") || str_eq(s, "0"))
        *(bool *)out = false;
    else
        return -1;
    return 0;
}

/* The OpenTelemetry SDK variables (their names, not CAPPROXY_*, so that one deployment sets
 * every service's exporter alike): OTEL_EXPORTER_OTLP_TRACES_ENDPOINT is the traces URL as is,
 * OTEL_EXPORTER_OTLP_ENDPOINT the collector's base URL (+ "/v1/traces"); CAPPROXY_TRACE_SAMPLE_NEW
 * says whether traces started here are sampled. */
static int env_tracing(struct config *c, struct diag *d)
{
    int rc = 0;
    const char *t = getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT");
    const char *b = getenv("OTEL_EXPORTER_OTLP_ENDPOINT");
    char *ep = NULL;
    if (t && *t)
        ep = xstrdup(t);
    else if (b && *b)
        ep = xasprintf("%s%s", b, b[strlen(b) - 1] == '/' ? "v1/traces" : "/v1/traces");
    if (ep && !otlp_endpoint_ok(ep)) {
        const char *var =
            t && *t ? "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT" : "OTEL_EXPORTER_OTLP_ENDPOINT";
        if (otlp_endpoint_has_userinfo(ep))
            diag_error(d, NULL, 0, 0,
                       "environment %s must not carry user:password@ (it would be logged)", var);
        else
            diag_error(d, NULL, 0, 0, "environment %s expects an http:// or https:// URL, got '%s'",
                       var, t && *t ? t : b);
        free(ep);
        rc = -1;
    } else if (ep) {
        free(c->otlp_endpoint);
        c->otlp_endpoint = ep;
    }
    const char *svc = getenv("OTEL_SERVICE_NAME");
    if (svc && *svc) {
        free(c->otlp_service);
        c->otlp_service = xstrdup(svc);
    }
    rc |= env_apply(d, "CAPPROXY_TRACE_SAMPLE_NEW", parse_onoff, &c->trace_sample_new, "on or off");
    return rc;
}

static int parse_path(const char *s, void *out)
{
    char **p = out;
    free(*p);
    *p = xstrdup(s);
    return 0;
}

int config_apply_env(struct config *c, struct diag *d)
{
    int rc = 0;
    rc |= env_apply(d, "CAPPROXY_REST_LISTEN", parse_listen, &c->rest_listen, "host:port");
    rc |= env_apply(d, "CAPPROXY_MCP_LISTEN", parse_listen, &c->mcp_listen, "host:port");
    rc |= env_apply(d, "CAPPROXY_ADMIN_LISTEN", parse_listen_or_off, &c->admin_listen,
                    "host:port or off");
    rc |= env_apply(d, "CAPPROXY_DRAIN_TIMEOUT", parse_ms, &c->drain_timeout_ms, "a duration");
    rc |= env_apply(d, "CAPPROXY_LOG_FORMAT", parse_format, &c->log_json, "text or json");
    const char *hosts = getenv("CAPPROXY_MCP_ALLOWED_HOSTS");
    if (hosts && *hosts) {
        /* Comma-separated; replaces the file's list. */
        for (size_t i = 0; i < c->nmcp_allowed_hosts; i++)
            free(c->mcp_allowed_hosts[i]);
        c->nmcp_allowed_hosts = 0;
        for (const char *p = hosts; *p;) {
            const char *e = strchr(p, ',');
            size_t len = e ? (size_t)(e - p) : strlen(p);
            while (len && *p == ' ')
                p++, len--;
            while (len && p[len - 1] == ' ')
                len--;
            if (len) {
                c->mcp_allowed_hosts =
                    xrealloc(c->mcp_allowed_hosts, (c->nmcp_allowed_hosts + 1) * sizeof(char *));
                c->mcp_allowed_hosts[c->nmcp_allowed_hosts++] = xstrndup(p, len);
            }
            p = e ? e + 1 : p + len;
        }
    }
    rc |= env_apply(d, "CAPPROXY_WORKERS", parse_workers, &c->workers, "0 to 256 (0: cores)");
    rc |= env_apply(d, "CAPPROXY_MAX_BODY_SIZE", parse_size, &c->max_body_size, "a size");
    rc |= env_apply(d, "CAPPROXY_MAX_HEADER_SIZE", parse_size, &c->max_header_size, "a size");
    rc |= env_apply(d, "CAPPROXY_MAX_HEADERS", parse_max_headers, &c->max_headers, "1 to 512");
    rc |= env_apply(d, "CAPPROXY_HEADER_TIMEOUT", parse_ms, &c->header_timeout_ms, "a duration");
    rc |= env_apply(d, "CAPPROXY_BODY_TIMEOUT", parse_ms, &c->body_timeout_ms, "a duration");
    rc |= env_apply(d, "CAPPROXY_CLIENT_TIMEOUT", parse_ms, &c->client_timeout_ms, "a duration");
    rc |=
        env_apply(d, "CAPPROXY_DIGEST_NONCE_TTL", parse_ms, &c->digest_nonce_ttl_ms, "a duration");
    rc |=
        env_apply(d, "CAPPROXY_MAX_CONNECTIONS", parse_conns, &c->max_connections, "1 to 1000000");
    rc |=
        env_apply(d, "CAPPROXY_UPSTREAM_TIMEOUT", parse_ms, &c->upstream_timeout_ms, "a duration");
    rc |= env_apply(d, "CAPPROXY_UPSTREAM_CONNECT_TIMEOUT", parse_ms,
                    &c->upstream_connect_timeout_ms, "a duration");
    rc |= env_apply(d, "CAPPROXY_UPSTREAM_RETRIES", parse_retries, &c->resil.retries, "0 to 10");
    rc |= env_apply(d, "CAPPROXY_UPSTREAM_MAX_CONCURRENT", parse_count, &c->resil.max_concurrent,
                    "0 to 1000000");
    rc |= env_apply(d, "CAPPROXY_UPSTREAM_QUEUE", parse_count, &c->resil.queue, "0 to 1000000");
    rc |= env_apply(d, "CAPPROXY_UPSTREAM_BREAKER_FAILURES", parse_count,
                    &c->resil.breaker_failures, "0 to 1000000");
    rc |= env_apply(d, "CAPPROXY_UPSTREAM_BREAKER_COOLDOWN", parse_ms,
                    &c->resil.breaker_cooldown_ms, "a duration");
    rc |= env_apply(d, "CAPPROXY_MCP_MAX_STREAMS", parse_streams, &c->mcp_max_streams,
                    "0 to 1000000");
    rc |= env_apply(d, "CAPPROXY_MCP_KEEPALIVE", parse_ms, &c->mcp_keepalive_ms, "a duration");
    rc |= env_apply(d, "CAPPROXY_LOG_LEVEL", parse_level, &c->log_level,
                    "error, warn, info or debug");
    rc |= env_apply(d, "CAPPROXY_ACCESS_LOG", parse_onoff, &c->access_log, "on or off");
    rc |= env_apply(d, "CAPPROXY_RELOAD_WATCH", parse_onoff, &c->reload_watch, "on or off");
    rc |= env_apply(d, "CAPPROXY_RELOAD_DEBOUNCE", parse_ms, &c->reload_debounce_ms, "a duration");
    rc |= env_apply(d, "CAPPROXY_RATE_LIMIT", parse_rate, &c->rate_limit,
                    "a rate such as 100/s or 600/1m, or off");
    rc |= env_apply(d, "CAPPROXY_RATE_LIMIT_BURST", parse_burst, &c->rate_limit.burst,
                    "1 to 1000000000");
    rc |= env_apply(d, "CAPPROXY_RATE_LIMIT_CLIENTS", parse_clients, &c->rate_limit_clients,
                    "1 to 10000000");
    rc |= env_tracing(c, d);
    rc |= env_apply(d, "CAPPROXY_UPSTREAM_CA_FILE", parse_path, &c->upstream_ca_file, "a file");
    return rc ? -1 : 0;
}

/* Read a secret from a file: one value, trailing newlines removed (as Kubernetes mounts it). */
static char *read_secret_file(const char *path, struct diag *d, const char *header)
{
    FILE *fp = fopen(path, "rb");
    if (!fp) {
        diag_error(d, path, 0, 0, "cannot read the secret for header '%s': %s", header,
                   strerror(errno));
        return NULL;
    }
    char *buf = xmalloc(CONFIG_MAX_SECRET + 1);
    size_t n = fread(buf, 1, CONFIG_MAX_SECRET + 1, fp);
    fclose(fp);
    if (n > CONFIG_MAX_SECRET) {
        diag_error(d, path, 0, 0, "the secret file for header '%s' is larger than 64 KiB", header);
        free(buf);
        return NULL;
    }
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
        n--;
    buf[n] = '\0';
    if (n == 0) {
        free(buf);
        return NULL;
    }
    return buf;
}

/* Words that mark a value someone was meant to replace: a whole value, or its beginning when a
 * separator follows ("REPLACE-ME-cal-com-oauth-client-secret", "TODO: ask ops"). Compared
 * case-insensitively with '-', '_', '.' and spaces removed. */
static const char *const placeholder_words[] = {"replaceme", "changeme", "changeit",   "todo",
                                                "fixme",     "tbd",      "placeholder"};

bool config_is_placeholder(const char *v)
{
    while (*v == ' ' || *v == '\t')
        v++;
    size_t n = strlen(v);
    while (n && (v[n - 1] == ' ' || v[n - 1] == '\t'))
        n--;
    if (n == 0)
        return false;
    /* <your-api-key>, ${CAL_COM_API_KEY}: a template nobody filled in. */
    if ((v[0] == '<' && v[n - 1] == '>') ||
        (n > 3 && v[0] == '$' && v[1] == '{' && v[n - 1] == '}'))
        return true;
    /* your-api-key-here, YOUR_SECRET */
    if (n > 5 && strncasecmp(v, "your", 4) == 0 && strchr("-_ ", v[4]))
        return true;
    /* xxx, XXXXXXXX, ***, cal_live_xxxxxxxx: masked or elided, not a value. */
    size_t run = 0, letters = 0;
    for (size_t i = 0; i < n; i++)
        letters += v[i] == 'x' || v[i] == 'X' || v[i] == '*';
    while (run < n && strchr("xX*", v[n - 1 - run]))
        run++;
    if ((letters == n && n >= 3) || run >= 4)
        return true;
    /* The words, squeezed: "REPLACE_ME", "change-me", "TODO: ..." */
    char sq[32];
    size_t k = 0, used = 0;
    for (; used < n && k < sizeof sq - 1; used++) {
        char c = v[used];
        if (c == '-' || c == '_' || c == '.' || c == ' ')
            continue;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')))
            break;
        sq[k++] = (char)((c >= 'A' && c <= 'Z') ? c + 32 : c);
    }
    sq[k] = '\0';
    for (size_t i = 0; i < UTIL_ARRAY_LEN(placeholder_words); i++) {
        size_t wl = strlen(placeholder_words[i]);
        if (k < wl || memcmp(sq, placeholder_words[i], wl) != 0)
            continue;
        if (k == wl && used == n)
            return true; /* the whole value */
        /* A prefix: only when the word ends at a separator in the original value. */
        size_t seen = 0, j = 0;
        for (; j < n && seen < wl; j++)
            if (!strchr("-_. ", v[j]))
                seen++;
        if (j == n || strchr("-_.: ", v[j]))
            return true;
    }
    return false;
}

/* The CPU limit of this container (cgroup v2 cpu.max "quota period"), rounded up; 0 when
 * there is none. In a container the online CPU count is the node's, not what we may use. */
static long cgroup_cpus(void)
{
    FILE *fp = fopen("/sys/fs/cgroup/cpu.max", "r");
    if (!fp)
        return 0;
    char quota[32] = "";
    long period = 0;
    int n = fscanf(fp, "%31s %ld", quota, &period);
    fclose(fp);
    long q;
    if (n != 2 || period <= 0 || str_to_long(quota, 1, LONG_MAX / 2, &q) < 0)
        return 0; /* "max": no limit */
    return (q + period - 1) / period;
}

/* Read credential <cr>'s secret from its environment variable or file. */
static void credential_read(struct config_credential *cr, struct diag *d)
{
    const char *v = cr->env ? getenv(cr->env) : NULL;
    free(cr->source);
    if (v && *v) {
        cr->value = xstrdup(v);
        cr->source = xasprintf("env %s", cr->env);
        if (config_is_placeholder(v))
            diag_error(d, NULL, 0, 0,
                       "environment variable %s (header '%s') holds a placeholder, not "
                       "a secret: set the real value",
                       cr->env, cr->header);
    } else if (cr->file) {
        cr->value = read_secret_file(cr->file, d, cr->header);
        cr->source = xasprintf("file %s", cr->file);
        if (cr->value && config_is_placeholder(cr->value))
            diag_error(d, cr->file, 0, 0,
                       "the secret file for header '%s' holds a placeholder, not a "
                       "secret: put the real value in it",
                       cr->header);
    } else {
        cr->source = cr->env ? xasprintf("env %s, unset", cr->env) : xstrdup("unset");
    }
}

/* upstream.caFile must be a readable file now: curl would only say "problem with the SSL CA
 * cert" at the first request, without the path. */
static void ca_file_check(const struct config *c, struct diag *d)
{
    const char *path = c->upstream_ca_file;
    if (!path)
        return;
    struct stat st;
    FILE *fp = NULL;
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
        diag_error(d, NULL, 0, 0, "upstream.caFile '%s' is a directory, not a PEM file", path);
        return;
    }
    if (!(fp = fopen(path, "rb"))) {
        diag_error(d, NULL, 0, 0, "upstream.caFile: cannot read '%s': %s", path, strerror(errno));
        return;
    }
    fclose(fp);
}

int config_finish(struct config *c, struct diag *d)
{
    size_t before = d->nerrors;
    if (c->workers <= 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        long limit = cgroup_cpus();
        if (limit > 0 && (n <= 0 || limit < n))
            n = limit;
        c->workers = n > 0 ? (int)(n > 64 ? 64 : n) : 1;
    }
    allowed_parse(c);
    for (size_t i = 0; i < c->nconsumers; i++) {
        struct config_consumer *cc = &c->consumers[i];
        for (size_t j = 0; j < cc->ncredentials; j++)
            credential_read(&cc->credentials[j], d);
    }
    for (size_t i = 0; i < c->noauth_clients; i++)
        credential_read(&c->oauth_clients[i].secret, d);
    ca_file_check(c, d);
    const char *key = getenv("CAPPROXY_SESSION_KEY");
    if (key && config_is_placeholder(key))
        diag_error(d, NULL, 0, 0,
                   "environment variable CAPPROXY_SESSION_KEY holds a placeholder, not a key: "
                   "set a random value (the same on every replica)");
    return d->nerrors > before ? -1 : 0;
}

static void dump_listen(FILE *fp, const char *name, const struct config_listen *l)
{
    if (l->port >= 0)
        fprintf(fp, "%s.listen: %s:%d\n", name, l->host ? l->host : "127.0.0.1", l->port);
    else
        fprintf(fp, "%s.listen: (per adapter)\n", name);
}

void config_dump(const struct config *c, FILE *fp)
{
    fprintf(fp, "config: %s\n", c->file ? c->file : "(defaults)");
    dump_listen(fp, "rest", &c->rest_listen);
    dump_listen(fp, "mcp", &c->mcp_listen);
    dump_listen(fp, "admin", &c->admin_listen);
    fprintf(fp, "workers: %d\n", c->workers);
    fprintf(fp,
            "limits: maxBodySize=%zu maxHeaderSize=%zu maxHeaders=%ld headerTimeout=%ldms "
            "bodyTimeout=%ldms clientTimeout=%ldms maxConnections=%ld digestNonceTtl=%ldms\n",
            c->max_body_size, c->max_header_size, c->max_headers, c->header_timeout_ms,
            c->body_timeout_ms, c->client_timeout_ms, c->max_connections, c->digest_nonce_ttl_ms);
    fprintf(fp,
            "upstream: connectTimeout=%ldms timeout=%ldms "
            "maxIdleConnections=%ld idleTimeout=%ldms maxResponseSize=%zu tlsVerify=%s\n",
            c->upstream_connect_timeout_ms, c->upstream_timeout_ms,
            c->upstream_max_idle_connections, c->upstream_idle_timeout_ms,
            c->upstream_max_response_size, c->upstream_tls_verify ? "true" : "false");
    const struct config_resil *rs = &c->resil;
    fprintf(fp,
            "upstream resilience: retries=%ld retryBackoff=%ldms retryBackoffMax=%ldms "
            "retryBudget=%ld%% retryBudgetMinPerSecond=%ld breakerFailures=%ld "
            "breakerCooldown=%ldms breakerMaxCooldown=%ldms maxConcurrent=%ld queue=%ld\n",
            rs->retries, rs->backoff_base_ms, rs->backoff_cap_ms, rs->budget_percent,
            rs->budget_min_per_s, rs->breaker_failures, rs->breaker_cooldown_ms,
            rs->breaker_max_cooldown_ms, rs->max_concurrent, rs->queue);
    if (c->rate_limit.count > 0)
        fprintf(fp, "limits: rateLimit=%ld/%ldms rateLimitBurst=%ld rateLimitClients=%ld\n",
                c->rate_limit.count, c->rate_limit.period_ms,
                c->rate_limit.burst ? c->rate_limit.burst : c->rate_limit.count,
                c->rate_limit_clients);
    else
        fprintf(fp, "limits: rateLimit=off\n");
    if (c->upstream_ca_file)
        fprintf(fp, "upstream.caFile: %s\n", c->upstream_ca_file);
    for (size_t i = 0; i < c->nconsumers; i++) {
        const struct config_consumer *cc = &c->consumers[i];
        fprintf(fp, "consumer %s: baseUri=%s\n", cc->pattern,
                cc->base_uri && *cc->base_uri ? cc->base_uri : "(document's)");
        if (cc->rate.count > 0)
            fprintf(fp, "  rate=%ld/%ldms rateBurst=%ld rateMaxWait=%ldms\n", cc->rate.count,
                    cc->rate.period_ms, cc->rate.burst ? cc->rate.burst : 1, cc->rate_max_wait_ms);
        for (size_t j = 0; j < cc->ncredentials; j++)
            fprintf(fp, "  credential %s: %s (%s)\n", cc->credentials[j].header,
                    cc->credentials[j].value ? "set" : "not set", cc->credentials[j].source);
    }
    fprintf(fp,
            "tracing: otlpEndpoint=%s serviceName=%s sampleNew=%s batchSize=%ld queueSize=%ld "
            "flushInterval=%ldms\n",
            c->otlp_endpoint ? c->otlp_endpoint : "(off)", c->otlp_service,
            c->trace_sample_new ? "true" : "false", c->otlp_batch_size, c->otlp_queue_size,
            c->otlp_flush_interval_ms);
    fprintf(fp, "oauth2: fetchTimeout=%ldms keysMinRefresh=%ldms leeway=%ldms\n",
            c->oauth_fetch_timeout_ms, c->oauth_min_refresh_ms, c->oauth_leeway_ms);
    for (size_t i = 0; i < c->noauth_clients; i++) {
        const struct config_oauth_client *oc = &c->oauth_clients[i];
        fprintf(fp, "  introspection client %s for %s: secret %s (%s)\n", oc->client_id,
                oc->pattern, oc->secret.value ? "set" : "not set", oc->secret.source);
    }
}
