/*
 * Helpers shared by the simulated Ascend libraries' C tests: a private state file per test
 * (HAMI_SIM_STATE, ascend vendor on), CHECK macros that name the failing line, and ground
 * truth busy time read from the engine's state file.
 */
#ifndef HAMI_ASCEND_TEST_H
#define HAMI_ASCEND_TEST_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hami/acl_abi.h"
#include "hami/clock.h"
#include "hami/sim.h"

#define CHECK(cond)                                                                             \
    do {                                                                                       \
        if (!(cond)) {                                                                         \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);           \
            exit(1);                                                                           \
        }                                                                                      \
    } while (0)

#define CHECK_ACL(call)                                                                         \
    do {                                                                                       \
        int r_ = (int)(call);                                                                  \
        if (r_ != 0) {                                                                         \
            fprintf(stderr, "%s:%d: %s returned %d\n", __FILE__, __LINE__, #call, r_);         \
            exit(1);                                                                           \
        }                                                                                      \
    } while (0)

static char asc_test_state_path[512];
static pid_t asc_test_owner;

static void asc_test_cleanup(void)
{
    if (getpid() == asc_test_owner)
        unlink(asc_test_state_path);
}

/* A fresh state for this test with `devices` NPUs of `memory` each (e.g. "1Gi"). */
static inline void asc_test_setup(const char *name, const char *memory, int devices)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(asc_test_state_path, sizeof asc_test_state_path, "%s/hami-asc-test-%s-%d.state",
             tmp && *tmp ? tmp : "/tmp", name, (int)getpid());
    unlink(asc_test_state_path);
    setenv("HAMI_SIM_STATE", asc_test_state_path, 1);
    uint64_t bytes = 0;
    CHECK(sscanf(memory, "%llu", (unsigned long long *)&bytes) == 1);
    if (strstr(memory, "Gi"))
        bytes <<= 30;
    else if (strstr(memory, "Mi"))
        bytes <<= 20;
    hami_sim_config cfg = {(uint32_t)devices, bytes, 24, 10000, 2};
    char err[256];
    CHECK(hami_sim_create(asc_test_state_path, &cfg, err, sizeof err) == 0);
    unsetenv("ASCEND_VISIBLE_DEVICES");
    unsetenv("ASCEND_RT_VISIBLE_DEVICES");
    asc_test_owner = getpid();
    atexit(asc_test_cleanup);
}

static inline double ms_since(uint64_t t0_ns) { return (double)(hami_now_ns() - t0_ns) / 1e6; }

/* Ground truth: device time completed on physical device `dev` so far, in ms. */
static inline double busy_ms(int dev)
{
    hami_sim_device_stats st[HAMI_SIM_MAX_DEVICES];
    char err[256];
    int n = hami_sim_read_devices(asc_test_state_path, st, HAMI_SIM_MAX_DEVICES, err, sizeof err);
    CHECK(n > dev);
    return (double)st[dev].busy_ns / 1e6;
}

#endif
