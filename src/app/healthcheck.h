/*
 * healthcheck: `capproxy healthcheck`, the container image's HEALTHCHECK command. The runtime
 * image has no shell and no curl, so the binary checks itself: one GET of /healthz on the admin
 * listener that the configuration (file and CAPPROXY_* environment) names, as a short-lived CLI
 * process (libcurl's easy interface; no event loop is involved).
 */
#ifndef CAPPROXY_HEALTHCHECK_H
#define CAPPROXY_HEALTHCHECK_H

#include <stdbool.h>

/* Read the configuration <config_path> (<required>: it must exist), GET /healthz on its admin
 * listener within 2 seconds. The exit status: 0 on 200, 1 otherwise (the reason on stderr),
 * 2 when the configuration is wrong or the admin listener is off. */
int healthcheck_main(const char *config_path, bool required);

#endif
