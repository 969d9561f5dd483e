/*
 * CUDA device ordinal -> hami_hook_device binding (cuda_device.c): the per-process array the
 * hot paths read, filled on first use from the driver's UUID and capacity.
 */
#ifndef HAMI_CUDA_DEVICE_H
#define HAMI_CUDA_DEVICE_H

#include "hami/cuda_abi.h"
#include "hook_state.h"

extern hami_hook_device hami_cuda_devices[HAMI_MAX_DEVICES];

hami_hook_device *hami_cuda_device_bind_slow(CUdevice ordinal);

/* The binding of device `ordinal` (as this process numbers it), or NULL when the driver cannot
 * identify it (then the hooks pass the call through and the driver answers). */
static inline hami_hook_device *hami_cuda_device(CUdevice ordinal)
{
    if ((unsigned)ordinal >= HAMI_MAX_DEVICES)
        return hami_cuda_device_bind_slow(ordinal);
    hami_hook_device *dev = &hami_cuda_devices[ordinal];
    if (__builtin_expect(atomic_load_explicit(&dev->ready, memory_order_acquire), 1))
        return dev;
    return hami_cuda_device_bind_slow(ordinal);
}

/* The binding of the calling thread's current context's device, or NULL (no context). */
hami_hook_device *hami_cuda_current_device(void);

/* The same for the launch hooks, from a per-thread cache (hook_state.h): cuCtxGetDevice is a
 * driver call (tens of ns, a lock in some drivers).  The cache is dropped by this thread's own
 * context switches (the cuCtx* / primary-context hooks of cuda_device.c call
 * hami_cuda_context_changed) and, as a backstop for a switch made through a path we do not hook
 * (a legacy v1 entry point, a driver-internal table), re-checked every HAMI_HOOK_DEVICE_RECHECK
 * launches of the thread.  No context is never cached. */
extern __thread hami_hook_device_cache hami_cuda_tls_device
    __attribute__((tls_model("initial-exec")));

hami_hook_device *hami_cuda_current_device_refill(void);

static inline hami_hook_device *hami_cuda_current_device_cached(void)
{
    hami_hook_device *dev = hami_hook_device_cache_get(&hami_cuda_tls_device);
    if (__builtin_expect(dev != NULL, 1))
        return dev;
    return hami_cuda_current_device_refill();
}

/* The calling thread's current context may have changed: forget its cached device. */
static inline void hami_cuda_context_changed(void)
{
    hami_cuda_tls_device.dev = NULL;
}

/* "GPU-xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx" from the 16 UUID bytes (buf >= 41 bytes). */
void hami_cuda_format_uuid(const CUuuid *uuid, char *buf, size_t len);

#endif
