/*
 * Simulated ACL (libascendcl.so): aclInit/aclFinalize, devices, contexts, device information
 * (aclrtGetDeviceInfo, aclrtGetSocName, aclrtGetPhyDevIdByLogicDevId) and
 * aclGetRecentErrMsg.  Every call descends to the runtime (libruntime.so) across the library
 * boundary; runtime error codes pass through unchanged, as in CANN.
 *
 * aclInit is not required by the rt-backed calls (as on real CANN, where aclrtSetDevice works
 * before aclInit); a second aclInit without aclFinalize returns ACL_ERROR_REPEAT_INITIALIZE.
 * aclrtGetSocName returns "Ascend910B1" (what frameworks parse); the simulator's device name
 * and NPU- UUID come from rtHamiSimDeviceInfo.
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "acl_sim.h"

static pthread_mutex_t g_init_lock = PTHREAD_MUTEX_INITIALIZER;
static int g_initialized;
static __thread char t_error[256];

void acl_set_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(t_error, sizeof t_error, fmt, ap);
    va_end(ap);
}

ACL_API const char *aclGetRecentErrMsg(void)
{
    static __thread char t_report[256];
    const char *msg = t_error[0] ? t_error : rtHamiSimLastError();
    if (!msg || !msg[0])
        return NULL;
    snprintf(t_report, sizeof t_report, "%s", msg);
    t_error[0] = 0;
    return t_report;
}

ACL_API aclError aclInit(const char *configPath)
{
    (void)configPath; /* any config (or none) is accepted */
    pthread_mutex_lock(&g_init_lock);
    int again = g_initialized;
    g_initialized = 1;
    pthread_mutex_unlock(&g_init_lock);
    return again ? ACL_ERROR_REPEAT_INITIALIZE : ACL_SUCCESS;
}

ACL_API aclError aclFinalize(void)
{
    pthread_mutex_lock(&g_init_lock);
    g_initialized = 0;
    pthread_mutex_unlock(&g_init_lock);
    return ACL_SUCCESS;
}

ACL_API aclError aclrtSetDevice(int32_t deviceId) { return rtSetDevice(deviceId); }
ACL_API aclError aclrtResetDevice(int32_t deviceId) { return rtDeviceReset(deviceId); }

ACL_API aclError aclrtGetDevice(int32_t *deviceId)
{
    if (!deviceId)
        return ACL_ERROR_INVALID_PARAM;
    return rtGetDevice(deviceId);
}

ACL_API aclError aclrtGetDeviceCount(uint32_t *count)
{
    if (!count)
        return ACL_ERROR_INVALID_PARAM;
    int32_t n = 0;
    rtError_t r = rtGetDeviceCount(&n);
    *count = (uint32_t)n;
    return r;
}

ACL_API aclError aclrtSynchronizeDevice(void) { return rtDeviceSynchronize(); }

ACL_API aclError aclrtCreateContext(aclrtContext *context, int32_t deviceId)
{
    if (!context)
        return ACL_ERROR_INVALID_PARAM;
    return rtCtxCreate(context, 0, deviceId);
}

ACL_API aclError aclrtDestroyContext(aclrtContext context)
{
    if (!context)
        return ACL_ERROR_INVALID_PARAM;
    return rtCtxDestroy(context);
}

ACL_API aclError aclrtSetCurrentContext(aclrtContext context)
{
    if (!context)
        return ACL_ERROR_INVALID_PARAM;
    return rtCtxSetCurrent(context);
}

ACL_API aclError aclrtGetCurrentContext(aclrtContext *context)
{
    if (!context)
        return ACL_ERROR_INVALID_PARAM;
    return rtCtxGetCurrent(context);
}

ACL_API const char *aclrtGetSocName(void) { return "Ascend910B1"; }

ACL_API aclError aclrtGetPhyDevIdByLogicDevId(int32_t logicDevId, int32_t *phyDevId)
{
    if (!phyDevId || logicDevId < 0)
        return ACL_ERROR_INVALID_PARAM;
    uint32_t phy = 0;
    rtError_t r = rtGetDevicePhyIdByIndex((uint32_t)logicDevId, &phy);
    if (r == RT_ERROR_NONE)
        *phyDevId = (int32_t)phy;
    return r;
}

ACL_API aclError aclrtGetDeviceInfo(uint32_t deviceId, aclrtDevAttr attr, int64_t *value)
{
    if (!value)
        return ACL_ERROR_INVALID_PARAM;
    hamiSimNpuInfo info;
    rtError_t r = rtHamiSimDeviceInfo((int32_t)deviceId, &info);
    if (r)
        return r;
    switch (attr) {
    case ACL_DEV_ATTR_AICPU_CORE_NUM: *value = 6; break;
    case ACL_DEV_ATTR_AICORE_CORE_NUM: *value = info.ai_cores; break;
    case ACL_DEV_ATTR_VECTOR_CORE_NUM: *value = (int64_t)info.ai_cores * 2; break;
    case ACL_DEV_ATTR_TOTAL_GLOBAL_MEM_SIZE: *value = (int64_t)info.total_bytes; break;
    default:
        acl_set_error("aclrtGetDeviceInfo: attribute %d is not simulated", (int)attr);
        return ACL_ERROR_INVALID_PARAM;
    }
    return ACL_SUCCESS;
}

uint32_t acl_current_ai_cores(void)
{
    int32_t dev;
    hamiSimNpuInfo info;
    if (rtGetDevice(&dev) || rtHamiSimDeviceInfo(dev, &info) || !info.ai_cores)
        return 1;
    return info.ai_cores;
}
