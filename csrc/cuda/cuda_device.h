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

/* "GPU-xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx" from the 16 UUID bytes (buf >= 41 bytes). */
void hami_cuda_format_uuid(const CUuuid *uuid, char *buf, size_t len);

#endif
