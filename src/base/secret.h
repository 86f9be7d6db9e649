/*
 * secret: wiping key material. A secret (a credential value, an HMAC key or pad) is overwritten
 * before its memory is released, so it does not linger in freed heap or a dead stack frame.
 * The writes go through a volatile pointer so the compiler cannot drop them as dead stores.
 */
#ifndef CAPPROXY_SECRET_H
#define CAPPROXY_SECRET_H

#include <stddef.h>

/* Overwrite <len> bytes at <p> with zeros. <p> may be NULL when <len> is 0. */
void secret_wipe(void *p, size_t len);
/* Wipe the NUL-terminated string <s> (up to its terminator), then free it. NULL is ignored. */
void secret_free(char *s);

#endif
