/*
 * Helpers of the Ascend interception tests (tests/c/ascend_hook), over the ones shared with the
 * CUDA tests (../common/hook_test_common.h: checks, fresh files, region reader).  The tests run
 * with LD_PRELOAD=libhami.so, the simulator on LD_LIBRARY_PATH, and their own HAMI_SIM_STATE /
 * HAMI_REGION files (CMake's ENVIRONMENT property).
 */
#ifndef HAMI_ASCEND_HOOK_TEST_H
#define HAMI_ASCEND_HOOK_TEST_H

#include <stdint.h>

#include "../common/hook_test_common.h"
#include "hami/acl_abi.h"

#define MiB (1024ull * 1024ull)

/* Region entry of the Ascend device with this identity: used bytes and limit (0 when absent). */
static inline uint64_t test_region_used(const char *uuid, uint64_t *limit_bytes)
{
    hami_device_info dev;
    int found = test_region_device(uuid, HAMI_VENDOR_ASCEND, &dev);
    if (limit_bytes)
        *limit_bytes = found ? dev.limits.memory_limit_bytes : 0;
    return found ? dev.used_bytes : 0;
}

#define USED(uuid) test_region_used((uuid), NULL)

#endif
