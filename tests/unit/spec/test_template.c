/*
 * Unit tests for template: Mustache rendering, path expansion with per-segment encoding (and the
 * injection cases), path template checks and variable listing.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "spec/template.h"
#include "base/util.h"

#define LONG_VALUE "0123456789012345678901234567890123456789/0123456789"

struct kv {
    const char *k;
    const char *v;
};

static const struct kv vars[] = {
    {"id", "42"},       {"name", "Ann"},      {"rest.clientId", "c-1"}, {"tools.x", "X"},
    {"empty", ""},      {"slash", "a/b"},     {"dots", ".."},           {"dot", "."},
    {"q", "a?b#c"},     {"nul", "a\0b"}, /* strlen stops at the NUL; see lookup_nul */
    {"crlf", "x\r\ny"}, {"utf8", "\xc3\xbc"}, {"plus", "a+b c"},        {"pct", "%2F"},
    {"dots3", "..."},   {"long", LONG_VALUE},
};

static int calls;

/* Names as written; "abort" aborts; "partial" appends then says unknown. */
static int lookup(void *arg, const char *name, size_t len, struct strbuf *out)
{
    (void)arg;
    calls++;
    if (len == 5 && memcmp(name, "abort", 5) == 0)
        return -1;
    if (len == 7 && memcmp(name, "partial", 7) == 0) {
        strbuf_adds(out, "junk");
        return 1;
    }
    if (len == 3 && memcmp(name, "nul", 3) == 0)
        return strbuf_add(out, "a\0b", 3);
    for (size_t i = 0; i < UTIL_ARRAY_LEN(vars); i++)
        if (strlen(vars[i].k) == len && memcmp(vars[i].k, name, len) == 0)
            return strbuf_adds(out, vars[i].v) < 0 ? -1 : 0;
    return 1;
}

static const char *render(const char *tpl)
{
    static struct strbuf b;
    strbuf_deinit(&b);
    strbuf_init(&b, 0);
    if (template_render(tpl, lookup, NULL, &b) < 0)
        return "(error)";
    return b.data;
}

static char missing_name[64];

static const char *path(const char *tpl)
{
    static struct strbuf b;
    const char *missing = (const char *)1;
    size_t mlen = 99;

    strbuf_deinit(&b);
    strbuf_init(&b, 0);
    missing_name[0] = '\0';
    int rc = template_expand_path(tpl, lookup, NULL, &b, &missing, &mlen);
    if (rc < 0) {
        if (missing) {
            memcpy(missing_name, missing, mlen);
            missing_name[mlen] = '\0';
        }
        return "(error)";
    }
    if (missing != NULL || mlen != 0)
        return "(missing set on success)";
    return b.data;
}

static void test_render(void)
{
    CHECK_STR(render(""), "");
    CHECK_STR(render("plain text"), "plain text");
    CHECK_STR(render("{{id}}"), "42");
    CHECK_STR(render("id={{id}}!"), "id=42!");
    CHECK_STR(render("{{ id }}"), "42");
    CHECK_STR(render("{{\tid  }}"), "42");
    CHECK_STR(render("{{id}}{{name}}"), "42Ann");
    CHECK_STR(render("{{rest.clientId}}/{{tools.x}}"), "c-1/X");
    CHECK_STR(render("[{{unknown}}]"), "[]");
    CHECK_STR(render("[{{}}]"), "[]");
    CHECK_STR(render("[{{ }}]"), "[]");
    CHECK_STR(render("[{{partial}}]"), "[]"); /* whatever an unknown lookup appended goes */
    CHECK_STR(render("{{empty}}x"), "x");
    /* values are inserted raw: no encoding, no escaping */
    CHECK_STR(render("{{slash}} {{q}} {{plus}}"), "a/b a?b#c a+b c");
    /* single braces and unclosed placeholders are text */
    CHECK_STR(render("{id}"), "{id}");
    CHECK_STR(render("a {{id"), "a {{id");
    CHECK_STR(render("a }} b"), "a }} b");
    CHECK_STR(render("{{id}} {{id"), "42 {{id");
    /* JSON bodies */
    CHECK_STR(render("{\"id\": {{id}}}"), "{\"id\": 42}");
    CHECK_STR(render("{\"n\":\"{{name}}\",\"o\":{\"i\":{{id}}}}"),
              "{\"n\":\"Ann\",\"o\":{\"i\":42}}");
    CHECK_STR(render("{\"a\":{{{id}}}}"), "{\"a\":{42}}");
    CHECK_STR(render("{{{id}}}"), "{42}");
    /* the last "{{" before "}}" opens the placeholder */
    CHECK_STR(render("{{a {{id}}"), "{{a 42");

    /* an embedded NUL from the lookup is kept (length is authoritative) */
    struct strbuf b;
    strbuf_init(&b, 0);
    CHECK(template_render("<{{nul}}>", lookup, NULL, &b) == 0);
    CHECK(b.len == 5 && memcmp(b.data, "<a\0b>", 5) == 0);

    /* abort: -1 and the buffer is left as it was */
    strbuf_reset(&b);
    strbuf_adds(&b, "keep");
    CHECK(template_render("x{{id}}{{abort}}y", lookup, NULL, &b) == -1);
    CHECK_STR(b.data, "keep");
    CHECK(b.len == 4);

    /* render appends */
    CHECK(template_render("+{{id}}", lookup, NULL, &b) == 0);
    CHECK_STR(b.data, "keep+42");
    strbuf_deinit(&b);

    /* cap exceeded */
    strbuf_init(&b, 5);
    CHECK(template_render("id={{id}}", lookup, NULL, &b) == 0);
    CHECK_STR(b.data, "id=42");
    strbuf_reset(&b);
    CHECK(template_render("id={{id}}!", lookup, NULL, &b) == -1);
    CHECK(b.len == 0);
    strbuf_reset(&b);
    CHECK(template_render("{{name}}{{name}}", lookup, NULL, &b) == -1);
    CHECK(b.len == 0);
    strbuf_deinit(&b);

    /* NULL lookup: everything unknown; NULL template: empty */
    strbuf_init(&b, 0);
    CHECK(template_render("a{{id}}b", NULL, NULL, &b) == 0);
    CHECK_STR(b.data, "ab");
    strbuf_reset(&b);
    CHECK(template_render(NULL, lookup, NULL, &b) == 0);
    CHECK(b.len == 0);
    strbuf_deinit(&b);

    /* the lookup is called once per non-empty placeholder and not for text */
    calls = 0;
    render("{{id}} { } {{}} {{name}} }}");
    CHECK(calls == 2);
}

static void test_has_placeholder(void)
{
    CHECK(template_has_placeholder("{{x}}"));
    CHECK(template_has_placeholder("a {{ x }} b"));
    CHECK(template_has_placeholder("{{}}"));
    CHECK(!template_has_placeholder("{x}"));
    CHECK(!template_has_placeholder("{{x"));
    CHECK(!template_has_placeholder("x}}"));
    CHECK(!template_has_placeholder("}} {{"));
    CHECK(!template_has_placeholder(""));
    CHECK(!template_has_placeholder("{{}"));
    CHECK(!template_has_placeholder(NULL));
}

static void test_expand_path(void)
{
    CHECK_STR(path("/users"), "/users");
    CHECK_STR(path(""), "");
    CHECK_STR(path("/users/{id}"), "/users/42");
    CHECK_STR(path("/users/{{id}}"), "/users/42");
    CHECK_STR(path("/users/{ id }/x"), "/users/42/x");
    CHECK_STR(path("/users/{{ id }}/x"), "/users/42/x");
    CHECK_STR(path("/c/{rest.clientId}/u/{{tools.x}}"), "/c/c-1/u/X");
    CHECK_STR(path("/f/{id}.json"), "/f/42.json");
    CHECK_STR(path("/{id}{name}"), "/42Ann");
    /* a stray '}' is text (template_check_path refuses it at load time) */
    CHECK_STR(path("/a}"), "/a}");

    /* injection: a value stays one segment */
    CHECK_STR(path("/users/{slash}"), "/users/a%2Fb");
    CHECK_STR(path("/users/{q}"), "/users/a%3Fb%23c");
    CHECK_STR(path("/users/{nul}"), "/users/a%00b");
    CHECK_STR(path("/users/{crlf}"), "/users/x%0D%0Ay");
    CHECK_STR(path("/users/{utf8}"), "/users/%C3%BC");
    CHECK_STR(path("/users/{plus}"), "/users/a%2Bb%20c");
    CHECK_STR(path("/users/{pct}"), "/users/%252F");
    CHECK_STR(path("/users/{dots3}"), "/users/...");
    CHECK_STR(path("/x/{long}/y"), "/x/0123456789012345678901234567890123456789%2F0123456789/y");
    CHECK_STR(path("/{utf8}/{slash}/{id}"), "/%C3%BC/a%2Fb/42");

    /* values that would change the path count as missing */
    CHECK_STR(path("/users/{dots}"), "(error)");
    CHECK_STR(missing_name, "dots");
    CHECK_STR(path("/users/{dot}/x"), "(error)");
    CHECK_STR(missing_name, "dot");
    CHECK_STR(path("/users/{{ empty }}"), "(error)");
    CHECK_STR(missing_name, "empty");

    /* unknown names */
    CHECK_STR(path("/users/{id}/{ nope }/{name}"), "(error)");
    CHECK_STR(missing_name, "nope");
    CHECK_STR(path("/users/{{partial}}"), "(error)");
    CHECK_STR(missing_name, "partial");

    /* abort and malformed: -1, no missing name */
    CHECK_STR(path("/users/{abort}"), "(error)");
    CHECK_STR(missing_name, "");
    CHECK_STR(path("/users/{id"), "(error)");
    CHECK_STR(missing_name, "");
    CHECK_STR(path("/users/{}"), "(error)");
    CHECK_STR(path("/a/{{x}"), "(error)");

    /* failure leaves the buffer as it was; success appends */
    struct strbuf b;
    strbuf_init(&b, 0);
    strbuf_adds(&b, "https://h");
    CHECK(template_expand_path("/u/{id}/{nope}", lookup, NULL, &b, NULL, NULL) == -1);
    CHECK_STR(b.data, "https://h");
    CHECK(template_expand_path("/u/{slash}", lookup, NULL, &b, NULL, NULL) == 0);
    CHECK_STR(b.data, "https://h/u/a%2Fb");
    strbuf_deinit(&b);

    /* the cap counts the encoded length */
    strbuf_init(&b, 8);
    CHECK(template_expand_path("/u/{slash}", lookup, NULL, &b, NULL, NULL) == 0);
    CHECK_STR(b.data, "/u/a%2Fb");
    strbuf_reset(&b);
    CHECK(template_expand_path("/u/{slash}/", lookup, NULL, &b, NULL, NULL) == -1);
    CHECK(b.len == 0);
    strbuf_reset(&b);
    CHECK(template_expand_path("/uu/{slash}", lookup, NULL, &b, NULL, NULL) == -1);
    CHECK(b.len == 0);
    strbuf_deinit(&b);

    /* a value long enough to need several padding rounds, encoded entirely */
    strbuf_init(&b, 0);
    CHECK(template_expand_path("/{long}{long}{long}", lookup, NULL, &b, NULL, NULL) == 0);
    CHECK(b.len == 1 + 3 * (strlen(LONG_VALUE) + 2));
    CHECK(strchr(b.data + 1, '/') == NULL);
    strbuf_deinit(&b);
}

/* A lookup that returns a long value of slashes, to exercise in-place growth. */
static int lookup_slashes(void *arg, const char *name, size_t len, struct strbuf *out)
{
    (void)name;
    (void)len;
    size_t n = *(size_t *)arg;
    for (size_t i = 0; i < n; i++)
        if (strbuf_addc(out, i % 2 ? '/' : 'a') < 0)
            return -1;
    return 0;
}

static void test_expand_path_long(void)
{
    size_t n = 1001;
    struct strbuf b;
    strbuf_init(&b, 0);
    CHECK(template_expand_path("/p/{x}/q", lookup_slashes, &n, &b, NULL, NULL) == 0);
    CHECK(b.len == 3 + 501 + 500 * 3 + 2);
    CHECK(strncmp(b.data, "/p/a%2Fa%2F", 11) == 0);
    CHECK(strcmp(b.data + b.len - 6, "%2Fa/q") == 0);
    strbuf_deinit(&b);
}

static size_t check_off(const char *tpl, const char **msg)
{
    size_t off = 12345;
    const char *err = NULL;
    if (template_check_path(tpl, &off, &err) == 0)
        return (size_t)-1;
    *msg = err;
    return off;
}

static void test_check_path(void)
{
    const char *msg = NULL;

    CHECK(template_check_path("/users", NULL, NULL) == 0);
    CHECK(template_check_path("", NULL, NULL) == 0);
    CHECK(template_check_path("/users/{id}", NULL, NULL) == 0);
    CHECK(template_check_path("/users/{{id}}/x/{ y }", NULL, NULL) == 0);
    CHECK(template_check_path("/f/{id}.json", NULL, NULL) == 0);
    CHECK(template_check_path("/v2/oauth-clients/{clientId}/users/{userId}/force-refresh", NULL,
                              NULL) == 0);

    CHECK(check_off("/users/{id", &msg) == 7);
    CHECK(msg != NULL && strstr(msg, "unclosed") != NULL);
    CHECK(check_off("/users/id}", &msg) == 9);
    CHECK(msg != NULL && strstr(msg, "'}'") != NULL);
    CHECK(check_off("/users/{}", &msg) == 7);
    CHECK(msg != NULL && strstr(msg, "empty") != NULL);
    CHECK(check_off("/users/{{ }}", &msg) == 7);
    CHECK(check_off("/a/{{x}", &msg) == 3);
    CHECK(check_off("/a/{x}}", &msg) == 6);
    CHECK(check_off("/a/{{x}}}", &msg) == 8);
    CHECK(check_off("/a/{{{x}}}", &msg) == 5);
    CHECK(check_off("/a/{x{y}}", &msg) == 5);
    CHECK(check_off("/a/{x/y}", &msg) == 3);
    CHECK(check_off("/a/{ok}/{", &msg) == 8);
    CHECK(check_off("}", &msg) == 0);
    CHECK(check_off(NULL, &msg) == 0);
}

struct collected {
    char names[8][32];
    size_t n;
};

static void collect(void *arg, const char *name, size_t len)
{
    struct collected *c = arg;
    if (c->n < 8 && len < 32) {
        memcpy(c->names[c->n], name, len);
        c->names[c->n][len] = '\0';
    }
    c->n++;
}

static char *render_scope(const char *tpl, const char *scope_json)
{
    cJSON *scope = cJSON_Parse(scope_json);
    struct strbuf b;
    strbuf_init(&b, 0);
    CHECK(template_render_scope(tpl, scope, &b) == 0);
    cJSON_Delete(scope);
    return strbuf_detach(&b, NULL);
}

static void test_render_scope(void)
{
    static const char scope[] =
        "{\"imo\": \"IMO-1\", \"n\": 3, \"ids\": [1, \"b\"], \"a.b\": \"exact\","
        " \"get-ship\": {\"imo_number\": \"IMO-9\", \"crew\": [{\"id\": 7}]}, \"ok\": true}";
    char *r = render_scope("{{imo}}/{{n}}/{{ids}}/{{ok}}", scope);
    CHECK_STR(r, "IMO-1/3/[1,\"b\"]/true");
    free(r);
    r = render_scope("{{get-ship.imo_number}} {{get-ship.crew.0.id}} {{a.b}} [{{missing}}]", scope);
    CHECK_STR(r, "IMO-9 7 exact []");
    free(r);
    r = render_scope("{{get-ship.nope.x}}{{ids.5}}{{n.x}}", scope);
    CHECK_STR(r, "");
    free(r);
    r = render_scope("{{x}}", "[1]"); /* not an object: nothing is found */
    CHECK_STR(r, "");
    free(r);
    struct strbuf b;
    strbuf_init(&b, 0);
    CHECK(template_render_scope("plain {{x}}", NULL, &b) == 0);
    r = strbuf_detach(&b, NULL);
    CHECK_STR(r, "plain ");
    free(r);
}

static void test_path_vars(void)
{
    struct collected c;

    memset(&c, 0, sizeof c);
    CHECK(template_path_vars("/c/{clientId}/u/{{ userId }}/x/{rest.a}", collect, &c) == 3);
    CHECK(c.n == 3);
    CHECK_STR(c.names[0], "clientId");
    CHECK_STR(c.names[1], "userId");
    CHECK_STR(c.names[2], "rest.a");

    memset(&c, 0, sizeof c);
    CHECK(template_path_vars("/plain", collect, &c) == 0);
    CHECK(c.n == 0);
    CHECK(template_path_vars("/a/{x}/{y}", NULL, NULL) == 2);
    CHECK(template_path_vars(NULL, collect, &c) == 0);
    /* a malformed brace is skipped, later placeholders still count */
    memset(&c, 0, sizeof c);
    CHECK(template_path_vars("/a/{}/{z}", collect, &c) == 1);
    CHECK_STR(c.names[0], "z");
}

struct seen {
    char names[8][32];
    size_t n;
    size_t stop_after; /* 0: never stop */
};

static int collect_each(void *arg, const char *name, size_t len)
{
    struct seen *s = arg;
    if (s->n < 8 && len < 32) {
        memcpy(s->names[s->n], name, len);
        s->names[s->n][len] = '\0';
    }
    s->n++;
    return s->stop_after && s->n == s->stop_after;
}

/* template_each yields exactly the names template_render looks up. */
static void test_each(void)
{
    struct seen s = {0};
    CHECK(template_each("a {{ x }} b {{\ty\t}} {{}} {{  }} c {{z}}", collect_each, &s) == 3);
    CHECK(s.n == 3);
    CHECK_STR(s.names[0], "x");
    CHECK_STR(s.names[1], "y");
    CHECK_STR(s.names[2], "z");

    /* The last "{{" before the first "}}" opens the placeholder; an unclosed tail is text. */
    memset(&s, 0, sizeof s);
    CHECK(template_each("{\"a\":{{{x}}}} {{a {{b}} {{c", collect_each, &s) == 2);
    CHECK_STR(s.names[0], "x");
    CHECK_STR(s.names[1], "b");

    /* Dotted names come as written; inner spaces stay. */
    memset(&s, 0, sizeof s);
    CHECK(template_each("{{rest.id}}{{ tools.a b }}", collect_each, &s) == 2);
    CHECK_STR(s.names[0], "rest.id");
    CHECK_STR(s.names[1], "tools.a b");

    /* A non-zero return stops the walk. */
    memset(&s, 0, sizeof s);
    s.stop_after = 1;
    CHECK(template_each("{{first}} {{second}}", collect_each, &s) == 1);
    CHECK(s.n == 1);
    CHECK_STR(s.names[0], "first");

    CHECK(template_each(NULL, collect_each, &s) == 0);
    CHECK(template_each("no {{placeholder", collect_each, &s) == 0);
    CHECK(template_each("{{a}}{{b}}", NULL, NULL) == 2);

    /* Agreement with the renderer: every yielded name is what the lookup is asked for. */
    const char *tpl = "x{{ id }}-{{{name}}}-{{rest.clientId}}{{";
    memset(&s, 0, sizeof s);
    template_each(tpl, collect_each, &s);
    struct strbuf b;
    strbuf_init(&b, 0);
    CHECK(template_render(tpl, lookup, NULL, &b) == 0);
    CHECK_STR(b.data, "x42-{Ann}-c-1{{");
    strbuf_deinit(&b);
    CHECK(s.n == 3);
    CHECK_STR(s.names[0], "id");
    CHECK_STR(s.names[1], "name");
    CHECK_STR(s.names[2], "rest.clientId");
}

static void test_has_open(void)
{
    CHECK(template_has_open("a {{x}}"));
    CHECK(template_has_open("unterminated {{x")); /* still a template: renders as text */
    CHECK(template_has_open("{{"));
    CHECK(!template_has_open("{x}"));
    CHECK(!template_has_open("rest.x"));
    CHECK(!template_has_open(""));
    CHECK(!template_has_open(NULL));
}

static const char *key(const char *name, const char *ns, unsigned accept, enum template_ref *kind,
                       char *buf)
{
    size_t klen;
    const char *k = template_ref_key(name, strlen(name), ns, accept, &klen, kind);
    memcpy(buf, k, klen);
    buf[klen] = '\0';
    return buf;
}

static void test_ref_key(void)
{
    char buf[64];
    enum template_ref kind;
    CHECK_STR(key("rest.id", "cal", TREF_ANY, &kind, buf), "id");
    CHECK(kind == TREF_REST);
    CHECK_STR(key("tools.id", "cal", TREF_ANY, &kind, buf), "id");
    CHECK(kind == TREF_TOOLS);
    CHECK_STR(key("cal.id", "cal", TREF_ANY, &kind, buf), "id");
    CHECK(kind == TREF_NS);
    CHECK_STR(key("cal.a.b", "cal", TREF_ANY, &kind, buf), "a.b");
    CHECK(kind == TREF_NS);
    /* Bare names, empty keys and near misses stay as written. */
    CHECK_STR(key("id", "cal", TREF_ANY, &kind, buf), "id");
    CHECK(kind == TREF_NONE);
    CHECK_STR(key("rest.", "cal", TREF_ANY, &kind, buf), "rest.");
    CHECK(kind == TREF_NONE);
    CHECK_STR(key("tools.", "cal", TREF_ANY, &kind, buf), "tools.");
    CHECK_STR(key("cal.", "cal", TREF_ANY, &kind, buf), "cal.");
    CHECK(kind == TREF_NONE);
    CHECK_STR(key("calx.id", "cal", TREF_ANY, &kind, buf), "calx.id");
    CHECK_STR(key("ca.id", "cal", TREF_ANY, &kind, buf), "ca.id");
    CHECK_STR(key("restid", "cal", TREF_ANY, &kind, buf), "restid");
    CHECK_STR(key("REST.id", "cal", TREF_ANY, &kind, buf), "REST.id"); /* case matters */
    /* No namespace (NULL or empty): only rest. and tools. */
    CHECK_STR(key("cal.id", NULL, TREF_ANY, &kind, buf), "cal.id");
    CHECK_STR(key(".id", "", TREF_ANY, &kind, buf), ".id");
    CHECK(kind == TREF_NONE);
    CHECK_STR(key("rest.id", NULL, TREF_ANY, NULL, buf), "id"); /* kind may be NULL */
    /* rest. is tried first, then tools., then the namespace. */
    CHECK_STR(key("rest.id", "rest", TREF_ANY, &kind, buf), "id");
    CHECK(kind == TREF_REST);
    /* <accept> limits the prefixes: a tools-only reader (MCP schemas) still reads rest.NAME
     * through a namespace called "rest". */
    CHECK_STR(key("rest.id", "cal", TREF_TOOLS | TREF_NS, &kind, buf), "rest.id");
    CHECK(kind == TREF_NONE);
    CHECK_STR(key("rest.id", "rest", TREF_TOOLS | TREF_NS, &kind, buf), "id");
    CHECK(kind == TREF_NS);
    CHECK_STR(key("tools.id", "cal", TREF_REST, &kind, buf), "tools.id");
    CHECK(kind == TREF_NONE);
    /* Only <len> bytes are read. */
    size_t klen;
    const char *k = template_ref_key("rest.idXYZ", 7, NULL, TREF_ANY, &klen, &kind);
    CHECK(klen == 2 && memcmp(k, "id", 2) == 0 && kind == TREF_REST);
    k = template_ref_key("rest.XYZ", 5, NULL, TREF_ANY, &klen, &kind);
    CHECK(klen == 5 && kind == TREF_NONE);
}

int main(void)
{
    RUN(test_each());
    RUN(test_has_open());
    RUN(test_ref_key());
    RUN(test_render());
    RUN(test_has_placeholder());
    RUN(test_expand_path());
    RUN(test_expand_path_long());
    RUN(test_check_path());
    RUN(test_path_vars());
    RUN(test_render_scope());
    return harness_report();
}
