/*
 * mcp_cancel: see mcp_cancel.h. Lifetime: an entry is unlinked under the lock before it is
 * freed, and mcp_cancel_request activates its event under the same lock, so a request found
 * is never freed meanwhile; an activation that races with the end of the call is removed from
 * the loop's queue by event_del in mcp_cancel_remove (same thread as the callback).
 */
#include "front/mcp_cancel.h"

#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event_struct.h>

#include "base/fnum.h"
#include "base/util.h"

#define CANCEL_BUCKETS 256

struct mcp_cancel {
    char *key; /* session id, '\n', the request id as JSON */
    size_t bucket;
    struct event ev;
    bool fired; /* <ev> was activated (under the lock): it must be taken off the loop */
    mcp_cancel_fn fn;
    void *arg;
    struct mcp_cancel *prev, *next;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct mcp_cancel *buckets[CANCEL_BUCKETS];

/* The bucket of key <k> whose session id is <slen> bytes long: a hash of the session id's
 * last bytes (its signature, as random as the rest of it) and all of the request id, which
 * spreads keys as well as a hash of the whole key and costs a fraction of it. */
static size_t key_bucket(const char *k, size_t slen, size_t len)
{
    size_t from = slen > 16 ? slen - 16 : 0;
    return (size_t)(util_fnv1a(k + from, len - from) % CANCEL_BUCKETS);
}

/* The key of (<sid>, <id>) and its bucket, or NULL when <id> is not a request id (string or
 * number). */
static char *make_key(const char *sid, const cJSON *id, size_t *bucket)
{
    if (!sid || !(cJSON_IsString(id) || cJSON_IsNumber(id) || cJSON_IsRaw(id)))
        return NULL;
    /* No JSON printing, which checks each number by reading it back, and no floating-point
     * formatting for the usual integer id: a string id and a number id never share a key. */
    char num[32];
    const char *idt = num;
    size_t idlen;
    double d = cJSON_IsNumber(id) ? id->valuedouble : 0;
    if (!cJSON_IsNumber(id)) {
        idt = id->valuestring; /* a string, or a big integer kept with its digits */
        idlen = strlen(idt);
    } else if (fnum_is_whole(d) && fabs(d) < 9007199254740992.0) { /* %.17g writes these the same */
        idlen = util_fmt_ll((long long)d, num);
    } else {
        idlen = (size_t)snprintf(num, sizeof num, "%.17g", d);
    }
    /* One allocation of the known size (this runs for every tools/call). */
    size_t slen = strlen(sid), len = slen + 2 + idlen;
    char *k = xmalloc(len + 1);
    memcpy(k, sid, slen);
    k[slen] = '\n';
    k[slen + 1] = cJSON_IsString(id) ? 's' : 'n';
    memcpy(k + slen + 2, idt, idlen);
    k[len] = '\0';
    *bucket = key_bucket(k, slen, len);
    return k;
}

static void on_cancel(evutil_socket_t fd, short what, void *arg)
{
    struct mcp_cancel *c = arg;
    c->fn(c->arg); /* usually ends the call, which calls mcp_cancel_remove(c) */
}

struct mcp_cancel *mcp_cancel_add(struct event_base *base, const char *sid, const cJSON *id,
                                  mcp_cancel_fn fn, void *arg)
{
    size_t bucket;
    char *key = make_key(sid, id, &bucket);
    if (!key)
        return NULL;
    struct mcp_cancel *c = xcalloc(1, sizeof *c);
    c->key = key;
    c->bucket = bucket;
    c->fn = fn;
    c->arg = arg;
    event_assign(&c->ev, base, -1, 0, on_cancel, c);
    pthread_mutex_lock(&lock);
    c->next = buckets[c->bucket];
    if (c->next)
        c->next->prev = c;
    buckets[c->bucket] = c;
    pthread_mutex_unlock(&lock);
    return c;
}

void mcp_cancel_remove(struct mcp_cancel *c)
{
    if (!c)
        return;
    pthread_mutex_lock(&lock);
    if (c->prev)
        c->prev->next = c->next;
    else
        buckets[c->bucket] = c->next;
    if (c->next)
        c->next->prev = c->prev;
    /* Unlinked, <c> cannot be activated any more; one never activated is in no loop's
     * queue (event_assign registers nothing), and needs no event_del. */
    bool fired = c->fired;
    pthread_mutex_unlock(&lock);
    if (fired)
        event_del(&c->ev); /* an activation not yet run */
    free(c->key);
    free(c);
}

bool mcp_cancel_request(const char *sid, const cJSON *id)
{
    size_t bucket;
    char *key = make_key(sid, id, &bucket);
    if (!key)
        return false;
    bool found = false;
    pthread_mutex_lock(&lock);
    for (struct mcp_cancel *c = buckets[bucket]; c; c = c->next)
        if (str_eq(c->key, key)) {
            event_active(&c->ev, EV_TIMEOUT, 0);
            c->fired = true;
            found = true;
            break;
        }
    pthread_mutex_unlock(&lock);
    free(key);
    return found;
}
