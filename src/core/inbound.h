/*
 * inbound: the credential an exposed adapter demands from its callers (its `authentication`
 * block), rendered at load, and the pure rules for checking what a caller presents. The HTTP
 * side only finds the presented value (a header, or a decoded query parameter) and sends the
 * challenge these functions give.
 */
#ifndef CAPPROXY_INBOUND_H
#define CAPPROXY_INBOUND_H

#include <stdbool.h>
#include <stddef.h>

#include "core/runtime.h"

/* Add adapter <e>'s inbound credential to rt->inbound (nothing when it has no
 * authentication); warns when its value is not set (every request then gets 401). Load only. */
void inbound_build(struct runtime *rt, const struct model_expose *e);

/* The token after "<scheme> " (scheme case-insensitive, blanks skipped) in an Authorization
 * value <v>, or NULL when <v> is NULL or has another scheme. */
const char *inbound_token(const char *v, const char *scheme);
/* Whether <presented> satisfies <a>: the raw header value (bearer and basic take the token
 * after their scheme) or the decoded query value; NULL never does, nor anything when the
 * expected value is not set. */
bool inbound_matches(const struct rt_inbound *a, const char *presented);
/* The WWW-Authenticate value to send when <a> is not satisfied, into out[cap]. */
void inbound_challenge(const struct rt_inbound *a, char *out, size_t cap);
/* Whether request header <name> (case-insensitive) carries one of the <n> credentials <auth>:
 * it is ours and never travels upstream. */
bool inbound_is_header(const struct rt_inbound *const *auth, size_t n, const char *name);
/* Room for one WWW-Authenticate value. */
#define INBOUND_CHALLENGE_MAX 256
/* Digest (RFC 7616, core/digest.h): whether Authorization value <authz> (NULL: none) answers
 * <a>'s challenge for <method> on request target <uri>. When not, out[0] and out[1] hold the
 * two WWW-Authenticate values to send (SHA-256 first, then MD5), with stale=true when only the
 * nonce had expired. */
bool inbound_digest_check(const struct rt_inbound *a, const char *authz, const char *method,
                          const char *uri, char out[2][INBOUND_CHALLENGE_MAX]);

#endif
