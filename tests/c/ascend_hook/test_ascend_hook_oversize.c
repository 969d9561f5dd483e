/*
 * Impossible allocation sizes on an UNCAPPED device (no memory limit in the environment): an
 * ACL request whose 32-byte rounding overflows (SIZE_MAX - 8), and a runtime / physical request
 * larger than the card, are refused with ACL_ERROR_RT_MEMORY_ALLOCATION (207001) at once and
 * charge nothing.  Before, the wrapper charged UINT64_MAX (which an uncapped device with nothing
 * in use accepts) for the duration of the real call -- every other allocation on the device in
 * the container failed meanwhile -- and returned the library's own code (100000 / 107000).
 */
#include <string.h>

#include "ascend_hook_test.h"

#define DECLARE(name) extern __typeof__(*(name##_fn)0) name;
DECLARE(aclInit)
DECLARE(aclrtSetDevice)
DECLARE(aclrtMalloc)
DECLARE(aclrtMallocAlign32)
DECLARE(aclrtMallocCached)
DECLARE(aclrtMallocWithCfg)
DECLARE(aclrtFree)
DECLARE(aclrtMallocPhysical)
DECLARE(rtMalloc)
DECLARE(rtMallocPhysical)
DECLARE(rtHamiSimDeviceInfo)

int main(void)
{
    test_fresh_files();
    CHECK_EQ(aclInit(NULL), ACL_SUCCESS);
    CHECK_EQ(aclrtSetDevice(0), ACL_SUCCESS);
    hamiSimNpuInfo info;
    CHECK_EQ(rtHamiSimDeviceInfo(0, &info), RT_ERROR_NONE);
    char uuid0[48];
    snprintf(uuid0, sizeof uuid0, "%s", info.uuid);
    CHECK(info.total_bytes > 0);

    /* a first allocation registers the device; it is uncapped */
    void *a = NULL;
    CHECK_EQ(aclrtMalloc(&a, 1 * MiB, ACL_MEM_MALLOC_HUGE_FIRST), ACL_SUCCESS);
    uint64_t limit = 1;
    CHECK_EQ(test_region_used(uuid0, &limit), 1 * MiB + 32);
    CHECK_EQ(limit, 0);
    CHECK_EQ(aclrtFree(a), ACL_SUCCESS);
    CHECK_EQ(USED(uuid0), 0);

    /* the rounding of SIZE_MAX - 8 to 32 (+32) overflows: 207001, nothing charged */
    void *p = NULL;
    const size_t huge = SIZE_MAX - 8;
    CHECK_EQ(aclrtMalloc(&p, huge, ACL_MEM_MALLOC_HUGE_FIRST), ACL_ERROR_RT_MEMORY_ALLOCATION);
    CHECK_EQ(aclrtMallocCached(&p, huge, ACL_MEM_MALLOC_HUGE_FIRST), ACL_ERROR_RT_MEMORY_ALLOCATION);
    CHECK_EQ(aclrtMallocAlign32(&p, huge, ACL_MEM_MALLOC_HUGE_FIRST), ACL_ERROR_RT_MEMORY_ALLOCATION);
    CHECK_EQ(aclrtMallocWithCfg(&p, huge, ACL_MEM_MALLOC_HUGE_FIRST, NULL),
             ACL_ERROR_RT_MEMORY_ALLOCATION);
    CHECK_EQ(USED(uuid0), 0);

    /* larger than the card, at the runtime layer and for physical memory: 207001 */
    CHECK_EQ(rtMalloc(&p, 1ull << 60, 0, 0), ACL_ERROR_RT_MEMORY_ALLOCATION);
    CHECK_EQ(rtMalloc(&p, info.total_bytes + 1, 0, 0), ACL_ERROR_RT_MEMORY_ALLOCATION);
    rtDrvMemProp_t rt_prop = {.side = 1, .devid = 0};
    rtDrvMemHandle h = NULL;
    CHECK_EQ(rtMallocPhysical(&h, (size_t)info.total_bytes + 1, &rt_prop, 0),
             ACL_ERROR_RT_MEMORY_ALLOCATION);
    aclrtPhysicalMemProp prop;
    memset(&prop, 0, sizeof prop);
    prop.memAttr = ACL_HBM_MEM_HUGE;
    prop.location.type = ACL_MEM_LOCATION_TYPE_DEVICE;
    prop.location.id = 0;
    aclrtDrvMemHandle ah = NULL;
    CHECK_EQ(aclrtMallocPhysical(&ah, huge, &prop, 0), ACL_ERROR_RT_MEMORY_ALLOCATION);
    CHECK_EQ(USED(uuid0), 0);

    /* ordinary allocations are unaffected */
    CHECK_EQ(rtMalloc(&p, 4 * MiB, 0, 0), RT_ERROR_NONE);
    CHECK_EQ(USED(uuid0), 4 * MiB);
    CHECK_EQ(aclrtFree(p), ACL_SUCCESS);
    CHECK_EQ(USED(uuid0), 0);
    return test_finish("test_ascend_hook_oversize");
}
