/*
 * Helpers of the CUDA/NVML interception-library tests (tests/c/hook), over the ones shared with
 * the Ascend tests (../common/hook_test_common.h: checks, fresh files, region reader).  The
 * tests run with LD_PRELOAD=libhami.so, the simulator on LD_LIBRARY_PATH, their own
 * HAMI_SIM_STATE / HAMI_REGION files and HAMI_MEMORY_LIMIT (CMake's ENVIRONMENT property).
 */
#ifndef HAMI_HOOK_TEST_H
#define HAMI_HOOK_TEST_H

#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "../common/hook_test_common.h"
#include "hami/cuda_abi.h"

#define CHECK_CU(call, expected) CHECK_EQ((call), (expected))

static inline void hook_test_uuid_text(const CUuuid *uuid, char *buf, size_t len)
{
    const unsigned char *b = (const unsigned char *)uuid->bytes;
    snprintf(buf, len,
             "GPU-%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0],
             b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13],
             b[14], b[15]);
}

/* Bytes in use on the region device with this UUID (0 when the region or device is absent). */
static inline uint64_t hook_test_region_used(const char *uuid)
{
    hami_device_info dev;
    return test_region_device(uuid, -1, &dev) ? dev.used_bytes : 0;
}

/* Bytes the region attributes to process `pid` on the device with this UUID. */
static inline uint64_t hook_test_region_proc_used(const char *uuid, pid_t pid)
{
    hami_device_info dev;
    if (!test_region_device(uuid, -1, &dev))
        return 0;
    hami_region *r = test_region_open();
    if (!r)
        return 0;
    static hami_process_info procs[HAMI_MAX_PROCS];
    int np = hami_region_processes(r, procs, HAMI_MAX_PROCS);
    uint64_t used = 0;
    for (int i = 0; i < np; i++) {
        if (procs[i].pid == pid && procs[i].alive)
            used += procs[i].used_bytes[dev.slot];
    }
    hami_region_close(r);
    return used;
}

#endif
