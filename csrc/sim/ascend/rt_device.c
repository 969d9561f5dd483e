/*
 * Simulated CANN runtime (libruntime.so): attaching to the virtual-device engine, the NPUs this
 * process sees, per-thread current context (rtSetDevice / rtCtx*), device identity (the
 * simulator-only rtHamiSimDeviceInfo) and the calling thread's last error message.
 *
 * Visible devices: ASCEND_VISIBLE_DEVICES (physical ids, as the Ascend container runtime
 * mounts them; what HAMi's device plugin sets) selects and orders the engine's devices, then
 * ASCEND_RT_VISIBLE_DEVICES (indices into that list, as CANN's runtime reads it) narrows it.
 * Parsing stops at the first entry that names no device or repeats one.  A session created
 * without the ascend vendor bit (hami-core sim --vendor cuda) has no NPUs.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rt_sim.h"

#define CTX_TAG 0x41435458u /* "ACTX" */
#define SIM_VENDOR_ASCEND 2u

SIM_POOL_DEFINE(g_contexts, rt_context, 256, CTX_TAG);

static pthread_once_t g_init_once = PTHREAD_ONCE_INIT;
static rtError_t g_init_result = ACL_ERROR_RT_NO_DEVICE;
static int g_visible[HAMI_SIM_MAX_DEVICES]; /* logical -> physical */
static int g_visible_count;

static pthread_mutex_t g_default_lock = PTHREAD_MUTEX_INITIALIZER;
static rt_context *g_default_ctx[HAMI_SIM_MAX_DEVICES]; /* per physical device */
static int g_default_refs[HAMI_SIM_MAX_DEVICES];

static __thread rt_context *t_ctx;
static __thread char t_error[256];

/* ------------------------------------------------------------------ errors */

void rt_set_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(t_error, sizeof t_error, fmt, ap);
    va_end(ap);
}

const char *rt_last_error(void) { return t_error; }

/* ------------------------------------------------------------------ init and devices */

/* Parse a comma list of non-negative integers into out[] (stopping at the first bad or
 * repeated entry); each value must be < limit.  Returns the count. */
static int parse_id_list(const char *text, int limit, int *out)
{
    char buf[1024];
    snprintf(buf, sizeof buf, "%s", text);
    int n = 0;
    char *save = NULL;
    for (char *tok = strtok_r(buf, ",", &save); tok && n < HAMI_SIM_MAX_DEVICES;
         tok = strtok_r(NULL, ",", &save)) {
        while (*tok == ' ')
            tok++;
        char *end = NULL;
        long v = strtol(tok, &end, 10);
        if (end == tok || (*end && *end != ' ') || v < 0 || v >= limit)
            break;
        int dup = 0;
        for (int j = 0; j < n; j++)
            dup |= out[j] == (int)v;
        if (dup)
            break;
        out[n++] = (int)v;
    }
    return n;
}

static void init_once(void)
{
    sim_state *st = sim_engine_state();
    if (!st)
        return; /* the engine printed why */
    if (st->vendors && !(st->vendors & SIM_VENDOR_ASCEND)) {
        fprintf(stderr, "hami-sim: this simulator session has no Ascend NPUs (started without "
                        "--vendor ascend)\n");
        return;
    }
    int phys[HAMI_SIM_MAX_DEVICES], count;
    const char *env = getenv("ASCEND_VISIBLE_DEVICES");
    if (env && *env) {
        count = parse_id_list(env, (int)st->devices, phys);
    } else {
        count = (int)st->devices;
        for (int i = 0; i < count; i++)
            phys[i] = i;
    }
    env = getenv("ASCEND_RT_VISIBLE_DEVICES");
    if (env && *env) {
        int idx[HAMI_SIM_MAX_DEVICES];
        int n = parse_id_list(env, count, idx);
        for (int i = 0; i < n; i++)
            g_visible[i] = phys[idx[i]];
        g_visible_count = n;
    } else {
        memcpy(g_visible, phys, sizeof(int) * (size_t)count);
        g_visible_count = count;
    }
    g_init_result = g_visible_count ? RT_ERROR_NONE : ACL_ERROR_RT_NO_DEVICE;
}

rtError_t rt_check_init(void)
{
    pthread_once(&g_init_once, init_once);
    return g_init_result;
}

int rt_physical_device(int32_t logical)
{
    if (rt_check_init() || logical < 0 || logical >= g_visible_count)
        return -1;
    return g_visible[logical];
}

int rt_visible_count(void) { return rt_check_init() ? 0 : g_visible_count; }

const sim_state *rt_state(void) { return sim_engine_state(); }

rt_context *rt_current_context(void)
{
    rt_context *c = t_ctx;
    if (c && !sim_pool_get(&g_contexts, c))
        t_ctx = c = NULL; /* destroyed meanwhile */
    return c;
}

rtError_t rt_current(rt_context **ctx)
{
    rtError_t r = rt_check_init();
    if (r)
        return r;
    *ctx = rt_current_context();
    if (!*ctx) {
        rt_set_error("no current context: call aclrtSetDevice first");
        return ACL_ERROR_RT_CONTEXT_NULL;
    }
    return RT_ERROR_NONE;
}

static rt_context *context_new(int phys, int logical, int is_default)
{
    rt_context *c = sim_pool_alloc(&g_contexts);
    if (!c)
        return NULL;
    c->device = phys;
    c->logical = logical;
    c->is_default = is_default;
    c->default_stream = rt_stream_new(c);
    if (!c->default_stream) {
        sim_pool_free(&g_contexts, c);
        return NULL;
    }
    sim_engine_mark_active(phys);
    return c;
}

RT_API rtError_t rtGetDeviceCount(int32_t *count)
{
    rtError_t r = rt_check_init();
    if (!count)
        return ACL_ERROR_RT_PARAM_INVALID;
    *count = r ? 0 : g_visible_count;
    return r;
}

RT_API rtError_t rtSetDevice(int32_t device)
{
    rtError_t r = rt_check_init();
    if (r)
        return r;
    int phys = rt_physical_device(device);
    if (phys < 0) {
        rt_set_error("device id %d is not one of the %d visible NPUs", device, g_visible_count);
        return ACL_ERROR_RT_INVALID_DEVICEID;
    }
    pthread_mutex_lock(&g_default_lock);
    rt_context *c = g_default_ctx[phys];
    if (!c) {
        c = context_new(phys, device, 1);
        g_default_ctx[phys] = c;
    }
    if (c)
        g_default_refs[phys]++;
    pthread_mutex_unlock(&g_default_lock);
    if (!c)
        return ACL_ERROR_RT_RESOURCE_ALLOC_FAIL;
    t_ctx = c;
    return RT_ERROR_NONE;
}

/* Releases one rtSetDevice reference.  The default context (and its streams' handles) live
 * on until the process ends: pending work keeps its place on the device. */
RT_API rtError_t rtDeviceReset(int32_t device)
{
    rtError_t r = rt_check_init();
    if (r)
        return r;
    int phys = rt_physical_device(device);
    if (phys < 0)
        return ACL_ERROR_RT_INVALID_DEVICEID;
    pthread_mutex_lock(&g_default_lock);
    if (g_default_refs[phys] > 0)
        g_default_refs[phys]--;
    pthread_mutex_unlock(&g_default_lock);
    rt_context *c = rt_current_context();
    if (c && c->device == phys) {
        rt_context_wait_idle(c);
        t_ctx = NULL;
    }
    return RT_ERROR_NONE;
}

RT_API rtError_t rtGetDevice(int32_t *device)
{
    rt_context *c;
    if (!device)
        return ACL_ERROR_RT_PARAM_INVALID;
    rtError_t r = rt_current(&c);
    if (r)
        return r;
    *device = c->logical;
    return RT_ERROR_NONE;
}

RT_API rtError_t rtGetDevicePhyIdByIndex(uint32_t devIndex, uint32_t *phyId)
{
    if (!phyId)
        return ACL_ERROR_RT_PARAM_INVALID;
    rtError_t r = rt_check_init();
    if (r)
        return r;
    int phys = rt_physical_device((int32_t)devIndex);
    if (phys < 0)
        return ACL_ERROR_RT_INVALID_DEVICEID;
    *phyId = (uint32_t)phys;
    return RT_ERROR_NONE;
}

RT_API rtError_t rtDeviceSynchronize(void)
{
    rt_context *c;
    rtError_t r = rt_current(&c);
    if (r)
        return r;
    rt_device_wait_idle(c->device);
    return RT_ERROR_NONE;
}

/* ------------------------------------------------------------------ contexts */

RT_API rtError_t rtCtxCreate(rtContext_t *ctx, uint32_t flags, int32_t device)
{
    (void)flags;
    rtError_t r = rt_check_init();
    if (r)
        return r;
    if (!ctx)
        return ACL_ERROR_RT_PARAM_INVALID;
    int phys = rt_physical_device(device);
    if (phys < 0)
        return ACL_ERROR_RT_INVALID_DEVICEID;
    rt_context *c = context_new(phys, device, 0);
    if (!c)
        return ACL_ERROR_RT_RESOURCE_ALLOC_FAIL;
    t_ctx = c;
    *ctx = c;
    return RT_ERROR_NONE;
}

RT_API rtError_t rtCtxDestroy(rtContext_t ctx)
{
    rtError_t r = rt_check_init();
    if (r)
        return r;
    rt_context *c = sim_pool_get(&g_contexts, ctx);
    if (!c || c->is_default)
        return ACL_ERROR_RT_INVALID_HANDLE;
    rt_context_wait_idle(c);
    if (t_ctx == c)
        t_ctx = NULL;
    /* its default stream handle dies with it; other streams created in it stay valid handles
     * (the simulator does not track ownership beyond the device) */
    rt_stream *s = c->default_stream;
    c->default_stream = NULL;
    rt_stream_delete(s);
    sim_pool_free(&g_contexts, c);
    return RT_ERROR_NONE;
}

RT_API rtError_t rtCtxSetCurrent(rtContext_t ctx)
{
    rtError_t r = rt_check_init();
    if (r)
        return r;
    rt_context *c = sim_pool_get(&g_contexts, ctx);
    if (!c)
        return ACL_ERROR_RT_INVALID_HANDLE;
    t_ctx = c;
    return RT_ERROR_NONE;
}

RT_API rtError_t rtCtxGetCurrent(rtContext_t *ctx)
{
    rt_context *c;
    if (!ctx)
        return ACL_ERROR_RT_PARAM_INVALID;
    rtError_t r = rt_current(&c);
    if (r)
        return r;
    *ctx = c;
    return RT_ERROR_NONE;
}

/* ------------------------------------------------------------------ identity (sim-only) */

RT_API rtError_t rtHamiSimDeviceInfo(int32_t logicalDevice, hamiSimNpuInfo *info)
{
    rtError_t r = rt_check_init();
    if (r)
        return r;
    if (!info)
        return ACL_ERROR_RT_PARAM_INVALID;
    int phys = rt_physical_device(logicalDevice);
    if (phys < 0)
        return ACL_ERROR_RT_INVALID_DEVICEID;
    const sim_device_state *d = &rt_state()->dev[phys];
    /* distinct from the CUDA form of the same engine device: first 4 bytes xor "NPU1" */
    uint8_t u[16];
    memcpy(u, d->uuid_bytes, 16);
    u[0] ^= 'N';
    u[1] ^= 'P';
    u[2] ^= 'U';
    u[3] ^= '1';
    memset(info, 0, sizeof *info);
    info->logical = logicalDevice;
    info->physical = phys;
    snprintf(info->uuid, sizeof info->uuid,
             "NPU-%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", u[0],
             u[1], u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11], u[12], u[13],
             u[14], u[15]);
    snprintf(info->name, sizeof info->name, "Ascend910B-sim");
    info->total_bytes = d->capacity_bytes;
    info->ai_cores = d->sms;
    return RT_ERROR_NONE;
}

RT_API const char *rtHamiSimLastError(void) { return t_error; }
