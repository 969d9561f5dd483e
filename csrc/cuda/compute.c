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
 *      is above 1/8 of its estimate), drawn from a per-thread PRNG so periodic launch patterns
 *      cannot alias.  A sampled launch records a start event before and an end event after the
 *      launch on its stream; the event pairs come from a per-device ring of
 *      HAMI_COMPUTE_POOL_SIZE slots, created lazily in the launching context and reused (a full
 *      ring means "not sampled", which also bounds samples in flight).
 *   4. harvest: at most every HAMI_COMPUTE_HARVEST_INTERVAL_NS a launch tries the device's
 *      harvest try-lock and looks at up to HAMI_COMPUTE_HARVEST_SCAN pending samples
 *      (cuEventElapsedTime answers NOT_READY for unfinished ones: one call each, never
 *      blocking); hami_compute_flush looks at all of them.  A finished sample updates the key
 *      (asymmetric EWMA: down by 1/4, up by 1/16 of the difference, i.e. it tracks a low
 *      quantile, so time spent waiting behind other processes' work does not inflate it),
 *      charges back (measured - estimate) with hami_charge_back, and counts the measured busy
 *      time (clamped to 2x the established estimate) with hami_count_launch.  Unsampled launches
 *      count their estimate at once.
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
 * Stream capture: a sampled launch first asks cuStreamIsCapturing; a launch into a capturing
 * stream is not metered (the graph launch will be).  Harvests run with the thread's capture
 * mode exchanged to RELAXED so that our event queries never invalidate another thread's
 * global-mode capture.
 */
#include "compute.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include "hami/clock.h"

/* ------------------------------------------------------------------ state -- */

typedef struct cost_entry {
    _Atomic uint64_t key;          /* 0: empty; claimed once, never removed */
    _Atomic uint64_t estimate_ns;  /* 0: no measurement yet */
    _Atomic uint64_t deviation_ns; /* EWMA of |measured - estimate| */
    _Atomic uint32_t samples_done;
    _Atomic uint32_t samples_inflight;
    uint64_t warm_charged_ns;      /* harvester only: what the warm-up samples cost the bucket */
} cost_entry;

enum { SLOT_FREE = 0, SLOT_CLAIMED = 1, SLOT_PENDING = 2, SLOT_DONE = 3, SLOT_ABANDONED = 4 };

typedef struct sample_slot {
    _Atomic uint32_t state;
    int proc_slot;
    CUevent start_event;
    CUevent end_event;
    CUcontext ctx;          /* the context the two events were created in */
    cost_entry *entry;      /* NULL: table full, only the device average learns */
    hami_region *region;
    uint64_t estimate_ns;
    uint64_t throttled_ns;
} sample_slot;

typedef struct compute_device {
    _Alignas(64) _Atomic uint64_t tail; /* next ticket to claim */
    _Atomic uint64_t head;              /* oldest ticket not yet freed */
    _Atomic uint64_t last_harvest_ns;
    _Atomic uint64_t avg_ns;            /* running average of measured launches, 0: none */
    _Atomic int harvesting;             /* try-lock of the single harvester */
    sample_slot slots[HAMI_COMPUTE_POOL_SIZE];
} compute_device;

_Static_assert((HAMI_COMPUTE_TABLE_SIZE & (HAMI_COMPUTE_TABLE_SIZE - 1)) == 0, "power of two");
_Static_assert((HAMI_COMPUTE_SAMPLE_PERIOD & (HAMI_COMPUTE_SAMPLE_PERIOD - 1)) == 0, "pow2");
_Static_assert((HAMI_COMPUTE_UNSTABLE_PERIOD & (HAMI_COMPUTE_UNSTABLE_PERIOD - 1)) == 0, "pow2");

static cost_entry cost_table[HAMI_COMPUTE_TABLE_SIZE];
static compute_device devices[HAMI_MAX_DEVICES];

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
static int64_t learn(compute_device *d, cost_entry *e, uint64_t measured_ns, uint64_t charged_ns,
                     uint64_t *count_ns)
{
    uint64_t used = measured_ns;
    int64_t delta;
    if (e) {
        uint32_t done = atomic_load_explicit(&e->samples_done, memory_order_relaxed);
        uint64_t est = atomic_load_explicit(&e->estimate_ns, memory_order_relaxed);
        uint64_t dev = atomic_load_explicit(&e->deviation_ns, memory_order_relaxed);
        if (done == 0 || est == 0) {
            est = measured_ns ? measured_ns : 1;
            dev = 0;
            done = 0;
            e->warm_charged_ns = 0;
        }
        if (done < HAMI_COMPUTE_WARMUP_SAMPLES) {
            uint64_t diff = measured_ns > est ? measured_ns - est : est - measured_ns;
            dev = diff > dev ? dev + (diff - dev) / 2 : dev - (dev - diff) / 2;
            if (measured_ns < est)
                est = measured_ns ? measured_ns : 1;
            uint64_t target = (uint64_t)(done + 1) * est;
            delta = (int64_t)target - (int64_t)(e->warm_charged_ns + charged_ns);
            e->warm_charged_ns = target;
            used = measured_ns < 2 * est ? measured_ns : 2 * est;
        } else {
            if (used > 2 * est)
                used = 2 * est;
            delta = (int64_t)used - (int64_t)charged_ns;
            uint64_t diff = measured_ns > est ? measured_ns - est : est - measured_ns;
            dev = diff > dev ? dev + (diff - dev) / 8 : dev - (dev - diff) / 8;
            if (measured_ns < est)
                est -= (est - measured_ns) / 4;
            else
                est += (measured_ns - est) / 16;
        }
        atomic_store_explicit(&e->estimate_ns, est ? est : 1, memory_order_relaxed);
        atomic_store_explicit(&e->deviation_ns, dev, memory_order_relaxed);
        atomic_store_explicit(&e->samples_done, done + 1, memory_order_release);
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

static void harvest(compute_device *d, unsigned max_scan)
{
    int expected = 0;
    if (atomic_load_explicit(&d->harvesting, memory_order_relaxed) ||
        !atomic_compare_exchange_strong_explicit(&d->harvesting, &expected, 1,
                                                 memory_order_acquire, memory_order_relaxed))
        return;
    const hami_compute_driver *dr = driver();
    int dev_slot = (int)(d - devices);
    CUstreamCaptureMode mode = CU_STREAM_CAPTURE_MODE_RELAXED;
    int exchanged = dr->exchange_capture_mode && dr->exchange_capture_mode(&mode) == CUDA_SUCCESS;

    uint64_t head = atomic_load_explicit(&d->head, memory_order_relaxed);
    uint64_t tail = atomic_load_explicit(&d->tail, memory_order_acquire);
    unsigned scanned = 0;
    for (uint64_t t = head; t != tail && scanned < max_scan; t++) {
        sample_slot *s = &d->slots[t % HAMI_COMPUTE_POOL_SIZE];
        if (atomic_load_explicit(&s->state, memory_order_acquire) != SLOT_PENDING)
            continue;
        scanned++;
        float ms = 0;
        CUresult rc = dr->event_elapsed(&ms, s->start_event, s->end_event);
        if (rc == CUDA_ERROR_NOT_READY)
            continue;
        if (rc == CUDA_SUCCESS) {
            uint64_t measured = ms > 0 ? (uint64_t)((double)ms * 1e6 + 0.5) : 0;
            uint64_t used = 0;
            int64_t delta = learn(d, s->entry, measured, s->estimate_ns, &used);
            hami_charge_back(s->region, dev_slot, delta);
            hami_count_launch(s->region, dev_slot, s->proc_slot, used, s->throttled_ns);
        } else {
            /* the events are unusable (context gone?): count the estimate, recreate later */
            hami_count_launch(s->region, dev_slot, s->proc_slot, s->estimate_ns,
                              s->throttled_ns);
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
    if (!atomic_load_explicit(&drv_state, memory_order_acquire))
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
static int slot_events_ready(const hami_compute_driver *dr, sample_slot *s)
{
    CUcontext ctx = NULL;
    if (dr->ctx_get_current(&ctx) != CUDA_SUCCESS || ctx == NULL)
        return -1;
    if (s->ctx == ctx && s->start_event && s->end_event)
        return 0;
    if (dr->event_destroy) {
        if (s->start_event)
            dr->event_destroy(s->start_event);
        if (s->end_event)
            dr->event_destroy(s->end_event);
    }
    s->start_event = s->end_event = NULL;
    s->ctx = NULL;
    CUevent a = NULL, b = NULL;
    if (dr->event_create(&a, CU_EVENT_DEFAULT) != CUDA_SUCCESS)
        return -1;
    if (dr->event_create(&b, CU_EVENT_DEFAULT) != CUDA_SUCCESS) {
        if (dr->event_destroy)
            dr->event_destroy(a);
        return -1;
    }
    s->start_event = a;
    s->end_event = b;
    s->ctx = ctx;
    return 0;
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
    while (atomic_load_explicit(&e->estimate_ns, memory_order_acquire) == 0 &&
           atomic_load_explicit(&e->samples_inflight, memory_order_acquire) != 0) {
        harvest(d, HAMI_COMPUTE_POOL_SIZE);
        if (atomic_load_explicit(&e->estimate_ns, memory_order_acquire) != 0)
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

CUresult hami_compute_admit(hami_region *region, int dev_slot, int proc_slot, uintptr_t func_key,
                            uint64_t grid_blocks, CUstream stream, int per_thread_default_stream,
                            hami_compute_ticket *ticket)
{
    ticket->region = NULL;
    ticket->sample_index = -1;
    if (region == NULL || (unsigned)dev_slot >= HAMI_MAX_DEVICES)
        return CUDA_SUCCESS;
    const hami_compute_driver *dr = driver();
    compute_device *d = &devices[dev_slot];
    uint64_t now = hami_now_ns();
    uint64_t throttled = 0;

    /* harvest finished samples now and then */
    if (atomic_load_explicit(&d->tail, memory_order_relaxed) !=
            atomic_load_explicit(&d->head, memory_order_relaxed) &&
        now - atomic_load_explicit(&d->last_harvest_ns, memory_order_relaxed) >=
            HAMI_COMPUTE_HARVEST_INTERVAL_NS) {
        atomic_store_explicit(&d->last_harvest_ns, now, memory_order_relaxed);
        harvest(d, HAMI_COMPUTE_HARVEST_SCAN);
    }

    cost_entry *e = table_entry(make_key(dev_slot, func_key, grid_blocks), 1);
    uint64_t estimate = e ? atomic_load_explicit(&e->estimate_ns, memory_order_acquire) : 0;
    if (e && estimate == 0 &&
        atomic_load_explicit(&e->samples_inflight, memory_order_acquire) != 0) {
        throttled += wait_first_measurement(d, e, now);
        now = hami_now_ns();
        estimate = atomic_load_explicit(&e->estimate_ns, memory_order_acquire);
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
        if (e) {
            uint64_t dev = atomic_load_explicit(&e->deviation_ns, memory_order_relaxed);
            if (dev * 8 > estimate)
                period = HAMI_COMPUTE_UNSTABLE_PERIOD;
        }
        want_sample = (next_random() & (period - 1)) == 0;
    }
    CUstream event_stream =
        (per_thread_default_stream && stream == NULL) ? CU_STREAM_PER_THREAD : stream;
    sample_slot *s = NULL;
    if (want_sample && can_sample(dr)) {
        if (dr->stream_is_capturing) {
            CUstreamCaptureStatus status = CU_STREAM_CAPTURE_STATUS_NONE;
            CUresult rc = dr->stream_is_capturing(event_stream, &status);
            if (rc == CUDA_SUCCESS && status != CU_STREAM_CAPTURE_STATUS_NONE)
                return CUDA_SUCCESS; /* captured, not run: the graph launch is metered */
            if (rc != CUDA_SUCCESS)
                want_sample = 0;
        }
        if (want_sample) {
            s = pool_claim(d);
            if (s) {
                s->entry = e;
                if (e)
                    atomic_fetch_add_explicit(&e->samples_inflight, 1, memory_order_acq_rel);
            }
        }
    }

    if (estimate == 0)
        estimate = device_fallback_ns(region, dev_slot, d);
    uint64_t sleep_ns = hami_take_tokens(region, dev_slot, estimate, now);
    if (sleep_ns) {
        hami_sleep_until_ns(now + sleep_ns);
        throttled += sleep_ns;
    }

    if (s) {
        if (slot_events_ready(dr, s) != 0 ||
            dr->event_record(s->start_event, event_stream) != CUDA_SUCCESS) {
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
    ticket->stream = event_stream;
    return CUDA_SUCCESS;
}

/* Counters of unsampled launches.  hami_count_launch adds one launch per call and three atomics
 * when it carries busy time; so each launch makes exactly one call, and the estimated busy time
 * of unsampled launches is carried per thread and added on every BUSY_BATCH_LAUNCHES-th launch
 * or once BUSY_BATCH_NS accumulated (saves two shared-line atomics on most launches; a thread
 * that stops launching leaves at most BUSY_BATCH_NS uncounted until its next launch). */
#define BUSY_BATCH_LAUNCHES 256u
#define BUSY_BATCH_NS 1000000ull

typedef struct busy_batch {
    uint64_t busy_ns;   /* estimated busy time not yet added to the region */
    uint32_t launches;  /* launches since the last addition */
} busy_batch;

/* Per thread and device slot (the region and process slot are per process; a fork child starts
 * with empty batches). */
static __thread busy_batch thread_batch[HAMI_MAX_DEVICES]
    __attribute__((tls_model("initial-exec")));

static inline void count_unsampled(const hami_compute_ticket *t)
{
    busy_batch *b = &thread_batch[t->dev_slot];
    uint64_t busy = b->busy_ns + t->estimate_ns;
    if (++b->launches >= BUSY_BATCH_LAUNCHES || busy >= BUSY_BATCH_NS || t->throttled_ns) {
        hami_count_launch(t->region, t->dev_slot, t->proc_slot, busy, t->throttled_ns);
        b->launches = 0;
        b->busy_ns = 0;
    } else {
        hami_count_launch(t->region, t->dev_slot, t->proc_slot, 0, 0);
        b->busy_ns = busy;
    }
}

void hami_compute_complete(hami_compute_ticket *t, CUresult launch_result)
{
    if (t->region == NULL || (unsigned)t->dev_slot >= HAMI_MAX_DEVICES)
        return;
    compute_device *d = &devices[t->dev_slot];
    sample_slot *s = t->sample_index >= 0 ? &d->slots[t->sample_index] : NULL;
    if (launch_result != CUDA_SUCCESS) {
        /* nothing ran: refund the tokens, count nothing */
        hami_charge_back(t->region, t->dev_slot, -(int64_t)t->estimate_ns);
        if (s)
            pool_abandon(s);
        t->region = NULL;
        return;
    }
    if (s) {
        const hami_compute_driver *dr = driver();
        if (dr->event_record(s->end_event, t->stream) == CUDA_SUCCESS) {
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
}

void hami_compute_reset(void)
{
    memset(cost_table, 0, sizeof cost_table);
    memset(thread_batch, 0, sizeof thread_batch);
    reset_pools();
    for (int i = 0; i < HAMI_MAX_DEVICES; i++)
        atomic_store_explicit(&devices[i].avg_ns, 0, memory_order_relaxed);
}
