/*
 * Simulated CANN runtime: device binaries and kernel functions, every kernel submission path
 * (rtKernelLaunch, rtKernelLaunchWithHandleV2, rtLaunchKernelByFuncHandleV3,
 * rtsLaunchKernelWithHostArgs) and models (rtModelCreate .. rtModelExecute), in virtual time.
 *
 * Durations (DESIGN 3.5): a function named "hami_sim_spin" runs for the uint64 nanoseconds in
 * the first 8 bytes of its argument block; any other kernel runs ceil(blocks / AI cores) waves
 * of HAMI_SIM_BLOCK_NS.  rtKernelLaunchWithHandleV2 takes a binary handle, not a function: a
 * binary whose image starts with the bytes "hami_sim_spin" spins (whatever the tiling key),
 * any other runs in waves.  Any image loads; any function name resolves.
 * A model is a list of task durations (added by the simulator-only rtHamiSimModelAddTask, where
 * real CANN records the launches issued on a stream bound to the model); rtModelExecute is one
 * submission lasting their sum.
 */
#include <stdio.h>
#include <string.h>

#include "rt_sim.h"

#define BINARY_TAG 0x4142494eu /* "ABIN" */
#define FUNC_TAG 0x4146554eu   /* "AFUN" */
#define MODEL_TAG 0x414d444cu  /* "AMDL" */
#define SPIN_NAME "hami_sim_spin"
#define STUB_SLOTS 4096

typedef struct rt_function {
    _Atomic uint32_t tag;
    int is_spin;
    struct rt_function *next_in_binary;
    char name[120];
} rt_function;

typedef struct rt_binary {
    _Atomic uint32_t tag;
    int is_spin;
    pthread_mutex_t lock;
    rt_function *functions;
} rt_binary;

typedef struct rt_model {
    _Atomic uint32_t tag;
    pthread_mutex_t lock;
    uint32_t task_count;
    uint64_t total_duration_ns;
    int load_complete;
} rt_model;

SIM_POOL_DEFINE(g_binaries, rt_binary, 1024, BINARY_TAG);
SIM_POOL_DEFINE(g_functions, rt_function, 16384, FUNC_TAG);
SIM_POOL_DEFINE(g_models, rt_model, 1024, MODEL_TAG);

/* rtFunctionRegister: host stub address -> function */
static pthread_mutex_t g_stub_lock = PTHREAD_MUTEX_INITIALIZER;
static const void *g_stub_keys[STUB_SLOTS];
static rt_function *g_stub_funcs[STUB_SLOTS];
static int g_stub_count;

/* ------------------------------------------------------------------ binaries and functions */

static rtError_t binary_load(const void *data, uint64_t length, rtBinHandle *handle)
{
    rtError_t r = rt_check_init();
    if (r)
        return r;
    if (!data || length == 0 || !handle)
        return ACL_ERROR_RT_PARAM_INVALID;
    rt_binary *b = sim_pool_alloc(&g_binaries);
    if (!b)
        return ACL_ERROR_RT_RESOURCE_ALLOC_FAIL;
    pthread_mutex_init(&b->lock, NULL);
    b->is_spin = length >= strlen(SPIN_NAME) && memcmp(data, SPIN_NAME, strlen(SPIN_NAME)) == 0;
    *handle = b;
    return RT_ERROR_NONE;
}

RT_API rtError_t rtsBinaryLoadFromData(const void *data, uint64_t length,
                                       const rtLoadBinaryConfig_t *cfg, rtBinHandle *handle)
{
    (void)cfg;
    return binary_load(data, length, handle);
}

RT_API rtError_t rtDevBinaryRegister(const rtDevBinary_t *bin, void **hdl)
{
    if (!bin)
        return ACL_ERROR_RT_PARAM_INVALID;
    return binary_load(bin->data, bin->length, hdl);
}

RT_API rtError_t rtBinaryUnLoad(rtBinHandle handle)
{
    rtError_t r = rt_check_init();
    if (r)
        return r;
    rt_binary *b = sim_pool_get(&g_binaries, handle);
    if (!b)
        return ACL_ERROR_RT_INVALID_HANDLE;
    /* functions stay valid handles: a launch already queued may still name them */
    sim_pool_free(&g_binaries, b);
    return RT_ERROR_NONE;
}

RT_API rtError_t rtDevBinaryUnRegister(void *hdl) { return rtBinaryUnLoad(hdl); }

static rt_function *function_get_or_add(rt_binary *b, const char *name)
{
    pthread_mutex_lock(&b->lock);
    rt_function *f = b->functions;
    while (f && strncmp(f->name, name, sizeof f->name - 1) != 0)
        f = f->next_in_binary;
    if (!f) {
        f = sim_pool_alloc(&g_functions);
        if (f) {
            snprintf(f->name, sizeof f->name, "%s", name);
            f->is_spin = strcmp(name, SPIN_NAME) == 0;
            f->next_in_binary = b->functions;
            b->functions = f;
        }
    }
    pthread_mutex_unlock(&b->lock);
    return f;
}

RT_API rtError_t rtsFuncGetByName(const rtBinHandle binHandle, const char *kernelName,
                                  rtFuncHandle *funcHandle)
{
    rtError_t r = rt_check_init();
    if (r)
        return r;
    rt_binary *b = sim_pool_get(&g_binaries, binHandle);
    if (!b)
        return ACL_ERROR_RT_INVALID_HANDLE;
    if (!kernelName || !funcHandle)
        return ACL_ERROR_RT_PARAM_INVALID;
    rt_function *f = function_get_or_add(b, kernelName);
    if (!f)
        return ACL_ERROR_RT_RESOURCE_ALLOC_FAIL;
    *funcHandle = f;
    return RT_ERROR_NONE;
}

RT_API rtError_t rtFunctionRegister(void *binHandle, const void *stubFunc, const char *stubName,
                                    const void *devFunc, uint32_t funcMode)
{
    (void)funcMode;
    rtError_t r = rt_check_init();
    if (r)
        return r;
    rt_binary *b = sim_pool_get(&g_binaries, binHandle);
    if (!b)
        return ACL_ERROR_RT_INVALID_HANDLE;
    if (!stubFunc || !stubName)
        return ACL_ERROR_RT_PARAM_INVALID;
    const char *name = devFunc ? (const char *)devFunc : stubName;
    rt_function *f = function_get_or_add(b, name);
    if (!f)
        return ACL_ERROR_RT_RESOURCE_ALLOC_FAIL;
    pthread_mutex_lock(&g_stub_lock);
    int i = 0;
    while (i < g_stub_count && g_stub_keys[i] != stubFunc)
        i++;
    if (i == g_stub_count && g_stub_count < STUB_SLOTS)
        g_stub_count++;
    if (i < STUB_SLOTS) {
        g_stub_keys[i] = stubFunc;
        g_stub_funcs[i] = f;
    }
    pthread_mutex_unlock(&g_stub_lock);
    return i < STUB_SLOTS ? RT_ERROR_NONE : ACL_ERROR_RT_RESOURCE_ALLOC_FAIL;
}

static rt_function *function_of_stub(const void *stub)
{
    rt_function *f = NULL;
    pthread_mutex_lock(&g_stub_lock);
    for (int i = 0; i < g_stub_count && !f; i++)
        if (g_stub_keys[i] == stub)
            f = g_stub_funcs[i];
    pthread_mutex_unlock(&g_stub_lock);
    return f && sim_pool_get(&g_functions, f) ? f : NULL;
}

/* ------------------------------------------------------------------ launches */

/* Duration of a kernel in ns; UINT64_MAX when a spin kernel lacks its 8-byte argument. */
static uint64_t kernel_duration_ns(int is_spin, int device, uint32_t blocks, const void *args,
                                   uint64_t args_bytes)
{
    if (is_spin) {
        if (!args || args_bytes < sizeof(uint64_t))
            return UINT64_MAX;
        uint64_t ns;
        memcpy(&ns, args, sizeof ns);
        return ns;
    }
    const sim_state *st = rt_state();
    uint64_t cores = st->dev[device].sms ? st->dev[device].sms : 1;
    return ((uint64_t)blocks + cores - 1) / cores * st->block_ns;
}

static rtError_t submit(int is_spin, uint32_t blocks, const void *args, uint64_t args_bytes,
                        rtStream_t stream)
{
    rtError_t r;
    rt_stream *s = rt_stream_resolve(stream, &r);
    if (!s)
        return r;
    if (blocks == 0)
        return ACL_ERROR_RT_PARAM_INVALID;
    uint64_t duration_ns = kernel_duration_ns(is_spin, s->device, blocks, args, args_bytes);
    if (duration_ns == UINT64_MAX) {
        rt_set_error(SPIN_NAME " needs its duration (uint64 ns) in the first 8 argument bytes");
        return ACL_ERROR_RT_PARAM_INVALID;
    }
    rt_stream_submit(s, duration_ns);
    return RT_ERROR_NONE;
}

RT_API rtError_t rtKernelLaunch(const void *stubFunc, uint32_t blockDim, void *args,
                                uint32_t argsSize, rtSmDesc_t *smDesc, rtStream_t stream)
{
    (void)smDesc;
    rtError_t r = rt_check_init();
    if (r)
        return r;
    rt_function *f = function_of_stub(stubFunc);
    if (!f)
        return ACL_ERROR_RT_INVALID_HANDLE;
    return submit(f->is_spin, blockDim, args, argsSize, stream);
}

RT_API rtError_t rtKernelLaunchWithHandleV2(void *hdl, uint64_t tilingKey, uint32_t blockDim,
                                            rtArgsEx_t *argsInfo, rtSmDesc_t *smDesc,
                                            rtStream_t stream, const rtTaskCfgInfo_t *cfgInfo)
{
    (void)tilingKey;
    (void)smDesc;
    (void)cfgInfo;
    rtError_t r = rt_check_init();
    if (r)
        return r;
    rt_binary *b = sim_pool_get(&g_binaries, hdl);
    if (!b)
        return ACL_ERROR_RT_INVALID_HANDLE;
    if (!argsInfo)
        return ACL_ERROR_RT_PARAM_INVALID;
    return submit(b->is_spin, blockDim, argsInfo->args, argsInfo->argsSize, stream);
}

RT_API rtError_t rtLaunchKernelByFuncHandleV3(rtFuncHandle funcHandle, uint32_t blockDim,
                                              const rtArgsEx_t *argsInfo, rtStream_t stream,
                                              const rtTaskCfgInfo_t *cfgInfo)
{
    (void)cfgInfo;
    rtError_t r = rt_check_init();
    if (r)
        return r;
    const rt_function *f = sim_pool_get(&g_functions, funcHandle);
    if (!f)
        return ACL_ERROR_RT_INVALID_HANDLE;
    if (!argsInfo)
        return ACL_ERROR_RT_PARAM_INVALID;
    return submit(f->is_spin, blockDim, argsInfo->args, argsInfo->argsSize, stream);
}

RT_API rtError_t rtsLaunchKernelWithHostArgs(rtFuncHandle funcHandle, uint32_t blockDim,
                                             rtStream_t stream, rtKernelLaunchCfg_t *cfg,
                                             void *hostArgs, uint32_t argsSize,
                                             rtPlaceHolderInfo_t *placeHolderArray,
                                             uint32_t placeHolderNum)
{
    (void)cfg;
    rtError_t r = rt_check_init();
    if (r)
        return r;
    const rt_function *f = sim_pool_get(&g_functions, funcHandle);
    if (!f)
        return ACL_ERROR_RT_INVALID_HANDLE;
    if ((argsSize && !hostArgs) || (placeHolderNum && !placeHolderArray))
        return ACL_ERROR_RT_PARAM_INVALID;
    return submit(f->is_spin, blockDim, hostArgs, argsSize, stream);
}

/* ------------------------------------------------------------------ models */

RT_API rtError_t rtModelCreate(rtModel_t *model, uint32_t flag)
{
    (void)flag;
    rtError_t r = rt_check_init();
    if (r)
        return r;
    if (!model)
        return ACL_ERROR_RT_PARAM_INVALID;
    rt_model *m = sim_pool_alloc(&g_models);
    if (!m)
        return ACL_ERROR_RT_NO_MODEL_RESOURCE;
    pthread_mutex_init(&m->lock, NULL);
    *model = m;
    return RT_ERROR_NONE;
}

RT_API rtError_t rtModelDestroy(rtModel_t model)
{
    rtError_t r = rt_check_init();
    if (r)
        return r;
    rt_model *m = sim_pool_get(&g_models, model);
    if (!m)
        return ACL_ERROR_RT_INVALID_HANDLE;
    sim_pool_free(&g_models, m);
    return RT_ERROR_NONE;
}

/* Simulator-only: append a task of `duration_ns` to a model that is still loading. */
RT_API rtError_t rtHamiSimModelAddTask(rtModel_t model, uint64_t duration_ns)
{
    rtError_t r = rt_check_init();
    if (r)
        return r;
    rt_model *m = sim_pool_get(&g_models, model);
    if (!m)
        return ACL_ERROR_RT_INVALID_HANDLE;
    pthread_mutex_lock(&m->lock);
    int ok = !m->load_complete;
    if (ok) {
        m->task_count++;
        m->total_duration_ns += duration_ns;
    }
    pthread_mutex_unlock(&m->lock);
    return ok ? RT_ERROR_NONE : ACL_ERROR_RT_PARAM_INVALID;
}

RT_API rtError_t rtModelLoadComplete(rtModel_t model)
{
    rtError_t r = rt_check_init();
    if (r)
        return r;
    rt_model *m = sim_pool_get(&g_models, model);
    if (!m)
        return ACL_ERROR_RT_INVALID_HANDLE;
    pthread_mutex_lock(&m->lock);
    m->load_complete = 1;
    pthread_mutex_unlock(&m->lock);
    return RT_ERROR_NONE;
}

RT_API rtError_t rtModelExecute(rtModel_t model, rtStream_t stream, uint32_t flag)
{
    (void)flag;
    rtError_t r = rt_check_init();
    if (r)
        return r;
    rt_model *m = sim_pool_get(&g_models, model);
    if (!m)
        return ACL_ERROR_RT_INVALID_HANDLE;
    pthread_mutex_lock(&m->lock);
    int ready = m->load_complete;
    uint64_t total_ns = m->total_duration_ns;
    pthread_mutex_unlock(&m->lock);
    if (!ready)
        return ACL_ERROR_RT_PARAM_INVALID;
    rt_stream *s = rt_stream_resolve(stream, &r);
    if (!s)
        return r;
    rt_stream_submit(s, total_ns);
    return RT_ERROR_NONE;
}
