/*
 * Helpers shared by the compute-metering tests: CHECK macros that count and name the failing
 * line, and a private region file per test with one CUDA device at a given compute cap.
 */
#ifndef HAMI_COMPUTE_TEST_H
#define HAMI_COMPUTE_TEST_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hami/region.h"

static int ct_failed, ct_passed;

#define CT_CHECK(cond)                                                                          \
    do {                                                                                       \
        if (cond) {                                                                            \
            ct_passed++;                                                                       \
        } else {                                                                               \
            ct_failed++;                                                                       \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);           \
        }                                                                                      \
    } while (0)

/* Must hold for the rest of the test to make sense. */
#define CT_REQUIRE(cond)                                                                        \
    do {                                                                                       \
        if (!(cond)) {                                                                         \
            fprintf(stderr, "%s:%d: REQUIRE failed: %s\n", __FILE__, __LINE__, #cond);         \
            exit(1);                                                                           \
        }                                                                                      \
    } while (0)

static inline int ct_report(const char *name)
{
    printf("%s: %d passed, %d failed\n", name, ct_passed, ct_failed);
    return ct_failed ? 1 : 0;
}

static char ct_region_path[512];
static pid_t ct_region_owner;

static void ct_region_cleanup(void)
{
    if (getpid() == ct_region_owner)
        unlink(ct_region_path);
}

/* A fresh region file for this test (removed at exit), exported as HAMI_REGION. */
static inline hami_region *ct_region_create(const char *name)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(ct_region_path, sizeof ct_region_path, "%s/hami-compute-test-%s-%d.region",
             tmp && *tmp ? tmp : "/tmp", name, (int)getpid());
    unlink(ct_region_path);
    ct_region_owner = getpid();
    atexit(ct_region_cleanup);
    setenv("HAMI_REGION", ct_region_path, 1);
    hami_region *r = NULL;
    char err[HAMI_ERR_LEN];
    if (hami_region_open(ct_region_path, 1, &r, err, sizeof err) != HAMI_OK) {
        fprintf(stderr, "cannot create region %s: %s\n", ct_region_path, err);
        exit(1);
    }
    return r;
}

static inline void ct_set_compute(hami_region *r, int dev_slot, uint32_t pct)
{
    hami_limits lim;
    CT_REQUIRE(hami_region_get_limits(r, dev_slot, &lim) == HAMI_OK);
    lim.compute_limit_pct = pct;
    CT_REQUIRE(hami_region_set_limits(r, dev_slot, &lim) == HAMI_OK);
}

static inline hami_device_info ct_device_info(hami_region *r, int dev_slot)
{
    hami_device_info info[HAMI_MAX_DEVICES];
    int n = hami_region_devices(r, info, HAMI_MAX_DEVICES);
    for (int i = 0; i < n; i++)
        if (info[i].slot == dev_slot)
            return info[i];
    hami_device_info none;
    memset(&none, 0, sizeof none);
    return none;
}

#endif
