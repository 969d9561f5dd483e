/*
 * Simulated ACL: streams and events, descending to the runtime's rtStream* / rtEvent*.
 * Both status enums: aclrtQueryEvent (-> rtEventQuery) reports ACL_EVENT_STATUS_COMPLETE = 0 /
 * NOT_READY = 1; aclrtQueryEventStatus (-> rtEventQueryStatus) reports
 * ACL_EVENT_RECORDED_STATUS_NOT_READY = 0 / COMPLETE = 1.  A NULL stream is the current
 * context's default stream.
 */
#include "acl_sim.h"

ACL_API aclError aclrtCreateStream(aclrtStream *stream)
{
    if (!stream)
        return ACL_ERROR_INVALID_PARAM;
    return rtStreamCreate(stream, 0);
}

ACL_API aclError aclrtCreateStreamWithConfig(aclrtStream *stream, uint32_t priority,
                                             uint32_t flag)
{
    (void)flag;
    if (!stream)
        return ACL_ERROR_INVALID_PARAM;
    return rtStreamCreate(stream, (int32_t)priority);
}

ACL_API aclError aclrtDestroyStream(aclrtStream stream)
{
    if (!stream)
        return ACL_ERROR_INVALID_PARAM;
    return rtStreamDestroy(stream);
}

ACL_API aclError aclrtSynchronizeStream(aclrtStream stream) { return rtStreamSynchronize(stream); }

ACL_API aclError aclrtStreamWaitEvent(aclrtStream stream, aclrtEvent event)
{
    if (!event)
        return ACL_ERROR_INVALID_PARAM;
    return rtStreamWaitEvent(stream, event);
}

ACL_API aclError aclrtCreateEvent(aclrtEvent *event)
{
    if (!event)
        return ACL_ERROR_INVALID_PARAM;
    return rtEventCreate(event);
}

ACL_API aclError aclrtCreateEventWithFlag(aclrtEvent *event, uint32_t flag)
{
    (void)flag;
    return aclrtCreateEvent(event);
}

ACL_API aclError aclrtDestroyEvent(aclrtEvent event)
{
    if (!event)
        return ACL_ERROR_INVALID_PARAM;
    return rtEventDestroy(event);
}

ACL_API aclError aclrtRecordEvent(aclrtEvent event, aclrtStream stream)
{
    if (!event)
        return ACL_ERROR_INVALID_PARAM;
    return rtEventRecord(event, stream);
}

ACL_API aclError aclrtQueryEvent(aclrtEvent event, aclrtEventStatus *status)
{
    if (!event || !status)
        return ACL_ERROR_INVALID_PARAM;
    rtError_t r = rtEventQuery(event);
    if (r == RT_ERROR_NONE)
        *status = ACL_EVENT_STATUS_COMPLETE;
    else if (r == ACL_ERROR_RT_EVENT_NOT_COMPLETE)
        *status = ACL_EVENT_STATUS_NOT_READY;
    else
        return r;
    return ACL_SUCCESS;
}

ACL_API aclError aclrtQueryEventStatus(aclrtEvent event, aclrtEventRecordedStatus *status)
{
    if (!event || !status)
        return ACL_ERROR_INVALID_PARAM;
    rtEventStatus_t s = RT_EVENT_INIT;
    rtError_t r = rtEventQueryStatus(event, &s);
    if (r)
        return r;
    *status = s == RT_EVENT_RECORDED ? ACL_EVENT_RECORDED_STATUS_COMPLETE
                                     : ACL_EVENT_RECORDED_STATUS_NOT_READY;
    return ACL_SUCCESS;
}

ACL_API aclError aclrtSynchronizeEvent(aclrtEvent event)
{
    if (!event)
        return ACL_ERROR_INVALID_PARAM;
    return rtEventSynchronize(event);
}

ACL_API aclError aclrtEventElapsedTime(float *ms, aclrtEvent start, aclrtEvent end)
{
    if (!ms || !start || !end)
        return ACL_ERROR_INVALID_PARAM;
    return rtEventElapsedTime(ms, start, end);
}
