/* Resolution path 1: a program linked against libcuda.so.1 (-lcuda) reaches the simulator;
 * devices, attributes, contexts (all cuCtxCreate variants), memory and a launch work. */
#include "sim_test.h"

int main(void)
{
    sim_test_setup("link", NULL);
    CUdevice dev;
    CHECK(cuDeviceGetCount(&(int){0}) == CUDA_ERROR_NOT_INITIALIZED);
    CHECK(cuInit(1) == CUDA_ERROR_INVALID_VALUE);
    CHECK_CU(cuInit(0));
    int count = 0, version = 0, sms = 0, major = 0, minor = 0;
    CHECK_CU(cuDriverGetVersion(&version));
    CHECK(version == 13000);
    CHECK_CU(cuDeviceGetCount(&count));
    CHECK(count == 2);
    CHECK_CU(cuDeviceGet(&dev, 1));
    CHECK(cuDeviceGet(&dev, 2) == CUDA_ERROR_INVALID_DEVICE);
    char name[64];
    CHECK_CU(cuDeviceGetName(name, sizeof name, 0));
    CHECK(strcmp(name, "HAMi Simulated GPU") == 0);
    CUuuid u0, u1;
    CHECK_CU(cuDeviceGetUuid_v2(&u0, 0));
    CHECK_CU(cuDeviceGetUuid(&u1, 1));
    CHECK(memcmp(u0.bytes, u1.bytes, 16) != 0);
    CHECK_CU(cuDeviceGetAttribute(&sms, CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT, 0));
    CHECK(sms == 108);
    CHECK_CU(cuDeviceComputeCapability(&major, &minor, 0));
    size_t total = 0;
    CHECK_CU(cuDeviceTotalMem_v2(&total, 0));
    CHECK(total == 16ull << 30);

    CUcontext c2, c3, c4, cur;
    CHECK_CU(cuCtxCreate_v2(&c2, 0, 0));
    CHECK_CU(cuCtxCreate_v3(&c3, NULL, 0, 0, 1));
    CHECK_CU(cuCtxCreate_v4(&c4, NULL, 0, 0));
    CHECK_CU(cuCtxGetCurrent(&cur));
    CHECK(cur == c4);
    CHECK_CU(cuCtxPopCurrent_v2(&cur));
    CHECK(cur == c4);
    CHECK_CU(cuCtxGetDevice(&dev));
    CHECK(dev == 1); /* c3 is on device 1 */
    CHECK_CU(cuCtxDestroy_v2(c3));
    CHECK_CU(cuCtxGetCurrent(&cur));
    CHECK(cur == c2);
    CHECK_CU(cuCtxDestroy_v2(c4));
    CHECK(cuCtxDestroy_v2(c4) == CUDA_ERROR_INVALID_CONTEXT);
    CHECK_CU(cuCtxDestroy_v2(c2));

    CUfunction fn = sim_test_init_spin();
    CUdeviceptr p;
    CHECK_CU(cuMemAlloc_v2(&p, 1 << 20));
    uint64_t t0 = hami_now_ns();
    CHECK_CU(sim_test_spin(fn, NULL, 20000000));
    CHECK_CU(cuCtxSynchronize());
    CHECK(ms_since(t0) >= 19.0);
    CHECK_CU(cuMemFree_v2(p));
    const char *s = NULL;
    CHECK_CU(cuGetErrorName(CUDA_ERROR_OUT_OF_MEMORY, &s));
    CHECK(strcmp(s, "CUDA_ERROR_OUT_OF_MEMORY") == 0);
    CHECK_CU(cuGetErrorString(CUDA_ERROR_OUT_OF_MEMORY, &s));
    CHECK(cuGetErrorName((CUresult)12345, &s) == CUDA_ERROR_INVALID_VALUE);
    CHECK(cuGetExportTable((const void **)&s, &u0) == CUDA_ERROR_NOT_SUPPORTED);

    printf("ok\n");
    return 0;
}
