/* Unit tests for config: file reading with positions, ${VAR} expansion, environment overrides,
 * secrets from env and files, globs. */
#include "harness.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "spec/config.h"
#include "base/log.h"

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

/* Read <text> as a configuration file; its diagnostics, one per line, with the temporary file's
 * name replaced by "c.yaml" (caller frees). */
static char *load_text(const char *text, int *rc)
{
    char *path = write_tmp(text);
    struct config c;
    struct diag d;
    struct strbuf out;
    diag_init(&d);
    config_defaults(&c);
    *rc = config_load_file(&c, path, true, &d);
    strbuf_init(&out, 0);
    for (size_t i = 0; i < d.n; i++) {
        char *line = diag_format(&d.v[i]);
        size_t plen = strlen(path);
        strbuf_adds(&out, "c.yaml");
        strbuf_adds(&out, strncmp(line, path, plen) == 0 ? line + plen : line);
        strbuf_addc(&out, '\n');
        free(line);
    }
    config_deinit(&c);
    diag_deinit(&d);
    unlink(path);
    free(path);
    return strbuf_detach(&out, NULL);
}

/* A typo in any section is an error at its own position, with "did you mean"; every one of the
 * file is reported, and what a typo leaves missing is not reported again. */
static void test_unknown_keys(void)
{
    int rc;
    char *got = load_text("rest:\n"                   /* 1 */
                          "  listn: 127.0.0.1:8080\n" /* 2 */
                          "mcp:\n"                    /* 3 */
                          "  allowedHost: [a]\n"      /* 4 */
                          "admin: {liste: off}\n"     /* 5 */
                          "worker: 2\n"               /* 6 */
                          "limits:\n"                 /* 7 */
                          "  maxBodySise: 1k\n"       /* 8 */
                          "  x-comment: fine\n"       /* 9 */
                          "upstream:\n"               /* 10 */
                          "  tlsverify: false\n"      /* 11 */
                          "log:\n"                    /* 12 */
                          "  colour: always\n"        /* 13 */
                          "consumers:\n"              /* 14 */
                          "  - namespce: 'a*'\n"      /* 15 */
                          "    credentials:\n"        /* 16 */
                          "      - haeder: x-key\n"   /* 17 */
                          "        fromEnv: KEY\n"    /* 18 */
                          "x-deploy: {team: gw}\n",   /* 19 */
                          &rc);
    CHECK(rc == -1);
    CHECK_STR(got, "c.yaml:6:1: error: unknown key 'worker' in the configuration (did you mean "
                   "'workers'?)\n"
                   "c.yaml:2:3: error: unknown key 'listn' in rest (did you mean 'listen'?)\n"
                   "c.yaml:4:3: error: unknown key 'allowedHost' in mcp (did you mean "
                   "'allowedHosts'?)\n"
                   "c.yaml:5:9: error: unknown key 'liste' in admin (did you mean 'listen'?)\n"
                   "c.yaml:8:3: error: unknown key 'maxBodySise' in limits (did you mean "
                   "'maxBodySize'?)\n"
                   "c.yaml:11:3: error: unknown key 'tlsverify' in upstream (did you mean "
                   "'tlsVerify'?)\n"
                   "c.yaml:13:3: error: unknown key 'colour' in log (expected level, access or "
                   "format)\n"
                   "c.yaml:15:5: error: unknown key 'namespce' in consumers entry (did you mean "
                   "'namespace'?)\n"
                   "c.yaml:17:9: error: unknown key 'haeder' in credentials entry (did you mean "
                   "'header'?)\n");
    free(got);

    /* The shipped configuration has no unknown key. */
    struct config c;
    struct diag d;
    diag_init(&d);
    config_defaults(&c);
    CHECK(config_load_file(&c, "config/capproxy.yaml", true, &d) == 0);
    CHECK(d.n == 0);
    config_deinit(&c);
    diag_deinit(&d);
}

/* A saved web page instead of the raw file gets a hint, not a YAML syntax error. */
static void test_html(void)
{
    int rc;
    char *got = load_text("\n  <!DOCTYPE html>\n<html><body>rest:</body></html>\n", &rc);
    CHECK(rc == -1);
    CHECK_STR(got, "c.yaml:1:1: error: this looks like an HTML page, not a YAML configuration "
                   "file: did you save a web page instead of the raw file?\n");
    free(got);
}

/* The documented placeholder rule (README.md, "Placeholder secrets"), both ways. */
static void test_placeholder(void)
{
    static const char *const yes[] = {
        "REPLACE-ME",
        "replace_me",
        "ReplaceMe",
        "REPLACE-ME-cal-com-oauth-client-secret",
        "CHANGEME",
        "change-me",
        "Change_Me",
        "changeit",
        "TODO",
        "todo: ask ops",
        "FIXME",
        "TBD",
        "placeholder",
        "<your-api-key>",
        "<>x>",
        "${CAL_COM_API_KEY}",
        "your-api-key-here",
        "YOUR_SECRET",
        "xxx",
        "XXXXXXXXXXXX",
        "****",
        "cal_live_xxxxxxxx",
        "  REPLACE-ME  ",
    };
    static const char *const no[] = {
        "",
        "s",
        "abc",
        "sk-capproxy-TEST-9f27c1e4b8d3a6f05e1d2c3b4a596877",
        "todoist-9f1c2e7a",
        "changemeplease",
        "replacement-key-1",
        "cal_live_8f2c1e9a",
        "xx",
        "youre-1",
        "yours",
        "x1x",
        "box-xxx",
        "<leading",
        "trailing>",
        "${unterminated",
        "tbdx",
    };
    for (size_t i = 0; i < UTIL_ARRAY_LEN(yes); i++) {
        if (!config_is_placeholder(yes[i]))
            fprintf(stderr, "  expected a placeholder: '%s'\n", yes[i]);
        CHECK(config_is_placeholder(yes[i]));
    }
    for (size_t i = 0; i < UTIL_ARRAY_LEN(no); i++) {
        if (config_is_placeholder(no[i]))
            fprintf(stderr, "  expected no placeholder: '%s'\n", no[i]);
        CHECK(!config_is_placeholder(no[i]));
    }
}

/* The in-memory entry (used by the fuzz target) reads the same way and names the buffer. */
static void test_buffer(void)
{
    static const char yaml[] = "workers: 3\nlog:\n  level: loud\n";
    struct config c;
    struct diag d;
    diag_init(&d);
    config_defaults(&c);
    CHECK(config_load_buffer(&c, "mem.yaml", yaml, sizeof yaml - 1, &d) == -1);
    CHECK(c.workers == 3);
    CHECK(diag_contains(&d, "mem.yaml:3:10: error: 'level' expects error, warn, info or debug"));
    CHECK_STR(c.file, "mem.yaml");
    config_deinit(&c);
    diag_deinit(&d);
    /* Not NUL-terminated: only <len> bytes are read. */
    diag_init(&d);
    config_defaults(&c);
    CHECK(config_load_buffer(&c, "mem.yaml", "workers: 2workers", 10, &d) == 0);
    CHECK(c.workers == 2);
    config_deinit(&c);
    diag_deinit(&d);
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

/* mcp.allowedHosts is parsed once by config_finish into {host, port} pairs, and matched as the
 * MCP front end's Host and Origin checks match each entry. */
static void test_allowed_hosts(void)
{
    static const char doc[] = "mcp:\n  allowedHosts:\n"
                              "    - example.com\n"
                              "    - 'Proxy.Example.com:8443'\n"
                              "    - '[::1]:9000'\n"
                              "    - '[fe80::1]'\n"
                              "    - 'fe80::2'\n"        /* bare IPv6: bracketed, any port */
                              "    - 'bad:port:99999'\n" /* does not split: taken whole */
                              "    - 'host:99999'\n";    /* port out of range: taken whole */
    struct config c;
    struct diag d;
    diag_init(&d);
    config_defaults(&c);
    unsetenv("CAPPROXY_MCP_ALLOWED_HOSTS");
    CHECK(config_load_buffer(&c, "allowed.yaml", doc, sizeof doc - 1, &d) == 0);
    CHECK(c.nmcp_allowed == 0); /* not parsed before config_finish */
    CHECK(config_finish(&c, &d) == 0);
    CHECK(c.nmcp_allowed_hosts == 7 && c.nmcp_allowed == 7);
    if (c.nmcp_allowed == 7) {
        CHECK_STR(c.mcp_allowed_hosts[1], "Proxy.Example.com:8443"); /* the strings stay */
        CHECK_STR(c.mcp_allowed[0].host, "example.com");
        CHECK(c.mcp_allowed[0].port == -1);
        CHECK_STR(c.mcp_allowed[1].host, "Proxy.Example.com");
        CHECK(c.mcp_allowed[1].port == 8443);
        CHECK_STR(c.mcp_allowed[2].host, "[::1]");
        CHECK(c.mcp_allowed[2].port == 9000);
        CHECK_STR(c.mcp_allowed[3].host, "[fe80::1]");
        CHECK(c.mcp_allowed[3].port == -1);
        CHECK_STR(c.mcp_allowed[4].host, "[fe80::2]");
        CHECK(c.mcp_allowed[4].port == -1);
        CHECK_STR(c.mcp_allowed[5].host, "[bad:port:99999]");
        CHECK_STR(c.mcp_allowed[6].host, "[host:99999]");
        CHECK(c.mcp_allowed[6].port == -1);
    }
    CHECK(config_mcp_host_allowed(&c, "example.com", 80));
    CHECK(config_mcp_host_allowed(&c, "EXAMPLE.com", 1234)); /* no port: any */
    CHECK(config_mcp_host_allowed(&c, "proxy.example.com", 8443));
    CHECK(!config_mcp_host_allowed(&c, "proxy.example.com", 80));
    CHECK(config_mcp_host_allowed(&c, "proxy.example.com", -1)); /* an Origin: any port */
    CHECK(config_mcp_host_allowed(&c, "[::1]", 9000));
    CHECK(!config_mcp_host_allowed(&c, "[::1]", 9001));
    CHECK(config_mcp_host_allowed(&c, "[FE80::1]", 7));
    CHECK(config_mcp_host_allowed(&c, "[fe80::2]", 7));
    CHECK(!config_mcp_host_allowed(&c, "fe80::2", 7));
    CHECK(config_mcp_host_allowed(&c, "[host:99999]", 80));
    CHECK(!config_mcp_host_allowed(&c, "host", 99999));
    CHECK(!config_mcp_host_allowed(&c, "example.org", 80));
    config_deinit(&c);

    /* The environment's list replaces the file's, and is parsed the same way. */
    setenv("CAPPROXY_MCP_ALLOWED_HOSTS", " a.test:81 , b.test ", 1);
    config_defaults(&c);
    CHECK(config_load_buffer(&c, "allowed.yaml", doc, sizeof doc - 1, &d) == 0);
    CHECK(config_apply_env(&c, &d) == 0);
    CHECK(config_finish(&c, &d) == 0);
    CHECK(c.nmcp_allowed == 2);
    CHECK(config_mcp_host_allowed(&c, "a.test", 81) && !config_mcp_host_allowed(&c, "a.test", 80));
    CHECK(config_mcp_host_allowed(&c, "b.test", 80));
    CHECK(!config_mcp_host_allowed(&c, "example.com", 80));
    /* A second config_finish (as a reload does on a fresh config) parses again, no leak. */
    CHECK(config_finish(&c, &d) == 0);
    CHECK(c.nmcp_allowed == 2);
    config_deinit(&c);
    unsetenv("CAPPROXY_MCP_ALLOWED_HOSTS");
    CHECK(d.nerrors == 0);
    diag_deinit(&d);

    /* No entries: nothing allowed beyond the listener itself. */
    config_defaults(&c);
    CHECK(config_mcp_host_allowed(&c, "example.com", 80) == false);
    config_deinit(&c);
}

static void test_hostport_split(void)
{
    char h[16];
    long port;
    CHECK(hostport_split("a.b:80", 6, h, sizeof h, &port) && port == 80);
    CHECK_STR(h, "a.b");
    CHECK(hostport_split("a.b", 3, h, sizeof h, &port) && port == -1);
    CHECK(hostport_split("[::1]", 5, h, sizeof h, &port) && port == -1);
    CHECK_STR(h, "[::1]");
    CHECK(hostport_split("[::1]:0", 7, h, sizeof h, &port) && port == 0);
    CHECK(hostport_split("x:65535", 7, h, sizeof h, &port) && port == 65535);
    CHECK(!hostport_split("", 0, h, sizeof h, &port));
    CHECK(!hostport_split("::1", 3, h, sizeof h, &port));     /* unbracketed IPv6 */
    CHECK(!hostport_split("[::1", 4, h, sizeof h, &port));    /* unclosed */
    CHECK(!hostport_split("[::1]x", 6, h, sizeof h, &port));  /* text after ']' */
    CHECK(!hostport_split(":80", 3, h, sizeof h, &port));     /* empty host */
    CHECK(!hostport_split("a:", 2, h, sizeof h, &port));      /* empty port */
    CHECK(!hostport_split("a:65536", 7, h, sizeof h, &port)); /* out of range */
    CHECK(!hostport_split("a:8o", 4, h, sizeof h, &port));    /* not a number */
    CHECK(!hostport_split("a:12345678", 10, h, sizeof h, &port));
    CHECK(!hostport_split("0123456789abcdef", 16, h, sizeof h, &port)); /* does not fit */
    CHECK(hostport_split("0123456789abcde:1", 17, h, sizeof h, &port) && port == 1);
    CHECK(hostport_split("a.b:80/x", 6, h, sizeof h, &port)); /* only <len> bytes are read */
}

int main(void)
{
    RUN(test_allowed_hosts());
    RUN(test_hostport_split());
    RUN(test_placeholder());
    RUN(test_expand());
    RUN(test_listen_glob());
    RUN(test_file_and_env());
    RUN(test_bad_file());
    RUN(test_framing_limits());
    RUN(test_unknown_keys());
    RUN(test_html());
    RUN(test_buffer());
    return harness_report();
}
