/*
 * testfs: a temporary directory of files, for the unit tests that load documents, imports and
 * bind files from disk. One per test program: testfs_open, testfs_put..., testfs_close.
 */
#ifndef CAPPROXY_TESTFS_H
#define CAPPROXY_TESTFS_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/util.h"

static char testfs_dir[64];

/* Create the directory /tmp/<prefix>-XXXXXX; 0, or -1 (reported). */
static inline int testfs_open(const char *prefix)
{
    snprintf(testfs_dir, sizeof testfs_dir, "/tmp/%s-XXXXXX", prefix);
    if (!mkdtemp(testfs_dir)) {
        perror("mkdtemp");
        return -1;
    }
    return 0;
}

/* Write <text> to <rel> under the directory, creating the directories on the way. */
static inline void testfs_put(const char *rel, const char *text)
{
    char *path = xasprintf("%s/%s", testfs_dir, rel);
    for (char *slash = strchr(path + strlen(testfs_dir) + 1, '/'); slash;
         slash = strchr(slash + 1, '/')) {
        *slash = '\0';
        mkdir(path, 0700);
        *slash = '/';
    }
    FILE *fp = fopen(path, "w");
    if (fp) {
        fputs(text, fp);
        fclose(fp);
    }
    free(path);
}

/* Remove the directory and everything in it. */
static inline void testfs_close(void)
{
    char *cmd = xasprintf("rm -rf '%s'", testfs_dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", testfs_dir);
    free(cmd);
}

#endif
