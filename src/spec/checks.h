/*
 * checks: the capability-format rules that need more than the YAML node at hand: every `call`
 * resolves to a consumed operation (possibly in another document), every `ref` to an aggregate
 * function (whose call, inputs and outputs the referrer takes), namespaces are unique, REST
 * routes (method + path, placeholders ignored) and MCP tool names are unique per port, and
 * operation names are unique within a consumes namespace. The loader runs the per-document
 * checks as each document is loaded; checks_validate runs those across documents once all are
 * loaded. Errors name both places when two definitions collide.
 */
#ifndef CAPPROXY_CHECKS_H
#define CAPPROXY_CHECKS_H

#include <stdbool.h>
#include <stddef.h>

#include "base/diag.h"
#include "spec/model.h"

/* Errors reported per check run (and, by the loader, per document): an alias repeated many
 * times could otherwise turn one mistake into hundreds of thousands of messages. */
#define CHECKS_MAX_ERRORS 100

/* Checks across all loaded documents of <m>: resolves every `ref` (copying the function into
 * the referrer, deriving tool hints from its semantics) and every open `call` (setting its
 * target), and reports cross-document duplicates. 0 when valid, -1 when an error was reported. */
int checks_validate(struct model *m, struct diag *d);
/* Report duplicate namespaces, REST routes and MCP tools among capabilities [from, to) of <m>.
 * With <cross>, only duplicates between two different documents (those within one document
 * were reported when it was loaded). */
void checks_duplicates(const struct model *m, size_t from, size_t to, bool cross, struct diag *d);
/* Report two operations of one consumes namespace of <cap> with the same name: they would make
 * `call: ns.name` ambiguous. */
void checks_operation_names(const struct model_capability *cap, struct diag *d);

#endif
