/* Resolution path 2: dlopen("libcuda.so.1") + dlsym(handle, ...) reaches the simulator. */
#include <dlfcn.h>

#define SIM_TEST_NO_LINK
#include "sim_test.h"

int main(void)
{
    sim_test_setup("dlopen", NULL);
    void *h = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
    CHECK(h != NULL);
    cuInit_fn init = (cuInit_fn)dlsym(h, "cuInit");
    cuDeviceGetCount_fn count = (cuDeviceGetCount_fn)dlsym(h, "cuDeviceGetCount");
    cuDevicePrimaryCtxRetain_fn retain = (cuDevicePrimaryCtxRetain_fn)dlsym(h, "cuDevicePrimaryCtxRetain");
    cuCtxSetCurrent_fn set = (cuCtxSetCurrent_fn)dlsym(h, "cuCtxSetCurrent");
    cuMemAlloc_v2_fn alloc = (cuMemAlloc_v2_fn)dlsym(h, "cuMemAlloc_v2");
    cuMemFree_v2_fn mfree = (cuMemFree_v2_fn)dlsym(h, "cuMemFree_v2");
    cuMemGetInfo_v2_fn info = (cuMemGetInfo_v2_fn)dlsym(h, "cuMemGetInfo_v2");
    hamiSimDeviceBusy_fn busy = (hamiSimDeviceBusy_fn)dlsym(h, "hamiSimDeviceBusy");
    CHECK(init && count && retain && set && alloc && mfree && info && busy);
    CHECK(dlsym(h, "cuMemAlloc") == NULL); /* only _v2 is exported, as by the real driver */
    CHECK(init(0) == CUDA_SUCCESS);
    int n = 0;
    CHECK(count(&n) == CUDA_SUCCESS && n == 2);
    CUcontext ctx;
    CHECK(retain(&ctx, 0) == CUDA_SUCCESS && set(ctx) == CUDA_SUCCESS);
    size_t free0, free1, total;
    CHECK(info(&free0, &total) == CUDA_SUCCESS);
    CUdeviceptr p;
    CHECK(alloc(&p, 64 << 20) == CUDA_SUCCESS);
    CHECK(info(&free1, NULL) == CUDA_SUCCESS);
    CHECK(free0 - free1 == 64 << 20);
    CHECK(mfree(p) == CUDA_SUCCESS);
    unsigned long long b = 0, now = 0;
    CHECK(busy(0, &b, &now) == CUDA_SUCCESS && now > 0);
    printf("ok\n");
    return 0;
}
