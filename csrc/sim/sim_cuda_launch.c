/*
 * Simulated libcuda.so.1: modules and functions, streams, events, kernel launches and graphs,
 * all in virtual time (engine.h): a launch computes its duration, reserves its device from
 * max(now, stream tail, device busy_until) and returns; nothing runs.  Synchronisation sleeps
 * (clock_nanosleep) until the recorded end times.  Each stream keeps the end times of its last
 * 1024 submissions (sim_timeline.h); a launch whose ring slot still holds a future end sleeps
 * until then.
 * Durations: a kernel named "hami_sim_spin" runs for the uint64 nanoseconds its first parameter
 * points at (or the first 8 bytes of a CU_LAUNCH_PARAM_BUFFER_POINTER buffer); any other
 * kernel runs ceil(blocks / SMs) waves of HAMI_SIM_BLOCK_NS.  Any module image loads and any
 * function name resolves.  The NULL/legacy/per-thread stream handles all designate one stream
 * per context (no implicit synchronisation with other streams).  Launches into a capturing
 * stream append a node; a graph launch is one submission lasting the sum of its nodes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hami/clock.h"
#include "sim_cuda.h"

#define STREAM_TAG 0x5354524du /* "STRM" */
#define EVENT_TAG 0x45564e54u  /* "EVNT" */
#define MODULE_TAG 0x4d4f444cu /* "MODL" */
#define FUNC_TAG 0x46554e43u   /* "FUNC" */
#define GRAPH_TAG 0x47524150u  /* "GRAP" */
#define EXEC_TAG 0x47455845u   /* "GEXE" */

#define SPIN_KERNEL_NAME "hami_sim_spin"

typedef struct sim_function {
    _Atomic uint32_t tag;
    int is_spin;
    struct sim_function *next_in_module;
    char name[120];
} sim_function;

typedef struct sim_module {
    _Atomic uint32_t tag;
    pthread_mutex_t lock;
    sim_function *functions;
} sim_module;

typedef struct sim_event {
    _Atomic uint32_t tag;
    unsigned flags;
    _Atomic uint64_t time_ns; /* when the work before the record completes; 0: never recorded */
} sim_event;

typedef struct sim_graph {
    _Atomic uint32_t tag;
    pthread_mutex_t lock;
    uint32_t node_count;
    uint32_t node_capacity;
    uint64_t *node_duration_ns;
} sim_graph;

typedef struct sim_graph_exec {
    _Atomic uint32_t tag;
    int device; /* -1: not bound, runs on the launching stream's device */
    uint32_t node_count;
    uint64_t total_duration_ns;
} sim_graph_exec;

SIM_POOL_DEFINE(g_streams, sim_stream, 2048, STREAM_TAG);
SIM_POOL_DEFINE(g_events, sim_event, 65536, EVENT_TAG);
SIM_POOL_DEFINE(g_modules, sim_module, 1024, MODULE_TAG);
SIM_POOL_DEFINE(g_functions, sim_function, 16384, FUNC_TAG);
SIM_POOL_DEFINE(g_graphs, sim_graph, 1024, GRAPH_TAG);
SIM_POOL_DEFINE(g_graph_execs, sim_graph_exec, 1024, EXEC_TAG);

/* ------------------------------------------------------------------ streams */

sim_stream *sim_stream_new(sim_context *ctx, unsigned flags, int priority)
{
    sim_stream *s = sim_pool_alloc(&g_streams);
    if (!s)
        return NULL;
    sim_timeline_init(&s->tl);
    s->ctx = ctx;
    s->device = ctx->device;
    s->flags = flags;
    s->priority = priority;
    return s;
}

void sim_stream_delete(sim_stream *s)
{
    if (!s)
        return;
    sim_pool_free(&g_streams, s);
}

sim_stream *sim_stream_resolve(sim_context *ctx, CUstream handle)
{
    if (handle == NULL || handle == CU_STREAM_LEGACY || handle == CU_STREAM_PER_THREAD)
        return ctx->null_stream;
    return sim_pool_get(&g_streams, handle);
}

static uint64_t stream_tail(const sim_stream *s) { return sim_timeline_tail(&s->tl); }

/* Queue `duration_ns` of work on `s`.  Blocks (sleeping) while the stream's ring is full. */
static void stream_submit(sim_stream *s, uint64_t duration_ns)
{
    sim_timeline_submit(&s->tl, s->device, duration_ns);
}

static void wait_stream_if_in_ctx(void *elem, void *arg)
{
    sim_stream *s = elem;
    if (s->ctx == arg)
        sim_sleep_until(stream_tail(s));
}

void sim_context_wait_idle(sim_context *ctx)
{
    sim_pool_for_each(&g_streams, wait_stream_if_in_ctx, ctx);
}

static CUresult launch_context(sim_context **ctx)
{
    CUresult r = sim_check_init();
    if (r)
        return r;
    *ctx = sim_current_context();
    return *ctx ? CUDA_SUCCESS : CUDA_ERROR_INVALID_CONTEXT;
}

SIM_API CUresult cuStreamCreateWithPriority(CUstream *phStream, unsigned int flags, int priority)
{
    sim_context *ctx;
    CUresult r = launch_context(&ctx);
    if (r)
        return r;
    if (!phStream || (flags & ~(unsigned)CU_STREAM_NON_BLOCKING))
        return CUDA_ERROR_INVALID_VALUE;
    sim_stream *s = sim_stream_new(ctx, flags, priority);
    if (!s)
        return CUDA_ERROR_OUT_OF_MEMORY;
    *phStream = (CUstream)s;
    return CUDA_SUCCESS;
}

SIM_API CUresult cuStreamCreate(CUstream *phStream, unsigned int flags)
{
    return cuStreamCreateWithPriority(phStream, flags, 0);
}

SIM_API CUresult cuStreamDestroy_v2(CUstream handle)
{
    CUresult r = sim_check_init();
    if (r)
        return r;
    sim_stream *s = sim_pool_get(&g_streams, handle);
    if (!s || (s->ctx && s->ctx->null_stream == s))
        return CUDA_ERROR_INVALID_HANDLE;
    /* pending work still occupies the device (already reserved); the handle dies now */
    sim_stream_delete(s);
    return CUDA_SUCCESS;
}
SIM_API CUresult cuStreamDestroy(CUstream handle) __attribute__((alias("cuStreamDestroy_v2")));

static CUresult resolve(CUstream handle, sim_stream **s)
{
    sim_context *ctx;
    CUresult r = sim_check_init();
    if (r)
        return r;
    if (handle == NULL || handle == CU_STREAM_LEGACY || handle == CU_STREAM_PER_THREAD) {
        ctx = sim_current_context();
        if (!ctx)
            return CUDA_ERROR_INVALID_CONTEXT;
        *s = ctx->null_stream;
        return CUDA_SUCCESS;
    }
    *s = sim_pool_get(&g_streams, handle);
    return *s ? CUDA_SUCCESS : CUDA_ERROR_INVALID_HANDLE;
}

SIM_API CUresult cuStreamSynchronize(CUstream handle)
{
    sim_stream *s;
    CUresult r = resolve(handle, &s);
    if (r)
        return r;
    if (atomic_load(&s->capture))
        return CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED;
    sim_sleep_until(stream_tail(s));
    return CUDA_SUCCESS;
}

SIM_API CUresult cuStreamQuery(CUstream handle)
{
    sim_stream *s;
    CUresult r = resolve(handle, &s);
    if (r)
        return r;
    if (atomic_load(&s->capture))
        return CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED;
    return hami_now_ns() >= stream_tail(s) ? CUDA_SUCCESS : CUDA_ERROR_NOT_READY;
}

/* ------------------------------------------------------------------ events */

SIM_API CUresult cuEventCreate(CUevent *phEvent, unsigned int flags)
{
    sim_context *ctx;
    CUresult r = launch_context(&ctx);
    if (r)
        return r;
    if (!phEvent || (flags & ~(unsigned)(CU_EVENT_BLOCKING_SYNC | CU_EVENT_DISABLE_TIMING |
                                          CU_EVENT_INTERPROCESS)))
        return CUDA_ERROR_INVALID_VALUE;
    sim_event *e = sim_pool_alloc(&g_events);
    if (!e)
        return CUDA_ERROR_OUT_OF_MEMORY;
    e->flags = flags;
    *phEvent = (CUevent)e;
    return CUDA_SUCCESS;
}

/* The live event a handle designates, after the init check; NULL with *err set otherwise. */
static sim_event *event_get(CUevent handle, CUresult *err)
{
    *err = sim_check_init();
    if (*err)
        return NULL;
    sim_event *e = sim_pool_get(&g_events, handle);
    if (!e)
        *err = CUDA_ERROR_INVALID_HANDLE;
    return e;
}

SIM_API CUresult cuEventDestroy_v2(CUevent handle)
{
    CUresult r;
    sim_event *e = event_get(handle, &r);
    if (!e)
        return r;
    sim_pool_free(&g_events, e);
    return CUDA_SUCCESS;
}
SIM_API CUresult cuEventDestroy(CUevent handle) __attribute__((alias("cuEventDestroy_v2")));

SIM_API CUresult cuEventRecord(CUevent hEvent, CUstream hStream)
{
    sim_stream *s;
    CUresult r = resolve(hStream, &s);
    if (r)
        return r;
    sim_event *e = sim_pool_get(&g_events, hEvent);
    if (!e)
        return CUDA_ERROR_INVALID_HANDLE;
    if (atomic_load(&s->capture))
        return CUDA_SUCCESS; /* an event-record node: not modelled, the graph keeps its time */
    atomic_store_explicit(&e->time_ns, sim_timeline_record_time(&s->tl), memory_order_release);
    return CUDA_SUCCESS;
}

SIM_API CUresult cuEventQuery(CUevent handle)
{
    CUresult r;
    sim_event *e = event_get(handle, &r);
    if (!e)
        return r;
    return hami_now_ns() >= atomic_load(&e->time_ns) ? CUDA_SUCCESS : CUDA_ERROR_NOT_READY;
}

SIM_API CUresult cuEventSynchronize(CUevent handle)
{
    CUresult r;
    sim_event *e = event_get(handle, &r);
    if (!e)
        return r;
    sim_sleep_until(atomic_load(&e->time_ns));
    return CUDA_SUCCESS;
}

SIM_API CUresult cuEventElapsedTime_v2(float *ms, CUevent hStart, CUevent hEnd)
{
    CUresult r = sim_check_init();
    if (r)
        return r;
    sim_event *a = sim_pool_get(&g_events, hStart), *b = sim_pool_get(&g_events, hEnd);
    if (!ms)
        return CUDA_ERROR_INVALID_VALUE;
    if (!a || !b || (a->flags & CU_EVENT_DISABLE_TIMING) || (b->flags & CU_EVENT_DISABLE_TIMING))
        return CUDA_ERROR_INVALID_HANDLE;
    uint64_t ta = atomic_load(&a->time_ns), tb = atomic_load(&b->time_ns);
    if (!ta || !tb)
        return CUDA_ERROR_INVALID_HANDLE; /* never recorded */
    uint64_t now = hami_now_ns();
    if (now < ta || now < tb)
        return CUDA_ERROR_NOT_READY;
    *ms = (float)((double)((int64_t)(tb - ta)) / 1e6);
    return CUDA_SUCCESS;
}

SIM_API CUresult cuEventElapsedTime(float *ms, CUevent hStart, CUevent hEnd)
    __attribute__((alias("cuEventElapsedTime_v2")));

SIM_API CUresult cuStreamWaitEvent(CUstream hStream, CUevent hEvent, unsigned int flags)
{
    (void)flags;
    sim_stream *s;
    CUresult r = resolve(hStream, &s);
    if (r)
        return r;
    sim_event *e = sim_pool_get(&g_events, hEvent);
    if (!e)
        return CUDA_ERROR_INVALID_HANDLE;
    sim_timeline_wait_for(&s->tl, atomic_load(&e->time_ns));
    return CUDA_SUCCESS;
}

/* ------------------------------------------------------------------ modules and functions */

static CUresult module_new(CUmodule *out)
{
    CUresult r = sim_check_init();
    if (r)
        return r;
    if (!sim_current_context())
        return CUDA_ERROR_INVALID_CONTEXT;
    if (!out)
        return CUDA_ERROR_INVALID_VALUE;
    sim_module *m = sim_pool_alloc(&g_modules);
    if (!m)
        return CUDA_ERROR_OUT_OF_MEMORY;
    pthread_mutex_init(&m->lock, NULL);
    *out = (CUmodule)m;
    return CUDA_SUCCESS;
}

SIM_API CUresult cuModuleLoad(CUmodule *module, const char *fname)
{
    if (!fname)
        return sim_check_init() ? sim_check_init() : CUDA_ERROR_INVALID_VALUE;
    return module_new(module);
}

SIM_API CUresult cuModuleLoadData(CUmodule *module, const void *image)
{
    if (!image)
        return sim_check_init() ? sim_check_init() : CUDA_ERROR_INVALID_VALUE;
    return module_new(module);
}

SIM_API CUresult cuModuleLoadDataEx(CUmodule *module, const void *image, unsigned int num_options,
                                    CUjit_option *options, void **option_values)
{
    (void)num_options;
    (void)options;
    (void)option_values;
    return cuModuleLoadData(module, image);
}

SIM_API CUresult cuModuleUnload(CUmodule handle)
{
    CUresult r = sim_check_init();
    if (r)
        return r;
    sim_module *m = sim_pool_get(&g_modules, handle);
    if (!m)
        return CUDA_ERROR_INVALID_HANDLE;
    pthread_mutex_lock(&m->lock);
    for (sim_function *f = m->functions, *next; f; f = next) {
        next = f->next_in_module;
        sim_pool_free(&g_functions, f);
    }
    m->functions = NULL;
    pthread_mutex_unlock(&m->lock);
    sim_pool_free(&g_modules, m);
    return CUDA_SUCCESS;
}

SIM_API CUresult cuModuleGetFunction(CUfunction *hfunc, CUmodule handle, const char *name)
{
    CUresult r = sim_check_init();
    if (r)
        return r;
    sim_module *m = sim_pool_get(&g_modules, handle);
    if (!m)
        return CUDA_ERROR_INVALID_HANDLE;
    if (!hfunc || !name)
        return CUDA_ERROR_INVALID_VALUE;
    pthread_mutex_lock(&m->lock);
    sim_function *f = m->functions;
    while (f && strncmp(f->name, name, sizeof f->name - 1) != 0)
        f = f->next_in_module;
    if (!f) {
        f = sim_pool_alloc(&g_functions);
        if (f) {
            snprintf(f->name, sizeof f->name, "%s", name);
            f->is_spin = strcmp(name, SPIN_KERNEL_NAME) == 0;
            f->next_in_module = m->functions;
            m->functions = f;
        }
    }
    pthread_mutex_unlock(&m->lock);
    if (!f)
        return CUDA_ERROR_OUT_OF_MEMORY;
    *hfunc = (CUfunction)f;
    return CUDA_SUCCESS;
}

SIM_API CUresult cuFuncGetAttribute(int *value, CUfunction_attribute attr, CUfunction hfunc)
{
    CUresult r = sim_check_init();
    if (r)
        return r;
    if (!sim_pool_get(&g_functions, hfunc))
        return CUDA_ERROR_INVALID_HANDLE;
    if (!value)
        return CUDA_ERROR_INVALID_VALUE;
    switch (attr) {
    case CU_FUNC_ATTRIBUTE_MAX_THREADS_PER_BLOCK: *value = 1024; break;
    case CU_FUNC_ATTRIBUTE_NUM_REGS: *value = 32; break;
    case CU_FUNC_ATTRIBUTE_PTX_VERSION:
    case CU_FUNC_ATTRIBUTE_BINARY_VERSION: *value = 80; break;
    case CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES: *value = 49152; break;
    default:
        if ((int)attr < 0 || (int)attr > 32)
            return CUDA_ERROR_INVALID_VALUE;
        *value = 0;
        break;
    }
    return CUDA_SUCCESS;
}

/* ------------------------------------------------------------------ launches */

/* Duration of a launch in ns; UINT64_MAX when the spin kernel's parameter is missing. */
static uint64_t kernel_duration_ns(const sim_function *f, int device, unsigned gx, unsigned gy,
                                   unsigned gz, void **params, void **extra)
{
    if (f->is_spin) {
        if (params && params[0])
            return *(const uint64_t *)params[0];
        const void *buffer = NULL;
        size_t buffer_bytes = 0;
        for (int i = 0; extra && extra[i] != CU_LAUNCH_PARAM_END && i < 16; i += 2) {
            if (extra[i] == CU_LAUNCH_PARAM_BUFFER_POINTER)
                buffer = extra[i + 1];
            else if (extra[i] == CU_LAUNCH_PARAM_BUFFER_SIZE && extra[i + 1])
                buffer_bytes = *(const size_t *)extra[i + 1];
            else
                break;
        }
        if (buffer && buffer_bytes >= sizeof(uint64_t)) {
            uint64_t ns;
            memcpy(&ns, buffer, sizeof ns);
            return ns;
        }
        return UINT64_MAX;
    }
    const sim_state *st = sim_state_checked();
    uint64_t blocks = (uint64_t)gx * gy * gz;
    uint64_t sms = st->dev[device].sms;
    return (blocks + sms - 1) / sms * st->block_ns;
}

static void graph_append(sim_graph *g, uint64_t duration_ns);

static CUresult launch(CUfunction hfunc, unsigned gx, unsigned gy, unsigned gz, unsigned bx,
                       unsigned by, unsigned bz, CUstream hstream, void **params, void **extra)
{
    sim_context *ctx;
    CUresult r = launch_context(&ctx);
    if (r)
        return r;
    const sim_function *f = sim_pool_get(&g_functions, hfunc);
    if (!f)
        return CUDA_ERROR_INVALID_HANDLE;
    if (!gx || !gy || !gz || !bx || !by || !bz || (uint64_t)bx * by * bz > 1024)
        return CUDA_ERROR_INVALID_VALUE;
    sim_stream *s = sim_stream_resolve(ctx, hstream);
    if (!s)
        return CUDA_ERROR_INVALID_HANDLE;
    uint64_t duration_ns = kernel_duration_ns(f, s->device, gx, gy, gz, params, extra);
    if (duration_ns == UINT64_MAX)
        return CUDA_ERROR_INVALID_VALUE;
    sim_graph *capture = atomic_load_explicit(&s->capture, memory_order_acquire);
    if (capture) {
        graph_append(capture, duration_ns);
        return CUDA_SUCCESS;
    }
    stream_submit(s, duration_ns);
    return CUDA_SUCCESS;
}

SIM_API CUresult cuLaunchKernel(CUfunction f, unsigned int gridDimX, unsigned int gridDimY,
                                unsigned int gridDimZ, unsigned int blockDimX,
                                unsigned int blockDimY, unsigned int blockDimZ,
                                unsigned int sharedMemBytes, CUstream hStream, void **kernelParams,
                                void **extra)
{
    (void)sharedMemBytes;
    return launch(f, gridDimX, gridDimY, gridDimZ, blockDimX, blockDimY, blockDimZ, hStream,
                  kernelParams, extra);
}

SIM_API CUresult cuLaunchCooperativeKernel(CUfunction f, unsigned int gridDimX,
                                           unsigned int gridDimY, unsigned int gridDimZ,
                                           unsigned int blockDimX, unsigned int blockDimY,
                                           unsigned int blockDimZ, unsigned int sharedMemBytes,
                                           CUstream hStream, void **kernelParams)
{
    (void)sharedMemBytes;
    return launch(f, gridDimX, gridDimY, gridDimZ, blockDimX, blockDimY, blockDimZ, hStream,
                  kernelParams, NULL);
}

SIM_API CUresult cuLaunchKernelEx(const CUlaunchConfig *config, CUfunction f, void **kernelParams,
                                  void **extra)
{
    if (!config)
        return sim_check_init() ? sim_check_init() : CUDA_ERROR_INVALID_VALUE;
    if (config->numAttrs && !config->attrs)
        return CUDA_ERROR_INVALID_VALUE;
    return launch(f, config->gridDimX, config->gridDimY, config->gridDimZ, config->blockDimX,
                  config->blockDimY, config->blockDimZ, config->hStream, kernelParams, extra);
}

SIM_API CUresult cuLaunchKernel_ptsz(CUfunction, unsigned int, unsigned int, unsigned int,
                                     unsigned int, unsigned int, unsigned int, unsigned int,
                                     CUstream, void **, void **)
    __attribute__((alias("cuLaunchKernel")));
SIM_API CUresult cuLaunchCooperativeKernel_ptsz(CUfunction, unsigned int, unsigned int,
                                                unsigned int, unsigned int, unsigned int,
                                                unsigned int, unsigned int, CUstream, void **)
    __attribute__((alias("cuLaunchCooperativeKernel")));
SIM_API CUresult cuLaunchKernelEx_ptsz(const CUlaunchConfig *, CUfunction, void **, void **)
    __attribute__((alias("cuLaunchKernelEx")));
SIM_API CUresult cuStreamSynchronize_ptsz(CUstream) __attribute__((alias("cuStreamSynchronize")));
SIM_API CUresult cuStreamQuery_ptsz(CUstream) __attribute__((alias("cuStreamQuery")));
SIM_API CUresult cuEventRecord_ptsz(CUevent, CUstream) __attribute__((alias("cuEventRecord")));
SIM_API CUresult cuStreamWaitEvent_ptsz(CUstream, CUevent, unsigned int)
    __attribute__((alias("cuStreamWaitEvent")));

/* ------------------------------------------------------------------ graphs */

static sim_graph *graph_new(void)
{
    sim_graph *g = sim_pool_alloc(&g_graphs);
    if (g)
        pthread_mutex_init(&g->lock, NULL);
    return g;
}

static void graph_append(sim_graph *g, uint64_t duration_ns)
{
    pthread_mutex_lock(&g->lock);
    if (g->node_count == g->node_capacity) {
        uint32_t cap = g->node_capacity ? g->node_capacity * 2 : 16;
        uint64_t *grown = realloc(g->node_duration_ns, cap * sizeof *grown);
        if (!grown) { /* out of host memory: fold into the last node so time is not lost */
            if (g->node_count)
                g->node_duration_ns[g->node_count - 1] += duration_ns;
            pthread_mutex_unlock(&g->lock);
            return;
        }
        g->node_duration_ns = grown;
        g->node_capacity = cap;
    }
    g->node_duration_ns[g->node_count++] = duration_ns;
    pthread_mutex_unlock(&g->lock);
}

SIM_API CUresult cuGraphCreate(CUgraph *phGraph, unsigned int flags)
{
    CUresult r = sim_check_init();
    if (r)
        return r;
    if (!phGraph || flags)
        return CUDA_ERROR_INVALID_VALUE;
    sim_graph *g = graph_new();
    if (!g)
        return CUDA_ERROR_OUT_OF_MEMORY;
    *phGraph = (CUgraph)g;
    return CUDA_SUCCESS;
}

SIM_API CUresult cuGraphDestroy(CUgraph handle)
{
    CUresult r = sim_check_init();
    if (r)
        return r;
    sim_graph *g = sim_pool_get(&g_graphs, handle);
    if (!g)
        return CUDA_ERROR_INVALID_VALUE;
    pthread_mutex_lock(&g->lock);
    free(g->node_duration_ns);
    g->node_duration_ns = NULL;
    g->node_count = g->node_capacity = 0;
    pthread_mutex_unlock(&g->lock);
    sim_pool_free(&g_graphs, g);
    return CUDA_SUCCESS;
}

static CUresult add_kernel_node(CUgraphNode *node, CUgraph handle, const CUgraphNode *deps,
                                size_t ndeps, CUfunction hfunc, unsigned gx, unsigned gy,
                                unsigned gz, void **params, void **extra)
{
    CUresult r = sim_check_init();
    if (r)
        return r;
    sim_graph *g = sim_pool_get(&g_graphs, handle);
    if (!g || !node || (ndeps && !deps))
        return CUDA_ERROR_INVALID_VALUE;
    const sim_function *f = sim_pool_get(&g_functions, hfunc);
    if (!f)
        return CUDA_ERROR_INVALID_VALUE;
    if (!gx || !gy || !gz)
        return CUDA_ERROR_INVALID_VALUE;
    sim_context *ctx = sim_current_context();
    int device = ctx ? ctx->device : 0;
    uint64_t duration_ns = kernel_duration_ns(f, device, gx, gy, gz, params, extra);
    if (duration_ns == UINT64_MAX)
        return CUDA_ERROR_INVALID_VALUE;
    graph_append(g, duration_ns);
    /* node handles are opaque ids: graph slot and node index, never dereferenced */
    *node = (CUgraphNode)(uintptr_t)(0x6000000000000000ull |
                                     ((uint64_t)(uintptr_t)g & 0xffffffffffull) << 16 |
                                     (g->node_count & 0xffff));
    return CUDA_SUCCESS;
}

SIM_API CUresult cuGraphAddKernelNode_v2(CUgraphNode *node, CUgraph graph, const CUgraphNode *deps,
                                         size_t ndeps, const CUDA_KERNEL_NODE_PARAMS *p)
{
    if (!p)
        return sim_check_init() ? sim_check_init() : CUDA_ERROR_INVALID_VALUE;
    return add_kernel_node(node, graph, deps, ndeps, p->func, p->gridDimX, p->gridDimY,
                           p->gridDimZ, p->kernelParams, p->extra);
}

SIM_API CUresult cuGraphAddKernelNode(CUgraphNode *node, CUgraph graph, const CUgraphNode *deps,
                                      size_t ndeps, const CUDA_KERNEL_NODE_PARAMS_v1 *p)
{
    if (!p)
        return sim_check_init() ? sim_check_init() : CUDA_ERROR_INVALID_VALUE;
    return add_kernel_node(node, graph, deps, ndeps, p->func, p->gridDimX, p->gridDimY,
                           p->gridDimZ, p->kernelParams, p->extra);
}

SIM_API CUresult cuGraphInstantiateWithFlags(CUgraphExec *phExec, CUgraph handle,
                                             unsigned long long flags)
{
    (void)flags;
    CUresult r = sim_check_init();
    if (r)
        return r;
    sim_graph *g = sim_pool_get(&g_graphs, handle);
    if (!g || !phExec)
        return CUDA_ERROR_INVALID_VALUE;
    sim_graph_exec *x = sim_pool_alloc(&g_graph_execs);
    if (!x)
        return CUDA_ERROR_OUT_OF_MEMORY;
    pthread_mutex_lock(&g->lock);
    x->node_count = g->node_count;
    for (uint32_t i = 0; i < g->node_count; i++)
        x->total_duration_ns += g->node_duration_ns[i];
    pthread_mutex_unlock(&g->lock);
    x->device = -1;
    *phExec = (CUgraphExec)x;
    return CUDA_SUCCESS;
}

SIM_API CUresult cuGraphInstantiate_v2(CUgraphExec *phExec, CUgraph graph, CUgraphNode *err_node,
                                       char *log, size_t log_bytes)
{
    if (err_node)
        *err_node = NULL;
    if (log && log_bytes)
        log[0] = 0;
    return cuGraphInstantiateWithFlags(phExec, graph, 0);
}

SIM_API CUresult cuGraphInstantiate(CUgraphExec *, CUgraph, CUgraphNode *, char *, size_t)
    __attribute__((alias("cuGraphInstantiate_v2")));

SIM_API CUresult cuGraphExecDestroy(CUgraphExec handle)
{
    CUresult r = sim_check_init();
    if (r)
        return r;
    sim_graph_exec *x = sim_pool_get(&g_graph_execs, handle);
    if (!x)
        return CUDA_ERROR_INVALID_VALUE;
    sim_pool_free(&g_graph_execs, x);
    return CUDA_SUCCESS;
}

SIM_API CUresult cuGraphLaunch(CUgraphExec handle, CUstream hStream)
{
    sim_stream *s;
    CUresult r = resolve(hStream, &s);
    if (r)
        return r;
    const sim_graph_exec *x = sim_pool_get(&g_graph_execs, handle);
    if (!x)
        return CUDA_ERROR_INVALID_VALUE;
    sim_graph *capture = atomic_load(&s->capture);
    if (capture) {
        graph_append(capture, x->total_duration_ns);
        return CUDA_SUCCESS;
    }
    stream_submit(s, x->total_duration_ns);
    return CUDA_SUCCESS;
}
SIM_API CUresult cuGraphLaunch_ptsz(CUgraphExec, CUstream) __attribute__((alias("cuGraphLaunch")));

SIM_API CUresult cuStreamBeginCapture_v2(CUstream hStream, CUstreamCaptureMode mode)
{
    sim_stream *s;
    CUresult r = resolve(hStream, &s);
    if (r)
        return r;
    if ((unsigned)mode > CU_STREAM_CAPTURE_MODE_RELAXED)
        return CUDA_ERROR_INVALID_VALUE;
    if (s->ctx && s == s->ctx->null_stream)
        return CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED; /* the legacy stream cannot capture */
    sim_graph *g = graph_new();
    if (!g)
        return CUDA_ERROR_OUT_OF_MEMORY;
    sim_graph *none = NULL;
    if (!atomic_compare_exchange_strong(&s->capture, &none, g)) {
        sim_pool_free(&g_graphs, g);
        return CUDA_ERROR_ILLEGAL_STATE;
    }
    return CUDA_SUCCESS;
}

SIM_API CUresult cuStreamBeginCapture(CUstream hStream)
{
    return cuStreamBeginCapture_v2(hStream, CU_STREAM_CAPTURE_MODE_GLOBAL);
}

SIM_API CUresult cuStreamEndCapture(CUstream hStream, CUgraph *phGraph)
{
    sim_stream *s;
    CUresult r = resolve(hStream, &s);
    if (r)
        return r;
    if (!phGraph)
        return CUDA_ERROR_INVALID_VALUE;
    sim_graph *g = atomic_exchange(&s->capture, NULL);
    if (!g)
        return CUDA_ERROR_ILLEGAL_STATE;
    *phGraph = (CUgraph)g;
    return CUDA_SUCCESS;
}

SIM_API CUresult cuStreamIsCapturing(CUstream hStream, CUstreamCaptureStatus *status)
{
    sim_stream *s;
    CUresult r = resolve(hStream, &s);
    if (r)
        return r;
    if (!status)
        return CUDA_ERROR_INVALID_VALUE;
    *status = atomic_load(&s->capture) ? CU_STREAM_CAPTURE_STATUS_ACTIVE
                                       : CU_STREAM_CAPTURE_STATUS_NONE;
    return CUDA_SUCCESS;
}

SIM_API CUresult cuStreamBeginCapture_ptsz(CUstream) __attribute__((alias("cuStreamBeginCapture")));
SIM_API CUresult cuStreamBeginCapture_v2_ptsz(CUstream, CUstreamCaptureMode)
    __attribute__((alias("cuStreamBeginCapture_v2")));
SIM_API CUresult cuStreamEndCapture_ptsz(CUstream, CUgraph *)
    __attribute__((alias("cuStreamEndCapture")));
SIM_API CUresult cuStreamIsCapturing_ptsz(CUstream, CUstreamCaptureStatus *)
    __attribute__((alias("cuStreamIsCapturing")));
