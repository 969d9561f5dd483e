/*
 * NVML virtualisation, through direct linking (this program links the simulator's
 * libnvidia-ml.so.1) and through dlopen + dlsym on the NVML handle: with HAMI_MEMORY_LIMIT_0=64m
 * device 0 reports total = 64 MiB, used = the container's use (a CUDA allocation of 8 MiB
 * made through the dlopen'ed driver), free = the rest; device 1 (no cap) passes through.
 */
#include <dlfcn.h>

#include "hami/nvml_abi.h"
#include "hook_test.h"

#define MiB (1024ull * 1024ull)
#define DECLARE(name) extern __typeof__(*(name##_fn)0) name;
DECLARE(nvmlInit_v2)
DECLARE(nvmlDeviceGetHandleByIndex_v2)
DECLARE(nvmlDeviceGetMemoryInfo)
DECLARE(nvmlDeviceGetMemoryInfo_v2)

int main(void)
{
    test_fresh_files();
    /* 8 MiB of CUDA memory on device 0, through the driver's dlopen path */
    void *cuda = dlopen("libcuda.so.1", RTLD_NOW);
    CHECK(cuda != NULL);
    ((cuInit_fn)dlsym(cuda, "cuInit"))(0);
    CUcontext ctx;
    ((cuDevicePrimaryCtxRetain_fn)dlsym(cuda, "cuDevicePrimaryCtxRetain"))(&ctx, 0);
    ((cuCtxSetCurrent_fn)dlsym(cuda, "cuCtxSetCurrent"))(ctx);
    CUdeviceptr p;
    CHECK_CU(((cuMemAlloc_v2_fn)dlsym(cuda, "cuMemAlloc_v2"))(&p, 8 * MiB), CUDA_SUCCESS);

    CHECK_CU(nvmlInit_v2(), NVML_SUCCESS);
    nvmlDevice_t d0, d1;
    CHECK_CU(nvmlDeviceGetHandleByIndex_v2(0, &d0), NVML_SUCCESS);
    CHECK_CU(nvmlDeviceGetHandleByIndex_v2(1, &d1), NVML_SUCCESS);
    nvmlMemory_t m;
    CHECK_CU(nvmlDeviceGetMemoryInfo(d0, &m), NVML_SUCCESS);
    CHECK_EQ(m.total, 64 * MiB);
    CHECK_EQ(m.used, 8 * MiB);
    CHECK_EQ(m.free, 56 * MiB);
    nvmlMemory_v2_t m2;
    memset(&m2, 0, sizeof m2);
    m2.version = nvmlMemory_v2;
    CHECK_CU(nvmlDeviceGetMemoryInfo_v2(d0, &m2), NVML_SUCCESS);
    CHECK_EQ(m2.total, 64 * MiB);
    CHECK_EQ(m2.used, 8 * MiB);
    CHECK_EQ(m2.free, 56 * MiB);
    CHECK_CU(nvmlDeviceGetMemoryInfo(d1, &m), NVML_SUCCESS);
    CHECK(m.total > 64 * MiB); /* no cap on device 1: the card */

    void *nvml = dlopen("libnvidia-ml.so.1", RTLD_NOW | RTLD_LOCAL);
    CHECK(nvml != NULL);
    nvmlDeviceGetMemoryInfo_fn get = (nvmlDeviceGetMemoryInfo_fn)dlsym(nvml,
                                                                      "nvmlDeviceGetMemoryInfo");
    CHECK(get == nvmlDeviceGetMemoryInfo); /* our wrapper, the one direct linking binds to */
    CHECK_CU(get(d0, &m), NVML_SUCCESS);
    CHECK_EQ(m.total, 64 * MiB);
    CHECK(get(d0, NULL) != NVML_SUCCESS); /* the driver's answer to NULL, no crash */
    return test_finish("test_hook_nvml");
}
