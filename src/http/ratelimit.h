/*
 * ratelimit: the process-wide rate limits, shared by every worker loop (struct loop_shared
 * holds one). Inbound, a token bucket per client, keyed by the credential the request
 * authenticated with (an HMAC under a per-process random key: never the credential itself),
 * else by the client address; over it the front end answers 429 with Retry-After, and every
 * answer of a limited listener carries the RateLimit-Limit, -Remaining, -Reset and -Policy
 * fields of draft-ietf-httpapi-ratelimit-headers-06. Outbound, a token bucket per consumed API
 * (consumers[].rate), which a transfer over it waits for (at most rateMaxWait) or is refused by.
 * The client table is sharded, one mutex per shard held for a hash lookup and a few additions,
 * and bounded (limits.rateLimitClients): a full shard forgets its least recently seen client,
 * so that a flood of addresses cannot grow memory.
 */
#ifndef CAPPROXY_RATELIMIT_H
#define CAPPROXY_RATELIMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/tbucket.h"
#include "base/util.h"
#include "core/runtime.h"
#include "spec/config.h"

struct exchange;
struct ratelimit;

/* The length of a client key (a truncated HMAC-SHA256). */
#define RATELIMIT_KEY_LEN 16

struct ratelimit *ratelimit_new(void);
void ratelimit_free(struct ratelimit *rl); /* NULL-safe */

/* The inbound limit of <x>'s client, which authenticated with the credentials <auth>[0..n)
 * (n 0: keyed by its address). Call once per request, after authentication. true: go on (the
 * RateLimit fields are set on whatever answer <x> gets); false: the client is over
 * limits.rateLimit, Retry-After is set, and the caller answers 429 in its own shape. Always
 * true when the limit is off. */
bool ratelimit_in(struct exchange *x, const struct rt_inbound *const *auth, size_t n);

/* The keyed table itself, for ratelimit_in and the tests: take one request of client <key> at
 * <now_ns> under rate <r> (its burst 0: the count), keeping at most <max_keys> clients. */
bool ratelimit_take_key(struct ratelimit *rl, const uint8_t key[RATELIMIT_KEY_LEN],
                        const struct config_rate *r, long max_keys, int64_t now_ns,
                        struct tbucket_verdict *v);
/* Clients tracked now (a gauge). */
long ratelimit_keys(const struct ratelimit *rl);

enum ratelimit_out {
    RATELIMIT_GO,     /* send now */
    RATELIMIT_WAIT,   /* send after *wait_ns */
    RATELIMIT_REFUSE, /* answer 429; a token exists after *wait_ns (Retry-After) */
};
/* The outbound rate of consumed API <api> (NULL or no consumers[].rate: always GO) under
 * configuration <cfg>, for one transfer now. <rl> NULL: GO. */
enum ratelimit_out ratelimit_out_take(struct ratelimit *rl, const struct config *cfg,
                                      const char *api, int64_t *wait_ns);

/* A transfer that ratelimit_out_take told to WAIT was given up before it went (client gone,
 * MCP cancellation): its token goes back to <api>'s bucket, so that the transfers after it are
 * not held back for one that never happens. */
void ratelimit_out_refund(struct ratelimit *rl, const struct config *cfg, const char *api);

/* The limits' series in the Prometheus text format, appended to <out> (/metrics). */
void ratelimit_metrics(struct ratelimit *rl, struct strbuf *out);

#endif
