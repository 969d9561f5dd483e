/*
 * Simulated ACL: memory.  Sizes and descents (DESIGN 7):
 *   aclrtMalloc, aclrtMallocCached, aclrtMallocWithCfg: rtMalloc(round_up(size, 32) + 32)
 *   aclrtMallocAlign32:                                 rtMalloc(round_up(size, 32))
 *   aclrtFree -> rtFree;  aclrtMallocHost/aclrtFreeHost -> rtMallocHost/rtFreeHost
 *   aclrtReserveMemAddress/aclrtReleaseMemAddress -> rtReserveMemAddress/rtReleaseMemAddress
 *   aclrtMallocPhysical/aclrtFreePhysical -> rtMallocPhysical/rtFreePhysical (exact size)
 *   aclrtMapMem/aclrtUnmapMem -> rtMapMem/rtUnmapMem;  aclrtGetMemInfo -> rtMemGetInfoEx
 * The policy argument is passed to rtMalloc as its memory type (any value is accepted).
 * aclrtMemcpy/aclrtMemset validate their arguments and succeed; only host-to-host copies move
 * bytes (simulated device memory has no storage).
 */
#include <string.h>

#include "acl_sim.h"

#define ACL_MODULE_ID 3 /* the moduleId ACL passes to the runtime (ASSUMED value) */

static size_t round32(size_t size) { return (size + 31) & ~(size_t)31; }

static aclError malloc_padded(void **devPtr, size_t size, aclrtMemMallocPolicy policy, int pad)
{
    if (!devPtr || size == 0 || size > ((size_t)1 << 56)) {
        acl_set_error("device allocation of %zu bytes: size must be in [1, 2^56]", size);
        return ACL_ERROR_INVALID_PARAM;
    }
    size_t bytes = round32(size) + (pad ? 32 : 0);
    return rtMalloc(devPtr, bytes, (rtMemType_t)policy, ACL_MODULE_ID);
}

ACL_API aclError aclrtMalloc(void **devPtr, size_t size, aclrtMemMallocPolicy policy)
{
    return malloc_padded(devPtr, size, policy, 1);
}

ACL_API aclError aclrtMallocAlign32(void **devPtr, size_t size, aclrtMemMallocPolicy policy)
{
    return malloc_padded(devPtr, size, policy, 0);
}

ACL_API aclError aclrtMallocCached(void **devPtr, size_t size, aclrtMemMallocPolicy policy)
{
    return malloc_padded(devPtr, size, policy, 1);
}

ACL_API aclError aclrtMallocWithCfg(void **devPtr, size_t size, aclrtMemMallocPolicy policy,
                                    aclrtMallocConfig *cfg)
{
    (void)cfg; /* attributes (module id, ...) do not change the simulation */
    return malloc_padded(devPtr, size, policy, 1);
}

ACL_API aclError aclrtFree(void *devPtr)
{
    if (!devPtr)
        return ACL_ERROR_INVALID_PARAM;
    return rtFree(devPtr);
}

ACL_API aclError aclrtMallocHost(void **hostPtr, size_t size)
{
    if (!hostPtr || size == 0)
        return ACL_ERROR_INVALID_PARAM;
    return rtMallocHost(hostPtr, size, ACL_MODULE_ID);
}

ACL_API aclError aclrtFreeHost(void *hostPtr)
{
    if (!hostPtr)
        return ACL_ERROR_INVALID_PARAM;
    return rtFreeHost(hostPtr);
}

ACL_API aclError aclrtMemcpy(void *dst, size_t destMax, const void *src, size_t count,
                             aclrtMemcpyKind kind)
{
    if (!dst || !src || count > destMax || (unsigned)kind > ACL_MEMCPY_DEFAULT)
        return ACL_ERROR_INVALID_PARAM;
    if (kind == ACL_MEMCPY_HOST_TO_HOST && count)
        memmove(dst, src, count);
    return ACL_SUCCESS;
}

ACL_API aclError aclrtMemset(void *devPtr, size_t maxCount, int32_t value, size_t count)
{
    (void)value;
    if (!devPtr || count > maxCount)
        return ACL_ERROR_INVALID_PARAM;
    return ACL_SUCCESS;
}

ACL_API aclError aclrtGetMemInfo(aclrtMemAttr attr, size_t *free_bytes, size_t *total_bytes)
{
    if (!free_bytes || !total_bytes)
        return ACL_ERROR_INVALID_PARAM;
    if ((unsigned)attr > ACL_HBM_MEM_NORMAL)
        return ACL_ERROR_INVALID_PARAM;
    return rtMemGetInfoEx((rtMemInfoType_t)attr, free_bytes, total_bytes);
}

/* ------------------------------------------------------------------ VMM */

ACL_API aclError aclrtReserveMemAddress(void **virPtr, size_t size, size_t alignment,
                                        void *expectPtr, uint64_t flags)
{
    if (!virPtr || size == 0)
        return ACL_ERROR_INVALID_PARAM;
    return rtReserveMemAddress(virPtr, size, alignment, expectPtr, flags);
}

ACL_API aclError aclrtReleaseMemAddress(void *virPtr)
{
    if (!virPtr)
        return ACL_ERROR_INVALID_PARAM;
    return rtReleaseMemAddress(virPtr);
}

ACL_API aclError aclrtMallocPhysical(aclrtDrvMemHandle *handle, size_t size,
                                     const aclrtPhysicalMemProp *prop, uint64_t flags)
{
    if (!handle || !prop || size == 0 || prop->location.type != ACL_MEM_LOCATION_TYPE_DEVICE)
        return ACL_ERROR_INVALID_PARAM;
    rtDrvMemProp_t rt_prop = {
        .side = 1,
        .devid = prop->location.id,
        .module_id = ACL_MODULE_ID,
        .pg_type = 0,
        .mem_type = (uint32_t)prop->memAttr,
        .reserve = 0,
    };
    return rtMallocPhysical(handle, size, &rt_prop, flags);
}

ACL_API aclError aclrtFreePhysical(aclrtDrvMemHandle handle)
{
    if (!handle)
        return ACL_ERROR_INVALID_PARAM;
    return rtFreePhysical(handle);
}

ACL_API aclError aclrtMapMem(void *virPtr, size_t size, size_t offset, aclrtDrvMemHandle handle,
                             uint64_t flags)
{
    if (!virPtr || !handle || size == 0)
        return ACL_ERROR_INVALID_PARAM;
    return rtMapMem(virPtr, size, offset, handle, flags);
}

ACL_API aclError aclrtUnmapMem(void *virPtr)
{
    if (!virPtr)
        return ACL_ERROR_INVALID_PARAM;
    return rtUnmapMem(virPtr);
}
