/*
 * session: see session.h.
 */
#include "core/session.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "base/b64.h"
#include "base/crypto.h"
#include "base/log.h"
#include "base/util.h"

#define SESSION_FORMAT   0x01
#define SESSION_RAND_LEN 16
#define SESSION_BODY_LEN (1 + SESSION_RAND_LEN + 8)
#define SESSION_RAW_LEN  (SESSION_BODY_LEN + CRYPTO_SHA256_LEN)
#define SESSION_TEXT_LEN B64_URL_LEN(SESSION_RAW_LEN) /* base64url without padding */
_Static_assert(SESSION_TEXT_LEN < SESSION_ID_MAX, "an issued id and its NUL fit SESSION_ID_MAX");

const char *const session_versions[] = {"2025-11-25", "2025-06-18", "2025-03-26"};
const size_t session_nversions = UTIL_ARRAY_LEN(session_versions);

bool session_version_supported(const char *v)
{
    for (size_t i = 0; v && i < session_nversions; i++)
        if (str_eq(v, session_versions[i]))
            return true;
    return false;
}

const char *session_negotiate_version(const char *client)
{
    for (size_t i = 0; client && i < session_nversions; i++)
        if (str_eq(client, session_versions[i]))
            return session_versions[i];
    return SESSION_VERSION_LATEST;
}

/* ---- the key ---- */

static uint8_t session_key[CRYPTO_SHA256_LEN];
static bool session_key_set;
static long session_ttl = SESSION_TTL_DEFAULT_S;
static pthread_once_t session_once = PTHREAD_ONCE_INIT;
static int session_init_rc;
static atomic_uint session_key_gen; /* changes with the key: see <verified> */

void session_set_key(const void *key, size_t len)
{
    /* Domain-separate the operator's string so the same secret used elsewhere yields an
     * unrelated key here. */
    static const char label[] = "capproxy mcp session key v1";
    const struct crypto_part parts[] = {{label, sizeof label}, {key, len}};
    crypto_hash(CRYPTO_SHA256, parts, 2, session_key);
    session_key_set = true;
    atomic_fetch_add(&session_key_gen, 1);
}

void session_set_ttl(long seconds)
{
    if (seconds > 0)
        session_ttl = seconds;
}

static void session_init_once(void)
{
    if (session_key_set)
        return;
    const char *env = getenv("CAPPROXY_SESSION_KEY");
    if (env && *env) {
        session_set_key(env, strlen(env));
        LOG_I("mcp session ids are signed with CAPPROXY_SESSION_KEY");
        return;
    }
    if (crypto_random(session_key, sizeof session_key) < 0) {
        LOG_E("no random bytes (libcrypto RAND_bytes failed); cannot issue MCP session ids");
        session_init_rc = -1;
        return;
    }
    session_key_set = true;
    LOG_W("CAPPROXY_SESSION_KEY is not set: MCP session ids are signed with a random per-process "
          "key and do not survive a restart or work across replicas");
}

int session_global_init(void)
{
    pthread_once(&session_once, session_init_once);
    return session_init_rc;
}

/* ---- ids ---- */

int session_issue(int64_t now, char out[SESSION_ID_MAX])
{
    uint8_t raw[SESSION_RAW_LEN];
    if (session_global_init() < 0)
        return -1;
    raw[0] = SESSION_FORMAT;
    if (crypto_random(raw + 1, SESSION_RAND_LEN) < 0)
        return -1;
    uint64_t t = (uint64_t)now;
    for (int i = 0; i < 8; i++)
        raw[1 + SESSION_RAND_LEN + i] = (uint8_t)(t >> (56 - 8 * i));
    crypto_hmac_sha256(session_key, sizeof session_key, raw, SESSION_BODY_LEN,
                       raw + SESSION_BODY_LEN);
    b64_url_encode(raw, sizeof raw, out);
    return 0;
}

/* The last id this thread found signed, and with which key: a client sends the same id with
 * every message, and the HMAC is most of what checking it costs. */
static _Thread_local struct {
    char id[SESSION_TEXT_LEN];
    uint8_t raw[SESSION_RAW_LEN];
    unsigned gen;
    bool set;
} verified;

/* Decode and verify signature and age; on success <raw> holds the decoded id. */
static enum session_status verify(const char *id, int64_t now, uint8_t raw[SESSION_RAW_LEN])
{
    if (session_global_init() < 0 || !id)
        return SESSION_MALFORMED;
    size_t len = strlen(id);
    if (len != SESSION_TEXT_LEN)
        return SESSION_MALFORMED;
    unsigned gen = atomic_load(&session_key_gen);
    if (verified.set && verified.gen == gen && memcmp(verified.id, id, len) == 0) {
        memcpy(raw, verified.raw, SESSION_RAW_LEN);
    } else {
        if (b64_url_decode(id, len, raw, SESSION_RAW_LEN) < 0 || raw[0] != SESSION_FORMAT)
            return SESSION_MALFORMED;
        uint8_t mac[CRYPTO_SHA256_LEN];
        crypto_hmac_sha256(session_key, sizeof session_key, raw, SESSION_BODY_LEN, mac);
        if (!crypto_equal(raw + SESSION_BODY_LEN, mac, CRYPTO_SHA256_LEN))
            return SESSION_FORGED;
        memcpy(verified.id, id, len);
        memcpy(verified.raw, raw, SESSION_RAW_LEN);
        verified.gen = gen;
        verified.set = true;
    }
    uint64_t t = 0;
    for (int i = 0; i < 8; i++)
        t = (t << 8) | raw[1 + SESSION_RAND_LEN + i];
    int64_t issued = (int64_t)t;
    if (issued > now + SESSION_MAX_SKEW_S || now - issued >= session_ttl)
        return SESSION_EXPIRED;
    return SESSION_OK;
}

/* Ended ids of this process. Lookups happen on every MCP request, so an atomic count lets the
 * usual case (nothing ended) skip the lock. */
struct ended {
    uint8_t rnd[SESSION_RAND_LEN];
    int64_t expires;
};
static struct ended session_ended[SESSION_ENDED_MAX];
static size_t session_nended;
static atomic_size_t session_nended_hint;
static pthread_mutex_t session_lock = PTHREAD_MUTEX_INITIALIZER;

static bool ended_find(const uint8_t *rnd, int64_t now)
{
    if (atomic_load(&session_nended_hint) == 0)
        return false;
    bool found = false;
    pthread_mutex_lock(&session_lock);
    for (size_t i = 0; i < session_nended && !found; i++)
        found = session_ended[i].expires > now &&
                memcmp(session_ended[i].rnd, rnd, SESSION_RAND_LEN) == 0;
    pthread_mutex_unlock(&session_lock);
    return found;
}

static void ended_add(const uint8_t *rnd, int64_t expires, int64_t now)
{
    pthread_mutex_lock(&session_lock);
    /* Ids past their expiry are refused anyway: drop them first. */
    size_t j = 0, oldest = 0;
    for (size_t i = 0; i < session_nended; i++)
        if (session_ended[i].expires > now)
            session_ended[j++] = session_ended[i];
    session_nended = j;
    size_t slot = session_nended;
    if (slot == SESSION_ENDED_MAX) {
        /* Full: forget the one closest to expiry (bounded memory beats remembering all). */
        for (size_t i = 1; i < session_nended; i++)
            if (session_ended[i].expires < session_ended[oldest].expires)
                oldest = i;
        slot = oldest;
    } else {
        session_nended++;
    }
    memcpy(session_ended[slot].rnd, rnd, SESSION_RAND_LEN);
    session_ended[slot].expires = expires;
    atomic_store(&session_nended_hint, session_nended);
    pthread_mutex_unlock(&session_lock);
}

enum session_status session_check(const char *id, int64_t now)
{
    uint8_t raw[SESSION_RAW_LEN];
    enum session_status st = verify(id, now, raw);
    if (st == SESSION_OK && ended_find(raw + 1, now))
        st = SESSION_ENDED;
    return st;
}

enum session_status session_end(const char *id, int64_t now)
{
    uint8_t raw[SESSION_RAW_LEN];
    enum session_status st = verify(id, now, raw);
    if (st != SESSION_OK)
        return st;
    if (ended_find(raw + 1, now))
        return SESSION_ENDED;
    uint64_t t = 0;
    for (int i = 0; i < 8; i++)
        t = (t << 8) | raw[1 + SESSION_RAND_LEN + i];
    ended_add(raw + 1, (int64_t)t + session_ttl, now);
    return SESSION_OK;
}

void session_forget_ended(void)
{
    pthread_mutex_lock(&session_lock);
    session_nended = 0;
    atomic_store(&session_nended_hint, 0);
    pthread_mutex_unlock(&session_lock);
}

const char *session_status_name(enum session_status s)
{
    switch (s) {
    case SESSION_OK:
        return "ok";
    case SESSION_MALFORMED:
        return "malformed";
    case SESSION_FORGED:
        return "forged";
    case SESSION_EXPIRED:
        return "expired";
    case SESSION_ENDED:
        return "ended";
    }
    return "?";
}
