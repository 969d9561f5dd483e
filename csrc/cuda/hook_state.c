/*
 * Owns the per-process state of the interception library (see hook_state.h), vendor-neutral:
 *   - configuration: hami_limits_from_env per (vendor, ordinal), evaluated once at process
 *     init; each distinct bad value is logged once then, and again at the first refused call;
 *   - the region: opened or created on the first hooked call (HAMI_REGION, else the default
 *     path); when it cannot be opened (foreign, corrupt, other version, I/O), the message is
 *     logged once and devices with a configured cap FAIL CLOSED (allocations refused with the
 *     vendor's OOM code); devices without any configured cap pass through;
 *   - the process slot: joined lazily on the first charge; a fork child (pthread_atfork) gets an
 *     empty allocation table and joins its own slot on its first charge, so the parent's bytes
 *     stay the parent's; at exit the slot is left only if this process holds no allocations
 *     any more (otherwise the core reclaims it once the pid is gone, after the driver has
 *     freed the memory, so usage never drops while the memory is still held);
 *   - reserve/track/forget helpers shared by the allocation hooks, with one rate-limited log
 *     line per refusal burst (device, cap, in use, requested).
 */
#include "hook_state.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "hami/clock.h"
#include "hami/log.h"

#define VENDOR_SLOTS 3 /* HAMI_VENDOR_NONE, CUDA, ASCEND */
#define LOGGED_CONFIG_MESSAGES 8
#define OOM_LOG_INTERVAL_NS 1000000000ull

/* proc_slot_state values besides a slot >= 0 */
#define PROC_SLOT_NOT_JOINED (-2)
#define PROC_SLOT_FAILED (-1)
#define PROC_SLOT_GONE (-3) /* after the exit handler */

static pthread_mutex_t state_lock = PTHREAD_MUTEX_INITIALIZER;
static _Atomic int process_ready;
static hami_region *_Atomic region_handle;
static _Atomic int proc_slot_state = PROC_SLOT_NOT_JOINED;

typedef struct vendor_config {
    int loaded;
    int compute_configured;
    int compute_invalid; /* some device's compute value did not parse (policy not disable) */
    hami_limits limits[HAMI_MAX_DEVICES];
    char error[HAMI_MAX_DEVICES][HAMI_ERR_LEN];
} vendor_config;
static vendor_config vendor_configs[VENDOR_SLOTS];
static _Atomic int vendor_config_ready[VENDOR_SLOTS];

static char logged_config[LOGGED_CONFIG_MESSAGES][HAMI_ERR_LEN];
static int logged_config_count;

static void fork_child(void)
{
    static const pthread_mutex_t fresh_lock = PTHREAD_MUTEX_INITIALIZER;
    memcpy(&state_lock, &fresh_lock, sizeof fresh_lock);
    hami_alloc_table_reset_in_child();
    if (atomic_load_explicit(&proc_slot_state, memory_order_relaxed) != PROC_SLOT_GONE)
        atomic_store_explicit(&proc_slot_state, PROC_SLOT_NOT_JOINED, memory_order_release);
}

/* The count check is a hint, not a guarantee: another thread may be charging, or have
 * charged and not yet recorded, as this runs.  hami_region_leave copes: it fences off the slot
 * and waits for in-flight charges before draining, and any later charge or release of this
 * process is refused by the region (the slot is no longer this process's LIVE slot). */
__attribute__((destructor)) static void process_exit(void)
{
    int slot = atomic_exchange_explicit(&proc_slot_state, PROC_SLOT_GONE, memory_order_acq_rel);
    hami_region *r = atomic_load_explicit(&region_handle, memory_order_acquire);
    if (slot >= 0 && r && hami_alloc_table_count() == 0)
        hami_region_leave(r, slot);
}

/* Log a configuration message unless the same text was logged already (the global variable's
 * message repeats for every ordinal).  Called under state_lock. */
static void log_config_once(const char *message)
{
    for (int i = 0; i < logged_config_count; i++) {
        if (strcmp(logged_config[i], message) == 0)
            return;
    }
    if (logged_config_count < LOGGED_CONFIG_MESSAGES)
        snprintf(logged_config[logged_config_count++], HAMI_ERR_LEN, "%s", message);
    hami_log(HAMI_LOG_ERROR, "configuration: %s", message);
}

static void load_vendor_config(int vendor)
{
    vendor_config *vc = &vendor_configs[vendor];
    for (int ordinal = 0; ordinal < HAMI_MAX_DEVICES; ordinal++) {
        hami_limits *l = &vc->limits[ordinal];
        char *err = vc->error[ordinal];
        err[0] = '\0';
        if (hami_limits_from_env(vendor, ordinal, l, NULL, err, HAMI_ERR_LEN) != HAMI_OK &&
            err[0])
            log_config_once(err);
        if (!l->policy_disable && (l->compute_limit_pct != 0 || l->compute_invalid))
            vc->compute_configured = 1;
        if (!l->policy_disable && l->compute_invalid)
            vc->compute_invalid = 1;
    }
    vc->loaded = 1;
}

static void open_region(void)
{
    char path[4096];
    char err[HAMI_ERR_LEN] = "";
    hami_region *r = NULL;
    const char *p = hami_region_default_path(path, sizeof path);
    int rc = p ? hami_region_open(p, 1, &r, err, sizeof err) : HAMI_E_INVALID;
    if (rc != HAMI_OK || !r) {
        hami_log(HAMI_LOG_ERROR,
                 "region %s unusable: %s; devices with a memory cap refuse allocations and "
                 "devices with a compute cap refuse launches (fail closed), devices without "
                 "one are not tracked",
                 p ? p : "(no path)", err[0] ? err : "cannot open");
        return;
    }
    atomic_store_explicit(&region_handle, r, memory_order_release);
}

void hami_hook_process_init(int vendor)
{
    if (vendor < 0 || vendor >= VENDOR_SLOTS)
        vendor = HAMI_VENDOR_NONE;
    if (atomic_load_explicit(&process_ready, memory_order_acquire) &&
        atomic_load_explicit(&vendor_config_ready[vendor], memory_order_acquire))
        return;
    pthread_mutex_lock(&state_lock);
    if (!vendor_configs[vendor].loaded) {
        load_vendor_config(vendor);
        atomic_store_explicit(&vendor_config_ready[vendor], 1, memory_order_release);
    }
    if (!atomic_load_explicit(&process_ready, memory_order_relaxed)) {
        open_region();
        pthread_atfork(NULL, NULL, fork_child);
        atomic_store_explicit(&process_ready, 1, memory_order_release);
    }
    pthread_mutex_unlock(&state_lock);
}

void hami_hook_env_limits(int vendor, int ordinal, hami_limits *out)
{
    memset(out, 0, sizeof *out);
    if (vendor <= HAMI_VENDOR_NONE || vendor >= VENDOR_SLOTS || ordinal < 0)
        return;
    hami_hook_process_init(vendor);
    if (ordinal < HAMI_MAX_DEVICES) {
        *out = vendor_configs[vendor].limits[ordinal];
    } else {
        char err[HAMI_ERR_LEN];
        hami_limits_from_env(vendor, ordinal, out, NULL, err, sizeof err);
    }
}

int hami_hook_compute_configured(int vendor)
{
    if (vendor <= HAMI_VENDOR_NONE || vendor >= VENDOR_SLOTS)
        return 0;
    hami_hook_process_init(vendor);
    return vendor_configs[vendor].compute_configured;
}

/* Gate words for the launch fast paths when the region's live mask cannot be used. */
static const uint32_t gate_always_slow = 1;
static const uint32_t gate_never_slow = 0;

const uint32_t *hami_hook_compute_gate(int vendor)
{
    if (vendor <= HAMI_VENDOR_NONE || vendor >= VENDOR_SLOTS)
        return &gate_never_slow;
    hami_hook_process_init(vendor);
    /* A bad compute value in this process's environment refuses launches on that device
     * whatever the region says: every launch must see the slow path. */
    if (vendor_configs[vendor].compute_invalid)
        return &gate_always_slow;
    hami_region *r = hami_hook_region();
    if (r)
        return hami_region_compute_word(r);
    /* No region: nothing can be metered, so a configured cap must reach the slow path, which
     * refuses the launch (fail closed); with no cap, launches go straight to the driver. */
    return vendor_configs[vendor].compute_configured ? &gate_always_slow : &gate_never_slow;
}

hami_region *hami_hook_region(void)
{
    return atomic_load_explicit(&region_handle, memory_order_acquire);
}

int hami_hook_proc_slot(void)
{
    int slot = atomic_load_explicit(&proc_slot_state, memory_order_acquire);
    if (__builtin_expect(slot != PROC_SLOT_NOT_JOINED, 1))
        return slot < 0 ? PROC_SLOT_FAILED : slot;
    pthread_mutex_lock(&state_lock);
    slot = atomic_load_explicit(&proc_slot_state, memory_order_relaxed);
    if (slot == PROC_SLOT_NOT_JOINED) {
        hami_region *r = hami_hook_region();
        slot = r ? hami_region_join(r) : PROC_SLOT_FAILED;
        if (slot < 0) {
            if (r)
                hami_log(HAMI_LOG_ERROR,
                         "cannot join region %s (error %d): devices with a memory cap refuse "
                         "allocations",
                         hami_region_path(r), slot);
            slot = PROC_SLOT_FAILED;
        }
        atomic_store_explicit(&proc_slot_state, slot, memory_order_release);
    }
    pthread_mutex_unlock(&state_lock);
    return slot < 0 ? PROC_SLOT_FAILED : slot;
}

void hami_hook_bind_device(hami_hook_device *dev, int vendor, int ordinal, const char *uuid,
                           uint64_t card_total_bytes)
{
    if (atomic_load_explicit(&dev->ready, memory_order_acquire))
        return;
    hami_limits env;
    hami_hook_env_limits(vendor, ordinal, &env);
    hami_region *r = hami_hook_region();
    int joined = hami_hook_proc_slot() >= 0;

    pthread_mutex_lock(&state_lock);
    if (atomic_load_explicit(&dev->ready, memory_order_relaxed)) {
        pthread_mutex_unlock(&state_lock);
        return;
    }
    dev->vendor = vendor;
    dev->ordinal = ordinal;
    dev->env_limits = env;
    dev->card_total_bytes = card_total_bytes;
    snprintf(dev->uuid, sizeof dev->uuid, "%s", uuid ? uuid : "");
    dev->env_error[0] = '\0';
    if (ordinal >= 0 && ordinal < HAMI_MAX_DEVICES && vendor > 0 && vendor < VENDOR_SLOTS)
        snprintf(dev->env_error, sizeof dev->env_error, "%s",
                 vendor_configs[vendor].error[ordinal]);
    dev->env_memory_capped =
        !env.policy_disable && (env.memory_limit_bytes != 0 || env.memory_invalid);
    dev->region_slot = -1;
    if (r && joined && dev->uuid[0]) {
        int slot = ordinal >= 0
                       ? hami_region_device(r, vendor, dev->uuid, card_total_bytes, &env)
                       : hami_region_find_device(r, vendor, dev->uuid);
        if (slot >= 0)
            dev->region_slot = slot;
        else if (ordinal >= 0)
            hami_log(HAMI_LOG_ERROR, "region %s: cannot register device %d (%s): error %d",
                     hami_region_path(r), ordinal, dev->uuid, slot);
    }
    dev->refuse_memory = 0;
    dev->refuse_reason = NULL;
    if (env.memory_invalid && !env.policy_disable) {
        dev->refuse_memory = 1;
        dev->refuse_reason = "its memory limit does not parse";
    } else if (dev->env_memory_capped && dev->region_slot < 0) {
        dev->refuse_memory = 1;
        dev->refuse_reason = "it has a memory cap and the shared region is unusable";
    }
    /* Compute fails closed like memory: a cap that cannot be metered (no region entry, so no
     * shared bucket) refuses launches rather than running them unmetered. */
    dev->refuse_launch = 0;
    dev->launch_refuse_reason = NULL;
    if (env.compute_invalid && !env.policy_disable) {
        dev->refuse_launch = 1;
        dev->launch_refuse_reason = "its compute limit does not parse";
    } else if (!env.policy_disable && env.compute_limit_pct != 0 && dev->region_slot < 0) {
        dev->refuse_launch = 1;
        dev->launch_refuse_reason = "it has a compute cap and the shared region is unusable";
    }
    atomic_store_explicit(&dev->ready, 1, memory_order_release);
    pthread_mutex_unlock(&state_lock);
    if (hami_log_enabled(HAMI_LOG_DEBUG))
        hami_log(HAMI_LOG_DEBUG, "device %d = %s: region slot %d, env cap %llu bytes%s", ordinal,
                 dev->uuid, dev->region_slot, (unsigned long long)env.memory_limit_bytes,
                 dev->refuse_memory ? ", allocations refused" : "");
}

/* One line per burst of refusals on a device: at most one per second, with the count of
 * lines suppressed since the last one. */
static void log_refusal(hami_hook_device *dev, const char *api, const char *what, uint64_t bytes,
                        uint64_t in_use, uint64_t limit)
{
    uint64_t now = hami_now_ns();
    uint64_t last = atomic_load_explicit(&dev->last_oom_log_ns, memory_order_relaxed);
    if ((last != 0 && now - last < OOM_LOG_INTERVAL_NS) ||
        !atomic_compare_exchange_strong_explicit(&dev->last_oom_log_ns, &last, now,
                                                 memory_order_relaxed, memory_order_relaxed)) {
        atomic_fetch_add_explicit(&dev->oom_lines_suppressed, 1, memory_order_relaxed);
        return;
    }
    uint64_t suppressed =
        atomic_exchange_explicit(&dev->oom_lines_suppressed, 0, memory_order_relaxed);
    hami_log(HAMI_LOG_WARN,
             "%s: out of memory on device %d (%s): %s: cap %llu bytes, in use %llu bytes, "
             "requested %llu bytes (%llu similar lines suppressed)",
             api, dev->ordinal, dev->uuid, what, (unsigned long long)limit,
             (unsigned long long)in_use, (unsigned long long)bytes,
             (unsigned long long)suppressed);
}

/* Container use on a region device (0 when unknown). */
static uint64_t region_used_bytes(hami_region *r, int slot)
{
    hami_device_info infos[HAMI_MAX_DEVICES];
    int n = hami_region_devices(r, infos, HAMI_MAX_DEVICES);
    for (int i = 0; i < n; i++) {
        if (infos[i].slot == slot)
            return infos[i].used_bytes;
    }
    return 0;
}

/* The first refusal on a device says why in full; returns 1 when it logged. */
static int log_first_refusal(hami_hook_device *dev, const char *api)
{
    int expected = 0;
    if (!atomic_compare_exchange_strong(&dev->refusal_logged, &expected, 1))
        return 0;
    hami_log(HAMI_LOG_ERROR, "%s: device %d (%s) refuses allocations: %s%s%s", api, dev->ordinal,
             dev->uuid, dev->refuse_reason ? dev->refuse_reason : "refused",
             dev->env_error[0] ? ": " : "", dev->env_error);
    return 1;
}

int hami_hook_reserve(hami_hook_device *dev, uint64_t bytes, const char *api, int *charged_slot)
{
    *charged_slot = -1;
    if (__builtin_expect(dev->refuse_memory, 0)) {
        if (!log_first_refusal(dev, api))
            log_refusal(dev, api, dev->refuse_reason, bytes, 0,
                        dev->env_limits.memory_limit_bytes);
        return -1;
    }
    if (dev->region_slot < 0)
        return 0; /* no cap configured and no region entry: nothing to count */
    int proc_slot = hami_hook_proc_slot();
    if (proc_slot < 0) {
        if (!dev->env_memory_capped)
            return 0;
        log_refusal(dev, api, "this process has no slot in the region (fail closed)", bytes, 0,
                    dev->env_limits.memory_limit_bytes);
        return -1;
    }
    hami_region *r = hami_hook_region();
    uint64_t in_use = 0, limit = 0;
    int rc = hami_charge_memory(r, dev->region_slot, proc_slot, bytes, &in_use, &limit);
    if (rc == HAMI_OK) {
        *charged_slot = dev->region_slot;
        return 0;
    }
    if (rc == HAMI_E_LIMIT_INVALID) {
        int expected = 0;
        if (atomic_compare_exchange_strong(&dev->refusal_logged, &expected, 1))
            hami_log(HAMI_LOG_ERROR,
                     "%s: device %d (%s) refuses allocations: the region marks its memory limit "
                     "invalid (a process of this container was started with a bad value)",
                     api, dev->ordinal, dev->uuid);
    }
    log_refusal(dev, api,
                rc == HAMI_E_OVER_LIMIT     ? "over the cap"
                : rc == HAMI_E_LIMIT_INVALID ? "memory limit invalid"
                                             : "this process has left the region (exiting)",
                bytes, in_use, limit);
    return -1;
}

void hami_hook_unreserve(int charged_slot, uint64_t bytes)
{
    if (charged_slot < 0 || bytes == 0)
        return;
    hami_region *r = hami_hook_region();
    if (r)
        hami_release_memory(r, charged_slot, hami_hook_proc_slot(), bytes);
}

int hami_hook_track(uint32_t kind, uint64_t key, uint64_t bytes, int charged_slot)
{
    if (charged_slot < 0)
        return 0;
    hami_alloc_record stale;
    if (hami_alloc_table_insert(kind, key, bytes, charged_slot, &stale) != 0)
        return -1;
    /* The driver handed back a key whose free we never saw: that memory is gone. */
    if (stale.kind != HAMI_ALLOC_NONE)
        hami_hook_unreserve(stale.region_slot, stale.bytes);
    return 0;
}

int hami_hook_alloc_begin(hami_hook_device *dev, uint64_t bytes, const char *api,
                          hami_hook_pending_alloc *p)
{
    p->charged_slot = -1;
    p->bytes = bytes;
    if (!dev)
        return 0; /* no current / unknown device: the library answers, nothing is counted */
    return hami_hook_reserve(dev, bytes, api, &p->charged_slot);
}

int hami_hook_alloc_end(hami_hook_pending_alloc *p, int ok, uint32_t kind, uint64_t key,
                        void (*undo)(uint64_t key))
{
    if (p->charged_slot < 0)
        return 0;
    if (!ok) {
        hami_hook_unreserve(p->charged_slot, p->bytes);
        return 0;
    }
    if (hami_hook_track(kind, key, p->bytes, p->charged_slot) != 0) {
        undo(key);
        hami_hook_unreserve(p->charged_slot, p->bytes);
        return -1;
    }
    return 0;
}

int hami_hook_forget_begin(uint32_t kind, uint64_t key, hami_alloc_record *record)
{
    return hami_alloc_table_remove(kind, key, record);
}

/* At most one line a second about records that could not be put back after a failed free. */
static _Atomic uint64_t last_retrack_log_ns;
static _Atomic uint64_t retrack_lines_suppressed;

static void log_retrack_failure(uint64_t key, uint64_t bytes)
{
    uint64_t now = hami_now_ns();
    uint64_t last = atomic_load_explicit(&last_retrack_log_ns, memory_order_relaxed);
    if ((last != 0 && now - last < OOM_LOG_INTERVAL_NS) ||
        !atomic_compare_exchange_strong_explicit(&last_retrack_log_ns, &last, now,
                                                 memory_order_relaxed, memory_order_relaxed)) {
        atomic_fetch_add_explicit(&retrack_lines_suppressed, 1, memory_order_relaxed);
        return;
    }
    uint64_t suppressed =
        atomic_exchange_explicit(&retrack_lines_suppressed, 0, memory_order_relaxed);
    hami_log(HAMI_LOG_WARN,
             "a failed free of 0x%llx (%llu bytes) could not be recorded again (out of memory): "
             "its bytes are no longer counted although the driver may still hold them (%llu "
             "similar lines suppressed)",
             (unsigned long long)key, (unsigned long long)bytes, (unsigned long long)suppressed);
}

void hami_hook_forget_end(uint32_t kind, uint64_t key, const hami_alloc_record *record,
                          int driver_freed)
{
    if (record->kind == HAMI_ALLOC_NONE)
        return;
    if (driver_freed) {
        hami_hook_unreserve(record->region_slot, record->bytes);
        return;
    }
    /* The driver said no: the memory is presumably still allocated, so its record goes back
     * (a later free releases it).  Only if the key is absent: a free that "failed" with an
     * asynchronous error may in fact have freed the memory, and another thread may already
     * have been handed the same address and recorded it; its record is the live one and must
     * keep its bytes, so ours are released instead (whatever our memory was, it is gone). */
    int rc = hami_alloc_table_insert_absent(kind, key, record->bytes, record->region_slot);
    if (rc == 0)
        return;
    /* rc < 0: the table could not grow.  Keeping the bytes charged with no record would hold
     * them for the life of the process (nothing could ever release them); releasing them
     * under-counts while the driver still holds the memory.  The counter must not be stuck:
     * release, and say so. */
    if (rc < 0)
        log_retrack_failure(key, record->bytes);
    hami_hook_unreserve(record->region_slot, record->bytes);
}

int hami_hook_memory_view(hami_hook_device *dev, uint64_t real_free_bytes,
                          uint64_t *total_bytes, uint64_t *free_bytes, uint64_t *used_bytes)
{
    if (dev->refuse_memory) {
        /* Fail closed: nothing is available. */
        uint64_t cap = dev->env_limits.memory_limit_bytes;
        *total_bytes = cap ? cap : dev->card_total_bytes;
        *free_bytes = 0;
        *used_bytes = *total_bytes;
        return 1;
    }
    hami_region *r = hami_hook_region();
    if (dev->region_slot < 0 || !r)
        return 0;
    hami_limits live;
    if (hami_region_get_limits(r, dev->region_slot, &live) != HAMI_OK)
        return 0;
    if (live.memory_invalid && !live.policy_disable) {
        *total_bytes = live.memory_limit_bytes ? live.memory_limit_bytes : dev->card_total_bytes;
        *free_bytes = 0;
        *used_bytes = *total_bytes;
        return 1;
    }
    if (live.policy_disable || live.memory_limit_bytes == 0)
        return 0;
    uint64_t cap = live.memory_limit_bytes;
    uint64_t used = region_used_bytes(r, dev->region_slot);
    uint64_t free_bytes_capped = cap > used ? cap - used : 0;
    *total_bytes = cap;
    *free_bytes = free_bytes_capped < real_free_bytes ? free_bytes_capped : real_free_bytes;
    *used_bytes = used;
    return 1;
}

void hami_hook_log_launch_refusal(hami_hook_device *dev, const char *api)
{
    if (atomic_exchange_explicit(&dev->launch_refusal_logged, 1, memory_order_relaxed) == 0)
        hami_log(HAMI_LOG_ERROR,
                 "%s: device %d (%s) refuses launches: %s%s%s", api, dev->ordinal, dev->uuid,
                 dev->launch_refuse_reason ? dev->launch_refuse_reason
                                           : "its compute limit does not parse",
                 dev->env_error[0] ? ": " : "", dev->env_error);
}
