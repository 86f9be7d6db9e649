/*
 * catalog: what an MCP endpoint serves, built once per (re)load inside runtime_build: the
 * serialised tools/list result, the inbound credentials a request must satisfy (every adapter
 * behind the endpoint) and a sorted index for finding a tool by name. Immutable once built, so
 * every worker reads it without locks.
 */
#ifndef CAPPROXY_CATALOG_H
#define CAPPROXY_CATALOG_H

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

#include "core/runtime.h"

struct catalog;

/* Settle what <ep> lists, before its catalog is built: when it serves several adapters, a tool
 * that sends the same upstream request as another adapter's tool (same base URI, method, path
 * template and fixed values; orchestrated and mock tools never) is not listed but stays
 * callable by name (<ep->same_op>); the listed one is that of an adapter naming a shared tool
 * set (`path`), else the first loaded. Its instructions then name each adapter with its
 * description; one adapter's endpoint keeps that adapter's description. */
void catalog_settle(struct rt_mcp_endpoint *ep);

/* Build <ep>'s catalog (the inbound credentials of <rt> must be built). Tool names of <ep>
 * must be unique (runtime_build refuses duplicates, the stdio endpoint skips them). */
struct catalog *catalog_build(const struct runtime *rt, const struct rt_mcp_endpoint *ep);
void catalog_free(struct catalog *c); /* NULL-safe */

/* The serialised tools/list result {"tools": [...]}, tools in the endpoint's order. */
const char *catalog_tools_json(const struct catalog *c);
/* The inbound credentials a request to the endpoint must all satisfy: each adapter's once, in
 * tool order (an adapter without tools: its own). <*n> gets their number. */
const struct rt_inbound *const *catalog_auth(const struct catalog *c, size_t *n);
/* The tool named <name> (case-sensitive), or NULL. */
const struct rt_call *catalog_find_tool(const struct catalog *c, const char *name);

/* The serialised resources/list {"resources": [...]}, resources/templates/list
 * {"resourceTemplates": [...]} and prompts/list {"prompts": [...]} results. */
const char *catalog_resources_json(const struct catalog *c);
const char *catalog_templates_json(const struct catalog *c);
const char *catalog_prompts_json(const struct catalog *c);
/* Whether the endpoint serves any resource, any prompt (initialize advertises only those). */
bool catalog_has_resources(const struct catalog *c);
bool catalog_has_prompts(const struct catalog *c);
/* The resource that serves <uri>: a static file's exact uri (<*file> set), a dynamic resource's
 * exact uri, else the first template that matches (its variables added to <vars>, an object,
 * as strings); <*call> gets a dynamic resource's call. NULL when none serves it. */
const struct model_mcp_resource *catalog_find_resource(const struct catalog *c, const char *uri,
                                                       cJSON *vars,
                                                       const struct model_mcp_file **file,
                                                       const struct rt_call **call);
/* The prompt named <name>, or NULL. */
const struct model_mcp_prompt *catalog_find_prompt(const struct catalog *c, const char *name);

/* The endpoint `capproxy mcp-stdio` serves: every tool of every adapter, the first of each
 * name (a later duplicate goes to <dups> as {kept, dropped} pairs, for the stdio server to
 * warn about), settled like any endpoint (catalog_settle). Its catalog is built too. Freed with
 * catalog_stdio_free. */
struct rt_mcp_endpoint *catalog_stdio_endpoint(const struct runtime *rt);
void catalog_stdio_free(struct rt_mcp_endpoint *ep); /* NULL-safe */

#endif
