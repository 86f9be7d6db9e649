/*
 * secrets: the bind variables of the loaded documents and what is rendered from them (the
 * consumers' credential headers, the inbound expected values). Used by runtime_build only;
 * every string returned here may hold a secret: release it with secret_free (base/secret.h).
 */
#ifndef CAPPROXY_SECRETS_H
#define CAPPROXY_SECRETS_H

#include "base/diag.h"
#include "core/runtime.h"

/* Read every `binds` key into rt->vars (environment or binds location); reports missing
 * binds that are used and placeholders held by credential binds. -1 when it reported errors. */
int secrets_build_vars(struct runtime *rt, struct diag *d);
/* <prefix> followed by template <tpl> rendered with the bind variables; NULL when <tpl> is
 * NULL, a variable is missing or nothing follows the prefix. Caller frees (secret_free). */
char *secrets_render(const struct runtime *rt, const char *prefix, const char *tpl);
/* Fill <rc> for consumed API <mc>: effective base URI and credential headers (document
 * authentication first, configured credentials for what it does not cover). -1 on error. */
int secrets_build_consumer(struct runtime *rt, const struct model_consumer *mc,
                           struct rt_consumer *rc, struct diag *d);

#endif
