/*
 * Owns Ascend memory-information virtualisation, at both layers:
 *   aclrtGetMemInfo(attr, free, total)    and    rtMemGetInfoEx(type, free, total)
 *       ACL_HBM_MEM / RT_MEMORYINFO_HBM (the device's memory, what torch_npu queries):
 *           total = the current device's live cap, free = min(cap - container use, real free);
 *       the HBM huge-page / normal-page subsets (ACL_HBM_MEM_HUGE, ACL_HBM_MEM_NORMAL):
 *           clamped, total = min(real total, cap), free = min(real free, cap - container use);
 *       DDR kinds pass through: on 910B/910C the device memory is HBM and every device
 *           allocation is charged against it (the simulator reports DDR as 0/0).  Open: on a
 *           310P (DDR device memory, no HBM) DDR would need the same treatment.
 *   aclrtGetDeviceInfo(dev, ACL_DEV_ATTR_TOTAL_GLOBAL_MEM_SIZE, value)
 *       value = the device's live cap; other attributes pass through.
 * Devices without a cap pass through.  NULL output pointers are tolerated: the real function
 * always gets our own locals.  aclrtGetMemInfo descends into rtMemGetInfoEx: the latter passes
 * straight through under the INFO guard (ascend_guard.h).
 */
#include "../cuda/resolve.h"
#include "ascend_device.h"
#include "ascend_guard.h"

/* Apply the view of the current device to (free, total) for memory-attribute `attr` (the ACL
 * and runtime numberings are equal). */
static void virtualise(int layer, int attr, size_t *free_bytes, size_t *total_bytes)
{
    int whole = attr == ACL_HBM_MEM;
    int subset = attr == ACL_HBM_MEM_HUGE || attr == ACL_HBM_MEM_NORMAL;
    if (!whole && !subset)
        return;
    hami_hook_device *dev = hami_ascend_current_device(layer);
    uint64_t view_total, view_free, view_used;
    if (!dev || !hami_hook_memory_view(dev, *free_bytes, &view_total, &view_free, &view_used))
        return;
    *free_bytes = (size_t)view_free;
    if (whole || view_total < *total_bytes)
        *total_bytes = (size_t)view_total;
}

aclError aclrtGetMemInfo(aclrtMemAttr attr, size_t *free, size_t *total)
{
    aclrtGetMemInfo_fn real = HAMI_REAL(aclrtGetMemInfo);
    if (!real)
        return HAMI_ACL_NO_LIBRARY;
    size_t real_free = 0, real_total = 0;
    unsigned guard = hami_ascend_guard_enter(HAMI_ASCEND_GUARD_INFO);
    aclError rc = real(attr, &real_free, &real_total);
    hami_ascend_guard_leave(guard);
    if (rc != ACL_SUCCESS)
        return rc;
    virtualise(HAMI_ASCEND_LAYER_ACL, (int)attr, &real_free, &real_total);
    if (free)
        *free = real_free;
    if (total)
        *total = real_total;
    return ACL_SUCCESS;
}

rtError_t rtMemGetInfoEx(rtMemInfoType_t memInfoType, size_t *free, size_t *total)
{
    rtMemGetInfoEx_fn real = HAMI_REAL(rtMemGetInfoEx);
    if (!real)
        return HAMI_RT_NO_LIBRARY;
    if (hami_ascend_guarded(HAMI_ASCEND_GUARD_INFO))
        return real(memInfoType, free, total); /* aclrtGetMemInfo virtualises */
    size_t real_free = 0, real_total = 0;
    rtError_t rc = real(memInfoType, &real_free, &real_total);
    if (rc != RT_ERROR_NONE)
        return rc;
    virtualise(HAMI_ASCEND_LAYER_RT, (int)memInfoType, &real_free, &real_total);
    if (free)
        *free = real_free;
    if (total)
        *total = real_total;
    return RT_ERROR_NONE;
}

aclError aclrtGetDeviceInfo(uint32_t deviceId, aclrtDevAttr attr, int64_t *value)
{
    aclrtGetDeviceInfo_fn real = HAMI_REAL(aclrtGetDeviceInfo);
    if (!real)
        return HAMI_ACL_NO_LIBRARY;
    if (attr != ACL_DEV_ATTR_TOTAL_GLOBAL_MEM_SIZE || !value)
        return real(deviceId, attr, value); /* the library's own answer */
    int64_t real_total = 0;
    aclError rc = real(deviceId, attr, &real_total);
    if (rc != ACL_SUCCESS)
        return rc;
    hami_hook_device *dev = hami_ascend_device((int32_t)deviceId);
    uint64_t view_total, view_free, view_used;
    if (dev && real_total > 0 &&
        hami_hook_memory_view(dev, (uint64_t)real_total, &view_total, &view_free, &view_used))
        real_total = view_total > INT64_MAX ? INT64_MAX : (int64_t)view_total;
    *value = real_total;
    return ACL_SUCCESS;
}
