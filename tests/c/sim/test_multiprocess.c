/* Processes share the devices: memory one holds is not free for another and comes back when
 * the holder is killed with SIGKILL; two processes each launching 1 s of spin kernels back to
 * back on one device take ~2 s of wall time, not ~1 s. */
#include <signal.h>
#include <sys/wait.h>

#include "sim_test.h"

static size_t free_bytes(void)
{
    size_t f = 0;
    CHECK_CU(cuMemGetInfo_v2(&f, NULL));
    return f;
}

static void spin_one_second(void)
{
    CUfunction spin = sim_test_init_spin();
    for (int i = 0; i < 100; i++)
        CHECK_CU(sim_test_spin(spin, NULL, 10000000));
    CHECK_CU(cuCtxSynchronize());
}

int main(void)
{
    sim_test_setup("multiproc", "4Gi");
    const size_t GiB = 1ull << 30;

    /* 1. a child holds 3 GiB; the parent sees it; SIGKILL gives it back */
    int ready[2];
    CHECK(pipe(ready) == 0);
    pid_t holder = fork();
    CHECK(holder >= 0);
    if (holder == 0) {
        (void)sim_test_init_spin();
        CUdeviceptr p;
        CHECK_CU(cuMemAlloc_v2(&p, 3 * GiB));
        CHECK(write(ready[1], "x", 1) == 1);
        pause();
        _exit(0);
    }
    char c;
    CHECK(read(ready[0], &c, 1) == 1);
    (void)sim_test_init_spin();
    CHECK(free_bytes() == GiB);
    CUdeviceptr p;
    CHECK(cuMemAlloc_v2(&p, 2 * GiB) == CUDA_ERROR_OUT_OF_MEMORY);
    CHECK(kill(holder, SIGKILL) == 0);
    CHECK(waitpid(holder, NULL, 0) == holder);
    CHECK(free_bytes() == 4 * GiB); /* reclaimed when read */
    CHECK_CU(cuMemAlloc_v2(&p, 2 * GiB));
    CHECK_CU(cuMemFree_v2(p));

    /* 1b. a dead holder's memory is also reclaimed by a failing allocation */
    pid_t holder2 = fork();
    if (holder2 == 0) {
        CUdeviceptr q;
        CHECK_CU(cuMemAlloc_v2(&q, 3 * GiB)); /* the child claims its own slot after fork */
        CHECK(write(ready[1], "x", 1) == 1);
        pause();
        _exit(0);
    }
    CHECK(read(ready[0], &c, 1) == 1);
    CHECK(kill(holder2, SIGKILL) == 0);
    CHECK(waitpid(holder2, NULL, 0) == holder2);
    CHECK_CU(cuMemAlloc_v2(&p, 3 * GiB));
    CHECK_CU(cuMemFree_v2(p));

    /* 2. two processes x 1 s of kernels on device 0 */
    unsigned long long busy0 = 0, busy1 = 0;
    CHECK_CU(hamiSimDeviceBusy(0, &busy0, NULL));
    uint64_t t0 = hami_now_ns();
    pid_t kids[2];
    for (int i = 0; i < 2; i++) {
        kids[i] = fork();
        CHECK(kids[i] >= 0);
        if (kids[i] == 0) {
            spin_one_second();
            _exit(0);
        }
    }
    for (int i = 0; i < 2; i++) {
        int status = 0;
        CHECK(waitpid(kids[i], &status, 0) == kids[i]);
        CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    }
    double wall = ms_since(t0);
    CHECK_CU(hamiSimDeviceBusy(0, &busy1, NULL));
    printf("two processes x 1 s: %.0f ms wall, device busy %.0f ms\n", wall,
           (double)(busy1 - busy0) / 1e6);
    CHECK(wall >= 1900 && wall <= 3500);
    CHECK(busy1 - busy0 >= 1999000000ull && busy1 - busy0 <= 2001000000ull);
    printf("ok\n");
    return 0;
}
