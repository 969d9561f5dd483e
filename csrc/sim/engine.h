/*
 * Private interface of the virtual-device engine (engine.c) for the simulated vendor libraries
 * in csrc/sim.  The engine owns the shared state file: its layout, creation and validation,
 * per-device memory accounting, per-process slots (and reclaiming the slots of dead processes)
 * and the device-time model.  It knows nothing about CUDA or NVML.
 *
 * Time model (DESIGN 3.5): no worker threads.  Each device has an atomic busy_until_ns; work of
 * duration d submitted at `now` behind `not_before_ns` (its stream's tail) occupies
 * [start, start + d) with start = max(now, not_before_ns, busy_until_ns), reserved by a CAS of
 * busy_until_ns, so a device runs one piece of work at a time, FIFO across processes.
 * Ground truth: scheduled_total_ns counts every duration ever scheduled; the device time
 * completed at `now` is scheduled_total_ns - max(0, busy_until_ns - now), exact because after
 * `now` the device is continuously busy until busy_until_ns (stream tails are ends of earlier
 * work on the same device, so no gap can open in the future; a cross-device cuStreamWaitEvent is
 * the one exception and counts its gap as busy until it has passed).
 * Per process the same formula is applied to the process's own scheduled total and the end of
 * its last piece of work: exact once the process's work is done or when it is alone on the
 * device; while several processes interleave it under-reports the process's completed time
 * (the other processes' slices before its last end are counted as still pending).
 */
#ifndef HAMI_SIM_ENGINE_H
#define HAMI_SIM_ENGINE_H

#include <stdatomic.h>
#include <stdint.h>
#include <sys/types.h>

#include "hami/sim.h"

#define SIM_STATE_MAGIC 0x314d4953494d4148ull /* "HAMISIM1" little-endian */
#define SIM_STATE_VERSION 1u

#define SIM_SLOT_FREE 0u
#define SIM_SLOT_CLAIMING 1u
#define SIM_SLOT_LIVE 2u
#define SIM_SLOT_RECLAIMING 3u

typedef struct sim_device_state {
    _Atomic uint64_t used_bytes;         /* all processes */
    _Atomic uint64_t busy_until_ns;      /* end of the last work scheduled on the device */
    _Atomic uint64_t scheduled_total_ns; /* sum of all durations ever scheduled */
    uint64_t capacity_bytes;
    uint32_t sms;
    uint32_t index;
    uint8_t uuid_bytes[16];
    char uuid[48]; /* "GPU-xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx" */
    char name[64];
    uint8_t reserved[64];
} __attribute__((aligned(64))) sim_device_state;

typedef struct sim_proc_slot {
    _Atomic uint32_t state;          /* SIM_SLOT_* */
    _Atomic uint32_t devices_active; /* bit per physical device the process has a context on */
    int32_t pid;
    uint32_t reserved0;
    uint64_t start_time_ticks; /* /proc/<pid>/stat field 22: tells a reused pid apart */
    uint64_t attach_ns;
    _Atomic uint64_t used_bytes[HAMI_SIM_MAX_DEVICES];
    _Atomic uint64_t scheduled_total_ns[HAMI_SIM_MAX_DEVICES];
    _Atomic uint64_t last_end_ns[HAMI_SIM_MAX_DEVICES];
} __attribute__((aligned(64))) sim_proc_slot;

typedef struct sim_state {
    uint64_t magic;
    uint32_t version;
    uint32_t state_bytes; /* sizeof(sim_state) */
    uint32_t devices;
    uint32_t vendors;
    uint64_t block_ns;
    uint64_t created_ns;
    uint8_t instance_id[16]; /* random at creation: the UUIDs derive from it */
    uint8_t reserved[64];
    sim_device_state dev[HAMI_SIM_MAX_DEVICES];
    sim_proc_slot procs[HAMI_SIM_MAX_PROCS];
} sim_state;

/* The state this process is attached to (attaching on first use, from HAMI_SIM_STATE or the
 * default path, creating it from the HAMI_SIM_* environment when absent).  NULL when the file is
 * refused (corrupt, foreign, unreadable): a one-line message has then been printed once. */
sim_state *sim_engine_state(void);

/* This process's slot (claimed on first use; a forked child claims its own).  NULL when there
 * is no state or every slot is taken. */
sim_proc_slot *sim_engine_my_slot(void);

/* Mark that this process uses physical device `dev` (for NVML's process list). */
void sim_engine_mark_active(int dev);

/* Charge `bytes` to physical device `dev` and to this process: 0, or -1 when it does not fit
 * (after reclaiming dead processes' memory once). */
int sim_engine_mem_charge(int dev, uint64_t bytes);
/* Give back what sim_engine_mem_charge charged; never drops a counter below zero. */
void sim_engine_mem_release(int dev, uint64_t bytes);

/* Schedule `duration_ns` of work on `dev` not before `not_before_ns`; returns its end time. */
uint64_t sim_engine_schedule(int dev, uint64_t not_before_ns, uint64_t duration_ns,
                             uint64_t now_ns);

/* Ground truth at `now_ns`. */
uint64_t sim_engine_device_busy_ns(const sim_state *st, int dev, uint64_t now_ns);
uint64_t sim_engine_slot_busy_ns(const sim_proc_slot *slot, int dev, uint64_t now_ns);

/* Reclaim the slots of dead processes in `st`; returns how many were reclaimed. */
int sim_engine_reclaim_dead(sim_state *st);

/* Parse a size (hami grammar: bytes, k/m/g/t and Ki/Mi/Gi/Ti = 1024-based, kB/MB/GB/TB =
 * 1000-based).  0 on success, -1 on a bad value. */
int sim_parse_size(const char *text, uint64_t *out_bytes);

#endif
