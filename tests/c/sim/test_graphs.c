/* Graphs (stream capture and explicit kernel nodes), cooperative launches and cuLaunchKernelEx
 * take device time like plain launches. */
#include "sim_test.h"

static unsigned long long busy_ms(void)
{
    unsigned long long b = 0;
    CHECK_CU(hamiSimDeviceBusy(0, &b, NULL));
    return b / 1000000ull;
}

int main(void)
{
    sim_test_setup("graphs", NULL);
    CUfunction spin = sim_test_init_spin();
    CUstream s;
    CHECK_CU(cuStreamCreate(&s, CU_STREAM_NON_BLOCKING));
    CUevent e0, e1;
    CHECK_CU(cuEventCreate(&e0, 0));
    CHECK_CU(cuEventCreate(&e1, 0));
    float ms = 0;

    /* capture: launches append nodes instead of running */
    CUstreamCaptureStatus st;
    CHECK(cuStreamBeginCapture_v2(NULL, CU_STREAM_CAPTURE_MODE_GLOBAL) ==
          CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED);
    CHECK_CU(cuStreamBeginCapture_v2(s, CU_STREAM_CAPTURE_MODE_GLOBAL));
    CHECK_CU(cuStreamIsCapturing(s, &st));
    CHECK(st == CU_STREAM_CAPTURE_STATUS_ACTIVE);
    uint64_t t0 = hami_now_ns();
    for (int i = 0; i < 5; i++)
        CHECK_CU(sim_test_spin(spin, s, 4000000));
    CHECK(cuStreamSynchronize(s) == CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED);
    CUgraph g;
    CHECK_CU(cuStreamEndCapture(s, &g));
    CHECK(ms_since(t0) < 15); /* nothing ran */
    CHECK(cuStreamEndCapture(s, &g) == CUDA_ERROR_ILLEGAL_STATE);
    CUgraphExec x;
    CHECK_CU(cuGraphInstantiateWithFlags(&x, g, 0));
    unsigned long long b0 = busy_ms();
    CHECK_CU(cuEventRecord(e0, s));
    CHECK_CU(cuGraphLaunch(x, s));
    CHECK_CU(cuGraphLaunch(x, s));
    CHECK_CU(cuEventRecord(e1, s));
    CHECK_CU(cuStreamSynchronize(s));
    CHECK_CU(cuEventElapsedTime(&ms, e0, e1));
    CHECK(ms >= 39.99 && ms <= 42);
    CHECK(busy_ms() - b0 >= 39);
    CHECK_CU(cuGraphExecDestroy(x));
    CHECK_CU(cuGraphDestroy(g));
    CHECK(cuGraphDestroy(g) == CUDA_ERROR_INVALID_VALUE);

    /* explicit kernel nodes, v2 and v1 layouts, and the legacy instantiate */
    CHECK_CU(cuGraphCreate(&g, 0));
    uint64_t ns = 7000000;
    void *params[] = {&ns};
    CUDA_KERNEL_NODE_PARAMS p2;
    memset(&p2, 0, sizeof p2);
    p2.func = spin;
    p2.gridDimX = p2.gridDimY = p2.gridDimZ = 1;
    p2.blockDimX = p2.blockDimY = p2.blockDimZ = 1;
    p2.kernelParams = params;
    CUgraphNode n1, n2;
    CHECK_CU(cuGraphAddKernelNode_v2(&n1, g, NULL, 0, &p2));
    CUDA_KERNEL_NODE_PARAMS_v1 p1;
    memcpy(&p1, &p2, sizeof p1);
    CHECK_CU(cuGraphAddKernelNode(&n2, g, &n1, 1, &p1));
    CHECK_CU(cuGraphInstantiate(&x, g, NULL, NULL, 0));
    CHECK_CU(cuEventRecord(e0, s));
    CHECK_CU(cuGraphLaunch(x, s));
    CHECK_CU(cuEventRecord(e1, s));
    CHECK_CU(cuEventSynchronize(e1));
    CHECK_CU(cuEventElapsedTime(&ms, e0, e1));
    CHECK(ms >= 13.99 && ms <= 16);
    CHECK(cuGraphLaunch((CUgraphExec)&ns, s) == CUDA_ERROR_INVALID_VALUE);

    /* cooperative and Ex launches */
    CHECK_CU(cuEventRecord(e0, s));
    CHECK_CU(cuLaunchCooperativeKernel(spin, 1, 1, 1, 32, 1, 1, 0, s, params));
    CUlaunchAttribute attr;
    memset(&attr, 0, sizeof attr);
    attr.id = CU_LAUNCH_ATTRIBUTE_COOPERATIVE;
    attr.value.cooperative = 1;
    CUlaunchConfig cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.gridDimX = cfg.gridDimY = cfg.gridDimZ = 1;
    cfg.blockDimX = cfg.blockDimY = cfg.blockDimZ = 1;
    cfg.hStream = s;
    cfg.attrs = &attr;
    cfg.numAttrs = 1;
    CHECK_CU(cuLaunchKernelEx(&cfg, spin, params, NULL));
    CHECK_CU(cuEventRecord(e1, s));
    CHECK_CU(cuStreamSynchronize(s));
    CHECK_CU(cuEventElapsedTime(&ms, e0, e1));
    CHECK(ms >= 13.99 && ms <= 16);
    printf("ok\n");
    return 0;
}
