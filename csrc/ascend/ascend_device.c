/*
 * Owns the Ascend device bindings: for each logical device the process uses, its identity,
 * capacity and region entry, resolved once through the real libraries and cached in a
 * per-process array, so an allocation's hot path is one aclrtGetDevice/rtGetDevice plus an
 * array load.  The device of an allocation or submission is the calling thread's current device
 * at the time of the call (multi-device processes switch per thread), never device 0.
 *
 * Identity (the region key), first that works:
 *   1. the simulator's rtHamiSimDeviceInfo(logical) -> "NPU-xxxxxxxx-xxxx-..." (a UUID-like
 *      string per physical simulated device, distinct from its GPU- twin);
 *   2. real CANN has no UUID in ACL: "NPU-<physical id>" with the physical id from
 *      aclrtGetPhyDevIdByLogicDevId (only when libascendcl.so is already in use) or the
 *      runtime's rtGetDevicePhyIdByIndex; the physical id is what ASCEND_VISIBLE_DEVICES names
 *      and is stable for the node, so every container process sharing a card agrees on it;
 *   3. else the ordinal mapped through ASCEND_VISIBLE_DEVICES (its N-th numeric entry),
 *      else the ordinal itself: "NPU-<id>".
 * Capacity: the simulator's total, else aclrtGetDeviceInfo(ACL_DEV_ATTR_TOTAL_GLOBAL_MEM_SIZE)
 * of the real library (when libascendcl.so is in use), else 0 (unknown).
 * A logical id the runtime does not know (>= rtGetDeviceCount) is not bound: NULL.
 *
 * Also owns the current-device hooks (aclrtSetDevice, aclrtResetDevice, aclrtCreateContext,
 * aclrtDestroyContext, aclrtSetCurrentContext; rtSetDevice, rtDeviceReset, rtCtxCreate,
 * rtCtxDestroy, rtCtxSetCurrent): each drops the calling thread's cached submission device
 * (ascend_device.h) and passes the call through unchanged.  The cache is dropped BEFORE the
 * real call: the thread's next submission comes after the call returned, so it asks the
 * library whatever the call did (even if it failed half-way).  A context destroyed from
 * another thread makes this thread's submissions fail in the library; their tokens are
 * refunded (compute.h), so a stale cached device costs nothing.
 */
#include "ascend_device.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../cuda/resolve.h"

hami_hook_device hami_ascend_devices[HAMI_MAX_DEVICES];

/* The N-th entry of ASCEND_VISIBLE_DEVICES as a physical id, or -1. */
static int visible_physical_id(int32_t ordinal)
{
    const char *visible = getenv("ASCEND_VISIBLE_DEVICES");
    if (!visible || !*visible)
        return -1;
    int position = 0;
    for (const char *p = visible; *p;) {
        char *stop;
        long v = strtol(p, &stop, 10);
        if (stop == p || v < 0)
            return -1;
        if (position == ordinal)
            return (int)v;
        position++;
        if (*stop != ',')
            return -1;
        p = stop + 1;
    }
    return -1;
}

static int acl_in_use(void)
{
    return atomic_load_explicit(&hami_lib_resolved[HAMI_LIB_ACL], memory_order_acquire);
}

/* Identity and capacity of a real (non-simulated) device.  Returns 0, -1 when `ordinal` is not
 * a device of this process. */
static int real_device_identity(int32_t ordinal, char *uuid, size_t len, uint64_t *total_bytes)
{
    rtGetDeviceCount_fn get_count = HAMI_REAL(rtGetDeviceCount);
    int32_t count = 0;
    if (get_count && get_count(&count) == RT_ERROR_NONE && ordinal >= count)
        return -1;
    long physical = -1;
    if (acl_in_use()) {
        aclrtGetPhyDevIdByLogicDevId_fn logic_to_phy = HAMI_REAL(aclrtGetPhyDevIdByLogicDevId);
        int32_t phy = -1;
        if (logic_to_phy && logic_to_phy(ordinal, &phy) == ACL_SUCCESS && phy >= 0)
            physical = phy;
    }
    if (physical < 0) {
        rtGetDevicePhyIdByIndex_fn index_to_phy = HAMI_REAL(rtGetDevicePhyIdByIndex);
        uint32_t phy = 0;
        if (index_to_phy && index_to_phy((uint32_t)ordinal, &phy) == RT_ERROR_NONE)
            physical = phy;
    }
    if (physical < 0)
        physical = visible_physical_id(ordinal);
    if (physical < 0)
        physical = ordinal;
    snprintf(uuid, len, "NPU-%ld", physical);
    *total_bytes = 0;
    if (acl_in_use()) {
        aclrtGetDeviceInfo_fn info = HAMI_REAL(aclrtGetDeviceInfo);
        int64_t value = 0;
        if (info && info((uint32_t)ordinal, ACL_DEV_ATTR_TOTAL_GLOBAL_MEM_SIZE, &value) ==
                        ACL_SUCCESS && value > 0)
            *total_bytes = (uint64_t)value;
    }
    return 0;
}

hami_hook_device *hami_ascend_device_bind_slow(int32_t ordinal)
{
    if (ordinal < 0 || ordinal >= HAMI_MAX_DEVICES)
        return NULL;
    hami_hook_device *dev = &hami_ascend_devices[ordinal];
    if (atomic_load_explicit(&dev->ready, memory_order_acquire))
        return dev;
    char uuid[HAMI_UUID_LEN];
    uint64_t total_bytes = 0;
    hamiSimNpuInfo sim;
    rtHamiSimDeviceInfo_fn sim_info = HAMI_REAL(rtHamiSimDeviceInfo);
    if (sim_info) {
        memset(&sim, 0, sizeof sim);
        if (sim_info(ordinal, &sim) != RT_ERROR_NONE || !sim.uuid[0])
            return NULL; /* the simulator does not know this logical id */
        snprintf(uuid, sizeof uuid, "%.*s", (int)sizeof sim.uuid, sim.uuid);
        total_bytes = sim.total_bytes;
    } else if (real_device_identity(ordinal, uuid, sizeof uuid, &total_bytes) != 0) {
        return NULL;
    }
    hami_hook_bind_device(dev, HAMI_VENDOR_ASCEND, ordinal, uuid, total_bytes);
    return dev;
}

hami_hook_device *hami_ascend_current_device(int layer)
{
    int32_t ordinal = -1;
    if (layer == HAMI_ASCEND_LAYER_ACL) {
        aclrtGetDevice_fn get_device = HAMI_REAL(aclrtGetDevice);
        if (!get_device || get_device(&ordinal) != ACL_SUCCESS)
            return NULL;
    } else {
        rtGetDevice_fn get_device = HAMI_REAL(rtGetDevice);
        if (!get_device || get_device(&ordinal) != RT_ERROR_NONE)
            return NULL;
    }
    return hami_ascend_device(ordinal);
}

__thread hami_hook_device_cache hami_ascend_tls_device __attribute__((tls_model("initial-exec")));

hami_hook_device *hami_ascend_current_device_refill(int layer)
{
    return hami_hook_device_cache_fill(&hami_ascend_tls_device, hami_ascend_current_device(layer));
}

/* Current-device changes: forget, then tail-call the library (unresolved: each layer's "no
 * library" code, as the other Ascend hooks answer). */
#define DEVICE_CHANGE_HOOK(type, no_library, name, PARAMS, ARGS)                               \
    type name PARAMS                                                                           \
    {                                                                                          \
        hami_ascend_device_changed();                                                          \
        name##_fn real = HAMI_REAL(name);                                                      \
        return real ? real ARGS : no_library;                                                  \
    }
#define ACL_DEVICE_CHANGE_HOOK(name, PARAMS, ARGS)                                             \
    DEVICE_CHANGE_HOOK(aclError, HAMI_ACL_NO_LIBRARY, name, PARAMS, ARGS)
#define RT_DEVICE_CHANGE_HOOK(name, PARAMS, ARGS)                                              \
    DEVICE_CHANGE_HOOK(rtError_t, HAMI_RT_NO_LIBRARY, name, PARAMS, ARGS)

ACL_DEVICE_CHANGE_HOOK(aclrtSetDevice, (int32_t deviceId), (deviceId))
ACL_DEVICE_CHANGE_HOOK(aclrtResetDevice, (int32_t deviceId), (deviceId))
ACL_DEVICE_CHANGE_HOOK(aclrtCreateContext, (aclrtContext * context, int32_t deviceId),
                       (context, deviceId))
ACL_DEVICE_CHANGE_HOOK(aclrtDestroyContext, (aclrtContext context), (context))
ACL_DEVICE_CHANGE_HOOK(aclrtSetCurrentContext, (aclrtContext context), (context))
RT_DEVICE_CHANGE_HOOK(rtSetDevice, (int32_t device), (device))
RT_DEVICE_CHANGE_HOOK(rtDeviceReset, (int32_t device), (device))
RT_DEVICE_CHANGE_HOOK(rtCtxCreate, (rtContext_t * ctx, uint32_t flags, int32_t device),
                      (ctx, flags, device))
RT_DEVICE_CHANGE_HOOK(rtCtxDestroy, (rtContext_t ctx), (ctx))
RT_DEVICE_CHANGE_HOOK(rtCtxSetCurrent, (rtContext_t ctx), (ctx))
