/*
 * Owns the CUDA launch hooks: cuLaunchKernel, cuLaunchKernelEx, cuLaunchCooperativeKernel,
 * cuGraphLaunch and their per-thread-default-stream (_ptsz) variants; and the stream-capture
 * hooks (cuStreamBeginCapture[_v2][_ptsz], cuStreamEndCapture[_ptsz]) that tell the compute
 * engine when a capture may be in progress (launches into a capturing stream are not metered).
 *
 * Fast path (no device of the region compute-active): one acquire load of a process-local
 * pointer to the gate word, one relaxed load of the word (shared memory: the region's live
 * compute mask, so `hami-core set --compute` reaches a process that started uncapped, and a cap
 * lowered back to 0 sends it back here), one load of the driver's pointer, a branch and a tail
 * call -- no lock, no clock read, no device lookup.  The pointer starts at a constant 1 so the
 * first launch takes the slow path, which initialises the process state and points it at the
 * word hami_hook_compute_gate chose.
 *
 * Slow path: the launch's device (the current context's device, from a per-thread cache that
 * this thread's context switches invalidate: cuda_device.h) refuses launches with
 * CUDA_ERROR_INVALID_VALUE when its compute limit did not parse; a device whose bit is set in
 * the region's mask is metered by the compute engine (compute.h: estimate, token bucket, sampled
 * events, charge-back) around the driver's launch; any other device goes straight to the
 * driver.
 */
#include "compute.h"
#include "cuda_device.h"
#include "resolve.h"

static const uint32_t gate_uninitialised = 1;
/* The word the fast path tests (see above). */
static const uint32_t *_Atomic launch_gate = &gate_uninitialised;
/* The region's mask itself (NULL: no region), for the per-device test of the slow path. */
static const uint32_t *_Atomic launch_region_mask;

__attribute__((noinline)) static void launch_init(void)
{
    hami_hook_process_init(HAMI_VENDOR_CUDA);
    hami_resolve_library(HAMI_LIB_CUDA);
    /* Register every device in the region now, once per process: so that a cap from the
     * environment shows in the region's mask before the gate is read, and so that an operator's
     * `hami-core set --compute` finds the devices of a process that started uncapped (a device
     * is otherwise registered only when something binds it, and the fast path never does). */
    cuDeviceGetCount_fn count_fn = HAMI_REAL(cuDeviceGetCount);
    int count = 0;
    if (hami_hook_region() && count_fn && count_fn(&count) == CUDA_SUCCESS) {
        for (int i = 0; i < count && i < HAMI_MAX_DEVICES; i++)
            (void)hami_cuda_device(i);
    }
    hami_region *r = hami_hook_region();
    atomic_store_explicit(&launch_region_mask, r ? hami_region_compute_word(r) : NULL,
                          memory_order_relaxed);
    atomic_store_explicit(&launch_gate, hami_hook_compute_gate(HAMI_VENDOR_CUDA),
                          memory_order_release);
}

/* Admission on the slow path: CUDA_SUCCESS with *metered = the device to meter (NULL: straight
 * to the driver), or the code to return. */
static CUresult launch_admit(const char *api, hami_hook_device **metered)
{
    *metered = NULL;
    if (__builtin_expect(atomic_load_explicit(&launch_gate, memory_order_acquire) ==
                             &gate_uninitialised,
                         0))
        launch_init();
    const uint32_t *gate = atomic_load_explicit(&launch_gate, memory_order_acquire);
    if (__atomic_load_n(gate, __ATOMIC_RELAXED) == 0)
        return CUDA_SUCCESS; /* the cap went away since the fast path looked */
    hami_hook_device *dev = hami_cuda_current_device_cached();
    if (dev == NULL)
        return CUDA_SUCCESS;
    if (dev->refuse_launch) {
        hami_hook_log_launch_refusal(dev, api);
        return CUDA_ERROR_INVALID_VALUE;
    }
    const uint32_t *mask = atomic_load_explicit(&launch_region_mask, memory_order_relaxed);
    if (mask && (unsigned)dev->region_slot < HAMI_MAX_DEVICES &&
        ((__atomic_load_n(mask, __ATOMIC_RELAXED) >> dev->region_slot) & 1u))
        *metered = dev;
    return CUDA_SUCCESS;
}

/* The gate word is 0 and the driver's function known: the caller tail-calls it. */
#define LAUNCH_FAST_REAL(name)                                                                 \
    name##_fn real = (name##_fn)atomic_load_explicit(&hami_real_fns[HAMI_SYM_##name],          \
                                                      memory_order_relaxed);                   \
    const uint32_t *gate_word = atomic_load_explicit(&launch_gate, memory_order_acquire);      \
    int take_slow_path =                                                                       \
        __builtin_expect(__atomic_load_n(gate_word, __ATOMIC_RELAXED) != 0 || real == NULL, 0)

/* Each wrapper has an out-of-line slow path with the SAME parameters, so the fast path is a
 * frameless tail call either way (no stack arguments to shuffle for the 11-argument launch). */
#define ADMIT_THEN_CALL(name, KEY, GRID, STREAM, PTSZ, ...)                                    \
    hami_hook_device *dev;                                                                     \
    CUresult rc = launch_admit(#name, &dev);                                                   \
    if (rc != CUDA_SUCCESS)                                                                    \
        return rc;                                                                             \
    name##_fn real = HAMI_REAL(name);                                                          \
    if (!real)                                                                                 \
        return CUDA_ERROR_NOT_FOUND;                                                           \
    if (!dev)                                                                                  \
        return real(__VA_ARGS__);                                                              \
    hami_compute_ticket t;                                                                     \
    rc = hami_compute_before_launch(dev, KEY, GRID, STREAM, PTSZ, &t);                         \
    if (rc != CUDA_SUCCESS)                                                                    \
        return rc;                                                                             \
    rc = real(__VA_ARGS__);                                                                    \
    hami_compute_after_launch(&t, rc);                                                         \
    return rc;

#define DEFINE_LAUNCH_KERNEL(name, PTSZ)                                                           \
    __attribute__((noinline)) static CUresult name##_slow(                                     \
        CUfunction f, unsigned int gx, unsigned int gy, unsigned int gz, unsigned int bx,      \
        unsigned int by, unsigned int bz, unsigned int shared, CUstream stream, void **params, \
        void **extra)                                                                          \
    {                                                                                          \
        ADMIT_THEN_CALL(name, (uintptr_t)f, (uint64_t)gx * gy * gz, stream, PTSZ, f, gx, gy, gz, \
                        bx, by, bz, shared, stream, params, extra)                             \
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

#define DEFINE_LAUNCH_KERNEL_EX(name, PTSZ)                                                        \
    __attribute__((noinline)) static CUresult name##_slow(const CUlaunchConfig *config,        \
                                                          CUfunction f, void **params,         \
                                                          void **extra)                        \
    {                                                                                          \
        if (config == NULL) { /* the driver answers (invalid value) */                        \
            name##_fn direct = HAMI_REAL(name);                                                \
            return direct ? direct(config, f, params, extra) : CUDA_ERROR_NOT_FOUND;           \
        }                                                                                      \
        ADMIT_THEN_CALL(name, (uintptr_t)f,                                                    \
                        (uint64_t)config->gridDimX * config->gridDimY * config->gridDimZ,      \
                        config->hStream, PTSZ, config, f, params, extra)                       \
    }                                                                                          \
    CUresult name(const CUlaunchConfig *config, CUfunction f, void **params, void **extra)     \
    {                                                                                          \
        LAUNCH_FAST_REAL(name);                                                                \
        if (take_slow_path)                                                                    \
            real = name##_slow;                                                                \
        return real(config, f, params, extra);                                                 \
    }

#define DEFINE_LAUNCH_COOPERATIVE(name, PTSZ)                                                      \
    __attribute__((noinline)) static CUresult name##_slow(                                     \
        CUfunction f, unsigned int gx, unsigned int gy, unsigned int gz, unsigned int bx,      \
        unsigned int by, unsigned int bz, unsigned int shared, CUstream stream, void **params) \
    {                                                                                          \
        ADMIT_THEN_CALL(name, (uintptr_t)f, (uint64_t)gx * gy * gz, stream, PTSZ, f, gx, gy, gz, \
                        bx, by, bz, shared, stream, params)                                    \
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

#define DEFINE_GRAPH_LAUNCH(name, PTSZ)                                                            \
    __attribute__((noinline)) static CUresult name##_slow(CUgraphExec exec, CUstream stream)   \
    {                                                                                          \
        ADMIT_THEN_CALL(name, (uintptr_t)exec, 0, stream, PTSZ, exec, stream)                  \
    }                                                                                          \
    CUresult name(CUgraphExec exec, CUstream stream)                                           \
    {                                                                                          \
        LAUNCH_FAST_REAL(name);                                                                \
        if (take_slow_path)                                                                    \
            real = name##_slow;                                                                \
        return real(exec, stream);                                                             \
    }

DEFINE_LAUNCH_KERNEL(cuLaunchKernel, 0)
DEFINE_LAUNCH_KERNEL(cuLaunchKernel_ptsz, 1)
DEFINE_LAUNCH_KERNEL_EX(cuLaunchKernelEx, 0)
DEFINE_LAUNCH_KERNEL_EX(cuLaunchKernelEx_ptsz, 1)
DEFINE_LAUNCH_COOPERATIVE(cuLaunchCooperativeKernel, 0)
DEFINE_LAUNCH_COOPERATIVE(cuLaunchCooperativeKernel_ptsz, 1)
DEFINE_GRAPH_LAUNCH(cuGraphLaunch, 0)
DEFINE_GRAPH_LAUNCH(cuGraphLaunch_ptsz, 1)

/* ------------------------------------------------------------------ stream capture -- */

/* Pass-through hooks that keep the compute engine's count of captures in progress
 * (compute.h), so that a launch into a capturing stream is neither throttled nor counted
 * (the graph launch is), at the cost of one relaxed load per launch while no capture runs.
 *
 * begin: counted before the real call (a launch right after it sees the capture), undone when
 * the call failed.  end: the capture is over when the real end succeeded, or when it failed
 * but the stream, capturing before the call, is not any more (an invalidated capture is
 * terminated by its end); a failed end that left the capture in progress (wrong thread,
 * NULL graph pointer) keeps it counted.  Which thread began the capture does not matter: the
 * count is per process.  A driver variant that calls another through our export (the
 * simulator's cuStreamBeginCapture calls cuStreamBeginCapture_v2) is counted once. */
static __thread int capture_hook_depth __attribute__((tls_model("initial-exec")));

/* 1: capturing (active or invalidated), 0: not, -1: unknown. */
static int stream_capturing(CUstream stream)
{
    cuStreamIsCapturing_fn is_capturing = HAMI_REAL(cuStreamIsCapturing);
    CUstreamCaptureStatus status = CU_STREAM_CAPTURE_STATUS_NONE;
    if (!is_capturing || is_capturing(stream, &status) != CUDA_SUCCESS)
        return -1;
    return status != CU_STREAM_CAPTURE_STATUS_NONE;
}

#define DEFINE_BEGIN_CAPTURE(name, PARAMS, ARGS)                                               \
    CUresult name PARAMS                                                                       \
    {                                                                                          \
        name##_fn real = HAMI_REAL(name);                                                      \
        if (!real)                                                                             \
            return CUDA_ERROR_NOT_FOUND;                                                       \
        if (capture_hook_depth)                                                                \
            return real ARGS;                                                                  \
        capture_hook_depth = 1;                                                                \
        hami_compute_capture_begin();                                                          \
        CUresult rc = real ARGS;                                                               \
        if (rc != CUDA_SUCCESS)                                                                \
            hami_compute_capture_end();                                                        \
        capture_hook_depth = 0;                                                                \
        return rc;                                                                             \
    }

#define DEFINE_END_CAPTURE(name, PTSZ)                                                         \
    CUresult name(CUstream stream, CUgraph *graph)                                             \
    {                                                                                          \
        name##_fn real = HAMI_REAL(name);                                                      \
        if (!real)                                                                             \
            return CUDA_ERROR_NOT_FOUND;                                                       \
        if (capture_hook_depth)                                                                \
            return real(stream, graph);                                                        \
        capture_hook_depth = 1;                                                                \
        CUstream query = (PTSZ) && stream == NULL ? CU_STREAM_PER_THREAD : stream;             \
        int before = stream_capturing(query);                                                  \
        CUresult rc = real(stream, graph);                                                     \
        if (rc == CUDA_SUCCESS || (before == 1 && stream_capturing(query) == 0))               \
            hami_compute_capture_end();                                                        \
        capture_hook_depth = 0;                                                                \
        return rc;                                                                             \
    }

DEFINE_BEGIN_CAPTURE(cuStreamBeginCapture, (CUstream stream), (stream))
DEFINE_BEGIN_CAPTURE(cuStreamBeginCapture_ptsz, (CUstream stream), (stream))
DEFINE_BEGIN_CAPTURE(cuStreamBeginCapture_v2, (CUstream stream, CUstreamCaptureMode mode),
                     (stream, mode))
DEFINE_BEGIN_CAPTURE(cuStreamBeginCapture_v2_ptsz, (CUstream stream, CUstreamCaptureMode mode),
                     (stream, mode))
DEFINE_END_CAPTURE(cuStreamEndCapture, 0)
DEFINE_END_CAPTURE(cuStreamEndCapture_ptsz, 1)
