/*
 * Unit tests for the parts of http/oauth that need no authorization server: the Protected
 * Resource Metadata document, and that a front end which does not verify tokens (reqcheck_auth)
 * refuses every request to an oauth2 adapter instead of letting it through. The token checks
 * against a real server are tests/integration/oauth.test.mjs; the JWT rules test_jwt.c.
 */
#include <stdlib.h>
#include <string.h>

#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "harness.h"
#include "http/oauth.h"
#include "http/reqcheck.h"

static const char *const scopes_a[] = {"tools:read", "tools:write"};
static const char *const scopes_b[] = {"tools:read", "admin"};

static void expose(struct model_expose *e, struct model_oauth2 *o, const char *as,
                   const char *const *scopes, size_t n)
{
    memset(o, 0, sizeof *o);
    o->as_uri = as;
    o->resource = "https://mcp.example.com/mcp";
    o->scopes = (const char **)scopes;
    o->nscopes = n;
    memset(e, 0, sizeof *e);
    e->auth.kind = MODEL_AUTH_OAUTH2;
    e->auth.oauth2 = o;
}

static void test_prm(void)
{
    struct model_expose e1, e2, e3;
    struct model_oauth2 o1, o2, o3;
    expose(&e1, &o1, "https://as.example.com", scopes_a, 2);
    expose(&e2, &o2, "https://as.example.com", scopes_b, 2);
    expose(&e3, &o3, "https://other.example.com", NULL, 0);
    struct rt_inbound i1 = {.expose = &e1, .kind = MODEL_AUTH_OAUTH2, .name = "Authorization"};
    struct rt_inbound i2 = {.expose = &e2, .kind = MODEL_AUTH_OAUTH2, .name = "Authorization"};
    struct rt_inbound i3 = {.expose = &e3, .kind = MODEL_AUTH_OAUTH2, .name = "Authorization"};
    struct rt_inbound key = {.kind = MODEL_AUTH_APIKEY, .name = "X-Key", .expected = "k"};
    const struct rt_inbound *all[] = {&key, &i1, &i2, &i3};
    char *prm = oauth_prm(all, 4);
    CHECK_STR(prm, "{\"resource\":\"https://mcp.example.com/mcp\",\"authorization_servers\":"
                   "[\"https://as.example.com\",\"https://other.example.com\"],"
                   "\"scopes_supported\":[\"tools:read\",\"tools:write\",\"admin\"],"
                   "\"bearer_methods_supported\":[\"header\"]}");
    free(prm);
    prm = oauth_prm(all + 3, 1);
    CHECK_STR(prm, "{\"resource\":\"https://mcp.example.com/mcp\",\"authorization_servers\":"
                   "[\"https://other.example.com\"],\"bearer_methods_supported\":[\"header\"]}");
    free(prm);
    CHECK(oauth_prm(all, 1) == NULL);
    CHECK(oauth_any(all, 4) && !oauth_any(all, 1));
}

static void test_reqcheck_fails_closed(void)
{
    struct model_expose e;
    struct model_oauth2 o;
    expose(&e, &o, "https://as.example.com", NULL, 0);
    struct rt_inbound in = {.expose = &e, .kind = MODEL_AUTH_OAUTH2, .name = "Authorization"};
    const struct rt_inbound *auth[] = {&in};
    struct evhttp_request *req = evhttp_request_new(NULL, NULL);
    evhttp_add_header(evhttp_request_get_input_headers(req), "Authorization", "Bearer x.y.z");
    CHECK(reqcheck_auth_static(req, auth, 1) == NULL); /* left to oauth_check */
    CHECK(reqcheck_auth(req, auth, 1) == &in);         /* nobody verifies: nobody gets in */
    CHECK_STR(evhttp_find_header(evhttp_request_get_output_headers(req), "WWW-Authenticate"),
              "Bearer realm=\"capproxy\"");
    evhttp_request_free(req);
}

int main(void)
{
    RUN(test_prm());
    RUN(test_reqcheck_fails_closed());
    return harness_report();
}
