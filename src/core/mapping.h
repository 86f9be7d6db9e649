/*
 * mapping: how an exposed call becomes an upstream request (the answer's way back is
 * core/respmap.h). Shared by the REST and MCP front ends (one code path, two front ends),
 * pure: no event loop, so it is unit-tested directly. The rules are those of
 * docs/capability-format.md in this repository, "How values flow".
 */
#ifndef CAPPROXY_MAPPING_H
#define CAPPROXY_MAPPING_H

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

#include "core/outreq.h"
#include "core/runtime.h"
#include "base/util.h"

/* The cap of an upstream URL built by mapping_build. */
#define MAPPING_MAX_URL ((size_t)64 * 1024)

struct mapping_kv {
    const char *name;
    const char *value;
    size_t len;
};

/* What the exposed side received. All borrowed. */
struct mapping_input {
    bool mcp;                      /* tools.NAME refs read <args>; else rest.NAME refs */
    const struct mapping_kv *path; /* decoded path variables (REST) */
    size_t npath;
    const struct mapping_kv *query; /* decoded query pairs, repeats allowed (REST) */
    size_t nquery;
    const struct mapping_kv *headers; /* HTTP request headers (REST and MCP) */
    size_t nheaders;
    const cJSON *body;    /* parsed JSON request body (REST), NULL when none; integers beyond
                             2^53 may be raw nodes with their digits (jsonnum) */
    const char *raw_body; /* the raw body, forwarded as is for rest.body */
    size_t raw_body_len;
    const cJSON *args; /* MCP tool arguments (object), NULL when none; raw big integers too */
};

/* Why a call was refused before anything was sent. <param> names the input at fault. */
struct mapping_error {
    int status; /* 400, 401 or 500 */
    char param[128];
    char detail[512];
};

/* Whether <call> (or the exposed call a step belongs to) is marked idempotent: a tool's
 * `hints.idempotent: true` or its aggregate function's `semantics.idempotent: true`. Then a POST
 * or PATCH to it may be retried like a PUT. */
bool mapping_call_idempotent(const struct rt_call *call);

/* Resolve every consumed parameter of <call> from <in> through `with`, check required and typed
 * values, and build the upstream request into <out> (initialised by the caller with
 * outreq_init(out, MAPPING_MAX_URL)). 0 on success;
 * -1 with <err> filled (nothing must then be sent). */
int mapping_build(const struct runtime *rt, const struct rt_call *call,
                  const struct mapping_input *in, struct outreq *out, struct mapping_error *err);

/* Check what the caller sent to <call> without building a request (an orchestrated or mock
 * call has no one consumed operation): every input is one the call reads, its declared
 * inputParameters are present when required and typed. 0 when fine; -1 with <err> filled. */
int mapping_check_inputs(const struct runtime *rt, const struct rt_call *call,
                         const struct mapping_input *in, struct mapping_error *err);

/* The caller's inputs as one JSON object by name (caller deletes): MCP, the arguments; REST,
 * the top-level body fields, then path variables and query parameters, typed by the call's
 * declared parameter types (a repeated array parameter gathers its values). Headers are not
 * inputs here. The scope of an orchestration, which adds each step's result by name. */
cJSON *mapping_scope(const struct rt_call *call, const struct mapping_input *in);

/* Add <call>'s credential headers (call->creds) to <out> as mapping_build does: the caller's
 * own header among <headers>[0..n) wins, else the configured value; a required one with
 * neither is a 401 in <err>. For requests built elsewhere (core/forward.c). 0 or -1. */
int mapping_add_credentials(const struct runtime *rt, const struct rt_call *call,
                            const struct mapping_kv *headers, size_t n, struct outreq *out,
                            struct mapping_error *err);

/* Whether <v> is a JSON number or a string holding one (integer when <integer>). */
bool mapping_is_number_text(const char *s, size_t len, bool integer);

#endif
