/* outreq: see outreq.h. */
#include "core/outreq.h"

#include <stdlib.h>
#include <string.h>

void outreq_init(struct outreq *o, size_t max_url)
{
    memset(o, 0, sizeof *o);
    strbuf_init(&o->url, max_url);
}

void outreq_deinit(struct outreq *o)
{
    strbuf_deinit(&o->url);
    for (size_t i = 0; i < o->nheaders; i++)
        free(o->headers[i].name); /* the value is in the same block */
    free(o->headers);
    free(o->body);
    memset(o, 0, sizeof *o);
}

void outreq_add_header(struct outreq *o, const char *name, const char *value, size_t len)
{
    /* One allocation per header (name and value in one block) and the array grown by doubling:
     * every request adds several (credentials, traceparent, User-Agent, X-Request-Id). */
    if (o->nheaders == o->headers_cap) {
        o->headers_cap = o->headers_cap ? 2 * o->headers_cap : 8;
        o->headers = xrealloc(o->headers, o->headers_cap * sizeof *o->headers);
    }
    size_t nl = strlen(name);
    char *blk = xmalloc(nl + 1 + len + 1);
    memcpy(blk, name, nl + 1);
    char *v = blk + nl + 1;
    if (len)
        memcpy(v, value, len);
    v[len] = '\0';
    o->headers[o->nheaders++] = (struct outreq_header){blk, v, len};
}

const struct outreq_header *outreq_find_header(const struct outreq *o, const char *name)
{
    for (size_t i = 0; i < o->nheaders; i++)
        if (str_eq_ci(o->headers[i].name, name))
            return &o->headers[i];
    return NULL;
}

const char *outreq_content_type(const struct outreq *o)
{
    const struct outreq_header *h = outreq_find_header(o, "Content-Type");
    if (h)
        return h->value;
    return o->body ? "application/json" : NULL;
}
