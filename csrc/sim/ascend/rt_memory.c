/*
 * Simulated CANN runtime: device memory (rtMalloc/rtFree), host memory (rtMallocHost), VMM
 * (rtReserveMemAddress, rtMallocPhysical, rtMapMem and their inverses) and rtMemGetInfoEx.
 *
 * Device memory is charged to the engine (per physical device and per process, given back
 * when a process dies) by exactly the size passed to rtMalloc / rtMallocPhysical; the device
 * is the calling thread's current context's (rtMalloc) or prop->devid (rtMallocPhysical).
 * Over capacity: ACL_ERROR_RT_MEMORY_ALLOCATION (207001).  Device addresses are never
 * dereferenced: they come from a per-process counter in a range no host mapping uses.
 * Reservations charge nothing (address space); mappings charge nothing (the physical handle
 * was charged).  HBM queries report the device, DDR queries 0/0 (a 910B has no device DDR).
 */
#include <stdlib.h>
#include <string.h>

#include "rt_sim.h"

#define DEVICE_VA_BASE 0x124000000000ull
#define RESERVE_VA_BASE 0x500000000000ull
#define PHYS_HANDLE_BASE 0x7e0000000000ull
#define DEVICE_ALIGN_BYTES 512ull
#define RESERVE_ALIGN_BYTES (2ull << 20)

static _Atomic uint64_t g_next_device_va = DEVICE_VA_BASE;
static _Atomic uint64_t g_next_reserve_va = RESERVE_VA_BASE;
static _Atomic uint64_t g_next_phys_handle = PHYS_HANDLE_BASE;

typedef struct reservation {
    uint64_t base;
    uint64_t bytes;
} reservation;
static pthread_mutex_t g_reserve_lock = PTHREAD_MUTEX_INITIALIZER;
static reservation *g_reservations;
static size_t g_reservation_count, g_reservation_capacity;

static uint64_t round_up(uint64_t v, uint64_t align) { return (v + align - 1) / align * align; }

/* ------------------------------------------------------------------ device memory */

RT_API rtError_t rtMalloc(void **devPtr, uint64_t size, rtMemType_t type, uint16_t moduleId)
{
    (void)type;
    (void)moduleId;
    rt_context *c;
    rtError_t r = rt_current(&c);
    if (r)
        return r;
    if (!devPtr || size == 0 || size > (1ull << 56))
        return ACL_ERROR_RT_PARAM_INVALID;
    if (sim_engine_mem_charge(c->device, size) != 0) {
        const sim_device_state *d = &rt_state()->dev[c->device];
        rt_set_error("out of device memory on NPU %d: %llu bytes requested, %llu of %llu in use",
                     c->logical, (unsigned long long)size,
                     (unsigned long long)atomic_load(&d->used_bytes),
                     (unsigned long long)d->capacity_bytes);
        return ACL_ERROR_RT_MEMORY_ALLOCATION;
    }
    uint64_t addr = atomic_fetch_add(&g_next_device_va, round_up(size, DEVICE_ALIGN_BYTES));
    if (sim_alloc_insert(addr, size, c->device, RT_ALLOC_DEVICE) != 0) {
        sim_engine_mem_release(c->device, size);
        return ACL_ERROR_RT_MEMORY_ALLOCATION;
    }
    *devPtr = (void *)(uintptr_t)addr;
    return RT_ERROR_NONE;
}

RT_API rtError_t rtFree(void *devPtr)
{
    rtError_t r = rt_check_init();
    if (r)
        return r;
    uint64_t bytes;
    int device;
    if (!devPtr)
        return ACL_ERROR_RT_PARAM_INVALID;
    if (sim_alloc_remove((uint64_t)(uintptr_t)devPtr, SIM_KIND_BIT(RT_ALLOC_DEVICE), &bytes,
                         &device, NULL) != 0) {
        rt_set_error("rtFree: %p is not a device allocation of this process", devPtr);
        return ACL_ERROR_RT_PARAM_INVALID;
    }
    sim_engine_mem_release(device, bytes);
    return RT_ERROR_NONE;
}

/* ------------------------------------------------------------------ host memory */

RT_API rtError_t rtMallocHost(void **hostPtr, uint64_t size, uint16_t moduleId)
{
    (void)moduleId;
    if (!hostPtr || size == 0)
        return ACL_ERROR_RT_PARAM_INVALID;
    void *p = NULL;
    if (posix_memalign(&p, 64, (size_t)size) != 0 || !p)
        return ACL_ERROR_RT_MEMORY_ALLOCATION;
    if (sim_alloc_insert((uint64_t)(uintptr_t)p, size, -1, RT_ALLOC_HOST) != 0) {
        free(p);
        return ACL_ERROR_RT_MEMORY_ALLOCATION;
    }
    *hostPtr = p;
    return RT_ERROR_NONE;
}

RT_API rtError_t rtFreeHost(void *hostPtr)
{
    if (!hostPtr || sim_alloc_remove((uint64_t)(uintptr_t)hostPtr, SIM_KIND_BIT(RT_ALLOC_HOST),
                                     NULL, NULL, NULL))
        return ACL_ERROR_RT_PARAM_INVALID;
    free(hostPtr);
    return RT_ERROR_NONE;
}

/* ------------------------------------------------------------------ VMM */

RT_API rtError_t rtMallocPhysical(rtDrvMemHandle *handle, size_t size, rtDrvMemProp_t *prop,
                                  uint64_t flags)
{
    rtError_t r = rt_check_init();
    if (r)
        return r;
    if (!handle || !prop || size == 0 || flags != 0)
        return ACL_ERROR_RT_PARAM_INVALID;
    int phys = rt_physical_device((int32_t)prop->devid);
    if (phys < 0)
        return ACL_ERROR_RT_INVALID_DEVICEID;
    if (sim_engine_mem_charge(phys, size) != 0) {
        rt_set_error("out of device memory on NPU %u: %zu bytes of physical memory requested",
                     prop->devid, size);
        return ACL_ERROR_RT_MEMORY_ALLOCATION;
    }
    uint64_t id = atomic_fetch_add(&g_next_phys_handle, 64);
    if (sim_alloc_insert(id, size, phys, RT_ALLOC_PHYS) != 0) {
        sim_engine_mem_release(phys, size);
        return ACL_ERROR_RT_MEMORY_ALLOCATION;
    }
    *handle = (rtDrvMemHandle)(uintptr_t)id;
    return RT_ERROR_NONE;
}

RT_API rtError_t rtFreePhysical(rtDrvMemHandle handle)
{
    rtError_t r = rt_check_init();
    if (r)
        return r;
    uint64_t bytes;
    int device;
    if (sim_alloc_remove((uint64_t)(uintptr_t)handle, SIM_KIND_BIT(RT_ALLOC_PHYS), &bytes,
                         &device, NULL) != 0)
        return ACL_ERROR_RT_INVALID_HANDLE;
    sim_engine_mem_release(device, bytes);
    return RT_ERROR_NONE;
}

RT_API rtError_t rtReserveMemAddress(void **devPtr, size_t size, size_t alignment, void *devAddr,
                                     uint64_t flags)
{
    (void)devAddr; /* a hint, as on the real runtime */
    (void)flags;
    rtError_t r = rt_check_init();
    if (r)
        return r;
    if (!devPtr || size == 0 || (alignment & (alignment - 1)))
        return ACL_ERROR_RT_PARAM_INVALID;
    uint64_t align = alignment > RESERVE_ALIGN_BYTES ? alignment : RESERVE_ALIGN_BYTES;
    uint64_t span = round_up(size, align) + align;
    uint64_t base = round_up(atomic_fetch_add(&g_next_reserve_va, span), align);
    pthread_mutex_lock(&g_reserve_lock);
    if (g_reservation_count == g_reservation_capacity) {
        size_t cap = g_reservation_capacity ? g_reservation_capacity * 2 : 64;
        reservation *grown = realloc(g_reservations, cap * sizeof *grown);
        if (!grown) {
            pthread_mutex_unlock(&g_reserve_lock);
            return ACL_ERROR_RT_MEMORY_ALLOCATION;
        }
        g_reservations = grown;
        g_reservation_capacity = cap;
    }
    g_reservations[g_reservation_count++] = (reservation){base, size};
    pthread_mutex_unlock(&g_reserve_lock);
    *devPtr = (void *)(uintptr_t)base;
    return RT_ERROR_NONE;
}

RT_API rtError_t rtReleaseMemAddress(void *devPtr)
{
    rtError_t r = rt_check_init();
    if (r)
        return r;
    uint64_t base = (uint64_t)(uintptr_t)devPtr;
    pthread_mutex_lock(&g_reserve_lock);
    for (size_t i = 0; i < g_reservation_count; i++) {
        if (g_reservations[i].base == base) {
            g_reservations[i] = g_reservations[--g_reservation_count];
            pthread_mutex_unlock(&g_reserve_lock);
            return RT_ERROR_NONE;
        }
    }
    pthread_mutex_unlock(&g_reserve_lock);
    return ACL_ERROR_RT_PARAM_INVALID;
}

static int inside_reservation(uint64_t addr, uint64_t bytes)
{
    int found = 0;
    pthread_mutex_lock(&g_reserve_lock);
    for (size_t i = 0; i < g_reservation_count && !found; i++) {
        const reservation *v = &g_reservations[i];
        found = addr >= v->base && bytes <= v->bytes && addr - v->base <= v->bytes - bytes;
    }
    pthread_mutex_unlock(&g_reserve_lock);
    return found;
}

RT_API rtError_t rtMapMem(void *devPtr, size_t size, size_t offset, rtDrvMemHandle handle,
                          uint64_t flags)
{
    (void)flags;
    rtError_t r = rt_check_init();
    if (r)
        return r;
    uint64_t phys_bytes;
    int device;
    if (sim_alloc_find((uint64_t)(uintptr_t)handle, SIM_KIND_BIT(RT_ALLOC_PHYS), &phys_bytes,
                       &device) != 0)
        return ACL_ERROR_RT_INVALID_HANDLE;
    uint64_t addr = (uint64_t)(uintptr_t)devPtr;
    if (!devPtr || size == 0 || offset > phys_bytes || size > phys_bytes - offset ||
        !inside_reservation(addr, size))
        return ACL_ERROR_RT_PARAM_INVALID;
    if (sim_alloc_find(addr, SIM_KIND_BIT(RT_ALLOC_MAP), NULL, NULL) == 0)
        return ACL_ERROR_RT_PARAM_INVALID; /* already mapped there */
    if (sim_alloc_insert(addr, size, device, RT_ALLOC_MAP) != 0)
        return ACL_ERROR_RT_MEMORY_ALLOCATION;
    return RT_ERROR_NONE;
}

RT_API rtError_t rtUnmapMem(void *devPtr)
{
    rtError_t r = rt_check_init();
    if (r)
        return r;
    if (sim_alloc_remove((uint64_t)(uintptr_t)devPtr, SIM_KIND_BIT(RT_ALLOC_MAP), NULL, NULL,
                         NULL) != 0)
        return ACL_ERROR_RT_PARAM_INVALID;
    return RT_ERROR_NONE;
}

/* ------------------------------------------------------------------ info */

RT_API rtError_t rtMemGetInfoEx(rtMemInfoType_t memInfoType, size_t *free_bytes,
                                size_t *total_bytes)
{
    rt_context *c;
    rtError_t r = rt_current(&c);
    if (r)
        return r;
    if (!free_bytes || !total_bytes)
        return ACL_ERROR_RT_PARAM_INVALID;
    switch (memInfoType) {
    case RT_MEMORYINFO_DDR:
    case RT_MEMORYINFO_DDR_HUGE:
    case RT_MEMORYINFO_DDR_NORMAL:
        *free_bytes = *total_bytes = 0;
        return RT_ERROR_NONE;
    case RT_MEMORYINFO_HBM:
    case RT_MEMORYINFO_HBM_HUGE:
    case RT_MEMORYINFO_HBM_NORMAL: {
        sim_state *st = sim_engine_state();
        sim_engine_reclaim_dead(st); /* a killed process's memory is free again */
        const sim_device_state *d = &st->dev[c->device];
        uint64_t used = atomic_load(&d->used_bytes);
        *total_bytes = (size_t)d->capacity_bytes;
        *free_bytes = (size_t)(used < d->capacity_bytes ? d->capacity_bytes - used : 0);
        return RT_ERROR_NONE;
    }
    default:
        return ACL_ERROR_RT_PARAM_INVALID;
    }
}

RT_API rtError_t rtMemGetInfo(size_t *free_bytes, size_t *total_bytes)
{
    return rtMemGetInfoEx(RT_MEMORYINFO_HBM, free_bytes, total_bytes);
}
