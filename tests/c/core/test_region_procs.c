/* Multi-process region tests (fork-heavy):
 * - 8 processes x 4 threads racing random charges and releases against one cap: after every
 *   successful charge the device counter is <= the cap, and with everyone paused it equals
 *   exactly the sum of what the processes hold;
 * - kill -9 of a process in the middle of a charge/release loop: reclaim gives its bytes back
 *   exactly (including an allocation caught between the device and the slot counter, through
 *   the reconcile), exactly once, and join still works (no lock held);
 * - 256 processes joining at once: all get distinct slots; the time is printed. */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/wait.h>

#include "hami/clock.h"
#include "hami/region.h"
#include "region_layout.h"
#include "test_util.h"

#define PROCS 8
#define THREADS 4
#define CAP (4ull << 20)
#define MAX_ALLOC 65536u

static hami_region *g_r;
static int g_dev, g_slot;
static _Atomic uint64_t g_held; /* this process: bytes its threads hold */
static _Atomic int g_violations;

static uint64_t device_used(hami_region *r, int dev)
{
    hami_device_info info[HAMI_MAX_DEVICES];
    int n = hami_region_devices(r, info, HAMI_MAX_DEVICES);
    for (int i = 0; i < n; i++)
        if (info[i].slot == dev)
            return info[i].used_bytes;
    return UINT64_MAX;
}

static void *racer(void *arg)
{
    unsigned seed = (unsigned)(uintptr_t)arg;
    uint64_t held[32] = {0};
    for (int iter = 0; iter < 4000; iter++) {
        int k = (int)(rand_r(&seed) % 32);
        if (held[k] == 0) {
            uint64_t sz = 1 + rand_r(&seed) % MAX_ALLOC;
            if (hami_charge_memory(g_r, g_dev, g_slot, sz, NULL, NULL) == HAMI_OK) {
                held[k] = sz;
                if (device_used(g_r, g_dev) > CAP)
                    atomic_fetch_add(&g_violations, 1);
            }
        } else {
            hami_release_memory(g_r, g_dev, g_slot, held[k]);
            held[k] = 0;
        }
    }
    uint64_t sum = 0;
    for (int k = 0; k < 32; k++)
        sum += held[k];
    atomic_fetch_add(&g_held, sum);
    return NULL;
}

static void test_process_race(const char *path)
{
    hami_region *r = NULL;
    CHECK(hami_region_open(path, 1, &r, NULL, 0) == HAMI_OK);
    hami_limits lim = {.memory_limit_bytes = CAP};
    int dev = hami_region_device(r, HAMI_VENDOR_CUDA, "GPU-procrace", 0, &lim);
    CHECK(dev >= 0);

    int report[2], go[2], done[2];
    CHECK(pipe(report) == 0 && pipe(go) == 0 && pipe(done) == 0);
    pid_t kids[PROCS];
    for (int i = 0; i < PROCS; i++) {
        kids[i] = fork();
        if (kids[i] == 0) {
            close(report[0]);
            close(go[1]);
            close(done[1]);
            char c;
            if (read(go[0], &c, 1) < 0)
                _exit(3);
            g_r = r;
            g_dev = hami_region_device(r, HAMI_VENDOR_CUDA, "GPU-procrace", 0, &lim);
            g_slot = hami_region_join(r);
            if (g_dev != dev || g_slot < 0)
                _exit(1);
            pthread_t t[THREADS];
            for (int k = 0; k < THREADS; k++)
                pthread_create(&t[k], NULL, racer, (void *)(uintptr_t)(i * 131 + k * 17 + 1));
            for (int k = 0; k < THREADS; k++)
                pthread_join(t[k], NULL);
            uint64_t msg[2] = {atomic_load(&g_held), (uint64_t)atomic_load(&g_violations)};
            if (write(report[1], msg, sizeof(msg)) != sizeof(msg))
                _exit(4);
            if (read(done[0], &c, 1) < 0) /* wait until the parent has checked the sum */
                _exit(5);
            hami_region_leave(r, g_slot);
            _exit(0);
        }
    }
    close(report[1]);
    close(go[0]);
    close(done[0]);
    uint64_t t0 = hami_now_ns();
    close(go[1]);
    uint64_t total_held = 0, violations = 0;
    for (int i = 0; i < PROCS; i++) {
        uint64_t msg[2] = {0, 1};
        CHECK(read(report[0], msg, sizeof(msg)) == sizeof(msg));
        total_held += msg[0];
        violations += msg[1];
    }
    printf("process race: %d x %d threads, %.1f ms, %llu bytes held at the end\n", PROCS,
           THREADS, (double)(hami_now_ns() - t0) / 1e6, (unsigned long long)total_held);
    CHECK(violations == 0);
    uint64_t used = device_used(r, dev);
    if (!CHECK(used == total_held))
        fprintf(stderr, "  device used %llu, processes hold %llu\n", (unsigned long long)used,
                (unsigned long long)total_held);
    CHECK(used <= CAP);
    close(done[1]);
    int all_ok = 1;
    for (int i = 0; i < PROCS; i++) {
        int status = 0;
        waitpid(kids[i], &status, 0);
        all_ok &= WIFEXITED(status) && WEXITSTATUS(status) == 0;
    }
    CHECK(all_ok);
    CHECK(device_used(r, dev) == 0);
    hami_region_close(r);
}

/* A child joins, holds `base` bytes, then loops random charges/releases until killed. */
static void test_kill_reclaim(const char *path)
{
    hami_region *r = NULL;
    CHECK(hami_region_open(path, 1, &r, NULL, 0) == HAMI_OK);
    hami_limits lim = {.memory_limit_bytes = 1ull << 30};
    int dev = hami_region_device(r, HAMI_VENDOR_CUDA, "GPU-kill", 0, &lim);
    int me = hami_region_join(r);
    CHECK(dev >= 0 && me >= 0);
    CHECK(hami_charge_memory(r, dev, me, 12345, NULL, NULL) == HAMI_OK); /* survivor's bytes */

    int exact = 0, rounds = 30;
    uint64_t worst_leak = 0;
    for (int round = 0; round < rounds; round++) {
        /* What is counted before the child: the survivor's bytes plus any in-flight allocation
         * an earlier round's kill left counted. */
        uint64_t baseline = device_used(r, dev);
        int ready[2];
        CHECK(pipe(ready) == 0);
        pid_t kid = fork();
        if (kid == 0) {
            close(ready[0]);
            int d = hami_region_device(r, HAMI_VENDOR_CUDA, "GPU-kill", 0, &lim);
            int s = hami_region_join(r);
            if (d != dev || s < 0 || hami_charge_memory(r, d, s, 1000000, NULL, NULL) != 0)
                _exit(1);
            char c = 'r';
            if (write(ready[1], &c, 1) != 1)
                _exit(2);
            unsigned seed = (unsigned)getpid();
            uint64_t held[8] = {0};
            for (;;) {
                int k = (int)(rand_r(&seed) % 8);
                if (held[k] == 0) {
                    uint64_t sz = 1 + rand_r(&seed) % MAX_ALLOC;
                    if (hami_charge_memory(r, d, s, sz, NULL, NULL) == 0)
                        held[k] = sz;
                } else {
                    hami_release_memory(r, d, s, held[k]);
                    held[k] = 0;
                }
            }
        }
        close(ready[1]);
        char c;
        CHECK(read(ready[0], &c, 1) == 1);
        close(ready[0]);
        usleep(1000 + (unsigned)(round * 500));
        kill(kid, SIGKILL);
        int status = 0;
        waitpid(kid, &status, 0);
        CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
        CHECK(device_used(r, dev) >= baseline + 1000000); /* the child's bytes were counted */
        CHECK(hami_region_reclaim_dead(r) == 1);
        CHECK(hami_region_reclaim_dead(r) == 0); /* exactly once */
        uint64_t used = device_used(r, dev);
        if (!CHECK(used == baseline))
            fprintf(stderr, "  round %d: %llu bytes left counted\n", round,
                    (unsigned long long)(used - baseline));
        if (used == baseline)
            exact++;
        else if (used - baseline > worst_leak)
            worst_leak = used - baseline;

        /* Joining and registering still work after the kill (no lock held). */
        pid_t j = fork();
        if (j == 0) {
            int s = hami_region_join(r);
            int d = hami_region_device(r, HAMI_VENDOR_CUDA, "GPU-kill-new", 0, &lim);
            _exit(s >= 0 && d >= 0 ? 0 : 1);
        }
        waitpid(j, &status, 0);
        CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        hami_region_reclaim_dead(r);
    }
    printf("kill -9: %d rounds exact, worst in-flight allocation left counted: %llu bytes\n",
           exact, (unsigned long long)worst_leak);
    hami_region_leave(r, me);
    hami_region_close(r);
}

static void test_join_256(const char *path)
{
    enum { N = 256 };
    hami_region *r = NULL;
    CHECK(hami_region_open(path, 1, &r, NULL, 0) == HAMI_OK);
    int go[2], hold[2], report[2];
    CHECK(pipe(go) == 0 && pipe(hold) == 0 && pipe(report) == 0);
    pid_t kids[N];
    for (int i = 0; i < N; i++) {
        kids[i] = fork();
        if (kids[i] == 0) {
            close(go[1]);
            close(hold[1]);
            close(report[0]);
            char c;
            if (read(go[0], &c, 1) != 0) /* EOF = everybody starts */
                _exit(3);
            hami_limits lim = {.memory_limit_bytes = 1ull << 30};
            int slot = hami_region_join(r);
            int dev = hami_region_device(r, HAMI_VENDOR_CUDA, "GPU-join", 0, &lim);
            int msg[2] = {slot, dev};
            if (write(report[1], msg, sizeof(msg)) != sizeof(msg))
                _exit(4);
            if (read(hold[0], &c, 1) != 0) /* keep the slot until the parent lets go */
                _exit(5);
            _exit(slot >= 0 && dev >= 0 ? 0 : 1);
        }
        if (kids[i] < 0) {
            perror("fork");
            exit(2);
        }
    }
    close(go[0]);
    close(hold[0]);
    close(report[1]);
    uint64_t t0 = hami_now_ns();
    close(go[1]);
    static char seen[HAMI_MAX_PROCS];
    int distinct = 1, ok = 1;
    for (int i = 0; i < N; i++) {
        int msg[2] = {-1, -1};
        if (read(report[0], msg, sizeof(msg)) != sizeof(msg)) {
            ok = 0;
            break;
        }
        if (msg[0] < 0 || msg[1] < 0) {
            ok = 0;
            continue;
        }
        if (seen[msg[0]])
            distinct = 0;
        seen[msg[0]] = 1;
    }
    double ms = (double)(hami_now_ns() - t0) / 1e6;
    printf("256 processes joined (and registered a device) in %.1f ms\n", ms);
    CHECK(ok && distinct);
    CHECK(ms < 5000.0);
    hami_process_info *procs = calloc(HAMI_MAX_PROCS, sizeof(*procs));
    int live = hami_region_processes(r, procs, HAMI_MAX_PROCS);
    CHECK(live == N);
    close(hold[1]);
    int all_ok = 1;
    for (int i = 0; i < N; i++) {
        int status = 0;
        waitpid(kids[i], &status, 0);
        all_ok &= WIFEXITED(status) && WEXITSTATUS(status) == 0;
    }
    CHECK(all_ok);
    /* They exited without leaving: all reclaimed in one pass. */
    CHECK(hami_region_reclaim_dead(r) == N);
    CHECK(hami_region_processes(r, procs, HAMI_MAX_PROCS) == 0);
    free(procs);
    hami_region_close(r);
}

int main(void)
{
    t_make_dir();
    char p[600];
    snprintf(p, sizeof(p), "%s/race.region", t_dir);
    test_process_race(p);
    snprintf(p, sizeof(p), "%s/kill.region", t_dir);
    test_kill_reclaim(p);
    snprintf(p, sizeof(p), "%s/join.region", t_dir);
    test_join_256(p);
    t_cleanup_dir();
    return t_summary("test_region_procs");
}
