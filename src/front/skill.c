/*
 * skill: see skill.h. The answers follow the reference engine's JSON shapes (CatalogResource,
 * DetailResource, ContentsResource, FileResource); errors are problem documents.
 */
#include "front/skill.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <event2/buffer.h>
#include <event2/keyvalq_struct.h>

#include "base/util.h"
#include "core/runtime.h"
#include "http/exchange.h"
#include "http/reqcheck.h"

static const struct model_skill *find_skill(const struct model_expose *e, const char *name,
                                            size_t len)
{
    for (size_t i = 0; i < e->nskills; i++) {
        const char *n = e->skills[i].name;
        if (n && strlen(n) == len && memcmp(n, name, len) == 0)
            return &e->skills[i];
    }
    return NULL;
}

static void add_str(cJSON *o, const char *key, const char *v)
{
    if (v)
        cJSON_AddStringToObject(o, key, v);
}

static cJSON *catalog_json(const struct model_expose *e)
{
    cJSON *root = cJSON_CreateObject(), *list = cJSON_CreateArray();
    cJSON_AddNumberToObject(root, "count", (double)e->nskills);
    for (size_t i = 0; i < e->nskills; i++) {
        const struct model_skill *sk = &e->skills[i];
        cJSON *o = cJSON_CreateObject(), *tools = cJSON_CreateArray();
        add_str(o, "name", sk->name);
        add_str(o, "description", sk->description);
        add_str(o, "license", sk->license);
        for (size_t t = 0; t < sk->ntools; t++)
            cJSON_AddItemToArray(tools, cJSON_CreateString(sk->tools[t].name));
        cJSON_AddItemToObject(o, "tools", tools);
        cJSON_AddItemToArray(list, o);
    }
    cJSON_AddItemToObject(root, "skills", list);
    return root;
}

static cJSON *detail_json(const struct model_skill *sk)
{
    cJSON *o = cJSON_CreateObject(), *tools = cJSON_CreateArray();
    add_str(o, "name", sk->name);
    add_str(o, "description", sk->description);
    add_str(o, "license", sk->license);
    add_str(o, "compatibility", sk->compatibility);
    add_str(o, "argument-hint", sk->argument_hint);
    add_str(o, "allowed-tools", sk->allowed_tools);
    if (sk->user_invocable >= 0)
        cJSON_AddBoolToObject(o, "user-invocable", sk->user_invocable);
    if (sk->disable_model_invocation >= 0)
        cJSON_AddBoolToObject(o, "disable-model-invocation", sk->disable_model_invocation);
    if (sk->nmeta) {
        cJSON *meta = cJSON_AddObjectToObject(o, "metadata");
        for (size_t i = 0; i < sk->nmeta; i++)
            cJSON_AddStringToObject(meta, sk->meta_keys[i], sk->meta_values[i]);
    }
    for (size_t i = 0; i < sk->ntools; i++) {
        const struct model_skill_tool *t = &sk->tools[i];
        cJSON *to = cJSON_CreateObject();
        add_str(to, "name", t->name);
        add_str(to, "description", t->description);
        if (t->from_ns) {
            cJSON_AddStringToObject(to, "type", "derived");
            cJSON *ref = cJSON_AddObjectToObject(to, "invocationRef");
            cJSON_AddStringToObject(ref, "targetNamespace", t->from_ns);
            add_str(ref, "action", t->from_action);
            cJSON_AddStringToObject(ref, "mode",
                                    !t->from_expose                             ? "unknown"
                                    : t->from_expose->type == MODEL_EXPOSE_REST ? "rest"
                                                                                : "mcp");
        } else {
            cJSON_AddStringToObject(to, "type", "instruction");
            add_str(to, "instruction", t->instruction);
        }
        cJSON_AddItemToArray(tools, to);
    }
    cJSON_AddItemToObject(o, "tools", tools);
    return o;
}

/* The media type answered for a skill file, by its extension. */
static const char *media_type(const char *name)
{
    static const struct {
        const char *ext, *type;
    } types[] = {
        {"md", "text/markdown"},      {"txt", "text/plain"},        {"json", "application/json"},
        {"yaml", "application/yaml"}, {"yml", "application/yaml"},  {"html", "text/html"},
        {"csv", "text/csv"},          {"xml", "application/xml"},   {"js", "text/javascript"},
        {"py", "text/x-python"},      {"sh", "text/x-shellscript"}, {"png", "image/png"},
        {"svg", "image/svg+xml"},     {"jpg", "image/jpeg"},        {"pdf", "application/pdf"},
    };
    const char *dot = strrchr(name, '.'), *slash = strrchr(name, '/');
    if (dot && (!slash || dot > slash))
        for (size_t i = 0; i < UTIL_ARRAY_LEN(types); i++)
            if (str_eq_ci(dot + 1, types[i].ext))
                return types[i].type;
    return "application/octet-stream";
}

struct walk_file {
    char *path; /* relative to the location */
    off_t size;
};

struct walk {
    struct walk_file *files;
    size_t n;
    bool truncated;
};

/* Collect the regular files under <root>/<rel> (relative paths). Symbolic links are not
 * followed: the listing shows what the directory holds, never what it points at. */
static void walk_dir(const char *root, const char *rel, struct walk *w, int depth)
{
    char *dir = rel[0] ? xasprintf("%s/%s", root, rel) : xstrdup(root);
    DIR *d = depth < 16 ? opendir(dir) : NULL;
    struct dirent *de;
    while (d && (de = readdir(d))) {
        if (str_eq(de->d_name, ".") || str_eq(de->d_name, ".."))
            continue;
        char *path = xasprintf("%s/%s", dir, de->d_name);
        char *sub = rel[0] ? xasprintf("%s/%s", rel, de->d_name) : xstrdup(de->d_name);
        struct stat st;
        if (lstat(path, &st) != 0) {
            /* gone meanwhile: not listed */
        } else if (S_ISDIR(st.st_mode)) {
            walk_dir(root, sub, w, depth + 1);
        } else if (S_ISREG(st.st_mode)) {
            if (w->n < SKILL_MAX_FILES) {
                w->files = xrealloc(w->files, (w->n + 1) * sizeof *w->files);
                w->files[w->n++] = (struct walk_file){sub, st.st_size};
                sub = NULL;
            } else {
                w->truncated = true;
            }
        }
        free(sub);
        free(path);
    }
    if (d)
        closedir(d);
    free(dir);
}

static int path_cmp(const void *a, const void *b)
{
    return strcmp(((const struct walk_file *)a)->path, ((const struct walk_file *)b)->path);
}

static void reply_contents(struct exchange *x, const struct model_skill *sk)
{
    struct stat st;
    if (stat(sk->dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        exchange_problem(x, 404, "the skill's location directory does not exist", NULL, NULL);
        return;
    }
    struct walk w = {0};
    walk_dir(sk->dir, "", &w, 0);
    qsort(w.files, w.n, sizeof *w.files, path_cmp);
    cJSON *root = cJSON_CreateObject(), *files = cJSON_CreateArray();
    cJSON_AddStringToObject(root, "name", sk->name);
    for (size_t i = 0; i < w.n; i++) {
        cJSON *f = cJSON_CreateObject();
        cJSON_AddStringToObject(f, "path", w.files[i].path);
        cJSON_AddNumberToObject(f, "size", (double)w.files[i].size);
        cJSON_AddStringToObject(f, "type", media_type(w.files[i].path));
        cJSON_AddItemToArray(files, f);
        free(w.files[i].path);
    }
    free(w.files);
    cJSON_AddItemToObject(root, "files", files);
    if (w.truncated)
        cJSON_AddBoolToObject(root, "truncated", true);
    exchange_reply_json(x, 200, "application/json", root);
}

/* Whether decoded relative path <p> stays inside the directory it is joined to: no empty,
 * "." or ".." segment, no leading '/', no NUL (checked by the caller's length). */
static bool rel_path_ok(const char *p)
{
    if (!*p || *p == '/')
        return false;
    for (const char *s = p; *s;) {
        const char *e = strchr(s, '/');
        size_t n = e ? (size_t)(e - s) : strlen(s);
        if (n == 0 || (n == 1 && s[0] == '.') || (n == 2 && s[0] == '.' && s[1] == '.'))
            return false;
        s += n + (e ? 1 : 0);
        if (e && !*s)
            return false;
    }
    return true;
}

static void reply_file(struct exchange *x, const struct model_skill *sk, const char *raw,
                       size_t rawlen)
{
    char *enc = xstrndup(raw, rawlen);
    size_t len = 0;
    char *rel = evhttp_uridecode(enc, 0, &len);
    char *full = NULL, *real = NULL, *root = NULL;
    int fd = -1;
    free(enc);
    if (!rel || strlen(rel) != len || !rel_path_ok(rel)) {
        exchange_problem(x, 400, "the file path must stay inside the skill's location", "file",
                         NULL);
        goto out;
    }
    full = xasprintf("%s/%s", sk->dir, rel);
    real = realpath(full, NULL);
    root = realpath(sk->dir, NULL);
    size_t rl = root ? strlen(root) : 0;
    /* A symbolic link inside the location may not lead out of it. */
    if (!real || !root || strncmp(real, root, rl) != 0 || real[rl] != '/') {
        exchange_problem(x, 404, "no such file in this skill", "file", NULL);
        goto out;
    }
    struct stat st;
    fd = open(real, O_RDONLY | O_CLOEXEC);
    if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        exchange_problem(x, 404, "no such file in this skill", "file", NULL);
        goto out;
    }
    if (st.st_size > SKILL_MAX_FILE) {
        exchange_problem(x, 413, "the file is larger than the skill adapter serves", "file", NULL);
        goto out;
    }
    struct evbuffer *b = evbuffer_new();
    if (st.st_size > 0 && evbuffer_add_file(b, fd, 0, st.st_size) < 0) {
        evbuffer_free(b);
        exchange_problem(x, 500, "the file could not be read", "file", NULL);
        goto out;
    }
    fd = -1;                                    /* the buffer owns it now */
    exchange_reply(x, 200, media_type(rel), b); /* moves the contents, not the buffer */
    evbuffer_free(b);
out:
    if (fd >= 0)
        close(fd);
    free(rel);
    free(full);
    free(real);
    free(root);
}

void skill_handle(struct evhttp_request *req, void *arg)
{
    const struct front_listener *fl = arg;
    struct exchange *x = exchange_begin(fl->loop, req, "skill");
    if (!x)
        return;
    const struct runtime *rt = exchange_runtime(x);
    const struct model_expose *e = front_listener_get(fl, rt)->expose;
    const struct rt_inbound *inbound = runtime_inbound(rt, e);
    if (inbound && reqcheck_auth(req, &inbound, 1)) {
        exchange_problem(x, 401, "missing or wrong credentials for this skill server", NULL, NULL);
        return;
    }
    enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
    if (cmd != EVHTTP_REQ_GET && cmd != EVHTTP_REQ_HEAD) {
        evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", "GET, HEAD");
        exchange_problem(x, 405, "the skill server is read-only: GET", NULL, NULL);
        return;
    }
    const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
    const char *p = uri ? evhttp_uri_get_path(uri) : NULL;
    if (!p)
        p = "/";
    if (str_eq(p, "/skills") || str_eq(p, "/skills/")) {
        exchange_set_route(x, "skills");
        exchange_reply_json(x, 200, "application/json", catalog_json(e));
        return;
    }
    if (strncmp(p, "/skills/", 8) != 0) {
        exchange_problem(x, 404, "no such path; the catalog is at /skills", NULL, NULL);
        return;
    }
    const char *name = p + 8, *rest = strchr(name, '/');
    size_t nlen = rest ? (size_t)(rest - name) : strlen(name);
    const struct model_skill *sk = find_skill(e, name, nlen);
    if (!sk) {
        exchange_problem(x, 404, "no skill of that name", "name", NULL);
        return;
    }
    exchange_set_route(x, sk->name);
    if (!rest || str_eq(rest, "/")) {
        exchange_reply_json(x, 200, "application/json", detail_json(sk));
        return;
    }
    bool contents = str_eq(rest, "/contents") || str_eq(rest, "/contents/");
    bool file = !contents && strncmp(rest, "/contents/", 10) == 0;
    if (!contents && !file) {
        exchange_problem(x, 404,
                         str_eq(rest, "/download") ? "capproxy does not serve skill archives; "
                                                     "list /contents and fetch each file"
                                                   : "no such path under this skill",
                         NULL, NULL);
        return;
    }
    if (!sk->dir) {
        exchange_problem(x, 404, "the skill has no location", NULL, NULL);
        return;
    }
    if (contents)
        reply_contents(x, sk);
    else
        reply_file(x, sk, rest + 10, strlen(rest + 10));
}
