/*
 * The compute metering engine (compute.c) driven directly, without LD_PRELOAD, against the
 * simulated driver: each worker process does what a launch hook does (admit, cuLaunchKernel /
 * cuGraphLaunch, complete) and the parent measures the device's busy fraction with the
 * simulator's ground truth (hamiSimDeviceBusy).  Cases: 30 % cap with 50 us, 1 ms and 20 ms
 * kernels queued asynchronously, 4 processes sharing the cap, a graph workload and a
 * synchronise-after-every-kernel workload; each must hold within 10 points.
 *
 * Usage: test_compute_sim                      the cases above
 *        test_compute_sim CAP KERNEL_US PROCS async|sync|graph SECONDS   one cell, printed
 */
#include <signal.h>
#include <sys/wait.h>

#include "compute.h"
#include "compute_test.h"
#include "hami/clock.h"

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

static hami_region *region;
static int dev_slot;

enum kind { ASYNC, SYNC, GRAPH };

static int worker(enum kind kind, uint64_t kernel_ns, double seconds)
{
    int proc = hami_region_join(region);
    CUcontext ctx;
    CUmodule mod;
    CUfunction spin;
    CUstream s;
    if (cuInit(0) || cuDevicePrimaryCtxRetain(&ctx, 0) || cuCtxSetCurrent(ctx) ||
        cuModuleLoadData(&mod, "image") || cuModuleGetFunction(&spin, mod, "hami_sim_spin") ||
        cuStreamCreate(&s, 1))
        return 2;
    void *params[] = {&kernel_ns};
    CUgraphExec exec = NULL;
    if (kind == GRAPH) { /* 4 kernels of kernel_ns/4 */
        uint64_t part = kernel_ns / 4;
        void *p[] = {&part};
        CUgraph g;
        if (cuStreamBeginCapture_v2(s, CU_STREAM_CAPTURE_MODE_GLOBAL))
            return 3;
        for (int i = 0; i < 4; i++) {
            hami_compute_ticket t; /* captured launches are not metered */
            hami_compute_admit(region, dev_slot, proc, (uintptr_t)spin, 1, s, 0, &t);
            CUresult rc = cuLaunchKernel(spin, 1, 1, 1, 1, 1, 1, 0, s, p, NULL);
            if (t.region != NULL)
                return 4;
            hami_compute_complete(&t, rc);
        }
        if (cuStreamEndCapture(s, &g) || cuGraphInstantiateWithFlags(&exec, g, 0))
            return 3;
    }
    uint64_t end = hami_now_ns() + (uint64_t)(seconds * 1e9);
    int launches = 0;
    while (hami_now_ns() < end) {
        hami_compute_ticket t;
        CUresult rc;
        if (kind == GRAPH) {
            hami_compute_admit(region, dev_slot, proc, (uintptr_t)exec, 0, s, 0, &t);
            rc = cuGraphLaunch(exec, s);
        } else {
            hami_compute_admit(region, dev_slot, proc, (uintptr_t)spin, 1, s, 0, &t);
            rc = cuLaunchKernel(spin, 1, 1, 1, 1, 1, 1, 0, s, params, NULL);
        }
        hami_compute_complete(&t, rc);
        launches++;
        if (rc != CUDA_SUCCESS)
            return 5;
        if (kind == SYNC) {
            cuStreamSynchronize(s);
            hami_compute_flush();
        }
    }
    cuStreamSynchronize(s);
    if (getenv("HAMI_COMPUTE_TEST_DEBUG"))
        fprintf(stderr, "  pid %d: estimate %.3f ms, %d launches, pending %u\n", (int)getpid(),
                (double)hami_compute_estimate_ns(dev_slot,
                                                 kind == GRAPH ? (uintptr_t)exec : (uintptr_t)spin,
                                                 kind == GRAPH ? 0 : 1) / 1e6,
                launches, hami_compute_pending(dev_slot));
    return 0;
}

/* Run `procs` workers for `seconds`; return the device's busy percentage over the window that
 * starts 300 ms in and ends 100 ms before the workers stop. */
static double run_cell(uint32_t cap, enum kind kind, uint64_t kernel_ns, int procs,
                       double seconds)
{
    ct_set_compute(region, dev_slot, cap);
    pid_t pids[16];
    for (int i = 0; i < procs; i++) {
        pids[i] = fork();
        CT_REQUIRE(pids[i] >= 0);
        if (pids[i] == 0)
            _exit(worker(kind, kernel_ns, seconds));
    }
    CT_REQUIRE(cuInit(0) == CUDA_SUCCESS);
    uint64_t start = hami_now_ns();
    hami_sleep_until_ns(start + 300000000ull);
    unsigned long long b0 = 0, b1 = 0, t0 = 0, t1 = 0;
    hamiSimDeviceBusy(0, &b0, &t0);
    hami_sleep_until_ns(start + (uint64_t)((seconds - 0.1) * 1e9));
    hamiSimDeviceBusy(0, &b1, &t1);
    int ok = 1;
    for (int i = 0; i < procs; i++) {
        int status = 0;
        waitpid(pids[i], &status, 0);
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
            fprintf(stderr, "worker %d failed (status %d)\n", i, status);
            ok = 0;
        }
    }
    CT_CHECK(ok);
    return 100.0 * (double)(b1 - b0) / (double)(t1 - t0);
}

static void cell(uint32_t cap, enum kind kind, uint64_t kernel_us, int procs, double seconds)
{
    static const char *names[] = {"async", "sync", "graph"};
    double got = run_cell(cap, kind, kernel_us * 1000ull, procs, seconds);
    printf("cap %3u %%  %-5s  kernel %6llu us  procs %d:  achieved %5.1f %%  (error %+.1f)\n",
           cap, names[kind], (unsigned long long)kernel_us, procs, got, got - cap);
    fflush(stdout);
    CT_CHECK(got > cap - 10.0 && got < cap + 10.0);
}

int main(int argc, char **argv)
{
    char state[512];
    const char *tmp = getenv("TMPDIR");
    snprintf(state, sizeof state, "%s/hami-compute-sim-%d.state", tmp && *tmp ? tmp : "/tmp",
             (int)getpid());
    setenv("HAMI_SIM_STATE", state, 1);
    unsetenv("CUDA_VISIBLE_DEVICES");
    region = ct_region_create("sim");
    hami_limits lim;
    memset(&lim, 0, sizeof lim);
    dev_slot = hami_region_device(region, HAMI_VENDOR_CUDA, "GPU-compute-sim", 0, &lim);
    CT_REQUIRE(dev_slot >= 0);

    if (argc == 6) {
        enum kind kind = strcmp(argv[4], "sync") == 0    ? SYNC
                         : strcmp(argv[4], "graph") == 0 ? GRAPH
                                                         : ASYNC;
        cell((uint32_t)atoi(argv[1]), kind, (uint64_t)atoll(argv[2]), atoi(argv[3]),
             atof(argv[5]));
    } else {
        cell(30, ASYNC, 1000, 1, 2.0);
        cell(30, ASYNC, 50, 1, 2.0);
        cell(30, ASYNC, 20000, 1, 2.5);
        cell(30, ASYNC, 1000, 4, 2.0);
        cell(30, GRAPH, 1000, 1, 2.0);
        cell(30, SYNC, 1000, 1, 2.0);
    }
    unlink(state);
    return ct_report("test_compute_sim");
}
