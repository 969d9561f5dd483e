/*
 * Owns NVML memory-information virtualisation: nvmlDeviceGetMemoryInfo and
 * nvmlDeviceGetMemoryInfo_v2 report total = the device's live cap, free = min(cap - container
 * use, the driver's real free), used = the container's use; devices without a cap pass
 * through.  Reached by direct linking and by dlsym on the libnvidia-ml handle (resolve.c);
 * the real libnvidia-ml.so.1 is dlopen'ed only when an NVML hook is first used.
 *
 * Device identity: nvmlDevice_t -> NVML index (nvmlDeviceGetIndex) -> UUID (nvmlDeviceGetUUID)
 * -> region entry.  The per-device limits of the environment are numbered the way CUDA numbers
 * devices, so the NVML device's CUDA ordinal is its position in CUDA_VISIBLE_DEVICES (indexes
 * or GPU-UUID prefixes; parsing stops at the first entry CUDA would reject), or its NVML index
 * when that variable is unset.  A GPU that CUDA_VISIBLE_DEVICES hides gets no environment
 * limits; it is virtualised only if another process already registered it in the region.
 */
#include <stdlib.h>
#include <string.h>

#include "../cuda/hook_state.h"
#include "../cuda/resolve.h"

static hami_hook_device nvml_devices[HAMI_MAX_DEVICES]; /* by NVML index */

/* The CUDA ordinal of NVML device (index, uuid) under CUDA_VISIBLE_DEVICES, or -1. */
static int cuda_ordinal_of(unsigned index, const char *uuid)
{
    const char *visible = getenv("CUDA_VISIBLE_DEVICES");
    if (!visible)
        return (int)index;
    int position = 0;
    const char *p = visible;
    while (*p) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        while (len && *p == ' ') {
            p++;
            len--;
        }
        if (len == 0)
            return -1;
        if (*p >= '0' && *p <= '9') {
            char *stop;
            unsigned long v = strtoul(p, &stop, 10);
            if ((size_t)(stop - p) != len)
                return -1; /* CUDA stops at the first malformed entry */
            if (v == index)
                return position;
        } else if (strncmp(p, "GPU-", 4) == 0) {
            if (strncmp(uuid, p, len) == 0)
                return position;
        } else {
            return -1; /* MIG-... and anything else: not handled here */
        }
        position++;
        if (!end)
            break;
        p = end + 1;
    }
    return -1;
}

static hami_hook_device *nvml_device(nvmlDevice_t handle, uint64_t card_total_bytes)
{
    nvmlDeviceGetIndex_fn get_index = HAMI_REAL(nvmlDeviceGetIndex);
    unsigned index;
    if (!get_index || get_index(handle, &index) != NVML_SUCCESS || index >= HAMI_MAX_DEVICES)
        return NULL;
    hami_hook_device *dev = &nvml_devices[index];
    if (atomic_load_explicit(&dev->ready, memory_order_acquire))
        return dev;
    nvmlDeviceGetUUID_fn get_uuid = HAMI_REAL(nvmlDeviceGetUUID);
    char uuid[NVML_DEVICE_UUID_V2_BUFFER_SIZE];
    if (!get_uuid || get_uuid(handle, uuid, sizeof uuid) != NVML_SUCCESS)
        return NULL;
    hami_hook_bind_device(dev, HAMI_VENDOR_CUDA, cuda_ordinal_of(index, uuid), uuid,
                          card_total_bytes);
    return dev;
}

/* The driver answered (total, free, used) for `device`: put the device's virtualised view in
 * their place when it is capped.  Returns 1 when it did, 0 when the driver's values stand. */
static int virtualise(nvmlDevice_t device, unsigned long long *mem_total,
                      unsigned long long *mem_free, unsigned long long *mem_used)
{
    hami_hook_device *dev = nvml_device(device, *mem_total);
    uint64_t total, free_bytes, used;
    if (!dev || !hami_hook_memory_view(dev, *mem_free, &total, &free_bytes, &used))
        return 0;
    *mem_total = total;
    *mem_free = free_bytes;
    *mem_used = used;
    return 1;
}

nvmlReturn_t nvmlDeviceGetMemoryInfo(nvmlDevice_t device, nvmlMemory_t *memory)
{
    nvmlDeviceGetMemoryInfo_fn real = HAMI_REAL(nvmlDeviceGetMemoryInfo);
    if (!real)
        return NVML_ERROR_FUNCTION_NOT_FOUND;
    nvmlReturn_t rc = real(device, memory);
    if (rc != NVML_SUCCESS || !memory)
        return rc;
    virtualise(device, &memory->total, &memory->free, &memory->used);
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetMemoryInfo_v2(nvmlDevice_t device, nvmlMemory_v2_t *memory)
{
    nvmlDeviceGetMemoryInfo_v2_fn real = HAMI_REAL(nvmlDeviceGetMemoryInfo_v2);
    if (!real)
        return NVML_ERROR_FUNCTION_NOT_FOUND;
    nvmlReturn_t rc = real(device, memory);
    if (rc != NVML_SUCCESS || !memory)
        return rc;
    if (virtualise(device, &memory->total, &memory->free, &memory->used))
        memory->reserved = 0; /* the driver's reservation is not the container's */
    return NVML_SUCCESS;
}
