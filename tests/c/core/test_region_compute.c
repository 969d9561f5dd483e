/*
 * The region's live compute state for the launch hooks' fast path: the compute-active mask
 * (hami_region_compute_active / hami_region_compute_word) follows hami_region_device and
 * hami_region_set_limits both ways (a cap set, lowered to 0, policy disable, invalid value),
 * survives a reopen, is repaired on open when zero in the file, and stays right when threads
 * race set_limits on one device; and the batched counter hami_count_launches.
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "region_layout.h"
#include "test_util.h"

static hami_region *open_region(const char *path)
{
    hami_region *r = NULL;
    char err[HAMI_ERR_LEN];
    if (hami_region_open(path, 1, &r, err, sizeof err) != HAMI_OK) {
        fprintf(stderr, "open %s: %s\n", path, err);
        return NULL;
    }
    return r;
}

static uint32_t word(hami_region *r) { return __atomic_load_n(hami_region_compute_word(r), __ATOMIC_RELAXED); }

static void set_pct(hami_region *r, int slot, uint32_t pct, uint32_t invalid, uint32_t disable)
{
    hami_limits l;
    memset(&l, 0, sizeof l);
    l.compute_limit_pct = pct;
    l.compute_invalid = invalid;
    l.policy_disable = disable;
    CHECK(hami_region_set_limits(r, slot, &l) == HAMI_OK);
}

typedef struct racer {
    hami_region *r;
    int slot;
    uint32_t pct;
} racer;

static void *race(void *arg)
{
    racer *x = arg;
    for (int i = 0; i < 20000; i++) {
        hami_limits l;
        memset(&l, 0, sizeof l);
        l.compute_limit_pct = (i & 1) ? x->pct : 0;
        hami_region_set_limits(x->r, x->slot, &l);
    }
    return NULL;
}

int main(void)
{
    char path[512];
    snprintf(path, sizeof path, "%s/compute.region", t_make_dir());
    hami_region *r = open_region(path);
    if (!r)
        return 1;
    CHECK(hami_region_compute_word(r) != NULL);
    CHECK(hami_region_compute_word(NULL) == NULL);
    CHECK(hami_region_compute_active(NULL) == 0);
    CHECK(hami_region_compute_active(r) == 0);

    hami_limits none, capped;
    memset(&none, 0, sizeof none);
    memset(&capped, 0, sizeof capped);
    capped.compute_limit_pct = 30;
    int a = hami_region_device(r, HAMI_VENDOR_CUDA, "GPU-mask-a", 0, &none);
    int b = hami_region_device(r, HAMI_VENDOR_ASCEND, "NPU-mask-b", 0, &capped);
    CHECK(a == 0 && b == 1);
    CHECK(word(r) == 2u);
    CHECK(hami_region_compute_active(r) == 1);

    set_pct(r, a, 30, 0, 0); /* a live cap on an uncapped device */
    CHECK(word(r) == 3u);
    set_pct(r, b, 0, 0, 0); /* back to no cap: back to the fast path */
    CHECK(word(r) == 1u);
    set_pct(r, a, 30, 0, 1); /* policy disable: never throttled */
    CHECK(word(r) == 0u);
    CHECK(hami_region_compute_active(r) == 0);
    set_pct(r, a, 0, 1, 0); /* invalid: the hooks must see it (they refuse) */
    CHECK(word(r) == 1u);
    set_pct(r, a, 0, 1, 1); /* invalid under disable: nothing */
    CHECK(word(r) == 0u);

    /* a reopen sees the same word; a zeroed word (a file from an older library) is repaired */
    set_pct(r, b, 50, 0, 0);
    hami_region *r2 = open_region(path);
    CHECK(r2 && word(r2) == 2u);
    __atomic_store_n((uint32_t *)hami_region_compute_word(r), 0u, __ATOMIC_RELAXED);
    hami_region *r3 = open_region(path);
    CHECK(r3 && word(r3) == 2u);

    /* racing set_limits on one device: the bit ends matching the final limits */
    racer x = {r, a, 40}, y = {r2, a, 60};
    pthread_t t1, t2;
    pthread_create(&t1, NULL, race, &x);
    pthread_create(&t2, NULL, race, &y);
    pthread_join(t1, NULL);
    pthread_join(t2, NULL);
    hami_limits fin;
    CHECK(hami_region_get_limits(r, a, &fin) == HAMI_OK);
    CHECK(((word(r) & 1u) != 0) == (fin.compute_limit_pct != 0));

    /* batched counters */
    int proc = hami_region_join(r);
    CHECK(proc >= 0);
    hami_device_info before[HAMI_MAX_DEVICES], after[HAMI_MAX_DEVICES];
    CHECK(hami_region_devices(r, before, HAMI_MAX_DEVICES) == 2);
    hami_count_launches(r, b, proc, 256, 1000000, 5000);
    hami_count_launches(r, b, proc, 0, 0, 7);
    hami_count_launches(r, 99, proc, 1, 1, 1); /* bad slot: ignored */
    CHECK(hami_region_devices(r, after, HAMI_MAX_DEVICES) == 2);
    CHECK(after[b].launches - before[b].launches == 256);
    CHECK(after[b].measured_busy_ns - before[b].measured_busy_ns == 1000000);
    CHECK(after[b].throttled_ns - before[b].throttled_ns == 5007);
    hami_process_info procs[4];
    int n = hami_region_processes(r, procs, 4);
    CHECK(n == 1 && procs[0].busy_ns[b] == 1000000);
    hami_region_leave(r, proc);

    hami_region_close(r3);
    hami_region_close(r2);
    hami_region_close(r);
    unlink(path);
    t_cleanup_dir();
    return t_summary("test_region_compute");
}
