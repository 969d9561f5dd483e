/*
 * Owns the CUDA allocation hooks: reserve-then-allocate for every allocation kind, and frees
 * that release exactly what was charged.
 *
 *   allocate: reserve the size in the region (one CAS that never passes the cap) -> driver ->
 *             on failure roll the reservation back; on success remember key -> (bytes, slot).
 *   free:     remove the record -> driver -> release on success (put it back on failure), so a
 *             racing allocation that gets the same address cannot lose its record.
 *
 * Kinds and keys: cuMemAlloc_v2, cuMemAllocPitch_v2, cuMemAllocManaged, cuMemAllocAsync(_ptsz),
 * cuMemAllocFromPoolAsync(_ptsz) -> device pointer (freed by cuMemFree_v2 or
 * cuMemFreeAsync(_ptsz)); cuMemCreate -> VMM handle (cuMemRelease); cuArrayCreate_v2,
 * cuArray3DCreate_v2 -> CUarray (cuArrayDestroy); cuMipmappedArrayCreate -> CUmipmappedArray
 * (cuMipmappedArrayDestroy).  Array sizes come from hami/cuda_sizes.h, the formulas the
 * simulator uses.
 *
 * Device: the current context's device at the time of the call; for cuMemCreate the device in
 * prop->location (host locations are not device memory and are not counted).  Pool and async
 * allocations use the current context's device too (the stream's device in practice).
 */
#include <stdint.h>

#include "cuda_device.h"
#include "hami/cuda_sizes.h"
#include "resolve.h"

#define PITCH_ALIGNMENT_BYTES 512u

/* After the driver call (hami_hook_alloc_end): the driver's code, or OOM when the allocation
 * could not be remembered and was given back. */
static CUresult settle(hami_hook_pending_alloc *p, CUresult rc, uint32_t kind, uint64_t key,
                       void (*undo)(uint64_t key))
{
    return hami_hook_alloc_end(p, rc == CUDA_SUCCESS, kind, key, undo) == 0
               ? rc
               : CUDA_ERROR_OUT_OF_MEMORY;
}

static void undo_devptr(uint64_t key)
{
    cuMemFree_v2_fn real = HAMI_REAL(cuMemFree_v2);
    if (real)
        real((CUdeviceptr)key);
}

static void undo_vmm(uint64_t key)
{
    cuMemRelease_fn real = HAMI_REAL(cuMemRelease);
    if (real)
        real((CUmemGenericAllocationHandle)key);
}

static void undo_array(uint64_t key)
{
    cuArrayDestroy_fn real = HAMI_REAL(cuArrayDestroy);
    if (real)
        real((CUarray)(uintptr_t)key);
}

static void undo_mipmapped(uint64_t key)
{
    cuMipmappedArrayDestroy_fn real = HAMI_REAL(cuMipmappedArrayDestroy);
    if (real)
        real((CUmipmappedArray)(uintptr_t)key);
}

/* ----------------------------------------------------------------- device pointers -- */

CUresult cuMemAlloc_v2(CUdeviceptr *dptr, size_t bytesize)
{
    cuMemAlloc_v2_fn real = HAMI_REAL(cuMemAlloc_v2);
    if (!real)
        return CUDA_ERROR_NOT_FOUND;
    hami_hook_pending_alloc p;
    if (hami_hook_alloc_begin(hami_cuda_current_device(), bytesize, "cuMemAlloc_v2", &p) != 0)
        return CUDA_ERROR_OUT_OF_MEMORY;
    CUresult rc = real(dptr, bytesize);
    return settle(&p, rc, HAMI_ALLOC_DEVPTR, rc == CUDA_SUCCESS ? *dptr : 0, undo_devptr);
}

CUresult cuMemAllocManaged(CUdeviceptr *dptr, size_t bytesize, unsigned int flags)
{
    cuMemAllocManaged_fn real = HAMI_REAL(cuMemAllocManaged);
    if (!real)
        return CUDA_ERROR_NOT_FOUND;
    hami_hook_pending_alloc p;
    if (hami_hook_alloc_begin(hami_cuda_current_device(), bytesize, "cuMemAllocManaged", &p) !=
        0)
        return CUDA_ERROR_OUT_OF_MEMORY;
    CUresult rc = real(dptr, bytesize, flags);
    return settle(&p, rc, HAMI_ALLOC_DEVPTR, rc == CUDA_SUCCESS ? *dptr : 0, undo_devptr);
}

/* The pitch is only known after the call: reserve the width rounded up to 512 bytes per row,
 * then charge or release the difference to the driver's pitch * height. */
CUresult cuMemAllocPitch_v2(CUdeviceptr *dptr, size_t *pPitch, size_t WidthInBytes, size_t Height,
                            unsigned int ElementSizeBytes)
{
    cuMemAllocPitch_v2_fn real = HAMI_REAL(cuMemAllocPitch_v2);
    if (!real)
        return CUDA_ERROR_NOT_FOUND;
    hami_hook_device *dev = hami_cuda_current_device();
    uint64_t row = ((uint64_t)WidthInBytes + PITCH_ALIGNMENT_BYTES - 1) /
                   PITCH_ALIGNMENT_BYTES * PITCH_ALIGNMENT_BYTES;
    uint64_t estimate = hami_cuda_mul_u64(row, Height);
    if (estimate == 0 && row != 0 && Height != 0)
        return CUDA_ERROR_OUT_OF_MEMORY; /* overflows 64 bits */
    hami_hook_pending_alloc p;
    if (hami_hook_alloc_begin(dev, estimate, "cuMemAllocPitch_v2", &p) != 0)
        return CUDA_ERROR_OUT_OF_MEMORY;
    CUresult rc = real(dptr, pPitch, WidthInBytes, Height, ElementSizeBytes);
    if (rc == CUDA_SUCCESS && p.charged_slot >= 0) {
        uint64_t actual = hami_cuda_mul_u64(*pPitch, Height);
        if (actual > p.bytes) {
            int extra_slot = -1;
            if (hami_hook_reserve(dev, actual - p.bytes, "cuMemAllocPitch_v2", &extra_slot) != 0) {
                undo_devptr(*dptr);
                hami_hook_unreserve(p.charged_slot, p.bytes);
                return CUDA_ERROR_OUT_OF_MEMORY;
            }
            if (extra_slot >= 0)
                p.bytes = actual;
        } else if (actual < p.bytes) {
            hami_hook_unreserve(p.charged_slot, p.bytes - actual);
            p.bytes = actual;
        }
    }
    return settle(&p, rc, HAMI_ALLOC_DEVPTR, rc == CUDA_SUCCESS ? *dptr : 0, undo_devptr);
}

static CUresult alloc_async(cuMemAllocAsync_fn real, const char *api, CUdeviceptr *dptr,
                            size_t bytesize, CUstream stream)
{
    if (!real)
        return CUDA_ERROR_NOT_FOUND;
    hami_hook_pending_alloc p;
    if (hami_hook_alloc_begin(hami_cuda_current_device(), bytesize, api, &p) != 0)
        return CUDA_ERROR_OUT_OF_MEMORY;
    CUresult rc = real(dptr, bytesize, stream);
    return settle(&p, rc, HAMI_ALLOC_DEVPTR, rc == CUDA_SUCCESS ? *dptr : 0, undo_devptr);
}

CUresult cuMemAllocAsync(CUdeviceptr *dptr, size_t bytesize, CUstream hStream)
{
    return alloc_async(HAMI_REAL(cuMemAllocAsync), "cuMemAllocAsync", dptr, bytesize, hStream);
}

CUresult cuMemAllocAsync_ptsz(CUdeviceptr *dptr, size_t bytesize, CUstream hStream)
{
    return alloc_async(HAMI_REAL(cuMemAllocAsync_ptsz), "cuMemAllocAsync_ptsz", dptr, bytesize,
                       hStream);
}

static CUresult alloc_from_pool(cuMemAllocFromPoolAsync_fn real, const char *api,
                                CUdeviceptr *dptr, size_t bytesize, CUmemoryPool pool,
                                CUstream stream)
{
    if (!real)
        return CUDA_ERROR_NOT_FOUND;
    hami_hook_pending_alloc p;
    if (hami_hook_alloc_begin(hami_cuda_current_device(), bytesize, api, &p) != 0)
        return CUDA_ERROR_OUT_OF_MEMORY;
    CUresult rc = real(dptr, bytesize, pool, stream);
    return settle(&p, rc, HAMI_ALLOC_DEVPTR, rc == CUDA_SUCCESS ? *dptr : 0, undo_devptr);
}

CUresult cuMemAllocFromPoolAsync(CUdeviceptr *dptr, size_t bytesize, CUmemoryPool pool,
                                 CUstream hStream)
{
    return alloc_from_pool(HAMI_REAL(cuMemAllocFromPoolAsync), "cuMemAllocFromPoolAsync", dptr,
                           bytesize, pool, hStream);
}

CUresult cuMemAllocFromPoolAsync_ptsz(CUdeviceptr *dptr, size_t bytesize, CUmemoryPool pool,
                                      CUstream hStream)
{
    return alloc_from_pool(HAMI_REAL(cuMemAllocFromPoolAsync_ptsz),
                           "cuMemAllocFromPoolAsync_ptsz", dptr, bytesize, pool, hStream);
}

CUresult cuMemFree_v2(CUdeviceptr dptr)
{
    cuMemFree_v2_fn real = HAMI_REAL(cuMemFree_v2);
    if (!real)
        return CUDA_ERROR_NOT_FOUND;
    hami_alloc_record record;
    hami_hook_forget_begin(HAMI_ALLOC_DEVPTR, dptr, &record);
    CUresult rc = real(dptr);
    hami_hook_forget_end(HAMI_ALLOC_DEVPTR, dptr, &record, rc == CUDA_SUCCESS);
    return rc;
}

static CUresult free_async(cuMemFreeAsync_fn real, CUdeviceptr dptr, CUstream stream)
{
    if (!real)
        return CUDA_ERROR_NOT_FOUND;
    hami_alloc_record record;
    hami_hook_forget_begin(HAMI_ALLOC_DEVPTR, dptr, &record);
    CUresult rc = real(dptr, stream);
    hami_hook_forget_end(HAMI_ALLOC_DEVPTR, dptr, &record, rc == CUDA_SUCCESS);
    return rc;
}

CUresult cuMemFreeAsync(CUdeviceptr dptr, CUstream hStream)
{
    return free_async(HAMI_REAL(cuMemFreeAsync), dptr, hStream);
}

CUresult cuMemFreeAsync_ptsz(CUdeviceptr dptr, CUstream hStream)
{
    return free_async(HAMI_REAL(cuMemFreeAsync_ptsz), dptr, hStream);
}

/* ----------------------------------------------------------------- VMM handles -- */

CUresult cuMemCreate(CUmemGenericAllocationHandle *handle, size_t size,
                     const CUmemAllocationProp *prop, unsigned long long flags)
{
    cuMemCreate_fn real = HAMI_REAL(cuMemCreate);
    if (!real)
        return CUDA_ERROR_NOT_FOUND;
    hami_hook_device *dev = NULL;
    if (prop && prop->location.type == CU_MEM_LOCATION_TYPE_DEVICE)
        dev = hami_cuda_device(prop->location.id);
    hami_hook_pending_alloc p;
    if (hami_hook_alloc_begin(dev, size, "cuMemCreate", &p) != 0)
        return CUDA_ERROR_OUT_OF_MEMORY;
    CUresult rc = real(handle, size, prop, flags);
    return settle(&p, rc, HAMI_ALLOC_VMM_HANDLE, rc == CUDA_SUCCESS ? *handle : 0, undo_vmm);
}

CUresult cuMemRelease(CUmemGenericAllocationHandle handle)
{
    cuMemRelease_fn real = HAMI_REAL(cuMemRelease);
    if (!real)
        return CUDA_ERROR_NOT_FOUND;
    hami_alloc_record record;
    hami_hook_forget_begin(HAMI_ALLOC_VMM_HANDLE, handle, &record);
    CUresult rc = real(handle);
    hami_hook_forget_end(HAMI_ALLOC_VMM_HANDLE, handle, &record, rc == CUDA_SUCCESS);
    return rc;
}

/* ----------------------------------------------------------------- arrays -- */

CUresult cuArrayCreate_v2(CUarray *pHandle, const CUDA_ARRAY_DESCRIPTOR *pAllocateArray)
{
    cuArrayCreate_v2_fn real = HAMI_REAL(cuArrayCreate_v2);
    if (!real)
        return CUDA_ERROR_NOT_FOUND;
    uint64_t bytes = hami_cuda_array_bytes(pAllocateArray);
    hami_hook_pending_alloc p;
    /* 0 bytes: a descriptor the driver will reject (unknown format, overflow); not counted. */
    if (hami_hook_alloc_begin(bytes ? hami_cuda_current_device() : NULL, bytes,
                              "cuArrayCreate_v2", &p) != 0)
        return CUDA_ERROR_OUT_OF_MEMORY;
    CUresult rc = real(pHandle, pAllocateArray);
    return settle(&p, rc, HAMI_ALLOC_ARRAY, rc == CUDA_SUCCESS ? (uintptr_t)*pHandle : 0,
                  undo_array);
}

CUresult cuArray3DCreate_v2(CUarray *pHandle, const CUDA_ARRAY3D_DESCRIPTOR *pAllocateArray)
{
    cuArray3DCreate_v2_fn real = HAMI_REAL(cuArray3DCreate_v2);
    if (!real)
        return CUDA_ERROR_NOT_FOUND;
    uint64_t bytes = hami_cuda_array3d_bytes(pAllocateArray);
    hami_hook_pending_alloc p;
    if (hami_hook_alloc_begin(bytes ? hami_cuda_current_device() : NULL, bytes,
                              "cuArray3DCreate_v2", &p) != 0)
        return CUDA_ERROR_OUT_OF_MEMORY;
    CUresult rc = real(pHandle, pAllocateArray);
    return settle(&p, rc, HAMI_ALLOC_ARRAY, rc == CUDA_SUCCESS ? (uintptr_t)*pHandle : 0,
                  undo_array);
}

CUresult cuArrayDestroy(CUarray hArray)
{
    cuArrayDestroy_fn real = HAMI_REAL(cuArrayDestroy);
    if (!real)
        return CUDA_ERROR_NOT_FOUND;
    hami_alloc_record record;
    hami_hook_forget_begin(HAMI_ALLOC_ARRAY, (uintptr_t)hArray, &record);
    CUresult rc = real(hArray);
    hami_hook_forget_end(HAMI_ALLOC_ARRAY, (uintptr_t)hArray, &record, rc == CUDA_SUCCESS);
    return rc;
}

CUresult cuMipmappedArrayCreate(CUmipmappedArray *pHandle,
                                const CUDA_ARRAY3D_DESCRIPTOR *pMipmappedArrayDesc,
                                unsigned int numMipmapLevels)
{
    cuMipmappedArrayCreate_fn real = HAMI_REAL(cuMipmappedArrayCreate);
    if (!real)
        return CUDA_ERROR_NOT_FOUND;
    uint64_t bytes = hami_cuda_mipmapped_array_bytes(pMipmappedArrayDesc, numMipmapLevels);
    hami_hook_pending_alloc p;
    if (hami_hook_alloc_begin(bytes ? hami_cuda_current_device() : NULL, bytes,
                              "cuMipmappedArrayCreate", &p) != 0)
        return CUDA_ERROR_OUT_OF_MEMORY;
    CUresult rc = real(pHandle, pMipmappedArrayDesc, numMipmapLevels);
    return settle(&p, rc, HAMI_ALLOC_MIPMAPPED_ARRAY, rc == CUDA_SUCCESS ? (uintptr_t)*pHandle : 0,
                  undo_mipmapped);
}

CUresult cuMipmappedArrayDestroy(CUmipmappedArray hMipmappedArray)
{
    cuMipmappedArrayDestroy_fn real = HAMI_REAL(cuMipmappedArrayDestroy);
    if (!real)
        return CUDA_ERROR_NOT_FOUND;
    hami_alloc_record record;
    uint64_t key = (uintptr_t)hMipmappedArray;
    hami_hook_forget_begin(HAMI_ALLOC_MIPMAPPED_ARRAY, key, &record);
    CUresult rc = real(hMipmappedArray);
    hami_hook_forget_end(HAMI_ALLOC_MIPMAPPED_ARRAY, key, &record, rc == CUDA_SUCCESS);
    return rc;
}
