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
 * Fast path (no compute cap and no bad compute value configured for Ascend devices): one
 * acquire load of a process-wide gate word, one load of the real pointer, a branch and a tail
 * call -- no TLS, no lock, no clock, no device lookup.  The gate starts closed (1) so the first
 * submission takes the slow path, which initialises the process state and opens the gate when
 * nothing is configured.  With the gate open the guard is not needed: neither layer does
 * anything.
 *
 * Slow path: the submission's device (the thread's current device) refuses work when its compute
 * limit did not parse (NPU_PRIORITY=150, HAMI_COMPUTE_LIMIT=abc: fail closed, never silently
 * unlimited) with the layer's invalid-parameter code: ACL_ERROR_INVALID_PARAM (100000) from
 * acl*, ACL_ERROR_RT_PARAM_INVALID (107000) from rt*.  Compute METERING goes in submit_admit()
 * and after the real call, at the places marked; nothing of it is built here.
 */
#include "../cuda/resolve.h"
#include "ascend_device.h"
#include "ascend_guard.h"

/* 0: submissions go straight to the library.  1: take submit_admit() first. */
static _Atomic int submit_gate = 1;

/* Admission of one submission on the calling thread's current device: 0 (ACL_SUCCESS /
 * RT_ERROR_NONE) to go on, else the code to return. */
static int submit_admit(const char *api, int layer)
{
    hami_hook_process_init(HAMI_VENDOR_ASCEND);
    if (!hami_hook_compute_configured(HAMI_VENDOR_ASCEND)) {
        atomic_store_explicit(&submit_gate, 0, memory_order_release);
        return ACL_SUCCESS;
    }
    hami_hook_device *dev = hami_ascend_current_device(layer);
    if (dev && dev->refuse_launch) {
        hami_hook_log_launch_refusal(dev, api);
        return layer == HAMI_ASCEND_LAYER_ACL ? HAMI_ACL_REFUSED : HAMI_RT_REFUSED;
    }
    /* COMPUTE METERING (issue 5 item 3): take the submission's estimated cost from the
     * device's token bucket here (hami_take_tokens on dev->region_slot), sleeping for the
     * deficit; sample it with a pair of ACL events (aclrtRecordEvent on its stream) to charge
     * back the measured device time after the real call below. */
    return ACL_SUCCESS;
}

/* The gate is open and the library's function known: the caller tail-calls it. */
#define SUBMIT_FAST_REAL(name)                                                                 \
    name##_fn real = (name##_fn)atomic_load_explicit(&hami_real_fns[HAMI_SYM_##name],          \
                                                      memory_order_relaxed);                   \
    if (__builtin_expect(atomic_load_explicit(&submit_gate, memory_order_acquire) != 0 ||      \
                             real == NULL,                                                     \
                         0))                                                                   \
    real = name##_slow

/* An acl* submission.  The slow path has the SAME parameters as the wrapper, so the fast path
 * is a frameless tail call either way. */
#define DEFINE_ACL_SUBMIT(name, params, args)                                                  \
    __attribute__((noinline)) static aclError name##_slow params                               \
    {                                                                                          \
        aclError admit = submit_admit(#name, HAMI_ASCEND_LAYER_ACL);                           \
        if (admit != ACL_SUCCESS)                                                              \
            return admit;                                                                      \
        name##_fn real = HAMI_REAL(name);                                                      \
        if (!real)                                                                             \
            return HAMI_ACL_NO_LIBRARY;                                                        \
        unsigned guard = hami_ascend_guard_enter(HAMI_ASCEND_GUARD_SUBMIT);                    \
        aclError rc = real args;                                                               \
        hami_ascend_guard_leave(guard);                                                        \
        /* COMPUTE METERING: complete the admission here (refund on rc != ACL_SUCCESS). */     \
        return rc;                                                                             \
    }                                                                                          \
    aclError name params                                                                       \
    {                                                                                          \
        SUBMIT_FAST_REAL(name);                                                                \
        return real args;                                                                      \
    }

/* An rt* submission: counted only when no acl* submission wrapper is active on this thread. */
#define DEFINE_RT_SUBMIT(name, params, args)                                                   \
    __attribute__((noinline)) static rtError_t name##_slow params                              \
    {                                                                                          \
        name##_fn real = HAMI_REAL(name);                                                      \
        if (!real)                                                                             \
            return HAMI_RT_NO_LIBRARY;                                                         \
        if (hami_ascend_guarded(HAMI_ASCEND_GUARD_SUBMIT))                                     \
            return real args; /* seen by the acl* wrapper */                                   \
        rtError_t admit = submit_admit(#name, HAMI_ASCEND_LAYER_RT);                           \
        if (admit != RT_ERROR_NONE)                                                            \
            return admit;                                                                      \
        rtError_t rc = real args;                                                              \
        /* COMPUTE METERING: complete the admission here (refund on rc != RT_ERROR_NONE). */   \
        return rc;                                                                             \
    }                                                                                          \
    rtError_t name params                                                                      \
    {                                                                                          \
        SUBMIT_FAST_REAL(name);                                                                \
        return real args;                                                                      \
    }

/* ----------------------------------------------------------------- ACL -- */

DEFINE_ACL_SUBMIT(aclrtLaunchKernel,
                  (aclrtFuncHandle funcHandle, uint32_t numBlocks, const void *argsData,
                   size_t argsSize, aclrtStream stream),
                  (funcHandle, numBlocks, argsData, argsSize, stream))

DEFINE_ACL_SUBMIT(aclrtLaunchKernelWithHostArgs,
                  (aclrtFuncHandle funcHandle, uint32_t numBlocks, aclrtStream stream,
                   aclrtLaunchKernelCfg *cfg, void *hostArgs, size_t argsSize,
                   aclrtPlaceHolderInfo *placeHolderArray, size_t placeHolderNum),
                  (funcHandle, numBlocks, stream, cfg, hostArgs, argsSize, placeHolderArray,
                   placeHolderNum))

DEFINE_ACL_SUBMIT(aclopExecuteV2,
                  (const char *opType, int numInputs, aclTensorDesc *inputDesc[],
                   aclDataBuffer *inputs[], int numOutputs, aclTensorDesc *outputDesc[],
                   aclDataBuffer *outputs[], aclopAttr *attr, aclrtStream stream),
                  (opType, numInputs, inputDesc, inputs, numOutputs, outputDesc, outputs, attr,
                   stream))

DEFINE_ACL_SUBMIT(aclopCompileAndExecute,
                  (const char *opType, int numInputs, const aclTensorDesc *const inputDesc[],
                   const aclDataBuffer *const inputs[], int numOutputs,
                   const aclTensorDesc *const outputDesc[], aclDataBuffer *const outputs[],
                   const aclopAttr *attr, aclopEngineType engineType,
                   aclopCompileType compileFlag, const char *opPath, aclrtStream stream),
                  (opType, numInputs, inputDesc, inputs, numOutputs, outputDesc, outputs, attr,
                   engineType, compileFlag, opPath, stream))

DEFINE_ACL_SUBMIT(aclmdlExecute,
                  (uint32_t modelId, const aclmdlDataset *input, aclmdlDataset *output),
                  (modelId, input, output))

DEFINE_ACL_SUBMIT(aclmdlExecuteAsync,
                  (uint32_t modelId, const aclmdlDataset *input, aclmdlDataset *output,
                   aclrtStream stream),
                  (modelId, input, output, stream))

/* ----------------------------------------------------------------- runtime -- */

DEFINE_RT_SUBMIT(rtKernelLaunch,
                 (const void *stubFunc, uint32_t blockDim, void *args, uint32_t argsSize,
                  rtSmDesc_t *smDesc, rtStream_t stream),
                 (stubFunc, blockDim, args, argsSize, smDesc, stream))

DEFINE_RT_SUBMIT(rtKernelLaunchWithHandleV2,
                 (void *hdl, uint64_t tilingKey, uint32_t blockDim, rtArgsEx_t *argsInfo,
                  rtSmDesc_t *smDesc, rtStream_t stream, const rtTaskCfgInfo_t *cfgInfo),
                 (hdl, tilingKey, blockDim, argsInfo, smDesc, stream, cfgInfo))

DEFINE_RT_SUBMIT(rtLaunchKernelByFuncHandleV3,
                 (rtFuncHandle funcHandle, uint32_t blockDim, const rtArgsEx_t *argsInfo,
                  rtStream_t stream, const rtTaskCfgInfo_t *cfgInfo),
                 (funcHandle, blockDim, argsInfo, stream, cfgInfo))

DEFINE_RT_SUBMIT(rtsLaunchKernelWithHostArgs,
                 (rtFuncHandle funcHandle, uint32_t blockDim, rtStream_t stream,
                  rtKernelLaunchCfg_t *cfg, void *hostArgs, uint32_t argsSize,
                  rtPlaceHolderInfo_t *placeHolderArray, uint32_t placeHolderNum),
                 (funcHandle, blockDim, stream, cfg, hostArgs, argsSize, placeHolderArray,
                  placeHolderNum))

DEFINE_RT_SUBMIT(rtModelExecute, (rtModel_t model, rtStream_t stream, uint32_t flag),
                 (model, stream, flag))
