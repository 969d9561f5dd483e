/*
 * Simulated libnvidia-ml.so.1 over the virtual-device engine (the DESIGN 7 subset).  Device
 * index = physical index: NVML ignores CUDA_VISIBLE_DEVICES, as the real one does.  Memory and
 * process figures are the engine's ground truth, with dead processes reclaimed first.
 * Utilisation: nvmlDeviceGetUtilizationRates reports the device's busy fraction since this
 * process's previous call for that device (the first call: since the state was created);
 * nvmlDeviceGetProcessUtilization reports each process's smUtil since this process last
 * sampled that process (the first time: since that process attached); timeStamp is
 * CLOCK_MONOTONIC in microseconds.  nvmlInit on a refused state returns
 * NVML_ERROR_DRIVER_NOT_LOADED.
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "engine.h"
#include "hami/clock.h"
#include "hami/nvml_abi.h"

#define NVML_API __attribute__((visibility("default")))

struct nvmlDevice_st {
    unsigned index;
};
static struct nvmlDevice_st g_devices[HAMI_SIM_MAX_DEVICES];

static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static int g_init_count;

typedef struct busy_sample {
    uint64_t busy_ns;
    uint64_t at_ns;
} busy_sample;
static busy_sample g_device_sample[HAMI_SIM_MAX_DEVICES];

typedef struct proc_sample {
    int32_t pid;
    uint64_t start_ticks;
    busy_sample sample[HAMI_SIM_MAX_DEVICES];
} proc_sample;
static proc_sample g_proc_sample[HAMI_SIM_MAX_PROCS]; /* indexed like the engine's slots */

static sim_state *state_if_init(void)
{
    pthread_mutex_lock(&g_lock);
    int inited = g_init_count > 0;
    pthread_mutex_unlock(&g_lock);
    return inited ? sim_engine_state() : NULL;
}

static int device_index(nvmlDevice_t device, const sim_state *st)
{
    uintptr_t p = (uintptr_t)device, base = (uintptr_t)g_devices;
    if (p < base || p >= base + sizeof g_devices || (p - base) % sizeof g_devices[0])
        return -1;
    unsigned i = (unsigned)((p - base) / sizeof g_devices[0]);
    return i < st->devices ? (int)i : -1;
}

#define REQUIRE_DEVICE(device, st, idx)                                                         \
    sim_state *st = state_if_init();                                                           \
    if (!st)                                                                                   \
        return NVML_ERROR_UNINITIALIZED;                                                       \
    int idx = device_index(device, st);                                                        \
    if (idx < 0)                                                                               \
        return NVML_ERROR_INVALID_ARGUMENT

NVML_API nvmlReturn_t nvmlInitWithFlags(unsigned int flags)
{
    (void)flags;
    if (!sim_engine_state())
        return NVML_ERROR_DRIVER_NOT_LOADED;
    pthread_mutex_lock(&g_lock);
    if (g_init_count++ == 0)
        for (unsigned i = 0; i < HAMI_SIM_MAX_DEVICES; i++)
            g_devices[i].index = i;
    pthread_mutex_unlock(&g_lock);
    return NVML_SUCCESS;
}

NVML_API nvmlReturn_t nvmlInit_v2(void) { return nvmlInitWithFlags(0); }
NVML_API nvmlReturn_t nvmlInit(void) { return nvmlInitWithFlags(0); }

NVML_API nvmlReturn_t nvmlShutdown(void)
{
    pthread_mutex_lock(&g_lock);
    int was = g_init_count;
    if (g_init_count > 0)
        g_init_count--;
    pthread_mutex_unlock(&g_lock);
    return was ? NVML_SUCCESS : NVML_ERROR_UNINITIALIZED;
}

NVML_API const char *nvmlErrorString(nvmlReturn_t r)
{
    switch (r) {
    case NVML_SUCCESS: return "Success";
    case NVML_ERROR_UNINITIALIZED: return "Uninitialized";
    case NVML_ERROR_INVALID_ARGUMENT: return "Invalid Argument";
    case NVML_ERROR_NOT_SUPPORTED: return "Not Supported";
    case NVML_ERROR_NO_PERMISSION: return "Insufficient Permissions";
    case NVML_ERROR_NOT_FOUND: return "Not Found";
    case NVML_ERROR_INSUFFICIENT_SIZE: return "Insufficient Size";
    case NVML_ERROR_DRIVER_NOT_LOADED: return "Driver Not Loaded";
    case NVML_ERROR_FUNCTION_NOT_FOUND: return "Function Not Found";
    case NVML_ERROR_ARGUMENT_VERSION_MISMATCH: return "Argument Version Mismatch";
    case NVML_ERROR_NO_DATA: return "No Data";
    default: return "Unknown Error";
    }
}

NVML_API nvmlReturn_t nvmlSystemGetDriverVersion(char *version, unsigned int length)
{
    if (!state_if_init())
        return NVML_ERROR_UNINITIALIZED;
    if (!version)
        return NVML_ERROR_INVALID_ARGUMENT;
    const char *v = "580.65.06-hami-sim";
    if (length < strlen(v) + 1)
        return NVML_ERROR_INSUFFICIENT_SIZE;
    memcpy(version, v, strlen(v) + 1);
    return NVML_SUCCESS;
}

NVML_API nvmlReturn_t nvmlDeviceGetCount_v2(unsigned int *count)
{
    sim_state *st = state_if_init();
    if (!st)
        return NVML_ERROR_UNINITIALIZED;
    if (!count)
        return NVML_ERROR_INVALID_ARGUMENT;
    *count = st->devices;
    return NVML_SUCCESS;
}

NVML_API nvmlReturn_t nvmlDeviceGetHandleByIndex_v2(unsigned int index, nvmlDevice_t *device)
{
    sim_state *st = state_if_init();
    if (!st)
        return NVML_ERROR_UNINITIALIZED;
    if (!device || index >= st->devices)
        return NVML_ERROR_INVALID_ARGUMENT;
    *device = &g_devices[index];
    return NVML_SUCCESS;
}

NVML_API nvmlReturn_t nvmlDeviceGetHandleByUUID(const char *uuid, nvmlDevice_t *device)
{
    sim_state *st = state_if_init();
    if (!st)
        return NVML_ERROR_UNINITIALIZED;
    if (!uuid || !device)
        return NVML_ERROR_INVALID_ARGUMENT;
    for (unsigned i = 0; i < st->devices; i++) {
        if (strcmp(st->dev[i].uuid, uuid) == 0) {
            *device = &g_devices[i];
            return NVML_SUCCESS;
        }
    }
    return NVML_ERROR_NOT_FOUND;
}

static nvmlReturn_t copy_string(char *out, unsigned length, const char *s)
{
    if (!out)
        return NVML_ERROR_INVALID_ARGUMENT;
    size_t n = strlen(s) + 1;
    if (length < n)
        return NVML_ERROR_INSUFFICIENT_SIZE;
    memcpy(out, s, n);
    return NVML_SUCCESS;
}

NVML_API nvmlReturn_t nvmlDeviceGetUUID(nvmlDevice_t device, char *uuid, unsigned int length)
{
    REQUIRE_DEVICE(device, st, i);
    return copy_string(uuid, length, st->dev[i].uuid);
}

NVML_API nvmlReturn_t nvmlDeviceGetName(nvmlDevice_t device, char *name, unsigned int length)
{
    REQUIRE_DEVICE(device, st, i);
    return copy_string(name, length, st->dev[i].name);
}

NVML_API nvmlReturn_t nvmlDeviceGetIndex(nvmlDevice_t device, unsigned int *index)
{
    REQUIRE_DEVICE(device, st, i);
    if (!index)
        return NVML_ERROR_INVALID_ARGUMENT;
    *index = (unsigned)i;
    return NVML_SUCCESS;
}

static void memory_figures(sim_state *st, int i, uint64_t *total, uint64_t *used)
{
    sim_engine_reclaim_dead(st);
    *total = st->dev[i].capacity_bytes;
    *used = atomic_load(&st->dev[i].used_bytes);
    if (*used > *total)
        *used = *total;
}

NVML_API nvmlReturn_t nvmlDeviceGetMemoryInfo(nvmlDevice_t device, nvmlMemory_t *memory)
{
    REQUIRE_DEVICE(device, st, i);
    if (!memory)
        return NVML_ERROR_INVALID_ARGUMENT;
    uint64_t total, used;
    memory_figures(st, i, &total, &used);
    memory->total = total;
    memory->used = used;
    memory->free = total - used;
    return NVML_SUCCESS;
}

NVML_API nvmlReturn_t nvmlDeviceGetMemoryInfo_v2(nvmlDevice_t device, nvmlMemory_v2_t *memory)
{
    REQUIRE_DEVICE(device, st, i);
    if (!memory)
        return NVML_ERROR_INVALID_ARGUMENT;
    if (memory->version != nvmlMemory_v2)
        return NVML_ERROR_ARGUMENT_VERSION_MISMATCH;
    uint64_t total, used;
    memory_figures(st, i, &total, &used);
    memory->total = total;
    memory->reserved = 0;
    memory->used = used;
    memory->free = total - used;
    return NVML_SUCCESS;
}

static unsigned percent(uint64_t busy_delta, uint64_t time_delta)
{
    if (!time_delta)
        return 0;
    uint64_t p = (busy_delta * 100 + time_delta / 2) / time_delta;
    return p > 100 ? 100 : (unsigned)p;
}

NVML_API nvmlReturn_t nvmlDeviceGetUtilizationRates(nvmlDevice_t device,
                                                    nvmlUtilization_t *utilization)
{
    REQUIRE_DEVICE(device, st, i);
    if (!utilization)
        return NVML_ERROR_INVALID_ARGUMENT;
    uint64_t now = hami_now_ns();
    uint64_t busy = sim_engine_device_busy_ns(st, i, now);
    pthread_mutex_lock(&g_lock);
    busy_sample prev = g_device_sample[i];
    if (!prev.at_ns)
        prev.at_ns = st->created_ns;
    if (busy < prev.busy_ns)
        busy = prev.busy_ns; /* readings never go backwards */
    g_device_sample[i].busy_ns = busy;
    g_device_sample[i].at_ns = now;
    pthread_mutex_unlock(&g_lock);
    utilization->gpu = percent(busy - prev.busy_ns, now > prev.at_ns ? now - prev.at_ns : 0);
    utilization->memory = utilization->gpu ? 1 : 0;
    return NVML_SUCCESS;
}

/* The processes with memory or a context on device `i`: fills up to *count, sets the need. */
static nvmlReturn_t running_processes(nvmlDevice_t device, unsigned *count, nvmlProcessInfo_t *out)
{
    REQUIRE_DEVICE(device, st, i);
    if (!count)
        return NVML_ERROR_INVALID_ARGUMENT;
    sim_engine_reclaim_dead(st);
    unsigned n = 0, room = out ? *count : 0;
    for (int s = 0; s < HAMI_SIM_MAX_PROCS; s++) {
        const sim_proc_slot *slot = &st->procs[s];
        if (atomic_load(&slot->state) != SIM_SLOT_LIVE)
            continue;
        uint64_t used = atomic_load(&slot->used_bytes[i]);
        uint32_t active = atomic_load(&slot->devices_active);
        if (!used && !(active & (1u << i)))
            continue;
        if (n < room) {
            out[n].pid = (unsigned)slot->pid;
            out[n].usedGpuMemory = used;
            out[n].gpuInstanceId = NVML_VALUE_NOT_AVAILABLE;
            out[n].computeInstanceId = NVML_VALUE_NOT_AVAILABLE;
        }
        n++;
    }
    nvmlReturn_t r = n > room ? NVML_ERROR_INSUFFICIENT_SIZE : NVML_SUCCESS;
    *count = n;
    return r;
}

NVML_API nvmlReturn_t nvmlDeviceGetComputeRunningProcesses_v3(nvmlDevice_t device,
                                                              unsigned int *infoCount,
                                                              nvmlProcessInfo_t *infos)
{
    return running_processes(device, infoCount, infos);
}

NVML_API nvmlReturn_t nvmlDeviceGetComputeRunningProcesses_v2(nvmlDevice_t device,
                                                              unsigned int *infoCount,
                                                              nvmlProcessInfo_v2_t *infos)
{
    return running_processes(device, infoCount, infos);
}

NVML_API nvmlReturn_t nvmlDeviceGetProcessUtilization(nvmlDevice_t device,
                                                      nvmlProcessUtilizationSample_t *samples,
                                                      unsigned int *count,
                                                      unsigned long long lastSeenTimeStamp)
{
    (void)lastSeenTimeStamp; /* the window is this caller's previous sample (see the top) */
    REQUIRE_DEVICE(device, st, i);
    if (!count)
        return NVML_ERROR_INVALID_ARGUMENT;
    sim_engine_reclaim_dead(st);
    uint64_t now = hami_now_ns();
    unsigned n = 0, room = samples ? *count : 0;
    pthread_mutex_lock(&g_lock);
    for (int s = 0; s < HAMI_SIM_MAX_PROCS; s++) {
        const sim_proc_slot *slot = &st->procs[s];
        if (atomic_load(&slot->state) != SIM_SLOT_LIVE)
            continue;
        uint64_t sched = atomic_load(&slot->scheduled_total_ns[i]);
        if (!sched && !(atomic_load(&slot->devices_active) & (1u << i)))
            continue;
        proc_sample *ps = &g_proc_sample[s];
        if (ps->pid != slot->pid || ps->start_ticks != slot->start_time_ticks) {
            memset(ps, 0, sizeof *ps);
            ps->pid = slot->pid;
            ps->start_ticks = slot->start_time_ticks;
        }
        busy_sample prev = ps->sample[i];
        if (!prev.at_ns)
            prev.at_ns = slot->attach_ns;
        uint64_t busy = sim_engine_slot_busy_ns(slot, i, now);
        if (busy < prev.busy_ns)
            busy = prev.busy_ns;
        if (n < room) {
            samples[n].pid = (unsigned)slot->pid;
            samples[n].timeStamp = now / 1000;
            samples[n].smUtil = percent(busy - prev.busy_ns, now > prev.at_ns ? now - prev.at_ns : 0);
            samples[n].memUtil = 0;
            samples[n].encUtil = 0;
            samples[n].decUtil = 0;
            ps->sample[i].busy_ns = busy;
            ps->sample[i].at_ns = now;
        }
        n++;
    }
    pthread_mutex_unlock(&g_lock);
    nvmlReturn_t r = n > room ? NVML_ERROR_INSUFFICIENT_SIZE : NVML_SUCCESS;
    if (n == 0 && samples)
        r = NVML_ERROR_NOT_FOUND; /* the real NVML: no samples since lastSeenTimeStamp */
    *count = n;
    return r;
}
