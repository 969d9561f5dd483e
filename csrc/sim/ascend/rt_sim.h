/*
 * Private declarations shared by the source files of the simulated CANN runtime
 * (libruntime.so): the export macro, devices and contexts, streams, the allocation kinds.  The
 * handle pools (../sim_pool.h), the allocation table (../sim_alloc_table.h) and the streams'
 * virtual-time queues (../sim_timeline.h) are shared with the simulated libcuda.so.1.  Not
 * installed; not part of any ABI (csrc/include/hami/acl_abi.h is).
 */
#ifndef HAMI_SIM_ASCEND_RT_SIM_H
#define HAMI_SIM_ASCEND_RT_SIM_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "../engine.h"
#include "../sim_alloc_table.h"
#include "../sim_pool.h"
#include "../sim_timeline.h"
#include "hami/acl_abi.h"

#define RT_API __attribute__((visibility("default")))

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

/* ---- streams (rt_stream.c); their virtual-time queue is ../sim_timeline.h */
typedef struct rt_stream {
    _Atomic uint32_t tag;
    rt_context *ctx;
    int device;
    sim_timeline tl; /* tail and ring of the last 1024 submissions */
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

/* ---- allocation table (../sim_alloc_table.c, shared with libcuda.so.1): process-local,
 * striped; the kinds of libruntime.so */
enum rt_alloc_kind {
    RT_ALLOC_DEVICE = 1,
    RT_ALLOC_HOST = 2,
    RT_ALLOC_PHYS = 3,
    RT_ALLOC_RESERVE = 4,
    RT_ALLOC_MAP = 5,
};

/* ---- error message of the calling thread (rt_device.c) */
void rt_set_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
const char *rt_last_error(void);

#endif
