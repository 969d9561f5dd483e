/*
 * Private declarations shared by the source files of the simulated libcuda.so.1: the export
 * macro, the context/stream objects, the allocation kinds and the helpers each concern exposes
 * to the others.  The handle pools (sim_pool.h), the allocation table (sim_alloc_table.h) and
 * the streams' virtual-time queues (sim_timeline.h) are shared with the simulated CANN
 * runtime.  Not installed; not part of any ABI.
 */
#ifndef HAMI_SIM_CUDA_H
#define HAMI_SIM_CUDA_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "engine.h"
#include "hami/cuda_abi.h"
#include "sim_alloc_table.h"
#include "sim_pool.h"
#include "sim_timeline.h"

#define SIM_API __attribute__((visibility("default")))
#define SIM_COUNT_OF(a) (sizeof(a) / sizeof((a)[0]))

/* ---- initialisation and devices (sim_cuda_device.c) */
CUresult sim_check_init(void); /* CUDA_SUCCESS once cuInit succeeded */
int sim_physical_device(CUdevice ordinal); /* -1 when not a visible ordinal */
const sim_state *sim_state_checked(void);

/* ---- contexts (sim_cuda_device.c) */
struct sim_stream;
typedef struct sim_context {
    _Atomic uint32_t tag;
    int device;  /* physical index in the engine */
    int ordinal; /* as this process sees it (CUDA_VISIBLE_DEVICES) */
    unsigned flags;
    int is_primary;
    struct sim_stream *null_stream;
} sim_context;

sim_context *sim_current_context(void); /* NULL when none or destroyed */

/* ---- streams (sim_cuda_launch.c); their virtual-time queue is sim_timeline.h */
struct sim_graph;
typedef struct sim_stream {
    _Atomic uint32_t tag;
    sim_context *ctx;
    int device;
    unsigned flags;
    int priority;
    sim_timeline tl;                   /* tail and ring of the last 1024 submissions */
    struct sim_graph *_Atomic capture; /* non-NULL while capturing into a graph */
} sim_stream;

sim_stream *sim_stream_new(sim_context *ctx, unsigned flags, int priority);
void sim_stream_delete(sim_stream *s);
/* The stream a handle designates in `ctx` (NULL, legacy and per-thread handles mean the
 * context's NULL stream); NULL when the handle is not a live stream. */
sim_stream *sim_stream_resolve(sim_context *ctx, CUstream handle);
void sim_context_wait_idle(sim_context *ctx); /* sleep until every stream of ctx is done */

/* ---- allocation table (sim_alloc_table.c, shared with the simulated CANN runtime):
 * process-local, striped, no malloc per call; the kinds of libcuda.so.1 */
enum sim_alloc_kind {
    SIM_ALLOC_DEVICE = 1,
    SIM_ALLOC_MANAGED = 2,
    SIM_ALLOC_POOL = 3,
    SIM_ALLOC_HOST = 4,
    SIM_ALLOC_ARRAY = 5,
    SIM_ALLOC_MIPMAP = 6,
    SIM_ALLOC_PHYS = 7,
    SIM_ALLOC_RESERVE = 8,
};

#endif
