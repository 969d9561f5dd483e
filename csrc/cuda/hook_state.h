/*
 * Per-process state of the interception library, vendor-neutral (CUDA and NVML use it; the
 * Ascend hooks can): configuration from the environment, the shared region and this process's
 * slot in it, the binding of a device (as the process numbers it) to its region entry, and the
 * reserve/release/track helpers the allocation hooks share.  See hook_state.c.
 */
#ifndef HAMI_HOOK_STATE_H
#define HAMI_HOOK_STATE_H

#include <stdatomic.h>
#include <stdint.h>

#include "alloc_table.h"
#include "hami/region.h"

/* One device as this process sees it.  Filled once (hami_hook_bind_device), then read-only
 * except the log rate-limit words. */
typedef struct hami_hook_device {
    _Atomic int ready;          /* 1 once the fields below are valid (release/acquire) */
    int vendor;                 /* HAMI_VENDOR_* */
    int ordinal;                /* the process's device number (env suffix _<i>) */
    int region_slot;            /* region device entry, or -1: nothing is charged anywhere */
    int refuse_memory;          /* fail closed: allocations get the vendor's OOM code */
    int refuse_launch;          /* fail closed: launches get the vendor's invalid-value code */
    int env_memory_capped;      /* the environment asked for a cap (or gave a bad value) */
    hami_limits env_limits;     /* as parsed from the environment */
    uint64_t card_total_bytes;  /* physical capacity reported by the driver */
    char uuid[HAMI_UUID_LEN];
    const char *refuse_reason;  /* static text for the refusal log line */
    const char *launch_refuse_reason; /* static text for the launch refusal log line */
    char env_error[HAMI_ERR_LEN]; /* the configuration message for this device, if any */
    _Atomic int refusal_logged;
    _Atomic int launch_refusal_logged;
    _Atomic uint64_t last_oom_log_ns;
    _Atomic uint64_t oom_lines_suppressed;
} hami_hook_device;

/* Process init, idempotent and thread-safe: reads the configuration of `vendor` (logging each
 * bad value once), opens or creates the region (logging once and failing closed for capped
 * devices when that fails), registers the fork handler.  Never loads a vendor library. */
void hami_hook_process_init(int vendor);

/* The environment's limits for (vendor, ordinal). */
void hami_hook_env_limits(int vendor, int ordinal, hami_limits *out);

/* 1 when the environment configures any compute cap or bad compute value for `vendor`
 * (launch hooks must leave their fast path).  Valid after hami_hook_process_init. */
int hami_hook_compute_configured(int vendor);

/* The word a launch fast path loads (relaxed) before each launch: nonzero sends the launch to
 * the slow path.  The region's live compute mask (hami_region_compute_word: any device with a
 * compute cap, kept current by `hami-core set`, cleared again when the cap goes back to 0), or
 * a constant 1 when this process's environment holds a bad compute value (launches refused),
 * or a constant 0 when there is no region.  Stable for the life of the process; valid after
 * hami_hook_process_init (it calls it). */
const uint32_t *hami_hook_compute_gate(int vendor);

/* The region (NULL when it could not be opened) and this process's slot (joined on first use,
 * and again in a fork child; -1 when joining failed). */
hami_region *hami_hook_region(void);
int hami_hook_proc_slot(void);

/* Fill `dev` for device `ordinal` of `vendor` with physical identity `uuid` and capacity:
 * environment limits, region entry, fail-closed decision.  Idempotent and thread-safe.
 * Publishes dev->ready.  ordinal < 0: a device the process cannot address by ordinal (NVML
 * sees a GPU that CUDA_VISIBLE_DEVICES hides): no environment limits; only an existing region
 * entry is used, none is created. */
void hami_hook_bind_device(hami_hook_device *dev, int vendor, int ordinal, const char *uuid,
                           uint64_t card_total_bytes);

/* Reserve `bytes` for an allocation on `dev` before calling the driver.
 * Returns 0 when the allocation may proceed; *charged_slot is then the region device slot that
 * holds the reservation (or -1 when nothing was charged: no region entry).  Returns -1 when it
 * must be refused with the vendor's OOM code (over the cap, invalid configuration, or fail
 * closed); one rate-limited log line says why, naming `api`. */
int hami_hook_reserve(hami_hook_device *dev, uint64_t bytes, const char *api, int *charged_slot);

/* An allocation between its reservation and the library's answer.  Every allocation hook, of
 * every vendor, takes the same steps:
 *   hami_hook_alloc_begin reserves before the library call (dev NULL: no current / unknown
 *   device, nothing is counted and the library answers); 0: go on, -1: refuse with the
 *   vendor's OOM code (hami_hook_reserve);
 *   the caller calls the library;
 *   hami_hook_alloc_end rolls the reservation back when the library failed (ok == 0), else
 *   remembers `key` of `kind` so its free releases what was charged.  Returns 0: the caller
 *   returns the library's own code; -1: the table could not grow, `undo(key)` gave the memory
 *   back, the caller returns the vendor's OOM code. */
typedef struct hami_hook_pending_alloc {
    int charged_slot; /* region device slot holding the reservation, -1: nothing charged */
    uint64_t bytes;
} hami_hook_pending_alloc;

int hami_hook_alloc_begin(hami_hook_device *dev, uint64_t bytes, const char *api,
                          hami_hook_pending_alloc *p);
int hami_hook_alloc_end(hami_hook_pending_alloc *p, int ok, uint32_t kind, uint64_t key,
                        void (*undo)(uint64_t key));

/* Give back a reservation (driver failure) or a released allocation's bytes. */
void hami_hook_unreserve(int charged_slot, uint64_t bytes);

/* Remember an allocation the driver made (key of kind) so its free releases what was charged.
 * Returns 0, or -1 when the table could not grow (the caller then undoes the allocation). */
int hami_hook_track(uint32_t kind, uint64_t key, uint64_t bytes, int charged_slot);

/* Freeing, in two steps so a racing allocation that gets the same address from the driver can
 * never have its record removed by this free:
 *   hami_hook_forget_begin removes the record (returns 1 when the key was known: a double free
 *   or foreign memory returns 0 and releases nothing);
 *   the caller frees through the driver;
 *   hami_hook_forget_end releases the bytes when the driver freed it, else puts the record back
 *   when the key is absent; when another thread recorded the same key meanwhile (the "failed"
 *   free had freed it and the address was handed out again) that record is kept and ours
 *   released; when the table cannot grow, the bytes are released (logged, rate-limited) so the
 *   counter is never stuck with bytes nothing could release.
 */
int hami_hook_forget_begin(uint32_t kind, uint64_t key, hami_alloc_record *record);
void hami_hook_forget_end(uint32_t kind, uint64_t key, const hami_alloc_record *record,
                          int driver_freed);

/* Memory as the process should see it on `dev`.  Returns 1 when the device is virtualised
 * (then *total_bytes = cap, *free_bytes = min(cap - container use, real_free), *used_bytes =
 * container use), 0 when the driver's values stand. */
int hami_hook_memory_view(hami_hook_device *dev, uint64_t real_free_bytes,
                          uint64_t *total_bytes, uint64_t *free_bytes, uint64_t *used_bytes);

/* A thread's cached current device, for the launch / submission hot paths: asking the library
 * is a call (a lock in some drivers) and a launching thread almost never changes device.  Each
 * vendor keeps its own thread-local cache and drops it (dev = NULL) on the thread's own device
 * and context switches (cuda_device.h, ascend_device.h); as a backstop for a switch through a
 * path that is not hooked, a cached device is re-checked every HAMI_HOOK_DEVICE_RECHECK uses.
 * "No device" is never cached. */
#define HAMI_HOOK_DEVICE_RECHECK 1024u
typedef struct hami_hook_device_cache {
    hami_hook_device *dev; /* NULL: ask the library */
    unsigned uses_left;    /* uses until the backstop re-check */
} hami_hook_device_cache;

/* The cached device, counting one use; NULL when the library must be asked (then
 * hami_hook_device_cache_fill with its answer). */
static inline hami_hook_device *hami_hook_device_cache_get(hami_hook_device_cache *c)
{
    if (__builtin_expect(c->dev != NULL && c->uses_left != 0, 1)) {
        c->uses_left--;
        return c->dev;
    }
    return NULL;
}

static inline hami_hook_device *hami_hook_device_cache_fill(hami_hook_device_cache *c,
                                                            hami_hook_device *dev)
{
    c->dev = dev; /* NULL (no current device yet) is not cached: asked again */
    c->uses_left = HAMI_HOOK_DEVICE_RECHECK;
    return dev;
}

/* Log (once per device) why launches on `dev` are refused. */
void hami_hook_log_launch_refusal(hami_hook_device *dev, const char *api);

#endif
