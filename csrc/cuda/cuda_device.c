/*
 * Owns the CUDA device bindings: for each device ordinal the process uses, its UUID
 * (cuDeviceGetUuid_v2, else cuDeviceGetUuid), capacity (cuDeviceTotalMem_v2) and region entry,
 * resolved once through the real driver and cached in a per-process array, so an allocation's
 * hot path is cuCtxGetDevice plus an array load.  The device of an allocation is the current
 * context's device at the time of the call (multi-GPU threads switch devices), never device 0.
 *
 * Also owns the context-switch hooks (cuCtxSetCurrent, cuCtxPushCurrent_v2, cuCtxPopCurrent_v2,
 * cuCtxCreate_v2/v3/v4, cuCtxDestroy_v2, cuDevicePrimaryCtxRelease_v2/Reset_v2): each drops the
 * calling thread's cached launch device (cuda_device.h) and passes the call through unchanged.
 * A thread's current context changes only through calls on that thread, so a thread-local
 * cache invalidated by that thread's own calls cannot go stale behind its back (a context
 * destroyed from another thread makes the launches themselves fail; their tokens are refunded).
 */
#include "cuda_device.h"

#include <stdio.h>

#include "resolve.h"

hami_hook_device hami_cuda_devices[HAMI_MAX_DEVICES];

void hami_cuda_format_uuid(const CUuuid *uuid, char *buf, size_t len)
{
    const unsigned char *b = (const unsigned char *)uuid->bytes;
    snprintf(buf, len,
             "GPU-%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0],
             b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13],
             b[14], b[15]);
}

hami_hook_device *hami_cuda_device_bind_slow(CUdevice ordinal)
{
    if (ordinal < 0 || ordinal >= HAMI_MAX_DEVICES)
        return NULL; /* beyond the region's device table: the driver decides */
    hami_hook_device *dev = &hami_cuda_devices[ordinal];
    if (atomic_load_explicit(&dev->ready, memory_order_acquire))
        return dev;
    CUuuid uuid;
    CUresult rc = CUDA_ERROR_NOT_FOUND;
    cuDeviceGetUuid_v2_fn get_uuid_v2 = HAMI_REAL(cuDeviceGetUuid_v2);
    if (get_uuid_v2)
        rc = get_uuid_v2(&uuid, ordinal);
    if (rc != CUDA_SUCCESS) {
        cuDeviceGetUuid_fn get_uuid = HAMI_REAL(cuDeviceGetUuid);
        if (get_uuid)
            rc = get_uuid(&uuid, ordinal);
    }
    if (rc != CUDA_SUCCESS)
        return NULL;
    char text[HAMI_UUID_LEN];
    hami_cuda_format_uuid(&uuid, text, sizeof text);
    size_t total = 0;
    cuDeviceTotalMem_v2_fn total_mem = HAMI_REAL(cuDeviceTotalMem_v2);
    if (!total_mem || total_mem(&total, ordinal) != CUDA_SUCCESS)
        total = 0;
    hami_hook_bind_device(dev, HAMI_VENDOR_CUDA, ordinal, text, total);
    return dev;
}

__thread hami_hook_device_cache hami_cuda_tls_device __attribute__((tls_model("initial-exec")));

hami_hook_device *hami_cuda_current_device_refill(void)
{
    return hami_hook_device_cache_fill(&hami_cuda_tls_device, hami_cuda_current_device());
}

/* Context switches: forget, then tail-call the driver (unresolved: the driver's answer for a
 * missing entry point). */
#define CONTEXT_SWITCH_HOOK(name, PARAMS, ARGS)                                                \
    CUresult name PARAMS                                                                       \
    {                                                                                          \
        hami_cuda_context_changed();                                                           \
        name##_fn real = HAMI_REAL(name);                                                      \
        return real ? real ARGS : CUDA_ERROR_NOT_FOUND;                                        \
    }

CONTEXT_SWITCH_HOOK(cuCtxSetCurrent, (CUcontext ctx), (ctx))
CONTEXT_SWITCH_HOOK(cuCtxPushCurrent_v2, (CUcontext ctx), (ctx))
CONTEXT_SWITCH_HOOK(cuCtxPopCurrent_v2, (CUcontext * ctx), (ctx))
CONTEXT_SWITCH_HOOK(cuCtxCreate_v2, (CUcontext * ctx, unsigned int flags, CUdevice dev),
                    (ctx, flags, dev))
CONTEXT_SWITCH_HOOK(cuCtxCreate_v3,
                    (CUcontext * ctx, CUexecAffinityParam *params, int n, unsigned int flags,
                     CUdevice dev),
                    (ctx, params, n, flags, dev))
CONTEXT_SWITCH_HOOK(cuCtxCreate_v4,
                    (CUcontext * ctx, CUctxCreateParams *params, unsigned int flags,
                     CUdevice dev),
                    (ctx, params, flags, dev))
CONTEXT_SWITCH_HOOK(cuCtxDestroy_v2, (CUcontext ctx), (ctx))
CONTEXT_SWITCH_HOOK(cuDevicePrimaryCtxRelease_v2, (CUdevice dev), (dev))
CONTEXT_SWITCH_HOOK(cuDevicePrimaryCtxReset_v2, (CUdevice dev), (dev))

hami_hook_device *hami_cuda_current_device(void)
{
    cuCtxGetDevice_fn get_device = HAMI_REAL(cuCtxGetDevice);
    CUdevice ordinal;
    if (!get_device || get_device(&ordinal) != CUDA_SUCCESS)
        return NULL;
    return hami_cuda_device(ordinal);
}
