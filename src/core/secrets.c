/*
 * secrets: see secrets.h. Bind variables are read here (environment, or a JSON or YAML file) and
 * rendered into the consumers' credential header values; nothing else of the runtime sees a
 * secret before it is rendered.
 */
#include "core/secrets.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/jsonnum.h"
#include "base/b64.h"
#include "base/secret.h"
#include "spec/location.h"
#include "spec/template.h"
#include "spec/ynode.h"

/* ---- bind variables ---- */

struct uses {
    const char *var;
    bool in_auth;   /* used by an authentication block */
    bool elsewhere; /* used anywhere else */
};

struct find_var {
    const char *var;
    bool found;
};

static int is_var(void *arg, const char *name, size_t len)
{
    struct find_var *f = arg;
    f->found = strlen(f->var) == len && memcmp(f->var, name, len) == 0;
    return f->found; /* stop at the first use */
}

/* Whether template <s> reads bind variable <var>: one of the names template_render would look
 * up is exactly <var>. */
static bool str_uses(const char *s, const char *var)
{
    struct find_var f = {var, false};
    template_each(s, is_var, &f);
    return f.found;
}

static bool json_uses(const cJSON *j, const char *var)
{
    if (!j)
        return false;
    if (cJSON_IsString(j))
        return str_uses(j->valuestring, var);
    const cJSON *e;
    cJSON_ArrayForEach(e, j)
    {
        if (json_uses(e, var))
            return true;
    }
    return false;
}

static bool auth_uses(const struct model_auth *a, const char *var)
{
    return str_uses(a->token, var) || str_uses(a->username, var) || str_uses(a->password, var) ||
           str_uses(a->value, var);
}

static bool params_use(const struct model_param *p, size_t n, const char *var)
{
    for (size_t i = 0; i < n; i++)
        if (str_uses(p[i].value, var))
            return true;
    return false;
}

static bool call_uses(const struct model_call *mc, const char *var)
{
    for (size_t i = 0; i < mc->nwith; i++)
        if (mc->with[i].kind == MODEL_WITH_TEMPLATE && str_uses(mc->with[i].text, var))
            return true;
    return false;
}

static void find_uses(const struct model_capability *cap, struct uses *u)
{
    for (size_t i = 0; i < cap->nconsumers; i++) {
        const struct model_consumer *c = &cap->consumers[i];
        u->in_auth |= auth_uses(&c->auth, u->var);
        u->elsewhere |= str_uses(c->base_uri, u->var) || params_use(c->params, c->nparams, u->var);
        for (size_t r = 0; r < c->nresources; r++)
            for (size_t o = 0; o < c->resources[r].noperations; o++) {
                const struct model_operation *op = &c->resources[r].operations[o];
                u->elsewhere |= params_use(op->params, op->nparams, u->var) ||
                                str_uses(op->body.template, u->var) ||
                                json_uses(op->body.json, u->var);
            }
    }
    for (size_t i = 0; i < cap->nexposes; i++) {
        const struct model_expose *e = &cap->exposes[i];
        u->elsewhere |= auth_uses(&e->auth, u->var);
        for (size_t r = 0; r < e->nresources; r++)
            for (size_t o = 0; o < e->resources[r].noperations; o++)
                u->elsewhere |= call_uses(&e->resources[r].operations[o].call, u->var);
        for (size_t t = 0; t < e->ntools; t++)
            u->elsewhere |= call_uses(&e->tools[t].call, u->var);
    }
}

static bool header_params_use(const struct model_param *p, size_t n, const char *var)
{
    for (size_t i = 0; i < n; i++)
        if (p[i].in == MODEL_IN_HEADER && str_uses(p[i].value, var))
            return true;
    return false;
}

/* Whether bind variable <var> is used as a credential: by an authentication block (of a
 * consumed API or of an exposed adapter) or in a header parameter's value. */
static bool bind_is_credential(const struct model_capability *cap, const char *var)
{
    for (size_t i = 0; i < cap->nconsumers; i++) {
        const struct model_consumer *c = &cap->consumers[i];
        if (auth_uses(&c->auth, var) || header_params_use(c->params, c->nparams, var))
            return true;
        for (size_t r = 0; r < c->nresources; r++)
            for (size_t o = 0; o < c->resources[r].noperations; o++) {
                const struct model_operation *op = &c->resources[r].operations[o];
                if (header_params_use(op->params, op->nparams, var))
                    return true;
            }
    }
    for (size_t i = 0; i < cap->nexposes; i++)
        if (auth_uses(&cap->exposes[i].auth, var))
            return true;
    return false;
}

/* ---- bind files ---- */

#define SECRETS_MAX_BIND_FILE ((size_t)1 << 20)

/* A bind file read whole (`binds[].location`): a JSON object or a YAML mapping. */
struct bindfile {
    char *path;             /* resolved: relative locations are the document's directory's */
    cJSON *json;            /* LOCATION_JSON */
    struct ynode_doc *yaml; /* LOCATION_YAML, its root a mapping */
};

/* The file holds secrets: what is freed is overwritten first (best effort: what the parsers
 * copied is wiped too). */
static void wipe_json(cJSON *j)
{
    for (; j; j = j->next) {
        if (j->valuestring)
            secret_wipe(j->valuestring, strlen(j->valuestring));
        wipe_json(j->child);
    }
}

static void wipe_ynode(const struct ynode *n)
{
    if (!n)
        return;
    if (n->kind == YNODE_SCALAR)
        secret_wipe((char *)n->str, n->len);
    for (size_t i = 0; i < n->nitems; i++)
        wipe_ynode(n->items[i]);
    for (size_t i = 0; i < n->npairs; i++)
        wipe_ynode(n->pairs[i].value);
}

static void bindfile_close(struct bindfile *f)
{
    wipe_json(f->json);
    cJSON_Delete(f->json);
    if (f->yaml)
        wipe_ynode(f->yaml->root);
    ynode_doc_free(f->yaml);
    free(f->path);
    *f = (struct bindfile){0};
}

/* Read the file of <bind>; -1 after reporting at the bind's position why it cannot be used.
 * Messages name the file, never what it holds. */
static int bindfile_open(struct bindfile *f, const struct model_bind *bind, struct diag *d)
{
    const struct model_pos *pos = &bind->pos;
    char *err = NULL;
    struct strbuf b;
    int rc = -1;

    *f = (struct bindfile){0};
    strbuf_init(&b, SECRETS_MAX_BIND_FILE);
    f->path = location_file(pos->file, bind->location, false, &err);
    if (!f->path) { /* the loader refused it already; kept for documents built otherwise */
        diag_error(d, pos->file, pos->line, pos->col, "binds 'location': %s", err);
        goto cleanup;
    }
    struct stat st;
    if (stat(f->path, &st) == 0 && !S_ISREG(st.st_mode)) { /* a FIFO would block the load */
        diag_error(d, pos->file, pos->line, pos->col, "binds file '%s' is not a regular file",
                   f->path);
        goto cleanup;
    }
    FILE *fp = fopen(f->path, "rb");
    if (!fp) {
        diag_error(d, pos->file, pos->line, pos->col, "cannot read binds file '%s': %s", f->path,
                   strerror(errno));
        goto cleanup;
    }
    char chunk[4096];
    size_t n;
    bool big = false;
    while (!big && (n = fread(chunk, 1, sizeof chunk, fp)) > 0)
        big = strbuf_add(&b, chunk, n) < 0;
    bool failed = ferror(fp);
    secret_wipe(chunk, sizeof chunk);
    fclose(fp);
    if (big || failed) {
        diag_error(d, pos->file, pos->line, pos->col, "cannot read binds file '%s': %s", f->path,
                   big ? "larger than 1 MiB" : "read error");
        goto cleanup;
    }
    const char *text = b.data ? b.data : "";
    if (location_format_of(f->path) == LOCATION_YAML) {
        f->yaml = ynode_parse(f->path, text, b.len, d);
        if (f->yaml && (!f->yaml->root || f->yaml->root->kind != YNODE_MAPPING)) {
            diag_error(d, pos->file, pos->line, pos->col,
                       "binds file '%s' must hold a mapping of keys to values, got %s", f->path,
                       f->yaml->root ? ynode_describe(f->yaml->root) : "an empty document");
            goto cleanup;
        }
        if (!f->yaml) {
            diag_error(d, pos->file, pos->line, pos->col, "binds file '%s' is not valid YAML",
                       f->path);
            goto cleanup;
        }
    } else if (location_format_of(f->path) == LOCATION_JSON) {
        /* One JSON object and nothing after it: `{...} {...}` is not a binds file. */
        if (!json_text_refusal(text, b.len, true, NULL))
            f->json = jsonnum_parse_exact(text, b.len, NULL);
        if (!cJSON_IsObject(f->json)) {
            diag_error(d, pos->file, pos->line, pos->col,
                       "binds file '%s' must hold a JSON object of keys to values", f->path);
            goto cleanup;
        }
    } else {
        diag_error(d, pos->file, pos->line, pos->col,
                   "binds file '%s' is read as JSON or YAML by its extension: expected .json, "
                   ".yaml or .yml",
                   f->path);
        goto cleanup;
    }
    rc = 0;
cleanup:
    if (b.data)
        secret_wipe(b.data, b.len);
    strbuf_deinit(&b);
    free(err);
    if (rc < 0)
        bindfile_close(f);
    return rc;
}

/* The value of key <key> of an open bind file: a string, or a number or boolean as text (as
 * written in YAML). NULL with <*why> ("is not in", ...) when it has none. */
static char *bindfile_value(const struct bindfile *f, const char *key, const char **why)
{
    if (f->yaml) {
        const struct ynode *v = ynode_get(f->yaml->root, key);
        *why = !v                        ? "is not in"
               : v->kind != YNODE_SCALAR ? "is not a string, number or boolean in"
               : ynode_is_null(v)        ? "has no value in"
                                         : NULL;
        return *why ? NULL : xstrdup(v->str);
    }
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(f->json, key);
    *why = NULL;
    if (cJSON_IsString(v))
        return xstrdup(v->valuestring);
    if (cJSON_IsBool(v))
        return xstrdup(cJSON_IsTrue(v) ? "true" : "false");
    if (cJSON_IsNumber(v)) {
        char *printed = cJSON_PrintUnformatted(v), *r = xstrdup(printed);
        cJSON_free(printed);
        return r;
    }
    *why = !v                ? "is not in"
           : cJSON_IsNull(v) ? "has no value in"
                             : "is not a string, number or boolean in";
    return NULL;
}

int secrets_build_vars(struct runtime *rt, struct diag *d)
{
    size_t before = d->nerrors;
    const struct model *m = rt->model;
    for (size_t i = 0; i < m->ncaps; i++) {
        const struct model_capability *cap = m->caps[i];
        for (size_t b = 0; b < cap->nbinds; b++) {
            const struct model_bind *bind = &cap->binds[b];
            struct bindfile file = {0};
            /* A file that cannot be read was reported once; its keys are then not reported
             * one by one. */
            bool file_ok = bind->location && bindfile_open(&file, bind, d) == 0;
            for (size_t k = 0; k < bind->nkeys; k++) {
                const struct model_bind_key *key = &bind->keys[k];
                char *value = NULL;
                if (bind->location) {
                    const char *why = NULL;
                    value = file_ok && key->provider ? bindfile_value(&file, key->provider, &why)
                                                     : NULL;
                    /* Unlike an environment variable, a key the file lacks is a mistake in
                     * the document or the file, whether or not anything uses it yet. */
                    if (why)
                        diag_error(d, key->pos.file, key->pos.line, key->pos.col,
                                   "bind variable '%s': key '%s' %s binds file '%s'", key->var,
                                   key->provider, why, file.path);
                } else {
                    const char *v = getenv(key->provider);
                    value = v && *v ? xstrdup(v) : NULL;
                }
                if (value && config_is_placeholder(value) && bind_is_credential(cap, key->var))
                    diag_error(d, key->pos.file, key->pos.line, key->pos.col,
                               "bind variable '%s' is a credential but %s '%s'%s%s holds a "
                               "placeholder, not a secret: set the real value",
                               key->var, bind->location ? "key" : "environment variable",
                               key->provider, bind->location ? " of " : "",
                               bind->location ? bind->location : "");
                if (!value && !bind->location) {
                    struct uses u = {key->var, false, false};
                    find_uses(cap, &u);
                    if (u.elsewhere)
                        diag_error(d, key->pos.file, key->pos.line, key->pos.col,
                                   "bind variable '%s' is used by this document but %s '%s' "
                                   "is not set",
                                   key->var, bind->location ? "key" : "environment variable",
                                   key->provider);
                    else if (u.in_auth)
                        ; /* reported per consumer once configuration had its say */
                    else
                        diag_warn(d, key->pos.file, key->pos.line, key->pos.col,
                                  "bind variable '%s' (%s) is not set; nothing uses it", key->var,
                                  key->provider);
                }
                rt->vars = xrealloc(rt->vars, (rt->nvars + 1) * sizeof *rt->vars);
                rt->vars[rt->nvars++] = (struct rt_var){key->var, value};
            }
            bindfile_close(&file);
        }
    }
    return d->nerrors > before ? -1 : 0;
}

/* ---- consumers ---- */

struct var_ctx {
    const struct runtime *rt;
    bool missing;
};

static int var_lookup(void *arg, const char *name, size_t len, struct strbuf *out)
{
    struct var_ctx *vc = arg;
    const char *v = runtime_var(vc->rt, name, len);
    if (!v) {
        vc->missing = true;
        return 1;
    }
    return strbuf_adds(out, v);
}

char *secrets_render(const struct runtime *rt, const char *prefix, const char *tpl)
{
    if (!tpl)
        return NULL;
    struct var_ctx vc = {rt, false};
    struct strbuf b;
    strbuf_init(&b, 0);
    strbuf_adds(&b, prefix);
    template_render(tpl, var_lookup, &vc, &b);
    if (vc.missing || b.len == strlen(prefix)) {
        secret_wipe(b.data, b.len); /* what was rendered before the missing variable */
        strbuf_deinit(&b);
        return NULL;
    }
    return strbuf_detach(&b, NULL);
}

static int first_name(void *arg, const char *name, size_t len)
{
    *(char **)arg = xasprintf("bind %.*s", (int)len, name);
    return 1;
}

/* Where a document's credential comes from, for the route table and warnings: the first bind
 * variable its template reads, or the document itself when it reads none (a literal value). */
static char *auth_source(const struct model_auth *a)
{
    const char *tpl = a->kind == MODEL_AUTH_BEARER  ? a->token
                      : a->kind == MODEL_AUTH_BASIC ? a->password
                                                    : a->value;
    char *source = NULL;
    template_each(tpl, first_name, &source);
    return source ? source : xstrdup("capability document");
}

/* runtime_credential for the consumer being built: the one place a credential is changed
 * after it was added (configuration fills a value the document's authentication left unset). */
static struct rt_credential *cred_to_fill(struct rt_consumer *rc, const char *name)
{
    for (size_t i = 0; i < rc->ncreds; i++)
        if (str_eq_ci(rc->creds[i].header, name))
            return &rc->creds[i];
    return NULL;
}

static void add_cred(struct rt_consumer *rc, const char *header, char *value, char *source,
                     bool from_auth, struct arena *a)
{
    rc->creds = xrealloc(rc->creds, (rc->ncreds + 1) * sizeof *rc->creds);
    rc->creds[rc->ncreds++] =
        (struct rt_credential){arena_strdup(a, header), value, source, from_auth};
}

int secrets_build_consumer(struct runtime *rt, const struct model_consumer *mc,
                           struct rt_consumer *rc, struct diag *d)
{
    struct arena *a = &rt->model->arena;
    const struct config_consumer *cc = config_consumer_for(rt->config, mc->ns);
    const char *base = cc && cc->base_uri && *cc->base_uri ? cc->base_uri : mc->base_uri;
    rc->mc = mc;
    if (!base || !*base) {
        diag_error(d, mc->pos.file, mc->pos.line, mc->pos.col,
                   "consumes '%s' has an empty baseUri and no configured base URI matches it: "
                   "set consumers[].baseUri in the configuration (the shipped one reads "
                   "CAL_COM_BASE_URI)",
                   mc->ns);
        return -1;
    }
    if (!str_has_prefix(base, "http://") && !str_has_prefix(base, "https://")) {
        diag_error(d, mc->pos.file, mc->pos.line, mc->pos.col,
                   "base URI '%s' of consumes '%s' must start with http:// or https://", base,
                   mc->ns);
        return -1;
    }
    size_t len = strlen(base);
    while (len > 0 && base[len - 1] == '/')
        len--;
    rc->base_uri = xstrndup(base, len);
    rc->https = str_has_prefix(base, "https://");

    const struct model_auth *au = &mc->auth;
    switch (au->kind) {
    case MODEL_AUTH_BEARER:
        add_cred(rc, "Authorization", secrets_render(rt, "Bearer ", au->token), auth_source(au),
                 true, a);
        break;
    case MODEL_AUTH_BASIC: {
        struct var_ctx vc = {rt, false};
        struct strbuf b;
        strbuf_init(&b, 0);
        template_render(au->username ? au->username : "", var_lookup, &vc, &b);
        strbuf_addc(&b, ':');
        template_render(au->password ? au->password : "", var_lookup, &vc, &b);
        char *value = NULL;
        if (!vc.missing) {
            char *enc = b64_encode(b.data, b.len);
            value = xasprintf("Basic %s", enc);
            secret_free(enc);
        }
        secret_wipe(b.data, b.len); /* "user:password" in clear */
        strbuf_deinit(&b);
        add_cred(rc, "Authorization", value, auth_source(au), true, a);
        break;
    }
    case MODEL_AUTH_APIKEY:
        if (!au->key || !*au->key) {
            diag_error(d, au->pos.file, au->pos.line, au->pos.col,
                       "apikey authentication needs 'key' (the header or query name)");
            return -1;
        }
        if (au->in_query) {
            rc->query_auth_name = xstrdup(au->key);
            rc->query_auth_value = secrets_render(rt, "", au->value);
        } else {
            add_cred(rc, au->key, secrets_render(rt, "", au->value), auth_source(au), true, a);
        }
        break;
    case MODEL_AUTH_DIGEST: {
        /* Not a header: the upstream client answers the API's challenge with these. */
        struct var_ctx vc = {rt, false};
        struct strbuf u, p;
        strbuf_init(&u, 0);
        strbuf_init(&p, 0);
        template_render(au->username ? au->username : "", var_lookup, &vc, &u);
        template_render(au->password ? au->password : "", var_lookup, &vc, &p);
        if (!vc.missing) {
            rc->digest_user = xstrndup(u.data ? u.data : "", u.len);
            rc->digest_pass = xstrndup(p.data ? p.data : "", p.len);
        }
        secret_wipe(u.data, u.len);
        secret_wipe(p.data, p.len);
        strbuf_deinit(&u);
        strbuf_deinit(&p);
        break;
    }
    case MODEL_AUTH_NONE:
    case MODEL_AUTH_OAUTH2: /* refused on consumes at load */
        break;
    }
    /* Configured credentials fill what the document's own authentication does not cover. */
    for (size_t i = 0; cc && i < cc->ncredentials; i++) {
        const struct config_credential *cr = &cc->credentials[i];
        struct rt_credential *have = cred_to_fill(rc, cr->header);
        if (have) {
            if (!have->value && cr->value) {
                have->value = xstrdup(cr->value);
                free(have->source);
                have->source = xstrdup(cr->source);
            }
            continue;
        }
        add_cred(rc, cr->header, cr->value ? xstrdup(cr->value) : NULL, xstrdup(cr->source), false,
                 a);
    }
    return 0;
}
