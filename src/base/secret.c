/*
 * secret: see secret.h.
 */
#include "base/secret.h"

#include <stdlib.h>

void secret_wipe(void *p, size_t len)
{
    volatile unsigned char *v = p;
    for (size_t i = 0; i < len; i++)
        v[i] = 0;
}

void secret_free(char *s)
{
    if (!s)
        return;
    volatile char *p = s;
    while (*p)
        *p++ = 0;
    free(s);
}
