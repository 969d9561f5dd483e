/*
 * Owns the Ascend allocation hooks, at both layers: reserve-then-allocate for every device
 * allocation call, and frees that release exactly what was charged.
 *
 *   ACL (libascendcl.so)            charged bytes                     key
 *     aclrtMalloc                   size rounded up to 32, plus 32    device pointer
 *     aclrtMallocCached             as aclrtMalloc                    device pointer
 *     aclrtMallocWithCfg            as aclrtMalloc                    device pointer
 *     aclrtMallocAlign32            size rounded up to 32             device pointer
 *     aclrtFree                     releases the record
 *     aclrtMallocPhysical           size (device locations only)      physical handle
 *     aclrtFreePhysical             releases the record
 *   runtime (libruntime.so), when called directly (not under an acl* memory wrapper):
 *     rtMalloc                      size                              device pointer
 *     rtFree                        releases the record
 *     rtMallocPhysical              size (device side only)           physical handle
 *     rtFreePhysical                releases the record
 * The charged bytes are what the device really loses (ACL's own rounding, DESIGN 7), so the
 * region agrees with the card.  Host memory (aclrtMallocHost, rtMallocHost) is not charged;
 * aclrtReserveMemAddress / aclrtMapMem (address space) are not hooked: the physical handle
 * carries the charge.  Both layers share one key space per kind, so memory allocated at one
 * layer and freed at the other is released once.
 *
 * Once: the acl* wrapper runs the real ACL function under the MEMORY guard (ascend_guard.h);
 * the rtMalloc/rtFree/... it descends into pass straight through, and so does an acl* memory
 * wrapper entered under the guard (ACL calling its own exported acl* function, e.g.
 * aclrtMallocCached -> aclrtMalloc): the outer call already counts those bytes.
 * Impossible sizes: a request whose rounding overflows, or larger than the device's capacity
 * (when the driver reported it), is refused with 207001 at once and charges nothing (a charge
 * that big would make every other allocation on the device fail while the real call runs).
 *
 * Device: the thread's current device (aclrtGetDevice at the ACL layer, rtGetDevice at the
 * runtime layer); for physical allocations the device in the properties.  A thread without a
 * current device is not charged (the library refuses the allocation itself).
 * Over the cap: ACL_ERROR_RT_MEMORY_ALLOCATION (207001) at both layers, with one rate-limited
 * log line (device, cap, in use, requested) from hook_state.c.
 */
#include <stdint.h>

#include "../cuda/resolve.h"
#include "ascend_device.h"
#include "ascend_guard.h"

/* Key spaces in the shared allocation table, apart from CUDA's kinds. */
#define ASCEND_ALLOC_DEVPTR 16u
#define ASCEND_ALLOC_PHYSICAL 17u

#define ACL_ALIGN_BYTES 32ull
#define ACL_MALLOC_PADDING_BYTES 32ull

/* size rounded up to 32 (+ padding) into *bytes; -1 when that overflows (no device can hold it:
 * the wrapper refuses with 207001 at once and charges nothing, so the region never holds a
 * charge that would make every other allocation on the device fail while the real call runs). */
static int acl_charge_bytes(size_t size, uint64_t padding, uint64_t *bytes)
{
    uint64_t s = (uint64_t)size;
    if (s > UINT64_MAX - (ACL_ALIGN_BYTES - 1) - padding)
        return -1;
    *bytes = (s + ACL_ALIGN_BYTES - 1) / ACL_ALIGN_BYTES * ACL_ALIGN_BYTES + padding;
    return 0;
}

/* 1 when `bytes` exceeds the device's whole capacity (when the driver reported it): the
 * allocation cannot succeed, so it is refused with 207001 without charging (same reason). */
static int larger_than_card(const hami_hook_device *dev, uint64_t bytes)
{
    return dev && dev->card_total_bytes && bytes > dev->card_total_bytes;
}

/* After the real call (hami_hook_alloc_end): the library's code, or 207001 when the allocation
 * could not be remembered and was given back.  Both layers succeed with 0. */
static int settle(hami_hook_pending_alloc *p, int rc, uint32_t kind, uint64_t key,
                  void (*undo)(uint64_t))
{
    return hami_hook_alloc_end(p, rc == ACL_SUCCESS, kind, key, undo) == 0 ? rc : HAMI_ACL_OOM;
}

static void undo_acl_devptr(uint64_t key)
{
    aclrtFree_fn real = HAMI_REAL(aclrtFree);
    unsigned guard = hami_ascend_guard_enter(HAMI_ASCEND_GUARD_MEMORY);
    if (real)
        real((void *)(uintptr_t)key);
    hami_ascend_guard_leave(guard);
}

static void undo_acl_physical(uint64_t key)
{
    aclrtFreePhysical_fn real = HAMI_REAL(aclrtFreePhysical);
    unsigned guard = hami_ascend_guard_enter(HAMI_ASCEND_GUARD_MEMORY);
    if (real)
        real((aclrtDrvMemHandle)(uintptr_t)key);
    hami_ascend_guard_leave(guard);
}

static void undo_rt_devptr(uint64_t key)
{
    rtFree_fn real = HAMI_REAL(rtFree);
    if (real)
        real((void *)(uintptr_t)key);
}

static void undo_rt_physical(uint64_t key)
{
    rtFreePhysical_fn real = HAMI_REAL(rtFreePhysical);
    if (real)
        real((rtDrvMemHandle)(uintptr_t)key);
}

/* ----------------------------------------------------------------- ACL device memory -- */

static aclError acl_malloc(aclrtMalloc_fn real, const char *api, void **devPtr, size_t size,
                           aclrtMemMallocPolicy policy, uint64_t padding)
{
    if (!real)
        return HAMI_ACL_NO_LIBRARY;
    if (hami_ascend_guarded(HAMI_ASCEND_GUARD_MEMORY))
        return real(devPtr, size, policy); /* ACL calling its own acl*: counted by the outer call */
    uint64_t charge_bytes;
    hami_hook_device *dev = hami_ascend_current_device(HAMI_ASCEND_LAYER_ACL);
    if (acl_charge_bytes(size, padding, &charge_bytes) != 0 || larger_than_card(dev, charge_bytes))
        return HAMI_ACL_OOM;
    hami_hook_pending_alloc p;
    if (hami_hook_alloc_begin(dev, charge_bytes, api, &p) != 0)
        return HAMI_ACL_OOM;
    unsigned guard = hami_ascend_guard_enter(HAMI_ASCEND_GUARD_MEMORY);
    aclError rc = real(devPtr, size, policy);
    hami_ascend_guard_leave(guard);
    return settle(&p, rc, ASCEND_ALLOC_DEVPTR,
                  rc == ACL_SUCCESS && devPtr ? (uintptr_t)*devPtr : 0, undo_acl_devptr);
}

aclError aclrtMalloc(void **devPtr, size_t size, aclrtMemMallocPolicy policy)
{
    return acl_malloc(HAMI_REAL(aclrtMalloc), "aclrtMalloc", devPtr, size, policy,
                      ACL_MALLOC_PADDING_BYTES);
}

aclError aclrtMallocCached(void **devPtr, size_t size, aclrtMemMallocPolicy policy)
{
    return acl_malloc(HAMI_REAL(aclrtMallocCached), "aclrtMallocCached", devPtr, size, policy,
                      ACL_MALLOC_PADDING_BYTES);
}

aclError aclrtMallocAlign32(void **devPtr, size_t size, aclrtMemMallocPolicy policy)
{
    return acl_malloc(HAMI_REAL(aclrtMallocAlign32), "aclrtMallocAlign32", devPtr, size, policy,
                      0);
}

aclError aclrtMallocWithCfg(void **devPtr, size_t size, aclrtMemMallocPolicy policy,
                            aclrtMallocConfig *cfg)
{
    aclrtMallocWithCfg_fn real = HAMI_REAL(aclrtMallocWithCfg);
    if (!real)
        return HAMI_ACL_NO_LIBRARY;
    if (hami_ascend_guarded(HAMI_ASCEND_GUARD_MEMORY))
        return real(devPtr, size, policy, cfg);
    uint64_t charge_bytes;
    hami_hook_device *dev = hami_ascend_current_device(HAMI_ASCEND_LAYER_ACL);
    if (acl_charge_bytes(size, ACL_MALLOC_PADDING_BYTES, &charge_bytes) != 0 ||
        larger_than_card(dev, charge_bytes))
        return HAMI_ACL_OOM;
    hami_hook_pending_alloc p;
    if (hami_hook_alloc_begin(dev, charge_bytes, "aclrtMallocWithCfg", &p) != 0)
        return HAMI_ACL_OOM;
    unsigned guard = hami_ascend_guard_enter(HAMI_ASCEND_GUARD_MEMORY);
    aclError rc = real(devPtr, size, policy, cfg);
    hami_ascend_guard_leave(guard);
    return settle(&p, rc, ASCEND_ALLOC_DEVPTR,
                  rc == ACL_SUCCESS && devPtr ? (uintptr_t)*devPtr : 0, undo_acl_devptr);
}

aclError aclrtFree(void *devPtr)
{
    aclrtFree_fn real = HAMI_REAL(aclrtFree);
    if (!real)
        return HAMI_ACL_NO_LIBRARY;
    if (hami_ascend_guarded(HAMI_ASCEND_GUARD_MEMORY))
        return real(devPtr);
    hami_alloc_record record;
    uint64_t key = (uintptr_t)devPtr;
    hami_hook_forget_begin(ASCEND_ALLOC_DEVPTR, key, &record);
    unsigned guard = hami_ascend_guard_enter(HAMI_ASCEND_GUARD_MEMORY);
    aclError rc = real(devPtr);
    hami_ascend_guard_leave(guard);
    hami_hook_forget_end(ASCEND_ALLOC_DEVPTR, key, &record, rc == ACL_SUCCESS);
    return rc;
}

/* ----------------------------------------------------------------- ACL physical memory -- */

aclError aclrtMallocPhysical(aclrtDrvMemHandle *handle, size_t size,
                             const aclrtPhysicalMemProp *prop, uint64_t flags)
{
    aclrtMallocPhysical_fn real = HAMI_REAL(aclrtMallocPhysical);
    if (!real)
        return HAMI_ACL_NO_LIBRARY;
    if (hami_ascend_guarded(HAMI_ASCEND_GUARD_MEMORY))
        return real(handle, size, prop, flags);
    hami_hook_device *dev = NULL;
    if (prop && prop->location.type == ACL_MEM_LOCATION_TYPE_DEVICE)
        dev = hami_ascend_device((int32_t)prop->location.id);
    if (larger_than_card(dev, size))
        return HAMI_ACL_OOM;
    hami_hook_pending_alloc p;
    if (hami_hook_alloc_begin(dev, size, "aclrtMallocPhysical", &p) != 0)
        return HAMI_ACL_OOM;
    unsigned guard = hami_ascend_guard_enter(HAMI_ASCEND_GUARD_MEMORY);
    aclError rc = real(handle, size, prop, flags);
    hami_ascend_guard_leave(guard);
    return settle(&p, rc, ASCEND_ALLOC_PHYSICAL,
                  rc == ACL_SUCCESS && handle ? (uintptr_t)*handle : 0, undo_acl_physical);
}

aclError aclrtFreePhysical(aclrtDrvMemHandle handle)
{
    aclrtFreePhysical_fn real = HAMI_REAL(aclrtFreePhysical);
    if (!real)
        return HAMI_ACL_NO_LIBRARY;
    if (hami_ascend_guarded(HAMI_ASCEND_GUARD_MEMORY))
        return real(handle);
    hami_alloc_record record;
    uint64_t key = (uintptr_t)handle;
    hami_hook_forget_begin(ASCEND_ALLOC_PHYSICAL, key, &record);
    unsigned guard = hami_ascend_guard_enter(HAMI_ASCEND_GUARD_MEMORY);
    aclError rc = real(handle);
    hami_ascend_guard_leave(guard);
    hami_hook_forget_end(ASCEND_ALLOC_PHYSICAL, key, &record, rc == ACL_SUCCESS);
    return rc;
}

/* ----------------------------------------------------------------- runtime, direct calls -- */

rtError_t rtMalloc(void **devPtr, uint64_t size, rtMemType_t type, uint16_t moduleId)
{
    rtMalloc_fn real = HAMI_REAL(rtMalloc);
    if (!real)
        return HAMI_RT_NO_LIBRARY;
    if (hami_ascend_guarded(HAMI_ASCEND_GUARD_MEMORY))
        return real(devPtr, size, type, moduleId); /* counted by the acl* wrapper */
    hami_hook_device *dev = hami_ascend_current_device(HAMI_ASCEND_LAYER_RT);
    if (larger_than_card(dev, size))
        return HAMI_ACL_OOM;
    hami_hook_pending_alloc p;
    if (hami_hook_alloc_begin(dev, size, "rtMalloc", &p) != 0)
        return HAMI_ACL_OOM;
    rtError_t rc = real(devPtr, size, type, moduleId);
    return settle(&p, rc, ASCEND_ALLOC_DEVPTR,
                  rc == RT_ERROR_NONE && devPtr ? (uintptr_t)*devPtr : 0, undo_rt_devptr);
}

rtError_t rtFree(void *devPtr)
{
    rtFree_fn real = HAMI_REAL(rtFree);
    if (!real)
        return HAMI_RT_NO_LIBRARY;
    if (hami_ascend_guarded(HAMI_ASCEND_GUARD_MEMORY))
        return real(devPtr);
    hami_alloc_record record;
    uint64_t key = (uintptr_t)devPtr;
    hami_hook_forget_begin(ASCEND_ALLOC_DEVPTR, key, &record);
    rtError_t rc = real(devPtr);
    hami_hook_forget_end(ASCEND_ALLOC_DEVPTR, key, &record, rc == RT_ERROR_NONE);
    return rc;
}

rtError_t rtMallocPhysical(rtDrvMemHandle *handle, size_t size, rtDrvMemProp_t *prop,
                           uint64_t flags)
{
    rtMallocPhysical_fn real = HAMI_REAL(rtMallocPhysical);
    if (!real)
        return HAMI_RT_NO_LIBRARY;
    if (hami_ascend_guarded(HAMI_ASCEND_GUARD_MEMORY))
        return real(handle, size, prop, flags);
    hami_hook_device *dev = NULL;
    if (prop && prop->side == 1) /* 1: device memory; 0: host */
        dev = hami_ascend_device((int32_t)prop->devid);
    if (larger_than_card(dev, size))
        return HAMI_ACL_OOM;
    hami_hook_pending_alloc p;
    if (hami_hook_alloc_begin(dev, size, "rtMallocPhysical", &p) != 0)
        return HAMI_ACL_OOM;
    rtError_t rc = real(handle, size, prop, flags);
    return settle(&p, rc, ASCEND_ALLOC_PHYSICAL,
                  rc == RT_ERROR_NONE && handle ? (uintptr_t)*handle : 0, undo_rt_physical);
}

rtError_t rtFreePhysical(rtDrvMemHandle handle)
{
    rtFreePhysical_fn real = HAMI_REAL(rtFreePhysical);
    if (!real)
        return HAMI_RT_NO_LIBRARY;
    if (hami_ascend_guarded(HAMI_ASCEND_GUARD_MEMORY))
        return real(handle);
    hami_alloc_record record;
    uint64_t key = (uintptr_t)handle;
    hami_hook_forget_begin(ASCEND_ALLOC_PHYSICAL, key, &record);
    rtError_t rc = real(handle);
    hami_hook_forget_end(ASCEND_ALLOC_PHYSICAL, key, &record, rc == RT_ERROR_NONE);
    return rc;
}
