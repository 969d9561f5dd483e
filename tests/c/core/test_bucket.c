/* Compute token bucket (GCRA) tests with a fake clock, so nothing here depends on the
 * scheduler: steady-state accuracy at several caps for short and long kernels, no banking
 * across idle periods beyond the burst window, charge_back moving the arrival time, live cap
 * changes, no cap / policy disable returning 0, and threads racing takes (no lost updates). */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "hami/region.h"
#include "region_layout.h"
#include "test_util.h"

#define MS 1000000ull
#define SEC 1000000000ull

static hami_region *r;
static int dev;

/* The fake clock: set_pct rescales outstanding debt at this time. */
static uint64_t g_now;
static void set_pct(uint32_t pct, int disable)
{
    hami_limits lim = {.compute_limit_pct = pct, .policy_disable = (uint32_t)disable};
    hami_region_test_set_limits_at(r, dev, &lim, g_now);
}

/* A launcher that runs each kernel synchronously (launch, wait for it, launch the next):
 * returns device time / wall time, in percent, over [measure_from, end). */
static double run_sync(uint64_t *now, uint64_t kernel_ns, uint64_t duration_ns,
                       uint64_t warmup_ns)
{
    uint64_t start = *now + warmup_ns, end = *now + warmup_ns + duration_ns;
    uint64_t busy = 0;
    while (*now < end) {
        *now += hami_take_tokens(r, dev, kernel_ns, *now);
        uint64_t k0 = *now, k1 = *now + kernel_ns;
        *now = k1;
        /* count the part of the kernel inside the window */
        uint64_t a = k0 > start ? k0 : start, b = k1 < end ? k1 : end;
        if (b > a)
            busy += b - a;
    }
    return 100.0 * (double)busy / (double)duration_ns;
}

static void test_accuracy(void)
{
    static const uint32_t caps[] = {10, 30, 50, 70, 90, 100};
    static const uint64_t kernels[] = {50000ull, 1 * MS, 20 * MS};
    uint64_t now = 1000 * SEC;
    for (size_t c = 0; c < sizeof(caps) / sizeof(caps[0]); c++) {
        for (size_t k = 0; k < sizeof(kernels) / sizeof(kernels[0]); k++) {
            now += 10 * SEC; /* idle between cells */
            g_now = now;
            set_pct(caps[c], 0);
            /* steady state over 1 s after 200 ms */
            double got = run_sync(&now, kernels[k], 1 * SEC, 200 * MS);
            double err = got - caps[c];
            if (!t_check(err < 1.0 && err > -1.0, "steady-state accuracy within 1 point",
                         __FILE__, __LINE__))
                fprintf(stderr, "  cap %u%% kernel %llu ns: got %.2f%%\n", caps[c],
                        (unsigned long long)kernels[k], got);
            /* from a cold start over 1 s: the burst adds at most pct% of 20 ms + one kernel */
            now += 10 * SEC;
            double cold = run_sync(&now, kernels[k], 1 * SEC, 0);
            double bound = caps[c] + 100.0 * (caps[c] / 100.0 * (double)HAMI_BUCKET_BURST_NS +
                                              (double)kernels[k]) / (double)SEC;
            if (!t_check(cold <= bound + 0.01 && cold >= caps[c] - 1.0, "cold-start bound",
                         __FILE__, __LINE__))
                fprintf(stderr, "  cap %u%% kernel %llu ns: cold %.2f%% bound %.2f%%\n", caps[c],
                        (unsigned long long)kernels[k], cold, bound);
        }
    }
}

/* After a long idle, takes in a tight burst go through only while within the burst window. */
static void test_no_banking(void)
{
    uint64_t now = 5000 * SEC;
    g_now = now;
    set_pct(50, 0);
    hami_take_tokens(r, dev, 1 * MS, now); /* some history */
    now += 60 * SEC;                          /* a minute idle */
    uint64_t granted = 0;
    int n = 0;
    while (hami_take_tokens(r, dev, 100000, now) == 0 && n < 100000) {
        granted += 100000;
        n++;
    }
    /* at 50 %, 20 ms of wall tolerance = 10 ms of device time, plus the take that crosses */
    uint64_t limit = HAMI_BUCKET_BURST_NS * 50 / 100 + 100000;
    if (!CHECK(granted <= limit && granted >= limit - 200000))
        fprintf(stderr, "  granted %llu ns at once after idle, limit %llu\n",
                (unsigned long long)granted, (unsigned long long)limit);
}

static void test_charge_back(void)
{
    uint64_t now = 9000 * SEC;
    g_now = now;
    set_pct(25, 0);
    hami_take_tokens(r, dev, 1 * MS, now);
    uint64_t tat = hami_region_test_tat(r, dev);
    CHECK(tat == now + 4 * MS); /* 1 ms of device time at 25 % = 4 ms of wall time */
    hami_charge_back(r, dev, 2 * (int64_t)MS);
    CHECK(hami_region_test_tat(r, dev) == tat + 8 * MS);
    hami_charge_back(r, dev, -(int64_t)MS);
    CHECK(hami_region_test_tat(r, dev) == tat + 4 * MS);
    /* The arrival time is now 8 ms ahead: a take must wait 8 ms + 4 ms... minus the burst. */
    uint64_t sleep = hami_take_tokens(r, dev, 10 * MS, now);
    CHECK(sleep == 0); /* 8 ms ahead is within the 20 ms window */
    sleep = hami_take_tokens(r, dev, 1 * MS, now);
    CHECK(sleep == 8 * MS + 40 * MS - HAMI_BUCKET_BURST_NS);
    /* A large credit does not push below zero nor bank: the next take starts from now. */
    hami_charge_back(r, dev, -(int64_t)(1000 * SEC));
    CHECK(hami_region_test_tat(r, dev) < now);
    CHECK(hami_take_tokens(r, dev, 1 * MS, now) == 0);
    CHECK(hami_region_test_tat(r, dev) == now + 4 * MS);
}

static void test_disabled_and_changes(void)
{
    uint64_t now = 20000 * SEC;
    g_now = now;
    set_pct(0, 0);
    for (int i = 0; i < 1000; i++)
        CHECK(hami_take_tokens(r, dev, 1 * SEC, now) == 0);
    /* now_ns = 0: the library reads the clock itself (only when capped). */
    CHECK(hami_take_tokens(r, dev, 1 * SEC, 0) == 0);
    set_pct(10, 1); /* policy disable */
    for (int i = 0; i < 1000; i++)
        CHECK(hami_take_tokens(r, dev, 1 * SEC, now) == 0);
    hami_limits invalid = {.compute_limit_pct = 10, .compute_invalid = 1};
    hami_region_test_set_limits_at(r, dev, &invalid, now);
    CHECK(hami_take_tokens(r, dev, 1 * SEC, now) == 0); /* the hook refuses, not the bucket */
    hami_charge_back(r, dev, 5 * (int64_t)MS); /* no-op without a rate */

    /* A live change applies to the next take: 20 % then 60 %. */
    now += 100 * SEC;
    g_now = now;
    set_pct(20, 0);
    double at20 = run_sync(&now, 1 * MS, 1 * SEC, 200 * MS);
    g_now = now;
    set_pct(60, 0);
    double at60 = run_sync(&now, 1 * MS, 1 * SEC, 20 * MS);
    CHECK(at20 > 19.0 && at20 < 21.0);
    if (!CHECK(at60 > 59.0 && at60 < 61.0))
        fprintf(stderr, "  after change: %.2f%%\n", at60);
}

/* Threads take concurrently at a fixed `now`: every increment must land (CAS, no lost
 * update), so the arrival time ends exactly at now + total wall cost. */
#define TAKERS 4
#define TAKES 20000
static uint64_t fixed_now = 30000 * SEC;
static void *taker(void *arg)
{
    (void)arg;
    for (int i = 0; i < TAKES; i++)
        hami_take_tokens(r, dev, 1000, fixed_now);
    return NULL;
}

/* now_ns = 0 with a cap: the real clock is used, so a second large take must wait. */
static void test_library_clock(void)
{
    /* a fresh device: the others' arrival times are on the fake clock, far from the real one */
    hami_limits lim = {.compute_limit_pct = 50};
    int real = hami_region_device(r, HAMI_VENDOR_CUDA, "GPU-bucket-real-clock", 0, &lim);
    CHECK(real >= 0);
    hami_take_tokens(r, real, 100 * MS, 0);
    uint64_t sleep = hami_take_tokens(r, real, 1 * MS, 0);
    CHECK(sleep > 150 * MS && sleep <= 200 * MS - HAMI_BUCKET_BURST_NS);
}

static void test_concurrent_takes(void)
{
    g_now = fixed_now;
    set_pct(50, 0);
    hami_take_tokens(r, dev, 0, fixed_now); /* tat = max(tat, now) */
    uint64_t before = hami_region_test_tat(r, dev);
    pthread_t t[TAKERS];
    for (int i = 0; i < TAKERS; i++)
        pthread_create(&t[i], NULL, taker, NULL);
    for (int i = 0; i < TAKERS; i++)
        pthread_join(t[i], NULL);
    CHECK(hami_region_test_tat(r, dev) == before + (uint64_t)TAKERS * TAKES * 2000);
}

int main(void)
{
    t_make_dir();
    char p[600];
    snprintf(p, sizeof(p), "%s/bucket.region", t_dir);
    CHECK(hami_region_open(p, 1, &r, NULL, 0) == HAMI_OK);
    hami_limits lim = {.compute_limit_pct = 50};
    dev = hami_region_device(r, HAMI_VENDOR_CUDA, "GPU-bucket", 0, &lim);
    CHECK(dev >= 0);
    test_accuracy();
    test_no_banking();
    test_charge_back();
    test_disabled_and_changes();
    test_concurrent_takes();
    test_library_clock();
    hami_region_close(r);
    t_cleanup_dir();
    return t_summary("test_bucket");
}
