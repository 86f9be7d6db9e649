/*
 * Unit tests for router: template compilation and its errors, duplicate detection, matching on
 * the raw path (literal precedence, strict trailing slash, encoded slashes), captures, and the
 * 405 allow mask.
 */
#include <stdio.h>
#include <string.h>

#include "harness.h"
#include "core/router.h"

#define BIT(m) (1u << (m))

/* Distinct targets: their addresses are what the router hands back. */
static int t_users_list, t_users_create, t_user_get, t_user_delete, t_me_post, t_force, t_refresh,
    t_root, t_deep, t_other, t_trailing, t_mixed, t_x, t_y;

static struct router *r;
static struct router_match m;

static enum router_result match(enum model_method method, const char *path)
{
    memset(&m, 0xA5, sizeof m); /* whatever was there must be overwritten */
    return router_match(r, method, path, strlen(path), &m);
}

/* The raw value of capture <name>, copied into a static buffer; "(none)" if absent. */
static const char *cap(const char *name)
{
    static char buf[256];
    for (size_t i = 0; i < m.ncaptures; i++) {
        if (strcmp(m.captures[i].name, name) == 0) {
            snprintf(buf, sizeof buf, "%.*s", (int)m.captures[i].len, m.captures[i].value);
            return buf;
        }
    }
    return "(none)";
}

static int add(enum model_method method, const char *tpl, void *target)
{
    void *conflict = (void *)1;
    const char *err = NULL;
    int rc = router_add(r, method, tpl, target, &conflict, &err);
    if (rc == 0 && (conflict != NULL && conflict != (void *)1))
        return 98; /* success never reports a conflict */
    if (rc < 0 && !err)
        return 99; /* a failure always has a message */
    return rc;
}

static void build(void)
{
    r = router_new();
    CHECK(add(MODEL_GET, "/v1/users", &t_users_list) == 0);
    CHECK(add(MODEL_POST, "/v1/users", &t_users_create) == 0);
    CHECK(add(MODEL_GET, "/v1/users/{id}", &t_user_get) == 0);
    CHECK(add(MODEL_DELETE, "/v1/users/{{ userId }}", &t_user_delete) == 0);
    CHECK(add(MODEL_POST, "/v1/users/me", &t_me_post) == 0);
    CHECK(add(MODEL_GET, "/v1/v2/oauth-clients/{clientid}/users/{userid}/force-refresh",
              &t_force) == 0);
    CHECK(add(MODEL_POST, "/v1/v2/oauth/{clientid}/refresh", &t_refresh) == 0);
    CHECK(add(MODEL_GET, "/", &t_root) == 0);
    CHECK(add(MODEL_GET, "/a/b/c", &t_deep) == 0);
    CHECK(add(MODEL_GET, "/{x}/b/d", &t_other) == 0);
    CHECK(add(MODEL_GET, "/slash/", &t_trailing) == 0);
    CHECK(add(MODEL_PUT, "/m/{a}/lit/{b}", &t_mixed) == 0);
    CHECK(router_count(r) == 12);
}

static void test_add_errors(void)
{
    void *conflict = (void *)1;
    const char *err = NULL;

    /* same method and shape, whatever the variable names */
    CHECK(router_add(r, MODEL_GET, "/v1/users/{other}", &t_x, &conflict, &err) == -1);
    CHECK(conflict == &t_user_get);
    CHECK(err != NULL && *err);
    conflict = (void *)1;
    CHECK(router_add(r, MODEL_GET, "/v1/users", &t_x, &conflict, &err) == -1);
    CHECK(conflict == &t_users_list);
    CHECK(router_add(r, MODEL_DELETE, "/v1/users/{{id}}", &t_x, &conflict, &err) == -1);
    CHECK(conflict == &t_user_delete);
    CHECK(router_add(r, MODEL_GET, "/", &t_x, &conflict, &err) == -1);
    CHECK(conflict == &t_root);
    CHECK(router_add(r, MODEL_PUT, "/m/{z}/lit/{{ y }}", &t_x, &conflict, &err) == -1);
    CHECK(conflict == &t_mixed);
    /* a NULL target can conflict too */
    CHECK(add(MODEL_HEAD, "/null-target", NULL) == 0);
    conflict = (void *)1;
    CHECK(router_add(r, MODEL_HEAD, "/null-target", &t_x, &conflict, &err) == -1);
    CHECK(conflict == NULL);

    /* malformed: conflict is NULL */
    const char *bad[] = {
        "",
        "v1/users",
        "users",
        "/v1//users",
        "//",
        "/v1/{}",
        "/v1/{ }",
        "/v1/{{}}",
        "/v1/{id",
        "/v1/id}",
        "/v1/{{id}",
        "/v1/{id}}",
        "/v1/{id}x",
        "/v1/x{id}",
        "/v1/{a{b}}",
        "/v1/{a}b{c}",
        "/v1/a b",
        "/v1/a?b",
        "/v1/a#b",
        "/v1/a\tb",
        "/v1/a\x7f",
        "/{a}/{A}",
        "/{id}/x/{{ id }}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        conflict = (void *)1;
        err = NULL;
        int rc = router_add(r, MODEL_GET, bad[i], &t_x, &conflict, &err);
        CHECK(rc == -1);
        CHECK(conflict == NULL);
        CHECK(err != NULL && *err);
        if (rc == 0)
            fprintf(stderr, "  accepted: \"%s\"\n", bad[i]);
    }
    CHECK(router_add(r, MODEL_GET, NULL, &t_x, &conflict, &err) == -1);
    CHECK(router_add(r, MODEL_METHOD_COUNT, "/fine", &t_x, &conflict, &err) == -1);
    CHECK(router_add(r, (enum model_method) - 1, "/fine", &t_x, &conflict, &err) == -1);

    /* limits: 16 variables fit, 17 do not; depth is bounded */
    char tpl[1024] = "";
    for (int i = 0; i < 16; i++)
        snprintf(tpl + strlen(tpl), sizeof tpl - strlen(tpl), "/{v%d}", i);
    CHECK(add(MODEL_OPTIONS, tpl, &t_y) == 0);
    snprintf(tpl + strlen(tpl), sizeof tpl - strlen(tpl), "/{v16}");
    CHECK(add(MODEL_OPTIONS, tpl, &t_y) == -1);
    tpl[0] = '\0';
    for (int i = 0; i < 65; i++)
        strcat(tpl, "/s");
    CHECK(add(MODEL_OPTIONS, tpl, &t_y) == -1);

    /* conflict and err may be NULL */
    CHECK(router_add(r, MODEL_GET, "/v1/users", &t_x, NULL, NULL) == -1);
    CHECK(router_add(r, MODEL_GET, "bad", &t_x, NULL, NULL) == -1);

    /* failures added nothing */
    CHECK(router_count(r) == 14);
}

static void test_match_basic(void)
{
    CHECK(match(MODEL_GET, "/v1/users") == ROUTER_FOUND);
    CHECK(m.target == &t_users_list);
    CHECK(m.ncaptures == 0);
    CHECK(m.allow_mask == (BIT(MODEL_GET) | BIT(MODEL_POST)));
    CHECK(match(MODEL_POST, "/v1/users") == ROUTER_FOUND);
    CHECK(m.target == &t_users_create);

    CHECK(match(MODEL_GET, "/v1/users/42") == ROUTER_FOUND);
    CHECK(m.target == &t_user_get);
    CHECK(m.ncaptures == 1);
    CHECK_STR(m.captures[0].name, "id");
    CHECK_STR(cap("id"), "42");
    CHECK(strncmp(m.captures[0].value, "42", 2) == 0);
    CHECK(m.allow_mask == (BIT(MODEL_GET) | BIT(MODEL_DELETE)));

    /* the capture name is the route's own, trimmed */
    CHECK(match(MODEL_DELETE, "/v1/users/42") == ROUTER_FOUND);
    CHECK(m.target == &t_user_delete);
    CHECK_STR(cap("userId"), "42");
    CHECK_STR(cap("id"), "(none)");

    CHECK(match(MODEL_GET, "/v1/v2/oauth-clients/cl%201/users/u-9/force-refresh") == ROUTER_FOUND);
    CHECK(m.target == &t_force);
    CHECK(m.ncaptures == 2);
    CHECK_STR(m.captures[0].name, "clientid");
    CHECK_STR(m.captures[1].name, "userid");
    CHECK_STR(cap("clientid"), "cl%201");
    CHECK_STR(cap("userid"), "u-9");

    CHECK(match(MODEL_PUT, "/m/1/lit/2") == ROUTER_FOUND);
    CHECK(m.target == &t_mixed);
    CHECK_STR(cap("a"), "1");
    CHECK_STR(cap("b"), "2");

    CHECK(match(MODEL_GET, "/") == ROUTER_FOUND);
    CHECK(m.target == &t_root);
    CHECK(match(MODEL_GET, "/slash/") == ROUTER_FOUND);
    CHECK(m.target == &t_trailing);
}

static void test_captures_point_into_path(void)
{
    const char *path = "/v1/users/a%2Fb?ignored";
    size_t len = strlen("/v1/users/a%2Fb");
    CHECK(router_match(r, MODEL_GET, path, len, &m) == ROUTER_FOUND);
    CHECK(m.ncaptures == 1);
    CHECK(m.captures[0].value == path + 10);
    CHECK(m.captures[0].len == 5);

    /* the length bounds the path: what follows is not looked at */
    CHECK(router_match(r, MODEL_GET, "/v1/usersXYZ", 9, &m) == ROUTER_FOUND);
    CHECK(m.target == &t_users_list);
}

static void test_literal_precedence(void)
{
    /* /v1/users/me is literal for POST; GET falls back to the variable route */
    CHECK(match(MODEL_POST, "/v1/users/me") == ROUTER_FOUND);
    CHECK(m.target == &t_me_post);
    CHECK(m.ncaptures == 0);
    CHECK(m.allow_mask == (BIT(MODEL_POST) | BIT(MODEL_GET) | BIT(MODEL_DELETE)));
    CHECK(match(MODEL_GET, "/v1/users/me") == ROUTER_FOUND);
    CHECK(m.target == &t_user_get);
    CHECK_STR(cap("id"), "me");
    CHECK(match(MODEL_PUT, "/v1/users/me") == ROUTER_METHOD_NOT_ALLOWED);
    CHECK(m.allow_mask == (BIT(MODEL_POST) | BIT(MODEL_GET) | BIT(MODEL_DELETE)));

    /* once a literal branch dead-ends, the variable branch is tried (backtracking) */
    CHECK(match(MODEL_GET, "/a/b/c") == ROUTER_FOUND);
    CHECK(m.target == &t_deep);
    CHECK(m.ncaptures == 0);
    CHECK(match(MODEL_GET, "/a/b/d") == ROUTER_FOUND);
    CHECK(m.target == &t_other);
    CHECK_STR(cap("x"), "a");
    CHECK(match(MODEL_GET, "/zz/b/d") == ROUTER_FOUND);
    CHECK_STR(cap("x"), "zz");
    CHECK(match(MODEL_GET, "/a/b/e") == ROUTER_NOT_FOUND);

    /* a later literal route wins over an earlier variable route */
    struct router *r2 = router_new();
    void *conflict;
    const char *err;
    CHECK(router_add(r2, MODEL_GET, "/x/{v}", &t_x, &conflict, &err) == 0);
    CHECK(router_add(r2, MODEL_GET, "/x/lit", &t_y, &conflict, &err) == 0);
    CHECK(router_match(r2, MODEL_GET, "/x/lit", 6, &m) == ROUTER_FOUND);
    CHECK(m.target == &t_y);
    CHECK(router_match(r2, MODEL_GET, "/x/lat", 6, &m) == ROUTER_FOUND);
    CHECK(m.target == &t_x);
    router_free(r2);
}

static void test_not_found(void)
{
    const char *paths[] = {
        "",                   /* empty */
        "v1/users",           /* no leading slash */
        "/v1/users/",         /* strict trailing slash */
        "/v1/users/42/",      /* idem, a variable never matches "" */
        "/v1/users//",        /* empty segment */
        "/v1//users",         /* no normalisation */
        "//v1/users",         /* idem */
        "/v1/users/42/extra", /* too long */
        "/v1",                /* too short */
        "/V1/users",          /* case-sensitive */
        "/v1/Users",          /* idem */
        "/v1/users%2F42",     /* %2F does not split segments */
        "/v1/x/../users",     /* no dot-segment removal */
        "/v1/./users",        /* idem */
        "/slash",             /* route is "/slash/" */
        "/slash//",           /* idem */
        "/nothing",           /* unknown */
        "/v1/users?x=1",      /* a query is part of the last segment: caller strips it */
    };
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
        enum router_result res = match(MODEL_GET, paths[i]);
        CHECK(res == ROUTER_NOT_FOUND);
        CHECK(m.target == NULL && m.ncaptures == 0 && m.allow_mask == 0);
        if (res != ROUTER_NOT_FOUND)
            fprintf(stderr, "  matched: \"%s\"\n", paths[i]);
    }
    CHECK(router_match(r, MODEL_GET, NULL, 0, &m) == ROUTER_NOT_FOUND);
    CHECK(router_match(NULL, MODEL_GET, "/", 1, &m) == ROUTER_NOT_FOUND);
    /* a zero length means empty, even if the bytes say otherwise */
    CHECK(router_match(r, MODEL_GET, "/", 0, &m) == ROUTER_NOT_FOUND);
}

static void test_raw_segments(void)
{
    /* raw, still-encoded values are captured as one segment each; checking them is the
     * caller's job (urlenc_decode + urlenc_segment_value_ok) */
    CHECK(match(MODEL_GET, "/v1/users/a%2Fb") == ROUTER_FOUND);
    CHECK_STR(cap("id"), "a%2Fb");
    CHECK(match(MODEL_GET, "/v1/users/..") == ROUTER_FOUND);
    CHECK_STR(cap("id"), "..");
    CHECK(match(MODEL_GET, "/v1/users/%2e%2e") == ROUTER_FOUND);
    CHECK_STR(cap("id"), "%2e%2e");
    CHECK(match(MODEL_GET, "/v1/users/a%00b") == ROUTER_FOUND);
    CHECK_STR(cap("id"), "a%00b");
    CHECK(match(MODEL_GET, "/v1/users/x%0d%0ay") == ROUTER_FOUND);
    CHECK_STR(cap("id"), "x%0d%0ay");
    CHECK(match(MODEL_GET, "/v1/users/\xc3\xbc") == ROUTER_FOUND);
    CHECK_STR(cap("id"), "\xc3\xbc");
    CHECK(match(MODEL_GET, "/v1/users/a+b%20c") == ROUTER_FOUND);
    CHECK_STR(cap("id"), "a+b%20c");
    CHECK(match(MODEL_GET, "/v1/users/%23frag") == ROUTER_FOUND);
    CHECK_STR(cap("id"), "%23frag");
}

static void test_method_not_allowed(void)
{
    CHECK(match(MODEL_DELETE, "/v1/users") == ROUTER_METHOD_NOT_ALLOWED);
    CHECK(m.target == NULL);
    CHECK(m.ncaptures == 0);
    CHECK(m.allow_mask == (BIT(MODEL_GET) | BIT(MODEL_POST)));
    CHECK(match(MODEL_POST, "/v1/users/42") == ROUTER_METHOD_NOT_ALLOWED);
    CHECK(m.allow_mask == (BIT(MODEL_GET) | BIT(MODEL_DELETE)));
    CHECK(match(MODEL_HEAD, "/") == ROUTER_METHOD_NOT_ALLOWED); /* no implicit HEAD */
    CHECK(m.allow_mask == BIT(MODEL_GET));
    CHECK(match(MODEL_POST, "/a/b/d") == ROUTER_METHOD_NOT_ALLOWED);
    CHECK(m.allow_mask == BIT(MODEL_GET));
    /* the union of every matching route: /a/b/c (literal) and nothing else */
    CHECK(match(MODEL_POST, "/a/b/c") == ROUTER_METHOD_NOT_ALLOWED);
    CHECK(m.allow_mask == BIT(MODEL_GET));
    CHECK(router_match(r, MODEL_METHOD_COUNT, "/v1/users", 9, &m) == ROUTER_METHOD_NOT_ALLOWED);
    CHECK(m.allow_mask == (BIT(MODEL_GET) | BIT(MODEL_POST)));
}

static void test_max_captures(void)
{
    struct router *r2 = router_new();
    char tpl[256] = "", path[256] = "";
    for (int i = 0; i < ROUTER_MAX_CAPTURES; i++) {
        snprintf(tpl + strlen(tpl), sizeof tpl - strlen(tpl), "/{v%d}", i);
        snprintf(path + strlen(path), sizeof path - strlen(path), "/%d", i * 10);
    }
    CHECK(router_add(r2, MODEL_GET, tpl, &t_x, NULL, NULL) == 0);
    CHECK(router_match(r2, MODEL_GET, path, strlen(path), &m) == ROUTER_FOUND);
    CHECK(m.ncaptures == ROUTER_MAX_CAPTURES);
    CHECK_STR(m.captures[15].name, "v15");
    CHECK(m.captures[15].len == 3 && memcmp(m.captures[15].value, "150", 3) == 0);
    CHECK(m.captures[0].len == 1 && m.captures[0].value[0] == '0');
    strcat(path, "/more");
    CHECK(router_match(r2, MODEL_GET, path, strlen(path), &m) == ROUTER_NOT_FOUND);
    router_free(r2);
}

static void test_many_routes(void)
{
    /* hundreds of sibling literals exercise the sorted insert and the binary search */
    static int targets[300];
    struct router *r2 = router_new();
    char tpl[64];
    for (int i = 299; i >= 0; i--) {
        snprintf(tpl, sizeof tpl, "/api/r%d/{id}", i);
        CHECK(router_add(r2, MODEL_GET, tpl, &targets[i], NULL, NULL) == 0);
    }
    CHECK(router_count(r2) == 300);
    int ok = 0;
    for (int i = 0; i < 300; i++) {
        char path[64];
        snprintf(path, sizeof path, "/api/r%d/x%d", i, i);
        if (router_match(r2, MODEL_GET, path, strlen(path), &m) == ROUTER_FOUND &&
            m.target == &targets[i] && m.ncaptures == 1 &&
            m.captures[0].len == strlen(path) - (size_t)(strrchr(path, '/') - path) - 1)
            ok++;
    }
    CHECK(ok == 300);
    CHECK(router_match(r2, MODEL_GET, "/api/r300/x", 11, &m) == ROUTER_NOT_FOUND);
    CHECK(router_match(r2, MODEL_GET, "/api/r/x", 8, &m) == ROUTER_NOT_FOUND);
    router_free(r2);
}

int main(void)
{
    build();
    RUN(test_add_errors());
    RUN(test_match_basic());
    RUN(test_captures_point_into_path());
    RUN(test_literal_precedence());
    RUN(test_not_found());
    RUN(test_raw_segments());
    RUN(test_method_not_allowed());
    RUN(test_max_captures());
    RUN(test_many_routes());
    router_free(r);
    router_free(NULL);
    CHECK(router_count(NULL) == 0);
    return harness_report();
}
