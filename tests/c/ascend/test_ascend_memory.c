/* Every allocation call of the simulated ACL allocates and frees, capacity OOM is 207001 on
 * each of them (and on rtMalloc called directly), memory info and device info report the
 * device, VMM reserve/physical/map round-trips, bad handles give error codes, the dlopen +
 * dlsym path works, and devices have Ascend identities. */
#include <dlfcn.h>

#include "acl_decls.h"
#include "ascend_test.h"

#define MiB (1ull << 20)

static size_t free_hbm(void)
{
    size_t f = 0, t = 0;
    CHECK_ACL(aclrtGetMemInfo(ACL_HBM_MEM, &f, &t));
    CHECK(t == 64 * MiB);
    return f;
}

typedef aclError (*malloc_fn)(void **, size_t, aclrtMemMallocPolicy);

static aclError with_cfg(void **p, size_t n, aclrtMemMallocPolicy pol)
{
    return aclrtMallocWithCfg(p, n, pol, NULL);
}

int main(void)
{
    asc_test_setup("memory", "64Mi", 2);
    uint32_t count = 0;
    void *p = NULL;
    CHECK(aclrtMalloc(&p, 100, ACL_MEM_MALLOC_HUGE_FIRST) == ACL_ERROR_RT_CONTEXT_NULL);
    CHECK_ACL(aclInit(NULL));
    CHECK(aclInit(NULL) == ACL_ERROR_REPEAT_INITIALIZE);
    CHECK_ACL(aclrtGetDeviceCount(&count));
    CHECK(count == 2);
    CHECK(aclrtSetDevice(2) == ACL_ERROR_RT_INVALID_DEVICEID);
    CHECK_ACL(aclrtSetDevice(0));
    int32_t dev = -1;
    CHECK_ACL(aclrtGetDevice(&dev));
    CHECK(dev == 0);
    CHECK(free_hbm() == 64 * MiB);

    /* sizes: aclrtMalloc rounds up to 32 and adds 32; Align32 only rounds */
    CHECK_ACL(aclrtMalloc(&p, 100, ACL_MEM_MALLOC_HUGE_FIRST));
    CHECK(free_hbm() == 64 * MiB - 160);
    CHECK_ACL(aclrtFree(p));
    CHECK_ACL(aclrtMallocAlign32(&p, 100, ACL_MEM_MALLOC_HUGE_FIRST));
    CHECK(free_hbm() == 64 * MiB - 128);
    CHECK_ACL(aclrtFree(p));
    CHECK(aclrtFree(p) != ACL_SUCCESS);                 /* double free: an error code */
    CHECK(aclrtFree((void *)0x1234) != ACL_SUCCESS);    /* foreign pointer */
    CHECK(aclrtMalloc(&p, 0, ACL_MEM_MALLOC_HUGE_FIRST) == ACL_ERROR_INVALID_PARAM);
    CHECK(free_hbm() == 64 * MiB);

    /* each allocation call: allocate, see it, free, and 207001 past capacity */
    malloc_fn calls[] = {aclrtMalloc, aclrtMallocAlign32, aclrtMallocCached, with_cfg};
    for (unsigned i = 0; i < sizeof calls / sizeof calls[0]; i++) {
        void *a = NULL, *b = NULL;
        CHECK_ACL(calls[i](&a, 40 * MiB, ACL_MEM_MALLOC_HUGE_FIRST));
        CHECK(free_hbm() <= 24 * MiB);
        CHECK(calls[i](&b, 40 * MiB, ACL_MEM_MALLOC_HUGE_FIRST) == ACL_ERROR_RT_MEMORY_ALLOCATION);
        CHECK(aclGetRecentErrMsg() != NULL);
        CHECK_ACL(aclrtFree(a));
        CHECK(free_hbm() == 64 * MiB);
    }
    CHECK_ACL(rtMalloc(&p, 64 * MiB, RT_MEMORY_HBM, 0));
    CHECK(rtMalloc(&p, 1, RT_MEMORY_HBM, 0) == ACL_ERROR_RT_MEMORY_ALLOCATION);
    CHECK_ACL(rtFree(p));

    /* devices are separate: device 1 is untouched by device 0's allocations */
    CHECK_ACL(aclrtMalloc(&p, 32 * MiB, ACL_MEM_MALLOC_HUGE_FIRST));
    CHECK_ACL(aclrtSetDevice(1));
    CHECK(free_hbm() == 64 * MiB);
    CHECK_ACL(aclrtSetDevice(0));
    CHECK_ACL(aclrtFree(p));

    /* memory info: DDR is empty on a 910B; NULL pointers are refused, not written */
    size_t f = 1, t = 1;
    CHECK_ACL(aclrtGetMemInfo(ACL_DDR_MEM, &f, &t));
    CHECK(f == 0 && t == 0);
    CHECK(aclrtGetMemInfo(ACL_HBM_MEM, NULL, &t) == ACL_ERROR_INVALID_PARAM);
    CHECK_ACL(rtMemGetInfoEx(RT_MEMORYINFO_HBM, &f, &t));
    CHECK(t == 64 * MiB && f == 64 * MiB);

    /* device info */
    int64_t v = 0;
    CHECK_ACL(aclrtGetDeviceInfo(0, ACL_DEV_ATTR_TOTAL_GLOBAL_MEM_SIZE, &v));
    CHECK(v == (int64_t)(64 * MiB));
    CHECK_ACL(aclrtGetDeviceInfo(1, ACL_DEV_ATTR_AICORE_CORE_NUM, &v));
    CHECK(v == 24);
    CHECK(aclrtGetDeviceInfo(7, ACL_DEV_ATTR_TOTAL_GLOBAL_MEM_SIZE, &v) != ACL_SUCCESS);
    hamiSimNpuInfo info;
    CHECK_ACL(rtHamiSimDeviceInfo(1, &info));
    CHECK(info.physical == 1 && strncmp(info.uuid, "NPU-", 4) == 0 && strlen(info.uuid) == 40);
    CHECK(strcmp(info.name, "Ascend910B-sim") == 0);
    hami_sim_device_stats st[2];
    char err[128];
    CHECK(hami_sim_read_devices(sim_test_state_path, st, 2, err, sizeof err) == 2);
    CHECK(strcmp(st[1].uuid + 4, info.uuid + 4) != 0); /* distinct from the GPU- form */
    int32_t phy = -1;
    CHECK_ACL(aclrtGetPhyDevIdByLogicDevId(1, &phy));
    CHECK(phy == 1);

    /* host memory */
    void *h = NULL;
    CHECK_ACL(aclrtMallocHost(&h, 4096));
    memset(h, 7, 4096);
    char src[16] = "hello", dst[16] = "";
    CHECK_ACL(aclrtMemcpy(dst, sizeof dst, src, sizeof src, ACL_MEMCPY_HOST_TO_HOST));
    CHECK(strcmp(dst, "hello") == 0);
    CHECK(aclrtMemcpy(dst, 4, src, 16, ACL_MEMCPY_HOST_TO_DEVICE) == ACL_ERROR_INVALID_PARAM);
    CHECK_ACL(aclrtMemset(h, 4096, 0, 4096));
    CHECK(aclrtMemset(h, 16, 0, 4096) == ACL_ERROR_INVALID_PARAM);
    CHECK_ACL(aclrtFreeHost(h));
    CHECK(free_hbm() == 64 * MiB);

    /* VMM: reserve, physical (charged), map, unmap, free, release */
    void *va = NULL;
    aclrtDrvMemHandle ph = NULL, ph2 = NULL;
    aclrtPhysicalMemProp prop;
    memset(&prop, 0, sizeof prop);
    prop.memAttr = ACL_HBM_MEM_HUGE;
    prop.location.type = ACL_MEM_LOCATION_TYPE_DEVICE;
    prop.location.id = 0;
    CHECK_ACL(aclrtReserveMemAddress(&va, 128 * MiB, 0, NULL, 0));
    CHECK(free_hbm() == 64 * MiB);
    CHECK_ACL(aclrtMallocPhysical(&ph, 48 * MiB, &prop, 0));
    CHECK(free_hbm() == 16 * MiB);
    CHECK(aclrtMallocPhysical(&ph2, 48 * MiB, &prop, 0) == ACL_ERROR_RT_MEMORY_ALLOCATION);
    CHECK_ACL(aclrtMapMem(va, 48 * MiB, 0, ph, 0));
    CHECK(aclrtMapMem((char *)va + 100 * MiB, 48 * MiB, 0, ph, 0) != ACL_SUCCESS);
    CHECK_ACL(aclrtUnmapMem(va));
    CHECK(aclrtUnmapMem(va) != ACL_SUCCESS);
    CHECK_ACL(aclrtFreePhysical(ph));
    CHECK(aclrtFreePhysical(ph) == ACL_ERROR_RT_INVALID_HANDLE);
    CHECK_ACL(aclrtReleaseMemAddress(va));
    CHECK(free_hbm() == 64 * MiB);

    /* torch_npu's loader: dlopen("libascendcl.so") + dlsym(handle) */
    void *acl = dlopen("libascendcl.so", RTLD_NOW);
    CHECK(acl);
    aclrtMallocAlign32_fn m32 = (aclrtMallocAlign32_fn)dlsym(acl, "aclrtMallocAlign32");
    aclrtFree_fn fr = (aclrtFree_fn)dlsym(acl, "aclrtFree");
    CHECK(m32 && fr);
    CHECK_ACL(m32(&p, 1000, ACL_MEM_MALLOC_HUGE_FIRST));
    CHECK(free_hbm() == 64 * MiB - 1024);
    CHECK(m32(&p, 64 * MiB, ACL_MEM_MALLOC_HUGE_FIRST) == ACL_ERROR_RT_MEMORY_ALLOCATION);
    CHECK_ACL(fr(p));

    /* contexts */
    aclrtContext ctx = NULL;
    CHECK_ACL(aclrtCreateContext(&ctx, 1));
    CHECK_ACL(aclrtGetDevice(&dev));
    CHECK(dev == 1);
    CHECK_ACL(aclrtDestroyContext(ctx));
    CHECK(aclrtSetCurrentContext(ctx) == ACL_ERROR_RT_INVALID_HANDLE);
    CHECK_ACL(aclrtResetDevice(0));
    CHECK_ACL(aclFinalize());
    printf("ascend memory: ok\n");
    return 0;
}
