/*
 * orch: an orchestrated call (`steps` + `mappings`) as a pure state machine, so the front ends
 * can run it as a chain of callbacks on their loop and the unit tests can run it with canned
 * upstream answers. No libevent, no libcurl: the caller sends each request orch_next fills and
 * feeds its outcome back with orch_feed.
 *
 * The scope is one JSON object: the caller's inputs by name (mapping_scope), to which each
 * step's result is added under the step's name. Call steps build their request with
 * mapping_build over the scope ({{get-ship.imo_number}} reads an earlier result); lookups and
 * mappings read it with `$.<step>.<path>`. The rules, and where they differ from the reference
 * engine, are in docs/capability-format.md, "Orchestration: steps, lookup, mappings".
 */
#ifndef CAPPROXY_ORCH_H
#define CAPPROXY_ORCH_H

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

#include "core/mapping.h"
#include "core/outreq.h"
#include "core/runtime.h"

enum orch_state {
    ORCH_SEND,  /* send the request orch_next filled, then orch_feed its outcome */
    ORCH_DONE,  /* orch_answer */
    ORCH_FAILED /* orch_failure */
};

/* How a step's upstream transfer ended. */
enum orch_transport { ORCH_OK, ORCH_ERR_UNREACHABLE, ORCH_ERR_TIMEOUT };

struct orch_outcome {
    enum orch_transport transport;
    const char *error_name; /* the transport error's name ("refused", ...), for messages */
    long status;            /* HTTP status when ORCH_OK */
    const char *content_type;
    const char *body;
    size_t len;
};

/* Why the call failed: <status> is what the caller gets (4xx from a step keeps the upstream's
 * status, 5xx becomes 502, a transport failure 502 or 504, a request the step could not build
 * the mapping's status). <step>, <call> (the step's consumed operation) and <upstream_status>
 * (0 when no answer) say where. */
struct orch_failure {
    int status;
    const char *step;
    const char *call;
    long upstream_status;
    char param[128]; /* the input at fault when the request could not be built, else "" */
    char message[512];
};

struct orch;

/* Start orchestrated call <call> (kind STEPS) over <scope> (taken: the caller's inputs,
 * mapping_scope). <headers> (copied, may be NULL) are the caller's HTTP headers, where step
 * credentials come from as for a simple call. */
struct orch *orch_new(const struct runtime *rt, const struct rt_call *call, cJSON *scope,
                      const struct mapping_kv *headers, size_t nheaders);
void orch_free(struct orch *o); /* NULL-safe */

/* Advance: run lookups, then build the next call step's request into <out> (initialised by the
 * caller with outreq_init(out, MAPPING_MAX_URL), empty) and return ORCH_SEND; or finish. */
enum orch_state orch_next(struct orch *o, struct outreq *out);
/* The outcome of the request of the last ORCH_SEND (borrowed for the call only). */
void orch_feed(struct orch *o, const struct orch_outcome *r);

/* The step the last ORCH_SEND was for (logs, metrics). */
const char *orch_step_name(const struct orch *o);
/* ORCH_DONE: the answer (taken by the caller; NULL: answer 204) and its status. */
cJSON *orch_answer(struct orch *o, int *status);
/* ORCH_FAILED: why. */
const struct orch_failure *orch_failure(const struct orch *o);
/* The failure as the members of a REST problem (`step`, `call`, `upstream_status`): a new
 * object the caller adds to exchange_problem. */
cJSON *orch_failure_extra(const struct orch_failure *f);

/* A mock call's answer over <scope> (the caller's inputs): its outputParameters' values, NULL
 * when none gives one (answer 204). */
cJSON *orch_mock(const struct rt_call *call, const cJSON *scope);

#endif
