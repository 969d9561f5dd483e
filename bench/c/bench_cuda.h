/*
 * Shared by the CUDA bench/c programs, over bench_common.h: declarations of the driver calls
 * they all make (from the typedefs of hami/cuda_abi.h), the check, the context on device 0 and
 * the simulator's spin kernel.
 */
#ifndef HAMI_BENCH_CUDA_H
#define HAMI_BENCH_CUDA_H
#include "bench_common.h"
#include "hami/cuda_abi.h"

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

static inline void bench_context(void)
{
    CUcontext ctx;
    BENCH_CHECK(cuInit(0));
    BENCH_CHECK(cuDevicePrimaryCtxRetain(&ctx, 0));
    BENCH_CHECK(cuCtxSetCurrent(ctx));
}

/* The context, then the spin kernel (hami_sim_spin) from a module loaded from `image`. */
static inline CUfunction bench_spin_kernel(const char *image)
{
    CUmodule mod;
    CUfunction fn;
    bench_context();
    BENCH_CHECK(cuModuleLoadData(&mod, image));
    BENCH_CHECK(cuModuleGetFunction(&fn, mod, "hami_sim_spin"));
    return fn;
}
#endif
