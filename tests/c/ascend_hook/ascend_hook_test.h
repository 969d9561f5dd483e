/*
 * Shared helpers of the Ascend interception tests (tests/c/ascend_hook): checks, and readers of
 * the region through the core API, so each test checks what libhami.so charged.  The tests run
 * with LD_PRELOAD=libhami.so, the simulator on LD_LIBRARY_PATH, and their own HAMI_SIM_STATE /
 * HAMI_REGION files (CMake's ENVIRONMENT property).
 */
#ifndef HAMI_ASCEND_HOOK_TEST_H
#define HAMI_ASCEND_HOOK_TEST_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hami/acl_abi.h"
#include "hami/region.h"

#define MiB (1024ull * 1024ull)

static int test_failures;

#define CHECK(cond)                                                                            \
    do {                                                                                       \
        if (!(cond)) {                                                                         \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);           \
            test_failures++;                                                                   \
        }                                                                                      \
    } while (0)

#define CHECK_EQ(a, b)                                                                         \
    do {                                                                                       \
        unsigned long long a_ = (unsigned long long)(a), b_ = (unsigned long long)(b);         \
        if (a_ != b_) {                                                                        \
            fprintf(stderr, "%s:%d: CHECK failed: %s == %s (%llu != %llu)\n", __FILE__,        \
                    __LINE__, #a, #b, a_, b_);                                                 \
            test_failures++;                                                                   \
        }                                                                                      \
    } while (0)

static inline int test_finish(const char *name)
{
    if (test_failures) {
        fprintf(stderr, "%s: %d check(s) failed\n", name, test_failures);
        return 1;
    }
    printf("%s: ok\n", name);
    return 0;
}

/* Remove the files of an earlier run before the first ACL call (the library opens the region
 * lazily, the simulator its state on first use). */
static inline void test_fresh_files(void)
{
    const char *state = getenv("HAMI_SIM_STATE");
    const char *region = getenv("HAMI_REGION");
    if (state)
        unlink(state);
    if (region)
        unlink(region);
}

/* Region entry of the device with this identity: used bytes and limit (0 when absent). */
static inline uint64_t test_region_used(const char *uuid, uint64_t *limit_bytes)
{
    hami_region *r = NULL;
    char err[HAMI_ERR_LEN];
    if (limit_bytes)
        *limit_bytes = 0;
    if (hami_region_open(getenv("HAMI_REGION"), 0, &r, err, sizeof err) != HAMI_OK)
        return 0;
    hami_device_info infos[HAMI_MAX_DEVICES];
    int n = hami_region_devices(r, infos, HAMI_MAX_DEVICES);
    uint64_t used = 0;
    for (int i = 0; i < n; i++) {
        if (strcmp(infos[i].uuid, uuid) == 0 && infos[i].vendor == HAMI_VENDOR_ASCEND) {
            used = infos[i].used_bytes;
            if (limit_bytes)
                *limit_bytes = infos[i].limits.memory_limit_bytes;
        }
    }
    hami_region_close(r);
    return used;
}

#define USED(uuid) test_region_used((uuid), NULL)

#endif
