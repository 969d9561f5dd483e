/*
 * Resolution path 1, direct linking: this program is linked against the simulator's
 * libcuda.so.1 and run with libhami.so preloaded and HAMI_MEMORY_LIMIT=64m.  Checks that every
 * allocation kind is charged once and released once (read back from the region through the
 * core API), the cap refuses with CUDA_ERROR_OUT_OF_MEMORY, memory info reports the cap (with
 * NULL pointers tolerated), frees from another thread release, double and foreign frees release
 * nothing, the current context's device is charged, a fork child gets its own slot, and
 * launches pass through.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* dlvsym, RTLD_NEXT */
#endif
#include <dlfcn.h>
#include <pthread.h>
#include <sys/wait.h>

#include "hami/cuda_sizes.h"
#include "hook_test.h"
#include "../../../csrc/cuda/hook_abi_extra.h"

#define DECLARE(name) extern __typeof__(*(name##_fn)0) name;
DECLARE(cuInit)
DECLARE(cuDeviceGet)
DECLARE(cuDeviceGetUuid)
DECLARE(cuDevicePrimaryCtxRetain)
DECLARE(cuCtxSetCurrent)
DECLARE(cuMemAlloc_v2)
DECLARE(cuMemAllocPitch_v2)
DECLARE(cuMemAllocManaged)
DECLARE(cuMemAllocAsync)
DECLARE(cuMemAllocAsync_ptsz)
DECLARE(cuMemAllocFromPoolAsync)
DECLARE(cuMemFreeAsync)
DECLARE(cuMemFree_v2)
DECLARE(cuDeviceGetDefaultMemPool)
DECLARE(cuMemCreate)
DECLARE(cuMemRelease)
DECLARE(cuArrayCreate_v2)
DECLARE(cuArray3DCreate_v2)
DECLARE(cuArrayDestroy)
DECLARE(cuMipmappedArrayCreate)
DECLARE(cuMipmappedArrayDestroy)
DECLARE(cuMemGetInfo_v2)
DECLARE(cuDeviceTotalMem_v2)
DECLARE(cuModuleLoadData)
DECLARE(cuModuleGetFunction)
DECLARE(cuLaunchKernel)
DECLARE(cuGraphLaunch)
DECLARE(cuCtxSynchronize)

#define MiB (1024ull * 1024ull)
#define CAP (64 * MiB)

static char uuid0[64], uuid1[64];
static CUcontext ctx0, ctx1;

static void check_kinds(void)
{
    CUdeviceptr p = 0;
    CHECK_CU(cuMemAlloc_v2(&p, MiB), CUDA_SUCCESS);
    CHECK_EQ(hook_test_region_used(uuid0), MiB);
    CHECK_CU(cuMemFree_v2(p), CUDA_SUCCESS);
    CHECK_EQ(hook_test_region_used(uuid0), 0);

    size_t pitch = 0;
    CHECK_CU(cuMemAllocPitch_v2(&p, &pitch, 1000, 100, 4), CUDA_SUCCESS);
    CHECK_EQ(hook_test_region_used(uuid0), (uint64_t)pitch * 100);
    CHECK_CU(cuMemFree_v2(p), CUDA_SUCCESS);
    CHECK_EQ(hook_test_region_used(uuid0), 0);

    CHECK_CU(cuMemAllocManaged(&p, 4096, CU_MEM_ATTACH_GLOBAL), CUDA_SUCCESS);
    CHECK_EQ(hook_test_region_used(uuid0), 4096);
    CHECK_CU(cuMemFree_v2(p), CUDA_SUCCESS);
    CHECK_EQ(hook_test_region_used(uuid0), 0);

    CHECK_CU(cuMemAllocAsync(&p, 8192, NULL), CUDA_SUCCESS);
    CHECK_EQ(hook_test_region_used(uuid0), 8192);
    CHECK_CU(cuMemFreeAsync(p, NULL), CUDA_SUCCESS);
    CHECK_EQ(hook_test_region_used(uuid0), 0);

    CHECK_CU(cuMemAllocAsync_ptsz(&p, 8192, NULL), CUDA_SUCCESS);
    CHECK_EQ(hook_test_region_used(uuid0), 8192);
    CHECK_CU(cuMemFree_v2(p), CUDA_SUCCESS); /* a synchronous free of async memory */
    CHECK_EQ(hook_test_region_used(uuid0), 0);

    CUmemoryPool pool;
    CHECK_CU(cuDeviceGetDefaultMemPool(&pool, 0), CUDA_SUCCESS);
    CHECK_CU(cuMemAllocFromPoolAsync(&p, 12345, pool, NULL), CUDA_SUCCESS);
    CHECK_EQ(hook_test_region_used(uuid0), 12345);
    CHECK_CU(cuMemFreeAsync(p, NULL), CUDA_SUCCESS);
    CHECK_EQ(hook_test_region_used(uuid0), 0);

    CUmemAllocationProp prop;
    memset(&prop, 0, sizeof prop);
    prop.type = CU_MEM_ALLOCATION_TYPE_PINNED;
    prop.location.type = CU_MEM_LOCATION_TYPE_DEVICE;
    prop.location.id = 0;
    CUmemGenericAllocationHandle handle;
    CHECK_CU(cuMemCreate(&handle, 2 * MiB, &prop, 0), CUDA_SUCCESS);
    CHECK_EQ(hook_test_region_used(uuid0), 2 * MiB);
    CHECK_CU(cuMemRelease(handle), CUDA_SUCCESS);
    CHECK_EQ(hook_test_region_used(uuid0), 0);
    /* the handle's location names the device, not the current context */
    prop.location.id = 1;
    CHECK_CU(cuMemCreate(&handle, 2 * MiB, &prop, 0), CUDA_SUCCESS);
    CHECK_EQ(hook_test_region_used(uuid0), 0);
    CHECK_EQ(hook_test_region_used(uuid1), 2 * MiB);
    CHECK_CU(cuMemRelease(handle), CUDA_SUCCESS);
    CHECK_EQ(hook_test_region_used(uuid1), 0);

    CUDA_ARRAY_DESCRIPTOR desc = {64, 32, CU_AD_FORMAT_FLOAT, 4};
    CUarray array;
    CHECK_CU(cuArrayCreate_v2(&array, &desc), CUDA_SUCCESS);
    CHECK_EQ(hook_test_region_used(uuid0), 64 * 32 * 4 * 4);
    CHECK_CU(cuArrayDestroy(array), CUDA_SUCCESS);
    CHECK_EQ(hook_test_region_used(uuid0), 0);

    CUDA_ARRAY3D_DESCRIPTOR desc3 = {64, 32, 8, CU_AD_FORMAT_UNSIGNED_INT8, 1, 0};
    CHECK_CU(cuArray3DCreate_v2(&array, &desc3), CUDA_SUCCESS);
    CHECK_EQ(hook_test_region_used(uuid0), 64 * 32 * 8);
    CHECK_CU(cuArrayDestroy(array), CUDA_SUCCESS);
    CHECK_EQ(hook_test_region_used(uuid0), 0);

    /* NV12 is 1.5 bytes per element, a fractional total rounded up (63 x 1.5 -> 95) */
    CUDA_ARRAY_DESCRIPTOR nv12 = {64, 32, CU_AD_FORMAT_NV12, 1};
    CHECK_CU(cuArrayCreate_v2(&array, &nv12), CUDA_SUCCESS);
    CHECK_EQ(hook_test_region_used(uuid0), 64 * 32 * 3 / 2);
    CHECK_CU(cuArrayDestroy(array), CUDA_SUCCESS);
    CHECK_EQ(hook_test_region_used(uuid0), 0);
    CUDA_ARRAY_DESCRIPTOR nv12_odd = {63, 1, CU_AD_FORMAT_NV12, 1};
    CHECK_EQ(hami_cuda_array_bytes(&nv12_odd), 95);
    /* A format the header does not know (CUDA 12.8 added 0x51-0x5d) is charged an upper
     * bound, never 0 (0 would let it through uncapped): 16 bytes per element and channel. */
    CUDA_ARRAY_DESCRIPTOR unknown = {64, 32, (CUarray_format)0x52, 2};
    CHECK_CU(cuArrayCreate_v2(&array, &unknown), CUDA_SUCCESS);
    CHECK_EQ(hook_test_region_used(uuid0), 64 * 32 * 2 * 16);
    CHECK_CU(cuArrayDestroy(array), CUDA_SUCCESS);
    CHECK_EQ(hook_test_region_used(uuid0), 0);
    /* and counts against the cap: 2048 x 1024 x 3 x 16 bytes = 96 MiB > 64 MiB */
    CUDA_ARRAY3D_DESCRIPTOR unknown_big = {2048, 1024, 3, (CUarray_format)0x5d, 1, 0};
    CHECK_CU(cuArray3DCreate_v2(&array, &unknown_big), CUDA_ERROR_OUT_OF_MEMORY);
    CHECK_EQ(hook_test_region_used(uuid0), 0);

    CUDA_ARRAY3D_DESCRIPTOR descm = {64, 64, 0, CU_AD_FORMAT_FLOAT, 1, 0};
    CUmipmappedArray mip;
    CHECK_CU(cuMipmappedArrayCreate(&mip, &descm, 3), CUDA_SUCCESS);
    CHECK_EQ(hook_test_region_used(uuid0), hami_cuda_mipmapped_array_bytes(&descm, 3));
    CHECK(hook_test_region_used(uuid0) == (64 * 64 + 32 * 32 + 16 * 16) * 4);
    CHECK_CU(cuMipmappedArrayDestroy(mip), CUDA_SUCCESS);
    CHECK_EQ(hook_test_region_used(uuid0), 0);
}

static void check_cap_and_info(void)
{
    CUdeviceptr big = 0, more = 0;
    CHECK_CU(cuMemAlloc_v2(&big, 60 * MiB), CUDA_SUCCESS);
    CHECK_CU(cuMemAlloc_v2(&more, 5 * MiB), CUDA_ERROR_OUT_OF_MEMORY);
    CHECK_CU(cuMemAlloc_v2(&more, 4 * MiB), CUDA_SUCCESS); /* exactly up to the cap */
    CHECK_EQ(hook_test_region_used(uuid0), CAP);
    CUdeviceptr one = 0;
    CHECK_CU(cuMemAlloc_v2(&one, 1), CUDA_ERROR_OUT_OF_MEMORY);
    CHECK_CU(cuMemFree_v2(more), CUDA_SUCCESS);

    size_t free_bytes = 0, total_bytes = 0;
    CHECK_CU(cuMemGetInfo_v2(&free_bytes, &total_bytes), CUDA_SUCCESS);
    CHECK_EQ(total_bytes, CAP);
    CHECK_EQ(free_bytes, 4 * MiB);
    total_bytes = 0;
    CHECK_CU(cuMemGetInfo_v2(NULL, &total_bytes), CUDA_SUCCESS); /* OptiX passes NULL */
    CHECK_EQ(total_bytes, CAP);
    CHECK_CU(cuMemGetInfo_v2(&free_bytes, NULL), CUDA_SUCCESS);
    CHECK_EQ(free_bytes, 4 * MiB);
    CHECK_CU(cuMemGetInfo_v2(NULL, NULL), CUDA_SUCCESS);
    /* A NULL gets the driver's own answer, whatever it is: the simulator's function itself
     * (looked up with glibc's dlsym, found with dlvsym: the library overrides dlsym, not
     * dlvsym) answers every NULL combination with the same code as the hooked one. */
    typedef void *(*dlsym_fn)(void *, const char *);
    dlsym_fn glibc_dlsym = (dlsym_fn)dlvsym(RTLD_NEXT, "dlsym", "GLIBC_2.34");
    if (!glibc_dlsym)
        glibc_dlsym = (dlsym_fn)dlvsym(RTLD_NEXT, "dlsym", "GLIBC_2.2.5");
    if (!glibc_dlsym)
        glibc_dlsym = (dlsym_fn)dlvsym(RTLD_NEXT, "dlsym", "GLIBC_2.17");
    void *sim = dlopen("libcuda.so.1", RTLD_NOW | RTLD_NOLOAD);
    cuMemGetInfo_v2_fn sim_info =
        sim && glibc_dlsym ? (cuMemGetInfo_v2_fn)glibc_dlsym(sim, "cuMemGetInfo_v2") : NULL;
    CHECK(sim_info != NULL && sim_info != cuMemGetInfo_v2);
    if (sim_info && sim_info != cuMemGetInfo_v2) {
        size_t f = 0, t = 0;
        CHECK_CU(cuMemGetInfo_v2(NULL, NULL), sim_info(NULL, NULL));
        CHECK_CU(cuMemGetInfo_v2(NULL, &t), sim_info(NULL, &t));
        CHECK_CU(cuMemGetInfo_v2(&f, NULL), sim_info(&f, NULL));
        /* the hooked answer for the pointer given stays virtualised */
        CHECK_CU(cuMemGetInfo_v2(NULL, &t), CUDA_SUCCESS);
        CHECK_EQ(t, CAP);
    }
    if (sim)
        dlclose(sim);
    size_t dev_total = 0;
    CHECK_CU(cuDeviceTotalMem_v2(&dev_total, 0), CUDA_SUCCESS);
    CHECK_EQ(dev_total, CAP);

    /* pitch and array allocations meet the same cap */
    size_t pitch;
    CUdeviceptr p;
    CHECK_CU(cuMemAllocPitch_v2(&p, &pitch, 4096, 2048, 4), CUDA_ERROR_OUT_OF_MEMORY);
    CUDA_ARRAY_DESCRIPTOR desc = {2048, 1024, CU_AD_FORMAT_FLOAT, 4}; /* 32 MiB */
    CUarray array;
    CHECK_CU(cuArrayCreate_v2(&array, &desc), CUDA_ERROR_OUT_OF_MEMORY);
    CHECK_CU(cuMemFree_v2(big), CUDA_SUCCESS);
    CHECK_EQ(hook_test_region_used(uuid0), 0);
}

static void check_bad_frees(void)
{
    CUdeviceptr p = 0;
    CHECK_CU(cuMemAlloc_v2(&p, MiB), CUDA_SUCCESS);
    CHECK(cuMemFree_v2((CUdeviceptr)0x7777000000ull) != CUDA_SUCCESS); /* foreign */
    CHECK_EQ(hook_test_region_used(uuid0), MiB);
    CHECK_CU(cuMemFree_v2(p), CUDA_SUCCESS);
    CHECK(cuMemFree_v2(p) != CUDA_SUCCESS); /* double free */
    CHECK_EQ(hook_test_region_used(uuid0), 0);
    /* a failed driver call rolls the reservation back */
    CHECK(cuMemAllocPitch_v2(&p, NULL, 16, 16, 4) != CUDA_SUCCESS);
    CHECK_EQ(hook_test_region_used(uuid0), 0);
}

#define THREAD_ALLOCS 64
static CUdeviceptr shared_ptrs[THREAD_ALLOCS];

static void *alloc_thread(void *arg)
{
    (void)arg;
    cuCtxSetCurrent(ctx0);
    for (int i = 0; i < THREAD_ALLOCS; i++)
        CHECK_CU(cuMemAlloc_v2(&shared_ptrs[i], 4096 + (size_t)i), CUDA_SUCCESS);
    return NULL;
}

static void *free_thread(void *arg)
{
    (void)arg;
    cuCtxSetCurrent(ctx1); /* a free needs no particular current device */
    for (int i = 0; i < THREAD_ALLOCS; i++)
        CHECK_CU(cuMemFree_v2(shared_ptrs[i]), CUDA_SUCCESS);
    return NULL;
}

static void check_cross_thread_and_devices(void)
{
    pthread_t t;
    pthread_create(&t, NULL, alloc_thread, NULL);
    pthread_join(t, NULL);
    CHECK_EQ(hook_test_region_used(uuid0), THREAD_ALLOCS * 4096ull +
                                                   THREAD_ALLOCS * (THREAD_ALLOCS - 1) / 2);
    pthread_create(&t, NULL, free_thread, NULL);
    pthread_join(t, NULL);
    CHECK_EQ(hook_test_region_used(uuid0), 0);

    /* the current context's device is charged */
    CHECK_CU(cuCtxSetCurrent(ctx1), CUDA_SUCCESS);
    CUdeviceptr p;
    CHECK_CU(cuMemAlloc_v2(&p, 3 * MiB), CUDA_SUCCESS);
    CHECK_EQ(hook_test_region_used(uuid1), 3 * MiB);
    CHECK_EQ(hook_test_region_used(uuid0), 0);
    CHECK_CU(cuMemFree_v2(p), CUDA_SUCCESS);
    CHECK_EQ(hook_test_region_used(uuid1), 0);
    CHECK_CU(cuCtxSetCurrent(ctx0), CUDA_SUCCESS);
}

static void check_fork(void)
{
    CUdeviceptr parent_ptr;
    CHECK_CU(cuMemAlloc_v2(&parent_ptr, 3 * MiB), CUDA_SUCCESS);
    pid_t parent = getpid();
    pid_t child = fork();
    if (child == 0) {
        int failures = 0;
        CUdeviceptr p;
        cuCtxSetCurrent(ctx0);
        if (cuMemAlloc_v2(&p, MiB) != CUDA_SUCCESS)
            failures++;
        if (hook_test_region_proc_used(uuid0, getpid()) != MiB)
            failures += 10;
        if (hook_test_region_proc_used(uuid0, parent) != 3 * MiB)
            failures += 100;
        if (hook_test_region_used(uuid0) != 4 * MiB)
            failures += 1000;
        /* the parent's pointer is not in the child's table: freeing it releases nothing */
        cuMemFree_v2(parent_ptr);
        if (hook_test_region_used(uuid0) != 4 * MiB)
            failures += 10000;
        if (failures)
            fprintf(stderr, "fork child failures code %d\n", failures);
        _exit(failures ? 1 : 0); /* no exit handlers: its bytes are reclaimed as a dead pid's */
    }
    int status = 0;
    waitpid(child, &status, 0);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    hami_region *r;
    char err[HAMI_ERR_LEN];
    CHECK_CU(hami_region_open(getenv("HAMI_REGION"), 0, &r, err, sizeof err), HAMI_OK);
    hami_region_reclaim_dead(r);
    hami_region_close(r);
    CHECK_EQ(hook_test_region_used(uuid0), 3 * MiB);
    CHECK_EQ(hook_test_region_proc_used(uuid0, parent), 3 * MiB);
    CHECK_CU(cuMemFree_v2(parent_ptr), CUDA_SUCCESS);
    CHECK_EQ(hook_test_region_used(uuid0), 0);
}

static void check_launch(void)
{
    CUmodule module;
    CUfunction spin;
    CHECK_CU(cuModuleLoadData(&module, "any image"), CUDA_SUCCESS);
    CHECK_CU(cuModuleGetFunction(&spin, module, "hami_sim_spin"), CUDA_SUCCESS);
    unsigned long long ns = 1000;
    void *params[] = {&ns};
    for (int i = 0; i < 10; i++)
        CHECK_CU(cuLaunchKernel(spin, 1, 1, 1, 32, 1, 1, 0, NULL, params, NULL), CUDA_SUCCESS);
    CHECK_CU(cuCtxSynchronize(), CUDA_SUCCESS);
}

int main(void)
{
    test_fresh_files();
    CHECK_CU(cuInit(0), CUDA_SUCCESS);
    CUdevice dev0, dev1;
    CHECK_CU(cuDeviceGet(&dev0, 0), CUDA_SUCCESS);
    CHECK_CU(cuDeviceGet(&dev1, 1), CUDA_SUCCESS);
    CUuuid u;
    cuDeviceGetUuid(&u, dev0);
    hook_test_uuid_text(&u, uuid0, sizeof uuid0);
    cuDeviceGetUuid(&u, dev1);
    hook_test_uuid_text(&u, uuid1, sizeof uuid1);
    CHECK_CU(cuDevicePrimaryCtxRetain(&ctx0, dev0), CUDA_SUCCESS);
    CHECK_CU(cuDevicePrimaryCtxRetain(&ctx1, dev1), CUDA_SUCCESS);
    CHECK_CU(cuCtxSetCurrent(ctx0), CUDA_SUCCESS);

    check_kinds();
    check_cap_and_info();
    check_bad_frees();
    check_cross_thread_and_devices();
    check_fork();
    check_launch();
    return test_finish("test_hook_direct");
}
