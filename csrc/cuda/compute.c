/*
 * Owns compute metering for capped devices (the engine behind the launch hooks; API and
 * protocol in compute.h).  Per launch:
 *
 *   1. estimate: a fixed-size, lock-free open-addressing table in process memory maps
 *      (device slot, function or graph handle, grid-size bucket) to a learned duration.  An
 *      unknown key costs the device's running average (before any: two burst windows at the
 *      cap, at least HAMI_COMPUTE_DEFAULT_COST_NS) and is always sampled; while a new key's first measurement is in flight, further launches of it
 *      wait (sleeping, bounded by HAMI_COMPUTE_LEARN_WAIT_MAX_NS) so that an application
 *      queueing thousands of launches of a new 20 ms kernel cannot run far ahead of the bucket
 *      on a wrong estimate.  A full table falls back to the device average.
 *   2. tokens: hami_take_tokens(region, slot, estimate, now) -- one CAS; the caller sleeps for
 *      the returned deficit (clock_nanosleep, never spinning), counted as throttled time.  The
 *      bucket reads the region's live cap, so a `hami-core set --compute` applies at once.
 *   3. sampling: the first HAMI_COMPUTE_WARMUP_SAMPLES launches of a key, then 1 in
 *      HAMI_COMPUTE_SAMPLE_PERIOD (1 in HAMI_COMPUTE_UNSTABLE_PERIOD while the key's deviation
 *      is above 1/8 of its estimate, 1 in HAMI_COMPUTE_STABLE_PERIOD once it is established,
 *      1 in 2 for a `chained` launch: see launch_tls and learn), drawn from a per-thread PRNG so
 *      periodic launch patterns cannot alias.  A sampled launch records a start event before and an end event after the
 *      launch on its stream; the event pairs come from a per-device ring of
 *      HAMI_COMPUTE_POOL_SIZE slots, created lazily in the launching context and reused (a full
 *      ring means "not sampled", which also bounds samples in flight).
 *   4. harvest: at most every HAMI_COMPUTE_HARVEST_INTERVAL_NS a launch tries the device's
 *      harvest try-lock and looks at up to HAMI_COMPUTE_HARVEST_SCAN pending samples
 *      (cuEventElapsedTime answers NOT_READY for unfinished ones: one call each, never
 *      blocking); hami_compute_flush looks at all of them.  A finished sample updates the key
 *      (asymmetric EWMA: down by 1/4, up by 1/16 of the difference, i.e. it tracks a low
 *      quantile, so time spent waiting behind other processes' work does not inflate it;
 *      a sample is believed only up to 1/8 above the estimate unless a whole window of
 *      samples agrees, see learn; one below half the estimate halves the distance; a first
 *      sample is neither billed beyond its charge nor published while the chained second is
 *      in flight; samples launched before the key had an estimate only lower it and are
 *      settled upwards only),
 *      charges back (measured - estimate) with hami_charge_back, and counts the measured busy
 *      time (clamped to 2x the established estimate) with hami_count_launch.  Unsampled launches
 *      count their estimate into a per-thread batch (hami_count_launches every
 *      HAMI_COMPUTE_COUNT_BATCH launches or HAMI_COMPUTE_COUNT_BATCH_NS, at a flush, at thread
 *      and process exit): one shared-line atomic per few hundred launches instead of one each.
 *
 * Clock: the launch path reads CLOCK_MONOTONIC_COARSE (~8 ns against ~40 ns for the precise
 * clock; same time base, lagging it by less than one tick, 1-4 ms).  Why that is exact enough
 * for the bucket: while throttled, tat lies ahead of the clock and the GCRA result does not
 * depend on `now` at all (the sleep is until the absolute tat - burst, slept with the precise
 * clock); only when the bucket was idle (tat behind the clock) does a lagging `now` commit the
 * new arrival time up to one tick early, a one-off credit below the 20 ms burst per idle->busy
 * transition.  The precise clock is read only when a launch has to sleep.
 *
 * Queued work: the bucket bounds how far launches run ahead (its burst window, in estimated
 * cost); estimates of new keys are measured before the key is launched again; samples in
 * flight are bounded by the ring.
 *
 * Concurrency: table entries are claimed with one CAS on the key and never removed; their
 * estimate/deviation/sample count are written only by the holder of the device's harvest
 * try-lock (keys include the device), read relaxed by launchers.  The ring is a ticket ring:
 * claimers CAS `tail` while tail - head < size; the harvester alone advances `head` over
 * finished slots.  A slot's plain fields are handed over by release/acquire on its state word.
 *
 * Stream capture: a launch into a capturing stream is not metered (the graph launch will be):
 * no tokens, no sample, no count.  The capture hooks (launch.c) keep a process-wide count of
 * captures in progress (hami_compute_capture_begin/end); only while it is non-zero does a
 * launch ask cuStreamIsCapturing (one relaxed load otherwise).  A sampled launch asks too
 * whatever the count (a capture begun through an entry point we do not hook).  Harvests run
 * with the thread's capture mode exchanged to RELAXED so that our event queries never
 * invalidate another thread's global-mode capture.
 *
 * Context teardown: cuCtxDestroy, cuDevicePrimaryCtxReset and the last
 * cuDevicePrimaryCtxRelease destroy every event of the context, and the next context may have
 * the same handle (a primary context keeps it; a new one may get the freed address).  The
 * hooks (cuda_device.c) bracket the real call with hami_compute_context_teardown_begin/end:
 * harvests are held off meanwhile (every device's harvest try-lock is taken) and a destroyed
 * context bumps a process-wide generation.  A slot remembers the generation its events were
 * created under; events of an older generation are never queried, recorded or destroyed again
 * (they went with their context): the slot creates new ones.
 */
#include "compute.h"

#include <dlfcn.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>

#include "hami/clock.h"

/* ------------------------------------------------------------------ state -- */

typedef struct cost_entry {
    _Atomic uint64_t key;          /* 0: empty; claimed once, never removed */
    _Atomic uint64_t estimate_ns;  /* 0: no measurement yet */
    _Atomic uint64_t deviation_ns; /* EWMA of |measured - estimate| */
    _Atomic uint32_t samples_done;
    _Atomic uint32_t samples_inflight;
    uint64_t warm_charged_ns;      /* harvester only: what the warm-up samples cost the bucket */
    uint64_t warm_min_ns;          /* harvester only: lowest warm-up sample (0: none yet) */
    uint64_t window_min_ns;        /* harvester only: lowest sample of the current window */
    uint32_t window_count;         /* harvester only: samples in the current window */
} cost_entry;

enum { SLOT_FREE = 0, SLOT_CLAIMED = 1, SLOT_PENDING = 2, SLOT_DONE = 3, SLOT_ABANDONED = 4 };

typedef struct sample_slot {
    _Atomic uint32_t state;
    int proc_slot;
    void *start_event;      /* CUevent / aclrtEvent */
    void *end_event;
    void *ctx;              /* the context the two events were created in */
    uint64_t ctx_gen;       /* context_generation when they were created */
    cost_entry *entry;      /* NULL: table full, only the device average learns */
    hami_region *region;
    uint64_t estimate_ns;
    uint64_t throttled_ns;
    int blind;              /* launched before its key had an estimate (charged the fallback) */
} sample_slot;

typedef struct compute_device {
    _Alignas(64) _Atomic uint64_t tail; /* next ticket to claim */
    _Atomic uint64_t head;              /* oldest ticket not yet freed */
    _Atomic uint64_t last_harvest_ns;
    _Atomic uint64_t avg_ns;            /* running average of measured launches, 0: none */
    _Atomic int harvesting;             /* try-lock of the single harvester */
    _Atomic int vendor;                 /* HAMI_VENDOR_* of the slot (slots are per vendor) */
    sample_slot slots[HAMI_COMPUTE_POOL_SIZE];
} compute_device;

_Static_assert((HAMI_COMPUTE_TABLE_SIZE & (HAMI_COMPUTE_TABLE_SIZE - 1)) == 0, "power of two");
_Static_assert((HAMI_COMPUTE_SAMPLE_PERIOD & (HAMI_COMPUTE_SAMPLE_PERIOD - 1)) == 0, "pow2");
_Static_assert((HAMI_COMPUTE_UNSTABLE_PERIOD & (HAMI_COMPUTE_UNSTABLE_PERIOD - 1)) == 0, "pow2");
_Static_assert((HAMI_COMPUTE_STABLE_PERIOD & (HAMI_COMPUTE_STABLE_PERIOD - 1)) == 0, "pow2");

static cost_entry cost_table[HAMI_COMPUTE_TABLE_SIZE];
static compute_device devices[HAMI_MAX_DEVICES];

/* Bumped when a context was destroyed (see the header comment); captures in progress. */
static _Atomic uint64_t context_generation;
static _Atomic int captures_active;
/* This thread holds every harvest try-lock (nested teardown hooks take them once). */
static __thread int teardown_depth __attribute__((tls_model("initial-exec")));

/* Samples a warming key may have in flight at once (the rest of its launches are unsampled). */
#define WARMUP_INFLIGHT_MAX 2u
/* First step and ceiling of the sleep while waiting for a new key's first measurement. */
#define LEARN_POLL_FIRST_NS 20000ull
#define LEARN_POLL_MAX_NS 1000000ull

/* ------------------------------------------------------------------ driver -- */

static hami_compute_driver drv;
static _Atomic int drv_state; /* 0: unresolved, 1: resolved (real or test) */
static _Atomic int atfork_registered;

/* resolve.c's finder of glibc's dlsym (our own dlsym is an override).  Weak: the unit tests
 * link compute.c without resolve.c and use the plain dlsym. */
extern void *hami_real_dlsym_resolve(void) __attribute__((weak));

static void resolve_driver(void)
{
    typedef void *(*dlsym_fn)(void *, const char *);
    dlsym_fn lookup = dlsym;
    if (hami_real_dlsym_resolve) {
        void *real = hami_real_dlsym_resolve();
        if (real)
            lookup = (dlsym_fn)real;
    }
    hami_compute_driver d;
    memset(&d, 0, sizeof d);
    void *lib = dlopen("libcuda.so.1", RTLD_LAZY | RTLD_NOLOAD);
    if (lib) {
        d.event_create = (cuEventCreate_fn)lookup(lib, "cuEventCreate");
        d.event_record = (cuEventRecord_fn)lookup(lib, "cuEventRecord");
        d.event_elapsed = (cuEventElapsedTime_fn)lookup(lib, "cuEventElapsedTime_v2");
        if (!d.event_elapsed)
            d.event_elapsed = (cuEventElapsedTime_fn)lookup(lib, "cuEventElapsedTime");
        d.event_destroy = (cuEventDestroy_v2_fn)lookup(lib, "cuEventDestroy_v2");
        d.ctx_get_current = (cuCtxGetCurrent_fn)lookup(lib, "cuCtxGetCurrent");
        d.stream_is_capturing = (cuStreamIsCapturing_fn)lookup(lib, "cuStreamIsCapturing");
        d.exchange_capture_mode =
            (hami_compute_exchange_mode_fn)lookup(lib, "cuThreadExchangeStreamCaptureMode");
        (void)dlerror();
        dlclose(lib); /* NOLOAD took a reference; the library stays loaded by its owner */
    }
    drv = d; /* racing resolvers store identical values */
}

static void register_atfork(void)
{
    int expected = 0;
    if (atomic_compare_exchange_strong(&atfork_registered, &expected, 1))
        pthread_atfork(NULL, NULL, hami_compute_fork_child);
}

static inline const hami_compute_driver *driver(void)
{
    if (__builtin_expect(!atomic_load_explicit(&drv_state, memory_order_acquire), 0)) {
        register_atfork();
        resolve_driver();
        atomic_store_explicit(&drv_state, 1, memory_order_release);
    }
    return &drv;
}

/* Sampling needs events, a context and timing. */
static inline int can_sample(const hami_compute_driver *d)
{
    return d->event_create && d->event_record && d->event_elapsed && d->ctx_get_current;
}

void hami_compute_use_driver(const hami_compute_driver *d)
{
    register_atfork();
    if (d) {
        drv = *d;
        atomic_store_explicit(&drv_state, 1, memory_order_release);
    } else {
        atomic_store_explicit(&drv_state, 0, memory_order_release);
    }
}

/* ------------------------------------------------------------------ Ascend driver -- */

static hami_compute_acl_driver acl_drv;
static _Atomic int acl_drv_state; /* 0: unresolved, 1: resolved (real or test) */

typedef int (*acl_fn_create)(void **);
typedef int (*acl_fn_record)(void *, void *);
typedef int (*acl_fn_query)(void *, int *);
typedef int (*acl_fn_elapsed)(float *, void *, void *);
typedef int (*acl_fn_destroy)(void *);
typedef int (*acl_fn_ctx)(void **);

/* ACL when the application loaded it (ACL's events are what an ACL application's streams
 * know); the runtime's equivalents otherwise (a process calling rt* directly may never load
 * libascendcl.so, and we must not load it for it). */
static void resolve_acl_driver(void)
{
    typedef void *(*dlsym_fn)(void *, const char *);
    dlsym_fn lookup = dlsym;
    if (hami_real_dlsym_resolve) {
        void *real = hami_real_dlsym_resolve();
        if (real)
            lookup = (dlsym_fn)real;
    }
    hami_compute_acl_driver d;
    memset(&d, 0, sizeof d);
    static const char *const names[2][6] = {
        {"aclrtCreateEvent", "aclrtRecordEvent", "aclrtQueryEventStatus",
         "aclrtEventElapsedTime", "aclrtDestroyEvent", "aclrtGetCurrentContext"},
        {"rtEventCreate", "rtEventRecord", "rtEventQueryStatus", "rtEventElapsedTime",
         "rtEventDestroy", "rtCtxGetCurrent"}};
    static const char *const libs[2] = {"libascendcl.so", "libruntime.so"};
    for (int i = 0; i < 2 && !d.create_event; i++) {
        void *lib = dlopen(libs[i], RTLD_LAZY | RTLD_NOLOAD);
        if (!lib)
            continue;
        d.create_event = (acl_fn_create)lookup(lib, names[i][0]);
        d.record_event = (acl_fn_record)lookup(lib, names[i][1]);
        d.query_status = (acl_fn_query)lookup(lib, names[i][2]);
        d.elapsed_time = (acl_fn_elapsed)lookup(lib, names[i][3]);
        d.destroy_event = (acl_fn_destroy)lookup(lib, names[i][4]);
        d.get_current_context = (acl_fn_ctx)lookup(lib, names[i][5]);
        (void)dlerror();
        dlclose(lib);
        if (!d.create_event || !d.record_event || !d.query_status || !d.elapsed_time ||
            !d.get_current_context)
            memset(&d, 0, sizeof d);
    }
    acl_drv = d;
}

static inline const hami_compute_acl_driver *acl_driver(void)
{
    if (__builtin_expect(!atomic_load_explicit(&acl_drv_state, memory_order_acquire), 0)) {
        register_atfork();
        resolve_acl_driver();
        atomic_store_explicit(&acl_drv_state, 1, memory_order_release);
    }
    return &acl_drv;
}

void hami_compute_use_acl_driver(const hami_compute_acl_driver *d)
{
    register_atfork();
    if (d) {
        acl_drv = *d;
        atomic_store_explicit(&acl_drv_state, 1, memory_order_release);
    } else {
        atomic_store_explicit(&acl_drv_state, 0, memory_order_release);
    }
}

/* ------------------------------------------------------------------ vendor operations -- */

/* What the engine needs from a vendor, normalised: 0 = success. */
enum { EV_DONE = 0, EV_NOT_READY = 1, EV_ERROR = -1 };

static int ops_can_sample(int vendor)
{
    if (vendor == HAMI_VENDOR_ASCEND)
        return acl_driver()->create_event != NULL;
    return can_sample(driver());
}

static int ops_ctx_current(int vendor, void **ctx)
{
    if (vendor == HAMI_VENDOR_ASCEND)
        return acl_driver()->get_current_context(ctx) == 0 ? 0 : -1;
    CUcontext c = NULL;
    int rc = driver()->ctx_get_current(&c) == CUDA_SUCCESS ? 0 : -1;
    *ctx = (void *)c;
    return rc;
}

static int ops_event_create(int vendor, void **ev)
{
    if (vendor == HAMI_VENDOR_ASCEND)
        return acl_driver()->create_event(ev) == 0 ? 0 : -1;
    CUevent e = NULL;
    int rc = driver()->event_create(&e, CU_EVENT_DEFAULT) == CUDA_SUCCESS ? 0 : -1;
    *ev = (void *)e;
    return rc;
}

static void ops_event_destroy(int vendor, void *ev)
{
    if (!ev)
        return;
    if (vendor == HAMI_VENDOR_ASCEND) {
        if (acl_driver()->destroy_event)
            acl_driver()->destroy_event(ev);
    } else if (driver()->event_destroy) {
        driver()->event_destroy((CUevent)ev);
    }
}

static int ops_event_record(int vendor, void *ev, void *stream)
{
    if (vendor == HAMI_VENDOR_ASCEND)
        return acl_driver()->record_event(ev, stream) == 0 ? 0 : -1;
    return driver()->event_record((CUevent)ev, (CUstream)stream) == CUDA_SUCCESS ? 0 : -1;
}

/* Non-blocking: EV_DONE with *ns, EV_NOT_READY, or EV_ERROR. */
static int ops_event_elapsed(int vendor, void *start, void *end, uint64_t *ns)
{
    float ms = 0;
    if (vendor == HAMI_VENDOR_ASCEND) {
        /* ACL's elapsed time is only defined once the end event completed: ask first */
        const hami_compute_acl_driver *a = acl_driver();
        int status = 0;
        if (a->query_status(end, &status) != 0)
            return EV_ERROR;
        if (status != 1)
            return EV_NOT_READY;
        if (a->elapsed_time(&ms, start, end) != 0)
            return EV_ERROR;
    } else {
        CUresult rc = driver()->event_elapsed(&ms, (CUevent)start, (CUevent)end);
        if (rc == CUDA_ERROR_NOT_READY)
            return EV_NOT_READY;
        if (rc != CUDA_SUCCESS)
            return EV_ERROR;
    }
    *ns = ms > 0 ? (uint64_t)((double)ms * 1e6 + 0.5) : 0;
    return EV_DONE;
}

/* ------------------------------------------------------------------ table -- */

static inline uint64_t mix64(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ull;
    x ^= x >> 33;
    return x;
}

/* Grid size in quarter-octaves: 1, 2, 3, 4, 5, 6, 7, 8, 10, 12, 14, 16, 20 ... share a bucket
 * only within 25 %; 0 (graphs) is its own bucket. */
static inline uint64_t grid_bucket(uint64_t grid_blocks)
{
    if (grid_blocks == 0)
        return 0;
    unsigned lg = 63u - (unsigned)__builtin_clzll(grid_blocks);
    uint64_t sub = lg >= 2 ? (grid_blocks >> (lg - 2)) & 3u : (grid_blocks << (2 - lg)) & 3u;
    return (uint64_t)(lg + 1) * 4u + sub;
}

static inline uint64_t make_key(int dev_slot, uintptr_t func_key, uint64_t grid_blocks)
{
    uint64_t k = mix64((uint64_t)func_key * 0x9e3779b97f4a7c15ull ^
                       (grid_bucket(grid_blocks) << 8 | (uint64_t)(unsigned)dev_slot));
    return k ? k : 1;
}

/* Find or claim the entry of `key`; NULL when its probe window is full. */
static inline cost_entry *table_entry(uint64_t key, int create)
{
    uint64_t index = key;
    for (unsigned i = 0; i < HAMI_COMPUTE_TABLE_PROBE; i++, index++) {
        cost_entry *e = &cost_table[index & (HAMI_COMPUTE_TABLE_SIZE - 1)];
        uint64_t k = atomic_load_explicit(&e->key, memory_order_acquire);
        if (k == key)
            return e;
        if (k == 0) {
            if (!create)
                return NULL;
            uint64_t expected = 0;
            if (atomic_compare_exchange_strong_explicit(&e->key, &expected, key,
                                                        memory_order_acq_rel,
                                                        memory_order_acquire) ||
                expected == key)
                return e;
        }
    }
    return NULL;
}

/* ------------------------------------------------------------------ learning -- */

/* The cost of a launch whose key has no estimate: the device's running average; before this
 * process measured anything on the device, two burst windows' worth of tokens at the live cap,
 * so that processes starting together do not all put their first kernels on the device at once
 * (their first samples would include each other's time).  The charge-back settles it. */
static uint64_t device_fallback_ns(hami_region *region, int dev_slot, compute_device *d)
{
    uint64_t avg = atomic_load_explicit(&d->avg_ns, memory_order_relaxed);
    if (avg)
        return avg;
    hami_limits lim;
    if (hami_region_get_limits(region, dev_slot, &lim) == HAMI_OK && lim.compute_limit_pct &&
        !lim.policy_disable) {
        uint64_t cost = 2 * HAMI_BUCKET_BURST_NS * lim.compute_limit_pct / 100;
        if (cost > HAMI_COMPUTE_DEFAULT_COST_NS)
            return cost;
    }
    return HAMI_COMPUTE_DEFAULT_COST_NS;
}

/* Harvester only.  Learns from one sample of `e` (NULL: table full, device average only) that
 * was charged `charged_ns` at launch and measured `measured_ns`.  Returns the charge-back for
 * the bucket; *count_ns receives the busy time to count.
 *
 * After warm-up a sample is charged back (measured - charged), the measurement clamped to 2x the
 * key's estimate.  During warm-up the key's estimate is the minimum sample so far, and the
 * warm-up samples together are kept charged at (samples x that minimum): a first sample that
 * queued behind other processes' work (they all start at once) is refunded as soon as a
 * cleaner sample arrives, instead of leaving seconds of debt at a low cap. */
/* Samples in the window whose minimum may raise an estimate on unchained evidence, and the
 * margin above the estimate that an unchained sample is believed without that window. */
#define RAISE_WINDOW 8u
#define UNCHAINED_SLACK_DIV 8u

static int64_t learn(compute_device *d, cost_entry *e, uint64_t measured_ns, uint64_t charged_ns,
                     int blind, uint64_t *count_ns)
{
    uint64_t used = measured_ns;
    int64_t delta;
    if (e) {
        uint32_t done = atomic_load_explicit(&e->samples_done, memory_order_relaxed);
        uint64_t est = atomic_load_explicit(&e->estimate_ns, memory_order_relaxed);
        uint64_t dev = atomic_load_explicit(&e->deviation_ns, memory_order_relaxed);
        int publish = 1;
        if (done == 0) {
            dev = 0;
            e->warm_min_ns = 0;
            e->warm_charged_ns = 0;
        }
        if (done < HAMI_COMPUTE_WARMUP_SAMPLES) {
            uint64_t m = measured_ns ? measured_ns : 1;
            uint64_t lo = e->warm_min_ns ? e->warm_min_ns : m;
            uint64_t diff = m > lo ? m - lo : lo - m;
            dev = diff > dev ? dev + (diff - dev) / 2 : dev - (dev - diff) / 2;
            if (m < lo)
                lo = m;
            e->warm_min_ns = lo;
            est = lo;
            /* Bound the damage of one huge sample (the first launch of a tenant that starts
             * beside a deep queue measures the whole queue: a second at a 30 % cap is 3 s of
             * debt).  While another sample of the key is still in flight (the second launch,
             * chained behind this one, lands a kernel's time later) the bucket is billed no
             * more than was charged at launch -- the pending sample is likely to lower the
             * minimum, and the one after it settles the difference (the warm-up bills the
             * running total, see above) -- and a first sample is not even published: neither
             * as the key's estimate (launches would take a second's worth of tokens each
             * meanwhile) nor into the device average (the fallback of unknown keys). */
            int pending = atomic_load_explicit(&e->samples_inflight, memory_order_relaxed) > 1;
            uint64_t billed = e->warm_charged_ns + charged_ns;
            uint64_t target = (uint64_t)(done + 1) * lo;
            if (pending && done + 1 < HAMI_COMPUTE_WARMUP_SAMPLES && target > billed)
                target = billed;
            delta = (int64_t)target - (int64_t)billed;
            e->warm_charged_ns = target;
            used = measured_ns < 2 * lo ? measured_ns : 2 * lo;
            if (pending && done == 0) {
                publish = 0;
                used = used < charged_ns ? used : charged_ns;
            }
        } else if (blind) {
            /* Launched before the key had an estimate, harvested after its warm-up: beside a
             * deep queue the launches that waited out the first measurements
             * (HAMI_COMPUTE_LEARN_WAIT_MAX_NS apart) come back a queue's latency late, all
             * unchained and all holding the neighbour's queue.  They are warm-up evidence:
             * they may lower the estimate (a sample is never shorter than the kernel) but
             * neither raise it nor fill the raise window (a window of them raised a 1 ms
             * kernel to 101 ms).  Their fallback charge is settled upwards only: their
             * refunds would come back a second late, when the over-charge had long been
             * forgotten by an idle bucket (the launches were paced by the learning wait, not
             * by the bucket), and credited a throttled one -- 30 % tenant at 36-40 % for a
             * second. */
            if (measured_ns < est) {
                est -= (est - measured_ns) / (measured_ns * 2 < est ? 2 : 4);
                if (est == 0)
                    est = 1;
            }
            if (used > est + est / UNCHAINED_SLACK_DIV)
                used = est + est / UNCHAINED_SLACK_DIV;
            delta = used > charged_ns ? (int64_t)(used - charged_ns) : 0;
        } else {
            /* Contention.  An elapsed time between two events of our stream also holds any
             * work of other contexts (other containers, which our bucket does not see) that
             * the device ran between them: queued ahead of our kernel, or time slices.  A
             * sample whose launch followed the thread's previous launch on the same stream
             * within microseconds (`chained`: its start event completes when that launch
             * ends, and nothing of anyone else's was queued in between) measures the kernel
             * alone of other containers' work.  A sample above the estimate may be waiting
             * time: it is
             * believed only up to estimate + 1/8 (charged, counted, learned), unless a whole
             * window of RAISE_WINDOW samples stays above that -- consistent evidence that the
             * kernel really got longer, not a busy neighbour, which never delays every one
             * of our kernels while chained ones are clean.  The window's minimum then
             * becomes the estimate.
             *
             * Chained samples are capped the same way.  "Nothing queued in between" holds for
             * this thread's stream only: the device runs every context's work in one queue,
             * and the OTHER processes of this container (same bucket) launch between our two
             * launches all the time once several of them are throttled -- each wakes from its
             * own sleep.  A chained sample then holds a neighbour's kernel too, and charging it
             * in full billed the container's own work twice: 4 processes at a 90 % cap held
             * 83-87 %, 50 us kernels worst (1 process: 89.9 %).  Chained samples still pull the
             * estimate down (they are the clean ones when nothing intervened) and are sampled
             * more often; a kernel that really got longer is caught by the window above (at
             * most RAISE_WINDOW samples, 1 in 2 to 1 in 4 launches while it disagrees). */
            if (e->window_count == 0 || measured_ns < e->window_min_ns)
                e->window_min_ns = measured_ns;
            if (++e->window_count >= RAISE_WINDOW) {
                uint64_t floor = e->window_min_ns;
                e->window_count = 0;
                if (floor > est + est / UNCHAINED_SLACK_DIV)
                    est = floor;
            }
            if (used > est + est / UNCHAINED_SLACK_DIV)
                used = est + est / UNCHAINED_SLACK_DIV;
            if (used > 2 * est)
                used = 2 * est;
            delta = (int64_t)used - (int64_t)charged_ns;
            measured_ns = used;
            uint64_t diff = measured_ns > est ? measured_ns - est : est - measured_ns;
            dev = diff > dev ? dev + (diff - dev) / 8 : dev - (dev - diff) / 8;
            /* Down by 1/4 of the difference; by half when the sample is below half the
             * estimate.  A sample can only be longer than the kernel (waiting time adds, it
             * never subtracts), so one that far below is evidence that the estimate is an
             * outlier (learned from warm-up samples that all waited behind a neighbour's
             * queue, or after a preemption between chained launches): from 10x too high it
             * converges in ~6 samples instead of ~16, which beside a deep queue (samples come
             * back a queue's latency late, ~1 s) was seconds at a tenth of the cap. */
            if (measured_ns * 2 < est)
                est -= (est - measured_ns) / 2;
            else if (measured_ns < est)
                est -= (est - measured_ns) / 4;
            else
                est += (measured_ns - est) / 16;
        }
        if (publish)
            atomic_store_explicit(&e->estimate_ns, est ? est : 1, memory_order_relaxed);
        atomic_store_explicit(&e->deviation_ns, dev, memory_order_relaxed);
        atomic_store_explicit(&e->samples_done, done + 1, memory_order_release);
        if (!publish) {
            *count_ns = used;
            return delta;
        }
    } else {
        delta = (int64_t)used - (int64_t)charged_ns;
    }
    uint64_t avg = atomic_load_explicit(&d->avg_ns, memory_order_relaxed);
    avg = avg == 0 ? (used ? used : 1)
                   : (used > avg ? avg + (used - avg) / 8 : avg - (avg - used) / 8);
    atomic_store_explicit(&d->avg_ns, avg ? avg : 1, memory_order_relaxed);
    *count_ns = used;
    return delta;
}

static inline void entry_sample_done(cost_entry *e)
{
    if (e)
        atomic_fetch_sub_explicit(&e->samples_inflight, 1, memory_order_release);
}

/* ------------------------------------------------------------------ harvest -- */

static void flush_thread_counts(int at_exit);

static void harvest(compute_device *d, unsigned max_scan)
{
    int expected = 0;
    if (atomic_load_explicit(&d->harvesting, memory_order_relaxed) ||
        !atomic_compare_exchange_strong_explicit(&d->harvesting, &expected, 1,
                                                 memory_order_acquire, memory_order_relaxed))
        return;
    int vendor = atomic_load_explicit(&d->vendor, memory_order_relaxed);
    int dev_slot = (int)(d - devices);
    CUstreamCaptureMode mode = CU_STREAM_CAPTURE_MODE_RELAXED;
    const hami_compute_driver *dr = vendor == HAMI_VENDOR_ASCEND ? NULL : driver();
    int exchanged = dr && dr->exchange_capture_mode &&
                    dr->exchange_capture_mode(&mode) == CUDA_SUCCESS;

    /* read under the try-lock: a teardown bumps it before it lets harvests run again */
    uint64_t gen = atomic_load_explicit(&context_generation, memory_order_acquire);
    uint64_t head = atomic_load_explicit(&d->head, memory_order_relaxed);
    uint64_t tail = atomic_load_explicit(&d->tail, memory_order_acquire);
    unsigned scanned = 0;
    for (uint64_t t = head; t != tail && scanned < max_scan; t++) {
        sample_slot *s = &d->slots[t % HAMI_COMPUTE_POOL_SIZE];
        if (atomic_load_explicit(&s->state, memory_order_acquire) != SLOT_PENDING)
            continue;
        scanned++;
        uint64_t measured = 0;
        int live = s->ctx_gen == gen; /* else its events went with their context */
        int rc = live ? ops_event_elapsed(vendor, s->start_event, s->end_event, &measured)
                      : EV_ERROR;
        if (rc == EV_NOT_READY)
            continue;
        if (rc == EV_DONE) {
            uint64_t used = 0;
            int64_t delta = learn(d, s->entry, measured, s->estimate_ns, s->blind, &used);
            hami_charge_back(s->region, dev_slot, delta);
            hami_count_launch(s->region, dev_slot, s->proc_slot, used, s->throttled_ns);
        } else {
            /* the events are unusable (context gone?): count the estimate, recreate later;
             * destroy them while their context lives (same generation), else they are gone */
            hami_count_launch(s->region, dev_slot, s->proc_slot, s->estimate_ns,
                              s->throttled_ns);
            if (live) {
                ops_event_destroy(vendor, s->start_event);
                ops_event_destroy(vendor, s->end_event);
            }
            s->ctx = NULL;
            s->start_event = s->end_event = NULL;
        }
        entry_sample_done(s->entry);
        atomic_store_explicit(&s->state, SLOT_DONE, memory_order_relaxed);
    }
    /* free finished slots in ticket order */
    while (head != tail) {
        sample_slot *s = &d->slots[head % HAMI_COMPUTE_POOL_SIZE];
        uint32_t st = atomic_load_explicit(&s->state, memory_order_acquire);
        if (st != SLOT_DONE && st != SLOT_ABANDONED)
            break;
        atomic_store_explicit(&s->state, SLOT_FREE, memory_order_relaxed);
        head++;
        atomic_store_explicit(&d->head, head, memory_order_release);
    }
    if (exchanged)
        dr->exchange_capture_mode(&mode);
    atomic_store_explicit(&d->harvesting, 0, memory_order_release);
}

void hami_compute_flush(void)
{
    flush_thread_counts(0);
    if (!atomic_load_explicit(&drv_state, memory_order_acquire) &&
        !atomic_load_explicit(&acl_drv_state, memory_order_acquire))
        return; /* nothing was ever sampled */
    for (int i = 0; i < HAMI_MAX_DEVICES; i++) {
        compute_device *d = &devices[i];
        if (atomic_load_explicit(&d->tail, memory_order_acquire) !=
            atomic_load_explicit(&d->head, memory_order_relaxed))
            harvest(d, HAMI_COMPUTE_POOL_SIZE);
    }
}

/* ------------------------------------------------------------------ the pool -- */

/* Claim a ring slot (state CLAIMED) or return NULL when HAMI_COMPUTE_POOL_SIZE are in use. */
static sample_slot *pool_claim(compute_device *d)
{
    uint64_t tail = atomic_load_explicit(&d->tail, memory_order_relaxed);
    for (;;) {
        uint64_t head = atomic_load_explicit(&d->head, memory_order_acquire);
        if (tail - head >= HAMI_COMPUTE_POOL_SIZE)
            return NULL;
        if (atomic_compare_exchange_weak_explicit(&d->tail, &tail, tail + 1,
                                                  memory_order_acq_rel, memory_order_relaxed))
            break;
    }
    sample_slot *s = &d->slots[tail % HAMI_COMPUTE_POOL_SIZE];
    atomic_store_explicit(&s->state, SLOT_CLAIMED, memory_order_relaxed);
    return s;
}

static inline void pool_abandon(sample_slot *s)
{
    entry_sample_done(s->entry);
    atomic_store_explicit(&s->state, SLOT_ABANDONED, memory_order_release);
}

/* Make the slot's events belong to the current context; 0 on success. */
static int slot_events_ready(int vendor, sample_slot *s)
{
    void *ctx = NULL;
    if (ops_ctx_current(vendor, &ctx) != 0 || ctx == NULL)
        return -1;
    /* read before the events are created: a teardown meanwhile makes them stale, not us
     * believe stale ones current */
    uint64_t gen = atomic_load_explicit(&context_generation, memory_order_acquire);
    if (s->ctx == ctx && s->ctx_gen == gen && s->start_event && s->end_event)
        return 0;
    if (s->ctx_gen == gen) { /* another context that still lives: give its events back */
        ops_event_destroy(vendor, s->start_event);
        ops_event_destroy(vendor, s->end_event);
    } /* else the handles went with their context (a same-address successor included) */
    s->start_event = s->end_event = NULL;
    s->ctx = NULL;
    void *a = NULL, *b = NULL;
    if (ops_event_create(vendor, &a) != 0)
        return -1;
    if (ops_event_create(vendor, &b) != 0) {
        ops_event_destroy(vendor, a);
        return -1;
    }
    s->start_event = a;
    s->end_event = b;
    s->ctx = ctx;
    s->ctx_gen = gen;
    return 0;
}

/* ------------------------------------------------------------------ context teardown -- */

void hami_compute_context_teardown_begin(void)
{
    if (teardown_depth++)
        return;
    for (int i = 0; i < HAMI_MAX_DEVICES; i++) {
        _Atomic int *lock = &devices[i].harvesting;
        for (;;) {
            int expected = 0;
            if (atomic_compare_exchange_weak_explicit(lock, &expected, 1, memory_order_acquire,
                                                      memory_order_relaxed))
                break;
            sched_yield(); /* a harvest holds it for one scan (never blocking) */
        }
    }
}

void hami_compute_context_teardown_end(int destroyed)
{
    if (destroyed)
        atomic_fetch_add_explicit(&context_generation, 1, memory_order_release);
    if (teardown_depth == 0 || --teardown_depth != 0)
        return;
    for (int i = 0; i < HAMI_MAX_DEVICES; i++)
        atomic_store_explicit(&devices[i].harvesting, 0, memory_order_release);
}

/* ------------------------------------------------------------------ stream capture -- */

void hami_compute_capture_begin(void)
{
    atomic_fetch_add_explicit(&captures_active, 1, memory_order_relaxed);
}

void hami_compute_capture_end(void)
{
    int n = atomic_load_explicit(&captures_active, memory_order_relaxed);
    /* never below zero (an end of a capture begun through an entry point we do not hook) */
    while (n > 0 && !atomic_compare_exchange_weak_explicit(&captures_active, &n, n - 1,
                                                           memory_order_relaxed,
                                                           memory_order_relaxed))
        ;
}

/* Only while some capture is in progress: is `stream` (as the launch named it) capturing? */
__attribute__((noinline)) static int launch_captured(void *stream)
{
    const hami_compute_driver *dr = driver();
    if (!dr->stream_is_capturing)
        return 0;
    CUstreamCaptureStatus status = CU_STREAM_CAPTURE_STATUS_NONE;
    return dr->stream_is_capturing((CUstream)stream, &status) == CUDA_SUCCESS &&
           status != CU_STREAM_CAPTURE_STATUS_NONE;
}

/* ------------------------------------------------------------------ launch path -- */

static __thread uint64_t rng_state __attribute__((tls_model("initial-exec")));

static inline uint64_t next_random(void)
{
    uint64_t x = rng_state;
    if (__builtin_expect(x == 0, 0))
        x = mix64((uint64_t)(uintptr_t)&rng_state ^ hami_now_ns()) | 1;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    rng_state = x;
    return x;
}

/* A new key's first measurement is in flight: wait for it (sleeping, bounded).  Returns the
 * wall time waited. */
static uint64_t wait_first_measurement(compute_device *d, cost_entry *e, uint64_t now_ns)
{
    uint64_t deadline = now_ns + HAMI_COMPUTE_LEARN_WAIT_MAX_NS;
    uint64_t step = LEARN_POLL_FIRST_NS, t = now_ns;
    /* Until every warm-up sample in flight is in, not just the first: the first one of a
     * tenant that starts beside a busy neighbour measures the neighbour's whole queue, and
     * the second (chained behind it, see learn) is the one that corrects it. */
    while (atomic_load_explicit(&e->samples_inflight, memory_order_acquire) != 0) {
        harvest(d, HAMI_COMPUTE_POOL_SIZE);
        if (atomic_load_explicit(&e->samples_inflight, memory_order_acquire) == 0)
            break;
        t = hami_now_ns();
        if (t >= deadline)
            break;
        hami_sleep_until_ns(t + step < deadline ? t + step : deadline);
        step = step * 2 < LEARN_POLL_MAX_NS ? step * 2 : LEARN_POLL_MAX_NS;
    }
    t = hami_now_ns();
    return t - now_ns;
}

/* The launch path's clock (see the header comment): CLOCK_MONOTONIC_COARSE, same time base
 * as hami_now_ns, never ahead of it. */
static inline uint64_t coarse_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Counters of unsampled launches, batched per thread and device slot (hami_count_launches):
 * launches, estimated busy time and throttled time are added to the region every
 * HAMI_COMPUTE_COUNT_BATCH launches, or once HAMI_COMPUTE_COUNT_BATCH_NS passed since the
 * batch's first launch, at hami_compute_flush, and when the thread or the process exits.  The
 * region pointer and process slot are per process; a fork child starts with empty batches. */
typedef struct count_batch {
    hami_region *region;
    int proc_slot;
    uint32_t launches;
    uint64_t busy_ns;
    uint64_t throttled_ns;
    uint64_t first_ns; /* coarse clock at the batch's first launch */
} count_batch;

static __thread count_batch thread_batch[HAMI_MAX_DEVICES]
    __attribute__((tls_model("initial-exec")));
static __thread int thread_batch_registered __attribute__((tls_model("initial-exec")));
static pthread_key_t batch_key;
static pthread_once_t batch_key_once = PTHREAD_ONCE_INIT;

static inline void batch_flush(count_batch *b, int dev_slot, int proc_slot)
{
    if (b->launches || b->busy_ns || b->throttled_ns)
        hami_count_launches(b->region, dev_slot, proc_slot, b->launches, b->busy_ns,
                            b->throttled_ns);
    b->launches = 0;
    b->busy_ns = 0;
    b->throttled_ns = 0;
}

/* The calling thread's batches (at process exit see batch_process_exit: the process slot may
 * already be left then, so only the device counters are added). */
static void flush_thread_counts(int unused)
{
    (void)unused;
    for (int i = 0; i < HAMI_MAX_DEVICES; i++) {
        count_batch *b = &thread_batch[i];
        if (b->region)
            batch_flush(b, i, b->proc_slot);
    }
}

static void batch_thread_exit(void *unused)
{
    (void)unused;
    flush_thread_counts(0);
}

static void batch_key_create(void)
{
    /* a failure only means a thread's last partial batch is not counted at its exit */
    (void)pthread_key_create(&batch_key, batch_thread_exit);
}

/* hook_state.c's region (weak: the unit tests link the engine without it).  The exit flush
 * only touches that region, which libhami.so never unmaps; a region the caller opened itself
 * (the tests) may be closed by the time destructors run. */
extern hami_region *hami_hook_region(void) __attribute__((weak));

__attribute__((destructor)) static void batch_process_exit(void)
{
    hami_region *r = hami_hook_region ? hami_hook_region() : NULL;
    for (int i = 0; r && i < HAMI_MAX_DEVICES; i++) {
        count_batch *b = &thread_batch[i];
        if (b->region == r)
            batch_flush(b, i, -1);
    }
}

/* Once per thread (not per launch): arrange the exit-time flush. */
__attribute__((noinline)) static void batch_register_thread(void)
{
    thread_batch_registered = 1;
    pthread_once(&batch_key_once, batch_key_create);
    (void)pthread_setspecific(batch_key, (void *)1);
}

static inline void count_unsampled(const hami_compute_ticket *t)
{
    count_batch *b = &thread_batch[t->dev_slot];
    if (__builtin_expect(b->region != t->region || b->proc_slot != t->proc_slot, 0)) {
        if (b->region)
            batch_flush(b, t->dev_slot, b->proc_slot);
        if (!thread_batch_registered)
            batch_register_thread();
        b->region = t->region;
        b->proc_slot = t->proc_slot;
    }
    if (b->launches == 0)
        b->first_ns = t->now_ns;
    b->launches++;
    b->busy_ns += t->estimate_ns;
    b->throttled_ns += t->throttled_ns;
    /* a launch that slept already paid far more than the flush costs */
    if (b->launches >= HAMI_COMPUTE_COUNT_BATCH || t->throttled_ns ||
        t->now_ns - b->first_ns >= HAMI_COMPUTE_COUNT_BATCH_NS)
        batch_flush(b, t->dev_slot, t->proc_slot);
}

/* Deviation below which a key counts as stable whatever its relative deviation. */
#define UNSTABLE_MIN_NS 2000ull

/* Launches (with samples pending) between two launch-path harvests of a thread, besides the
 * time-based ones.  The countdown is per thread: no shared counter on the launch path. */
#define HARVEST_EVERY_LAUNCHES 32u
static __thread unsigned harvest_countdown __attribute__((tls_model("initial-exec"))) =
    HARVEST_EVERY_LAUNCHES;

/* Per-thread launch state (all initial-exec TLS: a few loads, no call):
 *   last_*: the previous launch's cost-table entry, so a thread launching the same kernel
 *     again skips the hash and the probe (validated by the entry's key, which a reset or a
 *     fork's table change would have altered);
 *   slept_stream: the stream of this thread's previous launch when that launch had to sleep
 *     (HAMI_COMPUTE_NO_STREAM otherwise).  A throttled thread sleeps one launch's worth longer
 *     than it must (see admit), so its next launch needs no tokens and follows within
 *     microseconds: on the same stream that launch is `chained` (nothing of another context
 *     can be queued between the two) and its sample measures the kernel alone. */
#define HAMI_COMPUTE_NO_STREAM ((void *)(uintptr_t)-3)
typedef struct launch_tls {
    uint64_t key;
    cost_entry *entry;
    uintptr_t func_key;
    uint64_t grid_blocks;
    int dev_slot;
    void *slept_stream;
    cost_entry *pair_entry; /* previous launch waited out a new key's first measurement */
    void *pair_stream;      /* ... on this stream: the next one of the key follows at once */
} launch_tls;
static __thread launch_tls tls_launch __attribute__((tls_model("initial-exec"))) = {
    0, NULL, 0, 0, -1, HAMI_COMPUTE_NO_STREAM, NULL, NULL};

/* A stable key (at least STABLE_SAMPLES measured, deviation within 1/16) is sampled 1 in
 * HAMI_COMPUTE_STABLE_PERIOD: a sample costs two event records and a query (microseconds on
 * real drivers, more than the launch), and once the estimate is established each further
 * sample mostly confirms it; any sample that disagrees raises the deviation and the key goes
 * back to 1 in 16 (or 1 in 4). */
#define STABLE_SAMPLES 32u
/* Sample 1 in this many chained launches (they follow a sleep: their cost is hidden by it). */
#define CHAINED_SAMPLE_PERIOD 2u
/* Ceiling of the extra sleep that makes a throttled thread's next launch chained. */
#define CHAIN_EXTRA_SLEEP_MAX_NS 50000000ull

static inline cost_entry *lookup_entry(int dev_slot, uintptr_t func_key, uint64_t grid_blocks)
{
    launch_tls *l = &tls_launch;
    if (__builtin_expect(l->func_key == func_key && l->grid_blocks == grid_blocks &&
                             l->dev_slot == dev_slot && l->entry != NULL,
                         1) &&
        atomic_load_explicit(&l->entry->key, memory_order_relaxed) == l->key)
        return l->entry;
    uint64_t key = make_key(dev_slot, func_key, grid_blocks);
    cost_entry *e = table_entry(key, 1);
    l->key = key;
    l->entry = e;
    l->func_key = func_key;
    l->grid_blocks = grid_blocks;
    l->dev_slot = dev_slot;
    return e;
}

int hami_compute_admit_vendor(int vendor, hami_region *region, int dev_slot, int proc_slot,
                              uintptr_t func_key, uint64_t grid_blocks, void *stream,
                              int per_thread_default_stream, hami_compute_ticket *ticket)
{
    ticket->region = NULL;
    ticket->sample_index = -1;
    if (region == NULL || (unsigned)dev_slot >= HAMI_MAX_DEVICES)
        return 0;
    /* captured, not run (no tokens, no sample, no count): the graph launch is metered */
    if (__builtin_expect(atomic_load_explicit(&captures_active, memory_order_relaxed) != 0, 0) &&
        vendor == HAMI_VENDOR_CUDA &&
        launch_captured(per_thread_default_stream && stream == NULL ? (void *)CU_STREAM_PER_THREAD
                                                                    : stream))
        return 0;
    compute_device *d = &devices[dev_slot];
    if (__builtin_expect(atomic_load_explicit(&d->vendor, memory_order_relaxed) != vendor, 0))
        atomic_store_explicit(&d->vendor, vendor, memory_order_relaxed);
    uint64_t now = coarse_now_ns();
    uint64_t throttled = 0;

    /* harvest finished samples now and then: every HAMI_COMPUTE_HARVEST_INTERVAL_NS (with the
     * coarse clock that is once a tick), and also every HARVEST_EVERY_LAUNCHES launches of this
     * thread, so that a fast launcher learns (and keeps the ring from filling) between ticks */
    uint64_t in_ring = atomic_load_explicit(&d->tail, memory_order_relaxed) -
                       atomic_load_explicit(&d->head, memory_order_relaxed);
    if (in_ring != 0 &&
        (--harvest_countdown == 0 ||
         now - atomic_load_explicit(&d->last_harvest_ns, memory_order_relaxed) >=
             HAMI_COMPUTE_HARVEST_INTERVAL_NS)) {
        harvest_countdown = HARVEST_EVERY_LAUNCHES;
        atomic_store_explicit(&d->last_harvest_ns, now, memory_order_relaxed);
        harvest(d, HAMI_COMPUTE_HARVEST_SCAN);
    }

    cost_entry *e = lookup_entry(dev_slot, func_key, grid_blocks);
    uint64_t estimate = e ? atomic_load_explicit(&e->estimate_ns, memory_order_acquire) : 0;
    void *event_stream = (vendor == HAMI_VENDOR_CUDA && per_thread_default_stream &&
                          stream == NULL)
                             ? (void *)CU_STREAM_PER_THREAD
                             : stream;
    int chained = tls_launch.slept_stream == event_stream;
    tls_launch.slept_stream = HAMI_COMPUTE_NO_STREAM;
    /* a new key: its first two launches go at once (the second can chain behind the first);
     * the next ones wait for their measurements */
    int pair_second = e && estimate == 0 && tls_launch.pair_entry == e &&
                      tls_launch.pair_stream == event_stream;
    int pair_first = 0;
    tls_launch.pair_entry = NULL;
    if (e && estimate == 0 && !pair_second &&
        atomic_load_explicit(&e->samples_inflight, memory_order_acquire) >= WARMUP_INFLIGHT_MAX) {
        throttled += wait_first_measurement(d, e, hami_now_ns());
        now = coarse_now_ns();
        chained = 0; /* it waited: others' work may have been queued meanwhile */
        estimate = atomic_load_explicit(&e->estimate_ns, memory_order_acquire);
        if (estimate == 0) {
            /* The wait timed out (the first samples wait behind a deep queue, or a long
             * kernel): this launch is measured, unchained; the thread's next launch of the
             * key on this stream follows it at once, chained, for another clean sample (the
             * second launch's may have caught a neighbour still filling its queue, or a
             * preemption between the two). */
            tls_launch.pair_entry = e;
            tls_launch.pair_stream = event_stream;
            pair_first = 1;
        }
    }

    /* sample this launch? */
    int want_sample;
    if (e && atomic_load_explicit(&e->samples_done, memory_order_relaxed) <
                 HAMI_COMPUTE_WARMUP_SAMPLES) {
        want_sample = atomic_load_explicit(&e->samples_inflight, memory_order_relaxed) <
                      WARMUP_INFLIGHT_MAX;
        if (!want_sample && estimate == 0)
            want_sample = 1; /* unknown and the wait timed out: measure this one too */
    } else {
        uint64_t period = HAMI_COMPUTE_SAMPLE_PERIOD;
        if (chained) {
            period = CHAINED_SAMPLE_PERIOD;
        } else if (e) {
            uint64_t dev = atomic_load_explicit(&e->deviation_ns, memory_order_relaxed);
            /* relative noise of a few-microsecond kernel is launch jitter, not instability:
             * sampling it 1 in 4 would cost more than its errors can (UNSTABLE_MIN_NS) */
            if (dev * 8 > estimate && dev > UNSTABLE_MIN_NS)
                period = HAMI_COMPUTE_UNSTABLE_PERIOD;
            else if ((dev * 16 <= estimate || dev <= UNSTABLE_MIN_NS) &&
                     atomic_load_explicit(&e->samples_done, memory_order_relaxed) >=
                         STABLE_SAMPLES)
                period = HAMI_COMPUTE_STABLE_PERIOD;
        }
        want_sample = (next_random() & (period - 1)) == 0;
    }
    sample_slot *s = NULL;
    if (want_sample && ops_can_sample(vendor)) {
        const hami_compute_driver *dr = vendor == HAMI_VENDOR_CUDA ? driver() : NULL;
        if (dr && dr->stream_is_capturing) {
            CUstreamCaptureStatus status = CU_STREAM_CAPTURE_STATUS_NONE;
            CUresult rc = dr->stream_is_capturing((CUstream)event_stream, &status);
            if (rc == CUDA_SUCCESS && status != CU_STREAM_CAPTURE_STATUS_NONE)
                return 0; /* captured, not run: the graph launch is metered */
            if (rc != CUDA_SUCCESS)
                want_sample = 0;
        }
        if (want_sample) {
            s = pool_claim(d);
            if (s) {
                s->entry = e;
                s->blind = estimate == 0;
                if (e)
                    atomic_fetch_add_explicit(&e->samples_inflight, 1, memory_order_acq_rel);
            }
        }
    }

    if (pair_first && s == NULL)
        tls_launch.pair_entry = NULL; /* not measured: nothing to chain a clean sample to */

    /* The second launch of a new key (one measurement of it in flight, none done) does not
     * sleep for its tokens: it goes right behind the first, so that its sample is chained and
     * measures the kernel even when the first one waited behind a neighbour's queue.  Its
     * tokens are still taken (the next launch pays the debt) and the launches after it wait
     * for both measurements, so this runs ahead of the bucket by one launch per new key. */
    int go_now = 0;
    if (estimate == 0) {
        estimate = device_fallback_ns(region, dev_slot, d);
        go_now = s != NULL && e != NULL &&
                 ((atomic_load_explicit(&e->samples_done, memory_order_relaxed) == 0 &&
                   atomic_load_explicit(&e->samples_inflight, memory_order_relaxed) == 2) ||
                  pair_second);
        chained = go_now;
    } else if (chained && s != NULL) {
        /* A sampled chained launch goes at once too (its tokens are taken; the thread's next
         * launch pays them).  The extra sleep that frees them is capped
         * (CHAIN_EXTRA_SLEEP_MAX_NS): a launch costing more wall time than that at the cap
         * would otherwise sleep again here, and its sample would hold whatever other
         * containers queued meanwhile.  Beside a deep queue that is every sample: an
         * estimate learned too high (15 ms for a 1 ms kernel at 30 %, 50 ms of wall time) was
         * then never corrected -- it only ratcheted up through the raise window, holding a
         * 30 % tenant near 0 %. */
        go_now = 1;
    }
    uint64_t sleep_ns = hami_take_tokens(region, dev_slot, estimate, now);
    if (sleep_ns && !go_now) {
        /* now + sleep_ns is the absolute GCRA start time: sleep to it on the precise clock,
         * plus one more launch of this cost at the cap, so that the thread's next launch
         * finds its tokens and follows this one at once (chained, see launch_tls).  The
         * rate is the bucket's either way: sleeping longer only moves the next launch's
         * wait in front of this one. */
        uint64_t before = hami_now_ns();
        if (now + sleep_ns > before) {
            hami_limits lim;
            uint64_t extra = 0;
            if (hami_region_get_limits(region, dev_slot, &lim) == HAMI_OK &&
                lim.compute_limit_pct > 0 && lim.compute_limit_pct <= 100)
                extra = estimate * 100u / lim.compute_limit_pct;
            if (extra > CHAIN_EXTRA_SLEEP_MAX_NS)
                extra = CHAIN_EXTRA_SLEEP_MAX_NS;
            hami_sleep_until_ns(now + sleep_ns + extra);
            throttled += hami_now_ns() - before;
            tls_launch.slept_stream = event_stream;
        }
    }

    if (s) {
        if (slot_events_ready(vendor, s) != 0 ||
            ops_event_record(vendor, s->start_event, event_stream) != 0) {
            pool_abandon(s);
            s = NULL;
        }
    }

    ticket->region = region;
    ticket->dev_slot = dev_slot;
    ticket->proc_slot = proc_slot;
    ticket->sample_index = s ? (int)(s - d->slots) : -1;
    ticket->estimate_ns = estimate;
    ticket->throttled_ns = throttled;
    ticket->now_ns = now;
    ticket->stream = event_stream;
    ticket->vendor = vendor;
    return 0;
}

void hami_compute_complete_vendor(hami_compute_ticket *t, int launch_ok)
{
    if (t->region == NULL || (unsigned)t->dev_slot >= HAMI_MAX_DEVICES)
        return;
    compute_device *d = &devices[t->dev_slot];
    sample_slot *s = t->sample_index >= 0 ? &d->slots[t->sample_index] : NULL;
    if (!launch_ok) {
        /* nothing ran: refund the tokens, count nothing */
        hami_charge_back(t->region, t->dev_slot, -(int64_t)t->estimate_ns);
        if (s)
            pool_abandon(s);
        t->region = NULL;
        return;
    }
    if (s) {
        if (ops_event_record(t->vendor, s->end_event, t->stream) == 0) {
            s->region = t->region;
            s->proc_slot = t->proc_slot;
            s->estimate_ns = t->estimate_ns;
            s->throttled_ns = t->throttled_ns;
            atomic_store_explicit(&s->state, SLOT_PENDING, memory_order_release);
            t->region = NULL;
            return;
        }
        pool_abandon(s);
    }
    count_unsampled(t);
    t->region = NULL;
}

/* ------------------------------------------------------------------ misc -- */

uint64_t hami_compute_estimate_ns(int dev_slot, uintptr_t func_key, uint64_t grid_blocks)
{
    if ((unsigned)dev_slot >= HAMI_MAX_DEVICES)
        return 0;
    cost_entry *e = table_entry(make_key(dev_slot, func_key, grid_blocks), 0);
    return e ? atomic_load_explicit(&e->estimate_ns, memory_order_acquire) : 0;
}

unsigned hami_compute_pending(int dev_slot)
{
    if ((unsigned)dev_slot >= HAMI_MAX_DEVICES)
        return 0;
    compute_device *d = &devices[dev_slot];
    return (unsigned)(atomic_load_explicit(&d->tail, memory_order_acquire) -
                      atomic_load_explicit(&d->head, memory_order_acquire));
}

static void reset_pools(void)
{
    for (int i = 0; i < HAMI_MAX_DEVICES; i++) {
        compute_device *d = &devices[i];
        uint64_t avg = atomic_load_explicit(&d->avg_ns, memory_order_relaxed);
        memset(d, 0, sizeof *d);
        atomic_store_explicit(&d->avg_ns, avg, memory_order_relaxed);
    }
    for (unsigned i = 0; i < HAMI_COMPUTE_TABLE_SIZE; i++)
        atomic_store_explicit(&cost_table[i].samples_inflight, 0, memory_order_relaxed);
}

void hami_compute_fork_child(void)
{
    /* The parent's events and samples are not ours: drop them without calling the driver.
     * Learned estimates stay (same program, same kernels).  The forking thread's busy carry
     * was the parent's to count. */
    reset_pools();
    memset(thread_batch, 0, sizeof thread_batch);
    thread_batch_registered = 0;
}

void hami_compute_reset(void)
{
    memset(cost_table, 0, sizeof cost_table);
    atomic_store_explicit(&captures_active, 0, memory_order_relaxed);
    memset(thread_batch, 0, sizeof thread_batch);
    reset_pools();
    for (int i = 0; i < HAMI_MAX_DEVICES; i++)
        atomic_store_explicit(&devices[i].avg_ns, 0, memory_order_relaxed);
}
