/*
 * Simulated CANN runtime: streams and events in virtual time (engine.h).  A submission
 * reserves its device from max(now, stream tail, device busy_until) and returns; nothing runs.
 * Each stream keeps the end times of its last 1024 submissions (../sim_timeline.h); a
 * submission whose ring slot still holds a future end sleeps until then.  Synchronisation
 * sleeps (clock_nanosleep) until the recorded end times.  A NULL stream handle means the
 * current context's default stream.
 *
 * Event status: an event records the end of the work queued before it (or the record time
 * when the stream is idle); a never-recorded event counts as complete.  rtEventQuery returns
 * RT_ERROR_NONE or ACL_ERROR_RT_EVENT_NOT_COMPLETE; rtEventQueryStatus reports RT_EVENT_INIT
 * (not complete) or RT_EVENT_RECORDED (complete).
 */
#include "hami/clock.h"
#include "rt_sim.h"

#define STREAM_TAG 0x4153544du /* "ASTM" */
#define EVENT_TAG 0x4145564eu  /* "AEVN" */

typedef struct rt_event {
    _Atomic uint32_t tag;
    uint32_t flags;
    _Atomic uint64_t time_ns; /* when the work before the record completes; 0: never recorded */
} rt_event;

SIM_POOL_DEFINE(g_streams, rt_stream, 2048, STREAM_TAG);
SIM_POOL_DEFINE(g_events, rt_event, 65536, EVENT_TAG);

static uint64_t stream_tail(const rt_stream *s) { return sim_timeline_tail(&s->tl); }

rt_stream *rt_stream_new(rt_context *ctx)
{
    rt_stream *s = sim_pool_alloc(&g_streams);
    if (!s)
        return NULL;
    sim_timeline_init(&s->tl);
    s->ctx = ctx;
    s->device = ctx->device;
    return s;
}

void rt_stream_delete(rt_stream *s)
{
    if (s)
        sim_pool_free(&g_streams, s); /* pending work keeps its (already reserved) device time */
}

rt_stream *rt_stream_resolve(rtStream_t handle, rtError_t *err)
{
    if (!handle) {
        rt_context *c;
        *err = rt_current(&c);
        return *err ? NULL : c->default_stream;
    }
    *err = rt_check_init();
    if (*err)
        return NULL;
    rt_stream *s = sim_pool_get(&g_streams, handle);
    if (!s) {
        rt_set_error("stream %p is not a live stream", handle);
        *err = ACL_ERROR_RT_INVALID_HANDLE;
    }
    return s;
}

void rt_stream_submit(rt_stream *s, uint64_t duration_ns)
{
    sim_timeline_submit(&s->tl, s->device, duration_ns);
}

static void wait_if_in_ctx(void *elem, void *arg)
{
    rt_stream *s = elem;
    if (s->ctx == arg)
        sim_sleep_until(stream_tail(s));
}

void rt_context_wait_idle(rt_context *ctx) { sim_pool_for_each(&g_streams, wait_if_in_ctx, ctx); }

static void wait_if_on_device(void *elem, void *arg)
{
    rt_stream *s = elem;
    if (s->device == *(int *)arg)
        sim_sleep_until(stream_tail(s));
}

void rt_device_wait_idle(int device) { sim_pool_for_each(&g_streams, wait_if_on_device, &device); }

/* ------------------------------------------------------------------ streams */

RT_API rtError_t rtStreamCreate(rtStream_t *stream, int32_t priority)
{
    (void)priority;
    rt_context *c;
    rtError_t r = rt_current(&c);
    if (r)
        return r;
    if (!stream)
        return ACL_ERROR_RT_PARAM_INVALID;
    rt_stream *s = rt_stream_new(c);
    if (!s)
        return ACL_ERROR_RT_NO_STREAM_RESOURCE;
    *stream = s;
    return RT_ERROR_NONE;
}

RT_API rtError_t rtStreamCreateWithFlags(rtStream_t *stream, int32_t priority, uint32_t flags)
{
    (void)flags;
    return rtStreamCreate(stream, priority);
}

RT_API rtError_t rtStreamDestroy(rtStream_t stream)
{
    rtError_t r = rt_check_init();
    if (r)
        return r;
    rt_stream *s = sim_pool_get(&g_streams, stream);
    if (!s || (s->ctx && s->ctx->default_stream == s))
        return ACL_ERROR_RT_INVALID_HANDLE;
    rt_stream_delete(s);
    return RT_ERROR_NONE;
}

RT_API rtError_t rtStreamSynchronize(rtStream_t stream)
{
    rtError_t r;
    rt_stream *s = rt_stream_resolve(stream, &r);
    if (!s)
        return r;
    sim_sleep_until(stream_tail(s));
    return RT_ERROR_NONE;
}

RT_API rtError_t rtStreamQuery(rtStream_t stream)
{
    rtError_t r;
    rt_stream *s = rt_stream_resolve(stream, &r);
    if (!s)
        return r;
    return hami_now_ns() >= stream_tail(s) ? RT_ERROR_NONE : ACL_ERROR_RT_STREAM_NOT_COMPLETE;
}

/* ------------------------------------------------------------------ events */

RT_API rtError_t rtEventCreateWithFlag(rtEvent_t *event, uint32_t flag)
{
    rtError_t r = rt_check_init();
    if (r)
        return r;
    if (!event)
        return ACL_ERROR_RT_PARAM_INVALID;
    rt_event *e = sim_pool_alloc(&g_events);
    if (!e)
        return ACL_ERROR_RT_NO_EVENT_RESOURCE;
    e->flags = flag;
    *event = e;
    return RT_ERROR_NONE;
}

RT_API rtError_t rtEventCreate(rtEvent_t *event) { return rtEventCreateWithFlag(event, 0); }

static rt_event *event_get(rtEvent_t handle, rtError_t *err)
{
    *err = rt_check_init();
    if (*err)
        return NULL;
    rt_event *e = sim_pool_get(&g_events, handle);
    if (!e) {
        rt_set_error("event %p is not a live event", handle);
        *err = ACL_ERROR_RT_INVALID_HANDLE;
    }
    return e;
}

RT_API rtError_t rtEventDestroy(rtEvent_t event)
{
    rtError_t r;
    rt_event *e = event_get(event, &r);
    if (!e)
        return r;
    sim_pool_free(&g_events, e);
    return RT_ERROR_NONE;
}

RT_API rtError_t rtEventRecord(rtEvent_t event, rtStream_t stream)
{
    rtError_t r;
    rt_event *e = event_get(event, &r);
    if (!e)
        return r;
    rt_stream *s = rt_stream_resolve(stream, &r);
    if (!s)
        return r;
    atomic_store_explicit(&e->time_ns, sim_timeline_record_time(&s->tl), memory_order_release);
    return RT_ERROR_NONE;
}

RT_API rtError_t rtEventQuery(rtEvent_t event)
{
    rtError_t r;
    rt_event *e = event_get(event, &r);
    if (!e)
        return r;
    return hami_now_ns() >= atomic_load(&e->time_ns) ? RT_ERROR_NONE
                                                     : ACL_ERROR_RT_EVENT_NOT_COMPLETE;
}

RT_API rtError_t rtEventQueryStatus(rtEvent_t event, rtEventStatus_t *status)
{
    rtError_t r;
    rt_event *e = event_get(event, &r);
    if (!e)
        return r;
    if (!status)
        return ACL_ERROR_RT_PARAM_INVALID;
    *status = hami_now_ns() >= atomic_load(&e->time_ns) ? RT_EVENT_RECORDED : RT_EVENT_INIT;
    return RT_ERROR_NONE;
}

RT_API rtError_t rtEventSynchronize(rtEvent_t event)
{
    rtError_t r;
    rt_event *e = event_get(event, &r);
    if (!e)
        return r;
    sim_sleep_until(atomic_load(&e->time_ns));
    return RT_ERROR_NONE;
}

RT_API rtError_t rtEventElapsedTime(float *ms, rtEvent_t start, rtEvent_t end)
{
    rtError_t r;
    rt_event *a = event_get(start, &r);
    if (!a)
        return r;
    rt_event *b = event_get(end, &r);
    if (!b)
        return r;
    if (!ms)
        return ACL_ERROR_RT_PARAM_INVALID;
    uint64_t ta = atomic_load(&a->time_ns), tb = atomic_load(&b->time_ns);
    if (!ta || !tb)
        return ACL_ERROR_RT_PARAM_INVALID; /* never recorded */
    uint64_t now = hami_now_ns();
    if (now < ta || now < tb)
        return ACL_ERROR_RT_EVENT_NOT_COMPLETE;
    *ms = (float)((double)(int64_t)(tb - ta) / 1e6);
    return RT_ERROR_NONE;
}

RT_API rtError_t rtStreamWaitEvent(rtStream_t stream, rtEvent_t event)
{
    rtError_t r;
    rt_event *e = event_get(event, &r);
    if (!e)
        return r;
    rt_stream *s = rt_stream_resolve(stream, &r);
    if (!s)
        return r;
    sim_timeline_wait_for(&s->tl, atomic_load(&e->time_ns));
    return RT_ERROR_NONE;
}
