/*
 * routes: the route table `capproxy routes` prints for a built runtime.
 */
#ifndef CAPPROXY_ROUTES_H
#define CAPPROXY_ROUTES_H

#include <stdio.h>

#include "core/runtime.h"

/* Print the route table: one line per consumed operation a document exposes, with its REST
 * route(s) and MCP tool(s), the upstream method and URL template, and where each credential
 * comes from (never its value). */
void routes_print(const struct runtime *rt, FILE *fp);

#endif
