/*
 * healthcheck: GET /healthz on the configured admin listener, for HEALTHCHECK in the image.
 */
#include "app/healthcheck.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "base/diag.h"
#include "base/util.h"
#include "spec/config.h"

/* Docker's default --timeout is 30 s and the image's is 3 s: answer well within both. */
#define HEALTHCHECK_TIMEOUT_MS 2000L

/* The body is not wanted: /healthz's status says it all. */
static size_t discard(char *p, size_t size, size_t n, void *arg)
{
    (void)p;
    (void)arg;
    return size * n;
}

/* The address to connect to for listener <l>: a wildcard bind is reached on loopback. */
static char *admin_url(const struct config_listen *l)
{
    const char *h = l->host;
    if (!h || !*h || str_eq(h, "0.0.0.0"))
        h = "127.0.0.1";
    else if (str_eq(h, "::"))
        h = "::1";
    bool v6 = strchr(h, ':') != NULL;
    return xasprintf("http://%s%s%s:%d/healthz", v6 ? "[" : "", h, v6 ? "]" : "", l->port);
}

static int probe(const char *url)
{
    int rc = 1;
    CURL *e = curl_easy_init();
    if (!e) {
        fprintf(stderr, "capproxy healthcheck: curl_easy_init failed\n");
        return 1;
    }
    char err[CURL_ERROR_SIZE] = "";
    bool bad = false;
#define SET(opt, val) bad |= curl_easy_setopt(e, opt, val) != CURLE_OK
    SET(CURLOPT_URL, url);
    SET(CURLOPT_NOPROXY, "*"); /* an HTTP_PROXY in the container's environment is not for this */
    SET(CURLOPT_TIMEOUT_MS, HEALTHCHECK_TIMEOUT_MS);
    SET(CURLOPT_NOSIGNAL, 1L);
    SET(CURLOPT_WRITEFUNCTION, discard);
    SET(CURLOPT_ERRORBUFFER, err);
    SET(CURLOPT_USERAGENT, "capproxy-healthcheck/" CAPPROXY_VERSION);
#undef SET
    if (bad) {
        fprintf(stderr, "capproxy healthcheck: cannot set up the request\n");
        goto out;
    }
    CURLcode c = curl_easy_perform(e);
    if (c != CURLE_OK) {
        fprintf(stderr, "capproxy healthcheck: %s: %s\n", url,
                err[0] ? err : curl_easy_strerror(c));
        goto out;
    }
    long status = 0;
    curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
    if (status != 200) {
        fprintf(stderr, "capproxy healthcheck: %s: HTTP %ld\n", url, status);
        goto out;
    }
    rc = 0;
out:
    curl_easy_cleanup(e);
    return rc;
}

int healthcheck_main(const char *config_path, bool required)
{
    int rc = 2;
    char *url = NULL;
    struct diag d;
    diag_init(&d);
    struct config cfg;
    config_defaults(&cfg);
    config_load_file(&cfg, config_path, required, &d);
    config_apply_env(&cfg, &d);
    config_finish(&cfg, &d);
    if (d.nerrors) {
        diag_print(&d, stderr);
        goto out;
    }
    if (cfg.admin_listen.port <= 0) {
        fprintf(stderr, "capproxy healthcheck: the admin listener is %s: nothing to check\n",
                cfg.admin_listen.port < 0 ? "off" : "on an ephemeral port (0)");
        goto out;
    }
    url = admin_url(&cfg.admin_listen);
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        fprintf(stderr, "capproxy healthcheck: curl_global_init failed\n");
        rc = 1;
        goto out;
    }
    rc = probe(url);
    curl_global_cleanup();
out:
    free(url);
    config_deinit(&cfg);
    diag_deinit(&d);
    return rc;
}
