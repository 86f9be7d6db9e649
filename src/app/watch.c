/*
 * watch: see watch.h.
 */
#include "app/watch.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/log.h"
#include "base/util.h"
#include "core/runtime.h"
#include "spec/location.h"

/* What replaces, writes, creates or removes a name in a watched directory, and the directory
 * itself going away. */
#define WATCH_MASK                                                                                 \
    (IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_CREATE | IN_DELETE | IN_DELETE_SELF |       \
     IN_MOVE_SELF | IN_ONLYDIR)

/* Changes that never pause still reload this many debounce periods after the first. */
#define WATCH_MAX_DELAY_FACTOR 10

/* One watched directory. */
struct wdir {
    int wd;
    char *path;
    bool any;     /* documents were listed from it: every (not hidden) name counts */
    char **names; /* else only these */
    size_t nnames;
};

struct watch {
    pthread_mutex_t lock; /* dirs: watch_arm may run on a worker during a control reload */
    int ifd;
    int sfd;          /* signalfd, made by the first watch_wait with its signal set; -2: none */
    long debounce_ms; /* under <lock> */
    bool on;          /* reload.watch, as last armed */
    struct wdir *dirs;
    size_t ndirs;
    bool pending;          /* a change seen, not reported yet */
    struct timespec last;  /* monotonic time of its last event */
    struct timespec first; /* ... and of the first since the last report */
    char what[PATH_MAX];   /* the last changed path, for the log (an editor's temporary
                            * file comes before the name it is renamed to) */
};

struct watch *watch_new(void)
{
    int ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (ifd < 0) {
        LOG_W("watch: inotify is not available (%s): reload on SIGHUP only", strerror(errno));
        return NULL;
    }
    struct watch *w = xcalloc(1, sizeof *w);
    pthread_mutex_init(&w->lock, NULL);
    w->ifd = ifd;
    w->sfd = -1;
    return w;
}

static void wdirs_free(struct wdir *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(v[i].path);
        for (size_t j = 0; j < v[i].nnames; j++)
            free(v[i].names[j]);
        free(v[i].names);
    }
    free(v);
}

void watch_free(struct watch *w)
{
    if (!w)
        return;
    close(w->ifd);
    if (w->sfd >= 0)
        close(w->sfd);
    wdirs_free(w->dirs, w->ndirs);
    pthread_mutex_destroy(&w->lock);
    free(w);
}

/* The set being built by watch_arm. */
struct wset {
    int ifd;
    struct wdir *v;
    size_t n;
};

/* Watch directory <dir> for <name> (NULL: every name). A directory that does not exist (yet)
 * is skipped: there is nothing to reload from there. */
static void wset_add(struct wset *s, const char *dir, const char *name)
{
    int wd = inotify_add_watch(s->ifd, dir, WATCH_MASK);
    if (wd < 0) {
        LOG_D("watch: cannot watch '%s': %s", dir, strerror(errno));
        return;
    }
    struct wdir *d = NULL;
    for (size_t i = 0; i < s->n && !d; i++)
        if (s->v[i].wd == wd)
            d = &s->v[i];
    if (!d) {
        s->v = xrealloc(s->v, (s->n + 1) * sizeof *s->v);
        d = &s->v[s->n++];
        *d = (struct wdir){.wd = wd, .path = xstrdup(dir)};
    }
    if (!name) {
        d->any = true;
        return;
    }
    for (size_t i = 0; i < d->nnames; i++)
        if (str_eq(d->names[i], name))
            return;
    d->names = xrealloc(d->names, (d->nnames + 1) * sizeof *d->names);
    d->names[d->nnames++] = xstrdup(name);
}

/* Watch file <path>: its name in its directory, and, when it is a symbolic link (a mounted
 * Secret's key, a ConfigMap's file), the name it resolves to in that one's directory. */
static void wset_file(struct wset *s, const char *path)
{
    if (!path || !*path)
        return;
    char *real = realpath(path, NULL);
    const char *paths[2] = {path, real && !str_eq(real, path) ? real : NULL};
    for (int k = 0; k < 2 && paths[k]; k++) {
        const char *slash = strrchr(paths[k], '/');
        char *dir =
            slash ? xasprintf("%.*s", (int)(slash == paths[k] ? 1 : slash - paths[k]), paths[k])
                  : xstrdup(".");
        wset_add(s, dir, slash ? slash + 1 : paths[k]);
        free(dir);
    }
    free(real);
}

void watch_arm(struct watch *w, const struct runtime *rt)
{
    if (!w || !rt)
        return;
    struct wset s = {w->ifd, NULL, 0};
    const struct config *c = rt->config;
    if (!c->reload_watch)
        goto swap; /* watch nothing */
    const struct model *m = rt->model;
    for (size_t i = 0; i < m->nsources; i++) {
        if (m->sources[i].dir)
            wset_add(&s, m->sources[i].path, NULL);
        else
            wset_file(&s, m->sources[i].path);
    }
    /* binds files are read by core/secrets.c, after the loader */
    for (size_t i = 0; i < m->ncaps; i++)
        for (size_t j = 0; j < m->caps[i]->nbinds; j++) {
            const struct model_bind *b = &m->caps[i]->binds[j];
            char *err = NULL;
            char *path = b->location ? location_file(b->pos.file, b->location, false, &err) : NULL;
            wset_file(&s, path);
            free(path);
            free(err);
        }
    wset_file(&s, c->file);
    for (size_t i = 0; i < c->nconsumers; i++)
        for (size_t j = 0; j < c->consumers[i].ncredentials; j++)
            wset_file(&s, c->consumers[i].credentials[j].file);
    for (size_t i = 0; i < c->noauth_clients; i++)
        wset_file(&s, c->oauth_clients[i].secret.file);

swap:
    pthread_mutex_lock(&w->lock);
    if (w->on != c->reload_watch)
        LOG_I("watch: reload on file changes is %s (reload.watch)", c->reload_watch ? "on" : "off");
    w->on = c->reload_watch;
    w->debounce_ms = c->reload_debounce_ms;
    if (!w->on)
        w->pending = false; /* a change seen before it was turned off */
    /* Directories no longer needed: adding a watch again returned the same descriptor, so
     * only these are removed, and nothing is missed in between. */
    for (size_t i = 0; i < w->ndirs; i++) {
        bool kept = false;
        for (size_t j = 0; j < s.n && !kept; j++)
            kept = s.v[j].wd == w->dirs[i].wd;
        if (!kept)
            inotify_rm_watch(w->ifd, w->dirs[i].wd);
    }
    wdirs_free(w->dirs, w->ndirs);
    w->dirs = s.v;
    w->ndirs = s.n;
    pthread_mutex_unlock(&w->lock);
    LOG_D("watch: %zu directories", s.n);
}

/* Whether event <ev> in <d> touches something the runtime was loaded from. */
static bool relevant(const struct wdir *d, const struct inotify_event *ev)
{
    if (ev->mask & (IN_DELETE_SELF | IN_MOVE_SELF))
        return true;
    if (!ev->len || !ev->name[0])
        return false;
    const char *name = ev->name;
    if (strncmp(name, "..", 2) == 0) /* a Kubernetes volume's ..data swap */
        return true;
    if (d->any) {
        size_t n = strlen(name);
        return name[0] != '.' && name[n - 1] != '~'; /* not an editor's temporary file */
    }
    for (size_t i = 0; i < d->nnames; i++)
        if (str_eq(d->names[i], name))
            return true;
    return false;
}

/* Read every queued event; note the last relevant one. */
static void drain_events(struct watch *w)
{
    char buf[16384] __attribute__((aligned(__alignof__(struct inotify_event))));
    for (;;) {
        ssize_t n = read(w->ifd, buf, sizeof buf);
        if (n <= 0)
            return;
        pthread_mutex_lock(&w->lock);
        for (char *p = buf; p < buf + n;) {
            const struct inotify_event *ev = (const struct inotify_event *)p;
            p += sizeof *ev + ev->len;
            const struct wdir *d = NULL;
            for (size_t i = 0; i < w->ndirs && !d; i++)
                if (w->dirs[i].wd == ev->wd)
                    d = &w->dirs[i];
            bool hit = (ev->mask & IN_Q_OVERFLOW) || (d && relevant(d, ev));
            if (!hit)
                continue;
            snprintf(w->what, sizeof w->what, "%s%s%s", d ? d->path : "(overflow)",
                     ev->len ? "/" : "", ev->len ? ev->name : "");
            if (!w->pending)
                clock_mono(&w->first);
            w->pending = true;
            clock_mono(&w->last);
        }
        pthread_mutex_unlock(&w->lock);
    }
}

int watch_wait(struct watch *w, const sigset_t *set, int *sig)
{
    if (w->sfd == -1) {
        w->sfd = signalfd(-1, set, SFD_NONBLOCK | SFD_CLOEXEC);
        if (w->sfd < 0) { /* said once; -2: signals only from now on */
            LOG_E("watch: signalfd: %s: reload on SIGHUP only", strerror(errno));
            w->sfd = -2;
        }
    }
    if (w->sfd == -2)
        return sigwait(set, sig) == 0 ? 1 : -1;
    for (;;) {
        int timeout = -1;
        bool due = false;
        pthread_mutex_lock(&w->lock); /* a reload on a worker may re-arm meanwhile */
        if (w->pending) {
            /* A file rewritten without pause (a log in a watched directory) must not put the
             * reload off for ever: WATCH_MAX_DELAY_FACTOR debounces after the first change at
             * most. */
            double left = (double)w->debounce_ms - clock_ms_since(&w->last);
            double cap =
                (double)w->debounce_ms * WATCH_MAX_DELAY_FACTOR - clock_ms_since(&w->first);
            if (cap < left)
                left = cap;
            due = left <= 0;
            w->pending = !due;
            timeout = due ? 0 : (int)left + 1;
            if (due)
                LOG_I("watch: %s changed: reloading configuration and capabilities", w->what);
        }
        pthread_mutex_unlock(&w->lock);
        if (due)
            return 0;
        struct pollfd p[2] = {{.fd = w->sfd, .events = POLLIN}, {.fd = w->ifd, .events = POLLIN}};
        if (poll(p, 2, timeout) < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        if (p[0].revents & POLLIN) {
            struct signalfd_siginfo si;
            if (read(w->sfd, &si, sizeof si) == (ssize_t)sizeof si) {
                *sig = (int)si.ssi_signo;
                return 1;
            }
        }
        if (p[1].revents & POLLIN)
            drain_events(w);
    }
}
