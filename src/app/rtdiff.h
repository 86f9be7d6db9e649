/*
 * rtdiff: what a reload changed, for its log line: the files the documents were read from
 * (added, removed, changed by content), the REST routes ("GET /v1/x") and the MCP tools
 * added and removed.
 */
#ifndef CAPPROXY_RTDIFF_H
#define CAPPROXY_RTDIFF_H

#include "base/util.h"
#include "core/runtime.h"

/* Append to <out> "documents changed: a.yaml; routes added: GET /x; tools removed: t", or
 * "nothing changed". Each list is cut after a few names ("and 12 more"). Returns whether
 * anything changed. */
bool rtdiff_describe(const struct runtime *old, const struct runtime *cur, struct strbuf *out);

#endif
