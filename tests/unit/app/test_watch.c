/* Unit tests for app/watch.c with real inotify on a temporary directory: which changes count (a
 * document in a listed directory, the configuration file written or renamed over, not an
 * editor's temporary file nor an unrelated name), the debounce (a burst is one report, after
 * the quiet time), reload.watch off, and a re-arm that turns it back on. The time-out is a
 * blocked SIGALRM that watch_wait reports as a signal, so nothing here can hang. */
#include "harness.h"
#include "testfs.h"
#include "testrt.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include "app/watch.h"
#include "base/clock.h"
#include "base/diag.h"
#include "spec/config.h"

static const char DOC[] = "naftiko: 1.0.0-alpha2\n"
                          "info:\n  label: watch\n"
                          "capability:\n"
                          "  consumes:\n"
                          "    - type: http\n"
                          "      namespace: api\n"
                          "      baseUri: http://127.0.0.1:1\n"
                          "      resources:\n"
                          "        - path: /items\n"
                          "          operations:\n"
                          "            - name: items\n"
                          "              method: GET\n"
                          "  exposes:\n"
                          "    - type: rest\n"
                          "      namespace: rest\n"
                          "      resources:\n"
                          "        - path: /x\n"
                          "          operations:\n"
                          "            - method: GET\n"
                          "              name: x\n"
                          "              call: api.items\n";

static sigset_t alrm;

/* watch_wait, given up after <ms> (SIGALRM): 0 a change, 1 the time-out. */
static int wait_for(struct watch *w, long ms)
{
    struct itimerval t = {{0, 0}, {ms / 1000, (ms % 1000) * 1000}};
    setitimer(ITIMER_REAL, &t, NULL);
    int sig = 0, rc;
    while ((rc = watch_wait(w, &alrm, &sig)) < 0)
        ;
    struct itimerval off = {{0, 0}, {0, 0}};
    setitimer(ITIMER_REAL, &off, NULL);
    /* a SIGALRM that fired after the change was reported: not for the next wait */
    struct timespec zero = {0, 0};
    while (sigtimedwait(&alrm, NULL, &zero) > 0)
        ;
    if (rc == 1 && sig != SIGALRM)
        fprintf(stderr, "unexpected signal %d\n", sig);
    return rc;
}

static void put(const char *rel, const char *text)
{
    testfs_put(rel, text);
}

/* A runtime from documents directory <dir>/ and configuration conf/capproxy.yaml with
 * reload.watch <on> and debounce <debounce>. */
static struct runtime *load(const char *dir, struct config *cfg, bool on, const char *debounce)
{
    char *conf = xasprintf("reload:\n  watch: %s\n  debounce: %s\n", on ? "on" : "off", debounce);
    put("conf/capproxy.yaml", conf);
    free(conf);
    char *cpath = xasprintf("%s/conf/capproxy.yaml", testfs_dir);
    char *docs = xasprintf("%s/%s", testfs_dir, dir);
    struct diag d;
    diag_init(&d);
    config_defaults(cfg);
    bool ok = config_load_file(cfg, cpath, true, &d) == 0 && config_finish(cfg, &d) == 0;
    struct model *m = model_new();
    ok = ok && loader_load_path(m, docs, &d) == 0;
    free(cpath);
    free(docs);
    return testrt_finish(m, ok, &d, cfg, false);
}

static void test_changes(void)
{
    put("docs1/a.yaml", DOC);
    struct config cfg;
    struct runtime *rt = load("docs1", &cfg, true, "50ms");
    struct watch *w = watch_new();
    CHECK(rt && w);
    if (!rt || !w)
        goto out;
    watch_arm(w, rt);
    CHECK(wait_for(w, 300) == 1); /* nothing changed */

    put("docs1/b.yaml", "x"); /* a new document in a listed directory */
    CHECK(wait_for(w, 3000) == 0);
    CHECK(wait_for(w, 300) == 1); /* reported once */

    put("docs1/.a.yaml.swp", "x"); /* editors' temporary files */
    put("docs1/a.yaml~", "x");
    CHECK(wait_for(w, 300) == 1);

    put("conf/notes.txt", "x"); /* not the configuration's name */
    CHECK(wait_for(w, 300) == 1);
    put("conf/capproxy.yaml", "reload:\n  debounce: 50ms\n");
    CHECK(wait_for(w, 3000) == 0);

    /* saved by renaming a temporary file over it */
    put("conf/.tmp-save", "reload:\n  debounce: 50ms\n");
    char *from = xasprintf("%s/conf/.tmp-save", testfs_dir);
    char *to = xasprintf("%s/conf/capproxy.yaml", testfs_dir);
    CHECK(rename(from, to) == 0);
    free(from);
    free(to);
    CHECK(wait_for(w, 3000) == 0);
out:
    watch_free(w);
    runtime_free(rt);
    config_deinit(&cfg);
}

/* Writes 30 ms apart inside a 250 ms debounce: one report, not before the quiet time. */
static void test_debounce(void)
{
    put("docs2/a.yaml", DOC);
    struct config cfg;
    struct runtime *rt = load("docs2", &cfg, true, "250ms");
    struct watch *w = watch_new();
    CHECK(rt && w);
    if (!rt || !w)
        goto out;
    watch_arm(w, rt);
    struct timespec last;
    for (int i = 0; i < 5; i++) {
        put("docs2/a.yaml", DOC);
        clock_mono(&last);
        usleep(30000);
    }
    CHECK(wait_for(w, 5000) == 0);
    double quiet = clock_ms_since(&last);
    CHECK(quiet >= 240);
    CHECK(wait_for(w, 400) == 1); /* the burst was one change */
out:
    watch_free(w);
    runtime_free(rt);
    config_deinit(&cfg);
}

/* reload.watch off watches nothing; a re-arm with it on (a reload) watches again. */
static void test_off_then_on(void)
{
    put("docs3/a.yaml", DOC);
    struct config off_cfg, on_cfg;
    struct runtime *off = load("docs3", &off_cfg, false, "50ms");
    struct runtime *on = load("docs3", &on_cfg, true, "50ms");
    struct watch *w = watch_new();
    CHECK(off && on && w);
    if (!off || !on || !w)
        goto out;
    watch_arm(w, off);
    put("docs3/c.yaml", "x");
    CHECK(wait_for(w, 400) == 1);
    watch_arm(w, on);
    put("docs3/c.yaml", "x");
    CHECK(wait_for(w, 3000) == 0);
    /* and off again: a change seen but not yet reported is dropped too */
    put("docs3/c.yaml", "x");
    usleep(20000);
    watch_arm(w, off);
    CHECK(wait_for(w, 400) == 1);
out:
    watch_free(w);
    runtime_free(off);
    runtime_free(on);
    config_deinit(&off_cfg);
    config_deinit(&on_cfg);
}

int main(void)
{
    if (testfs_open("capproxy-watch") < 0)
        return 1;
    sigemptyset(&alrm);
    sigaddset(&alrm, SIGALRM);
    sigprocmask(SIG_BLOCK, &alrm, NULL);
    RUN(test_changes());
    RUN(test_debounce());
    RUN(test_off_then_on());
    testfs_close();
    return harness_report();
}
