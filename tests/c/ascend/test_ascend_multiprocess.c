/* Processes share the NPUs: memory one holds is not free for another, comes back when the
 * holder is killed with SIGKILL, and a dead holder's memory is also reclaimed by a failing
 * allocation; two processes' kernels on one device are time-sliced (2 x 300 ms ~ 600 ms). */
#include <signal.h>
#include <sys/wait.h>

#include "acl_decls.h"
#include "ascend_test.h"

#define MiB (1ull << 20)

static size_t free_hbm(void)
{
    size_t f = 0, t = 0;
    CHECK_ACL(aclrtGetMemInfo(ACL_HBM_MEM, &f, &t));
    return f;
}

static pid_t hold(int ready_fd, size_t bytes)
{
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        void *p;
        CHECK_ACL(aclrtSetDevice(0));
        CHECK_ACL(aclrtMalloc(&p, bytes, ACL_MEM_MALLOC_HUGE_FIRST));
        CHECK(write(ready_fd, "x", 1) == 1);
        pause();
        _exit(0);
    }
    return pid;
}

int main(void)
{
    asc_test_setup("multiproc", "256Mi", 1);
    int ready[2];
    CHECK(pipe(ready) == 0);
    char c;
    pid_t holder = hold(ready[1], 192 * MiB);
    CHECK(read(ready[0], &c, 1) == 1);
    CHECK_ACL(aclrtSetDevice(0));
    CHECK(free_hbm() < 64 * MiB);
    void *p;
    CHECK(aclrtMalloc(&p, 128 * MiB, ACL_MEM_MALLOC_HUGE_FIRST) == ACL_ERROR_RT_MEMORY_ALLOCATION);
    CHECK(kill(holder, SIGKILL) == 0);
    CHECK(waitpid(holder, NULL, 0) == holder);
    CHECK(free_hbm() == 256 * MiB); /* reclaimed when read */
    CHECK_ACL(aclrtMalloc(&p, 128 * MiB, ACL_MEM_MALLOC_HUGE_FIRST));
    CHECK_ACL(aclrtFree(p));

    pid_t holder2 = hold(ready[1], 192 * MiB);
    CHECK(read(ready[0], &c, 1) == 1);
    CHECK(kill(holder2, SIGKILL) == 0);
    CHECK(waitpid(holder2, NULL, 0) == holder2);
    CHECK_ACL(aclrtMalloc(&p, 192 * MiB, ACL_MEM_MALLOC_HUGE_FIRST)); /* reclaim on failure */
    CHECK_ACL(aclrtFree(p));

    uint64_t t0 = hami_now_ns();
    pid_t kids[2];
    for (int i = 0; i < 2; i++) {
        kids[i] = fork();
        CHECK(kids[i] >= 0);
        if (kids[i] == 0) {
            aclrtBinHandle bin;
            aclrtFuncHandle spin;
            CHECK_ACL(aclrtSetDevice(0));
            CHECK_ACL(aclrtBinaryLoadFromData("img", 3, NULL, &bin));
            CHECK_ACL(aclrtBinaryGetFunction(bin, "hami_sim_spin", &spin));
            uint64_t ns = 10000000;
            for (int k = 0; k < 30; k++)
                CHECK_ACL(aclrtLaunchKernel(spin, 1, &ns, sizeof ns, NULL));
            CHECK_ACL(aclrtSynchronizeDevice());
            _exit(0);
        }
    }
    for (int i = 0; i < 2; i++) {
        int status;
        CHECK(waitpid(kids[i], &status, 0) == kids[i]);
        CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    }
    double wall = ms_since(t0);
    CHECK(wall >= 580 && wall <= 1500);
    CHECK(busy_ms(0) >= 599.0);
    printf("ascend multiprocess: ok (2 x 300 ms in %.0f ms)\n", wall);
    return 0;
}
