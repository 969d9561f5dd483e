/*
 * Private declarations shared by the source files of the simulated libcuda.so.1: the export
 * macro, the process-local handle pools, the context/stream objects, the allocation table and
 * the helpers each concern exposes to the others.  Not installed; not part of any ABI.
 */
#ifndef HAMI_SIM_CUDA_H
#define HAMI_SIM_CUDA_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "engine.h"
#include "hami/cuda_abi.h"

#define SIM_API __attribute__((visibility("default")))
#define SIM_COUNT_OF(a) (sizeof(a) / sizeof((a)[0]))

/* ---- handle pools (sim_cuda_pool.c): fixed arrays of objects whose first member is a tag.
 * A handle is valid when it points at an element of its pool whose tag is the pool's tag, so a
 * random or stale pointer is refused without being dereferenced outside the pool. */
typedef struct sim_pool {
    void *base;
    size_t elem_bytes;
    uint32_t capacity;
    uint32_t tag;
    pthread_mutex_t lock;
    uint32_t next_unused;
    uint32_t free_count;
    uint32_t *free_list;
} sim_pool;

#define SIM_POOL_DEFINE(name, type, count, tag_value)                                           \
    static type name##_elems[count];                                                           \
    static uint32_t name##_free[count];                                                        \
    static sim_pool name = {name##_elems, sizeof(type), count, tag_value,                      \
                            PTHREAD_MUTEX_INITIALIZER, 0, 0, name##_free}

void *sim_pool_alloc(sim_pool *pool); /* zeroed element with its tag set, or NULL when full */
void sim_pool_free(sim_pool *pool, void *elem);
void *sim_pool_get(const sim_pool *pool, const void *handle); /* NULL when not a live handle */
/* calls fn for every live element (used by cuCtxSynchronize) */
void sim_pool_for_each(sim_pool *pool, void (*fn)(void *elem, void *arg), void *arg);

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

/* ---- streams (sim_cuda_launch.c) */
#define SIM_STREAM_RING 1024u /* pending launches per stream before the launcher blocks */

struct sim_graph;
typedef struct sim_stream {
    _Atomic uint32_t tag;
    pthread_mutex_t submit_lock; /* serialises submissions; readers use tail_ns atomically */
    sim_context *ctx;
    int device;
    unsigned flags;
    int priority;
    _Atomic uint64_t tail_ns; /* when the last submitted work ends */
    uint32_t ring_next;
    uint64_t ring_end_ns[SIM_STREAM_RING]; /* end times of the last 1024 submissions */
    struct sim_graph *_Atomic capture;     /* non-NULL while capturing into a graph */
} sim_stream;

sim_stream *sim_stream_new(sim_context *ctx, unsigned flags, int priority);
void sim_stream_delete(sim_stream *s);
/* The stream a handle designates in `ctx` (NULL, legacy and per-thread handles mean the
 * context's NULL stream); NULL when the handle is not a live stream. */
sim_stream *sim_stream_resolve(sim_context *ctx, CUstream handle);
void sim_context_wait_idle(sim_context *ctx); /* sleep until every stream of ctx is done */

/* ---- allocation table (sim_cuda_alloc_table.c): process-local, striped, no malloc per call */
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
#define SIM_KIND_BIT(k) (1u << (k))

int sim_alloc_insert(uint64_t key, uint64_t bytes, int device, int kind); /* 0, -1 no memory */
/* Remove `key` if its kind is in `kinds_mask`; 0 and its record, or -1 when absent. */
int sim_alloc_remove(uint64_t key, unsigned kinds_mask, uint64_t *bytes, int *device, int *kind);
int sim_alloc_find(uint64_t key, unsigned kinds_mask, uint64_t *bytes, int *device);
void sim_alloc_after_fork(void);

#endif
