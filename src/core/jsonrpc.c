/*
 * jsonrpc: see jsonrpc.h. The framing only: the MCP messages carried in it are core/mcptool.c.
 */
#include "core/jsonrpc.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/fnum.h"
#include "base/jsonnum.h"
#include "base/jsontext.h"
#include "base/util.h"

/* ---- JSON-RPC envelope ---- */

static bool valid_id(const cJSON *id)
{
    /* MCP: "the ID MUST NOT be null", and JSON-RPC allows only strings and numbers. cJSON turns
     * 1e400 into infinity, which has no JSON form to echo: such an id is refused. */
    return cJSON_IsString(id) || (cJSON_IsNumber(id) && isfinite(id->valuedouble));
}

/* Keep the source text of numeric id <idv> so that replies echo it exactly (a double would
 * turn 12345678901234567890 or -0 into another number). The text rides in the node's
 * valuestring, which cJSON leaves unused for numbers but duplicates and frees with the node,
 * so the node stays a number for comparisons (notifications/cancelled). False when the text
 * is not a JSON number as RFC 8259 writes it (cJSON also takes "01" and "1."). */
static bool keep_id_text(cJSON *doc, cJSON *idv, const char *buf, size_t len)
{
    size_t tlen = 0;
    const char *t = jsonnum_member(buf, len, "id", &tlen); /* a walk of the text's start */
    if (!t)
        t = jsonnum_token(doc, idv, buf, len, &tlen); /* pairs every number with the tree */
    if (!t || !jsonnum_is_json_number(t, tlen))
        return false;
    char *copy = cJSON_malloc(tlen + 1);
    if (!copy)
        return false;
    memcpy(copy, t, tlen);
    copy[tlen] = '\0';
    idv->valuestring = copy;
    return true;
}

int jsonrpc_parse(const char *buf, size_t len, struct jsonrpc_msg *msg, cJSON **error_reply)
{
    memset(msg, 0, sizeof *msg);
    *error_reply = NULL;
    /* cJSON stops after the first value: anything but whitespace after it is malformed too. */
    const char *end = NULL;
    size_t at = 0;
    /* one pass answers the usual message's checks: no control byte nor backslash (nothing to
     * refuse), ASCII (valid UTF-8), no digit word (no big integer among the arguments) */
    struct jsontext_facts facts;
    jsontext_scan(buf, len, &facts);
    const char *refused = facts.plain ? NULL : json_text_refusal(buf, len, true, &at);
    if (refused) {
        char why[128];
        snprintf(why, sizeof why, "Parse error: %s at byte %zu is not accepted", refused, at);
        *error_reply = jsonrpc_error(NULL, JSONRPC_PARSE_ERROR, why);
        return -1;
    }
    size_t bad_at = 0;
    if (!(facts.plain && facts.ascii) && !utf8_valid(buf, len, &bad_at)) {
        char why_utf8[96];
        snprintf(why_utf8, sizeof why_utf8, "Parse error: invalid UTF-8 at byte %zu", bad_at);
        *error_reply = jsonrpc_error(NULL, JSONRPC_PARSE_ERROR, why_utf8);
        return -1;
    }
    cJSON *doc = cJSON_ParseWithLengthOpts(buf, len, &end, 0);
    while (doc && end < buf + len && (*end == ' ' || *end == '\t' || *end == '\r' || *end == '\n'))
        end++;
    if (doc && end != buf + len) {
        cJSON_Delete(doc);
        doc = NULL;
    }
    if (!doc) {
        *error_reply = jsonrpc_error(NULL, JSONRPC_PARSE_ERROR, "Parse error: invalid JSON");
        return -1;
    }
    const char *why = NULL;
    const cJSON *id = NULL;
    if (cJSON_IsArray(doc)) {
        why = "Invalid Request: batches (JSON arrays) are not supported; send one message per "
              "request";
        goto fail;
    }
    if (!cJSON_IsObject(doc)) {
        why = "Invalid Request: a JSON-RPC message must be an object";
        goto fail;
    }
    /* The envelope's members in one walk (a lookup per name walks them all each time); the
     * first of a name counts, as for cJSON_GetObjectItemCaseSensitive. */
    cJSON *idv = NULL, *ver = NULL, *method = NULL, *params = NULL, *result = NULL, *error = NULL;
    for (cJSON *c = doc->child; c; c = c->next) {
        const char *k = c->string;
        cJSON **slot = NULL;
        switch (k[0]) { /* the first letter tells the names apart: one comparison each */
        case 'i':
            slot = str_eq(k, "id") ? &idv : NULL;
            break;
        case 'j':
            slot = str_eq(k, "jsonrpc") ? &ver : NULL;
            break;
        case 'm':
            slot = str_eq(k, "method") ? &method : NULL;
            break;
        case 'p':
            slot = str_eq(k, "params") ? &params : NULL;
            break;
        case 'r':
            slot = str_eq(k, "result") ? &result : NULL;
            break;
        case 'e':
            slot = str_eq(k, "error") ? &error : NULL;
            break;
        }
        if (slot && !*slot)
            *slot = c;
    }
    if (valid_id(idv) && (!cJSON_IsNumber(idv) || keep_id_text(doc, idv, buf, len)))
        id = idv;
    if (!cJSON_IsString(ver) || strcmp(ver->valuestring, "2.0") != 0) {
        why = "Invalid Request: \"jsonrpc\" must be \"2.0\"";
        goto fail;
    }
    bool has_result = result != NULL;
    bool has_error = error != NULL;
    /* Only an error response may carry id null (the peer could not read our id). */
    bool null_ok = !method && has_error && !has_result && cJSON_IsNull(idv);
    if (idv && !id && !null_ok) {
        why = "Invalid Request: \"id\" must be a string or a finite JSON number";
        goto fail;
    }
    if (method) {
        if (!cJSON_IsString(method) || !*method->valuestring) {
            why = "Invalid Request: \"method\" must be a non-empty string";
            goto fail;
        }
        if (params && !cJSON_IsObject(params) && !cJSON_IsArray(params)) {
            why = "Invalid Request: \"params\" must be an object or an array";
            goto fail;
        }
        msg->kind = id ? JSONRPC_REQUEST : JSONRPC_NOTIFICATION;
        msg->method = method->valuestring;
        msg->params = params;
        /* Tool arguments go upstream: a 64-bit integer among them keeps its digits (only a
         * text with a long digit word can have one: the arguments are not looked up else). */
        const cJSON *args =
            facts.digit_word && cJSON_IsObject(params) && strcmp(msg->method, "tools/call") == 0
                ? cJSON_GetObjectItemCaseSensitive(params, "arguments")
                : NULL;
        if (args)
            jsonnum_keep_big_ints(doc, args, buf, len);
    } else {
        if (has_result == has_error || (!id && !null_ok)) {
            why = "Invalid Request: neither a request (method) nor a response (id with result "
                  "or error)";
            goto fail;
        }
        msg->kind = JSONRPC_RESPONSE;
    }
    msg->doc = doc;
    msg->id = id;
    return 0;
fail:
    *error_reply = jsonrpc_error(id, JSONRPC_INVALID_REQUEST, why);
    cJSON_Delete(doc);
    return -1;
}

void jsonrpc_msg_free(struct jsonrpc_msg *msg)
{
    if (!msg)
        return;
    cJSON_Delete(msg->doc);
    memset(msg, 0, sizeof *msg);
}

/* A copy of request id <id> that prints as the client wrote it: the source text jsonrpc_parse
 * kept (keep_id_text). An id built otherwise is printed in full when it is an integer (cJSON
 * 1.7.15 prints integers above 2^31 with 15 significant digits, "9.00719925474099e+15"). */
static cJSON *id_copy(const cJSON *id)
{
    if (!id)
        return cJSON_CreateNull();
    if (!cJSON_IsNumber(id))
        return cJSON_Duplicate(id, 1);
    if (id->valuestring)
        return cJSON_CreateRaw(id->valuestring);
    char buf[64];
    double d = id->valuedouble;
    if (fnum_is_whole(d) && fabs(d) < 9.2e18)
        snprintf(buf, sizeof buf, "%lld", (long long)d);
    else
        snprintf(buf, sizeof buf, "%.17g", d);
    return cJSON_CreateRaw(buf);
}

static cJSON *envelope(const cJSON *id)
{
    cJSON *r = cJSON_CreateObject();
    cJSON_AddStringToObject(r, "jsonrpc", "2.0");
    cJSON_AddItemToObject(r, "id", id_copy(id));
    return r;
}

cJSON *jsonrpc_result(const cJSON *id, cJSON *result)
{
    cJSON *r = envelope(id);
    cJSON_AddItemToObject(r, "result", result ? result : cJSON_CreateObject());
    return r;
}

cJSON *jsonrpc_error(const cJSON *id, int code, const char *message)
{
    cJSON *r = envelope(id);
    cJSON *e = cJSON_AddObjectToObject(r, "error");
    cJSON_AddNumberToObject(e, "code", code);
    cJSON_AddStringToObject(e, "message", message ? message : "");
    return r;
}

char *jsonrpc_result_head(const cJSON *id)
{
    static const char pre[] = "{\"jsonrpc\":\"2.0\",\"id\":", post[] = ",\"result\":";
    if (cJSON_IsNumber(id) && id->valuestring) {
        /* the text keep_id_text kept: no printing, and one allocation of the known size */
        size_t n = strlen(id->valuestring);
        char *r = xmalloc(sizeof pre - 1 + n + sizeof post);
        memcpy(r, pre, sizeof pre - 1);
        memcpy(r + sizeof pre - 1, id->valuestring, n);
        memcpy(r + sizeof pre - 1 + n, post, sizeof post);
        return r;
    }
    struct strbuf b;
    strbuf_init(&b, 0);
    strbuf_adds(&b, pre);
    cJSON *idc = id_copy(id);
    char *ids = cJSON_PrintUnformatted(idc);
    strbuf_adds(&b, ids ? ids : "null");
    cJSON_free(ids);
    cJSON_Delete(idc);
    strbuf_adds(&b, post);
    return strbuf_detach(&b, NULL);
}

char *jsonrpc_result_text(const cJSON *id, const char *result_json)
{
    char *head = jsonrpc_result_head(id);
    char *r = xasprintf("%s%s}", head, result_json);
    free(head);
    return r;
}
