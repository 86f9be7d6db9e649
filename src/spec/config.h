/*
 * config: deployment settings. Built-in defaults, then config/capproxy.yaml (where ${VAR} and
 * ${VAR:-default} are expanded from the environment), then the fixed CAPPROXY_* environment
 * variables, which always win. Secrets are read here (environment or a mounted file) and never
 * printed: config_dump redacts them.
 */
#ifndef CAPPROXY_CONFIG_H
#define CAPPROXY_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "base/diag.h"

/* A header value injected into upstream requests of matching consumers, when the consumed
 * operation declares that header and the caller did not send it. */
struct config_credential {
    char *header; /* e.g. "x-cal-secret-key" */
    char *env;    /* environment variable it is read from (NULL: none) */
    char *file;   /* file it is read from (NULL: none); env wins when both are set */
    char *value;  /* the secret, NULL when neither source has one. Never log it. */
    char *source; /* "env CAL_COM_CLIENT_SECRET" / "file /run/..." / "unset": safe to print */
};

/* A rate: <count> requests per <period_ms>, at most <burst> at once (0: the user's default:
 * <count> for the inbound limit, 1 for an outbound rate). <count> 0: no limit. */
struct config_rate {
    long count;
    long period_ms;
    long burst;
};

/* The resilience settings of a consumed API (http/resil.h): retries, circuit breaker and the
 * concurrency cap. Process-wide defaults under `upstream:`, overridden per API under its
 * `consumers:` entry, where -1 means "the process-wide value". Durations in ms. */
struct config_resil {
    long retries;                 /* retries after the first attempt (0: none); 2 */
    long backoff_base_ms;         /* retryBackoff: the first back-off's upper bound; 100 ms */
    long backoff_cap_ms;          /* retryBackoffMax: no back-off longer; 2 s */
    long budget_percent;          /* retryBudget: retries at most this % of recent requests; 20 */
    long budget_min_per_s;        /* retryBudgetMinPerSecond: plus this many per second; 3 */
    long breaker_failures;        /* consecutive failures that open the circuit (0: off); 5 */
    long breaker_cooldown_ms;     /* breakerCooldown: open this long before a probe; 10 s */
    long breaker_max_cooldown_ms; /* breakerMaxCooldown: the doubling stops here; 5 min */
    long max_concurrent;          /* calls in progress per API per process (0: no cap); 256 */
    long queue;                   /* calls waiting for one of those, beyond: 503; 1024 */
};

/* Settings for the consumed APIs whose namespace matches <pattern> (a glob, '*' for all). */
struct config_consumer {
    char *pattern;
    char *base_uri; /* NULL or "": keep the document's */
    struct config_credential *credentials;
    size_t ncredentials;
    struct config_rate rate; /* rate, rateBurst: each matching API, all workers together */
    long rate_max_wait_ms;   /* rateMaxWait: a request over the rate waits this long at most */
    struct config_resil resil; /* -1 fields: the process-wide value */
};

/* An oauth2.introspectionClients entry: how capproxy authenticates to the introspection
 * endpoint of the authorization servers whose authorizationServerUri matches <pattern>. */
struct config_oauth_client {
    char *pattern;                   /* a glob */
    char *client_id;                 /* clientId */
    struct config_credential secret; /* clientSecretFromEnv / clientSecretFromFile */
};

/* Upper bound of limits.maxHeaders: the front ends collect headers into arrays this big. */
#define CONFIG_MAX_HEADERS_LIMIT 512

struct config_listen {
    char *host; /* NULL when not set */
    int port;   /* -1 when not set */
};

/* An mcp.allowedHosts entry, parsed once by config_finish. */
struct config_allowed_host {
    char *host; /* compared case-insensitively; IPv6 bracketed ("[::1]") */
    long port;  /* -1: any port */
};

/* Host names longer than this are never a valid Host (the MCP front end's buffer). */
#define CONFIG_HOST_MAX 256

struct config {
    char *file; /* the config file read, NULL when none */
    struct config_listen rest_listen;
    struct config_listen mcp_listen;
    struct config_listen admin_listen; /* health and metrics; port -1: disabled */
    char **mcp_allowed_hosts;          /* extra Host values accepted by the MCP endpoint */
    size_t nmcp_allowed_hosts;
    struct config_allowed_host *mcp_allowed; /* the same entries parsed, by config_finish */
    size_t nmcp_allowed;
    int workers; /* >= 1 after config_finish */
    size_t max_body_size;
    size_t max_header_size;
    long max_headers;       /* header fields per request, 1..CONFIG_MAX_HEADERS_LIMIT */
    long header_timeout_ms; /* a whole request head, from accept or its first bytes */
    long body_timeout_ms;   /* a whole request body, from the end of its head */
    long client_timeout_ms;
    long max_connections;
    long upstream_connect_timeout_ms;
    long upstream_timeout_ms;
    long upstream_max_idle_connections;
    long upstream_idle_timeout_ms;
    size_t upstream_max_response_size;
    bool upstream_tls_verify;
    int log_level; /* LOG_ERROR .. LOG_DEBUG from log.h */
    bool access_log;
    bool log_json;         /* access and other log lines as JSON objects */
    long drain_timeout_ms; /* SIGTERM: how long in-flight requests may take to finish */
    struct config_consumer *consumers;
    size_t nconsumers;
    long digest_nonce_ttl_ms; /* how long a digest authentication nonce is accepted */
    long mcp_max_streams;     /* open MCP GET (SSE) streams per process; 0: none offered (405) */
    long mcp_keepalive_ms;    /* SSE keep-alive comment interval on those streams; 0: none */
    /* oauth2 resource servers (http/oauth.h) */
    long oauth_fetch_timeout_ms; /* oauth2.fetchTimeout: metadata, keys, introspection (5 s) */
    long oauth_min_refresh_ms; /* oauth2.keysMinRefresh: unknown kids refetch this rarely (30 s) */
    long oauth_leeway_ms;      /* oauth2.leeway: clock skew allowed on exp and nbf (60 s) */
    struct config_oauth_client *oauth_clients;
    size_t noauth_clients;
    /* reload.watch: reload when a file the runtime was loaded from changes (app/watch.h),
     * once nothing has changed for reload.debounce */
    bool reload_watch;
    long reload_debounce_ms;
    struct config_rate rate_limit; /* limits.rateLimit(Burst): per client, all workers; off */
    long rate_limit_clients;       /* limits.rateLimitClients: clients tracked at most */
    struct config_resil resil; /* upstream: retries, breaker, maxConcurrent, queue */
    /* tracing: W3C trace context and the optional OTLP/HTTP JSON span export (http/otlp.h) */
    char *otlp_endpoint;         /* tracing.otlpEndpoint, the traces URL; NULL: no export */
    char *otlp_service;          /* tracing.serviceName (OTEL_SERVICE_NAME): "capproxy" */
    bool trace_sample_new;       /* tracing.sampleNew: traces started here are sampled (true) */
    long otlp_batch_size;        /* tracing.batchSize: spans per export request (512) */
    long otlp_queue_size;        /* tracing.queueSize: spans waiting per worker, beyond dropped */
    long otlp_flush_interval_ms; /* tracing.flushInterval: a partial batch waits this long (5 s) */
    char *upstream_ca_file; /* upstream.caFile: PEM CA bundle for upstream TLS; NULL: system's */
};

void config_defaults(struct config *c);
void config_deinit(struct config *c);
/* Read <path> (YAML). With <required> false a missing file is not an error (defaults stay).
 * Errors go to <d> with file:line:col. 0 or -1. */
int config_load_file(struct config *c, const char *path, bool required, struct diag *d);
/* The same for a document held in memory, named <name> in messages (tests, fuzzing). */
int config_load_buffer(struct config *c, const char *name, const char *buf, size_t len,
                       struct diag *d);
/* Apply the CAPPROXY_* environment overrides. 0 or -1 (bad value, reported in <d>). */
int config_apply_env(struct config *c, struct diag *d);
/* Fill computed defaults (workers = cores), parse mcp.allowedHosts into mcp_allowed, and read
 * secrets from their sources. */
int config_finish(struct config *c, struct diag *d);
/* Whether the mcp.allowedHosts entries (config_finish parses them) admit <host> as
 * hostport_split returns it (brackets kept) on <port> (-1: any port, as for an Origin). */
bool config_mcp_host_allowed(const struct config *c, const char *host, long port);
/* The settings for consumer namespace <ns>: the first entry whose pattern matches, or NULL. */
const struct config_consumer *config_consumer_for(const struct config *c, const char *ns);
/* The resilience settings of consumer namespace <ns> (NULL: the process-wide ones): its
 * consumers entry's, each unset one taken from the process-wide settings. */
void config_resil_for(const struct config *c, const char *ns, struct config_resil *out);
/* The introspection client for authorization server <as_uri>: the first entry whose pattern
 * matches, or NULL. */
const struct config_oauth_client *config_oauth_client_for(const struct config *c,
                                                          const char *as_uri);
/* Expand ${VAR} and ${VAR:-default} in <s> from the environment (caller frees). NULL with
 * <*err> set on a malformed reference. */
char *config_expand_env(const char *s, const char **err);
/* Parse "host:port", ":port" or "port" (host NULL then). 0 or -1. */
int config_parse_listen(const char *s, struct config_listen *out);
/* Whether secret <value> is a placeholder someone was meant to replace (README.md,
 * "Placeholder secrets"): a start-up error wherever a secret is read. */
bool config_is_placeholder(const char *value);
/* Parse a rate "N/s", "N/m", "N/h" or "N/<duration>" ("600/1m", "10/500ms"), or "off" / "0"
 * (count 0), into <out> (its burst is kept). 0 or -1. */
int config_parse_rate(const char *s, struct config_rate *out);
/* Print the effective settings, secrets redacted. */
void config_dump(const struct config *c, FILE *fp);
/* Simple glob: '*' matches any run of characters, '?' one character. */
bool config_glob_match(const char *pattern, const char *s);

#endif
