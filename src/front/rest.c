/*
 * rest: see rest.h. The handler never blocks: everything it needs is in the read-only runtime,
 * and the upstream call is asynchronous (exchange_forward).
 */
#include "front/rest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/keyvalq_struct.h>

#include "http/exchange.h"
#include "http/oauth.h"
#include "http/ratelimit.h"
#include "http/reqcheck.h"
#include "base/jsonnum.h"
#include "base/log.h"
#include "core/forward.h"
#include "core/mapping.h"
#include "core/orch.h"
#include "front/steps.h"
#include "core/respmap.h"
#include "core/router.h"
#include "spec/urlenc.h"

/* The framing checks refuse (431) a request with more header fields than limits.maxHeaders,
 * which is at most this: no header is ever left out. */
#define REST_MAX_HEADERS CONFIG_MAX_HEADERS_LIMIT

/* Decoded strings made for one request; freed when the handler returns (the mapping copies
 * what it keeps). */
struct scratch {
    char *v[ROUTER_MAX_CAPTURES];
    size_t n;
    char buf[512]; /* path variables with nothing to decode, each NUL-terminated */
    size_t used;
};

static const char *decode(struct scratch *s, const char *in, size_t len, size_t *outlen)
{
    /* No '%': the decoded text is the text itself (a path has no NUL). Copied to the stack,
     * not the heap: most path variables are ids. */
    if (len < sizeof s->buf - s->used && !memchr(in, '%', len)) {
        char *r = s->buf + s->used;
        memcpy(r, in, len);
        r[len] = '\0';
        s->used += len + 1;
        *outlen = len;
        return r;
    }
    char *r = s->n < UTIL_ARRAY_LEN(s->v) ? urlenc_decode_dup(in, len, false, outlen) : NULL;
    if (r)
        s->v[s->n++] = r;
    return r;
}

static void allow_header(struct evhttp_request *req, unsigned mask)
{
    char buf[128] = "";
    for (int m = 0; m < MODEL_METHOD_COUNT; m++)
        if (mask & (1u << m)) {
            if (*buf)
                strcat(buf, ", ");
            strcat(buf, model_method_name((enum model_method)m));
        }
    evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", buf);
}

/* The request body as JSON, or NULL when it was refused (answered here). Every body is read:
 * its fields are inputs like query parameters, and one that nothing reads is refused by the
 * mapping rather than dropped. JSON means exactly one JSON value in UTF-8: a Content-Type
 * naming anything else gets 415 (none at all is taken as JSON), and bytes that are not UTF-8,
 * not JSON, \u0000 or anything but whitespace after the value get 400. */
static cJSON *parse_body(struct exchange *x, const char *ct, const char *raw, size_t len)
{
    if (ct && !media_type_is_json(ct)) {
        exchange_problem(x, 415,
                         "the request body must be JSON: send Content-Type: application/json",
                         "Content-Type", NULL);
        return NULL;
    }
    size_t bad_at = 0;
    if (!utf8_valid(raw, len, &bad_at)) {
        char why[96];
        snprintf(why, sizeof why, "the request body is not valid UTF-8 (byte %zu)", bad_at);
        exchange_problem(x, 400, why, "body", NULL);
        return NULL;
    }
    size_t at = 0;
    const char *refused = json_text_refusal(raw, len, true, &at);
    if (refused) {
        char why[128];
        snprintf(why, sizeof why,
                 "the request body holds %s at byte %zu, which JSON does not allow", refused, at);
        exchange_problem(x, 400, why, "body", NULL);
        return NULL;
    }
    size_t bad = 0;
    cJSON *body = jsonnum_parse_exact(raw, len, &bad); /* a 64-bit id keeps its digits */
    if (!body && bad == len) {
        exchange_problem(x, 400, "the request body is not valid JSON", "body", NULL);
        return NULL;
    }
    if (!body) {
        char why[128];
        snprintf(why, sizeof why, "the request body has bytes after its JSON value (from byte %zu)",
                 bad);
        exchange_problem(x, 400, why, "body", NULL);
        return NULL;
    }
    return body;
}

static void on_upstream(const struct upstream_result *res, void *arg)
{
    struct exchange *x = arg;
    struct evhttp_request *req = exchange_req(x);
    const struct rt_call *call = exchange_ctx(x);
    if (res->error != UPSTREAM_OK) {
        int status = res->error == UPSTREAM_ERR_TIMEOUT ? 504 : 502;
        cJSON *extra = cJSON_CreateObject();
        cJSON_AddStringToObject(extra, "upstream_error", upstream_error_name(res->error));
        exchange_problem(x, status,
                         status == 504 ? "the upstream did not answer in time"
                                       : "the upstream could not be reached or failed",
                         NULL, extra);
        return;
    }
    struct evkeyvalq *out = evhttp_request_get_output_headers(req);
    for (size_t i = 0; i < res->nheaders; i++) {
        if (str_eq_ci(res->headers[i].name, "Content-Type")) /* the usual case first */
            continue;
        if (evhttp_add_header(out, res->headers[i].name, res->headers[i].value) < 0)
            LOG_D("dropped an upstream header with an invalid value");
    }
    int status = (int)res->status;
    if (!call->passthrough && status >= 200 && status < 300 && evbuffer_get_length(res->body) > 0) {
        size_t len = evbuffer_get_length(res->body);
        const char *body = (const char *)evbuffer_pullup(res->body, -1);
        char why[384];
        cJSON *mapped = respmap_apply(call, body, len, why, sizeof why);
        if (mapped) {
            exchange_reply_json(x, status, "application/json", mapped);
            return;
        }
        if (respmap_converts(call)) { /* the document says XML, CSV...: never passed on raw */
            exchange_problem(x, 502, why, NULL, NULL);
            return;
        }
    }
    exchange_reply(x, status, res->content_type, res->body);
}

/* A forward resource: the rest of the path, the query, the method and the raw body go to the
 * consumed API as received (core/forward.h); the answer comes back through on_upstream
 * unmapped (the call is passthrough). The body is not parsed: it is not an input. */
static void rest_forward(struct exchange *x, struct evhttp_request *req, const struct rt_call *call,
                         enum model_method method, const struct router_match *m,
                         const struct evhttp_uri *uri, const struct rt_inbound *inbound,
                         size_t blen)
{
    struct mapping_kv headers[REST_MAX_HEADERS];
    size_t nheaders = 0;
    /* Our own inbound credential never travels upstream, trusted or not. */
    if (reqcheck_headers(req, &inbound, inbound ? 1 : 0, headers, REST_MAX_HEADERS, &nheaders)) {
        exchange_problem(x, 431, "too many header fields", NULL, NULL);
        return;
    }
    struct forward_input in = {
        .method = method,
        .query = uri ? evhttp_uri_get_query(uri) : NULL,
        .skip_query = inbound && inbound->in_query ? inbound->name : NULL,
        .headers = headers,
        .nheaders = nheaders,
    };
    /* A path ending in a variable captures the rest of the path (router_add_rest). */
    size_t plen = strlen(call->route_path);
    if (plen && call->route_path[plen - 1] == '}' && m->ncaptures) {
        in.rest = m->captures[m->ncaptures - 1].value;
        in.rest_len = m->captures[m->ncaptures - 1].len;
    }
    if (blen > 0) {
        in.body = (const char *)evbuffer_pullup(evhttp_request_get_input_buffer(req), -1);
        in.body_len = blen;
    }
    struct mapping_error err;
    if (forward_build(exchange_runtime(x), call, &in, exchange_out(x), &err) < 0) {
        exchange_problem(x, err.status, err.detail, err.param, NULL);
        return;
    }
    if (exchange_forward(x, on_upstream) < 0) {
        exchange_note_upstream(x, -1, "setup");
        exchange_problem(x, 502, "the upstream request could not be started", NULL, NULL);
    }
}

/* ---- orchestrated and mock calls: a chain of upstream transfers, or none ---- */

static void orch_ctx_free(void *ctx)
{
    orch_free(ctx);
}

static void rest_step(struct exchange *x);

/* One step's transfer is done: feed the executor, then send the next step or answer. */
static void on_step_upstream(const struct upstream_result *res, void *arg)
{
    struct exchange *x = arg;
    steps_feed(exchange_ctx(x), res, exchange_out(x));
    rest_step(x);
}

static void rest_step(struct exchange *x)
{
    struct orch *o = exchange_ctx(x);
    switch (orch_next(o, exchange_out(x))) {
    case ORCH_SEND:
        if (exchange_forward(x, on_step_upstream) < 0) {
            exchange_note_upstream(x, -1, "setup");
            exchange_problem(x, 502, "the upstream request could not be started", NULL, NULL);
        }
        return;
    case ORCH_DONE: {
        int status;
        cJSON *answer = orch_answer(o, &status);
        if (answer)
            exchange_reply_json(x, status, "application/json", answer);
        else
            exchange_reply(x, 204, NULL, NULL);
        return;
    }
    case ORCH_FAILED: {
        const struct orch_failure *f = orch_failure(o);
        exchange_problem(x, f->status, f->message, f->param[0] ? f->param : NULL,
                         orch_failure_extra(f));
        return;
    }
    }
}

/* A call that is not one upstream request: checked like one, then a mock answers at once and
 * an orchestration starts its first step. */
static void rest_orchestrate(struct exchange *x, const struct rt_call *call,
                             const struct mapping_input *in)
{
    const struct runtime *rt = exchange_runtime(x);
    struct mapping_error err;
    if (mapping_check_inputs(rt, call, in, &err) < 0) {
        exchange_problem(x, err.status, err.detail, err.param, NULL);
        return;
    }
    cJSON *scope = mapping_scope(call, in);
    if (call->kind == MODEL_CALL_MOCK) {
        cJSON *answer = orch_mock(call, scope);
        cJSON_Delete(scope);
        if (answer)
            exchange_reply_json(x, 200, "application/json", answer);
        else
            exchange_reply(x, 204, NULL, NULL);
        return;
    }
    exchange_set_ctx(x, orch_new(rt, call, scope, in->headers, in->nheaders), orch_ctx_free);
    rest_step(x);
}

static void rest_serve(struct exchange *x, const struct rt_listener *lis);

/* An oauth2 check waited for the authorization server: serve the request from the start (the
 * routing is the same: the exchange pinned the runtime, and <arg> is its listener). */
static void rest_resume(struct exchange *x, void *arg)
{
    rest_serve(x, arg);
}

/* oauth2 (http/oauth.h): true when the bearer token is good; else the request was answered
 * (401, 403, 503) or parked until rest_resume. */
static bool rest_oauth(struct exchange *x, const struct rt_inbound *in,
                       const struct rt_listener *lis)
{
    struct oauth_verdict v;
    if (!oauth_check(x, &in, 1, NULL, rest_resume, (void *)lis, &v))
        return false;
    if (v.status == 0)
        return true;
    exchange_problem(x, v.status, v.detail, NULL, NULL);
    return false;
}

void rest_handle(struct evhttp_request *req, void *arg)
{
    const struct front_listener *fl = arg;
    struct exchange *x = exchange_begin(fl->loop, req, "rest");
    if (x)
        rest_serve(x, front_listener_get(fl, exchange_runtime(x)));
}

static void rest_serve(struct exchange *x, const struct rt_listener *lis)
{
    struct evhttp_request *req = exchange_req(x);
    const struct runtime *rt = exchange_runtime(x);

    /* Only the counts are set: the arrays are read below them, and zeroing them all (a few
     * kilobytes) on every request cost more than the rest of this function. */
    struct scratch sc;
    struct reqcheck_query query;
    sc.n = 0;
    sc.used = 0;
    query.n = 0;
    query.nmem = 0;
    struct mapping_kv headers[REST_MAX_HEADERS], path[ROUTER_MAX_CAPTURES];
    size_t nheaders = 0;
    cJSON *body = NULL;
    struct evkeyvalq *in_h = evhttp_request_get_input_headers(req);
    int method = reqcheck_method(req);
    const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
    const char *p = uri ? evhttp_uri_get_path(uri) : NULL;
    if (!p || !*p)
        p = "/";
    struct router_match m;
    enum router_result rr =
        method < 0 ? ROUTER_NOT_FOUND
                   : router_match(lis->router, (enum model_method)method, p, strlen(p), &m);
    if (rr == ROUTER_NOT_FOUND) {
        exchange_problem(x, 404, "no route for this path", NULL, NULL);
        goto out;
    }
    if (rr == ROUTER_METHOD_NOT_ALLOWED) {
        allow_header(req, m.allow_mask);
        if (method == MODEL_OPTIONS) {
            exchange_reply(x, 204, NULL, NULL);
            goto out;
        }
        exchange_problem(x, 405, "method not allowed on this path", NULL, NULL);
        goto out;
    }
    const struct rt_call *call = m.target;
    exchange_set_route(x, call->name);
    exchange_set_ctx(x, (void *)call, NULL);
    const struct rt_inbound *inbound = call->inbound;
    if (inbound && reqcheck_auth_static(req, &inbound, 1)) {
        exchange_problem(x, 401, "missing or wrong credentials for this API", NULL, NULL);
        goto out;
    }
    if (inbound && inbound->kind == MODEL_AUTH_OAUTH2 && !rest_oauth(x, inbound, lis))
        goto out;
    if (!ratelimit_in(x, &inbound, inbound ? 1 : 0)) {
        const char *why = "too many requests from this client: retry after Retry-After seconds";
        exchange_problem(x, 429, why, NULL, NULL);
        goto out;
    }

    size_t blen;
    if (!reqcheck_body_fits(req, exchange_config(x), &blen)) {
        exchange_problem(x, 413, "request body is larger than the configured limit", NULL, NULL);
        goto out;
    }
    if (call->forward) {
        rest_forward(x, req, call, (enum model_method)method, &m, uri, inbound, blen);
        goto out;
    }
    for (size_t i = 0; i < m.ncaptures; i++) {
        size_t len;
        const char *v = decode(&sc, m.captures[i].value, m.captures[i].len, &len);
        if (!v) {
            exchange_problem(x, 400, "invalid percent-encoding in a path segment",
                             m.captures[i].name, NULL);
            goto out;
        }
        path[i] = (struct mapping_kv){m.captures[i].name, v, len};
    }
    /* The adapter's own query credential is checked by reqcheck_auth and is no input: it
     * never travels upstream. */
    const char *bad = reqcheck_query(uri ? evhttp_uri_get_query(uri) : NULL,
                                     inbound && inbound->in_query ? inbound->name : NULL, &query);
    if (bad) {
        exchange_problem(x, 400, bad, NULL, NULL);
        goto out;
    }
    /* Our own inbound credential never travels upstream. */
    if (reqcheck_headers(req, &inbound, inbound ? 1 : 0, headers, REST_MAX_HEADERS, &nheaders)) {
        exchange_problem(x, 431, "too many header fields", NULL, NULL);
        goto out;
    }

    const char *raw = NULL;
    if (blen > 0) {
        raw = (const char *)evbuffer_pullup(evhttp_request_get_input_buffer(req), -1);
        body = parse_body(x, evhttp_find_header(in_h, "Content-Type"), raw, blen);
        if (!body)
            goto out;
    }
    struct mapping_input in = {
        .mcp = false,
        .path = path,
        .npath = m.ncaptures,
        .query = query.kv,
        .nquery = query.n,
        .headers = headers,
        .nheaders = nheaders,
        .body = body,
        .raw_body = raw,
        .raw_body_len = raw ? blen : 0,
    };
    if (call->kind != MODEL_CALL_SIMPLE) {
        rest_orchestrate(x, call, &in);
        goto out;
    }
    struct mapping_error err;
    if (mapping_build(rt, call, &in, exchange_out(x), &err) < 0) {
        exchange_problem(x, err.status, err.detail, err.param, NULL);
        goto out;
    }
    if (exchange_forward(x, on_upstream) < 0) {
        exchange_note_upstream(x, -1, "setup");
        exchange_problem(x, 502, "the upstream request could not be started", NULL, NULL);
    }
out:
    reqcheck_query_free(&query);
    cJSON_Delete(body);
    for (size_t i = 0; i < sc.n; i++)
        free(sc.v[i]);
}
