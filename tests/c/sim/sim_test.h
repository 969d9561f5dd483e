/*
 * Helpers shared by the simulator's C tests: a private state file per test (HAMI_SIM_STATE),
 * CHECK macros that name the failing line, a context on device 0 and the spin kernel.
 */
#ifndef HAMI_SIM_TEST_H
#define HAMI_SIM_TEST_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hami/clock.h"
#include "hami/cuda_abi.h"

#define CHECK(cond)                                                                             \
    do {                                                                                       \
        if (!(cond)) {                                                                         \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);           \
            exit(1);                                                                           \
        }                                                                                      \
    } while (0)

#define CHECK_CU(call)                                                                          \
    do {                                                                                       \
        CUresult r_ = (call);                                                                  \
        if (r_ != CUDA_SUCCESS) {                                                              \
            fprintf(stderr, "%s:%d: %s returned %d\n", __FILE__, __LINE__, #call, (int)r_);    \
            exit(1);                                                                           \
        }                                                                                      \
    } while (0)

static char sim_test_state_path[512];
static pid_t sim_test_owner;

static void sim_test_cleanup(void)
{
    if (getpid() == sim_test_owner)
        unlink(sim_test_state_path);
}

/* A fresh state for this test; `memory` (e.g. "1Gi") or NULL for the default. */
static inline void sim_test_setup(const char *name, const char *memory)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(sim_test_state_path, sizeof sim_test_state_path, "%s/hami-sim-test-%s-%d.state",
             tmp && *tmp ? tmp : "/tmp", name, (int)getpid());
    unlink(sim_test_state_path);
    setenv("HAMI_SIM_STATE", sim_test_state_path, 1);
    if (memory)
        setenv("HAMI_SIM_MEMORY", memory, 1);
    unsetenv("CUDA_VISIBLE_DEVICES");
    sim_test_owner = getpid();
    atexit(sim_test_cleanup);
}

static inline double ms_since(uint64_t t0_ns) { return (double)(hami_now_ns() - t0_ns) / 1e6; }

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
