/*
 * procmem: process-wide choices that keep capproxy's resident memory small (issue 13: at most
 * 12 MiB idle). Part of the executable itself, not of the app library: the GnuTLS hook below
 * must be a symbol of the program.
 */
#ifndef CAPPROXY_PROCMEM_H
#define CAPPROXY_PROCMEM_H

/* Before the documents are loaded: the allocator gives freed memory back to the system at once
 * instead of after a delay, so what loading used and freed does not stay resident. */
void procmem_startup_begin(void);

/* Once the server is up (or start-up failed): gives back what is still unused, then restores the
 * allocator's own settings, which are the fast ones under load. */
void procmem_startup_end(void);

#endif
