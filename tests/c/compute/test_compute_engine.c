/*
 * Unit tests of the compute metering engine (csrc/cuda/compute.c) over a fake driver whose
 * events complete when the test says: estimate convergence (exact, a shift up and down, a low
 * quantile under contention noise), charge-back moving the bucket, refunds of failed launches,
 * pool exhaustion and recovery, the bounded wait for a new kernel's first measurement, stream
 * capture, per-thread default streams, a fork child dropping the pool, 4 threads racing, and
 * the added cost per launch (printed; asserted only loosely).
 */
#include <pthread.h>
#include <stdatomic.h>
#include <sys/wait.h>

#include "compute.h"
#include "compute_test.h"
#include "hami/clock.h"

#define US 1000ull
#define MS 1000000ull

/* ------------------------------------------------------------------ the fake driver -- */

typedef struct fake_stream {
    _Atomic uint64_t tail_ns; /* virtual completion time of the last work on it */
} fake_stream;

typedef struct fake_event {
    _Atomic uint64_t time_ns;
    _Atomic int recorded;
    _Atomic int dead; /* destroyed (by cuEventDestroy or with its context) */
} fake_event;

#define FAKE_EVENTS 8192
static fake_event fake_events[FAKE_EVENTS];
static _Atomic unsigned fake_events_used;
static _Atomic int fake_hold;              /* 1: every event query answers NOT_READY */
static _Atomic(CUstream) fake_capturing;   /* a stream that is capturing */
static _Atomic(CUstream) fake_last_record_stream;
static _Atomic unsigned fake_records;
static _Atomic unsigned fake_dead_uses;    /* record / query / destroy of a dead event */
static _Atomic unsigned fake_destroys;
static _Atomic int fake_fail_elapsed;      /* 1: every event query fails (not NOT_READY) */
static __thread fake_stream thread_default_stream;
#define FAKE_CTX ((CUcontext)0x1234)

static fake_stream *stream_of(CUstream s)
{
    if (s == NULL || s == CU_STREAM_LEGACY || s == CU_STREAM_PER_THREAD)
        return &thread_default_stream;
    return (fake_stream *)s;
}

static CUresult fake_event_create(CUevent *out, unsigned flags)
{
    (void)flags;
    unsigned i = atomic_fetch_add(&fake_events_used, 1);
    if (i >= FAKE_EVENTS)
        return CUDA_ERROR_OUT_OF_MEMORY;
    *out = (CUevent)&fake_events[i];
    return CUDA_SUCCESS;
}

static CUresult fake_event_record(CUevent ev, CUstream s)
{
    fake_event *e = (fake_event *)ev;
    if (atomic_load(&e->dead)) {
        atomic_fetch_add(&fake_dead_uses, 1);
        return CUDA_ERROR_INVALID_HANDLE;
    }
    atomic_store(&fake_last_record_stream, s);
    atomic_fetch_add(&fake_records, 1);
    atomic_store(&e->time_ns, atomic_load(&stream_of(s)->tail_ns));
    atomic_store(&e->recorded, 1);
    return CUDA_SUCCESS;
}

static CUresult fake_event_elapsed(float *ms, CUevent a, CUevent b)
{
    fake_event *x = (fake_event *)a, *y = (fake_event *)b;
    if (atomic_load(&x->dead) || atomic_load(&y->dead)) {
        atomic_fetch_add(&fake_dead_uses, 1);
        return CUDA_ERROR_INVALID_HANDLE;
    }
    if (atomic_load(&fake_fail_elapsed))
        return CUDA_ERROR_LAUNCH_FAILED;
    if (!atomic_load(&x->recorded) || !atomic_load(&y->recorded))
        return CUDA_ERROR_INVALID_HANDLE;
    if (atomic_load(&fake_hold))
        return CUDA_ERROR_NOT_READY;
    *ms = (float)((double)(atomic_load(&y->time_ns) - atomic_load(&x->time_ns)) / 1e6);
    return CUDA_SUCCESS;
}

static CUresult fake_event_destroy(CUevent ev)
{
    fake_event *e = (fake_event *)ev;
    if (atomic_exchange(&e->dead, 1)) {
        atomic_fetch_add(&fake_dead_uses, 1);
        return CUDA_ERROR_INVALID_HANDLE;
    }
    atomic_fetch_add(&fake_destroys, 1);
    return CUDA_SUCCESS;
}

/* The context is destroyed (every event with it) and re-created at the same address, as the
 * primary context is by cuDevicePrimaryCtxReset: what the teardown hooks bracket. */
static void fake_context_reset(void)
{
    hami_compute_context_teardown_begin();
    unsigned n = atomic_load(&fake_events_used);
    for (unsigned i = 0; i < n && i < FAKE_EVENTS; i++)
        atomic_store(&fake_events[i].dead, 1);
    hami_compute_context_teardown_end(1);
}

static CUresult fake_ctx_get_current(CUcontext *ctx)
{
    *ctx = FAKE_CTX;
    return CUDA_SUCCESS;
}

static CUresult fake_is_capturing(CUstream s, CUstreamCaptureStatus *status)
{
    *status = s != NULL && s == atomic_load(&fake_capturing) ? CU_STREAM_CAPTURE_STATUS_ACTIVE
                                                              : CU_STREAM_CAPTURE_STATUS_NONE;
    return CUDA_SUCCESS;
}

static const hami_compute_driver fake_driver = {
    .event_create = fake_event_create,
    .event_record = fake_event_record,
    .event_elapsed = fake_event_elapsed,
    .event_destroy = fake_event_destroy,
    .ctx_get_current = fake_ctx_get_current,
    .stream_is_capturing = fake_is_capturing,
};

/* ------------------------------------------------------------------ helpers -- */

static hami_region *region;

static int new_device(const char *uuid, uint32_t pct)
{
    hami_limits lim;
    memset(&lim, 0, sizeof lim);
    lim.compute_limit_pct = pct;
    int slot = hami_region_device(region, HAMI_VENDOR_CUDA, uuid, 0, &lim);
    CT_REQUIRE(slot >= 0);
    return slot;
}

/* One launch as a hook does it: admit, the "kernel" occupies the stream for duration_ns,
 * complete.  Returns the wall time admit took. */
static uint64_t launch(int dev, int proc, uintptr_t key, uint64_t grid, CUstream s,
                       uint64_t duration_ns, CUresult result)
{
    hami_compute_ticket t;
    uint64_t t0 = hami_now_ns();
    CT_REQUIRE(hami_compute_admit(region, dev, proc, key, grid, s, 0, &t) == CUDA_SUCCESS);
    uint64_t waited = hami_now_ns() - t0;
    if (result == CUDA_SUCCESS)
        atomic_fetch_add(&stream_of(s)->tail_ns, duration_ns);
    hami_compute_complete(&t, result);
    return waited;
}

static uint64_t debt_sleep_ns(int dev)
{
    return hami_take_tokens(region, dev, 0, hami_now_ns());
}

/* ------------------------------------------------------------------ tests -- */

static void test_estimates(int proc)
{
    hami_compute_reset();
    int dev = new_device("GPU-compute-estimates", 0);
    fake_stream s = {0};
    /* exact durations: the estimate is exact after the first sample */
    for (int i = 0; i < 200; i++)
        launch(dev, proc, 0xf1, 64, (CUstream)&s, 1 * MS, CUDA_SUCCESS);
    hami_compute_flush();
    CT_CHECK(hami_compute_estimate_ns(dev, 0xf1, 64) == 1 * MS);
    /* grid buckets are separate keys; nearby grid sizes share one */
    CT_CHECK(hami_compute_estimate_ns(dev, 0xf1, 65) == 1 * MS);
    CT_CHECK(hami_compute_estimate_ns(dev, 0xf1, 1024) == 0);
    CT_CHECK(hami_compute_estimate_ns(dev, 0xf2, 64) == 0);

    /* the kernel became twice as long: the estimate follows within a few thousand launches */
    for (int i = 0; i < 3000; i++)
        launch(dev, proc, 0xf1, 64, (CUstream)&s, 2 * MS, CUDA_SUCCESS);
    hami_compute_flush();
    uint64_t up = hami_compute_estimate_ns(dev, 0xf1, 64);
    printf("estimate after 1 ms -> 2 ms: %.3f ms\n", (double)up / 1e6);
    CT_CHECK(up > 19 * MS / 10 && up <= 2 * MS);
    /* and back down, faster */
    for (int i = 0; i < 600; i++)
        launch(dev, proc, 0xf1, 64, (CUstream)&s, 1 * MS, CUDA_SUCCESS);
    hami_compute_flush();
    uint64_t down = hami_compute_estimate_ns(dev, 0xf1, 64);
    printf("estimate after 2 ms -> 1 ms: %.3f ms\n", (double)down / 1e6);
    CT_CHECK(down >= 1 * MS && down < 11 * MS / 10);

    /* contention noise: 30 % of the measurements include up to one other kernel's time; the
     * estimate tracks the kernel, not the waiting */
    for (int i = 0; i < 8000; i++) {
        uint64_t d = (i % 10) < 3 ? 1 * MS + (uint64_t)(i % 7) * 150 * US : 1 * MS;
        launch(dev, proc, 0xf3, 1, (CUstream)&s, d, CUDA_SUCCESS);
    }
    hami_compute_flush();
    uint64_t noisy = hami_compute_estimate_ns(dev, 0xf3, 1);
    printf("estimate under 30 %% waiting noise (true 1 ms): %.3f ms\n", (double)noisy / 1e6);
    CT_CHECK(noisy >= 1 * MS && noisy < 115 * MS / 100);
    CT_CHECK(hami_compute_pending(dev) == 0);
}

static void test_charge_back(int proc)
{
    hami_compute_reset();
    int dev = new_device("GPU-compute-chargeback", 10);
    fake_stream s = {0};
    /* the device's first unknown kernel costs two burst windows at the cap (4 ms of device time
     * at 10 %: 40 ms of wall time, 20 ms of it beyond the burst) until measured at 10 ms */
    atomic_store(&fake_hold, 1);
    launch(dev, proc, 0xc1, 1, (CUstream)&s, 10 * MS, CUDA_SUCCESS);
    uint64_t before = debt_sleep_ns(dev);
    atomic_store(&fake_hold, 0);
    hami_compute_flush();
    uint64_t after = debt_sleep_ns(dev);
    /* at 10 %: 10 ms of device time is 100 ms of wall time, less the 20 ms burst */
    printf("debt before/after charge-back: %.1f / %.1f ms\n", (double)before / 1e6,
           (double)after / 1e6);
    CT_CHECK(before > 15 * MS && before <= 20 * MS);
    CT_CHECK(after > 70 * MS && after <= 80 * MS);
    CT_CHECK(hami_compute_estimate_ns(dev, 0xc1, 1) == 10 * MS);
    hami_device_info info = ct_device_info(region, dev);
    CT_CHECK(info.launches == 1);
    CT_CHECK(info.measured_busy_ns == 10 * MS);
}

static void test_refund(int proc)
{
    hami_compute_reset();
    int dev = new_device("GPU-compute-refund", 0);
    fake_stream s = {0};
    for (int i = 0; i < 8; i++) /* learn 10 ms while uncapped */
        launch(dev, proc, 0xd1, 1, (CUstream)&s, 10 * MS, CUDA_SUCCESS);
    hami_compute_flush();
    CT_CHECK(hami_compute_estimate_ns(dev, 0xd1, 1) == 10 * MS);
    hami_device_info before = ct_device_info(region, dev);
    ct_set_compute(region, dev, 10);
    for (int i = 0; i < 5; i++) /* 5 failed launches of 100 ms wall each: all refunded */
        launch(dev, proc, 0xd1, 1, (CUstream)&s, 10 * MS, CUDA_ERROR_INVALID_VALUE);
    hami_compute_flush();
    CT_CHECK(debt_sleep_ns(dev) == 0);
    hami_device_info after = ct_device_info(region, dev);
    CT_CHECK(after.launches == before.launches);
}

static void test_pool_exhaustion(int proc)
{
    hami_compute_reset();
    int dev = new_device("GPU-compute-pool", 0);
    fake_stream s = {0};
    atomic_store(&fake_hold, 1);
    for (uintptr_t k = 1; k <= 300; k++) /* each new key is sampled while the pool lasts */
        launch(dev, proc, 0x10000 + k, 1, (CUstream)&s, 100 * US, CUDA_SUCCESS);
    CT_CHECK(hami_compute_pending(dev) == HAMI_COMPUTE_POOL_SIZE);
    hami_compute_flush();
    CT_CHECK(hami_compute_pending(dev) == HAMI_COMPUTE_POOL_SIZE);
    atomic_store(&fake_hold, 0);
    hami_compute_flush();
    CT_CHECK(hami_compute_pending(dev) == 0);
    CT_CHECK(hami_compute_estimate_ns(dev, 0x10000 + 1, 1) == 100 * US);
    CT_CHECK(hami_compute_estimate_ns(dev, 0x10000 + 256, 1) == 100 * US);
    CT_CHECK(hami_compute_estimate_ns(dev, 0x10000 + 300, 1) == 0); /* was not sampled */
    hami_device_info info = ct_device_info(region, dev);
    CT_CHECK(info.launches == 300);
    /* the pool is usable again */
    launch(dev, proc, 0x10000 + 300, 1, (CUstream)&s, 100 * US, CUDA_SUCCESS);
    hami_compute_flush();
    CT_CHECK(hami_compute_estimate_ns(dev, 0x10000 + 300, 1) == 100 * US);
}

static void test_learning_wait(int proc)
{
    hami_compute_reset();
    int dev = new_device("GPU-compute-learn", 0);
    fake_stream s = {0};
    /* the first measurement arrives at once: the second launch hardly waits */
    launch(dev, proc, 0xe1, 1, (CUstream)&s, 3 * MS, CUDA_SUCCESS);
    uint64_t quick = launch(dev, proc, 0xe1, 1, (CUstream)&s, 3 * MS, CUDA_SUCCESS);
    CT_CHECK(quick < 20 * MS);
    CT_CHECK(hami_compute_estimate_ns(dev, 0xe1, 1) == 3 * MS);
    /* the measurements never arrive: the second launch goes at once (chained behind the
     * first, its sample measures the kernel alone), the third waits, but only so long */
    atomic_store(&fake_hold, 1);
    launch(dev, proc, 0xe2, 1, (CUstream)&s, 3 * MS, CUDA_SUCCESS);
    uint64_t second = launch(dev, proc, 0xe2, 1, (CUstream)&s, 3 * MS, CUDA_SUCCESS);
    CT_CHECK(second < 20 * MS);
    uint64_t waited = launch(dev, proc, 0xe2, 1, (CUstream)&s, 3 * MS, CUDA_SUCCESS);
    printf("bounded wait for a first measurement: %.1f ms\n", (double)waited / 1e6);
    CT_CHECK(waited >= HAMI_COMPUTE_LEARN_WAIT_MAX_NS * 9 / 10);
    CT_CHECK(waited < HAMI_COMPUTE_LEARN_WAIT_MAX_NS * 4);
    atomic_store(&fake_hold, 0);
    hami_compute_flush();
    CT_CHECK(hami_compute_pending(dev) == 0);
    hami_device_info info = ct_device_info(region, dev);
    CT_CHECK(info.throttled_ns >= HAMI_COMPUTE_LEARN_WAIT_MAX_NS * 9 / 10);
}

static void test_capture_and_ptsz(int proc)
{
    hami_compute_reset();
    int dev = new_device("GPU-compute-capture", 10);
    fake_stream s = {0};
    unsigned records = atomic_load(&fake_records);
    atomic_store(&fake_capturing, (CUstream)&s);
    hami_compute_ticket t;
    CT_CHECK(hami_compute_admit(region, dev, proc, 0xa1, 1, (CUstream)&s, 0, &t) ==
             CUDA_SUCCESS);
    CT_CHECK(t.region == NULL); /* captured launches are not metered */
    hami_compute_complete(&t, CUDA_SUCCESS);
    CT_CHECK(atomic_load(&fake_records) == records);
    atomic_store(&fake_capturing, NULL);

    /* a per-thread default stream launch samples on the per-thread stream */
    CT_CHECK(hami_compute_admit(region, dev, proc, 0xa2, 1, NULL, 1, &t) == CUDA_SUCCESS);
    CT_CHECK(t.sample_index >= 0);
    CT_CHECK(atomic_load(&fake_last_record_stream) == CU_STREAM_PER_THREAD);
    hami_compute_complete(&t, CUDA_SUCCESS);
    CT_CHECK(hami_compute_admit(region, dev, proc, 0xa3, 1, NULL, 0, &t) == CUDA_SUCCESS);
    CT_CHECK(t.sample_index >= 0);
    CT_CHECK(atomic_load(&fake_last_record_stream) == NULL);
    hami_compute_complete(&t, CUDA_SUCCESS);
    hami_compute_flush();
    CT_CHECK(hami_compute_pending(dev) == 0);
}

/* Finding: events were reused while the context pointer matched, even after the context (and
 * every event of it) was destroyed and re-created at the same address. */
static void test_context_teardown(int proc)
{
    hami_compute_reset();
    int dev = new_device("GPU-compute-teardown", 0);
    fake_stream s = {0};
    atomic_store(&fake_dead_uses, 0);
    /* every ring slot gets its events (each new key's first launch is sampled) */
    for (uintptr_t k = 1; k <= HAMI_COMPUTE_POOL_SIZE + 8; k++)
        launch(dev, proc, 0x70000 + k, 1, (CUstream)&s, 10 * US, CUDA_SUCCESS);
    hami_compute_flush();
    CT_CHECK(hami_compute_pending(dev) == 0);
    /* one sample in flight across the teardown: never queried, counted at its estimate */
    atomic_store(&fake_hold, 1);
    launch(dev, proc, 0x71000, 1, (CUstream)&s, 10 * US, CUDA_SUCCESS);
    CT_CHECK(hami_compute_pending(dev) == 1);
    hami_device_info before = ct_device_info(region, dev);
    unsigned destroys = atomic_load(&fake_destroys);
    fake_context_reset();
    atomic_store(&fake_hold, 0);
    hami_compute_flush();
    CT_CHECK(hami_compute_pending(dev) == 0);
    hami_device_info after = ct_device_info(region, dev);
    CT_CHECK(after.launches == before.launches + 1);
    /* every slot again, each with fresh events: the stale handles are neither recorded nor
     * destroyed */
    for (uintptr_t k = 1; k <= HAMI_COMPUTE_POOL_SIZE + 8; k++)
        launch(dev, proc, 0x72000 + k, 1, (CUstream)&s, 20 * US, CUDA_SUCCESS);
    hami_compute_flush();
    CT_CHECK(atomic_load(&fake_dead_uses) == 0);
    CT_CHECK(atomic_load(&fake_destroys) == destroys);
    CT_CHECK(hami_compute_estimate_ns(dev, 0x72000 + 1, 1) == 20 * US);
    CT_CHECK(hami_compute_estimate_ns(dev, 0x72000 + HAMI_COMPUTE_POOL_SIZE, 1) == 20 * US);

    /* a query that fails while the context lives: its events are destroyed, not leaked */
    atomic_store(&fake_fail_elapsed, 1);
    launch(dev, proc, 0x73000, 1, (CUstream)&s, 10 * US, CUDA_SUCCESS);
    hami_compute_flush();
    atomic_store(&fake_fail_elapsed, 0);
    CT_CHECK(atomic_load(&fake_destroys) == destroys + 2);
    CT_CHECK(hami_compute_pending(dev) == 0);
    /* and that slot creates new ones when it comes round again */
    for (uintptr_t k = 1; k <= HAMI_COMPUTE_POOL_SIZE + 8; k++)
        launch(dev, proc, 0x74000 + k, 1, (CUstream)&s, 30 * US, CUDA_SUCCESS);
    hami_compute_flush();
    CT_CHECK(atomic_load(&fake_dead_uses) == 0);
    CT_CHECK(hami_compute_estimate_ns(dev, 0x74000 + HAMI_COMPUTE_POOL_SIZE, 1) == 30 * US);
}

/* Finding: only sampled launches asked cuStreamIsCapturing; an unsampled launch of a known
 * kernel into a capturing stream took tokens (slept) and was counted, then the graph again. */
static void test_capture_unsampled(int proc)
{
    hami_compute_reset();
    int dev = new_device("GPU-compute-capture-count", 0);
    fake_stream s = {0}, other = {0};
    for (int i = 0; i < 64; i++) /* learn 1 ms, uncapped */
        launch(dev, proc, 0xca1, 1, (CUstream)&s, 1 * MS, CUDA_SUCCESS);
    hami_compute_flush();
    CT_CHECK(hami_compute_estimate_ns(dev, 0xca1, 1) == 1 * MS);
    ct_set_compute(region, dev, 10);
    hami_device_info before = ct_device_info(region, dev);
    unsigned records = atomic_load(&fake_records);
    /* an end without a begin we saw does not hide the next capture */
    hami_compute_capture_end();
    hami_compute_capture_end();
    hami_compute_capture_begin();
    atomic_store(&fake_capturing, (CUstream)&s);
    uint64_t t0 = hami_now_ns();
    int unmetered = 0;
    for (int i = 0; i < 1000; i++) { /* metered: ~1 s of device time, ~10 s at 10 % */
        hami_compute_ticket t;
        CT_REQUIRE(hami_compute_admit(region, dev, proc, 0xca1, 1, (CUstream)&s, 0, &t) ==
                   CUDA_SUCCESS);
        unmetered += t.region == NULL;
        hami_compute_complete(&t, CUDA_SUCCESS);
    }
    uint64_t took = hami_now_ns() - t0;
    printf("1000 captured launches of a known 1 ms kernel at 10 %%: %.1f ms\n",
           (double)took / 1e6);
    CT_CHECK(unmetered == 1000);
    CT_CHECK(took < 1000 * MS);
    CT_CHECK(atomic_load(&fake_records) == records);
    /* a launch into another stream meanwhile is metered */
    hami_compute_ticket t;
    CT_CHECK(hami_compute_admit(region, dev, proc, 0xca1, 1, (CUstream)&other, 0, &t) ==
             CUDA_SUCCESS);
    CT_CHECK(t.region != NULL);
    hami_compute_complete(&t, CUDA_SUCCESS);
    hami_compute_capture_end();
    atomic_store(&fake_capturing, NULL);
    hami_compute_flush();
    hami_device_info after = ct_device_info(region, dev);
    CT_CHECK(after.launches == before.launches + 1);
}

static void test_fork(int proc)
{
    hami_compute_reset();
    int dev = new_device("GPU-compute-fork", 0);
    fake_stream s = {0};
    atomic_store(&fake_hold, 1);
    launch(dev, proc, 0xb1, 1, (CUstream)&s, 1 * MS, CUDA_SUCCESS);
    CT_CHECK(hami_compute_pending(dev) == 1);
    pid_t pid = fork();
    CT_REQUIRE(pid >= 0);
    if (pid == 0) {
        int ok = hami_compute_pending(dev) == 0;
        /* the key's in-flight sample was the parent's: no waiting for it here */
        uint64_t t0 = hami_now_ns();
        launch(dev, -1, 0xb1, 1, (CUstream)&s, 1 * MS, CUDA_SUCCESS);
        ok = ok && hami_now_ns() - t0 < HAMI_COMPUTE_LEARN_WAIT_MAX_NS / 2;
        ok = ok && hami_compute_pending(dev) == 1;
        _exit(ok ? 0 : 1);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    CT_CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    atomic_store(&fake_hold, 0);
    hami_compute_flush();
    CT_CHECK(hami_compute_pending(dev) == 0);
}

/* 4 threads x 20000 launches over 8 kernels of 100..800 us, each thread on its own stream. */
#define THREADS 4
#define PER_THREAD 20000
static int thread_dev, thread_proc;

static void *thread_main(void *arg)
{
    fake_stream *s = arg;
    for (int i = 0; i < PER_THREAD; i++) {
        int k = i % 8;
        launch(thread_dev, thread_proc, 0x5000 + (uintptr_t)k, 128, (CUstream)s,
               (uint64_t)(k + 1) * 100 * US, CUDA_SUCCESS);
    }
    return NULL;
}

static void test_threads(int proc)
{
    hami_compute_reset();
    thread_dev = new_device("GPU-compute-threads", 0);
    thread_proc = proc;
    pthread_t th[THREADS];
    fake_stream streams[THREADS];
    memset(streams, 0, sizeof streams);
    for (int i = 0; i < THREADS; i++)
        CT_REQUIRE(pthread_create(&th[i], NULL, thread_main, &streams[i]) == 0);
    for (int i = 0; i < THREADS; i++)
        pthread_join(th[i], NULL);
    hami_compute_flush();
    CT_CHECK(hami_compute_pending(thread_dev) == 0);
    for (int k = 0; k < 8; k++)
        CT_CHECK(hami_compute_estimate_ns(thread_dev, 0x5000 + (uintptr_t)k, 128) ==
                 (uint64_t)(k + 1) * 100 * US);
    hami_device_info info = ct_device_info(region, thread_dev);
    uint64_t truth = (uint64_t)THREADS * (PER_THREAD / 8) * (36 * 100 * US);
    double err = ((double)info.measured_busy_ns - (double)truth) / (double)truth;
    printf("4 threads: %llu launches, busy %.1f ms counted vs %.1f ms true (%.3f %%)\n",
           (unsigned long long)info.launches, (double)info.measured_busy_ns / 1e6,
           (double)truth / 1e6, err * 100);
    CT_CHECK(info.launches == (uint64_t)THREADS * PER_THREAD);
    CT_CHECK(err > -0.01 && err < 0.01);
}

static void test_overhead(int proc)
{
    hami_compute_reset();
    int dev = new_device("GPU-compute-overhead", 100);
    fake_stream s = {0};
    for (int i = 0; i < 64; i++)
        launch(dev, proc, 0x0e1, 256, (CUstream)&s, 1, CUDA_SUCCESS);
    hami_compute_flush();
    enum { N = 1000000 };
    uint64_t t0 = hami_now_ns();
    for (int i = 0; i < N; i++) {
        hami_compute_ticket t;
        hami_compute_admit(region, dev, proc, 0x0e1, 256, (CUstream)&s, 0, &t);
        atomic_fetch_add_explicit(&s.tail_ns, 1, memory_order_relaxed);
        hami_compute_complete(&t, CUDA_SUCCESS);
    }
    double per = (double)(hami_now_ns() - t0) / N;
    hami_device_info info = ct_device_info(region, dev);
    printf("admit+complete, cap 100 %%, tokens available: %.1f ns per launch (fake driver, "
           "1/16 sampled); throttled %.3f ms\n",
           per, (double)info.throttled_ns / 1e6);
    CT_CHECK(per < 5000); /* sanity only: the figure belongs to `hami-core bench` */
}

int main(void)
{
    region = ct_region_create("engine");
    int proc = hami_region_join(region);
    CT_REQUIRE(proc >= 0);
    hami_compute_use_driver(&fake_driver);
    test_estimates(proc);
    test_charge_back(proc);
    test_refund(proc);
    test_pool_exhaustion(proc);
    test_learning_wait(proc);
    test_capture_and_ptsz(proc);
    test_context_teardown(proc);
    test_capture_unsampled(proc);
    test_fork(proc);
    test_threads(proc);
    test_overhead(proc);
    hami_region_leave(region, proc);
    hami_region_close(region);
    return ct_report("test_compute_engine");
}
