/*
 * Small helpers private to the core (csrc/core): not part of the public headers in
 * csrc/include/hami.
 */
#ifndef HAMI_CORE_UTIL_H
#define HAMI_CORE_UTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

/* printf into a caller's one-line error buffer; nothing when err is NULL or errlen is 0. */
static inline void set_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static inline void set_err(char *err, size_t errlen, const char *fmt, ...)
{
    if (err == NULL || errlen == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

#endif
