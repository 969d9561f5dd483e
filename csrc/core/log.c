/*
 * Logging for code that runs inside other people's processes (csrc/core/log.c owns it).
 * One write(2) per line to stderr, "[hami-core pid N] LEVEL: message\n", formatted with
 * vsnprintf into a stack buffer (no allocation, no lock, no stdio stream), lines longer than
 * the buffer are cut and end with "...".
 *
 * Level: HAMI_LOG_LEVEL, else LIBCUDA_LOG_LEVEL, read once at the first call.  Names: error,
 * warn (or warning), info, debug, case-insensitive.  Numbers use HAMi-core's LIBCUDA_LOG_LEVEL
 * scale, in either variable: 0 and 1 -> error (HAMi's 0 means "quiet"; our errors are the
 * refusals an operator must see, so they stay), 2 -> warn, 3 -> info, 4 and above -> debug.
 * Anything else keeps warn and says so once.
 *
 * Budget: 1000 lines per process (a forked child starts a fresh budget); past it lines are
 * dropped and counted, and one final line says logging stopped.
 */
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "hami/log.h"

#define LOG_LINE_MAX 512
#define LOG_BUDGET_LINES 1000u
#define LEVEL_UNSET (-1)

static _Atomic int g_level = LEVEL_UNSET;
static _Atomic int g_bad_level_reported = 0;
/* (pid << 32) | lines written by that pid: a fork resets the count for the child. */
static _Atomic uint64_t g_budget = 0;
static _Atomic uint64_t g_dropped = 0;

static const char *const level_names[] = {"error", "warn", "info", "debug"};

/* Level from one variable's value; -1 when it does not parse. */
static int parse_level(const char *v)
{
    if (strcasecmp(v, "error") == 0)
        return HAMI_LOG_ERROR;
    if (strcasecmp(v, "warn") == 0 || strcasecmp(v, "warning") == 0)
        return HAMI_LOG_WARN;
    if (strcasecmp(v, "info") == 0)
        return HAMI_LOG_INFO;
    if (strcasecmp(v, "debug") == 0)
        return HAMI_LOG_DEBUG;
    if (v[0] >= '0' && v[0] <= '9') {
        char *end = NULL;
        long n = strtol(v, &end, 10);
        if (*end != '\0')
            return -1;
        if (n <= 1)
            return HAMI_LOG_ERROR;
        if (n == 2)
            return HAMI_LOG_WARN;
        if (n == 3)
            return HAMI_LOG_INFO;
        return HAMI_LOG_DEBUG;
    }
    return -1;
}

static void write_line(const char *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = write(STDERR_FILENO, buf, len);
        if (n <= 0)
            return; /* stderr closed or full: nothing useful to do */
        buf += n;
        len -= (size_t)n;
    }
}

static void emit(int level, const char *fmt, va_list ap)
{
    char buf[LOG_LINE_MAX];
    int head = snprintf(buf, sizeof(buf), "[hami-core pid %d] %s: ", (int)getpid(),
                        level_names[level]);
    if (head < 0)
        return;
    size_t room = sizeof(buf) - (size_t)head - 1; /* keep one byte for '\n' */
    int body = vsnprintf(buf + head, room + 1, fmt, ap);
    if (body < 0)
        return;
    size_t len = (size_t)head + ((size_t)body < room ? (size_t)body : room);
    if ((size_t)body > room)
        memcpy(buf + len - 3, "...", 3);
    buf[len++] = '\n';
    write_line(buf, len);
}

static void emit_fmt(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void emit_fmt(int level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    emit(level, fmt, ap);
    va_end(ap);
}

static int current_level(void)
{
    int level = atomic_load_explicit(&g_level, memory_order_acquire);
    if (level != LEVEL_UNSET)
        return level;
    const char *name = "HAMI_LOG_LEVEL";
    const char *v = getenv(name);
    if (v == NULL || v[0] == '\0') {
        name = "LIBCUDA_LOG_LEVEL";
        v = getenv(name);
    }
    level = HAMI_LOG_WARN;
    int bad = 0;
    if (v != NULL && v[0] != '\0') {
        int parsed = parse_level(v);
        if (parsed < 0)
            bad = 1;
        else
            level = parsed;
    }
    /* Racing first callers compute the same value; the store is idempotent. */
    atomic_store_explicit(&g_level, level, memory_order_release);
    if (bad && atomic_exchange(&g_bad_level_reported, 1) == 0)
        emit_fmt(HAMI_LOG_WARN, "%s=%s is not a log level (error, warn, info, debug or 0-4); "
                                "using warn", name, v);
    return level;
}

int hami_log_enabled(int level)
{
    if (level < HAMI_LOG_ERROR || level > HAMI_LOG_DEBUG)
        return 0;
    return level <= current_level();
}

/* Take one line from this process's budget: 1 = may write, 0 = dropped.  The line that
 * exhausts the budget is replaced by a notice. */
static int take_budget(int *is_last)
{
    uint64_t me = (uint64_t)(uint32_t)getpid() << 32;
    uint64_t cur = atomic_load_explicit(&g_budget, memory_order_relaxed);
    for (;;) {
        uint64_t used = (cur & ~0xffffffffull) == me ? (cur & 0xffffffffull) : 0;
        if (used >= LOG_BUDGET_LINES) {
            atomic_fetch_add_explicit(&g_dropped, 1, memory_order_relaxed);
            return 0;
        }
        if (atomic_compare_exchange_weak_explicit(&g_budget, &cur, me | (used + 1),
                                                  memory_order_relaxed, memory_order_relaxed)) {
            *is_last = used + 1 == LOG_BUDGET_LINES;
            return 1;
        }
    }
}

void hami_log(int level, const char *fmt, ...)
{
    if (fmt == NULL || !hami_log_enabled(level))
        return;
    int is_last = 0;
    if (!take_budget(&is_last))
        return;
    if (is_last) {
        emit_fmt(HAMI_LOG_WARN, "log budget of %u lines reached: further lines are dropped",
                 LOG_BUDGET_LINES);
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    emit(level, fmt, ap);
    va_end(ap);
}
