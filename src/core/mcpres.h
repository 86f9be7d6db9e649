/*
 * mcpres: the MCP messages of resources and prompts (resources/list, resources/templates/list,
 * resources/read contents, prompts/list, prompts/get), built from the model's
 * model_mcp_resource and model_mcp_prompt. Pure, no transport: the catalog (core/catalog.h)
 * serialises the lists once per load, mcp_proto (front) answers the requests with these.
 */
#ifndef CAPPROXY_MCPRES_H
#define CAPPROXY_MCPRES_H

#include <stddef.h>

#include <cjson/cJSON.h>

#include "core/runtime.h"

/* The cap of one rendered prompts/get result: arguments repeated by a template multiply. */
#define MCPRES_MAX_PROMPT ((size_t)16 << 20)

/* Error code of resources/read for a URI nothing serves (MCP spec: "Resource not found"). */
#define MCPRES_NOT_FOUND (-32002)

/* Append <r>'s resources/list entries to <arr>: one per file of a static resource, one for a
 * dynamic resource whose uri is not a template (templates go to resources/templates/list). */
void mcpres_list_entries(const struct model_mcp_resource *r, cJSON *arr);
/* One resources/templates/list entry {uriTemplate, name, title, description, mimeType}. */
cJSON *mcpres_template_entry(const struct model_mcp_resource *r);
/* One prompts/list entry {name, title, description, arguments: [{name, title, description,
 * required}]}. */
cJSON *mcpres_prompt_entry(const struct model_mcp_prompt *p);

/* Check resources/read params: an object with a string `uri`. NULL when fine (<*uri> set),
 * else the -32602 message. */
const char *mcpres_read_params(const cJSON *params, const char **uri);
/* The resources/read result {contents: [{uri, mimeType, text | blob}]} of a static file. */
cJSON *mcpres_file_result(const struct model_mcp_file *f);
/* The resources/read result of dynamic resource <call> read as <uri> from an upstream answer
 * (<ctype> its Content-Type or NULL): a 2xx body mapped by outputParameters (JSON text), or as
 * it came (text when UTF-8, else a base64 blob). NULL on failure, with <*code> and <*msg> (caller
 * frees) the JSON-RPC error: MCPRES_NOT_FOUND for an upstream 404 or 410, else -32603. */
cJSON *mcpres_upstream_result(const struct rt_call *call, const char *uri, long status,
                              const char *ctype, const char *body, size_t len, int *code,
                              char **msg);
/* The resources/read result of an orchestrated resource's <answer> (taken; NULL: empty). */
cJSON *mcpres_answer_result(const struct model_mcp_resource *r, const char *uri, cJSON *answer);

/* prompts/get of <p> with <args> (params.arguments: an object of strings, or NULL): the
 * result {description, messages: [{role, content: {type: text, text}}]}, each message's content
 * rendered with Mustache over the arguments (values are inserted once, never re-read as
 * templates). NULL with <*err> (caller frees) the -32602 message: an argument that is not a
 * string, an unknown one (with "did you mean"), required ones missing (all named), or a result
 * larger than MCPRES_MAX_PROMPT. */
cJSON *mcpres_prompt_get(const struct model_mcp_prompt *p, const cJSON *args, char **err);

#endif
