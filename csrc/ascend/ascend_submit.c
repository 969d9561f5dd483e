/*
 * Owns the Ascend submission hooks: every path that puts work on an NPU, at both layers, so the
 * compute metering (issue 5 item 3, another engineer's engine) has one place per submission:
 *   ACL:      aclrtLaunchKernel, aclrtLaunchKernelWithHostArgs, aclopExecuteV2,
 *             aclopCompileAndExecute, aclmdlExecute, aclmdlExecuteAsync
 *   runtime:  rtKernelLaunch, rtKernelLaunchWithHandleV2, rtLaunchKernelByFuncHandleV3,
 *             rtsLaunchKernelWithHostArgs, rtModelExecute
 * Each submission is seen once: an acl* wrapper runs the real ACL call under the SUBMIT guard
 * (ascend_guard.h), and the rt* call it descends into (aclrtLaunchKernel ->
 * rtLaunchKernelByFuncHandleV3, aclrtLaunchKernelWithHostArgs -> rtsLaunchKernelWithHostArgs,
 * aclmdlExecute -> rtModelExecute, ...) passes straight through.
 *
 * Fast path (no device of the region compute-active): an acquire load of a process-local
 * pointer to the gate word, a relaxed load of that word (the region's live compute mask in
 * shared memory, so `hami-core set --compute` reaches running processes both ways), one load
 * of the real pointer, a branch and a tail call -- no TLS, no lock, no clock, no device lookup.
 * The pointer starts at a constant 1 so the first submission takes the slow path, which
 * initialises the process state and points it at hami_hook_compute_gate's word.  While the
 * word is 0 the guard is not needed: neither layer does anything.
 *
 * Slow path: the submission's device (the thread's current device, from a per-thread cache
 * that the thread's own device and context switches drop: ascend_device.h) refuses work when
 * its compute limit did not parse (NPU_PRIORITY=150, HAMI_COMPUTE_LIMIT=abc: fail closed,
 * never silently unlimited) with the layer's invalid-parameter code: ACL_ERROR_INVALID_PARAM (100000) from
 * acl*, ACL_ERROR_RT_PARAM_INVALID (107000) from rt*.  A device whose region bit is set is
 * metered by the compute engine (../cuda/compute.h, vendor HAMI_VENDOR_ASCEND: estimate, the
 * same shared token bucket, sampled ACL events -- runtime events when only libruntime.so is
 * loaded --, charge-back) around the real call.  Cost keys: the function handle
 * (aclrtLaunchKernel*, rt*Launch*: stubFunc / hdl / funcHandle), a hash of the op type's TEXT
 * (aclop*: applications build the opType string anew for each call, so its pointer is not a
 * stable identity), the model id (aclmdlExecute*, rtModelExecute: the model handle).
 * aclmdlExecute is synchronous and takes no stream: it is metered with events on the default
 * stream (NULL: the current context's default stream, where ACL runs it), like every other
 * path, rather than by the call's wall time, which would also count work other threads queued
 * on that stream.  The SUBMIT guard makes every submission metered once: an acl* wrapper meters
 * and the rt* call it descends to passes through; an acl* call made inside another acl* call
 * (aclmdlExecute -> aclmdlExecuteAsync in some builds) passes through too.
 */
#include <string.h>

#include "../cuda/compute.h"
#include "../cuda/resolve.h"
#include "ascend_device.h"
#include "ascend_guard.h"

static const uint32_t gate_uninitialised = 1;
static const uint32_t *_Atomic submit_gate = &gate_uninitialised;
static const uint32_t *_Atomic submit_region_mask;

__attribute__((noinline)) static void submit_init(void)
{
    hami_hook_process_init(HAMI_VENDOR_ASCEND);
    /* Register every device in the region once per process (see launch.c: the environment's
     * cap must show in the mask before the gate is read; `set` must find the devices). */
    if (hami_hook_region()) {
        /* the runtime's count (ACL loads the runtime; its logical ids are ACL's) */
        int32_t count = 0;
        rtGetDeviceCount_fn rt_count = HAMI_REAL(rtGetDeviceCount);
        if (!rt_count || rt_count(&count) != RT_ERROR_NONE)
            count = 0;
        for (int32_t i = 0; i < count && i < HAMI_MAX_DEVICES; i++)
            (void)hami_ascend_device(i);
    }
    hami_region *r = hami_hook_region();
    atomic_store_explicit(&submit_region_mask, r ? hami_region_compute_word(r) : NULL,
                          memory_order_relaxed);
    atomic_store_explicit(&submit_gate, hami_hook_compute_gate(HAMI_VENDOR_ASCEND),
                          memory_order_release);
}

/* Admission of one submission on the calling thread's current device: 0 (ACL_SUCCESS /
 * RT_ERROR_NONE) to go on, else the code to return; *metered = the device to meter or NULL. */
static int submit_admit(const char *api, int layer, hami_hook_device **metered)
{
    *metered = NULL;
    if (__builtin_expect(atomic_load_explicit(&submit_gate, memory_order_acquire) ==
                             &gate_uninitialised,
                         0))
        submit_init();
    const uint32_t *gate = atomic_load_explicit(&submit_gate, memory_order_acquire);
    if (__atomic_load_n(gate, __ATOMIC_RELAXED) == 0)
        return ACL_SUCCESS;
    hami_hook_device *dev = hami_ascend_current_device_cached(layer);
    if (dev == NULL)
        return ACL_SUCCESS;
    if (dev->refuse_launch) {
        hami_hook_log_launch_refusal(dev, api);
        return layer == HAMI_ASCEND_LAYER_ACL ? HAMI_ACL_REFUSED : HAMI_RT_REFUSED;
    }
    const uint32_t *mask = atomic_load_explicit(&submit_region_mask, memory_order_relaxed);
    if (mask && (unsigned)dev->region_slot < HAMI_MAX_DEVICES &&
        ((__atomic_load_n(mask, __ATOMIC_RELAXED) >> dev->region_slot) & 1u))
        *metered = dev;
    return ACL_SUCCESS;
}

static inline void meter_begin(hami_hook_device *dev, uintptr_t key, uint64_t blocks,
                               void *stream, hami_compute_ticket *t)
{
    hami_compute_admit_vendor(HAMI_VENDOR_ASCEND, hami_hook_region(), dev->region_slot,
                              hami_hook_proc_slot(), key, blocks, stream, 0, t);
}

static inline void meter_end(hami_compute_ticket *t, int ok)
{
    if (t->region != NULL)
        hami_compute_complete_vendor(t, ok);
}

/* Cost key of an op type: a hash of its text (at most 128 bytes), never 0.  Eight bytes per
 * step (strnlen is vectorised; the tail is read with memcpy, never past the terminator): a
 * byte-wise FNV cost ~5 instructions per character, 100-300 for the op names frameworks use,
 * on every aclop* submission.  The engine mixes the key again (compute.c make_key), so one
 * multiply-xorshift round per word is enough to keep distinct names apart. */
static uintptr_t op_key(const char *op_type)
{
    if (op_type == NULL)
        return 1;
    size_t n = strnlen(op_type, 128);
    uint64_t h = 0xcbf29ce484222325ull ^ n;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, op_type + i, 8);
        h = (h ^ w) * 0x9e3779b97f4a7c15ull;
        h ^= h >> 29;
    }
    if (i < n) {
        uint64_t w = 0;
        memcpy(&w, op_type + i, n - i);
        h = (h ^ w) * 0x9e3779b97f4a7c15ull;
        h ^= h >> 29;
    }
    return (uintptr_t)(h | 1);
}

/* The word is 0 and the library's function known: the caller tail-calls it. */
#define SUBMIT_FAST_REAL(name)                                                                 \
    name##_fn real = (name##_fn)atomic_load_explicit(&hami_real_fns[HAMI_SYM_##name],          \
                                                      memory_order_relaxed);                   \
    const uint32_t *gate_word = atomic_load_explicit(&submit_gate, memory_order_acquire);      \
    if (__builtin_expect(__atomic_load_n(gate_word, __ATOMIC_RELAXED) != 0 || real == NULL, 0)) \
    real = name##_slow

/* The rt* form: with the word set, a call made under an acl* submission wrapper (the descent
 * of every ACL submission into the runtime) still tail-calls the runtime at once -- the guard
 * test is one initial-exec TLS load, made only when a cap is active -- instead of paying the
 * slow path's call frame and resolution check a second time per submission. */
#define SUBMIT_RT_FAST_REAL(name)                                                              \
    name##_fn real = (name##_fn)atomic_load_explicit(&hami_real_fns[HAMI_SYM_##name],          \
                                                      memory_order_relaxed);                   \
    const uint32_t *gate_word = atomic_load_explicit(&submit_gate, memory_order_acquire);      \
    if (__builtin_expect(__atomic_load_n(gate_word, __ATOMIC_RELAXED) != 0 || real == NULL, 0) \
        && (real == NULL || !hami_ascend_guarded(HAMI_ASCEND_GUARD_SUBMIT)))                   \
    real = name##_slow

/* An acl* submission.  The slow path has the SAME parameters as the wrapper, so the fast path
 * is a frameless tail call either way.  KEY/BLOCKS/STREAM: the metering of this path. */
#define DEFINE_ACL_SUBMIT(name, params, args, KEY, BLOCKS, STREAM)                             \
    __attribute__((noinline)) static aclError name##_slow params                               \
    {                                                                                          \
        name##_fn real = HAMI_REAL(name);                                                      \
        if (!real)                                                                             \
            return HAMI_ACL_NO_LIBRARY;                                                        \
        if (hami_ascend_guarded(HAMI_ASCEND_GUARD_SUBMIT))                                     \
            return real args; /* inside another acl* submission: metered there */            \
        hami_hook_device *dev;                                                                 \
        aclError admit = submit_admit(#name, HAMI_ASCEND_LAYER_ACL, &dev);                     \
        if (admit != ACL_SUCCESS)                                                              \
            return admit;                                                                      \
        hami_compute_ticket t;                                                                 \
        t.region = NULL;                                                                       \
        if (dev)                                                                               \
            meter_begin(dev, KEY, BLOCKS, STREAM, &t);                                         \
        unsigned guard = hami_ascend_guard_enter(HAMI_ASCEND_GUARD_SUBMIT);                    \
        aclError rc = real args;                                                               \
        hami_ascend_guard_leave(guard);                                                        \
        meter_end(&t, rc == ACL_SUCCESS);                                                      \
        return rc;                                                                             \
    }                                                                                          \
    aclError name params                                                                       \
    {                                                                                          \
        SUBMIT_FAST_REAL(name);                                                                \
        return real args;                                                                      \
    }

/* An rt* submission: metered only when no acl* submission wrapper is active on this thread. */
#define DEFINE_RT_SUBMIT(name, params, args, KEY, BLOCKS, STREAM)                              \
    __attribute__((noinline)) static rtError_t name##_slow params                              \
    {                                                                                          \
        name##_fn real = HAMI_REAL(name);                                                      \
        if (!real)                                                                             \
            return HAMI_RT_NO_LIBRARY;                                                         \
        if (hami_ascend_guarded(HAMI_ASCEND_GUARD_SUBMIT))                                     \
            return real args; /* seen by the acl* wrapper */                                   \
        hami_hook_device *dev;                                                                 \
        rtError_t admit = submit_admit(#name, HAMI_ASCEND_LAYER_RT, &dev);                     \
        if (admit != RT_ERROR_NONE)                                                            \
            return admit;                                                                      \
        if (!dev)                                                                              \
            return real args;                                                                  \
        hami_compute_ticket t;                                                                 \
        meter_begin(dev, KEY, BLOCKS, STREAM, &t);                                             \
        rtError_t rc = real args;                                                              \
        meter_end(&t, rc == RT_ERROR_NONE);                                                    \
        return rc;                                                                             \
    }                                                                                          \
    rtError_t name params                                                                      \
    {                                                                                          \
        SUBMIT_RT_FAST_REAL(name);                                                             \
        return real args;                                                                      \
    }

/* ----------------------------------------------------------------- ACL -- */

DEFINE_ACL_SUBMIT(aclrtLaunchKernel,
                  (aclrtFuncHandle funcHandle, uint32_t numBlocks, const void *argsData,
                   size_t argsSize, aclrtStream stream),
                  (funcHandle, numBlocks, argsData, argsSize, stream), (uintptr_t)funcHandle,
                  numBlocks, stream)

DEFINE_ACL_SUBMIT(aclrtLaunchKernelWithHostArgs,
                  (aclrtFuncHandle funcHandle, uint32_t numBlocks, aclrtStream stream,
                   aclrtLaunchKernelCfg *cfg, void *hostArgs, size_t argsSize,
                   aclrtPlaceHolderInfo *placeHolderArray, size_t placeHolderNum),
                  (funcHandle, numBlocks, stream, cfg, hostArgs, argsSize, placeHolderArray,
                   placeHolderNum),
                  (uintptr_t)funcHandle, numBlocks, stream)

DEFINE_ACL_SUBMIT(aclopExecuteV2,
                  (const char *opType, int numInputs, aclTensorDesc *inputDesc[],
                   aclDataBuffer *inputs[], int numOutputs, aclTensorDesc *outputDesc[],
                   aclDataBuffer *outputs[], aclopAttr *attr, aclrtStream stream),
                  (opType, numInputs, inputDesc, inputs, numOutputs, outputDesc, outputs, attr,
                   stream),
                  op_key(opType), 0, stream)

DEFINE_ACL_SUBMIT(aclopCompileAndExecute,
                  (const char *opType, int numInputs, const aclTensorDesc *const inputDesc[],
                   const aclDataBuffer *const inputs[], int numOutputs,
                   const aclTensorDesc *const outputDesc[], aclDataBuffer *const outputs[],
                   const aclopAttr *attr, aclopEngineType engineType,
                   aclopCompileType compileFlag, const char *opPath, aclrtStream stream),
                  (opType, numInputs, inputDesc, inputs, numOutputs, outputDesc, outputs, attr,
                   engineType, compileFlag, opPath, stream),
                  op_key(opType), 0, stream)

DEFINE_ACL_SUBMIT(aclmdlExecute,
                  (uint32_t modelId, const aclmdlDataset *input, aclmdlDataset *output),
                  (modelId, input, output), (uintptr_t)modelId + 1, 0, NULL)

DEFINE_ACL_SUBMIT(aclmdlExecuteAsync,
                  (uint32_t modelId, const aclmdlDataset *input, aclmdlDataset *output,
                   aclrtStream stream),
                  (modelId, input, output, stream), (uintptr_t)modelId + 1, 0, stream)

/* ----------------------------------------------------------------- runtime -- */

DEFINE_RT_SUBMIT(rtKernelLaunch,
                 (const void *stubFunc, uint32_t blockDim, void *args, uint32_t argsSize,
                  rtSmDesc_t *smDesc, rtStream_t stream),
                 (stubFunc, blockDim, args, argsSize, smDesc, stream), (uintptr_t)stubFunc,
                 blockDim, stream)

DEFINE_RT_SUBMIT(rtKernelLaunchWithHandleV2,
                 (void *hdl, uint64_t tilingKey, uint32_t blockDim, rtArgsEx_t *argsInfo,
                  rtSmDesc_t *smDesc, rtStream_t stream, const rtTaskCfgInfo_t *cfgInfo),
                 (hdl, tilingKey, blockDim, argsInfo, smDesc, stream, cfgInfo),
                 (uintptr_t)hdl ^ (uintptr_t)(tilingKey * 0x9e3779b97f4a7c15ull), blockDim, stream)

DEFINE_RT_SUBMIT(rtLaunchKernelByFuncHandleV3,
                 (rtFuncHandle funcHandle, uint32_t blockDim, const rtArgsEx_t *argsInfo,
                  rtStream_t stream, const rtTaskCfgInfo_t *cfgInfo),
                 (funcHandle, blockDim, argsInfo, stream, cfgInfo), (uintptr_t)funcHandle,
                 blockDim, stream)

DEFINE_RT_SUBMIT(rtsLaunchKernelWithHostArgs,
                 (rtFuncHandle funcHandle, uint32_t blockDim, rtStream_t stream,
                  rtKernelLaunchCfg_t *cfg, void *hostArgs, uint32_t argsSize,
                  rtPlaceHolderInfo_t *placeHolderArray, uint32_t placeHolderNum),
                 (funcHandle, blockDim, stream, cfg, hostArgs, argsSize, placeHolderArray,
                  placeHolderNum),
                 (uintptr_t)funcHandle, blockDim, stream)

DEFINE_RT_SUBMIT(rtModelExecute, (rtModel_t model, rtStream_t stream, uint32_t flag),
                 (model, stream, flag), (uintptr_t)model, 0, stream)
