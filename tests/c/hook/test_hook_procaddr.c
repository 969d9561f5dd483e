/*
 * Resolution path 3, cuGetProcAddress / cuGetProcAddress_v2 as libcudart uses them, at
 * cudaVersion 12000 and 13000: hooked names come back as wrappers that enforce the cap; the
 * version the caller asks for is honoured (cuCtxCreate at 12000 is the _v3 ABI, at 13000 the
 * _v4 one: both pass through untouched); unknown symbols and cuGetExportTable pass through.
 */
#include <dlfcn.h>

#include "hook_test.h"

#define MiB (1024ull * 1024ull)

static int from_libhami(void *fn)
{
    Dl_info info;
    return fn && dladdr(fn, &info) && info.dli_fname && strstr(info.dli_fname, "libhami.so");
}

int main(void)
{
    test_fresh_files();
    void *h = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
    CHECK(h != NULL);
    if (!h)
        return test_finish("test_hook_procaddr");
    cuGetProcAddress_v2_fn get_v2 = (cuGetProcAddress_v2_fn)dlsym(h, "cuGetProcAddress_v2");
    cuGetProcAddress_fn get_v1 = (cuGetProcAddress_fn)dlsym(h, "cuGetProcAddress");
    CHECK(from_libhami((void *)get_v2));
    CHECK(from_libhami((void *)get_v1));
    cuInit_fn init = (cuInit_fn)dlsym(h, "cuInit");
    CHECK_CU(init(0), CUDA_SUCCESS);

    CUdriverProcAddressQueryResult status;
    void *fn = NULL;
#define GET(name, version, out)                                                                \
    CHECK_CU(get_v2(name, (void **)&(out), version, 0, &status), CUDA_SUCCESS)

    cuDeviceGet_fn device_get;
    cuDevicePrimaryCtxRetain_fn retain;
    cuCtxSetCurrent_fn set_current;
    cuDeviceGetUuid_fn get_uuid;
    GET("cuDeviceGet", 12000, device_get);
    GET("cuDevicePrimaryCtxRetain", 12000, retain);
    GET("cuCtxSetCurrent", 12000, set_current);
    GET("cuDeviceGetUuid", 12000, get_uuid);
    CUdevice dev;
    CUcontext ctx;
    CUuuid u;
    char uuid[64];
    CHECK_CU(device_get(&dev, 0), CUDA_SUCCESS);
    CHECK_CU(get_uuid(&u, dev), CUDA_SUCCESS);
    hook_test_uuid_text(&u, uuid, sizeof uuid);
    CHECK_CU(retain(&ctx, dev), CUDA_SUCCESS);
    CHECK_CU(set_current(ctx), CUDA_SUCCESS);

    int versions[] = {12000, 13000};
    for (int i = 0; i < 2; i++) {
        cuMemAlloc_v2_fn alloc = NULL;
        cuMemFree_v2_fn mem_free = NULL;
        cuMemGetInfo_v2_fn info = NULL;
        GET("cuMemAlloc", versions[i], alloc);
        GET("cuMemFree", versions[i], mem_free);
        GET("cuMemGetInfo", versions[i], info);
        CHECK(from_libhami((void *)alloc));
        CHECK(from_libhami((void *)mem_free));
        CHECK(from_libhami((void *)info));
        CUdeviceptr p, q;
        CHECK_CU(alloc(&p, 65 * MiB), CUDA_ERROR_OUT_OF_MEMORY);
        CHECK_CU(alloc(&p, 64 * MiB), CUDA_SUCCESS);
        CHECK_CU(alloc(&q, 1), CUDA_ERROR_OUT_OF_MEMORY);
        CHECK_EQ(hook_test_region_used(uuid), 64 * MiB);
        size_t total_bytes = 0;
        CHECK_CU(info(NULL, &total_bytes), CUDA_SUCCESS);
        CHECK_EQ(total_bytes, 64 * MiB);
        CHECK_CU(mem_free(p), CUDA_SUCCESS);
        CHECK_EQ(hook_test_region_used(uuid), 0);
    }

    /* the v1 entry point substitutes too */
    cuMemAlloc_v2_fn alloc_v1path = NULL;
    CHECK_CU(get_v1("cuMemAlloc", (void **)&alloc_v1path, 12000, 0), CUDA_SUCCESS);
    CHECK(from_libhami((void *)alloc_v1path));
    /* per-thread default stream variants */
    CHECK_CU(get_v2("cuMemAllocAsync", &fn, 12000, CU_GET_PROC_ADDRESS_PER_THREAD_DEFAULT_STREAM,
                    &status),
             CUDA_SUCCESS);
    CHECK(from_libhami(fn));
    /* asking for cuGetProcAddress itself returns our wrapper of the variant asked for */
    GET("cuGetProcAddress", 12000, fn);
    CHECK(fn == (void *)get_v2);
    GET("cuGetProcAddress", 11030, fn);
    CHECK(fn == (void *)get_v1);

    /* versions are honoured for pass-through symbols */
    GET("cuCtxCreate", 12000, fn);
    CHECK(fn == dlsym(h, "cuCtxCreate_v3"));
    GET("cuCtxCreate", 13000, fn);
    CHECK(fn == dlsym(h, "cuCtxCreate_v4"));
    /* unknown symbols and the export table pass through */
    fn = (void *)1;
    CHECK_CU(get_v2("cuNoSuchFunction", &fn, 12000, 0, &status), CUDA_ERROR_NOT_FOUND);
    CHECK_EQ(status, CU_GET_PROC_ADDRESS_SYMBOL_NOT_FOUND);
    GET("cuGetExportTable", 12000, fn);
    CHECK(fn == dlsym(h, "cuGetExportTable"));
    return test_finish("test_hook_procaddr");
}
