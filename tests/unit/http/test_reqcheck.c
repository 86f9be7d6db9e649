/*
 * Unit tests for reqcheck: the query parser both front ends and the query credential lookup
 * share (limit, %00 refusal, decoding, the skipped credential), the header collection, the body
 * size and the header credentials.
 */
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "core/inbound.h"
#include "harness.h"
#include "http/reqcheck.h"

static void test_query(void)
{
    struct reqcheck_query q;
    CHECK(reqcheck_query(NULL, NULL, &q) == NULL && q.n == 0);
    reqcheck_query_free(&q);

    CHECK(reqcheck_query("a=1&b=x+y%21&c&&=v&d=", NULL, &q) == NULL);
    CHECK(q.n == 4);
    CHECK_STR(q.kv[0].name, "a");
    CHECK_STR(q.kv[0].value, "1");
    CHECK_STR(q.kv[1].value, "x y!");
    CHECK(q.kv[1].len == 4);
    CHECK_STR(q.kv[2].name, "c");
    CHECK_STR(q.kv[2].value, "");
    CHECK_STR(q.kv[3].name, "d");
    CHECK(q.kv[3].len == 0);
    reqcheck_query_free(&q);

    /* The adapter's query credential is no input. */
    CHECK(reqcheck_query("key=s3cret&a=1&key=again", "key", &q) == NULL);
    CHECK(q.n == 1);
    CHECK_STR(q.kv[0].name, "a");
    reqcheck_query_free(&q);

    CHECK_STR(reqcheck_query("a=%zz", NULL, &q), "invalid percent-encoding in the query string");
    reqcheck_query_free(&q);
    CHECK_STR(reqcheck_query("%zz=1", NULL, &q), "invalid percent-encoding in the query string");
    reqcheck_query_free(&q);
    CHECK_STR(reqcheck_query("limit%00x=1", NULL, &q),
              "a query parameter name holds %00 (a NUL byte)");
    reqcheck_query_free(&q);
    /* A NUL in a value is data. */
    CHECK(reqcheck_query("a=x%00y", NULL, &q) == NULL && q.n == 1 && q.kv[0].len == 3);
    reqcheck_query_free(&q);

    char big[REQCHECK_MAX_QUERY * 8 + 16] = "";
    for (int i = 0; i < REQCHECK_MAX_QUERY; i++)
        strcat(big, i ? "&p=1" : "p=1");
    CHECK(reqcheck_query(big, NULL, &q) == NULL && q.n == REQCHECK_MAX_QUERY);
    reqcheck_query_free(&q);
    strcat(big, "&p=1");
    CHECK_STR(reqcheck_query(big, NULL, &q), "too many query parameters");
    reqcheck_query_free(&q);
    /* Skipped credentials do not count against the limit. */
    char skipped[sizeof big + 32];
    snprintf(skipped, sizeof skipped, "key=1&%s", strchr(big, '&') + 1);
    CHECK(reqcheck_query(skipped, "key", &q) == NULL && q.n == REQCHECK_MAX_QUERY);
    reqcheck_query_free(&q);
}

struct seen {
    int n;
    char last[32];
};

static int count_pairs(void *arg, const char *name, size_t nlen, const char *value, size_t vlen)
{
    struct seen *s = arg;
    s->n++;
    snprintf(s->last, sizeof s->last, "%.*s=%.*s", (int)nlen, name, value ? (int)vlen : 1,
             value ? value : "-");
    return nlen == 4 && memcmp(name, "stop", 4) == 0 ? 7 : 0;
}

static void test_query_each(void)
{
    struct seen s = {0};
    CHECK(reqcheck_query_each("a=%41&=x&b&", count_pairs, &s) == 0);
    CHECK(s.n == 2);
    CHECK_STR(s.last, "b=-"); /* raw spans: nothing is decoded */
    s = (struct seen){0};
    CHECK(reqcheck_query_each("a=1&stop=2&c=3", count_pairs, &s) == 7);
    CHECK(s.n == 2);
    CHECK_STR(s.last, "stop=2");
}

static void test_headers_auth_body(void)
{
    struct evhttp_request *req = evhttp_request_new(NULL, NULL);
    struct evkeyvalq *in = evhttp_request_get_input_headers(req);
    evhttp_add_header(in, "Host", "a");
    evhttp_add_header(in, "Authorization", "Bearer t0ken");
    evhttp_add_header(in, "X-Other", "v");
    struct rt_inbound bearer = {
        .kind = MODEL_AUTH_BEARER, .name = "Authorization", .expected = "t0ken"};
    const struct rt_inbound *auth[] = {&bearer};

    struct mapping_kv h[4];
    size_t n = 0;
    CHECK(reqcheck_headers(req, auth, 1, h, 4, &n) == 0 && n == 2);
    CHECK_STR(h[0].name, "Host");
    CHECK_STR(h[1].name, "X-Other");
    CHECK(h[1].len == 1);
    CHECK(reqcheck_headers(req, NULL, 0, h, 4, &n) == 0 && n == 3);
    CHECK(reqcheck_headers(req, NULL, 0, h, 2, &n) == 431);
    CHECK(inbound_is_header(auth, 1, "authorization"));
    CHECK(!inbound_is_header(auth, 1, "X-Other"));

    CHECK(reqcheck_auth(req, auth, 1) == NULL);
    struct evkeyvalq *out = evhttp_request_get_output_headers(req);
    CHECK(evhttp_find_header(out, "WWW-Authenticate") == NULL);
    bearer.expected = "other";
    CHECK(reqcheck_auth(req, auth, 1) == &bearer);
    CHECK_STR(evhttp_find_header(out, "WWW-Authenticate"), "Bearer realm=\"capproxy\"");

    struct config cfg = {.max_body_size = 4};
    size_t len = 99;
    CHECK(reqcheck_body_fits(req, &cfg, &len) && len == 0);
    evbuffer_add(evhttp_request_get_input_buffer(req), "12345", 5);
    CHECK(!reqcheck_body_fits(req, &cfg, &len) && len == 5);
    cfg.max_body_size = 5;
    CHECK(reqcheck_body_fits(req, &cfg, &len));
    evhttp_request_free(req);
}

int main(void)
{
    RUN(test_query());
    RUN(test_query_each());
    RUN(test_headers_auth_body());
    return harness_report();
}
