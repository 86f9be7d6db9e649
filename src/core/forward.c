/*
 * forward: see forward.h. The path and query are copied byte for byte where a URL may carry the
 * byte; what a URL may not carry raw (a space, non-ASCII) is escaped, a control byte is refused.
 * A path segment that decodes to ".", "..", or holds an encoded '/', '\' or NUL is refused: the
 * upstream (or a proxy before it) may normalise it and leave the base URI's path.
 */
#include "core/forward.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "spec/template.h"
#include "spec/urlenc.h"

static int fail(struct mapping_error *err, int status, const char *param, const char *detail)
{
    err->status = status;
    snprintf(err->param, sizeof err->param, "%s", param);
    snprintf(err->detail, sizeof err->detail, "%s", detail);
    return -1;
}

bool forward_header_never(const char *name)
{
    static const char *const never[] = {
        "host",
        "connection",
        "keep-alive",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "content-length",
        "expect",
        "x-request-id",
        "content-type",
        "proxy-authenticate",
    };
    for (size_t i = 0; i < UTIL_ARRAY_LEN(never); i++)
        if (str_eq_ci(name, never[i]))
            return true;
    return false;
}

static bool is_hex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* Append raw URL text <s>[0..len) as received: valid %XX escapes and the bytes RFC 3986 allows
 * in a path segment (a query also allows '/' and '?') are copied; other printable bytes are
 * escaped. -1 on a control byte or a malformed escape. */
static int copy_raw(const char *s, size_t len, bool query, struct strbuf *out)
{
    static const char hex[] = "0123456789ABCDEF";
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == 0x7F)
            return -1;
        if (c == '%') {
            if (i + 2 >= len || !is_hex(s[i + 1]) || !is_hex(s[i + 2]))
                return -1;
            strbuf_add(out, s + i, 3);
            i += 2;
        } else if (urlenc_is_unreserved(c) || strchr("!$&'()*+,;=:@", c) ||
                   (query && (c == '/' || c == '?'))) {
            strbuf_addc(out, (char)c);
        } else {
            char e[3] = {'%', hex[c >> 4], hex[c & 15]};
            strbuf_add(out, e, 3);
        }
    }
    return 0;
}

/* "/" + the rest of the path, segment by segment. Only the last segment may be empty (a
 * trailing slash is the caller's to choose). */
static int add_rest(const struct forward_input *in, struct strbuf *url, struct mapping_error *err)
{
    const char *p = in->rest, *end = in->rest + in->rest_len;
    for (;;) {
        const char *slash = memchr(p, '/', (size_t)(end - p));
        const char *seg_end = slash ? slash : end;
        size_t len = (size_t)(seg_end - p), dlen = 0;
        bool last = !slash;
        strbuf_addc(url, '/');
        if (len || !last) {
            char *d = urlenc_decode_dup(p, len, false, &dlen);
            bool ok = d && urlenc_segment_value_ok(d, dlen);
            free(d);
            if (!ok)
                return fail(err, 400, "path",
                            "the forwarded path must be plain segments: no empty, '.' or '..' "
                            "segment, no encoded '/', '\\', NUL or control character, and valid "
                            "percent-encoding");
            if (copy_raw(p, len, false, url) < 0)
                return fail(err, 400, "path", "invalid byte in the forwarded path");
        }
        if (last)
            return 0;
        p = slash + 1;
    }
}

/* The query string as received, without the adapter's own credential parameter. */
static int add_query(const struct forward_input *in, struct strbuf *url, char *sep,
                     struct mapping_error *err)
{
    for (const char *p = in->query; p;) {
        const char *amp = strchr(p, '&');
        size_t len = amp ? (size_t)(amp - p) : strlen(p);
        if (len && in->skip_query) {
            const char *eq = memchr(p, '=', len);
            size_t dlen;
            char *name = urlenc_decode_dup(p, eq ? (size_t)(eq - p) : len, true, &dlen);
            bool skip =
                name && dlen == strlen(in->skip_query) && memcmp(name, in->skip_query, dlen) == 0;
            free(name);
            if (skip)
                len = 0;
        }
        if (len) {
            strbuf_addc(url, *sep);
            *sep = '&';
            if (copy_raw(p, len, true, url) < 0)
                return fail(err, 400, "query",
                            "invalid percent-encoding or control character in the query string");
        }
        p = amp ? amp + 1 : NULL;
    }
    return 0;
}

struct var_lookup {
    const struct runtime *rt;
};

/* A namespace parameter's `value` renders over the bind variables only: a forward has no
 * declared inputs. */
static int var_lookup(void *arg, const char *name, size_t len, struct strbuf *out)
{
    const struct var_lookup *v = arg;
    const char *val = runtime_var(v->rt, name, len);
    if (!val)
        return 1;
    return strbuf_adds(out, val);
}

static char *render_value(const struct runtime *rt, const char *tpl, size_t *len)
{
    struct var_lookup v = {rt};
    struct strbuf b;
    strbuf_init(&b, MAPPING_MAX_URL);
    template_render(tpl, var_lookup, &v, &b);
    return strbuf_detach(&b, len);
}

/* The consumed namespace's own header or query parameter <name> with a fixed `value`. */
static const struct model_param *ns_value_param(const struct model_consumer *mc, const char *name,
                                                enum model_in in)
{
    for (size_t i = 0; i < mc->nparams; i++)
        if (mc->params[i].in == in && mc->params[i].value && str_eq_ci(mc->params[i].name, name))
            return &mc->params[i];
    return NULL;
}

static bool is_credential_header(const struct rt_call *call, const char *name)
{
    for (size_t i = 0; i < call->ncreds; i++)
        if (str_eq_ci(call->creds[i].header, name) || str_eq_ci(call->creds[i].send_as, name))
            return true;
    return false;
}

static bool trusted(const struct model_forward *f, const char *name)
{
    for (size_t i = 0; i < f->ntrusted; i++)
        if (str_eq_ci(f->trusted_headers[i], name))
            return true;
    return false;
}

/* Namespace parameters with a `value`: query ones go into the URL, header ones are sent,
 * except credential headers, which come from the caller or configuration only (as in
 * mapping). */
static int add_ns_params(const struct runtime *rt, const struct rt_call *call, enum model_in in,
                         struct strbuf *url, char *sep, struct outreq *out,
                         struct mapping_error *err)
{
    const struct model_consumer *mc = call->consumer->mc;
    for (size_t i = 0; i < mc->nparams; i++) {
        const struct model_param *p = &mc->params[i];
        if (p->in != in || !p->value ||
            (in == MODEL_IN_HEADER && is_credential_header(call, p->name)))
            continue;
        size_t len;
        char *v = render_value(rt, p->value, &len);
        int rc = 0;
        if (in == MODEL_IN_QUERY) {
            strbuf_addc(url, *sep);
            *sep = '&';
            urlenc_query(p->name, strlen(p->name), url);
            strbuf_addc(url, '=');
            urlenc_query(v, len, url);
        } else if (!urlenc_header_value_ok(v, len)) {
            rc = fail(err, 500, p->name,
                      "the consumed namespace's header parameter has a control character in its "
                      "configured value");
        } else {
            outreq_add_header(out, p->name, v, len);
        }
        free(v);
        if (rc < 0)
            return -1;
    }
    return 0;
}

int forward_build(const struct runtime *rt, const struct rt_call *call,
                  const struct forward_input *in, struct outreq *out, struct mapping_error *err)
{
    const struct model_forward *f = call->forward;
    const struct rt_consumer *cons = call->consumer;
    struct mapping_kv *kept = NULL;
    size_t nkept = 0;
    const char *ct = NULL;
    char sep = '?';
    int rc = -1;

    memset(err, 0, sizeof *err);
    out->method = in->method;
    out->api = cons->mc->ns;
    strbuf_adds(&out->url, cons->base_uri);
    if (in->rest && in->rest_len && add_rest(in, &out->url, err) < 0)
        goto out;
    if (add_query(in, &out->url, &sep, err) < 0 ||
        add_ns_params(rt, call, MODEL_IN_QUERY, &out->url, &sep, out, err) < 0)
        goto out;
    if (cons->query_auth_enc) {
        strbuf_addc(&out->url, sep);
        strbuf_adds(&out->url, cons->query_auth_enc);
    }
    if (out->url.len >= MAPPING_MAX_URL - 1) {
        fail(err, 414, "", "the upstream URL is too long");
        goto out;
    }

    /* The caller's trusted headers; the credential ones are the credentials' to place (the
     * caller's own wins over a configured one, as for any call) and a namespace parameter
     * with a fixed value wins over the caller's. */
    kept = xcalloc(in->nheaders + 1, sizeof *kept);
    for (size_t i = 0; i < in->nheaders; i++) {
        const struct mapping_kv *h = &in->headers[i];
        if (str_eq_ci(h->name, "content-type") && !ct)
            ct = h->value;
        if (!trusted(f, h->name) || forward_header_never(h->name))
            continue;
        if (!urlenc_header_value_ok(h->value, h->len)) {
            fail(err, 400, h->name, "a trusted header contains a control character");
            goto out;
        }
        kept[nkept++] = *h;
        if (is_credential_header(call, h->name) ||
            ns_value_param(cons->mc, h->name, MODEL_IN_HEADER))
            continue;
        outreq_add_header(out, h->name, h->value, h->len);
    }
    if (add_ns_params(rt, call, MODEL_IN_HEADER, NULL, NULL, out, err) < 0 ||
        mapping_add_credentials(rt, call, kept, nkept, out, err) < 0)
        goto out;

    if (in->body && in->body_len) {
        /* As received; bytes whose type the caller did not say are just bytes. */
        if (!ct || !*ct)
            ct = "application/octet-stream";
        if (!urlenc_header_value_ok(ct, strlen(ct))) {
            fail(err, 400, "Content-Type", "the Content-Type contains a control character");
            goto out;
        }
        outreq_add_header(out, "Content-Type", ct, strlen(ct));
        out->body = xmalloc(in->body_len);
        memcpy(out->body, in->body, in->body_len);
        out->body_len = in->body_len;
    }
    rc = 0;
out:
    free(kept);
    return rc;
}
