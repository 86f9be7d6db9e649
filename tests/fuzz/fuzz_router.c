/*
 * fuzz_router: the REST route tables of the shipped documents, built once; each input is a
 * method byte and a raw request target (path, optionally '?' and a query string), matched as
 * the REST front end does (router_match on the still-encoded path). Checked: a match's
 * captures are non-empty slices of the path that hold no '/', each is exactly one whole
 * segment, and a found route is one the table has for that method.
 *
 * A found route then goes on as rest.c does without the network: the captures and query pairs
 * are percent-decoded and mapped to the upstream request (mapping_build). Checked: the URL
 * starts with the configured base URI, holds no '#', space, CR or LF, and its path has as many
 * '/' as when every path variable is "x": no value can add or remove an upstream segment.
 */
#include "fuzz.h"

#include "core/mapping.h"
#include "core/router.h"
#include "spec/urlenc.h"

#define MAX_QUERY 64 /* REST_MAX_QUERY */

static struct runtime *rt;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    rt = fuzz_shipped_runtime();
    return 0;
}

static void check_match(const struct router_match *mt, const char *path, size_t len)
{
    FUZZ_ASSERT(mt->target, "found without a target");
    FUZZ_ASSERT(mt->ncaptures <= ROUTER_MAX_CAPTURES, "%zu captures", mt->ncaptures);
    for (size_t i = 0; i < mt->ncaptures; i++) {
        const struct router_capture *c = &mt->captures[i];
        FUZZ_ASSERT(c->name && *c->name, "capture %zu has no name", i);
        FUZZ_ASSERT(c->value >= path && c->value + c->len <= path + len,
                    "capture '%s' outside the path", c->name);
        FUZZ_ASSERT(c->len > 0, "capture '%s' is empty", c->name);
        FUZZ_ASSERT(!memchr(c->value, '/', c->len), "capture '%s' spans segments", c->name);
        FUZZ_ASSERT(c->value > path && c->value[-1] == '/', "capture '%s' does not start a segment",
                    c->name);
        FUZZ_ASSERT(c->value + c->len == path + len || c->value[c->len] == '/',
                    "capture '%s' does not end a segment", c->name);
    }
}

/* Decoded strings of one input. */
struct decoded {
    struct strbuf v[ROUTER_MAX_CAPTURES + 2 * MAX_QUERY];
    size_t n;
};

static const char *decode(struct decoded *d, const char *in, size_t len, bool plus, size_t *out)
{
    struct strbuf *b = &d->v[d->n++];
    strbuf_init(b, 0);
    if (urlenc_decode(in, len, plus, b) < 0)
        return NULL;
    *out = b->len;
    return b->data ? b->data : "";
}

static size_t path_slashes(const struct strbuf *url)
{
    size_t n = 0;
    for (const char *p = url->data; *p && *p != '?'; p++)
        n += *p == '/';
    return n;
}

/* The REST front end's steps after a match: decode, map, and compare with the all-"x" map. */
static void map_rest(const struct rt_call *call, const struct router_match *mt, const char *query,
                     size_t qlen)
{
    struct decoded d = {.n = 0};
    struct mapping_kv path[ROUTER_MAX_CAPTURES], xpath[ROUTER_MAX_CAPTURES], q[MAX_QUERY];
    size_t nq = 0;
    for (size_t i = 0; i < mt->ncaptures; i++) {
        size_t len;
        const char *v = decode(&d, mt->captures[i].value, mt->captures[i].len, false, &len);
        if (!v)
            goto out; /* 400 */
        path[i] = (struct mapping_kv){mt->captures[i].name, v, len};
        xpath[i] = (struct mapping_kv){mt->captures[i].name, "x", 1};
    }
    for (size_t i = 0; i < qlen;) {
        const char *s = query + i;
        const char *amp = memchr(s, '&', qlen - i);
        size_t plen = amp ? (size_t)(amp - s) : qlen - i;
        const char *eq = memchr(s, '=', plen);
        size_t klen = eq ? (size_t)(eq - s) : plen;
        if (klen > 0) {
            if (nq >= MAX_QUERY)
                goto out; /* 400 */
            size_t kl, vl = 0;
            const char *k = decode(&d, s, klen, true, &kl);
            const char *v = k && eq ? decode(&d, eq + 1, plen - klen - 1, true, &vl) : "";
            if (!k || !v)
                goto out; /* 400 */
            q[nq++] = (struct mapping_kv){k, v, vl};
        }
        i += plen + 1;
    }
    struct mapping_input in = {.path = path, .npath = mt->ncaptures, .query = q, .nquery = nq};
    struct mapping_input ref = in;
    ref.path = xpath;
    struct outreq out, xout;
    struct mapping_error err;
    outreq_init(&out, MAPPING_MAX_URL);
    outreq_init(&xout, MAPPING_MAX_URL);
    if (mapping_build(rt, call, &in, &out, &err) == 0) {
        FUZZ_ASSERT(str_has_prefix(out.url.data, "https://api.example.test/base/"),
                    "upstream URL %s", out.url.data);
        FUZZ_ASSERT(!strpbrk(out.url.data, "#\r\n "), "upstream URL %s", out.url.data);
        for (size_t i = 0; i < out.nheaders; i++)
            FUZZ_ASSERT(!strpbrk(out.headers[i].name, "\r\n") &&
                            !memchr(out.headers[i].value, '\r', out.headers[i].len) &&
                            !memchr(out.headers[i].value, '\n', out.headers[i].len),
                        "header %s", out.headers[i].name);
        if (mapping_build(rt, call, &ref, &xout, &err) == 0)
            FUZZ_ASSERT(path_slashes(&out.url) == path_slashes(&xout.url),
                        "a path value changed the upstream path: %s vs %s", out.url.data,
                        xout.url.data);
    } else {
        FUZZ_ASSERT(err.status == 400 || err.status == 401, "status %d (%s)", err.status,
                    err.detail);
    }
    outreq_deinit(&out);
    outreq_deinit(&xout);
out:
    for (size_t i = 0; i < d.n; i++)
        strbuf_deinit(&d.v[i]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    enum model_method method = (enum model_method)(data[0] % MODEL_METHOD_COUNT);
    const char *target = (const char *)data + 1;
    const char *qm = memchr(target, '?', size - 1);
    size_t len = qm ? (size_t)(qm - target) : size - 1;
    /* A heap copy of exactly the path's bytes, so ASan sees any read past its end. */
    char *path = malloc(len ? len : 1);
    if (!path)
        abort();
    memcpy(path, target, len);
    for (size_t i = 0; i < rt->nlisteners; i++) {
        const struct rt_listener *l = &rt->listeners[i];
        if (!l->router)
            continue;
        struct router_match mt;
        memset(&mt, 0, sizeof mt);
        enum router_result r = router_match(l->router, method, path, len, &mt);
        if (r == ROUTER_FOUND) {
            check_match(&mt, path, len);
            const struct rt_call *call = mt.target;
            FUZZ_ASSERT(call->route_method == method, "matched %s for %s",
                        model_method_name(call->route_method), model_method_name(method));
            if (qm)
                map_rest(call, &mt, qm + 1, size - 1 - len - 1);
            else
                map_rest(call, &mt, "", 0);
        } else if (r == ROUTER_METHOD_NOT_ALLOWED) {
            FUZZ_ASSERT(mt.allow_mask != 0, "405 with nothing allowed");
            FUZZ_ASSERT(!(mt.allow_mask & (1u << method)), "405 but %s is allowed",
                        model_method_name(method));
        }
    }
    free(path);
    return 0;
}
