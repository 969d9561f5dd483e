/*
 * Simulated libcuda.so.1: device memory.  Every allocation kind charges the engine (the device's
 * capacity is shared by all processes; past it: CUDA_ERROR_OUT_OF_MEMORY) and is recorded in the
 * process-local allocation table so that its free releases exactly what was charged:
 *   cuMemAlloc_v2 / cuMemAllocPitch_v2 (pitch rounded up to 512, bytes = pitch * height) /
 *   cuMemAllocManaged (backed by host memory so the host can touch it) / cuMemAllocAsync and
 *   cuMemAllocFromPoolAsync (charged when allocated, released when freed: the simulated pools
 *   keep nothing cached) / cuMemCreate (a physical handle charges at creation and releases at
 *   cuMemRelease, mapped or not) / arrays and mipmapped arrays (bytes per hami/cuda_sizes.h).
 * Device memory is not backed: copies and memsets validate their arguments and succeed.
 * Device addresses come from a process-local bump counter above 2^48 (never reused, never a
 * host address).  Host allocations (cuMemAllocHost_v2, cuMemHostAlloc) are real host memory
 * and do not charge the device.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "hami/cuda_sizes.h"
#include "sim_cuda.h"

#define DEVICE_ALIGN_BYTES 512ull
#define PITCH_ALIGN_BYTES 512ull
#define VMM_GRANULARITY_BYTES (2ull << 20)
#define POOL_TAG 0x504f4f4cu /* "POOL" */

typedef struct sim_mem_pool {
    _Atomic uint32_t tag;
    int device; /* physical */
} sim_mem_pool;

SIM_POOL_DEFINE(g_mem_pools, sim_mem_pool, 256, POOL_TAG);
static sim_mem_pool *g_default_pools[HAMI_SIM_MAX_DEVICES];
static pthread_mutex_t g_default_pool_lock = PTHREAD_MUTEX_INITIALIZER;

static _Atomic uint64_t g_next_device_address = 1ull << 48;
static _Atomic uint64_t g_next_handle = 0x7100000000000000ull;

static uint64_t new_device_address(uint64_t bytes, uint64_t align)
{
    if (align < DEVICE_ALIGN_BYTES)
        align = DEVICE_ALIGN_BYTES;
    uint64_t span = (bytes + align - 1) / align * align + align;
    uint64_t base = atomic_fetch_add_explicit(&g_next_device_address, span, memory_order_relaxed);
    return (base + align - 1) / align * align;
}

static uint64_t new_handle(void)
{
    return atomic_fetch_add_explicit(&g_next_handle, 64, memory_order_relaxed);
}

/* The physical device of the calling thread's current context. */
static CUresult current_device(int *device)
{
    CUresult r = sim_check_init();
    if (r)
        return r;
    sim_context *ctx = sim_current_context();
    if (!ctx)
        return CUDA_ERROR_INVALID_CONTEXT;
    *device = ctx->device;
    return CUDA_SUCCESS;
}

/* Charge, then record under `key`; on a full table the charge is rolled back. */
static CUresult charge_and_record(int device, uint64_t bytes, uint64_t key, int kind)
{
    if (sim_engine_mem_charge(device, bytes) != 0)
        return CUDA_ERROR_OUT_OF_MEMORY;
    if (sim_alloc_insert(key, bytes, device, kind) != 0) {
        sim_engine_mem_release(device, bytes);
        return CUDA_ERROR_OUT_OF_MEMORY;
    }
    return CUDA_SUCCESS;
}

static CUresult alloc_device(CUdeviceptr *dptr, uint64_t bytes, int device, int kind)
{
    uint64_t address = new_device_address(bytes, DEVICE_ALIGN_BYTES);
    CUresult r = charge_and_record(device, bytes, address, kind);
    if (r == CUDA_SUCCESS)
        *dptr = address;
    return r;
}

static CUresult release_recorded(uint64_t key, unsigned kinds)
{
    uint64_t bytes = 0;
    int device = -1, kind = 0;
    if (sim_alloc_remove(key, kinds, &bytes, &device, &kind) != 0)
        return CUDA_ERROR_INVALID_VALUE;
    if (kind != SIM_ALLOC_HOST && kind != SIM_ALLOC_RESERVE)
        sim_engine_mem_release(device, bytes);
    if (kind == SIM_ALLOC_MANAGED)
        munmap((void *)(uintptr_t)key, bytes);
    else if (kind == SIM_ALLOC_HOST)
        free((void *)(uintptr_t)key);
    return CUDA_SUCCESS;
}

SIM_API CUresult cuMemAlloc_v2(CUdeviceptr *dptr, size_t bytesize)
{
    int device;
    CUresult r = current_device(&device);
    if (r)
        return r;
    if (!dptr || bytesize == 0)
        return CUDA_ERROR_INVALID_VALUE;
    return alloc_device(dptr, bytesize, device, SIM_ALLOC_DEVICE);
}

SIM_API CUresult cuMemAllocPitch_v2(CUdeviceptr *dptr, size_t *pitch, size_t width_bytes,
                                    size_t height, unsigned int element_bytes)
{
    int device;
    CUresult r = current_device(&device);
    if (r)
        return r;
    if (!dptr || !pitch || width_bytes == 0 || height == 0 ||
        (element_bytes != 4 && element_bytes != 8 && element_bytes != 16))
        return CUDA_ERROR_INVALID_VALUE;
    uint64_t rounded = (width_bytes + PITCH_ALIGN_BYTES - 1) / PITCH_ALIGN_BYTES * PITCH_ALIGN_BYTES;
    uint64_t bytes;
    if (__builtin_mul_overflow(rounded, (uint64_t)height, &bytes))
        return CUDA_ERROR_OUT_OF_MEMORY;
    r = alloc_device(dptr, bytes, device, SIM_ALLOC_DEVICE);
    if (r == CUDA_SUCCESS)
        *pitch = (size_t)rounded;
    return r;
}

SIM_API CUresult cuMemAllocManaged(CUdeviceptr *dptr, size_t bytesize, unsigned int flags)
{
    int device;
    CUresult r = current_device(&device);
    if (r)
        return r;
    if (!dptr || bytesize == 0 || (flags != CU_MEM_ATTACH_GLOBAL && flags != CU_MEM_ATTACH_HOST))
        return CUDA_ERROR_INVALID_VALUE;
    if (sim_engine_mem_charge(device, bytesize) != 0)
        return CUDA_ERROR_OUT_OF_MEMORY;
    void *host = mmap(NULL, bytesize, PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (host == MAP_FAILED) {
        sim_engine_mem_release(device, bytesize);
        return CUDA_ERROR_OUT_OF_MEMORY;
    }
    if (sim_alloc_insert((uint64_t)(uintptr_t)host, bytesize, device, SIM_ALLOC_MANAGED) != 0) {
        munmap(host, bytesize);
        sim_engine_mem_release(device, bytesize);
        return CUDA_ERROR_OUT_OF_MEMORY;
    }
    *dptr = (CUdeviceptr)(uintptr_t)host;
    return CUDA_SUCCESS;
}

#define FREEABLE_KINDS                                                                          \
    (SIM_KIND_BIT(SIM_ALLOC_DEVICE) | SIM_KIND_BIT(SIM_ALLOC_MANAGED) | SIM_KIND_BIT(SIM_ALLOC_POOL))

/* cuMemFree_v2(0) is a no-op that succeeds; a pointer this process did not allocate (or already
 * freed) gives CUDA_ERROR_INVALID_VALUE and changes no counter. */
SIM_API CUresult cuMemFree_v2(CUdeviceptr dptr)
{
    CUresult r = sim_check_init();
    if (r)
        return r;
    if (dptr == 0)
        return CUDA_SUCCESS;
    return release_recorded(dptr, FREEABLE_KINDS);
}

/* free: capacity minus what every process holds; NULL pointers are allowed (OptiX passes one). */
SIM_API CUresult cuMemGetInfo_v2(size_t *free_bytes, size_t *total_bytes)
{
    int device;
    CUresult r = current_device(&device);
    if (r)
        return r;
    sim_state *st = sim_engine_state();
    sim_engine_reclaim_dead(st); /* memory of killed processes returns, as with the driver */
    const sim_device_state *d = &st->dev[device];
    uint64_t used = atomic_load(&d->used_bytes);
    if (free_bytes)
        *free_bytes = (size_t)(used < d->capacity_bytes ? d->capacity_bytes - used : 0);
    if (total_bytes)
        *total_bytes = (size_t)d->capacity_bytes;
    return CUDA_SUCCESS;
}

static CUresult host_alloc(void **pp, size_t bytesize)
{
    CUresult r = sim_check_init();
    if (r)
        return r;
    if (!pp || bytesize == 0)
        return CUDA_ERROR_INVALID_VALUE;
    void *p = NULL;
    if (posix_memalign(&p, 4096, bytesize) != 0)
        return CUDA_ERROR_OUT_OF_MEMORY;
    if (sim_alloc_insert((uint64_t)(uintptr_t)p, bytesize, -1, SIM_ALLOC_HOST) != 0) {
        free(p);
        return CUDA_ERROR_OUT_OF_MEMORY;
    }
    *pp = p;
    return CUDA_SUCCESS;
}

SIM_API CUresult cuMemAllocHost_v2(void **pp, size_t bytesize) { return host_alloc(pp, bytesize); }

SIM_API CUresult cuMemHostAlloc(void **pp, size_t bytesize, unsigned int flags)
{
    (void)flags;
    return host_alloc(pp, bytesize);
}

SIM_API CUresult cuMemFreeHost(void *p)
{
    CUresult r = sim_check_init();
    if (r)
        return r;
    if (!p)
        return CUDA_ERROR_INVALID_VALUE;
    return release_recorded((uint64_t)(uintptr_t)p, SIM_KIND_BIT(SIM_ALLOC_HOST));
}

/* ---- copies and memsets: validated, not performed (device memory is not backed) */

SIM_API CUresult cuMemcpyHtoD_v2(CUdeviceptr dst, const void *src, size_t bytes)
{
    CUresult r = sim_check_init();
    if (r)
        return r;
    return (bytes && (!dst || !src)) ? CUDA_ERROR_INVALID_VALUE : CUDA_SUCCESS;
}

SIM_API CUresult cuMemcpyDtoH_v2(void *dst, CUdeviceptr src, size_t bytes)
{
    CUresult r = sim_check_init();
    if (r)
        return r;
    return (bytes && (!dst || !src)) ? CUDA_ERROR_INVALID_VALUE : CUDA_SUCCESS;
}

SIM_API CUresult cuMemcpyDtoD_v2(CUdeviceptr dst, CUdeviceptr src, size_t bytes)
{
    CUresult r = sim_check_init();
    if (r)
        return r;
    return (bytes && (!dst || !src)) ? CUDA_ERROR_INVALID_VALUE : CUDA_SUCCESS;
}

SIM_API CUresult cuMemsetD8_v2(CUdeviceptr dst, unsigned char value, size_t count)
{
    (void)value;
    CUresult r = sim_check_init();
    if (r)
        return r;
    return (count && !dst) ? CUDA_ERROR_INVALID_VALUE : CUDA_SUCCESS;
}

SIM_API CUresult cuMemcpyHtoD_v2_ptds(CUdeviceptr, const void *, size_t)
    __attribute__((alias("cuMemcpyHtoD_v2")));
SIM_API CUresult cuMemcpyDtoH_v2_ptds(void *, CUdeviceptr, size_t)
    __attribute__((alias("cuMemcpyDtoH_v2")));
SIM_API CUresult cuMemcpyDtoD_v2_ptds(CUdeviceptr, CUdeviceptr, size_t)
    __attribute__((alias("cuMemcpyDtoD_v2")));
SIM_API CUresult cuMemsetD8_v2_ptds(CUdeviceptr, unsigned char, size_t)
    __attribute__((alias("cuMemsetD8_v2")));

/* ---- stream-ordered allocation and pools */

static sim_mem_pool *default_pool(int device)
{
    pthread_mutex_lock(&g_default_pool_lock);
    if (!g_default_pools[device]) {
        sim_mem_pool *p = sim_pool_alloc(&g_mem_pools);
        if (p)
            p->device = device;
        g_default_pools[device] = p;
    }
    sim_mem_pool *p = g_default_pools[device];
    pthread_mutex_unlock(&g_default_pool_lock);
    return p;
}

SIM_API CUresult cuDeviceGetDefaultMemPool(CUmemoryPool *pool, CUdevice dev)
{
    CUresult r = sim_check_init();
    if (r)
        return r;
    if (!pool)
        return CUDA_ERROR_INVALID_VALUE;
    int phys = sim_physical_device(dev);
    if (phys < 0)
        return CUDA_ERROR_INVALID_DEVICE;
    sim_mem_pool *p = default_pool(phys);
    if (!p)
        return CUDA_ERROR_OUT_OF_MEMORY;
    *pool = (CUmemoryPool)p;
    return CUDA_SUCCESS;
}

SIM_API CUresult cuMemPoolCreate(CUmemoryPool *pool, const CUmemPoolProps *props)
{
    CUresult r = sim_check_init();
    if (r)
        return r;
    if (!pool || !props || props->location.type != CU_MEM_LOCATION_TYPE_DEVICE)
        return CUDA_ERROR_INVALID_VALUE;
    int phys = sim_physical_device(props->location.id);
    if (phys < 0)
        return CUDA_ERROR_INVALID_DEVICE;
    sim_mem_pool *p = sim_pool_alloc(&g_mem_pools);
    if (!p)
        return CUDA_ERROR_OUT_OF_MEMORY;
    p->device = phys;
    *pool = (CUmemoryPool)p;
    return CUDA_SUCCESS;
}

SIM_API CUresult cuMemPoolDestroy(CUmemoryPool pool)
{
    CUresult r = sim_check_init();
    if (r)
        return r;
    sim_mem_pool *p = sim_pool_get(&g_mem_pools, pool);
    if (!p)
        return CUDA_ERROR_INVALID_VALUE;
    for (int i = 0; i < HAMI_SIM_MAX_DEVICES; i++)
        if (g_default_pools[i] == p)
            return CUDA_ERROR_INVALID_VALUE; /* a default pool cannot be destroyed */
    sim_pool_free(&g_mem_pools, p);
    return CUDA_SUCCESS;
}

SIM_API CUresult cuMemAllocFromPoolAsync(CUdeviceptr *dptr, size_t bytesize, CUmemoryPool pool,
                                         CUstream stream)
{
    CUresult r = sim_check_init();
    if (r)
        return r;
    sim_context *ctx = sim_current_context();
    if (!ctx)
        return CUDA_ERROR_INVALID_CONTEXT;
    sim_mem_pool *p = sim_pool_get(&g_mem_pools, pool);
    if (!p)
        return CUDA_ERROR_INVALID_VALUE;
    if (!sim_stream_resolve(ctx, stream))
        return CUDA_ERROR_INVALID_HANDLE;
    if (!dptr || bytesize == 0)
        return CUDA_ERROR_INVALID_VALUE;
    return alloc_device(dptr, bytesize, p->device, SIM_ALLOC_POOL);
}

SIM_API CUresult cuMemAllocAsync(CUdeviceptr *dptr, size_t bytesize, CUstream stream)
{
    CUresult r = sim_check_init();
    if (r)
        return r;
    sim_context *ctx = sim_current_context();
    if (!ctx)
        return CUDA_ERROR_INVALID_CONTEXT;
    sim_stream *s = sim_stream_resolve(ctx, stream);
    if (!s)
        return CUDA_ERROR_INVALID_HANDLE;
    if (!dptr || bytesize == 0)
        return CUDA_ERROR_INVALID_VALUE;
    return alloc_device(dptr, bytesize, s->device, SIM_ALLOC_POOL);
}

SIM_API CUresult cuMemFreeAsync(CUdeviceptr dptr, CUstream stream)
{
    CUresult r = sim_check_init();
    if (r)
        return r;
    sim_context *ctx = sim_current_context();
    if (!ctx)
        return CUDA_ERROR_INVALID_CONTEXT;
    if (!sim_stream_resolve(ctx, stream))
        return CUDA_ERROR_INVALID_HANDLE;
    if (!dptr)
        return CUDA_ERROR_INVALID_VALUE;
    return release_recorded(dptr, FREEABLE_KINDS);
}

SIM_API CUresult cuMemAllocAsync_ptsz(CUdeviceptr *, size_t, CUstream)
    __attribute__((alias("cuMemAllocAsync")));
SIM_API CUresult cuMemFreeAsync_ptsz(CUdeviceptr, CUstream) __attribute__((alias("cuMemFreeAsync")));
SIM_API CUresult cuMemAllocFromPoolAsync_ptsz(CUdeviceptr *, size_t, CUmemoryPool, CUstream)
    __attribute__((alias("cuMemAllocFromPoolAsync")));

/* ---- virtual memory management */

SIM_API CUresult cuMemGetAllocationGranularity(size_t *granularity, const CUmemAllocationProp *prop,
                                               CUmemAllocationGranularity_flags option)
{
    (void)option;
    CUresult r = sim_check_init();
    if (r)
        return r;
    if (!granularity || !prop)
        return CUDA_ERROR_INVALID_VALUE;
    *granularity = (size_t)VMM_GRANULARITY_BYTES;
    return CUDA_SUCCESS;
}

SIM_API CUresult cuMemCreate(CUmemGenericAllocationHandle *handle, size_t size,
                             const CUmemAllocationProp *prop, unsigned long long flags)
{
    CUresult r = sim_check_init();
    if (r)
        return r;
    if (!handle || !prop || flags != 0 || size == 0 || size % VMM_GRANULARITY_BYTES ||
        prop->type != CU_MEM_ALLOCATION_TYPE_PINNED ||
        prop->location.type != CU_MEM_LOCATION_TYPE_DEVICE)
        return CUDA_ERROR_INVALID_VALUE;
    int phys = sim_physical_device(prop->location.id);
    if (phys < 0)
        return CUDA_ERROR_INVALID_DEVICE;
    uint64_t id = new_handle();
    r = charge_and_record(phys, size, id, SIM_ALLOC_PHYS);
    if (r == CUDA_SUCCESS)
        *handle = id;
    return r;
}

SIM_API CUresult cuMemRelease(CUmemGenericAllocationHandle handle)
{
    CUresult r = sim_check_init();
    if (r)
        return r;
    return release_recorded(handle, SIM_KIND_BIT(SIM_ALLOC_PHYS)) ? CUDA_ERROR_INVALID_VALUE
                                                                    : CUDA_SUCCESS;
}

SIM_API CUresult cuMemAddressReserve(CUdeviceptr *ptr, size_t size, size_t alignment,
                                     CUdeviceptr addr, unsigned long long flags)
{
    (void)addr; /* a hint only */
    CUresult r = sim_check_init();
    if (r)
        return r;
    if (!ptr || size == 0 || flags != 0 || (alignment & (alignment - 1)))
        return CUDA_ERROR_INVALID_VALUE;
    uint64_t address = new_device_address(size, alignment ? alignment : VMM_GRANULARITY_BYTES);
    if (sim_alloc_insert(address, size, -1, SIM_ALLOC_RESERVE) != 0)
        return CUDA_ERROR_OUT_OF_MEMORY;
    *ptr = address;
    return CUDA_SUCCESS;
}

SIM_API CUresult cuMemAddressFree(CUdeviceptr ptr, size_t size)
{
    (void)size;
    CUresult r = sim_check_init();
    if (r)
        return r;
    return release_recorded(ptr, SIM_KIND_BIT(SIM_ALLOC_RESERVE));
}

SIM_API CUresult cuMemMap(CUdeviceptr ptr, size_t size, size_t offset,
                          CUmemGenericAllocationHandle handle, unsigned long long flags)
{
    CUresult r = sim_check_init();
    if (r)
        return r;
    uint64_t phys_bytes = 0;
    if (!ptr || size == 0 || flags != 0)
        return CUDA_ERROR_INVALID_VALUE;
    if (sim_alloc_find(handle, SIM_KIND_BIT(SIM_ALLOC_PHYS), &phys_bytes, NULL) != 0)
        return CUDA_ERROR_INVALID_HANDLE;
    if (offset > phys_bytes || size > phys_bytes - offset)
        return CUDA_ERROR_INVALID_VALUE;
    return CUDA_SUCCESS;
}

SIM_API CUresult cuMemUnmap(CUdeviceptr ptr, size_t size)
{
    CUresult r = sim_check_init();
    if (r)
        return r;
    return (!ptr || size == 0) ? CUDA_ERROR_INVALID_VALUE : CUDA_SUCCESS;
}

SIM_API CUresult cuMemSetAccess(CUdeviceptr ptr, size_t size, const CUmemAccessDesc *desc,
                                size_t count)
{
    CUresult r = sim_check_init();
    if (r)
        return r;
    return (!ptr || size == 0 || !desc || count == 0) ? CUDA_ERROR_INVALID_VALUE : CUDA_SUCCESS;
}

/* ---- arrays */

static CUresult create_array_like(uint64_t bytes, uint64_t *out_handle, int kind)
{
    int device;
    CUresult r = current_device(&device);
    if (r)
        return r;
    if (bytes == 0)
        return CUDA_ERROR_INVALID_VALUE;
    uint64_t id = new_handle();
    r = charge_and_record(device, bytes, id, kind);
    if (r == CUDA_SUCCESS)
        *out_handle = id;
    return r;
}

SIM_API CUresult cuArrayCreate_v2(CUarray *handle, const CUDA_ARRAY_DESCRIPTOR *desc)
{
    if (!handle || !desc)
        return sim_check_init() ? sim_check_init() : CUDA_ERROR_INVALID_VALUE;
    uint64_t id = 0;
    CUresult r = create_array_like(hami_cuda_array_bytes(desc), &id, SIM_ALLOC_ARRAY);
    if (r == CUDA_SUCCESS)
        *handle = (CUarray)(uintptr_t)id;
    return r;
}

SIM_API CUresult cuArray3DCreate_v2(CUarray *handle, const CUDA_ARRAY3D_DESCRIPTOR *desc)
{
    if (!handle || !desc)
        return sim_check_init() ? sim_check_init() : CUDA_ERROR_INVALID_VALUE;
    uint64_t id = 0;
    CUresult r = create_array_like(hami_cuda_array3d_bytes(desc), &id, SIM_ALLOC_ARRAY);
    if (r == CUDA_SUCCESS)
        *handle = (CUarray)(uintptr_t)id;
    return r;
}

SIM_API CUresult cuArrayDestroy(CUarray handle)
{
    CUresult r = sim_check_init();
    if (r)
        return r;
    return release_recorded((uint64_t)(uintptr_t)handle, SIM_KIND_BIT(SIM_ALLOC_ARRAY))
               ? CUDA_ERROR_INVALID_HANDLE
               : CUDA_SUCCESS;
}

SIM_API CUresult cuMipmappedArrayCreate(CUmipmappedArray *handle,
                                        const CUDA_ARRAY3D_DESCRIPTOR *desc, unsigned int levels)
{
    if (!handle || !desc || levels == 0)
        return sim_check_init() ? sim_check_init() : CUDA_ERROR_INVALID_VALUE;
    uint64_t id = 0;
    CUresult r =
        create_array_like(hami_cuda_mipmapped_array_bytes(desc, levels), &id, SIM_ALLOC_MIPMAP);
    if (r == CUDA_SUCCESS)
        *handle = (CUmipmappedArray)(uintptr_t)id;
    return r;
}

SIM_API CUresult cuMipmappedArrayDestroy(CUmipmappedArray handle)
{
    CUresult r = sim_check_init();
    if (r)
        return r;
    return release_recorded((uint64_t)(uintptr_t)handle, SIM_KIND_BIT(SIM_ALLOC_MIPMAP))
               ? CUDA_ERROR_INVALID_HANDLE
               : CUDA_SUCCESS;
}
