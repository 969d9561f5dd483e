/*
 * Owns the CUDA device bindings: for each device ordinal the process uses, its UUID
 * (cuDeviceGetUuid_v2, else cuDeviceGetUuid), capacity (cuDeviceTotalMem_v2) and region entry,
 * resolved once through the real driver and cached in a per-process array, so an allocation's
 * hot path is cuCtxGetDevice plus an array load.  The device of an allocation is the current
 * context's device at the time of the call (multi-GPU threads switch devices), never device 0.
 *
 * Also owns the context-switch hooks (cuCtxSetCurrent, cuCtxPushCurrent_v2, cuCtxPopCurrent_v2,
 * cuCtxCreate_v2/v3/v4, cuCtxDestroy_v2, cuDevicePrimaryCtxRelease_v2/Reset_v2): each drops the
 * calling thread's cached launch device (cuda_device.h) and passes the call through unchanged.
 * A thread's current context changes only through calls on that thread, so a thread-local
 * cache invalidated by that thread's own calls cannot go stale behind its back (a context
 * destroyed from another thread makes the launches themselves fail; their tokens are refunded).
 * The three that destroy a context (cuCtxDestroy_v2, cuDevicePrimaryCtxReset_v2, and
 * cuDevicePrimaryCtxRelease_v2 when it released the last reference) also tell the compute
 * engine, which must never touch that context's sample events again (compute.h).
 *
 * A device the driver cannot identify (no UUID) or that lies beyond the region's device table
 * (ordinal >= HAMI_MAX_DEVICES) has no region entry.  When the environment caps its memory (or
 * gives a bad value) it refuses allocations instead of passing them through uncounted: fail
 * closed, one log line.  Without a cap the hooks pass its calls through (NULL).
 */
#include "cuda_device.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "compute.h"
#include "hami/log.h"
#include "resolve.h"

hami_hook_device hami_cuda_devices[HAMI_MAX_DEVICES];

void hami_cuda_format_uuid(const CUuuid *uuid, char *buf, size_t len)
{
    const unsigned char *b = (const unsigned char *)uuid->bytes;
    snprintf(buf, len,
             "GPU-%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0],
             b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13],
             b[14], b[15]);
}

/* Devices without a binding (see the header comment): one per ordinal of the table, one shared
 * by every ordinal beyond it (the first one seen names it).  Filled once, under a lock: this is
 * the slow path of a misconfigured or failing device, never of a bound one. */
static hami_hook_device unbound_devices[HAMI_MAX_DEVICES + 1];
static pthread_mutex_t unbound_lock = PTHREAD_MUTEX_INITIALIZER;

static hami_hook_device *unbound_device(CUdevice ordinal, const char *why)
{
    /* a device the driver does not have: the driver refuses the call itself */
    cuDeviceGetCount_fn count_fn = HAMI_REAL(cuDeviceGetCount);
    int count = 0;
    if (count_fn && count_fn(&count) == CUDA_SUCCESS && ordinal >= count)
        return NULL;
    hami_hook_device *dev =
        &unbound_devices[ordinal < HAMI_MAX_DEVICES ? ordinal : HAMI_MAX_DEVICES];
    if (!atomic_load_explicit(&dev->ready, memory_order_acquire)) {
        hami_limits env;
        hami_hook_env_limits(HAMI_VENDOR_CUDA, ordinal, &env);
        int refuse_memory =
            !env.policy_disable && (env.memory_limit_bytes != 0 || env.memory_invalid);
        /* not in the region, so a compute cap cannot be metered either: refuse (fail closed) */
        int refuse_launch =
            !env.policy_disable && (env.compute_invalid || env.compute_limit_pct != 0);
        int logged = 0;
        pthread_mutex_lock(&unbound_lock);
        if (!atomic_load_explicit(&dev->ready, memory_order_relaxed)) {
            dev->vendor = HAMI_VENDOR_CUDA;
            dev->ordinal = ordinal;
            dev->region_slot = -1;
            dev->env_limits = env;
            dev->env_memory_capped = refuse_memory;
            dev->refuse_memory = refuse_memory;
            dev->refuse_launch = refuse_launch;
            dev->card_total_bytes = 0;
            snprintf(dev->uuid, sizeof dev->uuid, "%s", "unidentified");
            dev->refuse_reason = why;
            dev->launch_refuse_reason = why;
            dev->env_error[0] = '\0';
            atomic_store_explicit(&dev->ready, 1, memory_order_release);
            logged = refuse_memory || refuse_launch;
        }
        pthread_mutex_unlock(&unbound_lock);
        if (logged)
            hami_log(HAMI_LOG_ERROR,
                     "device %d: %s, but the environment configures a %s for it: %s refused "
                     "(fail closed)",
                     (int)ordinal, why, refuse_memory ? "memory cap" : "compute cap",
                     refuse_memory ? "allocations" : "launches");
    }
    return dev->refuse_memory || dev->refuse_launch ? dev : NULL;
}

hami_hook_device *hami_cuda_device_bind_slow(CUdevice ordinal)
{
    if (ordinal < 0)
        return NULL; /* no such device: the driver decides */
    if (ordinal >= HAMI_MAX_DEVICES)
        return unbound_device(ordinal, "its ordinal is beyond the devices the region tracks");
    hami_hook_device *dev = &hami_cuda_devices[ordinal];
    if (atomic_load_explicit(&dev->ready, memory_order_acquire))
        return dev;
    CUuuid uuid;
    CUresult rc = CUDA_ERROR_NOT_FOUND;
    cuDeviceGetUuid_v2_fn get_uuid_v2 = HAMI_REAL(cuDeviceGetUuid_v2);
    if (get_uuid_v2)
        rc = get_uuid_v2(&uuid, ordinal);
    if (rc != CUDA_SUCCESS) {
        cuDeviceGetUuid_fn get_uuid = HAMI_REAL(cuDeviceGetUuid);
        if (get_uuid)
            rc = get_uuid(&uuid, ordinal);
    }
    if (rc != CUDA_SUCCESS)
        return unbound_device(ordinal, "the driver cannot tell its UUID");
    char text[HAMI_UUID_LEN];
    hami_cuda_format_uuid(&uuid, text, sizeof text);
    size_t total = 0;
    cuDeviceTotalMem_v2_fn total_mem = HAMI_REAL(cuDeviceTotalMem_v2);
    if (!total_mem || total_mem(&total, ordinal) != CUDA_SUCCESS)
        total = 0;
    hami_hook_bind_device(dev, HAMI_VENDOR_CUDA, ordinal, text, total);
    return dev;
}

__thread hami_hook_device_cache hami_cuda_tls_device __attribute__((tls_model("initial-exec")));

hami_hook_device *hami_cuda_current_device_refill(void)
{
    return hami_hook_device_cache_fill(&hami_cuda_tls_device, hami_cuda_current_device());
}

/* Context switches: forget, then tail-call the driver (unresolved: the driver's answer for a
 * missing entry point). */
#define CONTEXT_SWITCH_HOOK(name, PARAMS, ARGS)                                                \
    CUresult name PARAMS                                                                       \
    {                                                                                          \
        hami_cuda_context_changed();                                                           \
        name##_fn real = HAMI_REAL(name);                                                      \
        return real ? real ARGS : CUDA_ERROR_NOT_FOUND;                                        \
    }

CONTEXT_SWITCH_HOOK(cuCtxSetCurrent, (CUcontext ctx), (ctx))
CONTEXT_SWITCH_HOOK(cuCtxPushCurrent_v2, (CUcontext ctx), (ctx))
CONTEXT_SWITCH_HOOK(cuCtxPopCurrent_v2, (CUcontext * ctx), (ctx))
CONTEXT_SWITCH_HOOK(cuCtxCreate_v2, (CUcontext * ctx, unsigned int flags, CUdevice dev),
                    (ctx, flags, dev))
CONTEXT_SWITCH_HOOK(cuCtxCreate_v3,
                    (CUcontext * ctx, CUexecAffinityParam *params, int n, unsigned int flags,
                     CUdevice dev),
                    (ctx, params, n, flags, dev))
CONTEXT_SWITCH_HOOK(cuCtxCreate_v4,
                    (CUcontext * ctx, CUctxCreateParams *params, unsigned int flags,
                     CUdevice dev),
                    (ctx, params, flags, dev))

/* Context teardown: the same, with the compute engine told (compute.h).  Whatever the result
 * (a failed destroy may have torn part of it down; a spurious new generation only costs the
 * samples in flight and a few event handles). */
#define CONTEXT_DESTROY_HOOK(name, PARAMS, ARGS)                                               \
    CUresult name PARAMS                                                                       \
    {                                                                                          \
        hami_cuda_context_changed();                                                           \
        name##_fn real = HAMI_REAL(name);                                                      \
        if (!real)                                                                             \
            return CUDA_ERROR_NOT_FOUND;                                                       \
        hami_compute_context_teardown_begin();                                                 \
        CUresult rc = real ARGS;                                                               \
        hami_compute_context_teardown_end(1);                                                  \
        return rc;                                                                             \
    }

CONTEXT_DESTROY_HOOK(cuCtxDestroy_v2, (CUcontext ctx), (ctx))
CONTEXT_DESTROY_HOOK(cuDevicePrimaryCtxReset_v2, (CUdevice dev), (dev))

/* Destroys the primary context only when it released the last reference: asked afterwards
 * (cuDevicePrimaryCtxGetState; unknown counts as destroyed).  A retain by another thread
 * between the release and the question is taken for "still alive". */
CUresult cuDevicePrimaryCtxRelease_v2(CUdevice dev)
{
    hami_cuda_context_changed();
    cuDevicePrimaryCtxRelease_v2_fn real = HAMI_REAL(cuDevicePrimaryCtxRelease_v2);
    if (!real)
        return CUDA_ERROR_NOT_FOUND;
    hami_compute_context_teardown_begin();
    CUresult rc = real(dev);
    int destroyed = 0;
    if (rc == CUDA_SUCCESS) {
        cuDevicePrimaryCtxGetState_fn get_state = HAMI_REAL(cuDevicePrimaryCtxGetState);
        unsigned int flags = 0;
        int active = 0;
        destroyed = !get_state || get_state(dev, &flags, &active) != CUDA_SUCCESS || !active;
    }
    hami_compute_context_teardown_end(destroyed);
    return rc;
}

hami_hook_device *hami_cuda_current_device(void)
{
    cuCtxGetDevice_fn get_device = HAMI_REAL(cuCtxGetDevice);
    CUdevice ordinal;
    if (!get_device || get_device(&ordinal) != CUDA_SUCCESS)
        return NULL;
    return hami_cuda_device(ordinal);
}
