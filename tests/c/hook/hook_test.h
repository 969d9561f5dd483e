/*
 * Shared helpers of the interception-library tests (tests/c/hook): checks, the environment
 * the tests run in (set by CMake's ENVIRONMENT property: LD_PRELOAD=libhami.so, the simulator
 * on LD_LIBRARY_PATH, HAMI_SIM_STATE, HAMI_REGION, HAMI_MEMORY_LIMIT), and a reader of the
 * region's usage through the core API, so each test checks what the library charged.
 */
#ifndef HAMI_HOOK_TEST_H
#define HAMI_HOOK_TEST_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hami/cuda_abi.h"
#include "hami/region.h"

static int hook_test_failures;

#define CHECK(cond)                                                                            \
    do {                                                                                       \
        if (!(cond)) {                                                                         \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);           \
            hook_test_failures++;                                                          \
        }                                                                                      \
    } while (0)

#define CHECK_EQ_U64(a, b)                                                                     \
    do {                                                                                       \
        unsigned long long a_ = (unsigned long long)(a), b_ = (unsigned long long)(b);         \
        if (a_ != b_) {                                                                        \
            fprintf(stderr, "%s:%d: CHECK failed: %s == %s (%llu != %llu)\n", __FILE__,        \
                    __LINE__, #a, #b, a_, b_);                                                 \
            hook_test_failures++;                                                          \
        }                                                                                      \
    } while (0)

#define CHECK_CU(call, expected) CHECK_EQ_U64((call), (expected))

static inline int hook_test_finish(const char *name)
{
    if (hook_test_failures) {
        fprintf(stderr, "%s: %d check(s) failed\n", name, hook_test_failures);
        fflush(stderr);
        return 1;
    }
    printf("%s: ok\n", name);
    return 0;
}

/* Start from a fresh simulator state and region: the files of an earlier run are removed
 * before the first CUDA call (the library opens the region lazily). */
static inline void hook_test_fresh_files(void)
{
    const char *state = getenv("HAMI_SIM_STATE");
    const char *region = getenv("HAMI_REGION");
    if (state)
        unlink(state);
    if (region)
        unlink(region);
}

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
    hami_region *r = NULL;
    char err[HAMI_ERR_LEN];
    if (hami_region_open(getenv("HAMI_REGION"), 0, &r, err, sizeof err) != HAMI_OK)
        return 0;
    hami_device_info infos[HAMI_MAX_DEVICES];
    int n = hami_region_devices(r, infos, HAMI_MAX_DEVICES);
    uint64_t used = 0;
    for (int i = 0; i < n; i++) {
        if (strcmp(infos[i].uuid, uuid) == 0)
            used = infos[i].used_bytes;
    }
    hami_region_close(r);
    return used;
}

/* Bytes the region attributes to process `pid` on the device with this UUID. */
static inline uint64_t hook_test_region_proc_used(const char *uuid, pid_t pid)
{
    hami_region *r = NULL;
    char err[HAMI_ERR_LEN];
    if (hami_region_open(getenv("HAMI_REGION"), 0, &r, err, sizeof err) != HAMI_OK)
        return 0;
    hami_device_info infos[HAMI_MAX_DEVICES];
    int n = hami_region_devices(r, infos, HAMI_MAX_DEVICES);
    int slot = -1;
    for (int i = 0; i < n; i++) {
        if (strcmp(infos[i].uuid, uuid) == 0)
            slot = infos[i].slot;
    }
    static hami_process_info procs[HAMI_MAX_PROCS];
    int np = hami_region_processes(r, procs, HAMI_MAX_PROCS);
    uint64_t used = 0;
    for (int i = 0; i < np && slot >= 0; i++) {
        if (procs[i].pid == pid && procs[i].alive)
            used += procs[i].used_bytes[slot];
    }
    hami_region_close(r);
    return used;
}

#endif
