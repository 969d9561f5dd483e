/*
 * Ascend device ordinal -> hami_hook_device binding (ascend_device.c), and the return codes the
 * Ascend hooks use when they answer a call themselves.
 *
 * Ordinals are LOGICAL device ids, as the process numbers them (after ASCEND_VISIBLE_DEVICES /
 * ASCEND_RT_VISIBLE_DEVICES): the per-device environment limits (HAMI_MEMORY_LIMIT_<i>,
 * HAMI_COMPUTE_LIMIT_<i>) use them; NPU_MEM_QUOTA / NPU_PRIORITY apply to every ordinal.  The
 * region entry is keyed by the device's identity string, never by ordinal (ascend_device.c).
 */
#ifndef HAMI_ASCEND_DEVICE_H
#define HAMI_ASCEND_DEVICE_H

#include <stdint.h>

#include "../cuda/hook_state.h"
#include "hami/acl_abi.h"

/* Codes the hooks return themselves (documented choices):
 *   over the cap / fail closed (both layers):  ACL_ERROR_RT_MEMORY_ALLOCATION (207001), the
 *       code torch_npu frees its cache and retries on;
 *   submission refused because the compute limit does not parse:  ACL_ERROR_INVALID_PARAM
 *       (100000) from acl* wrappers, ACL_ERROR_RT_PARAM_INVALID (107000) from rt* wrappers --
 *       each layer's own invalid-parameter code;
 *   the vendor library cannot be loaded (the wrapper has no real function to call):
 *       ACL_ERROR_UNINITIALIZE (100001) from acl*, ACL_ERROR_RT_INTERNAL_ERROR (507000) from
 *       rt*. */
#define HAMI_ACL_OOM ACL_ERROR_RT_MEMORY_ALLOCATION
#define HAMI_ACL_REFUSED ACL_ERROR_INVALID_PARAM
#define HAMI_RT_REFUSED ACL_ERROR_RT_PARAM_INVALID
#define HAMI_ACL_NO_LIBRARY ACL_ERROR_UNINITIALIZE
#define HAMI_RT_NO_LIBRARY ACL_ERROR_RT_INTERNAL_ERROR

/* Which layer asks for the current device: each uses its own library's call, so a process that
 * only uses the runtime never loads libascendcl.so. */
enum hami_ascend_layer { HAMI_ASCEND_LAYER_ACL = 0, HAMI_ASCEND_LAYER_RT = 1 };

extern hami_hook_device hami_ascend_devices[HAMI_MAX_DEVICES];

hami_hook_device *hami_ascend_device_bind_slow(int32_t ordinal);

/* The binding of logical device `ordinal`, or NULL when it is not a device of this process (then
 * the hooks pass the call through and the library answers). */
static inline hami_hook_device *hami_ascend_device(int32_t ordinal)
{
    if ((uint32_t)ordinal >= HAMI_MAX_DEVICES)
        return NULL;
    hami_hook_device *dev = &hami_ascend_devices[ordinal];
    if (__builtin_expect(atomic_load_explicit(&dev->ready, memory_order_acquire), 1))
        return dev;
    return hami_ascend_device_bind_slow(ordinal);
}

/* The binding of the calling thread's current device (aclrtGetDevice / rtGetDevice through the
 * real library), or NULL when the thread has none. */
hami_hook_device *hami_ascend_current_device(int layer);

/* The same for the submission hooks, from a per-thread cache (hook_state.h).  aclrtGetDevice /
 * rtGetDevice are library calls (the runtime looks up the thread's context: a TLS access through
 * __tls_get_addr, an init check, a handle-table lookup; about 110 instructions in the
 * simulator, more with real CANN's locks), a third of what metering a submission otherwise
 * adds, and a submitting thread almost never changes device.  A thread's current device changes
 * only through calls made on that thread, and every one of them is hooked (ascend_device.c:
 * aclrtSetDevice, aclrtResetDevice, aclrtCreateContext, aclrtDestroyContext,
 * aclrtSetCurrentContext and their runtime counterparts rtSetDevice, rtDeviceReset,
 * rtCtxCreate, rtCtxDestroy, rtCtxSetCurrent) to drop the cache; as a backstop for a switch
 * through an entry point we do not hook (a newer rtSetDeviceV2-style variant, a call the
 * library makes internally) it is re-checked every HAMI_HOOK_DEVICE_RECHECK submissions.
 * "No current device" is never cached.  Both layers share the cache: ACL's current device IS
 * the runtime's (aclrtGetDevice answers from rtGetDevice). */
extern __thread hami_hook_device_cache hami_ascend_tls_device
    __attribute__((tls_model("initial-exec")));

hami_hook_device *hami_ascend_current_device_refill(int layer);

static inline hami_hook_device *hami_ascend_current_device_cached(int layer)
{
    hami_hook_device *dev = hami_hook_device_cache_get(&hami_ascend_tls_device);
    if (__builtin_expect(dev != NULL, 1))
        return dev;
    return hami_ascend_current_device_refill(layer);
}

/* The calling thread's current device may change: forget its cached device. */
static inline void hami_ascend_device_changed(void)
{
    hami_ascend_tls_device.dev = NULL;
}

#endif
