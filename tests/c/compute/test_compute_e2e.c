/*
 * End to end: a workload of 1 ms spin kernels (and a graph workload) on the simulator, run as
 * a child process of this test with or without LD_PRELOAD=libhami.so, achieved utilisation
 * measured with the simulator's ground truth (hamiSimDeviceBusy):
 *   control   no library: the workload exceeds the cap (it keeps the device > 60 % busy);
 *   capped    HAMI_COMPUTE_LIMIT=30: within 10 points of 30 %, plain kernels and a graph;
 *   disable   HAMI_COMPUTE_LIMIT=30 HAMI_POLICY=disable: not throttled.
 * Until the launch hooks meter compute (the region's launch counter stays 0 under a cap), the
 * test fails.
 *
 * Environment (from CMake): HAMI_TEST_PRELOAD = path of libhami.so, HAMI_SIM_STATE,
 * HAMI_REGION (unique per test), LD_LIBRARY_PATH with the simulator first.
 * Usage: test_compute_e2e                   the checks above
 *        test_compute_e2e workload KIND SECONDS   (internal: the child; KIND kernel|graph)
 */
#include <sys/wait.h>

#include "compute_test.h"
#include "hami/clock.h"
#include "hami/cuda_abi.h"

CUresult cuInit(unsigned int flags);
CUresult cuDevicePrimaryCtxRetain(CUcontext *ctx, CUdevice dev);
CUresult cuCtxSetCurrent(CUcontext ctx);
CUresult cuModuleLoadData(CUmodule *module, const void *image);
CUresult cuModuleGetFunction(CUfunction *fn, CUmodule mod, const char *name);
CUresult cuStreamCreate(CUstream *stream, unsigned int flags);
CUresult cuStreamSynchronize(CUstream stream);
CUresult cuLaunchKernel(CUfunction f, unsigned int gx, unsigned int gy, unsigned int gz,
                        unsigned int bx, unsigned int by, unsigned int bz, unsigned int shared,
                        CUstream stream, void **params, void **extra);
CUresult cuStreamBeginCapture_v2(CUstream stream, CUstreamCaptureMode mode);
CUresult cuStreamEndCapture(CUstream stream, CUgraph *graph);
CUresult cuGraphInstantiateWithFlags(CUgraphExec *exec, CUgraph graph, unsigned long long flags);
CUresult cuGraphLaunch(CUgraphExec exec, CUstream stream);
CUresult hamiSimDeviceBusy(CUdevice dev, unsigned long long *busy_ns,
                           unsigned long long *now_ns);

#define KERNEL_NS 1000000ull

/* The child: launch for `seconds`, then print the busy percentage over the window from 300 ms
 * in to the end (measured in the child, which is the only tenant of its simulator state). */
static int workload(const char *kind, double seconds)
{
    CUcontext ctx;
    CUmodule mod;
    CUfunction spin;
    CUstream s;
    if (cuInit(0) || cuDevicePrimaryCtxRetain(&ctx, 0) || cuCtxSetCurrent(ctx) ||
        cuModuleLoadData(&mod, "image") || cuModuleGetFunction(&spin, mod, "hami_sim_spin") ||
        cuStreamCreate(&s, 1))
        return 2;
    uint64_t ns = KERNEL_NS, quarter = KERNEL_NS / 4;
    void *params[] = {&ns}, *qparams[] = {&quarter};
    CUgraphExec exec = NULL;
    int graph = strcmp(kind, "graph") == 0;
    if (graph) {
        CUgraph g;
        if (cuStreamBeginCapture_v2(s, CU_STREAM_CAPTURE_MODE_GLOBAL))
            return 3;
        for (int i = 0; i < 4; i++)
            if (cuLaunchKernel(spin, 1, 1, 1, 1, 1, 1, 0, s, qparams, NULL))
                return 3;
        if (cuStreamEndCapture(s, &g) || cuGraphInstantiateWithFlags(&exec, g, 0))
            return 3;
    }
    uint64_t start = hami_now_ns(), from = start + 300000000ull;
    uint64_t end = start + (uint64_t)(seconds * 1e9);
    unsigned long long b0 = 0, t0 = 0, b1 = 0, t1 = 0;
    int measuring = 0;
    while (hami_now_ns() < end) {
        if (!measuring && hami_now_ns() >= from) {
            hamiSimDeviceBusy(0, &b0, &t0);
            measuring = 1;
        }
        CUresult rc = graph ? cuGraphLaunch(exec, s)
                            : cuLaunchKernel(spin, 1, 1, 1, 1, 1, 1, 0, s, params, NULL);
        if (rc != CUDA_SUCCESS)
            return 4;
    }
    hamiSimDeviceBusy(0, &b1, &t1);
    printf("%.2f\n", 100.0 * (double)(b1 - b0) / (double)(t1 - t0));
    cuStreamSynchronize(s);
    return 0;
}

/* Run this program as the workload child with the given extra environment; return the
 * achieved utilisation (or a negative number when the child failed). */
static double run_child(const char *self, const char *kind, const char *const *env, int preload)
{
    int fds[2];
    CT_REQUIRE(pipe(fds) == 0);
    pid_t pid = fork();
    CT_REQUIRE(pid >= 0);
    if (pid == 0) {
        dup2(fds[1], 1);
        close(fds[0]);
        for (int i = 0; env && env[i]; i += 2)
            setenv(env[i], env[i + 1], 1);
        if (preload)
            setenv("LD_PRELOAD", getenv("HAMI_TEST_PRELOAD"), 1);
        else
            unsetenv("LD_PRELOAD");
        execl(self, self, "workload", kind, "2.0", (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    char buf[64] = {0};
    ssize_t n = read(fds[0], buf, sizeof buf - 1);
    close(fds[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    if (n <= 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        fprintf(stderr, "workload %s failed (status %d)\n", kind, status);
        return -1;
    }
    return atof(buf);
}

int main(int argc, char **argv)
{
    if (argc == 4 && strcmp(argv[1], "workload") == 0)
        return workload(argv[2], atof(argv[3]));
    const char *preload = getenv("HAMI_TEST_PRELOAD");
    if (!preload || !*preload || access(preload, R_OK) != 0) {
        fprintf(stderr, "HAMI_TEST_PRELOAD does not name libhami.so\n");
        return 1;
    }
    hami_region *r = ct_region_create("e2e");

    double control = run_child(argv[0], "kernel", NULL, 0);
    printf("control, no library:        %5.1f %%\n", control);
    CT_CHECK(control > 60.0);

    static const char *const capped[] = {"HAMI_COMPUTE_LIMIT", "30", NULL};
    double kernel = run_child(argv[0], "kernel", capped, 1);
    int slot = hami_region_device_count(r) > 0 ? 0 : -1;
    hami_device_info info;
    memset(&info, 0, sizeof info);
    if (slot >= 0)
        info = ct_device_info(r, slot);
    if (info.launches == 0) {
        printf("30 %% cap: %.1f %% achieved, but the launch hooks counted no launch: FAIL\n",
               kernel);
        hami_region_close(r);
        return 1;
    }
    printf("30 %% cap, 1 ms kernels:     %5.1f %%  (launches %llu, throttled %.0f ms)\n", kernel,
           (unsigned long long)info.launches, (double)info.throttled_ns / 1e6);
    CT_CHECK(kernel > 20.0 && kernel < 40.0);
    CT_CHECK(info.throttled_ns > 0);

    double graph = run_child(argv[0], "graph", capped, 1);
    printf("30 %% cap, graphs of 4x250us: %5.1f %%\n", graph);
    CT_CHECK(graph > 20.0 && graph < 40.0);

    static const char *const disabled[] = {"HAMI_COMPUTE_LIMIT", "30", "HAMI_POLICY", "disable",
                                           NULL};
    unlink(ct_region_path); /* a fresh region: the policy is read when the device is created */
    double off = run_child(argv[0], "kernel", disabled, 1);
    printf("30 %% cap, policy disable:   %5.1f %%\n", off);
    CT_CHECK(off > 60.0);
    hami_region_close(r);
    return ct_report("test_compute_e2e");
}
