/* Logging: level selection (names, HAMi's numeric LIBCUDA_LOG_LEVEL, bad values), the line
 * format, one write per line, and the per-process budget of 1000 lines.  Each case runs in a
 * child whose stderr is a pipe, because the level is read once per process. */
#include <stdint.h>
#include <sys/wait.h>

#include "hami/log.h"
#include "test_util.h"

/* Run `body` in a child with the given environment, return what it wrote to stderr. */
static size_t run_child(const char *hami_level, const char *libcuda_level, void (*body)(void),
                        char *out, size_t outlen)
{
    int fds[2];
    if (pipe(fds) != 0)
        exit(2);
    pid_t kid = fork();
    if (kid == 0) {
        close(fds[0]);
        dup2(fds[1], STDERR_FILENO);
        if (hami_level)
            setenv("HAMI_LOG_LEVEL", hami_level, 1);
        else
            unsetenv("HAMI_LOG_LEVEL");
        if (libcuda_level)
            setenv("LIBCUDA_LOG_LEVEL", libcuda_level, 1);
        else
            unsetenv("LIBCUDA_LOG_LEVEL");
        body();
        _exit(0);
    }
    close(fds[1]);
    size_t len = 0;
    ssize_t n;
    while ((n = read(fds[0], out + len, outlen - 1 - len)) > 0) {
        len += (size_t)n;
        if (len >= outlen - 1) {
            /* drain the rest so the child never blocks */
            char sink[4096];
            while (read(fds[0], sink, sizeof(sink)) > 0) {
            }
            break;
        }
    }
    out[len] = '\0';
    close(fds[0]);
    waitpid(kid, NULL, 0);
    return len;
}

static void all_levels(void)
{
    hami_log(HAMI_LOG_ERROR, "e-line %d", 1);
    hami_log(HAMI_LOG_WARN, "w-line");
    hami_log(HAMI_LOG_INFO, "i-line");
    hami_log(HAMI_LOG_DEBUG, "d-line");
}

static void many_lines(void)
{
    for (int i = 0; i < 1500; i++)
        hami_log(HAMI_LOG_WARN, "line %d", i);
}

static void long_line(void)
{
    char big[2000];
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    hami_log(HAMI_LOG_ERROR, "%s", big);
}

static int count_lines(const char *s)
{
    int n = 0;
    for (; *s; s++)
        n += *s == '\n';
    return n;
}

static char buf[1 << 20];

int main(void)
{
    run_child(NULL, NULL, all_levels, buf, sizeof(buf));
    CHECK(strstr(buf, "error: e-line 1\n") && strstr(buf, "warn: w-line") &&
          !strstr(buf, "i-line") && !strstr(buf, "d-line"));
    char prefix[64];
    snprintf(prefix, sizeof(prefix), "[hami-core pid ");
    CHECK(strncmp(buf, prefix, strlen(prefix)) == 0);

    run_child("debug", NULL, all_levels, buf, sizeof(buf));
    CHECK(count_lines(buf) == 4);
    run_child("ERROR", "4", all_levels, buf, sizeof(buf)); /* ours beats the alias */
    CHECK(count_lines(buf) == 1 && strstr(buf, "e-line"));
    run_child(NULL, "0", all_levels, buf, sizeof(buf)); /* HAMi's quiet: errors only */
    CHECK(count_lines(buf) == 1);
    run_child(NULL, "3", all_levels, buf, sizeof(buf));
    CHECK(count_lines(buf) == 3 && strstr(buf, "i-line") && !strstr(buf, "d-line"));
    run_child("loud", NULL, all_levels, buf, sizeof(buf));
    CHECK(count_lines(buf) == 3 && strstr(buf, "HAMI_LOG_LEVEL=loud"));

    run_child(NULL, NULL, many_lines, buf, sizeof(buf));
    CHECK(count_lines(buf) == 1000);
    CHECK(strstr(buf, "line 998\n") && !strstr(buf, "line 999\n") &&
          strstr(buf, "log budget of 1000 lines reached"));

    size_t len = run_child(NULL, NULL, long_line, buf, sizeof(buf));
    CHECK(count_lines(buf) == 1 && len <= 512 && strstr(buf, "...\n"));
    return t_summary("test_log");
}
