/*
 * Resolution path 1, ACL and the runtime linked directly (the program links the simulator's
 * libascendcl.so and libruntime.so by path).  Every allocation call is counted once and released
 * once, including the ACL -> rt descent (the region holds ACL's size, never twice it); rt* called
 * directly is counted; memory allocated at one layer and freed at the other is released; the cap
 * (64m on device 0, 32m on device 1 through HAMI_MEMORY_LIMIT_1) returns 207001; the memory
 * information calls report the cap (NULL pointers tolerated); VMM physical handles are charged,
 * reservations and mappings are not; the device of an allocation is the thread's current device.
 * Run twice by ctest: with HAMI_MEMORY_LIMIT=64m and with NPU_MEM_QUOTA=64 (MiB).
 */
#include <pthread.h>

#include "ascend_hook_test.h"

#define DECLARE(name) extern __typeof__(*(name##_fn)0) name;
DECLARE(aclInit)
DECLARE(aclrtSetDevice)
DECLARE(aclrtMalloc)
DECLARE(aclrtMallocAlign32)
DECLARE(aclrtMallocCached)
DECLARE(aclrtMallocWithCfg)
DECLARE(aclrtFree)
DECLARE(aclrtMallocHost)
DECLARE(aclrtFreeHost)
DECLARE(aclrtGetMemInfo)
DECLARE(aclrtGetDeviceInfo)
DECLARE(aclrtReserveMemAddress)
DECLARE(aclrtReleaseMemAddress)
DECLARE(aclrtMallocPhysical)
DECLARE(aclrtFreePhysical)
DECLARE(aclrtMapMem)
DECLARE(aclrtUnmapMem)
DECLARE(aclrtCreateStream)
DECLARE(aclrtSynchronizeStream)
DECLARE(aclopExecuteV2)
DECLARE(aclmdlLoadFromMem)
DECLARE(aclmdlExecute)
DECLARE(rtMalloc)
DECLARE(rtFree)
DECLARE(rtMallocPhysical)
DECLARE(rtFreePhysical)
DECLARE(rtMemGetInfoEx)
DECLARE(rtHamiSimDeviceInfo)
aclopAttr *aclopCreateAttr(void);
void aclopDestroyAttr(const aclopAttr *attr);
aclError aclopSetAttrInt(aclopAttr *attr, const char *attrName, int64_t attrValue);

static char uuid0[48], uuid1[48];

static void *device1_thread(void *arg)
{
    (void)arg;
    CHECK_EQ(aclrtSetDevice(1), ACL_SUCCESS);
    void *p = NULL;
    CHECK_EQ(aclrtMalloc(&p, 33 * MiB, ACL_MEM_MALLOC_HUGE_FIRST), ACL_ERROR_RT_MEMORY_ALLOCATION);
    CHECK_EQ(aclrtMalloc(&p, 16 * MiB, ACL_MEM_MALLOC_HUGE_FIRST), ACL_SUCCESS);
    CHECK_EQ(USED(uuid1), 16 * MiB + 32);
    size_t free_bytes = 0, total_bytes = 0;
    CHECK_EQ(aclrtGetMemInfo(ACL_HBM_MEM, &free_bytes, &total_bytes), ACL_SUCCESS);
    CHECK_EQ(total_bytes, 32 * MiB);
    CHECK_EQ(free_bytes, 16 * MiB - 32);
    CHECK_EQ(aclrtFree(p), ACL_SUCCESS);
    CHECK_EQ(USED(uuid1), 0);
    return NULL;
}

int main(void)
{
    test_fresh_files();
    CHECK_EQ(aclInit(NULL), ACL_SUCCESS);
    CHECK_EQ(aclrtSetDevice(0), ACL_SUCCESS);
    hamiSimNpuInfo info;
    CHECK_EQ(rtHamiSimDeviceInfo(0, &info), RT_ERROR_NONE);
    snprintf(uuid0, sizeof uuid0, "%s", info.uuid);
    CHECK_EQ(rtHamiSimDeviceInfo(1, &info), RT_ERROR_NONE);
    snprintf(uuid1, sizeof uuid1, "%s", info.uuid);

    /* each ACL allocation call: ACL's size once (rounded to 32, +32 but for Align32) */
    void *a = NULL, *b = NULL, *c = NULL, *d = NULL;
    CHECK_EQ(aclrtMalloc(&a, 1 * MiB, ACL_MEM_MALLOC_HUGE_FIRST), ACL_SUCCESS);
    CHECK_EQ(USED(uuid0), 1 * MiB + 32);
    CHECK_EQ(aclrtMallocAlign32(&b, 100, ACL_MEM_MALLOC_HUGE_FIRST), ACL_SUCCESS);
    CHECK_EQ(USED(uuid0), 1 * MiB + 32 + 128);
    CHECK_EQ(aclrtMallocCached(&c, 1000, ACL_MEM_MALLOC_HUGE_FIRST), ACL_SUCCESS);
    CHECK_EQ(USED(uuid0), 1 * MiB + 32 + 128 + 1024 + 32);
    CHECK_EQ(aclrtMallocWithCfg(&d, 2 * MiB, ACL_MEM_MALLOC_HUGE_FIRST, NULL), ACL_SUCCESS);
    CHECK_EQ(USED(uuid0), 3 * MiB + 32 + 128 + 1024 + 32 + 32);
    CHECK_EQ(aclrtFree(a), ACL_SUCCESS);
    CHECK_EQ(aclrtFree(b), ACL_SUCCESS);
    CHECK_EQ(aclrtFree(c), ACL_SUCCESS);
    CHECK_EQ(USED(uuid0), 2 * MiB + 32);
    CHECK_EQ(aclrtFree(d), ACL_SUCCESS);
    CHECK_EQ(USED(uuid0), 0);
    CHECK(aclrtFree(d) != ACL_SUCCESS); /* double free: the library refuses, nothing released */
    CHECK_EQ(USED(uuid0), 0);

    /* host memory is not charged */
    void *host = NULL;
    CHECK_EQ(aclrtMallocHost(&host, 8 * MiB), ACL_SUCCESS);
    CHECK_EQ(USED(uuid0), 0);
    CHECK_EQ(aclrtFreeHost(host), ACL_SUCCESS);

    /* the runtime called directly; and cross-layer frees */
    void *r = NULL;
    CHECK_EQ(rtMalloc(&r, 3 * MiB, RT_MEMORY_HBM, 0), RT_ERROR_NONE);
    CHECK_EQ(USED(uuid0), 3 * MiB);
    CHECK_EQ(rtFree(r), RT_ERROR_NONE);
    CHECK_EQ(USED(uuid0), 0);
    CHECK_EQ(aclrtMalloc(&a, 1 * MiB, ACL_MEM_MALLOC_HUGE_FIRST), ACL_SUCCESS);
    CHECK_EQ(rtFree(a), RT_ERROR_NONE);
    CHECK_EQ(rtMalloc(&r, 1 * MiB, RT_MEMORY_HBM, 0), RT_ERROR_NONE);
    CHECK_EQ(aclrtFree(r), ACL_SUCCESS);
    CHECK_EQ(USED(uuid0), 0);

    /* the cap: 64 MiB on device 0, 207001 past it at both layers */
    uint64_t limit = 0;
    CHECK_EQ(aclrtMalloc(&a, 65 * MiB, ACL_MEM_MALLOC_HUGE_FIRST), ACL_ERROR_RT_MEMORY_ALLOCATION);
    CHECK_EQ(aclrtMalloc(&a, 40 * MiB, ACL_MEM_MALLOC_HUGE_FIRST), ACL_SUCCESS);
    CHECK_EQ(test_region_used(uuid0, &limit), 40 * MiB + 32);
    CHECK_EQ(limit, 64 * MiB);
    CHECK_EQ(aclrtMalloc(&b, 24 * MiB, ACL_MEM_MALLOC_HUGE_FIRST), ACL_ERROR_RT_MEMORY_ALLOCATION);
    CHECK_EQ(rtMalloc(&r, 24 * MiB, RT_MEMORY_HBM, 0), ACL_ERROR_RT_MEMORY_ALLOCATION);
    CHECK_EQ(aclrtMallocAlign32(&b, 24 * MiB - 64, ACL_MEM_MALLOC_HUGE_FIRST), ACL_SUCCESS);
    CHECK_EQ(USED(uuid0), 64 * MiB - 32);
    CHECK_EQ(aclrtMallocAlign32(&c, 64, ACL_MEM_MALLOC_HUGE_FIRST), ACL_ERROR_RT_MEMORY_ALLOCATION);
    CHECK_EQ(rtMalloc(&r, 32, RT_MEMORY_HBM, 0), RT_ERROR_NONE);
    CHECK_EQ(USED(uuid0), 64 * MiB);

    /* information: total = cap, free = cap - use; NULL pointers tolerated */
    size_t free_bytes = 1, total_bytes = 1;
    CHECK_EQ(aclrtGetMemInfo(ACL_HBM_MEM, &free_bytes, &total_bytes), ACL_SUCCESS);
    CHECK_EQ(total_bytes, 64 * MiB);
    CHECK_EQ(free_bytes, 0);
    CHECK_EQ(rtFree(r), RT_ERROR_NONE);
    CHECK_EQ(aclrtFree(b), ACL_SUCCESS);
    CHECK_EQ(aclrtGetMemInfo(ACL_HBM_MEM, &free_bytes, &total_bytes), ACL_SUCCESS);
    CHECK_EQ(total_bytes, 64 * MiB);
    CHECK_EQ(free_bytes, 24 * MiB - 32);
    total_bytes = 0;
    CHECK_EQ(aclrtGetMemInfo(ACL_HBM_MEM, NULL, &total_bytes), ACL_SUCCESS);
    CHECK_EQ(total_bytes, 64 * MiB);
    free_bytes = 0;
    CHECK_EQ(aclrtGetMemInfo(ACL_HBM_MEM, &free_bytes, NULL), ACL_SUCCESS);
    CHECK_EQ(free_bytes, 24 * MiB - 32);
    CHECK_EQ(rtMemGetInfoEx(RT_MEMORYINFO_HBM, &free_bytes, &total_bytes), RT_ERROR_NONE);
    CHECK_EQ(total_bytes, 64 * MiB);
    CHECK_EQ(free_bytes, 24 * MiB - 32);
    CHECK_EQ(rtMemGetInfoEx(RT_MEMORYINFO_HBM, NULL, NULL), RT_ERROR_NONE);
    CHECK_EQ(aclrtGetMemInfo(ACL_HBM_MEM_HUGE, &free_bytes, &total_bytes), ACL_SUCCESS);
    CHECK(total_bytes <= 64 * MiB && free_bytes <= 24 * MiB - 32);
    int64_t value = 0;
    CHECK_EQ(aclrtGetDeviceInfo(0, ACL_DEV_ATTR_TOTAL_GLOBAL_MEM_SIZE, &value), ACL_SUCCESS);
    CHECK_EQ(value, 64 * MiB);
    CHECK_EQ(aclrtGetDeviceInfo(1, ACL_DEV_ATTR_TOTAL_GLOBAL_MEM_SIZE, &value), ACL_SUCCESS);
    CHECK_EQ(value, 32 * MiB);
    CHECK(aclrtGetDeviceInfo(0, ACL_DEV_ATTR_TOTAL_GLOBAL_MEM_SIZE, NULL) != ACL_SUCCESS);
    CHECK(aclrtGetDeviceInfo(77, ACL_DEV_ATTR_TOTAL_GLOBAL_MEM_SIZE, &value) != ACL_SUCCESS);
    CHECK_EQ(aclrtFree(a), ACL_SUCCESS);
    CHECK_EQ(USED(uuid0), 0);

    /* VMM: reservations and mappings are not charged, physical handles are (at both layers) */
    void *va = NULL;
    CHECK_EQ(aclrtReserveMemAddress(&va, 256 * MiB, 0, NULL, 0), ACL_SUCCESS);
    CHECK_EQ(USED(uuid0), 0);
    aclrtPhysicalMemProp prop;
    memset(&prop, 0, sizeof prop);
    prop.memAttr = ACL_HBM_MEM_HUGE;
    prop.location.type = ACL_MEM_LOCATION_TYPE_DEVICE;
    prop.location.id = 0;
    aclrtDrvMemHandle h1 = NULL, h2 = NULL;
    CHECK_EQ(aclrtMallocPhysical(&h1, 32 * MiB, &prop, 0), ACL_SUCCESS);
    CHECK_EQ(USED(uuid0), 32 * MiB);
    CHECK_EQ(aclrtMapMem(va, 32 * MiB, 0, h1, 0), ACL_SUCCESS);
    CHECK_EQ(USED(uuid0), 32 * MiB);
    CHECK_EQ(aclrtMallocPhysical(&h2, 34 * MiB, &prop, 0), ACL_ERROR_RT_MEMORY_ALLOCATION);
    rtDrvMemProp_t rt_prop = {.side = 1, .devid = 0};
    rtDrvMemHandle h3 = NULL;
    CHECK_EQ(rtMallocPhysical(&h3, 34 * MiB, &rt_prop, 0), ACL_ERROR_RT_MEMORY_ALLOCATION);
    CHECK_EQ(rtMallocPhysical(&h3, 32 * MiB, &rt_prop, 0), RT_ERROR_NONE);
    CHECK_EQ(USED(uuid0), 64 * MiB);
    CHECK_EQ(rtFreePhysical(h3), RT_ERROR_NONE);
    CHECK_EQ(aclrtUnmapMem(va), ACL_SUCCESS);
    CHECK_EQ(aclrtFreePhysical(h1), ACL_SUCCESS);
    CHECK_EQ(aclrtReleaseMemAddress(va), ACL_SUCCESS);
    CHECK_EQ(USED(uuid0), 0);
    prop.location.id = 1; /* the device in the properties, not the current one */
    CHECK_EQ(aclrtMallocPhysical(&h1, 2 * MiB, &prop, 0), ACL_SUCCESS);
    CHECK_EQ(USED(uuid1), 2 * MiB);
    CHECK_EQ(USED(uuid0), 0);
    CHECK_EQ(aclrtFreePhysical(h1), ACL_SUCCESS);
    CHECK_EQ(USED(uuid1), 0);

    /* per-thread current device: device 1 is capped at 32 MiB */
    pthread_t t;
    pthread_create(&t, NULL, device1_thread, NULL);
    pthread_join(t, NULL);

    /* submissions pass through when no compute cap is configured */
    aclrtStream stream = NULL;
    CHECK_EQ(aclrtCreateStream(&stream), ACL_SUCCESS);
    aclopAttr *attr = aclopCreateAttr();
    CHECK(attr != NULL);
    CHECK_EQ(aclopSetAttrInt(attr, "duration_ns", 1000), ACL_SUCCESS);
    CHECK_EQ(aclopExecuteV2("HamiSimSpin", 0, NULL, NULL, 0, NULL, NULL, attr, stream),
             ACL_SUCCESS);
    CHECK_EQ(aclrtSynchronizeStream(stream), ACL_SUCCESS);
    uint32_t model = 0;
    CHECK_EQ(aclmdlLoadFromMem("model", 5, &model), ACL_SUCCESS);
    CHECK_EQ(aclmdlExecute(model, NULL, NULL), ACL_SUCCESS);
    aclopDestroyAttr(attr);
    return test_finish("test_ascend_hook_direct");
}
