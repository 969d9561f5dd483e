/*
 * Shared by the bench/c programs: declarations of the few driver calls they make (from the
 * typedefs of hami/cuda_abi.h), argument parsing, and the median of repetitions.
 */
#ifndef HAMI_BENCH_COMMON_H
#define HAMI_BENCH_COMMON_H
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hami/clock.h"
#include "hami/cuda_abi.h"

#define BENCH_DECL(name) extern __typeof__(*(name##_fn)0) name;
BENCH_DECL(cuInit)
BENCH_DECL(cuDevicePrimaryCtxRetain)
BENCH_DECL(cuCtxSetCurrent)
BENCH_DECL(cuModuleLoadData)
BENCH_DECL(cuModuleGetFunction)
BENCH_DECL(cuLaunchKernel)
BENCH_DECL(cuStreamSynchronize)
BENCH_DECL(cuMemAlloc_v2)
BENCH_DECL(cuMemFree_v2)

#define BENCH_CHECK(call)                                                                       \
    do {                                                                                       \
        CUresult r_ = (call);                                                                  \
        if (r_ != CUDA_SUCCESS) {                                                              \
            fprintf(stderr, "%s failed: %d\n", #call, (int)r_);                                \
            exit(2);                                                                           \
        }                                                                                      \
    } while (0)

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

static inline void bench_context(void)
{
    CUcontext ctx;
    BENCH_CHECK(cuInit(0));
    BENCH_CHECK(cuDevicePrimaryCtxRetain(&ctx, 0));
    BENCH_CHECK(cuCtxSetCurrent(ctx));
}
#endif
