/*
 * Shared by the simulators' C tests (tests/c/sim for CUDA/NVML, tests/c/ascend for ACL and the
 * CANN runtime): a CHECK that names the failing line and ends the test, a private simulator
 * state file per test, and elapsed-time helpers.
 */
#ifndef HAMI_SIM_TEST_COMMON_H
#define HAMI_SIM_TEST_COMMON_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hami/clock.h"

#define CHECK(cond)                                                                             \
    do {                                                                                       \
        if (!(cond)) {                                                                         \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);           \
            exit(1);                                                                           \
        }                                                                                      \
    } while (0)

static char sim_test_state_path[512];
static pid_t sim_test_owner;

static void sim_test_cleanup(void)
{
    if (getpid() == sim_test_owner)
        unlink(sim_test_state_path);
}

/* A fresh state file for this test, $TMPDIR/<prefix>-<name>-<pid>.state, named in
 * HAMI_SIM_STATE and removed at exit by the process that made it (not by forked children). */
static inline const char *sim_test_state_file(const char *prefix, const char *name)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(sim_test_state_path, sizeof sim_test_state_path, "%s/%s-%s-%d.state",
             tmp && *tmp ? tmp : "/tmp", prefix, name, (int)getpid());
    unlink(sim_test_state_path);
    setenv("HAMI_SIM_STATE", sim_test_state_path, 1);
    sim_test_owner = getpid();
    atexit(sim_test_cleanup);
    return sim_test_state_path;
}

static inline double ms_since(uint64_t t0_ns) { return (double)(hami_now_ns() - t0_ns) / 1e6; }

#endif
