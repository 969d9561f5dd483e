/*
 * Helpers shared by the simulated Ascend libraries' C tests, over ../common/sim_test_common.h
 * (CHECK, a private state file per test in HAMI_SIM_STATE, ms_since): CHECK_ACL, the state
 * created with the ascend vendor on, and ground truth busy time read from the engine's state
 * file.
 */
#ifndef HAMI_ASCEND_TEST_H
#define HAMI_ASCEND_TEST_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/sim_test_common.h"
#include "hami/acl_abi.h"
#include "hami/sim.h"

#define CHECK_ACL(call)                                                                         \
    do {                                                                                       \
        int r_ = (int)(call);                                                                  \
        if (r_ != 0) {                                                                         \
            fprintf(stderr, "%s:%d: %s returned %d\n", __FILE__, __LINE__, #call, r_);         \
            exit(1);                                                                           \
        }                                                                                      \
    } while (0)

/* A fresh state for this test with `devices` NPUs of `memory` each (e.g. "1Gi"). */
static inline void asc_test_setup(const char *name, const char *memory, int devices)
{
    const char *path = sim_test_state_file("hami-asc-test", name);
    uint64_t bytes = 0;
    CHECK(sscanf(memory, "%llu", (unsigned long long *)&bytes) == 1);
    if (strstr(memory, "Gi"))
        bytes <<= 30;
    else if (strstr(memory, "Mi"))
        bytes <<= 20;
    hami_sim_config cfg = {(uint32_t)devices, bytes, 24, 10000, 2};
    char err[256];
    CHECK(hami_sim_create(path, &cfg, err, sizeof err) == 0);
    unsetenv("ASCEND_VISIBLE_DEVICES");
    unsetenv("ASCEND_RT_VISIBLE_DEVICES");
}

/* Ground truth: device time completed on physical device `dev` so far, in ms. */
static inline double busy_ms(int dev)
{
    hami_sim_device_stats st[HAMI_SIM_MAX_DEVICES];
    char err[256];
    int n = hami_sim_read_devices(sim_test_state_path, st, HAMI_SIM_MAX_DEVICES, err, sizeof err);
    CHECK(n > dev);
    return (double)st[dev].busy_ns / 1e6;
}

#endif
