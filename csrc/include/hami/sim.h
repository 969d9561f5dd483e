/*
 * Public C API of the virtual-device engine behind the simulated vendor libraries
 * (csrc/sim/engine.c).  The engine state lives in one shared-memory file so that every process
 * of a `hami-core sim` session sees the same devices and competes for their memory and time.
 *
 * Environment (set by `hami-core sim`, read by the simulated libraries):
 *   HAMI_SIM_STATE     path of the state file; created on first use if absent
 *   HAMI_SIM_DEVICES   number of devices when the state is created (default 2, 1..16)
 *   HAMI_SIM_MEMORY    memory per device, size grammar of hami_parse_size (default 16Gi)
 *   HAMI_SIM_SMS       SMs (or AI cores) per device (default 108)
 *   HAMI_SIM_BLOCK_NS  duration of one wave of blocks for ordinary kernels (default 10000)
 * The Python side creates a fresh state through hami_sim_create before exec'ing the command.
 */
#ifndef HAMI_SIM_H
#define HAMI_SIM_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

#define HAMI_SIM_MAX_DEVICES 16
#define HAMI_SIM_MAX_PROCS 1024

typedef struct hami_sim_config {
    uint32_t devices;        /* 1..HAMI_SIM_MAX_DEVICES */
    uint64_t memory_bytes;   /* per device */
    uint32_t sms;            /* per device */
    uint64_t block_ns;       /* one wave of blocks */
    uint32_t vendors;        /* bit mask: 1 = cuda, 2 = ascend (both share the engine) */
} hami_sim_config;

/* Create a fresh state file at `path` (replacing any old one atomically). 0 or -1 with err. */
int hami_sim_create(const char *path, const hami_sim_config *cfg, char *err, size_t errlen);

typedef struct hami_sim_device_stats {
    char uuid[64];
    char name[64];
    uint64_t total_bytes;
    uint64_t used_bytes;      /* all processes, live ones only after reclaim */
    uint32_t sms;
    uint64_t busy_ns;         /* device time completed up to now_ns (ground truth) */
    uint64_t now_ns;          /* CLOCK_MONOTONIC at which busy_ns was taken */
} hami_sim_device_stats;

typedef struct hami_sim_process_stats {
    pid_t pid;
    uint32_t device;
    uint64_t used_bytes;
    uint64_t busy_ns;         /* device time of this process's work completed up to now_ns */
    uint64_t now_ns;
} hami_sim_process_stats;

/* Ground truth readers (used by _native, NVML and benchmarks). Return count or -1 with err. */
int hami_sim_read_devices(const char *path, hami_sim_device_stats *out, int max, char *err,
                          size_t errlen);
int hami_sim_read_processes(const char *path, hami_sim_process_stats *out, int max, char *err,
                            size_t errlen);

#ifdef __cplusplus
}
#endif
#endif
