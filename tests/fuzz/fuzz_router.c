/*
 * fuzz_router: the REST route tables of the shipped documents, built once; each input is a
 * method byte and a raw request path, matched as the REST front end does (router_match on the
 * still-encoded path). Checked: a match's captures are non-empty slices of the path that hold
 * no '/', each is exactly one whole segment, and a found route is one the table has for that
 * method.
 */
#include "fuzz.h"

#include "router.h"

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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    enum model_method method = (enum model_method)(data[0] % MODEL_METHOD_COUNT);
    size_t len = size - 1;
    /* A heap copy of exactly the path's bytes, so ASan sees any read past its end. */
    char *path = malloc(len ? len : 1);
    if (!path)
        abort();
    memcpy(path, data + 1, len);
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
        } else if (r == ROUTER_METHOD_NOT_ALLOWED) {
            FUZZ_ASSERT(mt.allow_mask != 0, "405 with nothing allowed");
            FUZZ_ASSERT(!(mt.allow_mask & (1u << method)), "405 but %s is allowed",
                        model_method_name(method));
        }
    }
    free(path);
    return 0;
}
