/*
 * Owns the CUDA launch hooks: cuLaunchKernel, cuLaunchKernelEx, cuLaunchCooperativeKernel,
 * cuGraphLaunch and their per-thread-default-stream (_ptsz) variants.
 *
 * Fast path (no compute cap configured anywhere in the process): one acquire load of a
 * process-wide gate word, one load of the driver's pointer, a branch, and a tail call -- no
 * lock, no clock read, no device lookup.  The gate starts closed (1) so the first launch takes
 * the slow path, which initialises the process state and opens the gate when the environment
 * configures no compute cap and no bad compute value.
 *
 * Slow path: the launch's device (the current context's device) refuses launches with
 * CUDA_ERROR_INVALID_VALUE when its compute limit did not parse.  Compute METERING (the token
 * bucket, hami_take_tokens) belongs to the compute-cap issue and goes in launch_admit() at the
 * marked place; nothing of it is built here.
 */
#include "cuda_device.h"
#include "resolve.h"

/* 0: launches go straight to the driver.  1: take launch_admit() first. */
static _Atomic int launch_gate = 1;

static CUresult launch_admit(const char *api)
{
    hami_hook_process_init(HAMI_VENDOR_CUDA);
    hami_resolve_library(HAMI_LIB_CUDA);
    if (!hami_hook_compute_configured(HAMI_VENDOR_CUDA)) {
        atomic_store_explicit(&launch_gate, 0, memory_order_release);
        return CUDA_SUCCESS;
    }
    hami_hook_device *dev = hami_cuda_current_device();
    if (dev && dev->refuse_launch) {
        hami_hook_log_launch_refusal(dev, api);
        return CUDA_ERROR_INVALID_VALUE;
    }
    /* COMPUTE METERING (compute-cap issue): take the launch's estimated cost from the device's
     * token bucket here (hami_take_tokens), sleeping for the deficit. */
    return CUDA_SUCCESS;
}

/* The gate is open and the driver's function known: the caller tail-calls it. */
#define LAUNCH_FAST_REAL(name)                                                                 \
    name##_fn real = (name##_fn)atomic_load_explicit(&hami_real_fns[HAMI_SYM_##name],          \
                                                      memory_order_relaxed);                   \
    int take_slow_path =                                                                       \
        __builtin_expect(atomic_load_explicit(&launch_gate, memory_order_acquire) != 0 ||      \
                             real == NULL,                                                     \
                         0)

/* Each wrapper has an out-of-line slow path with the SAME parameters, so the fast path is a
 * frameless tail call either way (no stack arguments to shuffle for the 11-argument launch). */
#define ADMIT_THEN_CALL(name, ...)                                                             \
    CUresult admit = launch_admit(#name);                                                      \
    if (admit != CUDA_SUCCESS)                                                                 \
        return admit;                                                                          \
    name##_fn real = HAMI_REAL(name);                                                          \
    return real ? real(__VA_ARGS__) : CUDA_ERROR_NOT_FOUND;

#define DEFINE_LAUNCH_KERNEL(name)                                                             \
    __attribute__((noinline)) static CUresult name##_slow(                                     \
        CUfunction f, unsigned int gx, unsigned int gy, unsigned int gz, unsigned int bx,      \
        unsigned int by, unsigned int bz, unsigned int shared, CUstream stream, void **params, \
        void **extra)                                                                          \
    {                                                                                          \
        ADMIT_THEN_CALL(name, f, gx, gy, gz, bx, by, bz, shared, stream, params, extra)        \
    }                                                                                          \
    CUresult name(CUfunction f, unsigned int gx, unsigned int gy, unsigned int gz,             \
                  unsigned int bx, unsigned int by, unsigned int bz, unsigned int shared,      \
                  CUstream stream, void **params, void **extra)                                \
    {                                                                                          \
        LAUNCH_FAST_REAL(name);                                                                \
        if (take_slow_path)                                                                    \
            real = name##_slow;                                                                \
        return real(f, gx, gy, gz, bx, by, bz, shared, stream, params, extra);                 \
    }

#define DEFINE_LAUNCH_KERNEL_EX(name)                                                          \
    __attribute__((noinline)) static CUresult name##_slow(const CUlaunchConfig *config,        \
                                                          CUfunction f, void **params,         \
                                                          void **extra)                        \
    {                                                                                          \
        ADMIT_THEN_CALL(name, config, f, params, extra)                                        \
    }                                                                                          \
    CUresult name(const CUlaunchConfig *config, CUfunction f, void **params, void **extra)     \
    {                                                                                          \
        LAUNCH_FAST_REAL(name);                                                                \
        if (take_slow_path)                                                                    \
            real = name##_slow;                                                                \
        return real(config, f, params, extra);                                                 \
    }

#define DEFINE_LAUNCH_COOPERATIVE(name)                                                        \
    __attribute__((noinline)) static CUresult name##_slow(                                     \
        CUfunction f, unsigned int gx, unsigned int gy, unsigned int gz, unsigned int bx,      \
        unsigned int by, unsigned int bz, unsigned int shared, CUstream stream, void **params) \
    {                                                                                          \
        ADMIT_THEN_CALL(name, f, gx, gy, gz, bx, by, bz, shared, stream, params)               \
    }                                                                                          \
    CUresult name(CUfunction f, unsigned int gx, unsigned int gy, unsigned int gz,             \
                  unsigned int bx, unsigned int by, unsigned int bz, unsigned int shared,      \
                  CUstream stream, void **params)                                              \
    {                                                                                          \
        LAUNCH_FAST_REAL(name);                                                                \
        if (take_slow_path)                                                                    \
            real = name##_slow;                                                                \
        return real(f, gx, gy, gz, bx, by, bz, shared, stream, params);                        \
    }

#define DEFINE_GRAPH_LAUNCH(name)                                                              \
    __attribute__((noinline)) static CUresult name##_slow(CUgraphExec exec, CUstream stream)   \
    {                                                                                          \
        ADMIT_THEN_CALL(name, exec, stream)                                                    \
    }                                                                                          \
    CUresult name(CUgraphExec exec, CUstream stream)                                           \
    {                                                                                          \
        LAUNCH_FAST_REAL(name);                                                                \
        if (take_slow_path)                                                                    \
            real = name##_slow;                                                                \
        return real(exec, stream);                                                             \
    }

DEFINE_LAUNCH_KERNEL(cuLaunchKernel)
DEFINE_LAUNCH_KERNEL(cuLaunchKernel_ptsz)
DEFINE_LAUNCH_KERNEL_EX(cuLaunchKernelEx)
DEFINE_LAUNCH_KERNEL_EX(cuLaunchKernelEx_ptsz)
DEFINE_LAUNCH_COOPERATIVE(cuLaunchCooperativeKernel)
DEFINE_LAUNCH_COOPERATIVE(cuLaunchCooperativeKernel_ptsz)
DEFINE_GRAPH_LAUNCH(cuGraphLaunch)
DEFINE_GRAPH_LAUNCH(cuGraphLaunch_ptsz)
