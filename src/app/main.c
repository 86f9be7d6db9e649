/*
 * capproxy: runs capability documents as a REST and MCP proxy.
 * main is the composition root only: read the command line and configuration, load and check
 * the documents, build the runtime, then serve (or validate, or print the routes).
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <event2/event.h>
#include <event2/thread.h>

#include "spec/config.h"
#include "base/diag.h"
#include "spec/checks.h"
#include "spec/loader.h"
#include "base/log.h"
#include "front/mcp_stdio.h"
#include "core/runtime.h"
#include "app/routes.h"
#include "app/server.h"
#include "core/session.h"

#define DEFAULT_CONFIG       "config/capproxy.yaml"
#define DEFAULT_CAPABILITIES "capabilities"

static void usage(FILE *fp)
{
    fprintf(fp,
            "usage: capproxy [-c CONFIG] [CAPABILITY_FILE|DIR ...]       serve REST and MCP\n"
            "       capproxy validate [-c CONFIG] FILE|DIR ...           check documents\n"
            "       capproxy routes [-c CONFIG] [CAPABILITY_FILE|DIR ...] print the route table\n"
            "       capproxy mcp-stdio [-c CONFIG] [CAPABILITY_FILE|DIR ...] MCP on stdin/stdout\n"
            "       capproxy --help | --version\n"
            "\n"
            "Defaults: -c " DEFAULT_CONFIG " (optional unless given) and " DEFAULT_CAPABILITIES
            "/.\n"
            "Environment (wins over the file; README.md says what each does):\n"
            "  listeners   CAPPROXY_REST_LISTEN CAPPROXY_MCP_LISTEN CAPPROXY_ADMIN_LISTEN\n"
            "              CAPPROXY_MCP_ALLOWED_HOSTS CAPPROXY_WORKERS\n"
            "  limits      CAPPROXY_MAX_BODY_SIZE CAPPROXY_MAX_HEADER_SIZE CAPPROXY_MAX_HEADERS\n"
            "              CAPPROXY_HEADER_TIMEOUT CAPPROXY_BODY_TIMEOUT CAPPROXY_CLIENT_TIMEOUT\n"
            "              CAPPROXY_MAX_CONNECTIONS CAPPROXY_DRAIN_TIMEOUT\n"
            "  upstream    CAPPROXY_UPSTREAM_CONNECT_TIMEOUT CAPPROXY_UPSTREAM_TIMEOUT\n"
            "              CAPPROXY_UPSTREAM_CA_FILE\n"
            "  logs        CAPPROXY_LOG_LEVEL CAPPROXY_LOG_FORMAT CAPPROXY_ACCESS_LOG\n"
            "  MCP         CAPPROXY_SESSION_KEY (also signs digest nonces)\n"
            "              CAPPROXY_MCP_MAX_STREAMS CAPPROXY_MCP_KEEPALIVE\n"
            "  digest auth CAPPROXY_DIGEST_NONCE_TTL\n"
            "  Cal.com     CAL_COM_BASE_URI CAL_COM_CLIENT_SECRET CAL_COM_CLIENT_SECRET_FILE\n"
            "              CAL_COM_API_KEY (read by the shipped configuration and documents)\n");
}

struct args {
    const char *cmd; /* "run", "validate", "routes", "mcp-stdio" */
    const char *config;
    bool config_given;
    const char **paths;
    size_t npaths;
};

static int parse_args(int argc, char **argv, struct args *a)
{
    a->cmd = "run";
    a->config = DEFAULT_CONFIG;
    a->paths = xcalloc((size_t)argc + 1, sizeof *a->paths);
    int i = 1;
    if (i < argc &&
        (str_eq(argv[i], "validate") || str_eq(argv[i], "routes") || str_eq(argv[i], "mcp-stdio")))
        a->cmd = argv[i++];
    for (; i < argc; i++) {
        if (str_eq(argv[i], "-h") || str_eq(argv[i], "--help")) {
            usage(stdout);
            exit(0);
        } else if (str_eq(argv[i], "-V") || str_eq(argv[i], "--version")) {
            printf("capproxy %s (libevent %s, %s)\n", CAPPROXY_VERSION, event_get_version(),
                   curl_version());
            exit(0);
        } else if (str_eq(argv[i], "-c") || str_eq(argv[i], "--config")) {
            if (++i >= argc) {
                fprintf(stderr, "capproxy: -c needs a file\n");
                return -1;
            }
            a->config = argv[i];
            a->config_given = true;
        } else if (argv[i][0] == '-' && argv[i][1]) {
            fprintf(stderr, "capproxy: unknown option '%s'\n", argv[i]);
            usage(stderr);
            return -1;
        } else {
            a->paths[a->npaths++] = argv[i];
        }
    }
    if (a->npaths == 0) {
        if (str_eq(a->cmd, "validate")) {
            fprintf(stderr, "capproxy: validate needs at least one FILE or DIR\n");
            return -1;
        }
        a->paths[a->npaths++] = DEFAULT_CAPABILITIES;
    }
    return 0;
}

/* Diagnostics as "file:line:col: error: ..." lines, or through the logger as JSON lines. */
static void print_diags(const struct diag *d, bool json)
{
    if (!json) {
        diag_print(d, stderr);
        if (d->nerrors)
            fprintf(stderr, "capproxy: %zu error%s\n", d->nerrors, d->nerrors == 1 ? "" : "s");
        return;
    }
    for (size_t i = 0; i < d->n; i++) {
        char *s = diag_format(&d->v[i]);
        log_msg(d->v[i].level == DIAG_ERROR ? LOG_ERROR : LOG_WARN, "%s", s);
        free(s);
    }
    if (d->nerrors)
        LOG_E("%zu error%s", d->nerrors, d->nerrors == 1 ? "" : "s");
}

/* Load configuration and documents and build the runtime, which owns the configuration;
 * diagnostics go to stderr. NULL when anything is wrong. */
static struct runtime *load_all(const struct args *a)
{
    struct diag d;
    diag_init(&d);
    struct runtime *rt = NULL;
    struct model *m = model_new();
    struct config *cfg = xcalloc(1, sizeof *cfg);
    config_defaults(cfg);
    config_load_file(cfg, a->config, a->config_given, &d);
    config_apply_env(cfg, &d);
    config_finish(cfg, &d);
    log_init((enum log_level)cfg->log_level, cfg->access_log, cfg->log_json);
    bool cfg_json = cfg->log_json;
    /* The documents are read even when the configuration has errors, so that one run of
     * `validate` reports every error there is, not the configuration's first. */
    size_t cfg_errors = d.nerrors;
    for (size_t i = 0; i < a->npaths; i++)
        loader_load_path(m, a->paths[i], &d);
    if (d.nerrors == cfg_errors)
        checks_validate(m, &d);
    if (d.nerrors == 0) {
        rt = runtime_build(m, cfg, &d);
        m = NULL; /* owned by the runtime now, whatever the outcome */
    }
    model_free(m);
    if (rt) {
        rt->owned_config = cfg;
    } else {
        config_deinit(cfg);
        free(cfg);
    }
    print_diags(&d, cfg_json);
    diag_deinit(&d);
    return rt;
}

static struct runtime *reload(void *arg)
{
    return load_all(arg);
}

/* The run mode's stdio session ended (its client closed stdin): the process ends with it. */
static void stdio_ended(void *arg)
{
    server_request_stop(arg, "stdin closed");
}

int main(int argc, char **argv)
{
    struct args a = {0};
    if (parse_args(argc, argv, &a) < 0) {
        free(a.paths);
        return 2;
    }
    struct runtime *rt = load_all(&a);
    int rc = 0;
    if (str_eq(a.cmd, "validate")) {
        rc = rt ? 0 : 1;
        if (rt)
            printf("capproxy: %zu document%s valid\n", rt->model->ncaps,
                   rt->model->ncaps == 1 ? "" : "s");
        goto out;
    }
    if (!rt) {
        rc = 1;
        goto out;
    }
    if (str_eq(a.cmd, "routes")) {
        routes_print(rt, stdout);
        goto out;
    }
    if (!str_eq(a.cmd, "mcp-stdio") && session_global_init() < 0) {
        rc = 1; /* the session key: reported now, not at the first MCP client */
        goto out;
    }
    signal(SIGPIPE, SIG_IGN);
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        LOG_E("curl_global_init failed");
        rc = 1;
        goto out;
    }
    if (str_eq(a.cmd, "mcp-stdio")) {
        /* One loop on this thread; stdout carries only JSON-RPC, logs go to stderr. */
        rc = mcp_stdio_run(rt);
        curl_global_cleanup();
        goto out;
    }
    evthread_use_pthreads(); /* the main thread wakes the workers with event_active */
    struct server srv;
    struct mcp_stdio_thread *stdio = NULL;
    if (server_start(&srv, rt->config, rt, reload, &a) < 0) {
        server_stop(&srv); /* closes what was bound; the runtime stays ours */
        rc = 1;
    } else if (rt->stdio_adapter_ep &&
               !(stdio = mcp_stdio_spawn(rt, rt->stdio_adapter_ep, stdio_ended, &srv))) {
        server_stop(&srv);
        rc = 1;
    } else {
        server_run(&srv);
        mcp_stdio_join(stdio);
        rt = srv.rt; /* the current one after reloads: the server's reference is ours now */
        LOG_I("stopped");
    }
    curl_global_cleanup();
out:
    runtime_unref(rt);
    free(a.paths);
    return rc;
}
