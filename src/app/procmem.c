/*
 * procmem: see procmem.h.
 */
#include "app/procmem.h"

#ifdef CAPPROXY_MIMALLOC
#include <mimalloc.h>
#endif

/* GnuTLS initialises itself from a library constructor as soon as it is loaded (its pages and
 * those of p11-kit, nettle and gmp it touches, plus heap: about 0.7 MiB resident), unless the
 * program defines this function and it returns non-zero: what gnutls.h's GNUTLS_SKIP_GLOBAL_INIT
 * expands to, written out because capproxy does not build against GnuTLS. libgnutls calls it
 * through its PLT, so the program's definition wins (meson.build exports it). Setting
 * GNUTLS_NO_IMPLICIT_INIT=1 would do the same, but only from outside: the constructor runs
 * before main().
 * Safe because capproxy never uses GnuTLS: libcurl uses OpenSSL; GnuTLS is loaded only as a
 * dependency of librtmp and libldap, which libcurl links, and both call gnutls_global_init()
 * themselves before using it (and capproxy's transfers are limited to http and https,
 * CURLOPT_PROTOCOLS_STR in http/upstream.c, so neither is used). */
int _gnutls_global_init_skip(void);
int _gnutls_global_init_skip(void)
{
    return 1;
}

#ifdef CAPPROXY_MIMALLOC
static long saved_decommit_delay;

void procmem_startup_begin(void)
{
    /* mimalloc keeps a freed span committed for decommit_delay ms (25) in case it is needed
     * again: right under load, but loading the documents frees its parse trees once and for
     * all. 0 while starting decommits them as they are freed. */
    saved_decommit_delay = mi_option_get(mi_option_decommit_delay);
    mi_option_set(mi_option_decommit_delay, 0);
}

void procmem_startup_end(void)
{
    mi_collect(true);
    mi_option_set(mi_option_decommit_delay, saved_decommit_delay);
}
#else
/* The C library's malloc: nothing to tune. */
void procmem_startup_begin(void) {}

void procmem_startup_end(void) {}
#endif
