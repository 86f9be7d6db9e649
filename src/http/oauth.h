/*
 * oauth: capproxy as an OAuth 2.1 resource server (`authentication: {type: oauth2}` on an
 * exposed adapter). A request's bearer token is verified against the keys (JWKS) of the
 * authorization server, found through its metadata (RFC 8414, then OpenID discovery), or asked
 * about at its introspection endpoint (RFC 7662). Every fetch goes through the loop's upstream
 * client, never blocking: a request that needs keys not fetched yet is parked and resumed when
 * the fetch ends, and one fetch per authorization server and loop serves every request waiting
 * for it. Keys are cached (Cache-Control max-age, bounded) and refetched on an unknown kid at
 * most once per oauth2.keysMinRefresh; introspection answers are cached per token (by its
 * SHA-256, never the token itself). Refusals follow RFC 6750: 401 with WWW-Authenticate:
 * Bearer (error="invalid_token" when a token was sent), 403 insufficient_scope; an
 * authorization server that cannot be reached gives 503.
 */
#ifndef CAPPROXY_OAUTH_H
#define CAPPROXY_OAUTH_H

#include <stdbool.h>
#include <stddef.h>

#include "core/runtime.h"
#include "http/exchange.h"
#include "http/loop.h"

/* The well-known path of Protected Resource Metadata (RFC 9728 3.1); an endpoint's own is this
 * followed by the endpoint's path. */
#define OAUTH_PRM_PATH "/.well-known/oauth-protected-resource"

struct oauth_state;

/* A loop's cache of authorization servers and introspection answers (loop.c owns it). */
struct oauth_state *oauth_state_new(struct loop *l);
/* Cancel the fetches in flight (their waiters are not resumed: the loop is going away). */
void oauth_state_free(struct oauth_state *s);

/* Whether any of <auth>[0..n) is an oauth2 credential. */
bool oauth_any(const struct rt_inbound *const *auth, size_t n);

/* The outcome of a check. */
struct oauth_verdict {
    int status;       /* 0: the token satisfies every oauth2 credential; else 401, 403 or 503 */
    char detail[200]; /* why, safe to show the caller (never token content) */
};

typedef void (*oauth_resume_fn)(struct exchange *x, void *arg);

/* Check the bearer token of <x>'s request against the oauth2 credentials among
 * <auth>[0..n) (the others are reqcheck_auth's). <prm_path> is the endpoint path the
 * WWW-Authenticate resource_metadata URL names (MCP endpoints), NULL for none (REST).
 * true: decided, <v> filled; a refusal has its WWW-Authenticate (or Retry-After) header added.
 * false: the answer needs a fetch: <x> is parked, and once the fetch is over (or <x>'s client
 * went away: then never) <resume>(x, arg) runs on the loop; the front end then calls
 * oauth_check again (with its <resume>), which decides from what was fetched; it parks again
 * only while another fetch it needs is under way. */
bool oauth_check(struct exchange *x, const struct rt_inbound *const *auth, size_t n,
                 const char *prm_path, oauth_resume_fn resume, void *arg, struct oauth_verdict *v);

/* The Protected Resource Metadata (RFC 9728) of an endpoint protected by the oauth2
 * credentials among <auth>[0..n), as JSON text (free it); NULL when none is oauth2. */
char *oauth_prm(const struct rt_inbound *const *auth, size_t n);

/* Start fetching the metadata and keys of every jwks-validated authorization server of <rt>
 * not fetched yet on <l>, so that the first requests do not wait (start-up, reload). */
void oauth_prefetch(struct loop *l, const struct runtime *rt);

#endif
