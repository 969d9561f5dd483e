/*
 * Helpers shared by the simulator's C tests, over ../common/sim_test_common.h (CHECK, a private
 * state file per test in HAMI_SIM_STATE, ms_since): CHECK_CU, a context on device 0 and the
 * spin kernel.
 */
#ifndef HAMI_SIM_TEST_H
#define HAMI_SIM_TEST_H

#include <stdlib.h>

#include "../common/sim_test_common.h"
#include "hami/cuda_abi.h"

#define CHECK_CU(call)                                                                          \
    do {                                                                                       \
        CUresult r_ = (call);                                                                  \
        if (r_ != CUDA_SUCCESS) {                                                              \
            fprintf(stderr, "%s:%d: %s returned %d\n", __FILE__, __LINE__, #call, (int)r_);    \
            exit(1);                                                                           \
        }                                                                                      \
    } while (0)

/* A fresh state for this test; `memory` (e.g. "1Gi") or NULL for the default. */
static inline void sim_test_setup(const char *name, const char *memory)
{
    sim_test_state_file("hami-sim-test", name);
    if (memory)
        setenv("HAMI_SIM_MEMORY", memory, 1);
    unsetenv("CUDA_VISIBLE_DEVICES");
}

#ifndef SIM_TEST_NO_LINK /* helpers for tests linked against libcuda.so.1 */
#include "cuda_decls.h"

static inline CUfunction sim_test_init_spin(void)
{
    CUcontext ctx;
    CUmodule mod;
    CUfunction fn;
    CHECK_CU(cuInit(0));
    CHECK_CU(cuDevicePrimaryCtxRetain(&ctx, 0));
    CHECK_CU(cuCtxSetCurrent(ctx));
    CHECK_CU(cuModuleLoadData(&mod, "any image"));
    CHECK_CU(cuModuleGetFunction(&fn, mod, "hami_sim_spin"));
    return fn;
}

static inline CUresult sim_test_spin(CUfunction fn, CUstream s, uint64_t ns)
{
    void *params[] = {&ns};
    return cuLaunchKernel(fn, 1, 1, 1, 1, 1, 1, 0, s, params, NULL);
}
#endif
#endif
