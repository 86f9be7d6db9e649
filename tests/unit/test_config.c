/* Unit tests for config: file reading with positions, ${VAR} expansion, environment overrides,
 * secrets from env and files, globs. */
#include "harness.h"

#include <stdlib.h>
#include <unistd.h>

#include "config.h"
#include "log.h"

static char *write_tmp(const char *text)
{
    char *path = strdup("/tmp/capproxy-test-XXXXXX");
    int fd = mkstemp(path);
    if (fd < 0)
        return path;
    ssize_t w = write(fd, text, strlen(text));
    (void)w;
    close(fd);
    return path;
}

static void test_expand(void)
{
    const char *err = NULL;
    setenv("CPX_T1", "v1", 1);
    unsetenv("CPX_UNSET");
    char *s = config_expand_env("a-${CPX_T1}-${CPX_UNSET:-dflt}-${CPX_UNSET}-z", &err);
    CHECK_STR(s, "a-v1-dflt--z");
    free(s);
    CHECK(config_expand_env("${CPX_T1", &err) == NULL && err != NULL);
    CHECK(config_expand_env("${}", &err) == NULL);
}

static void test_listen_glob(void)
{
    struct config_listen l = {NULL, -1};
    CHECK(config_parse_listen("127.0.0.1:18080", &l) == 0 && l.port == 18080);
    CHECK_STR(l.host, "127.0.0.1");
    CHECK(config_parse_listen("[::1]:0", &l) == 0 && l.port == 0);
    CHECK_STR(l.host, "::1");
    CHECK(config_parse_listen("9090", &l) == 0 && l.port == 9090 && l.host == NULL);
    CHECK(config_parse_listen("host:99999", &l) == -1);
    CHECK(config_parse_listen("host:", &l) == -1);
    free(l.host);
    CHECK(config_glob_match("cal-com-*", "cal-com-platform-webhooks"));
    CHECK(config_glob_match("*", "anything"));
    CHECK(!config_glob_match("cal-com-*", "stripe"));
    CHECK(config_glob_match("a?c", "abc"));
}

static void test_file_and_env(void)
{
    char *secret = write_tmp("file-secret\n");
    setenv("CPX_SECRET_FILE", secret, 1);
    setenv("CPX_BASE", "http://127.0.0.1:1234", 1);
    char *path = write_tmp("rest:\n  listen: 127.0.0.1:8081\n"
                           "workers: 3\n"
                           "limits:\n  maxBodySize: 2k\n  clientTimeout: 5s\n"
                           "upstream:\n  timeout: 750ms\n  tlsVerify: false\n"
                           "log:\n  level: debug\n  access: off\n"
                           "consumers:\n"
                           "  - namespace: 'cal-com-*'\n"
                           "    baseUri: ${CPX_BASE:-https://api.cal.com}\n"
                           "    credentials:\n"
                           "      - header: x-cal-secret-key\n"
                           "        fromEnv: CPX_SECRET_ENV\n"
                           "        fromFile: ${CPX_SECRET_FILE}\n");
    struct config c;
    struct diag d;
    diag_init(&d);
    config_defaults(&c);
    unsetenv("CPX_SECRET_ENV");
    CHECK(config_load_file(&c, path, true, &d) == 0);
    CHECK(config_finish(&c, &d) == 0);
    CHECK(d.nerrors == 0);
    CHECK(c.rest_listen.port == 8081 && c.workers == 3 && c.max_body_size == 2048);
    CHECK(c.client_timeout_ms == 5000 && c.upstream_timeout_ms == 750);
    CHECK(!c.upstream_tls_verify && c.log_level == LOG_DEBUG && !c.access_log);
    const struct config_consumer *cc = config_consumer_for(&c, "cal-com-x");
    CHECK(cc != NULL);
    CHECK(config_consumer_for(&c, "other") == NULL);
    if (cc) {
        CHECK_STR(cc->base_uri, "http://127.0.0.1:1234");
        CHECK(cc->ncredentials == 1);
        CHECK_STR(cc->credentials[0].value, "file-secret"); /* trailing newline removed */
        CHECK(strstr(cc->credentials[0].source, "file ") == cc->credentials[0].source);
    }
    config_deinit(&c);

    /* The environment wins over the file, and the env source wins over the file source. */
    setenv("CAPPROXY_REST_LISTEN", "127.0.0.1:0", 1);
    setenv("CAPPROXY_UPSTREAM_TIMEOUT", "2s", 1);
    setenv("CPX_SECRET_ENV", "env-secret", 1);
    config_defaults(&c);
    CHECK(config_load_file(&c, path, true, &d) == 0);
    CHECK(config_apply_env(&c, &d) == 0);
    CHECK(config_finish(&c, &d) == 0);
    CHECK(c.rest_listen.port == 0 && c.upstream_timeout_ms == 2000);
    CHECK_STR(c.consumers[0].credentials[0].value, "env-secret");
    config_deinit(&c);

    setenv("CAPPROXY_WORKERS", "lots", 1);
    config_defaults(&c);
    CHECK(config_apply_env(&c, &d) == -1);
    CHECK(diag_contains(&d, "CAPPROXY_WORKERS expects"));
    config_deinit(&c);
    unsetenv("CAPPROXY_WORKERS");
    unsetenv("CAPPROXY_REST_LISTEN");
    unsetenv("CAPPROXY_UPSTREAM_TIMEOUT");
    unlink(path);
    unlink(secret);
    free(path);
    free(secret);
    diag_deinit(&d);
}

static void test_bad_file(void)
{
    char *path = write_tmp("limits:\n  maxBodySize: huge\nupstream: [1]\n");
    struct config c;
    struct diag d;
    diag_init(&d);
    config_defaults(&c);
    CHECK(config_load_file(&c, path, true, &d) == -1);
    char want[256];
    snprintf(want, sizeof want, "%s:2:16: error: 'maxBodySize' expects a size", path);
    CHECK(diag_contains(&d, want));
    snprintf(want, sizeof want, "%s:3:11: error: expected a mapping for 'upstream'", path);
    CHECK(diag_contains(&d, want));
    config_deinit(&c);
    diag_deinit(&d);
    diag_init(&d);
    config_defaults(&c);
    CHECK(config_load_file(&c, "/nonexistent/capproxy.yaml", false, &d) == 0);
    CHECK(config_load_file(&c, "/nonexistent/capproxy.yaml", true, &d) == -1);
    CHECK(diag_contains(&d, "cannot read configuration"));
    config_deinit(&c);
    diag_deinit(&d);
    unlink(path);
    free(path);
}

/* The framing limits: defaults, file keys, environment, and the maxHeaders range (the front
 * ends' header arrays hold CONFIG_MAX_HEADERS_LIMIT). */
static void test_framing_limits(void)
{
    struct config c;
    struct diag d;
    diag_init(&d);
    config_defaults(&c);
    CHECK(c.max_headers == 100 && c.header_timeout_ms == 10000 && c.body_timeout_ms == 30000);
    char *path =
        write_tmp("limits:\n  maxHeaders: 50\n  headerTimeout: 2s\n  bodyTimeout: 1500ms\n");
    CHECK(config_load_file(&c, path, true, &d) == 0);
    CHECK(c.max_headers == 50 && c.header_timeout_ms == 2000 && c.body_timeout_ms == 1500);
    setenv("CAPPROXY_MAX_HEADERS", "200", 1);
    setenv("CAPPROXY_HEADER_TIMEOUT", "0", 1);
    setenv("CAPPROXY_BODY_TIMEOUT", "1m", 1);
    CHECK(config_apply_env(&c, &d) == 0);
    CHECK(c.max_headers == 200 && c.header_timeout_ms == 0 && c.body_timeout_ms == 60000);
    setenv("CAPPROXY_MAX_HEADERS", "513", 1);
    CHECK(config_apply_env(&c, &d) == -1);
    CHECK(diag_contains(&d, "CAPPROXY_MAX_HEADERS expects 1 to 512"));
    unsetenv("CAPPROXY_MAX_HEADERS");
    unsetenv("CAPPROXY_HEADER_TIMEOUT");
    unsetenv("CAPPROXY_BODY_TIMEOUT");
    config_deinit(&c);
    diag_deinit(&d);
    unlink(path);
    free(path);

    char *bad = write_tmp("limits:\n  maxHeaders: 1000\n");
    diag_init(&d);
    config_defaults(&c);
    CHECK(config_load_file(&c, bad, true, &d) == -1);
    CHECK(diag_contains(&d, "maxHeaders"));
    config_deinit(&c);
    diag_deinit(&d);
    unlink(bad);
    free(bad);
}

int main(void)
{
    test_expand();
    test_listen_glob();
    test_file_and_env();
    test_bad_file();
    test_framing_limits();
    return harness_report();
}
