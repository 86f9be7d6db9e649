/*
 * reqcheck: see reqcheck.h.
 */
#include "http/reqcheck.h"

#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/keyvalq_struct.h>

#include "base/util.h"
#include "core/inbound.h"
#include "spec/urlenc.h"

int reqcheck_method(struct evhttp_request *req)
{
    switch (evhttp_request_get_command(req)) {
    case EVHTTP_REQ_GET:
        return MODEL_GET;
    case EVHTTP_REQ_POST:
        return MODEL_POST;
    case EVHTTP_REQ_PUT:
        return MODEL_PUT;
    case EVHTTP_REQ_PATCH:
        return MODEL_PATCH;
    case EVHTTP_REQ_DELETE:
        return MODEL_DELETE;
    case EVHTTP_REQ_HEAD:
        return MODEL_HEAD;
    case EVHTTP_REQ_OPTIONS:
        return MODEL_OPTIONS;
    default:
        return -1;
    }
}

bool reqcheck_body_fits(struct evhttp_request *req, const struct config *cfg, size_t *len)
{
    *len = evbuffer_get_length(evhttp_request_get_input_buffer(req));
    return *len <= cfg->max_body_size;
}

int reqcheck_headers(struct evhttp_request *req, const struct rt_inbound *const *auth, size_t nauth,
                     struct mapping_kv *out, size_t cap, size_t *n)
{
    const struct evkeyvalq *in_h = evhttp_request_get_input_headers(req);
    *n = 0;
    for (const struct evkeyval *kv = in_h->tqh_first; kv; kv = kv->next.tqe_next) {
        if (inbound_is_header(auth, nauth, kv->key))
            continue;
        if (*n == cap)
            return 431;
        out[(*n)++] = (struct mapping_kv){kv->key, kv->value, strlen(kv->value)};
    }
    return 0;
}

int reqcheck_query_each(const char *q, reqcheck_query_fn fn, void *arg)
{
    for (const char *s = q; s && *s;) {
        size_t plen = strcspn(s, "&");
        const char *eq = memchr(s, '=', plen);
        size_t klen = eq ? (size_t)(eq - s) : plen;
        if (klen > 0) {
            int rc = fn(arg, s, klen, eq ? eq + 1 : NULL, eq ? plen - klen - 1 : 0);
            if (rc)
                return rc;
        }
        s += plen;
        if (*s == '&')
            s++;
    }
    return 0;
}

/* <in>[0..len) decoded into memory <q> owns, or NULL when the encoding is invalid. */
static const char *decode(struct reqcheck_query *q, const char *in, size_t len, size_t *outlen)
{
    char *r = q->nmem < UTIL_ARRAY_LEN(q->mem) ? urlenc_decode_dup(in, len, true, outlen) : NULL;
    if (r)
        q->mem[q->nmem++] = r;
    return r;
}

struct query_state {
    struct reqcheck_query *out;
    const char *skip;
    const char *why;
};

static int query_pair(void *arg, const char *name, size_t nlen, const char *value, size_t vlen)
{
    struct query_state *st = arg;
    struct reqcheck_query *q = st->out;
    if (q->n >= REQCHECK_MAX_QUERY) {
        st->why = "too many query parameters";
        return 1;
    }
    size_t kl, vl = 0, mark = q->nmem;
    const char *k = decode(q, name, nlen, &kl);
    const char *v = value ? decode(q, value, vlen, &vl) : "";
    if (!k || !v) {
        st->why = "invalid percent-encoding in the query string";
        return 1;
    }
    /* Names are looked up as C strings: "limit%00x" would act as "limit". */
    if (memchr(k, '\0', kl)) {
        st->why = "a query parameter name holds %00 (a NUL byte)";
        return 1;
    }
    if (st->skip && str_eq(k, st->skip)) {
        while (q->nmem > mark) /* not kept: its memory is not held either */
            free(q->mem[--q->nmem]);
        return 0;
    }
    q->kv[q->n++] = (struct mapping_kv){k, v, vl};
    return 0;
}

const char *reqcheck_query(const char *q, const char *skip, struct reqcheck_query *out)
{
    out->n = 0;
    out->nmem = 0;
    struct query_state st = {.out = out, .skip = skip, .why = NULL};
    reqcheck_query_each(q, query_pair, &st);
    return st.why;
}

void reqcheck_query_free(struct reqcheck_query *q)
{
    for (size_t i = 0; i < q->nmem; i++)
        free(q->mem[i]);
    q->nmem = 0;
    q->n = 0;
}

struct param_lookup {
    const char *name;
    char *value; /* decoded, or NULL */
};

static int param_match(void *arg, const char *name, size_t nlen, const char *value, size_t vlen)
{
    struct param_lookup *pl = arg;
    struct strbuf k;
    strbuf_init(&k, 1024);
    /* The first parameter whose decoded name equals <name> as a C string. */
    bool match = urlenc_decode(name, nlen, true, &k) == 0 && k.len && str_eq(k.data, pl->name);
    strbuf_deinit(&k);
    if (!match)
        return 0;
    struct strbuf v;
    strbuf_init(&v, 8192);
    if (value && urlenc_decode(value, vlen, true, &v) < 0)
        strbuf_deinit(&v);
    else
        pl->value = strbuf_detach(&v, NULL);
    return 1;
}

/* The decoded value of query parameter <name> (caller frees), or NULL. */
static char *query_param(struct evhttp_request *req, const char *name)
{
    const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
    struct param_lookup pl = {.name = name, .value = NULL};
    reqcheck_query_each(uri ? evhttp_uri_get_query(uri) : NULL, param_match, &pl);
    return pl.value;
}

/* Digest (RFC 7616): the answer covers the method and the request target as sent. On failure
 * the two challenges (SHA-256, MD5) are added to the reply. */
static bool digest_passes(struct evhttp_request *req, const struct rt_inbound *a)
{
    const struct evkeyvalq *h = evhttp_request_get_input_headers(req);
    int m = reqcheck_method(req);
    const char *uri = evhttp_request_get_uri(req);
    char ch[2][INBOUND_CHALLENGE_MAX];
    if (inbound_digest_check(a, evhttp_find_header(h, "Authorization"),
                             m < 0 ? "" : model_method_name((enum model_method)m), uri ? uri : "",
                             ch))
        return true;
    struct evkeyvalq *out = evhttp_request_get_output_headers(req);
    evhttp_add_header(out, "WWW-Authenticate", ch[0]);
    evhttp_add_header(out, "WWW-Authenticate", ch[1]);
    return false;
}

static const struct rt_inbound *auth_check(struct evhttp_request *req,
                                           const struct rt_inbound *const *auth, size_t n,
                                           bool skip_oauth2)
{
    const struct evkeyvalq *h = evhttp_request_get_input_headers(req);
    for (size_t i = 0; i < n; i++) {
        const struct rt_inbound *a = auth[i];
        bool ok;
        if (a->kind == MODEL_AUTH_DIGEST) {
            if (!digest_passes(req, a))
                return a;
            continue;
        }
        if (a->kind == MODEL_AUTH_OAUTH2 && skip_oauth2)
            continue; /* a token to verify, maybe after a fetch: http/oauth.h */
        if (a->kind == MODEL_AUTH_OAUTH2)
            ok = false; /* a front end that cannot verify tokens must not let anyone in */
        else if (a->in_query) {
            char *v = query_param(req, a->name);
            ok = inbound_matches(a, v);
            free(v);
        } else {
            ok = inbound_matches(a, evhttp_find_header(h, a->name));
        }
        if (!ok) {
            char v[256];
            inbound_challenge(a, v, sizeof v);
            evhttp_add_header(evhttp_request_get_output_headers(req), "WWW-Authenticate", v);
            return a;
        }
    }
    return NULL;
}

const struct rt_inbound *reqcheck_auth(struct evhttp_request *req,
                                       const struct rt_inbound *const *auth, size_t n)
{
    return auth_check(req, auth, n, false);
}

const struct rt_inbound *reqcheck_auth_static(struct evhttp_request *req,
                                              const struct rt_inbound *const *auth, size_t n)
{
    return auth_check(req, auth, n, true);
}
