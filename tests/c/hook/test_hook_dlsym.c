/*
 * Resolution path 2, dlopen("libcuda.so.1") + dlsym(handle): the program does not link the
 * driver.  Hooked names come back as libhami.so's wrappers (and enforce the 64m cap; the
 * simulated card has far more), unhooked names come back as the driver's own functions,
 * unknown names fail as without the library, and RTLD_DEFAULT finds the preloaded wrapper.
 */
#include <dlfcn.h>

#include "hook_test.h"

#define MiB (1024ull * 1024ull)

static int from_libhami(void *fn)
{
    Dl_info info;
    return fn && dladdr(fn, &info) && info.dli_fname && strstr(info.dli_fname, "libhami.so");
}

static int from_libcuda(void *fn)
{
    Dl_info info;
    return fn && dladdr(fn, &info) && info.dli_fname && strstr(info.dli_fname, "libcuda.so");
}

int main(void)
{
    test_fresh_files();
    void *h = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
    CHECK(h != NULL);
    if (!h)
        return test_finish("test_hook_dlsym");
#define LOOKUP(name) name##_fn name = (name##_fn)dlsym(h, #name)
    LOOKUP(cuInit);
    LOOKUP(cuDeviceGet);
    LOOKUP(cuDeviceGetUuid);
    LOOKUP(cuDevicePrimaryCtxRetain);
    LOOKUP(cuCtxSetCurrent);
    LOOKUP(cuMemAlloc_v2);
    LOOKUP(cuMemFree_v2);
    LOOKUP(cuMemGetInfo_v2);
    LOOKUP(cuCtxGetDevice);
    cuMemAllocAsync_fn cuMemAllocAsync_ptsz = (cuMemAllocAsync_fn)dlsym(h, "cuMemAllocAsync_ptsz");
    CHECK(from_libhami((void *)cuMemAlloc_v2));
    CHECK(from_libhami((void *)cuMemFree_v2));
    CHECK(from_libhami((void *)cuMemGetInfo_v2));
    CHECK(from_libhami((void *)cuMemAllocAsync_ptsz));
    CHECK(from_libcuda((void *)cuCtxGetDevice)); /* not hooked: the driver's own */
    CHECK(from_libcuda((void *)cuInit));
    CHECK(dlsym(h, "cuNoSuchFunction") == NULL);
    CHECK(dlerror() != NULL);
    CHECK(from_libhami(dlsym(RTLD_DEFAULT, "cuMemAlloc_v2")));

    CUdevice dev;
    CUcontext ctx;
    CUuuid u;
    char uuid[64];
    CHECK_CU(cuInit(0), CUDA_SUCCESS);
    CHECK_CU(cuDeviceGet(&dev, 0), CUDA_SUCCESS);
    cuDeviceGetUuid(&u, dev);
    hook_test_uuid_text(&u, uuid, sizeof uuid);
    CHECK_CU(cuDevicePrimaryCtxRetain(&ctx, dev), CUDA_SUCCESS);
    CHECK_CU(cuCtxSetCurrent(ctx), CUDA_SUCCESS);
    CUdeviceptr p, q;
    CHECK_CU(cuMemAlloc_v2(&p, 65 * MiB), CUDA_ERROR_OUT_OF_MEMORY);
    CHECK_CU(cuMemAlloc_v2(&p, 40 * MiB), CUDA_SUCCESS);
    CHECK_CU(cuMemAlloc_v2(&q, 30 * MiB), CUDA_ERROR_OUT_OF_MEMORY);
    CHECK_EQ(hook_test_region_used(uuid), 40 * MiB);
    size_t free_bytes = 0, total_bytes = 0;
    CHECK_CU(cuMemGetInfo_v2(&free_bytes, &total_bytes), CUDA_SUCCESS);
    CHECK_EQ(total_bytes, 64 * MiB);
    CHECK_EQ(free_bytes, 24 * MiB);
    CHECK_CU(cuMemFree_v2(p), CUDA_SUCCESS);
    CHECK_EQ(hook_test_region_used(uuid), 0);
    return test_finish("test_hook_dlsym");
}
