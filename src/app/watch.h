/*
 * watch: reload without a signal. inotify watches the directories that hold what the running
 * runtime was loaded from (capability documents and the directories they were listed from,
 * imported and resource files, binds files, the configuration file, credential files), and a
 * change there, once nothing has changed for reload.debounce, asks for a reload.
 *
 * Directories are watched, not files: an editor that saves by renaming, and a Kubernetes
 * Secret or ConfigMap volume, which swaps its `..data` symlink to a new directory, replace the
 * file rather than write to it. In a directory only the names that matter count: the watched
 * files' names, every name of a directory the documents were listed from, and the volume's
 * `..`-names.
 *
 * The main thread waits here for its signals too (signalfd), so it needs no event loop.
 */
#ifndef CAPPROXY_WATCH_H
#define CAPPROXY_WATCH_H

#include <signal.h>
#include <stdbool.h>

struct runtime;
struct watch;

/* A watcher, not watching anything yet; NULL when inotify is not available (logged: reload
 * then takes SIGHUP only). */
struct watch *watch_new(void);
void watch_free(struct watch *w); /* NULL-safe */
/* Watch what <rt> was loaded from, instead of what was watched before, and report a change
 * <rt>'s reload.debounce after its last event; with reload.watch off, watch nothing (both
 * settings take effect at every reload). Safe from any thread (a reload may run on a worker). */
void watch_arm(struct watch *w, const struct runtime *rt);
/* Block until one of the signals of <set> (blocked in every thread) arrives: 1 and <*sig>;
 * or until a change has settled: 0. -1 on a transient error (call again). */
int watch_wait(struct watch *w, const sigset_t *set, int *sig);

#endif
