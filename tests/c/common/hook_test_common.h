/*
 * Shared by the interception-library tests (tests/c/hook for CUDA/NVML, tests/c/ascend_hook for
 * Ascend): counting checks (a failed check is reported and the test goes on), the result line,
 * a fresh start for the simulator state and region files named in the environment (CMake's
 * ENVIRONMENT property, tests/c/common/preload_tests.cmake), and a reader of the region's
 * devices through the core API, so each test checks what libhami.so charged.
 */
#ifndef HAMI_HOOK_TEST_COMMON_H
#define HAMI_HOOK_TEST_COMMON_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hami/region.h"

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

/* "<name>: ok" and 0, or the number of failed checks on stderr and 1. */
static inline int test_finish(const char *name)
{
    if (test_failures) {
        fprintf(stderr, "%s: %d check(s) failed\n", name, test_failures);
        fflush(stderr);
        return 1;
    }
    printf("%s: ok\n", name);
    return 0;
}

/* Remove the files of an earlier run before the first driver call (the library opens the
 * region lazily, the simulator its state on first use). */
static inline void test_fresh_files(void)
{
    const char *state = getenv("HAMI_SIM_STATE");
    const char *region = getenv("HAMI_REGION");
    if (state)
        unlink(state);
    if (region)
        unlink(region);
}

/* The region named by $HAMI_REGION (hami_region_close it), or NULL when it cannot be opened. */
static inline hami_region *test_region_open(void)
{
    hami_region *r = NULL;
    char err[HAMI_ERR_LEN];
    if (hami_region_open(getenv("HAMI_REGION"), 0, &r, err, sizeof err) != HAMI_OK)
        return NULL;
    return r;
}

/* The region entry of the device with identity `uuid` and vendor `vendor` (any vendor when
 * < 0; the last match wins), copied to *out.  Returns 0 when the region or the device is
 * absent. */
static inline int test_region_device(const char *uuid, int vendor, hami_device_info *out)
{
    hami_region *r = test_region_open();
    if (!r)
        return 0;
    hami_device_info infos[HAMI_MAX_DEVICES];
    int n = hami_region_devices(r, infos, HAMI_MAX_DEVICES);
    int found = 0;
    for (int i = 0; i < n; i++) {
        if (strcmp(infos[i].uuid, uuid) == 0 && (vendor < 0 || infos[i].vendor == vendor)) {
            *out = infos[i];
            found = 1;
        }
    }
    hami_region_close(r);
    return found;
}

#endif
