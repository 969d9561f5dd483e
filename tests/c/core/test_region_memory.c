/* Memory budget in one process (and its short-lived children): charge within the cap, refusal
 * over it with in_use/limit filled, fail-closed invalid limits, policy disable, live limit
 * changes, underflow protection, leave, the stale-region rule, snapshots, counters, and
 * threads racing charges against a cap. */
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>

#include "hami/region.h"
#include "region_layout.h"
#include "test_util.h"

static char path[512];

static void test_charge_release(hami_region *r)
{
    hami_limits lim = {.memory_limit_bytes = 1000};
    int dev = hami_region_device(r, HAMI_VENDOR_CUDA, "GPU-mem", 4000, &lim);
    int me = hami_region_join(r);
    CHECK(dev >= 0 && me >= 0);
    CHECK(hami_region_join(r) == me); /* idempotent in one process */
    /* A process without a slot cannot charge (fail closed), and its releases do nothing. */
    CHECK(hami_charge_memory(r, dev, -1, 1, NULL, NULL) == HAMI_E_INVALID);
    CHECK(hami_charge_memory(r, dev, HAMI_MAX_PROCS, 1, NULL, NULL) == HAMI_E_INVALID);
    uint64_t in_use = 0, limit = 0;
    CHECK(hami_charge_memory(r, dev, me, 600, &in_use, &limit) == HAMI_OK);
    CHECK(hami_charge_memory(r, dev, me, 400, &in_use, &limit) == HAMI_OK);
    CHECK(hami_charge_memory(r, dev, me, 1, &in_use, &limit) == HAMI_E_OVER_LIMIT);
    CHECK(in_use == 1000 && limit == 1000);
    hami_release_memory(r, dev, me, 400);
    CHECK(hami_charge_memory(r, dev, me, 1, NULL, NULL) == HAMI_OK);
    hami_device_info info;
    CHECK(hami_region_devices(r, &info, 1) == 1 && info.used_bytes == 601);

    /* Underflow: release more than held gives back only what the slot holds. */
    hami_release_memory(r, dev, me, 1u << 30);
    CHECK(hami_region_devices(r, &info, 1) == 1 && info.used_bytes == 0);
    hami_release_memory(r, dev, me, 5);
    CHECK(hami_region_devices(r, &info, 1) == 1 && info.used_bytes == 0);

    /* Another slot's release cannot take this slot's bytes off the device. */
    CHECK(hami_charge_memory(r, dev, me, 300, NULL, NULL) == HAMI_OK);
    hami_release_memory(r, dev, (me + 1) % HAMI_MAX_PROCS, 300);
    CHECK(hami_region_devices(r, &info, 1) == 1 && info.used_bytes == 300);

    /* Lowering the cap below use refuses new charges until use falls under it. */
    lim.memory_limit_bytes = 200;
    CHECK(hami_region_set_limits(r, dev, &lim) == HAMI_OK);
    CHECK(hami_charge_memory(r, dev, me, 1, &in_use, &limit) == HAMI_E_OVER_LIMIT);
    CHECK(in_use == 300 && limit == 200);
    hami_release_memory(r, dev, me, 150);
    CHECK(hami_charge_memory(r, dev, me, 50, NULL, NULL) == HAMI_OK);
    CHECK(hami_charge_memory(r, dev, me, 1, NULL, NULL) == HAMI_E_OVER_LIMIT);

    /* No cap: counted, never refused. */
    lim.memory_limit_bytes = 0;
    CHECK(hami_region_set_limits(r, dev, &lim) == HAMI_OK);
    CHECK(hami_charge_memory(r, dev, me, 1ull << 40, NULL, NULL) == HAMI_OK);
    CHECK(hami_region_devices(r, &info, 1) == 1 && info.used_bytes == 200 + (1ull << 40));
    hami_release_memory(r, dev, me, 1ull << 40);
    /* A charge that would wrap the counter is refused even without a cap. */
    CHECK(hami_charge_memory(r, dev, me, UINT64_MAX, NULL, NULL) == HAMI_E_OVER_LIMIT);

    /* Policy disable: always allowed, still counted. */
    lim.memory_limit_bytes = 100;
    lim.policy_disable = 1;
    CHECK(hami_region_set_limits(r, dev, &lim) == HAMI_OK);
    CHECK(hami_charge_memory(r, dev, me, 1000, NULL, NULL) == HAMI_OK);
    CHECK(hami_region_devices(r, &info, 1) == 1 && info.used_bytes == 1200);
    hami_release_memory(r, dev, me, 1000);

    /* Invalid memory configuration: refused, fail closed. */
    lim = (hami_limits){.memory_invalid = 1};
    CHECK(hami_region_set_limits(r, dev, &lim) == HAMI_OK);
    CHECK(hami_charge_memory(r, dev, me, 1, NULL, NULL) == HAMI_E_LIMIT_INVALID);
    hami_limits got;
    CHECK(hami_region_get_limits(r, dev, &got) == HAMI_OK && got.memory_invalid == 1);
    lim = (hami_limits){.compute_limit_pct = 101};
    CHECK(hami_region_set_limits(r, dev, &lim) == HAMI_E_INVALID);

    /* Snapshot of processes, counters. */
    hami_count_launch(r, dev, me, 500, 70);
    hami_count_launch(r, dev, me, 0, 0);
    CHECK(hami_region_devices(r, &info, 1) == 1);
    CHECK(info.launches == 2 && info.measured_busy_ns == 500 && info.throttled_ns == 70);
    CHECK(hami_region_heartbeat(r, me) == HAMI_OK);
    hami_process_info *procs = calloc(HAMI_MAX_PROCS, sizeof(*procs));
    int n = hami_region_processes(r, procs, HAMI_MAX_PROCS);
    int found = 0;
    for (int i = 0; i < n; i++)
        if (procs[i].slot == me) {
            found = procs[i].pid == getpid() && procs[i].alive && procs[i].used_bytes[dev] == 200 &&
                    procs[i].busy_ns[dev] == 500 && procs[i].start_time != 0 &&
                    procs[i].heartbeat_ns != 0;
        }
    CHECK(found);

    /* Leave gives back what the slot holds. */
    hami_region_leave(r, me);
    CHECK(hami_region_devices(r, &info, 1) == 1 && info.used_bytes == 0);
    n = hami_region_processes(r, procs, HAMI_MAX_PROCS);
    found = 0;
    for (int i = 0; i < n; i++)
        found |= procs[i].pid == getpid();
    CHECK(!found);
    free(procs);
}

/* Stale-region rule: the first registration in a region with no other live process resets
 * the limits from the caller; with a live process attached the region's limits win. */
static void test_stale_rule(void)
{
    char p[600];
    snprintf(p, sizeof(p), "%s/stale.region", t_dir);
    hami_region *r = NULL;
    CHECK(hami_region_open(p, 1, &r, NULL, 0) == HAMI_OK);

    /* An "earlier run": a child registers with a 1000-byte cap, charges 700, dies. */
    pid_t kid = fork();
    if (kid == 0) {
        hami_limits lim = {.memory_limit_bytes = 1000};
        int dev = hami_region_device(r, HAMI_VENDOR_CUDA, "GPU-stale", 0, &lim);
        int me = hami_region_join(r);
        _exit(dev >= 0 && me >= 0 && hami_charge_memory(r, dev, me, 700, NULL, NULL) == 0 ? 0 : 1);
    }
    int status = 0;
    waitpid(kid, &status, 0);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    hami_device_info info;
    CHECK(hami_region_devices(r, &info, 1) == 1 && info.used_bytes == 700);

    /* This run: nobody alive, our limits win and the dead child's bytes are gone. */
    hami_limits mine = {.memory_limit_bytes = 5000, .compute_limit_pct = 40};
    int dev = hami_region_device(r, HAMI_VENDOR_CUDA, "GPU-stale", 0, &mine);
    CHECK(dev >= 0);
    CHECK(hami_region_devices(r, &info, 1) == 1 && info.used_bytes == 0 &&
          info.limits.memory_limit_bytes == 5000 && info.limits.compute_limit_pct == 40);
    int me = hami_region_join(r);
    CHECK(me >= 0);

    /* An operator changes the live limit; a repeat registration by this process keeps it. */
    hami_limits live = {.memory_limit_bytes = 6000};
    CHECK(hami_region_set_limits(r, dev, &live) == HAMI_OK);
    CHECK(hami_region_device(r, HAMI_VENDOR_CUDA, "GPU-stale", 0, &mine) == dev);
    CHECK(hami_region_devices(r, &info, 1) == 1 && info.limits.memory_limit_bytes == 6000);

    /* A second process joining while we live: the region's limits win over its own. */
    kid = fork();
    if (kid == 0) {
        hami_limits other = {.memory_limit_bytes = 9999};
        int d = hami_region_device(r, HAMI_VENDOR_CUDA, "GPU-stale", 0, &other);
        hami_limits got;
        _exit(d == dev && hami_region_get_limits(r, d, &got) == 0 &&
                      got.memory_limit_bytes == 6000
                  ? 0
                  : 1);
    }
    waitpid(kid, &status, 0);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    hami_region_leave(r, me);
    hami_region_close(r);
}

/* Threads of one process racing charges against a cap: never above it, exact at the end. */
#define RACE_THREADS 4
#define RACE_CAP 100000ull
static hami_region *race_r;
static int race_dev, race_slot;
static _Atomic int race_violations;

static void *race_thread(void *arg)
{
    unsigned seed = (unsigned)(uintptr_t)arg;
    uint64_t held[16] = {0};
    for (int iter = 0; iter < 20000; iter++) {
        int k = (int)(rand_r(&seed) % 16);
        if (held[k] == 0) {
            uint64_t sz = 1 + rand_r(&seed) % 5000;
            if (hami_charge_memory(race_r, race_dev, race_slot, sz, NULL, NULL) == HAMI_OK) {
                held[k] = sz;
                hami_device_info info;
                hami_region_devices(race_r, &info, 1);
                if (info.used_bytes > RACE_CAP)
                    atomic_fetch_add(&race_violations, 1);
            }
        } else {
            hami_release_memory(race_r, race_dev, race_slot, held[k]);
            held[k] = 0;
        }
    }
    for (int k = 0; k < 16; k++)
        hami_release_memory(race_r, race_dev, race_slot, held[k]);
    return NULL;
}

static void test_thread_race(void)
{
    char p[600];
    snprintf(p, sizeof(p), "%s/threads.region", t_dir);
    CHECK(hami_region_open(p, 1, &race_r, NULL, 0) == HAMI_OK);
    hami_limits lim = {.memory_limit_bytes = RACE_CAP};
    race_dev = hami_region_device(race_r, HAMI_VENDOR_CUDA, "GPU-race", 0, &lim);
    race_slot = hami_region_join(race_r);
    pthread_t t[RACE_THREADS];
    for (int i = 0; i < RACE_THREADS; i++)
        pthread_create(&t[i], NULL, race_thread, (void *)(uintptr_t)(i * 7919 + 1));
    for (int i = 0; i < RACE_THREADS; i++)
        pthread_join(t[i], NULL);
    CHECK(atomic_load(&race_violations) == 0);
    hami_device_info info;
    CHECK(hami_region_devices(race_r, &info, 1) == 1 && info.used_bytes == 0);
    hami_region_leave(race_r, race_slot);
    hami_region_close(race_r);
}

/* The file's layout, mapped directly, to put it in states only a killed process leaves. */
static region_layout *map_layout(const char *file)
{
    int fd = open(file, O_RDWR);
    if (fd < 0)
        return NULL;
    void *m = mmap(NULL, sizeof(region_layout), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    return m == MAP_FAILED ? NULL : m;
}

static uint64_t used_on(hami_region *r, int slot)
{
    hami_device_info infos[HAMI_MAX_DEVICES];
    int n = hami_region_devices(r, infos, HAMI_MAX_DEVICES);
    for (int i = 0; i < n; i++)
        if (infos[i].slot == slot)
            return infos[i].used_bytes;
    return UINT64_MAX;
}

/* A registrant killed after publishing an entry but before counting it: the next registrant
 * adopts the entry (its bytes kept) instead of rewriting it. */
static void test_half_registered(void)
{
    char p[600];
    snprintf(p, sizeof(p), "%s/half.region", t_dir);
    hami_region *r = NULL, *r2 = NULL;
    CHECK(hami_region_open(p, 1, &r, NULL, 0) == HAMI_OK);
    hami_limits lim = {.memory_limit_bytes = 1 << 20};
    CHECK(hami_region_device(r, HAMI_VENDOR_CUDA, "GPU-half-a", 0, &lim) == 0);
    int me = hami_region_join(r);
    CHECK(me >= 0 && hami_charge_memory(r, 0, me, 700, NULL, NULL) == HAMI_OK);
    region_layout *m = map_layout(p);
    CHECK(m != NULL);
    if (m == NULL)
        return;
    /* published, not counted */
    atomic_store(&m->header.device_count, 0);
    CHECK(hami_region_open(p, 0, &r2, NULL, 0) == HAMI_OK);
    CHECK(hami_region_device(r2, HAMI_VENDOR_CUDA, "GPU-half-a", 0, &lim) == 0); /* same entry */
    CHECK(hami_region_device_count(r2) == 1);
    CHECK(used_on(r2, 0) == 700); /* not zeroed */
    CHECK(strcmp(m->devices[0].uuid, "GPU-half-a") == 0);
    /* another device registering over a published, uncounted entry takes the next one */
    atomic_store(&m->header.device_count, 0);
    CHECK(hami_region_device(r2, HAMI_VENDOR_CUDA, "GPU-half-b", 0, &lim) == 1);
    CHECK(hami_region_device_count(r2) == 2);
    CHECK(used_on(r2, 0) == 700 && used_on(r2, 1) == 0);
    CHECK(strcmp(m->devices[0].uuid, "GPU-half-a") == 0);
    CHECK(hami_region_find_device(r2, HAMI_VENDOR_CUDA, "GPU-half-a") == 0);
    CHECK(hami_region_find_device(r2, HAMI_VENDOR_CUDA, "GPU-half-b") == 1);
    hami_region_leave(r, me);
    CHECK(used_on(r2, 0) == 0);
    munmap(m, sizeof(region_layout));
    hami_region_close(r2);
    hami_region_close(r);
}

static hami_region *leave_r;
static int leave_slot;
static _Atomic int leave_done;

static void *leave_thread(void *arg)
{
    (void)arg;
    hami_region_leave(leave_r, leave_slot);
    atomic_store(&leave_done, 1);
    return NULL;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* hami_region_leave against this process's own charges in flight (the exit handler racing a
 * charging thread): it fences the slot off, waits for the charge in flight, then drains; a
 * charge or release with the old slot number afterwards touches nothing. */
static void test_leave_fences_charges(void)
{
    char p[600];
    snprintf(p, sizeof(p), "%s/leave.region", t_dir);
    hami_region *r = NULL;
    CHECK(hami_region_open(p, 1, &r, NULL, 0) == HAMI_OK);
    hami_limits lim = {.memory_limit_bytes = 1 << 20};
    int dev = hami_region_device(r, HAMI_VENDOR_CUDA, "GPU-leave", 0, &lim);
    int me = hami_region_join(r);
    region_layout *m = map_layout(p);
    CHECK(dev == 0 && me >= 0 && m != NULL);
    if (dev != 0 || me < 0 || m == NULL)
        return;
    region_proc *slot = &m->procs[me];
    CHECK(hami_charge_memory(r, dev, me, 100, NULL, NULL) == HAMI_OK);

    /* A charge of ours is in flight (between its inflight increment and decrement): leave
     * waits for it, with the slot already fenced (RECLAIMING) against new ones. */
    atomic_fetch_add(&slot->inflight, 1);
    leave_r = r;
    leave_slot = me;
    atomic_store(&leave_done, 0);
    pthread_t t;
    pthread_create(&t, NULL, leave_thread, NULL);
    sleep_ms(20);
    CHECK(!atomic_load(&leave_done));
    CHECK(hami_slot_state(atomic_load(&slot->state)) == HAMI_SLOT_RECLAIMING);
    CHECK(hami_charge_memory(r, dev, me, 50, NULL, NULL) == HAMI_E_INVALID); /* backs out */
    hami_release_memory(r, dev, me, 100);                                     /* likewise */
    CHECK(atomic_load(&slot->inflight) == 1 && used_on(r, dev) == 100);
    /* the charge in flight lands its bytes in the slot, then finishes */
    atomic_fetch_add(&slot->used_bytes[dev], 30);
    atomic_fetch_add(&m->devices[dev].used_bytes, 30);
    atomic_fetch_sub(&slot->inflight, 1);
    pthread_join(t, NULL);
    CHECK(atomic_load(&leave_done));
    CHECK(hami_slot_state(atomic_load(&slot->state)) == HAMI_SLOT_FREE);
    CHECK(used_on(r, dev) == 0); /* all 130 drained, none left behind */
    CHECK(atomic_load(&slot->inflight) == 0);

    /* after leaving, the old slot number charges and releases nothing */
    CHECK(hami_charge_memory(r, dev, me, 10, NULL, NULL) == HAMI_E_INVALID);
    CHECK(used_on(r, dev) == 0 && atomic_load(&slot->used_bytes[dev]) == 0);
    CHECK(atomic_load(&slot->inflight) == 0);

    /* nor once another process holds that slot */
    me = hami_region_join(r);
    CHECK(me >= 0);
    if (me < 0)
        return;
    slot = &m->procs[me];
    CHECK(hami_charge_memory(r, dev, me, 40, NULL, NULL) == HAMI_OK);
    uint64_t mine = atomic_load(&slot->state);
    atomic_store(&slot->state, hami_slot_word(getppid(), HAMI_SLOT_LIVE)); /* "another" */
    CHECK(hami_charge_memory(r, dev, me, 10, NULL, NULL) == HAMI_E_INVALID);
    hami_release_memory(r, dev, me, 40);
    CHECK(used_on(r, dev) == 40 && atomic_load(&slot->used_bytes[dev]) == 40);
    atomic_store(&slot->state, mine);

    /* A charge stuck in flight past the bounded wait: leave gives up and keeps the slot LIVE
     * (reclaimed once the process is dead), bytes still counted. */
    atomic_fetch_add(&slot->inflight, 1);
    hami_region_leave(r, me);
    CHECK(atomic_load(&slot->state) == mine);
    CHECK(used_on(r, dev) == 40);
    atomic_fetch_sub(&slot->inflight, 1);
    hami_region_leave(r, me);
    CHECK(hami_slot_state(atomic_load(&slot->state)) == HAMI_SLOT_FREE);
    CHECK(used_on(r, dev) == 0);
    munmap(m, sizeof(region_layout));
    hami_region_close(r);
}

int main(void)
{
    t_make_dir();
    snprintf(path, sizeof(path), "%s/mem.region", t_dir);
    hami_region *r = NULL;
    CHECK(hami_region_open(path, 1, &r, NULL, 0) == HAMI_OK);
    test_charge_release(r);
    hami_region_close(r);
    test_stale_rule();
    test_thread_race();
    test_half_registered();
    test_leave_fences_charges();
    t_cleanup_dir();
    return t_summary("test_region_memory");
}
