/*
 * convert: upstream formats to JSON (see convert.h for the shapes).
 */
#include "core/convert.h"

#include <ctype.h>
#include <dlfcn.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <csv.h>
#include <libxml/HTMLparser.h>
#include <libxml/parser.h>
#include <libxml/xpath.h>
#include <md4c.h>

#include "base/jsonnum.h"
#include "base/util.h"
#include "spec/ynode.h"

/* One conversion: the values built so far against CONVERT_MAX_VALUES, and the first error. */
struct cv {
    size_t nvalues;
    char *err;
    size_t errlen;
    bool failed;
};

static void fail(struct cv *c, const char *fmt, ...) UTIL_PRINTF(2, 3);
static void fail(struct cv *c, const char *fmt, ...)
{
    if (c->failed)
        return; /* the first reason is the one worth reading */
    c->failed = true;
    if (!c->err || !c->errlen)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->err, c->errlen, fmt, ap);
    va_end(ap);
}

/* Count <n> more values; false (and the error) past the limit. */
static bool count(struct cv *c, size_t n)
{
    if (c->failed)
        return false;
    c->nvalues += n;
    if (c->nvalues > CONVERT_MAX_VALUES) {
        fail(c, "it holds more than %d values", CONVERT_MAX_VALUES);
        return false;
    }
    return true;
}

/* Text formats must be UTF-8 (JSON strings are); a leading byte-order mark is skipped. */
static bool utf8_text(struct cv *c, const char **body, size_t *len)
{
    size_t bad = 0;
    if (*len >= 3 && memcmp(*body, "\xEF\xBB\xBF", 3) == 0) {
        *body += 3;
        *len -= 3;
    }
    if (!utf8_valid(*body, *len, &bad)) {
        fail(c, "it is not valid UTF-8 text (byte %zu)", bad);
        return false;
    }
    return true;
}

/* Add <v> to object <o> under <key>; a key seen before turns into an array of its values (XML
 * repeated elements). XML values are never arrays otherwise, so an array member is one of
 * those. */
/* Add <v> (taken) under <key> of <o>; a repeated key becomes an array. False when <o> already
 * has CONVERT_MAX_KEYS members and <key> would be one more (<v> is then deleted). */
static bool add_repeated(cJSON *o, const char *key, cJSON *v)
{
    cJSON *prev = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!prev) {
        if (cJSON_GetArraySize(o) >= CONVERT_MAX_KEYS - 1) {
            cJSON_Delete(v);
            return false;
        }
        cJSON_AddItemToObject(o, key, v);
    } else if (cJSON_IsArray(prev)) {
        cJSON_AddItemToArray(prev, v);
    } else { /* the array takes the first one's place, as in the document */
        cJSON *arr = cJSON_CreateArray();
        cJSON_AddItemToArray(arr, cJSON_Duplicate(prev, true));
        cJSON_AddItemToArray(arr, v);
        cJSON_ReplaceItemInObjectCaseSensitive(o, key, arr);
    }
    return true;
}

/* Set <key> of <o> to <v>, replacing an earlier one (a repeated column name: the last wins). */
static void set_member(cJSON *o, const char *key, cJSON *v)
{
    if (cJSON_GetObjectItemCaseSensitive(o, key))
        cJSON_ReplaceItemInObjectCaseSensitive(o, key, v);
    else
        cJSON_AddItemToObject(o, key, v);
}

static bool all_space(const char *s)
{
    for (; *s; s++)
        if (!isspace((unsigned char)*s))
            return false;
    return true;
}

/* ---- libxml2 (XML and HTML) ---- */

/* libxml2 is loaded when a conversion first needs it (dlopen), not linked: linked, it and what
 * it pulls in (ICU, libstdc++, liblzma) made up 2.2 MB of every process's resident memory, and
 * most deployments never convert XML or HTML. Its headers still give the types. */
#define XML_FUNCS(X)                                                                               \
    X(xmlInitParser)                                                                               \
    X(xmlStopParser)                                                                               \
    X(xmlCtxtGetLastError)                                                                         \
    X(xmlNodeListGetString)                                                                        \
    X(xmlNewParserCtxt)                                                                            \
    X(xmlCtxtReadMemory)                                                                           \
    X(xmlDocGetRootElement)                                                                        \
    X(xmlFreeDoc)                                                                                  \
    X(xmlFreeParserCtxt)                                                                           \
    X(xmlNodeGetContent)                                                                           \
    X(xmlXPathEvalExpression)                                                                      \
    X(xmlXPathFreeObject)                                                                          \
    X(xmlXPathNewContext)                                                                          \
    X(xmlXPathFreeContext)                                                                         \
    X(htmlReadMemory)                                                                              \
    X(htmlEntityLookup)

#define XML_FIELD(f) __typeof__(f) *p_##f;
static struct {
    XML_FUNCS(XML_FIELD)
    xmlFreeFunc *p_xmlFree; /* a variable in libxml2 */
    char why[160];          /* why it could not be loaded */
    bool ok;
} xl;

static pthread_once_t xml_once = PTHREAD_ONCE_INIT;

/* Load libxml2 and set up its global state, once, before threads use it. */
static void xml_init(void)
{
    void *h = dlopen("libxml2.so.2", RTLD_NOW | RTLD_LOCAL);
    const char *missing = NULL;
    if (!h) {
        snprintf(xl.why, sizeof xl.why, "libxml2 could not be loaded: %s", dlerror());
        return;
    }
#define XML_LOAD(f)                                                                                \
    if (!missing && !(*(void **)&xl.p_##f = dlsym(h, #f)))                                         \
        missing = #f;
    XML_FUNCS(XML_LOAD)
    if (!missing && !(*(void **)&xl.p_xmlFree = dlsym(h, "xmlFree")))
        missing = "xmlFree";
    if (missing) {
        snprintf(xl.why, sizeof xl.why, "libxml2 lacks %s", missing);
        return;
    }
    xl.p_xmlInitParser();
    xl.ok = true;
}

/* Whether libxml2 can be used; if not, <c> (when not NULL) fails saying why. */
static bool xml_ready(struct cv *c)
{
    pthread_once(&xml_once, xml_init);
    if (!xl.ok && c)
        fail(c, "%s", xl.why);
    return xl.ok;
}

/* From here on, libxml2's names call through what xml_init found. */
#define xmlStopParser          (*xl.p_xmlStopParser)
#define xmlCtxtGetLastError    (*xl.p_xmlCtxtGetLastError)
#define xmlNodeListGetString   (*xl.p_xmlNodeListGetString)
#define xmlNewParserCtxt       (*xl.p_xmlNewParserCtxt)
#define xmlCtxtReadMemory      (*xl.p_xmlCtxtReadMemory)
#define xmlDocGetRootElement   (*xl.p_xmlDocGetRootElement)
#define xmlFreeDoc             (*xl.p_xmlFreeDoc)
#define xmlFreeParserCtxt      (*xl.p_xmlFreeParserCtxt)
#define xmlNodeGetContent      (*xl.p_xmlNodeGetContent)
#define xmlXPathEvalExpression (*xl.p_xmlXPathEvalExpression)
#define xmlXPathFreeObject     (*xl.p_xmlXPathFreeObject)
#define xmlXPathNewContext     (*xl.p_xmlXPathNewContext)
#define xmlXPathFreeContext    (*xl.p_xmlXPathFreeContext)
#define htmlReadMemory         (*xl.p_htmlReadMemory)
#define htmlEntityLookup       (*xl.p_htmlEntityLookup)
#undef xmlFree
#define xmlFree (*xl.p_xmlFree)

/* SAX internalSubset: any <!DOCTYPE> stops the parse. Entities come from a DTD, and they are
 * what "billion laughs" (expansion) and XXE (external files, the network) are made of. */
static void xml_refuse_dtd(void *ctx, const xmlChar *name, const xmlChar *ext_id,
                           const xmlChar *sys_id)
{
    xmlParserCtxtPtr ctxt = ctx;
    ctxt->_private = ctxt; /* marks "refused a DTD" */
    xmlStopParser(ctxt);
}

/* libxml2's last error as "message (line L, column C)". */
static void xml_error(struct cv *c, xmlParserCtxtPtr ctxt)
{
    const xmlError *e = xmlCtxtGetLastError(ctxt);
    if (!e || !e->message) {
        fail(c, "it is not well-formed");
        return;
    }
    size_t n = strlen(e->message);
    while (n > 0 && isspace((unsigned char)e->message[n - 1]))
        n--;
    fail(c, "%.*s (line %d, column %d)", (int)n, e->message, e->line, e->int2);
}

static const char *xml_name(const xmlChar *n)
{
    return (const char *)n;
}

static cJSON *xml_element(struct cv *c, xmlNodePtr el, int depth)
{
    if (depth > CONVERT_MAX_DEPTH) {
        fail(c, "elements nest deeper than %d", CONVERT_MAX_DEPTH);
        return NULL;
    }
    if (!count(c, 1))
        return NULL;
    struct strbuf text;
    strbuf_init(&text, 0);
    bool has_elements = false;
    for (xmlNodePtr ch = el->children; ch; ch = ch->next) {
        if ((ch->type == XML_TEXT_NODE || ch->type == XML_CDATA_SECTION_NODE) && ch->content)
            strbuf_adds(&text, (const char *)ch->content);
        else if (ch->type == XML_ELEMENT_NODE)
            has_elements = true;
    }
    cJSON *o = NULL;
    if (!has_elements && !el->properties) {
        o = cJSON_CreateString(text.data ? text.data : "");
        goto out;
    }
    o = cJSON_CreateObject();
    for (xmlAttrPtr a = el->properties; a; a = a->next) {
        if (!count(c, 1))
            goto bad;
        xmlChar *v = xmlNodeListGetString(el->doc, a->children, 1);
        bool added =
            add_repeated(o, xml_name(a->name), cJSON_CreateString(v ? (const char *)v : ""));
        xmlFree(v);
        if (!added)
            goto full;
    }
    for (xmlNodePtr ch = el->children; ch; ch = ch->next) {
        if (ch->type != XML_ELEMENT_NODE)
            continue;
        cJSON *v = xml_element(c, ch, depth + 1);
        if (!v)
            goto bad;
        if (!add_repeated(o, xml_name(ch->name), v))
            goto full;
    }
    if (text.data && !all_space(text.data) && !add_repeated(o, "", cJSON_CreateString(text.data)))
        goto full;
    goto out;
full:
    fail(c, "an element has more than %d distinct children and attributes", CONVERT_MAX_KEYS - 1);
bad:
    cJSON_Delete(o);
    o = NULL;
out:
    strbuf_deinit(&text);
    return o;
}

static cJSON *from_xml(struct cv *c, const char *body, size_t len)
{
    cJSON *r = NULL;
    xmlDocPtr doc = NULL;
    if (!xml_ready(c))
        return NULL;
    xmlParserCtxtPtr ctxt = xmlNewParserCtxt();
    if (!ctxt) {
        fail(c, "out of memory");
        return NULL;
    }
    ctxt->sax->internalSubset = xml_refuse_dtd;
    /* No XML_PARSE_NOENT (entity substitution) nor DTDLOAD; NONET on top. */
    doc = xmlCtxtReadMemory(ctxt, body, (int)len, NULL, NULL,
                            XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING |
                                XML_PARSE_NOCDATA);
    if (ctxt->_private) {
        fail(c, "it has a DTD (<!DOCTYPE>), which capproxy refuses: its entities could expand "
                "without bound or read files");
        goto out;
    }
    if (!doc) {
        xml_error(c, ctxt);
        goto out;
    }
    xmlNodePtr root = xmlDocGetRootElement(doc);
    if (!root) {
        fail(c, "it has no root element");
        goto out;
    }
    r = xml_element(c, root, 1);
out:
    xmlFreeDoc(doc);
    xmlFreeParserCtxt(ctxt);
    return r;
}

/* A node's text as jsoup's text() gives it: white space runs collapsed to one space, trimmed. */
static char *html_text(xmlNodePtr n)
{
    xmlChar *raw = xmlNodeGetContent(n);
    const char *s = raw ? (const char *)raw : "";
    struct strbuf b;
    strbuf_init(&b, 0);
    bool space = false;
    for (; *s; s++) {
        if (isspace((unsigned char)*s)) {
            space = b.len > 0;
            continue;
        }
        if (space)
            strbuf_addc(&b, ' ');
        space = false;
        strbuf_addc(&b, *s);
    }
    xmlFree(raw);
    /* The HTML parser lets bytes that are not the declared encoding through: JSON needs UTF-8. */
    char *t = utf8_sanitize(b.data ? b.data : "", b.len);
    strbuf_deinit(&b);
    return t;
}

static bool is_el(xmlNodePtr n, const char *name)
{
    return n && n->type == XML_ELEMENT_NODE && str_eq_ci(xml_name(n->name), name);
}

/* Whether row <tr> has a cell named <name> (th or td) of its own. */
static bool row_has(xmlNodePtr tr, const char *name)
{
    for (xmlNodePtr ch = tr->children; ch; ch = ch->next)
        if (is_el(ch, name))
            return true;
    return false;
}

/* The rows of <table> itself (directly or in its thead, tbody and tfoot; not those of a table
 * nested in a cell), into <rows>[0..cap), <where> saying where each sits ('r' directly, 'h',
 * 'b', 'f'); returns how many there are (only counted when <rows> is NULL). */
static size_t table_rows(xmlNodePtr table, xmlNodePtr *rows, char *where, size_t cap)
{
    size_t n = 0;
    for (xmlNodePtr ch = table->children; ch; ch = ch->next) {
        if (is_el(ch, "tr")) {
            if (rows && n < cap) {
                where[n] = 'r';
                rows[n] = ch;
            }
            n++;
        } else if (is_el(ch, "thead") || is_el(ch, "tbody") || is_el(ch, "tfoot")) {
            for (xmlNodePtr tr = ch->children; tr; tr = tr->next)
                if (is_el(tr, "tr")) {
                    if (rows && n < cap) {
                        where[n] = (char)tolower((unsigned char)ch->name[1]); /* h, b, f */
                        rows[n] = tr;
                    }
                    n++;
                }
        }
    }
    return n;
}

/* Rows (arrays of cell strings) under <header> (array of names) as [{name: cell}]; a missing
 * cell is "". NULL when every header is blank (no columns to name). */
static cJSON *rows_to_table(struct cv *c, cJSON *header, cJSON *rows)
{
    bool named = false;
    const cJSON *h;
    cJSON_ArrayForEach(h, header) if (*h->valuestring) named = true;
    if (!named)
        return NULL;
    cJSON *table = cJSON_CreateArray();
    const cJSON *row;
    cJSON_ArrayForEach(row, rows)
    {
        cJSON *o = cJSON_CreateObject();
        int i = 0;
        cJSON_ArrayForEach(h, header)
        {
            const cJSON *cell = cJSON_GetArrayItem(row, i++);
            set_member(o, h->valuestring, cJSON_CreateString(cell ? cell->valuestring : ""));
        }
        cJSON_AddItemToArray(table, o);
        if (!count(c, (size_t)i + 1))
            break;
    }
    return table;
}

/* The cells named <name> of row <tr> as an array of their texts. */
static cJSON *row_cells(struct cv *c, xmlNodePtr tr, const char *name)
{
    cJSON *a = cJSON_CreateArray();
    for (xmlNodePtr ch = tr->children; ch; ch = ch->next) {
        if (!is_el(ch, name))
            continue;
        char *t = html_text(ch);
        cJSON_AddItemToArray(a, cJSON_CreateString(t));
        free(t);
        if (!count(c, 1))
            break;
    }
    return a;
}

static cJSON *html_table(struct cv *c, xmlNodePtr table)
{
    size_t n = table_rows(table, NULL, NULL, 0);
    if (n == 0)
        return NULL;
    xmlNodePtr *rows = xcalloc(n, sizeof *rows);
    char *where = xcalloc(n, 1);
    table_rows(table, rows, where, n);
    size_t head = 0; /* the header row: the first of thead, else the first */
    for (size_t i = 0; i < n; i++)
        if (where[i] == 'h') {
            head = i;
            break;
        }
    cJSON *header = row_cells(c, rows[head], "th");
    bool has_tbody = false;
    for (size_t i = 0; i < n; i++)
        has_tbody |= where[i] == 'b';
    cJSON *data = cJSON_CreateArray();
    for (size_t i = 0; i < n && !c->failed; i++) {
        if ((has_tbody && where[i] != 'b') || row_has(rows[i], "th") || !row_has(rows[i], "td"))
            continue;
        cJSON_AddItemToArray(data, row_cells(c, rows[i], "td"));
    }
    cJSON *t = cJSON_GetArraySize(header) > 0 ? rows_to_table(c, header, data) : NULL;
    cJSON_Delete(header);
    cJSON_Delete(data);
    free(rows);
    free(where);
    return t;
}

/* Add the tables of node set <ns> (each a table, or the tables inside it) to <tables>, once
 * each. */
static void html_tables(struct cv *c, xmlXPathContextPtr xc, xmlNodeSetPtr ns, cJSON *tables,
                        xmlNodePtr *seen, size_t *nseen)
{
    for (int i = 0; ns && i < ns->nodeNr && !c->failed; i++) {
        xmlNodePtr el = ns->nodeTab[i];
        if (!is_el(el, "table")) {
            xc->node = el;
            xmlXPathObjectPtr inner = xmlXPathEvalExpression(BAD_CAST ".//table", xc);
            if (inner)
                html_tables(c, xc, inner->nodesetval, tables, seen, nseen);
            xmlXPathFreeObject(inner);
            continue;
        }
        bool dup = false;
        for (size_t k = 0; k < *nseen && !dup; k++)
            dup = seen[k] == el;
        if (dup)
            continue;
        if (*nseen >= CONVERT_MAX_TABLES) {
            fail(c, "it has more than %d tables", CONVERT_MAX_TABLES);
            return;
        }
        seen[(*nseen)++] = el;
        cJSON *t = html_table(c, el);
        if (t)
            cJSON_AddItemToArray(tables, t);
    }
}

static cJSON *from_html(struct cv *c, const char *schema, const char *body, size_t len)
{
    cJSON *r = NULL;
    xmlXPathContextPtr xc = NULL;
    xmlXPathObjectPtr found = NULL;
    xmlNodePtr *seen = NULL;
    if (!xml_ready(c))
        return NULL;
    /* A page that names its charset is decoded by it; otherwise UTF-8 (libxml2 would assume
     * Latin-1). */
    size_t head = len < 1024 ? len : 1024;
    bool names_charset = memmem(body, head, "charset", 7) || memmem(body, head, "CHARSET", 7);
    htmlDocPtr doc = htmlReadMemory(body, (int)len, NULL, names_charset ? NULL : "UTF-8",
                                    HTML_PARSE_NONET | HTML_PARSE_NOERROR | HTML_PARSE_NOWARNING);
    if (!doc) {
        fail(c, "it could not be parsed as HTML");
        goto out;
    }
    xc = xmlXPathNewContext(doc);
    found = xc ? xmlXPathEvalExpression(BAD_CAST(schema ? schema : "//table"), xc) : NULL;
    if (!found) {
        fail(c, "the table selector could not be evaluated");
        goto out;
    }
    r = cJSON_CreateObject();
    cJSON *tables = cJSON_AddArrayToObject(r, "tables");
    size_t nseen = 0;
    seen = xcalloc(CONVERT_MAX_TABLES, sizeof *seen);
    html_tables(c, xc, found->nodesetval, tables, seen, &nseen);
    if (c->failed) {
        cJSON_Delete(r);
        r = NULL;
    }
out:
    free(seen);
    xmlXPathFreeObject(found);
    xmlXPathFreeContext(xc);
    xmlFreeDoc(doc);
    return r;
}

/* ---- libcsv (CSV, TSV, PSV) ---- */

struct csvst {
    struct cv *c;
    cJSON *out;    /* the array of records */
    cJSON *header; /* the first record's fields */
    cJSON *row;    /* the record being read; NULL while reading the header */
    size_t col;
    size_t record; /* 1-based */
};

static void csv_field(void *data, size_t len, void *arg)
{
    struct csvst *s = arg;
    if (s->c->failed || !count(s->c, 1))
        return;
    cJSON *v = cJSON_CreateString(data ? (const char *)data : "");
    if (!s->row) {
        cJSON_AddItemToArray(s->header, v);
        if (cJSON_GetArraySize(s->header) > CONVERT_MAX_KEYS)
            fail(s->c, "it has more than %d columns", CONVERT_MAX_KEYS);
        return;
    }
    const cJSON *name = cJSON_GetArrayItem(s->header, (int)s->col++);
    if (!name) {
        cJSON_Delete(v);
        fail(s->c, "record %zu has more fields than the header's %d", s->record,
             cJSON_GetArraySize(s->header));
        return;
    }
    set_member(s->row, name->valuestring, v);
}

static void csv_record(int term, void *arg)
{
    struct csvst *s = arg;
    if (s->c->failed)
        return;
    if (s->row)
        cJSON_AddItemToArray(s->out, s->row);
    s->row = cJSON_CreateObject();
    s->col = 0;
    s->record++;
}

/* No character counts as space: fields keep their spaces (as the reference engine's reader
 * does), and a tab is TSV's delimiter. */
static int csv_no_space(unsigned char ch)
{
    return 0;
}

static cJSON *from_delimited(struct cv *c, unsigned char delim, const char *body, size_t len)
{
    if (!utf8_text(c, &body, &len))
        return NULL;
    struct csv_parser p;
    if (csv_init(&p, CSV_STRICT | CSV_STRICT_FINI | CSV_APPEND_NULL) != 0) {
        fail(c, "out of memory");
        return NULL;
    }
    csv_set_delim(&p, delim);
    csv_set_space_func(&p, csv_no_space);
    struct csvst s = {
        .c = c, .out = cJSON_CreateArray(), .header = cJSON_CreateArray(), .record = 1};
    size_t done = csv_parse(&p, body, len, csv_field, csv_record, &s);
    if (done < len)
        fail(c, "%s at byte %zu", csv_strerror(csv_error(&p)), done);
    else if (csv_fini(&p, csv_field, csv_record, &s) != 0)
        fail(c, "%s at the end (an unclosed quote?)", csv_strerror(csv_error(&p)));
    csv_free(&p);
    cJSON_Delete(s.row);
    cJSON_Delete(s.header);
    if (c->failed) {
        cJSON_Delete(s.out);
        return NULL;
    }
    return s.out;
}

/* ---- libyaml through spec/ynode ---- */

static cJSON *yaml_doc(struct cv *c, const char *what, const char *body, size_t len)
{
    struct diag d;
    diag_init(&d);
    cJSON *r = NULL;
    struct ynode_doc *doc = ynode_parse(what, body, len, &d);
    if (!doc || d.nerrors) {
        const struct diag_entry *e = d.n ? &d.v[0] : NULL;
        if (e)
            fail(c, "%s (line %d, column %d)", e->message, e->line, e->col);
        else
            fail(c, "it is not valid YAML");
    } else {
        r = doc->root ? ynode_to_json(doc->root) : cJSON_CreateNull();
    }
    ynode_doc_free(doc);
    diag_deinit(&d);
    return r;
}

/* ---- md4c (Markdown) ---- */

struct md {
    struct cv *c;
    const char *filter; /* heading prefix, NULL for every section */
    cJSON *tables, *sections;
    int depth; /* block nesting: the document is 1, its blocks 2 */
    /* tables */
    int in_table; /* table nesting (a table inside a list item is one too) */
    bool in_head, in_cell;
    cJSON *header, *rows, *row;
    struct strbuf cell;
    /* sections */
    bool in_heading, have_section;
    unsigned level;
    struct strbuf heading, content, block;
};

static struct strbuf *md_sink(struct md *m)
{
    if (m->in_cell)
        return &m->cell;
    if (m->in_table)
        return NULL; /* tables are not section text */
    if (m->in_heading)
        return &m->heading;
    return m->have_section ? &m->block : NULL;
}

static void md_utf8(struct strbuf *b, unsigned long cp)
{
    if (cp == 0 || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        cp = 0xFFFD;
    char u[4];
    size_t n;
    if (cp < 0x80) {
        u[0] = (char)cp;
        n = 1;
    } else if (cp < 0x800) {
        u[0] = (char)(0xC0 | (cp >> 6));
        u[1] = (char)(0x80 | (cp & 0x3F));
        n = 2;
    } else if (cp < 0x10000) {
        u[0] = (char)(0xE0 | (cp >> 12));
        u[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        u[2] = (char)(0x80 | (cp & 0x3F));
        n = 3;
    } else {
        u[0] = (char)(0xF0 | (cp >> 18));
        u[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
        u[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
        u[3] = (char)(0x80 | (cp & 0x3F));
        n = 4;
    }
    strbuf_add(b, u, n);
}

/* An entity md4c recognised ("&amp;", "&#233;", "&#xE9;") as its character: numeric ones
 * directly, named ones through libxml2's HTML entity table. */
static void md_entity(struct strbuf *b, const char *t, size_t n)
{
    char name[40];
    if (n < 3 || n - 2 >= sizeof name) {
        strbuf_add(b, t, n);
        return;
    }
    memcpy(name, t + 1, n - 2);
    name[n - 2] = '\0';
    if (name[0] == '#') {
        bool hex = name[1] == 'x' || name[1] == 'X';
        md_utf8(b, strtoul(name + (hex ? 2 : 1), NULL, hex ? 16 : 10));
        return;
    }
    const htmlEntityDesc *e = xml_ready(NULL) ? htmlEntityLookup(BAD_CAST name) : NULL;
    if (e)
        md_utf8(b, e->value);
    else
        strbuf_add(b, t, n);
}

static int md_text(MD_TEXTTYPE type, const MD_CHAR *text, MD_SIZE size, void *arg)
{
    struct md *m = arg;
    struct strbuf *b = md_sink(m);
    if (!b)
        return 0;
    switch (type) {
    case MD_TEXT_HTML:
        break; /* raw HTML is markup, not text */
    case MD_TEXT_NULLCHAR:
        md_utf8(b, 0xFFFD);
        break;
    case MD_TEXT_BR:
        strbuf_addc(b, '\n');
        break;
    case MD_TEXT_SOFTBR:
        strbuf_addc(b, ' ');
        break;
    case MD_TEXT_ENTITY:
        md_entity(b, text, size);
        break;
    default:
        strbuf_add(b, text, size);
    }
    return 0;
}

/* <s> without leading and trailing white space, as a new cJSON string. */
static cJSON *trimmed(const struct strbuf *s)
{
    const char *p = s->data ? s->data : "";
    size_t n = s->len;
    while (n > 0 && isspace((unsigned char)*p)) {
        p++;
        n--;
    }
    while (n > 0 && isspace((unsigned char)p[n - 1]))
        n--;
    char *t = xstrndup(p, n);
    cJSON *v = cJSON_CreateString(t);
    free(t);
    return v;
}

static void md_end_section(struct md *m)
{
    if (!m->have_section)
        return;
    m->have_section = false;
    cJSON *h = trimmed(&m->heading);
    if (m->filter && !str_has_prefix(h->valuestring, m->filter)) {
        cJSON_Delete(h);
        return;
    }
    cJSON *s = cJSON_CreateObject();
    cJSON_AddItemToObject(s, "heading", h);
    cJSON_AddNumberToObject(s, "level", m->level);
    cJSON_AddItemToObject(s, "content", trimmed(&m->content));
    cJSON_AddItemToArray(m->sections, s);
    count(m->c, 4);
}

static int md_enter(MD_BLOCKTYPE type, void *detail, void *arg)
{
    struct md *m = arg;
    m->depth++;
    switch (type) {
    case MD_BLOCK_H:
        if (m->depth == 2 && !m->in_table) {
            md_end_section(m);
            m->in_heading = true;
            m->level = ((MD_BLOCK_H_DETAIL *)detail)->level;
            strbuf_reset(&m->heading);
        }
        break;
    case MD_BLOCK_TABLE:
        if (m->in_table++ == 0) {
            m->header = NULL;
            m->rows = cJSON_CreateArray();
        }
        break;
    case MD_BLOCK_THEAD:
        m->in_head = m->in_table == 1;
        break;
    case MD_BLOCK_TR:
        if (m->in_table == 1)
            m->row = cJSON_CreateArray();
        break;
    case MD_BLOCK_TH:
    case MD_BLOCK_TD:
        if (m->in_table == 1) {
            m->in_cell = true;
            strbuf_reset(&m->cell);
        }
        break;
    default:
        break;
    }
    return 0;
}

static int md_leave(MD_BLOCKTYPE type, void *detail, void *arg)
{
    struct md *m = arg;
    switch (type) {
    case MD_BLOCK_H:
        if (m->in_heading && m->depth == 2) {
            m->in_heading = false;
            m->have_section = true;
            strbuf_reset(&m->content);
            strbuf_reset(&m->block);
        }
        break;
    case MD_BLOCK_TH:
    case MD_BLOCK_TD:
        if (m->in_table == 1 && m->in_cell) {
            m->in_cell = false;
            cJSON_AddItemToArray(m->row, trimmed(&m->cell));
            count(m->c, 1);
        }
        break;
    case MD_BLOCK_TR:
        if (m->in_table == 1 && m->row) {
            if (m->in_head && !m->header)
                m->header = m->row;
            else
                cJSON_AddItemToArray(m->rows, m->row);
            m->row = NULL;
        }
        break;
    case MD_BLOCK_THEAD:
        m->in_head = false;
        break;
    case MD_BLOCK_TABLE:
        if (--m->in_table == 0) {
            cJSON *t = m->header ? rows_to_table(m->c, m->header, m->rows) : NULL;
            if (t && cJSON_GetArraySize(m->tables) >= CONVERT_MAX_TABLES) {
                fail(m->c, "it has more than %d tables", CONVERT_MAX_TABLES);
                cJSON_Delete(t);
            } else if (t) {
                cJSON_AddItemToArray(m->tables, t);
            }
            cJSON_Delete(m->header);
            cJSON_Delete(m->rows);
            m->header = m->rows = NULL;
        }
        break;
    case MD_BLOCK_DOC:
        break;
    default:
        /* A block's text ends with a line break, so two paragraphs do not run together. */
        if (m->have_section && !m->in_table && m->block.len > 0 &&
            m->block.data[m->block.len - 1] != '\n')
            strbuf_addc(&m->block, '\n');
        break;
    }
    /* A top-level block done: its text joins the section's content. */
    if (m->depth == 2 && m->have_section && type != MD_BLOCK_H && m->block.len > 0) {
        cJSON *t = trimmed(&m->block);
        if (*t->valuestring) {
            if (m->content.len > 0)
                strbuf_addc(&m->content, '\n');
            strbuf_adds(&m->content, t->valuestring);
        }
        cJSON_Delete(t);
        strbuf_reset(&m->block);
    }
    m->depth--;
    return m->c->failed ? 1 : 0;
}

static int md_span(MD_SPANTYPE type, void *detail, void *arg)
{
    return 0;
}

/* A leading "---" line up to the next "---" line: YAML front matter. <*body> and <*len> are
 * moved past it; <*fm> gets it as an object ({} when absent, empty or not a mapping). */
static bool md_front_matter(struct cv *c, const char **body, size_t *len, cJSON **fm)
{
    const char *b = *body;
    const char *close =
        *len >= 4 && memcmp(b, "---\n", 4) == 0 ? memmem(b + 3, *len - 3, "\n---\n", 5) : NULL;
    *fm = NULL;
    if (close) {
        cJSON *y =
            yaml_doc(c, "front matter", b + 4, close > b + 3 ? (size_t)(close + 1 - (b + 4)) : 0);
        if (!y)
            return false;
        if (cJSON_IsObject(y))
            *fm = y;
        else
            cJSON_Delete(y);
        *len -= (size_t)(close + 5 - b);
        *body = close + 5;
    }
    if (!*fm)
        *fm = cJSON_CreateObject();
    return true;
}

static cJSON *from_markdown(struct cv *c, const char *schema, const char *body, size_t len)
{
    if (!utf8_text(c, &body, &len))
        return NULL;
    /* Line ends as \n only: the front matter's fences are found the same way either way. */
    struct strbuf norm;
    strbuf_init(&norm, 0);
    for (size_t i = 0; i < len; i++)
        if (!(body[i] == '\r' && i + 1 < len && body[i + 1] == '\n'))
            strbuf_addc(&norm, body[i]);
    const char *text = norm.data ? norm.data : "";
    size_t n = norm.len;
    cJSON *fm = NULL, *r = NULL;
    struct md m = {.c = c, .tables = cJSON_CreateArray(), .sections = cJSON_CreateArray()};
    strbuf_init(&m.cell, 0);
    strbuf_init(&m.heading, 0);
    strbuf_init(&m.content, 0);
    strbuf_init(&m.block, 0);
    if (schema) {
        while (*schema == '#' || *schema == ' ' || *schema == '\t')
            schema++;
        m.filter = *schema ? schema : NULL;
    }
    if (!md_front_matter(c, &text, &n, &fm))
        goto out;
    MD_PARSER p = {.abi_version = 0,
                   .flags = MD_FLAG_TABLES | MD_FLAG_STRIKETHROUGH | MD_FLAG_PERMISSIVEAUTOLINKS,
                   .enter_block = md_enter,
                   .leave_block = md_leave,
                   .enter_span = md_span,
                   .leave_span = md_span,
                   .text = md_text};
    int rc = md_parse(text, (MD_SIZE)n, &p, &m);
    md_end_section(&m);
    if (rc != 0 || c->failed) {
        fail(c, "md4c could not parse it");
        goto out;
    }
    r = cJSON_CreateObject();
    cJSON_AddItemToObject(r, "frontMatter", fm);
    cJSON_AddItemToObject(r, "tables", m.tables);
    cJSON_AddItemToObject(r, "sections", m.sections);
    fm = m.tables = m.sections = NULL;
out:
    cJSON_Delete(fm);
    cJSON_Delete(m.tables);
    cJSON_Delete(m.sections);
    cJSON_Delete(m.header);
    cJSON_Delete(m.rows);
    cJSON_Delete(m.row);
    strbuf_deinit(&m.cell);
    strbuf_deinit(&m.heading);
    strbuf_deinit(&m.content);
    strbuf_deinit(&m.block);
    strbuf_deinit(&norm);
    return r;
}

/* ---- JSON, and the dispatch ---- */

static cJSON *from_json(struct cv *c, const char *body, size_t len)
{
    size_t at = 0;
    if (!utf8_valid(body, len, &at)) {
        fail(c, "it is not valid UTF-8 text (byte %zu)", at);
        return NULL;
    }
    const char *refused = json_text_refusal(body, len, false, &at);
    if (refused) {
        fail(c, "it holds %s at byte %zu", refused, at);
        return NULL;
    }
    size_t bad = 0;
    cJSON *doc = jsonnum_parse_exact(body, len, &bad);
    if (!doc && bad == len)
        fail(c, "it is not valid JSON");
    else if (!doc)
        fail(c, "it has bytes after its JSON value (from byte %zu)", bad);
    return doc;
}

const char *convert_format_label(enum model_format f)
{
    switch (f) {
    case MODEL_FORMAT_JSON:
        return "JSON";
    case MODEL_FORMAT_XML:
        return "XML";
    case MODEL_FORMAT_CSV:
        return "CSV";
    case MODEL_FORMAT_TSV:
        return "TSV";
    case MODEL_FORMAT_PSV:
        return "PSV";
    case MODEL_FORMAT_YAML:
        return "YAML";
    case MODEL_FORMAT_HTML:
        return "HTML";
    case MODEL_FORMAT_MARKDOWN:
        return "Markdown";
    }
    return "?";
}

cJSON *convert_to_json(enum model_format f, const char *schema, const char *body, size_t len,
                       char *err, size_t errlen)
{
    struct cv c = {.err = err, .errlen = errlen};
    if (err && errlen)
        err[0] = '\0';
    if (len > INT_MAX) { /* libxml2 and md4c take int sizes; the response cap is far below */
        fail(&c, "it is larger than %d bytes", INT_MAX);
        return NULL;
    }
    if (!body)
        body = "";
    cJSON *r = NULL;
    switch (f) {
    case MODEL_FORMAT_JSON:
        r = from_json(&c, body, len);
        break;
    case MODEL_FORMAT_XML:
        r = from_xml(&c, body, len);
        break;
    case MODEL_FORMAT_CSV:
        r = from_delimited(&c, ',', body, len);
        break;
    case MODEL_FORMAT_TSV:
        r = from_delimited(&c, '\t', body, len);
        break;
    case MODEL_FORMAT_PSV:
        r = from_delimited(&c, '|', body, len);
        break;
    case MODEL_FORMAT_YAML:
        r = yaml_doc(&c, "upstream", body, len);
        break;
    case MODEL_FORMAT_HTML:
        r = from_html(&c, schema, body, len);
        break;
    case MODEL_FORMAT_MARKDOWN:
        r = from_markdown(&c, schema, body, len);
        break;
    }
    if (r && c.failed) {
        cJSON_Delete(r);
        r = NULL;
    }
    if (!r && !c.failed)
        fail(&c, "it could not be converted");
    return r;
}

cJSON *convert_answer(const struct model_operation *op, const char *body, size_t len, char *err,
                      size_t errlen)
{
    const char *schema =
        op->output_format == MODEL_FORMAT_HTML ? op->output_xpath : op->output_schema;
    char why[256];
    cJSON *doc = convert_to_json(op->output_format, schema, body, len, why, sizeof why);
    if (!doc && err && errlen)
        snprintf(err, errlen, "the upstream's %s could not be read: %s",
                 convert_format_label(op->output_format), why);
    return doc;
}
