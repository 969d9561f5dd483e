/*
 * Owns CUDA memory-information virtualisation: cuMemGetInfo_v2 and cuDeviceTotalMem_v2 report
 * total = the device's live cap and free = min(cap - container use, the driver's real free).
 * Devices without a cap pass through.  A NULL output pointer is passed to the driver as NULL
 * (our local stands in only for a pointer the caller gave), so a NULL gets the driver's own
 * answer: CUDA_ERROR_INVALID_VALUE from drivers that reject it, success from those that
 * tolerate it (OptiX passes NULL for the value it does not want); never a success the driver
 * would not give, and the value the caller did ask for is still the virtualised one.
 */
#include "cuda_device.h"
#include "resolve.h"

CUresult cuMemGetInfo_v2(size_t *free, size_t *total)
{
    cuMemGetInfo_v2_fn real = HAMI_REAL(cuMemGetInfo_v2);
    if (!real)
        return CUDA_ERROR_NOT_FOUND;
    size_t real_free = 0, real_total = 0;
    CUresult rc = real(free ? &real_free : NULL, total ? &real_total : NULL);
    if (rc != CUDA_SUCCESS)
        return rc;
    if (!free && !total)
        return rc; /* nothing to virtualise */
    hami_hook_device *dev = hami_cuda_current_device();
    uint64_t view_total, view_free, view_used;
    if (dev && hami_hook_memory_view(dev, real_free, &view_total, &view_free, &view_used)) {
        real_free = (size_t)view_free;
        real_total = (size_t)view_total;
    }
    if (free)
        *free = real_free;
    if (total)
        *total = real_total;
    return CUDA_SUCCESS;
}

CUresult cuDeviceTotalMem_v2(size_t *bytes, CUdevice dev_ordinal)
{
    cuDeviceTotalMem_v2_fn real = HAMI_REAL(cuDeviceTotalMem_v2);
    if (!real)
        return CUDA_ERROR_NOT_FOUND;
    if (!bytes)
        return real(bytes, dev_ordinal); /* the driver's own answer to a NULL pointer */
    size_t real_total = 0;
    CUresult rc = real(&real_total, dev_ordinal);
    if (rc != CUDA_SUCCESS)
        return rc;
    hami_hook_device *dev = hami_cuda_device(dev_ordinal);
    uint64_t view_total, view_free, view_used;
    if (dev && hami_hook_memory_view(dev, real_total, &view_total, &view_free, &view_used))
        real_total = (size_t)view_total;
    *bytes = real_total;
    return CUDA_SUCCESS;
}
