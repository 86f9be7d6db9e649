/*
 * session: the MCP lifecycle state that must hold on every worker thread and every replica
 * without shared storage: protocol version negotiation, and self-validating session ids.
 *
 * An id is base64url(version byte || 16 random bytes || issue time (64-bit big-endian seconds)
 * || HMAC-SHA256(key, all of the former)). Any process holding the key can check an id, so
 * connections spread by SO_REUSEPORT (or a load balancer) need no session table. The key is
 * SHA-256 of env CAPPROXY_SESSION_KEY, else 32 random bytes made once per process (ids then
 * die with the process and are not valid on other replicas: a warning says so).
 *
 * Ending a session (HTTP DELETE) records the id in a small, bounded, mutex-protected set of
 * this process, so it gets 404 here afterwards; on other replicas an ended id stays valid until
 * it expires (SESSION_TTL_DEFAULT_S after issue). Pure: no event loop; thread-safe.
 */
#ifndef CAPPROXY_SESSION_H
#define CAPPROXY_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Protocol versions this server speaks (Streamable HTTP exists since 2025-03-26). */
#define SESSION_VERSION_LATEST "2025-11-25"
extern const char *const session_versions[];
extern const size_t session_nversions;

/* Whether <v> is one of session_versions (NULL: no). */
bool session_version_supported(const char *v);
/* The version to answer at initialize: the client's when supported, else the latest. */
const char *session_negotiate_version(const char *client);

#define SESSION_ID_MAX        96    /* buffer size for an id, NUL included */
#define SESSION_TTL_DEFAULT_S 86400 /* 24 h */
#define SESSION_MAX_SKEW_S    300   /* ids "issued" further in the future are refused */
#define SESSION_ENDED_MAX     1024  /* ended ids remembered by this process */

enum session_status {
    SESSION_OK,
    SESSION_MALFORMED, /* not an id of this format (length, alphabet, version) */
    SESSION_FORGED,    /* the signature does not match: another key, or tampered */
    SESSION_EXPIRED,   /* older than the TTL, or issued in the future */
    SESSION_ENDED      /* deleted on this process */
};

/* Load the key from CAPPROXY_SESSION_KEY or make a random one, once per process (later calls
 * do nothing). Called lazily by session_issue/session_check; call it at start to get the
 * warning about a random key early. -1 when no randomness was available. */
int session_global_init(void);
/* Use SHA-256 of <key>[0..len) as the key (tests, and what the environment key goes through). */
void session_set_key(const void *key, size_t len);
/* Change the lifetime of ids (tests); <seconds> > 0. */
void session_set_ttl(long seconds);
/* Forget every ended id (tests). */
void session_forget_ended(void);

/* Make a new id issued at <now> (seconds since the epoch) into <out>. 0, or -1 when the kernel
 * gave no random bytes. */
int session_issue(int64_t now, char out[SESSION_ID_MAX]);
/* Check <id> at <now>. The signature is compared in constant time. */
enum session_status session_check(const char *id, int64_t now);
/* End a session: later checks of <id> on this process give SESSION_ENDED. Returns the status
 * <id> had (only a valid id is recorded). */
enum session_status session_end(const char *id, int64_t now);
/* A short, safe-to-log word for <s>: "ok", "malformed", "forged", "expired", "ended". */
const char *session_status_name(enum session_status s);

#endif
