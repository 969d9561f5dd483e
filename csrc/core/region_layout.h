/*
 * Private layout of the shared region file (owned by csrc/core/region.c; nothing outside
 * csrc/core and tests/c/core may include this).  Every field another process can change is a
 * C11 atomic; fields written once before publication (vendor, uuid, pid fields of a CLAIMING
 * slot) are published with a release store of the entry's state word and read after an acquire
 * load of it.  Changing anything here changes the file format: bump HAMI_REGION_VERSION.
 */
#ifndef HAMI_CORE_REGION_LAYOUT_H
#define HAMI_CORE_REGION_LAYOUT_H

#include <limits.h>
#include <pthread.h>
#include <stdalign.h>
#include <stddef.h>
#include <stdatomic.h>
#include <stdint.h>

#include "hami/region.h"

#define HAMI_CACHE_LINE 64

/* Device entry states (entries are never removed once published). */
#define HAMI_DEV_FREE 0u
#define HAMI_DEV_PUBLISHED 1u

/* Device flag bits (region_device.flags). */
#define HAMI_DEVF_MEMORY_INVALID 1u
#define HAMI_DEVF_COMPUTE_INVALID 2u
#define HAMI_DEVF_POLICY_DISABLE 4u

/* Process slot state word: (pid << 8) | state.  The pid is the process that owns the current
 * state (the claimer for CLAIMING, the owner for LIVE, the reclaimer for RECLAIMING), so a slot
 * left in any state by a dead process can be taken over by anyone who sees that pid dead. */
#define HAMI_SLOT_FREE 0u
#define HAMI_SLOT_CLAIMING 1u
#define HAMI_SLOT_LIVE 2u
#define HAMI_SLOT_RECLAIMING 3u
#define HAMI_SLOT_STATE_MASK 0xffu

static inline uint64_t hami_slot_word(pid_t pid, unsigned state)
{
    return ((uint64_t)(uint32_t)pid << 8) | state;
}
static inline pid_t hami_slot_pid(uint64_t word) { return (pid_t)(uint32_t)(word >> 8); }
static inline unsigned hami_slot_state(uint64_t word) { return (unsigned)(word & HAMI_SLOT_STATE_MASK); }

typedef struct region_header {
    char magic[8];                 /* HAMI_REGION_MAGIC, NUL-terminated */
    uint32_t version;              /* HAMI_REGION_VERSION */
    uint32_t header_bytes;         /* sizeof(region_header) */
    uint64_t total_bytes;          /* sizeof(region_layout): the file size */
    uint32_t max_devices;          /* HAMI_MAX_DEVICES */
    uint32_t max_procs;            /* HAMI_MAX_PROCS */
    _Atomic uint32_t device_count; /* entries [0, device_count) have been claimed, in order */
    /* Set when a process died in the middle of a charge or release (its slot's inflight was
     * not zero): the device counters may hold its in-flight bytes; reclaim_dead reconciles
     * them against the process slots until it succeeds, then clears this. */
    _Atomic uint32_t reconcile_requests;
    /* Bit i set: device slot i has an enforced compute cap (compute_rate_pct != 0) or an
     * invalid compute configuration (not under policy disable), i.e. its launches must leave
     * the hooks' fast path.  Kept equal to the devices' limits by every limit store
     * (update_compute_mask); recomputed on open, so a file written by a library that did not
     * know this word (it sat in the header's padding, zero) is corrected by the next opener.
     * Hooks load it through hami_region_compute_word: one relaxed load per launch. */
    _Atomic uint32_t compute_active_mask;
    /* Process-shared robust mutex: serialises device registration only (join time). */
    alignas(HAMI_CACHE_LINE) pthread_mutex_t registry_lock;
} region_header;

typedef struct region_device {
    /* Written once under the registry lock, published by `state`. */
    _Atomic uint32_t state;
    int32_t vendor;
    char uuid[HAMI_UUID_LEN];
    _Atomic uint64_t card_total_bytes;
    /* Live limits.  compute_rate_pct is the pct the bucket enforces: 0 when there is no cap, or
     * the policy is disable, or the compute configuration is invalid (launches are then refused
     * by the hook, not throttled), so take_tokens needs one load to know it has nothing to do. */
    _Atomic uint64_t memory_limit_bytes;
    _Atomic uint32_t compute_limit_pct;
    _Atomic uint32_t compute_rate_pct;
    _Atomic uint32_t flags; /* HAMI_DEVF_* */
    /* Hot words, each on its own cache line so charges and launches do not false-share. */
    alignas(HAMI_CACHE_LINE) _Atomic uint64_t used_bytes;
    alignas(HAMI_CACHE_LINE) _Atomic uint64_t tat_ns; /* GCRA theoretical arrival time */
    alignas(HAMI_CACHE_LINE) _Atomic uint64_t launches;
    _Atomic uint64_t throttled_ns;
    _Atomic uint64_t measured_busy_ns;
} __attribute__((aligned(HAMI_CACHE_LINE))) region_device;

typedef struct region_proc {
    _Atomic uint64_t state;        /* hami_slot_word(pid, HAMI_SLOT_*) */
    _Atomic uint64_t start_time;   /* /proc/<pid>/stat field 22 of the owner */
    _Atomic uint64_t heartbeat_ns; /* CLOCK_MONOTONIC */
    /* Charges/releases of this process between their first and last atomic: lets a reconciler
     * tell a consistent moment (no op in flight anywhere) from a torn one. */
    _Atomic uint64_t inflight;
    _Atomic uint64_t used_bytes[HAMI_MAX_DEVICES];
    _Atomic uint64_t busy_ns[HAMI_MAX_DEVICES];
} __attribute__((aligned(HAMI_CACHE_LINE))) region_proc;

typedef struct region_layout {
    region_header header;
    region_device devices[HAMI_MAX_DEVICES];
    region_proc procs[HAMI_MAX_PROCS];
} region_layout;

/* compute_active_mask lives in what was padding before the registry lock: the file layout (and
 * HAMI_REGION_VERSION) is unchanged. */
_Static_assert(offsetof(region_header, registry_lock) == HAMI_CACHE_LINE,
               "header fields must stay within the first cache line");
_Static_assert(sizeof(((region_header *)0)->magic) == sizeof(HAMI_REGION_MAGIC),
               "magic is 7 chars + NUL");

/* Test hook (not exported from libhami.so: hidden visibility): take the registry lock and do
 * not release it, to simulate a process killed while registering a device. */
int hami_region_test_lock_registry(hami_region *r);
/* Test hook: hami_region_set_limits with a given clock (the bucket debt is rescaled at now_ns). */
int hami_region_test_set_limits_at(hami_region *r, int dev_slot, const hami_limits *limits,
                                   uint64_t now_ns);
/* Test hook: the device's GCRA theoretical arrival time. */
uint64_t hami_region_test_tat(hami_region *r, int dev_slot);

#endif
