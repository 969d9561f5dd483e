/*
 * Stream capture and context teardown under a compute cap (HAMI_COMPUTE_LIMIT=10), with
 * LD_PRELOAD=libhami.so over the simulator:
 *   - launches into a capturing stream are not metered: capturing 1000 launches of a known
 *     1 ms kernel returns at once (metered, they would sleep ~10 s at 10 %) and counts nothing;
 *     a failed begin or end leaves nothing behind;
 *   - the graph launch is metered: the region's busy time grows by about the graph's 1 s;
 *   - after cuDevicePrimaryCtxReset_v2 (the same primary-context handle comes back) sampled
 *     launches still work (the engine creates new events instead of reusing the dead ones).
 */
#include "hook_test.h"
#include "hami/clock.h"

CUresult cuInit(unsigned int flags);
CUresult cuDeviceGetUuid_v2(CUuuid *uuid, CUdevice dev);
CUresult cuDevicePrimaryCtxRetain(CUcontext *ctx, CUdevice dev);
CUresult cuDevicePrimaryCtxReset_v2(CUdevice dev);
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

#define MS 1000000ull

static char uuid0[64];

static hami_device_info device0(void)
{
    hami_device_info info;
    memset(&info, 0, sizeof info);
    CHECK(test_region_device(uuid0, HAMI_VENDOR_CUDA, &info));
    return info;
}

static void set_compute(uint32_t pct)
{
    hami_region *r = test_region_open();
    hami_device_info info = device0();
    hami_limits lim;
    CHECK(r != NULL);
    if (!r)
        return;
    CHECK(hami_region_get_limits(r, info.slot, &lim) == HAMI_OK);
    lim.compute_limit_pct = pct;
    CHECK(hami_region_set_limits(r, info.slot, &lim) == HAMI_OK);
    hami_region_close(r);
}

static void setup(CUfunction *spin, CUstream *s)
{
    CUcontext ctx;
    CUmodule mod;
    CHECK_CU(cuDevicePrimaryCtxRetain(&ctx, 0), CUDA_SUCCESS);
    CHECK_CU(cuCtxSetCurrent(ctx), CUDA_SUCCESS);
    CHECK_CU(cuModuleLoadData(&mod, "image"), CUDA_SUCCESS);
    CHECK_CU(cuModuleGetFunction(spin, mod, "hami_sim_spin"), CUDA_SUCCESS);
    CHECK_CU(cuStreamCreate(s, 1), CUDA_SUCCESS);
}

int main(void)
{
    test_fresh_files();
    CHECK_CU(cuInit(0), CUDA_SUCCESS);
    CUuuid uuid;
    CHECK_CU(cuDeviceGetUuid_v2(&uuid, 0), CUDA_SUCCESS);
    hook_test_uuid_text(&uuid, uuid0, sizeof uuid0);
    CUfunction spin;
    CUstream s;
    setup(&spin, &s);
    uint64_t ms = 1 * MS, small = 10000;
    void *params[] = {&ms}, *small_params[] = {&small};

    /* learn the kernel (the unsampled launches of a known kernel are what captures hit) */
    for (int i = 0; i < 16; i++)
        CHECK_CU(cuLaunchKernel(spin, 1, 1, 1, 1, 1, 1, 0, s, params, NULL), CUDA_SUCCESS);
    CHECK_CU(cuStreamSynchronize(s), CUDA_SUCCESS);

    /* failed begins and ends change nothing: the legacy stream cannot capture, s is not
     * capturing, a NULL graph pointer leaves the capture running */
    CUgraph graph = NULL;
    CHECK(cuStreamBeginCapture_v2(NULL, CU_STREAM_CAPTURE_MODE_GLOBAL) != CUDA_SUCCESS);
    CHECK(cuStreamEndCapture(s, &graph) != CUDA_SUCCESS);

    hami_device_info c0 = device0();
    uint64_t t0 = hami_now_ns();
    CHECK_CU(cuStreamBeginCapture_v2(s, CU_STREAM_CAPTURE_MODE_GLOBAL), CUDA_SUCCESS);
    CHECK(cuStreamEndCapture(s, NULL) != CUDA_SUCCESS);
    for (int i = 0; i < 1000; i++)
        CHECK_CU(cuLaunchKernel(spin, 1, 1, 1, 1, 1, 1, 0, s, params, NULL), CUDA_SUCCESS);
    CHECK_CU(cuStreamEndCapture(s, &graph), CUDA_SUCCESS);
    uint64_t took = hami_now_ns() - t0;
    hami_device_info c1 = device0();
    printf("capture of 1000 x 1 ms at 10 %%: %.1f ms, %llu launches counted\n",
           (double)took / 1e6, (unsigned long long)(c1.launches - c0.launches));
    CHECK(took < 1000 * MS);
    CHECK_EQ(c1.launches, c0.launches);
    CHECK_EQ(c1.measured_busy_ns, c0.measured_busy_ns);

    /* the graph is metered: launch it, then (at 100 %, so the debt it leaves is short) one
     * more launch harvests its sample */
    CUgraphExec exec;
    CHECK_CU(cuGraphInstantiateWithFlags(&exec, graph, 0), CUDA_SUCCESS);
    CHECK_CU(cuGraphLaunch(exec, s), CUDA_SUCCESS);
    CHECK_CU(cuStreamSynchronize(s), CUDA_SUCCESS);
    set_compute(100);
    CHECK_CU(cuLaunchKernel(spin, 1, 1, 1, 1, 1, 1, 0, s, small_params, NULL), CUDA_SUCCESS);
    CHECK_CU(cuStreamSynchronize(s), CUDA_SUCCESS);
    hami_device_info c2 = device0();
    uint64_t busy = c2.measured_busy_ns - c1.measured_busy_ns;
    printf("graph launch: %.1f ms of busy time counted (graph: 1000 ms)\n", (double)busy / 1e6);
    CHECK(busy >= 900 * MS && busy <= 1300 * MS);
    CHECK(c2.launches > c1.launches);

    /* the primary context is reset and comes back with the same handle: new events */
    CHECK_CU(cuDevicePrimaryCtxReset_v2(0), CUDA_SUCCESS);
    setup(&spin, &s);
    for (int i = 0; i < 64; i++)
        CHECK_CU(cuLaunchKernel(spin, 1, 1, 1, 1, 1, 1, 0, s, small_params, NULL),
                 CUDA_SUCCESS);
    CHECK_CU(cuStreamSynchronize(s), CUDA_SUCCESS);
    return test_finish("test_hook_context");
}
