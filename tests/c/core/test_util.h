/* Minimal helpers shared by the core C tests (tests/c/core): a check that records failures
 * with the line, a summary, and a scratch directory for region files. */
#ifndef HAMI_TEST_UTIL_H
#define HAMI_TEST_UTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int t_passed, t_failed;

static inline int t_check(int ok, const char *what, const char *file, int line)
{
    if (ok) {
        t_passed++;
    } else {
        t_failed++;
        fprintf(stderr, "FAIL %s:%d: %s\n", file, line, what);
    }
    return ok;
}
#define CHECK(cond) t_check((cond) != 0, #cond, __FILE__, __LINE__)

static inline int t_summary(const char *name)
{
    printf("%s: %d passed, %d failed\n", name, t_passed, t_failed);
    return t_failed == 0 ? 0 : 1;
}

/* A fresh directory for this test's files; removed by t_cleanup_dir. */
static char t_dir[256];
static inline const char *t_make_dir(void)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(t_dir, sizeof(t_dir), "%s/hami-core-test-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    setvbuf(stdout, NULL, _IOLBF, 0); /* forked children must not inherit unflushed output */
    if (mkdtemp(t_dir) == NULL) {
        perror("mkdtemp");
        exit(2);
    }
    return t_dir;
}
static inline void t_cleanup_dir(void)
{
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", t_dir);
    if (system(cmd) != 0)
        fprintf(stderr, "warning: could not remove %s\n", t_dir);
}
#endif
