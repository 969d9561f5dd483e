/*
 * Private declarations shared by the source files of the simulated CANN runtime
 * (libruntime.so): the export macro, handle pools, devices and contexts, streams, the
 * allocation table.  Not installed; not part of any ABI (csrc/include/hami/acl_abi.h is).
 */
#ifndef HAMI_SIM_ASCEND_RT_SIM_H
#define HAMI_SIM_ASCEND_RT_SIM_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "../engine.h"
#include "hami/acl_abi.h"

#define RT_API __attribute__((visibility("default")))

/* ---- handle pools (rt_pool.c): fixed arrays of objects whose first member is a tag; a handle
 * is valid when it points at an element of its pool carrying the pool's tag, so a random or
 * stale pointer is refused without being dereferenced outside the pool. */
typedef struct rt_pool {
    void *base;
    size_t elem_bytes;
    uint32_t capacity;
    uint32_t tag;
    pthread_mutex_t lock;
    uint32_t next_unused;
    uint32_t free_count;
    uint32_t *free_list;
} rt_pool;

#define RT_POOL_DEFINE(name, type, count, tag_value)                                            \
    static type name##_elems[count];                                                           \
    static uint32_t name##_free[count];                                                        \
    static rt_pool name = {name##_elems, sizeof(type), count, tag_value,                       \
                           PTHREAD_MUTEX_INITIALIZER, 0, 0, name##_free}

void *rt_pool_alloc(rt_pool *pool); /* zeroed element with its tag set, or NULL when full */
void rt_pool_free(rt_pool *pool, void *elem);
void *rt_pool_get(const rt_pool *pool, const void *handle); /* NULL when not a live handle */
void rt_pool_for_each(rt_pool *pool, void (*fn)(void *elem, void *arg), void *arg);

/* ---- devices and contexts (rt_device.c) */
struct rt_stream;
typedef struct rt_context {
    _Atomic uint32_t tag;
    int device;  /* physical index in the engine */
    int logical; /* as this process sees it (ASCEND_*VISIBLE_DEVICES) */
    int is_default;
    struct rt_stream *default_stream;
} rt_context;

/* 0 when the engine is attached and the ascend vendor is on; else the rt error to return */
rtError_t rt_check_init(void);
int rt_physical_device(int32_t logical); /* -1 when not a visible id */
int rt_visible_count(void);
const sim_state *rt_state(void);
/* The calling thread's current context, NULL when none (ACL_ERROR_RT_CONTEXT_NULL). */
rt_context *rt_current_context(void);
rtError_t rt_current(rt_context **ctx); /* init check + current context */

/* ---- streams (rt_stream.c) */
#define RT_STREAM_RING 1024u /* pending submissions per stream before the submitter sleeps */

typedef struct rt_stream {
    _Atomic uint32_t tag;
    pthread_mutex_t submit_lock;
    rt_context *ctx;
    int device;
    _Atomic uint64_t tail_ns; /* when the last submitted work ends */
    uint32_t ring_next;
    uint64_t ring_end_ns[RT_STREAM_RING];
} rt_stream;

rt_stream *rt_stream_new(rt_context *ctx);
void rt_stream_delete(rt_stream *s);
/* The stream a handle designates (NULL = the current context's default stream); NULL with
 * *err set when it is not a live stream or there is no context. */
rt_stream *rt_stream_resolve(rtStream_t handle, rtError_t *err);
/* Queue `duration_ns` of device time on `s`; sleeps while 1024 submissions are pending. */
void rt_stream_submit(rt_stream *s, uint64_t duration_ns);
void rt_context_wait_idle(rt_context *ctx); /* sleep until every stream of ctx is done */
void rt_device_wait_idle(int device);       /* ... every stream of this process on device */

/* ---- allocation table (rt_alloc_table.c): process-local, striped */
enum rt_alloc_kind {
    RT_ALLOC_DEVICE = 1,
    RT_ALLOC_HOST = 2,
    RT_ALLOC_PHYS = 3,
    RT_ALLOC_RESERVE = 4,
    RT_ALLOC_MAP = 5,
};
#define RT_KIND_BIT(k) (1u << (k))

int rt_alloc_insert(uint64_t key, uint64_t bytes, int device, int kind); /* 0, -1 no memory */
int rt_alloc_remove(uint64_t key, unsigned kinds_mask, uint64_t *bytes, int *device);
int rt_alloc_find(uint64_t key, unsigned kinds_mask, uint64_t *bytes, int *device);

/* ---- error message of the calling thread (rt_device.c) */
void rt_set_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
const char *rt_last_error(void);

#endif
