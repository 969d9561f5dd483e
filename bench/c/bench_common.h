/*
 * Shared by the bench/c programs, vendor-neutral: argument parsing, the median of repetitions
 * and its JSON line, and the skeleton of the throttle workloads (stop on SIGTERM/SIGINT, batch
 * size, the "ready" / "done" lines).  The vendor parts: bench_cuda.h, bench_acl.h.
 */
#ifndef HAMI_BENCH_COMMON_H
#define HAMI_BENCH_COMMON_H
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hami/clock.h"

/* Declare a library function from its typedef in hami/cuda_abi.h or hami/acl_abi.h. */
#define BENCH_DECL(name) extern __typeof__(*(name##_fn)0) name;

/* "-n N -r R": iterations per repetition and repetitions */
static inline void bench_args(int argc, char **argv, long *n, long *r)
{
    for (int i = 1; i + 1 < argc; i += 2) {
        long v = strtol(argv[i + 1], NULL, 10);
        if (v <= 0) {
            fprintf(stderr, "usage: %s [-n ITERATIONS] [-r REPETITIONS]\n", argv[0]);
            exit(2);
        }
        if (strcmp(argv[i], "-n") == 0)
            *n = v;
        else if (strcmp(argv[i], "-r") == 0)
            *r = v;
    }
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static inline double median(double *v, long n)
{
    qsort(v, (size_t)n, sizeof v[0], cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* The result line: {"bench":"<bench>","<metric>":<median of per>,"iterations":n,...}. */
static inline void bench_report(const char *bench, const char *metric, double *per, long n,
                                long reps)
{
    printf("{\"bench\":\"%s\",\"%s\":%.1f,\"iterations\":%ld,\"repetitions\":%ld}\n", bench,
           metric, median(per, reps), n, reps);
}

/* ----------------------------------------------------------------- throttle workloads -- */

#define THROTTLE_BATCH_WORK_NS 20000000ull /* ~20 ms of device work per event-bounded batch */

static volatile sig_atomic_t throttle_stop; /* set by SIGTERM / SIGINT */

static void throttle_on_signal(int sig)
{
    (void)sig;
    throttle_stop = 1;
}

/* KERNEL_NS and SECONDS of "MODE KERNEL_NS SECONDS" (argc already checked), and the stop
 * signals.  A value that is not positive: a message and exit status 2. */
static inline void throttle_args(char **argv, uint64_t *kernel_ns, double *seconds)
{
    *kernel_ns = strtoull(argv[2], NULL, 10);
    *seconds = strtod(argv[3], NULL);
    if (*kernel_ns == 0 || *seconds <= 0) {
        fprintf(stderr, "%s: KERNEL_NS and SECONDS must be positive\n", argv[0]);
        exit(2);
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = throttle_on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
}

/* Submissions per event-bounded batch, each of `unit_ns` device work. */
static inline uint64_t throttle_batch(uint64_t unit_ns)
{
    uint64_t batch = THROTTLE_BATCH_WORK_NS / unit_ns;
    return batch < 1 ? 1 : batch;
}

/* After the first submission completed (setup done). */
static inline void throttle_ready(const char *mode, uint64_t kernel_ns)
{
    printf("{\"ready\": true, \"mode\": \"%s\", \"kernel_ns\": %llu}\n", mode,
           (unsigned long long)kernel_ns);
    fflush(stdout);
}

static inline void throttle_done(uint64_t launches, uint64_t t0_ns)
{
    printf("{\"done\": true, \"launches\": %llu, \"seconds\": %.3f}\n",
           (unsigned long long)launches, (double)(hami_now_ns() - t0_ns) / 1e9);
    fflush(stdout);
}
#endif
