/* Monotonic time in nanoseconds, the one clock every part of hami-core uses (region token
 * bucket, simulator virtual time, hooks).  clock_gettime(CLOCK_MONOTONIC) is a vDSO call. */
#ifndef HAMI_CLOCK_H
#define HAMI_CLOCK_H
#include <stdint.h>
#include <time.h>

static inline uint64_t hami_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Sleep until the absolute CLOCK_MONOTONIC time `deadline_ns`, resuming after signals. */
static inline void hami_sleep_until_ns(uint64_t deadline_ns)
{
    struct timespec ts;
    ts.tv_sec = (time_t)(deadline_ns / 1000000000ull);
    ts.tv_nsec = (long)(deadline_ns % 1000000000ull);
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) != 0) {
    }
}
#endif
