/*
 * Public C API of the hami-core shared region: the one file per container, mmap'ed by every
 * intercepted process and by the CLI, that holds per-device limits, usage, the compute token
 * bucket and counters, and per-process slots.  The layout itself is private to
 * csrc/core/region.c; everything outside the core (hooks, the pybind11 extension) goes through
 * these functions.  Hot-path functions (charge, release, take tokens) are lock-free.
 *
 * Error convention: functions return 0 on success or a negative HAMI_E_* code; functions that
 * can fail for a reason a person must read also fill `err` (one line, no trailing newline).
 */
#ifndef HAMI_REGION_H
#define HAMI_REGION_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

#define HAMI_REGION_MAGIC "HAMIRGN"     /* 7 chars + NUL in the header */
#define HAMI_REGION_VERSION 1u
#define HAMI_MAX_DEVICES 32             /* device entries per region (all vendors) */
#define HAMI_MAX_PROCS 1024             /* process slots per region */
#define HAMI_UUID_LEN 64                /* NUL-terminated text UUID, e.g. "GPU-1b2c..." */
#define HAMI_ERR_LEN 512             /* room for one line naming two bad variables */

/* Compute token bucket tolerance (GCRA "tau"), in ns of wall time: a caller may start at once
 * while the bucket's theoretical arrival time is at most this far ahead of now.  It bounds the
 * burst after idle (pct% of 20 ms of device time, plus one launch) and absorbs launch jitter
 * between processes; 20 ms is 0.4 points of error over the 5 s accuracy window at a 100 % cap. */
#define HAMI_BUCKET_BURST_NS 20000000ull

enum hami_error {
    HAMI_OK = 0,
    HAMI_E_INVALID = -1,       /* bad argument */
    HAMI_E_OVER_LIMIT = -2,    /* charge would exceed the memory cap */
    HAMI_E_LIMIT_INVALID = -3, /* the device's configured limit did not parse: fail closed */
    HAMI_E_IO = -4,            /* open/mmap/ftruncate failed (errno kept) */
    HAMI_E_FORMAT = -5,        /* not a region file, other version, or corrupt */
    HAMI_E_FULL = -6,          /* no free device entry or process slot */
    HAMI_E_NOT_FOUND = -7,
};

enum hami_vendor { HAMI_VENDOR_NONE = 0, HAMI_VENDOR_CUDA = 1, HAMI_VENDOR_ASCEND = 2 };

/* A limit as configured.  `invalid` set means the configuration for this device did not parse:
 * the device refuses allocations (OOM code) and launches (invalid-value code). */
typedef struct hami_limits {
    uint64_t memory_limit_bytes;   /* 0 = no memory cap */
    uint32_t compute_limit_pct;    /* 0 = no compute cap, else 1..100 */
    uint32_t memory_invalid;       /* 1 = memory configuration unparsable: refuse allocations */
    uint32_t compute_invalid;      /* 1 = compute configuration unparsable: refuse launches */
    uint32_t policy_disable;       /* 1 = HAMI_POLICY=disable: never throttle, never cap */
} hami_limits;

typedef struct hami_region hami_region; /* opaque: mapping + fd + path */

/* Default region path: $HAMI_REGION if set, else $CUDA_DEVICE_MEMORY_SHARED_CACHE (HAMi's name),
 * else "$TMPDIR/hami-<uid>.region" (TMPDIR default /tmp). */
const char *hami_region_default_path(char *buf, size_t len);

/* Open (and, with create != 0, create and initialise) the region at `path`.  Creation is
 * race-free between processes: exactly one initialises (in a temp file published with
 * link(2)), the others open the published file.  A file with another magic, version or size is
 * refused with HAMI_E_FORMAT and a message in err naming the path and what was found; a missing
 * file with create == 0 gives HAMI_E_NOT_FOUND; other open/mmap failures HAMI_E_IO. */
int hami_region_open(const char *path, int create, hami_region **out, char *err, size_t errlen);
void hami_region_close(hami_region *r);
const char *hami_region_path(const hami_region *r);

/* Find or create the device entry keyed by (vendor, uuid).  When the entry is created, or when
 * no live process other than the caller is attached to the region (a stale region of an
 * earlier container run: dead processes' bytes are reclaimed first), its limits are set from
 * `limits`; otherwise the region's live limits win.  Only a process's first registration of a
 * device applies this rule: a repeat call from the same process returns the slot and changes
 * nothing (so a live `set` is never undone).  Call hami_region_join BEFORE registering devices,
 * so that processes starting together see each other.  `card_total_bytes` is the physical
 * capacity (for display and for free-memory clamping; 0 keeps the stored value).  Returns the
 * device slot (>= 0) or a negative HAMI_E_*.  Takes a robust process-shared mutex (join time
 * only). */
int hami_region_device(hami_region *r, int vendor, const char *uuid, uint64_t card_total_bytes,
                       const hami_limits *limits);
/* Look a device up without creating it (lock-free): its slot, or HAMI_E_NOT_FOUND. */
int hami_region_find_device(hami_region *r, int vendor, const char *uuid);
/* Number of device entries ever registered; slots are 0 .. count-1 (entries are never removed). */
int hami_region_device_count(hami_region *r);

/* Attach the calling process (pid = getpid(), start time read from /proc) and return its
 * process slot (>= 0) or a negative HAMI_E_*.  Lock-free and O(1) in the number of live
 * processes; reclaims dead processes it meets on the way.  hami_region_leave releases the
 * slot's remaining bytes and frees it, after waiting (up to 100 ms, sleeping) for the
 * process's in-flight charges and releases; if they do not finish it leaves the slot attached,
 * to be reclaimed once the process is dead. */
int hami_region_join(hami_region *r);
void hami_region_leave(hami_region *r, int proc_slot);
/* Record "this process is alive and working" (CLOCK_MONOTONIC) in its slot; charges do it too.
 * 0 or HAMI_E_INVALID. */
int hami_region_heartbeat(hami_region *r, int proc_slot);

/* Reclaim every slot whose process is dead (pid gone or reused: start time differs): its bytes
 * are subtracted from the devices exactly once.  Returns the number of slots reclaimed. */
int hami_region_reclaim_dead(hami_region *r);

/* Memory: reserve `bytes` on device `dev_slot` for process `proc_slot` with one CAS loop that
 * never lets usage pass the cap.  Returns 0, HAMI_E_OVER_LIMIT (after one reclaim of dead
 * processes and a retry), HAMI_E_LIMIT_INVALID, or HAMI_E_INVALID for a bad device slot, a
 * proc_slot < 0 (a process that could not join is refused: fail closed) or a proc_slot that is
 * not the LIVE slot joined through this handle (left already, e.g. a thread racing the exit
 * handler's hami_region_leave).  When it fails,
 * *in_use_bytes and *limit_bytes (either may be NULL) receive the values seen, for the log
 * line.  Lock-free, no allocation, no syscall on success (one clock read for the heartbeat). */
int hami_charge_memory(hami_region *r, int dev_slot, int proc_slot, uint64_t bytes,
                       uint64_t *in_use_bytes, uint64_t *limit_bytes);
/* Give back `bytes`; never subtracts more than the process slot holds on that device (a double
 * free or a free of another process's memory cannot underflow anything); does nothing unless
 * proc_slot is the LIVE slot joined through this handle.  Lock-free. */
void hami_release_memory(hami_region *r, int dev_slot, int proc_slot, uint64_t bytes);

/* Live limits.  Setting a memory cap below current use refuses new allocations until use falls
 * under it; nothing is freed by force. */
int hami_region_get_limits(hami_region *r, int dev_slot, hami_limits *out);
int hami_region_set_limits(hami_region *r, int dev_slot, const hami_limits *limits);

/* Compute (token bucket, GCRA: one 64-bit theoretical arrival time per device, in ns of
 * CLOCK_MONOTONIC).  take_tokens charges `cost_ns` of device time and returns how long the
 * caller must sleep (0 when tokens were available).  charge_back corrects an earlier estimate
 * by `delta_ns` (positive: the work took longer than estimated).  Both are lock-free.  With no
 * compute cap (0, policy disable, or compute_invalid: the hook refuses those launches itself)
 * they return 0 at once: one relaxed load and a branch.  Pass now_ns = 0 to let take_tokens
 * read CLOCK_MONOTONIC itself only when a cap is active (saves the ~20-30 ns clock read on the
 * uncapped path).  Burst tolerance: HAMI_BUCKET_BURST_NS.  A cap change through set_limits
 * rescales the outstanding debt to the new rate, so it takes effect at once. */
uint64_t hami_take_tokens(hami_region *r, int dev_slot, uint64_t cost_ns, uint64_t now_ns);
void hami_charge_back(hami_region *r, int dev_slot, int64_t delta_ns);
/* Counters the hooks add to (relaxed atomics). */
void hami_count_launch(hami_region *r, int dev_slot, int proc_slot, uint64_t measured_busy_ns,
                       uint64_t throttled_ns);

/* The same counters for `launches` launches at once (0 allowed: time only).  The hooks batch
 * per thread and flush every few hundred launches or milliseconds, so the counters trail the
 * truth by at most that much. */
void hami_count_launches(hami_region *r, int dev_slot, int proc_slot, uint64_t launches,
                         uint64_t measured_busy_ns, uint64_t throttled_ns);

/* Live "compute active" state, for the launch hooks' fast path.  A device is compute-active
 * when its live limits enforce a compute cap (compute_limit_pct != 0, policy not disable) or
 * mark its compute configuration invalid (policy not disable).  Every limit change
 * (hami_region_device, hami_region_set_limits) keeps it current; lowering a cap to 0 clears it.
 * hami_region_compute_active: 1 when any device of the region is compute-active, else 0.
 * hami_region_compute_word: the address of the shared 32-bit mask behind it (bit i = device
 * slot i compute-active), valid while the region is open.  Read it with
 * __atomic_load_n(word, __ATOMIC_RELAXED): one load of shared memory, no call. */
int hami_region_compute_active(hami_region *r);
const uint32_t *hami_region_compute_word(hami_region *r);

/* Snapshot for readers (CLI, Python).  Values are read with atomics; the snapshot is not a
 * single atomic picture but each field is consistent with itself. */
typedef struct hami_device_info {
    int slot;
    int vendor;
    char uuid[HAMI_UUID_LEN];
    uint64_t card_total_bytes;
    hami_limits limits;
    uint64_t used_bytes;
    uint64_t launches;
    uint64_t throttled_ns;
    uint64_t measured_busy_ns;
} hami_device_info;

typedef struct hami_process_info {
    int slot;
    pid_t pid;
    uint64_t start_time;          /* /proc/<pid>/stat field 22, clock ticks since boot */
    uint64_t heartbeat_ns;        /* CLOCK_MONOTONIC of the last charge/launch/heartbeat */
    int alive;                    /* checked at snapshot time */
    uint64_t used_bytes[HAMI_MAX_DEVICES]; /* indexed by device slot */
    uint64_t busy_ns[HAMI_MAX_DEVICES];    /* measured device time, by device slot */
} hami_process_info;

/* Fill up to `max` entries; return the number of used entries (devices) or live/dead-but-not-
 * reclaimed slots (processes). */
int hami_region_devices(hami_region *r, hami_device_info *out, int max);
int hami_region_processes(hami_region *r, hami_process_info *out, int max);

/* Configuration (csrc/core/config.c).  One grammar for C and Python (Python calls these
 * through _native).
 * Sizes: bare number = bytes; k/m/g/t (either case) and Ki/Mi/Gi/Ti are 1024-based;
 * kB/MB/GB/TB are 1000-based; optional "B"/"iB" forms as listed; no sign, no overflow.
 * Percent: integer 0..100 (0 = no cap), optional trailing "%". */
int hami_parse_size(const char *text, uint64_t *bytes_out, char *err, size_t errlen);
int hami_parse_percent(const char *text, uint32_t *pct_out, char *err, size_t errlen);

/* Limits of device `ordinal` (as the process sees it) of `vendor`, from the environment, with
 * the precedence: vendor-specific per-device, generic per-device, vendor-specific global,
 * generic global.  CUDA: CUDA_DEVICE_MEMORY_LIMIT[_i] / HAMI_MEMORY_LIMIT[_i],
 * CUDA_DEVICE_SM_LIMIT[_i] / HAMI_COMPUTE_LIMIT[_i], GPU_CORE_UTILIZATION_POLICY / HAMI_POLICY.
 * Ascend: NPU_MEM_QUOTA (MiB) / HAMI_MEMORY_LIMIT[_i], NPU_PRIORITY / HAMI_COMPUTE_LIMIT[_i].
 * A value that does not parse sets the matching *_invalid flag and writes one line to err
 * naming the variable, the value and the expected form (the caller logs it). Returns 0 or
 * HAMI_E_INVALID when any value was bad.  `getenv_fn` may be NULL (use getenv). */
typedef const char *(*hami_getenv_fn)(const char *name);
int hami_limits_from_env(int vendor, int ordinal, hami_limits *out, hami_getenv_fn getenv_fn,
                         char *err, size_t errlen);

#ifdef __cplusplus
}
#endif
#endif /* HAMI_REGION_H */
