/* Logging for code that runs inside other people's processes: one write(2) per line to stderr,
 * prefixed "[hami-core pid N] LEVEL:", no allocation, no lock, bounded (lines past a per-process
 * budget of 1000 are dropped and counted).  Level from HAMI_LOG_LEVEL (alias LIBCUDA_LOG_LEVEL):
 * error, warn (default), info, debug; a bad value keeps warn and says so once. */
#ifndef HAMI_LOG_H
#define HAMI_LOG_H

#ifdef __cplusplus
extern "C" {
#endif

enum hami_log_level { HAMI_LOG_ERROR = 0, HAMI_LOG_WARN = 1, HAMI_LOG_INFO = 2, HAMI_LOG_DEBUG = 3 };

void hami_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int hami_log_enabled(int level);

#ifdef __cplusplus
}
#endif
#endif
