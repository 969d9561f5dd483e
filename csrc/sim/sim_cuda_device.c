/*
 * Simulated libcuda.so.1: initialisation, driver version, devices and their attributes,
 * CUDA_VISIBLE_DEVICES, contexts (primary and created, a per-thread context stack), error
 * names and strings, cuGetExportTable, and the simulator-only ground-truth calls.
 *
 * cuInit on a refused state file (corrupt, foreign) returns CUDA_ERROR_NO_DEVICE, as the real
 * driver does on a machine without GPUs; every other call then returns
 * CUDA_ERROR_NOT_INITIALIZED.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hami/clock.h"
#include "sim_cuda.h"

#define CTX_TAG 0x43545831u /* "CTX1" */
#define CTX_STACK_DEPTH 64

SIM_POOL_DEFINE(g_contexts, sim_context, 256, CTX_TAG);

static pthread_mutex_t g_init_lock = PTHREAD_MUTEX_INITIALIZER;
static _Atomic int g_init_result = -1; /* -1: cuInit not called yet */
static int g_visible[HAMI_SIM_MAX_DEVICES]; /* ordinal -> physical */
static int g_visible_count;

typedef struct primary_context {
    sim_context *ctx;
    int retains;
    unsigned flags;
} primary_context;
static primary_context g_primary[HAMI_SIM_MAX_DEVICES];
static pthread_mutex_t g_primary_lock = PTHREAD_MUTEX_INITIALIZER;

static __thread sim_context *t_ctx_stack[CTX_STACK_DEPTH];
static __thread int t_ctx_depth;

/* ------------------------------------------------------------------ init and devices */

/* CUDA_VISIBLE_DEVICES: comma list of ordinals or UUID prefixes ("GPU-1a2b"); parsing stops at
 * the first entry that names no device or repeats one, as the real driver does. */
static void parse_visible_devices(const sim_state *st)
{
    const char *env = getenv("CUDA_VISIBLE_DEVICES");
    g_visible_count = 0;
    if (!env) {
        for (uint32_t i = 0; i < st->devices; i++)
            g_visible[g_visible_count++] = (int)i;
        return;
    }
    char buf[1024];
    snprintf(buf, sizeof buf, "%s", env);
    char *save = NULL;
    for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        while (*tok == ' ')
            tok++;
        int phys = -1;
        if (*tok >= '0' && *tok <= '9') {
            char *end = NULL;
            long v = strtol(tok, &end, 10);
            if (*end == 0 && v >= 0 && (uint32_t)v < st->devices)
                phys = (int)v;
        } else if (strncmp(tok, "GPU-", 4) == 0 && strlen(tok) > 4) {
            for (uint32_t i = 0; i < st->devices; i++) {
                if (strncmp(st->dev[i].uuid, tok, strlen(tok)) == 0) {
                    phys = (int)i;
                    break;
                }
            }
        }
        if (phys < 0)
            break;
        for (int j = 0; j < g_visible_count; j++)
            if (g_visible[j] == phys)
                phys = -1;
        if (phys < 0)
            break;
        g_visible[g_visible_count++] = phys;
    }
}

SIM_API CUresult cuInit(unsigned int flags)
{
    if (flags != 0)
        return CUDA_ERROR_INVALID_VALUE;
    int r = atomic_load_explicit(&g_init_result, memory_order_acquire);
    if (r >= 0)
        return (CUresult)r;
    pthread_mutex_lock(&g_init_lock);
    r = atomic_load(&g_init_result);
    if (r < 0) {
        sim_state *st = sim_engine_state();
        if (!st) {
            r = CUDA_ERROR_NO_DEVICE;
        } else {
            parse_visible_devices(st);
            r = g_visible_count ? CUDA_SUCCESS : CUDA_ERROR_NO_DEVICE;
        }
        atomic_store_explicit(&g_init_result, r, memory_order_release);
    }
    pthread_mutex_unlock(&g_init_lock);
    return (CUresult)r;
}

CUresult sim_check_init(void)
{
    return atomic_load_explicit(&g_init_result, memory_order_acquire) == CUDA_SUCCESS
               ? CUDA_SUCCESS
               : CUDA_ERROR_NOT_INITIALIZED;
}

int sim_physical_device(CUdevice ordinal)
{
    if (ordinal < 0 || ordinal >= g_visible_count)
        return -1;
    return g_visible[ordinal];
}

const sim_state *sim_state_checked(void) { return sim_engine_state(); }

SIM_API CUresult cuDriverGetVersion(int *version)
{
    if (!version)
        return CUDA_ERROR_INVALID_VALUE;
    *version = CUDA_VERSION_SIMULATED;
    return CUDA_SUCCESS;
}

SIM_API CUresult cuDeviceGetCount(int *count)
{
    CUresult r = sim_check_init();
    if (r)
        return r;
    if (!count)
        return CUDA_ERROR_INVALID_VALUE;
    *count = g_visible_count;
    return CUDA_SUCCESS;
}

SIM_API CUresult cuDeviceGet(CUdevice *device, int ordinal)
{
    CUresult r = sim_check_init();
    if (r)
        return r;
    if (!device)
        return CUDA_ERROR_INVALID_VALUE;
    if (sim_physical_device(ordinal) < 0)
        return CUDA_ERROR_INVALID_DEVICE;
    *device = ordinal;
    return CUDA_SUCCESS;
}

static const sim_device_state *device_state(CUdevice dev, CUresult *r)
{
    *r = sim_check_init();
    if (*r)
        return NULL;
    int phys = sim_physical_device(dev);
    if (phys < 0) {
        *r = CUDA_ERROR_INVALID_DEVICE;
        return NULL;
    }
    return &sim_engine_state()->dev[phys];
}

SIM_API CUresult cuDeviceGetName(char *name, int len, CUdevice dev)
{
    CUresult r;
    const sim_device_state *d = device_state(dev, &r);
    if (!d)
        return r;
    if (!name || len <= 0)
        return CUDA_ERROR_INVALID_VALUE;
    snprintf(name, (size_t)len, "%s", d->name);
    return CUDA_SUCCESS;
}

SIM_API CUresult cuDeviceGetUuid_v2(CUuuid *uuid, CUdevice dev)
{
    CUresult r;
    const sim_device_state *d = device_state(dev, &r);
    if (!d)
        return r;
    if (!uuid)
        return CUDA_ERROR_INVALID_VALUE;
    memcpy(uuid->bytes, d->uuid_bytes, 16);
    return CUDA_SUCCESS;
}
SIM_API CUresult cuDeviceGetUuid(CUuuid *uuid, CUdevice dev)
    __attribute__((alias("cuDeviceGetUuid_v2")));

SIM_API CUresult cuDeviceTotalMem_v2(size_t *bytes, CUdevice dev)
{
    CUresult r;
    const sim_device_state *d = device_state(dev, &r);
    if (!d)
        return r;
    if (!bytes)
        return CUDA_ERROR_INVALID_VALUE;
    *bytes = (size_t)d->capacity_bytes;
    return CUDA_SUCCESS;
}

SIM_API CUresult cuDeviceComputeCapability(int *major, int *minor, CUdevice dev)
{
    CUresult r;
    const sim_device_state *d = device_state(dev, &r);
    if (!d)
        return r;
    if (!major || !minor)
        return CUDA_ERROR_INVALID_VALUE;
    *major = 8;
    *minor = 0;
    return CUDA_SUCCESS;
}

SIM_API CUresult cuDeviceGetAttribute(int *value, CUdevice_attribute attr, CUdevice dev)
{
    CUresult r;
    const sim_device_state *d = device_state(dev, &r);
    if (!d)
        return r;
    if (!value)
        return CUDA_ERROR_INVALID_VALUE;
    int v;
    switch (attr) {
    case CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_BLOCK: v = 1024; break;
    case CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_X: v = 1024; break;
    case CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_Y: v = 1024; break;
    case CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_Z: v = 64; break;
    case CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_X: v = 2147483647; break;
    case CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_Y: v = 65535; break;
    case CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_Z: v = 65535; break;
    case CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK: v = 49152; break;
    case CU_DEVICE_ATTRIBUTE_TOTAL_CONSTANT_MEMORY: v = 65536; break;
    case CU_DEVICE_ATTRIBUTE_WARP_SIZE: v = 32; break;
    case CU_DEVICE_ATTRIBUTE_MAX_PITCH: v = 2147483647; break;
    case CU_DEVICE_ATTRIBUTE_MAX_REGISTERS_PER_BLOCK: v = 65536; break;
    case CU_DEVICE_ATTRIBUTE_CLOCK_RATE: v = 1410000; break;
    case CU_DEVICE_ATTRIBUTE_TEXTURE_ALIGNMENT: v = 512; break;
    case CU_DEVICE_ATTRIBUTE_GPU_OVERLAP: v = 1; break;
    case CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT: v = (int)d->sms; break;
    case CU_DEVICE_ATTRIBUTE_KERNEL_EXEC_TIMEOUT: v = 0; break;
    case CU_DEVICE_ATTRIBUTE_INTEGRATED: v = 0; break;
    case CU_DEVICE_ATTRIBUTE_CAN_MAP_HOST_MEMORY: v = 1; break;
    case CU_DEVICE_ATTRIBUTE_COMPUTE_MODE: v = 0; break;
    case CU_DEVICE_ATTRIBUTE_CONCURRENT_KERNELS: v = 1; break;
    case CU_DEVICE_ATTRIBUTE_ECC_ENABLED: v = 0; break;
    case CU_DEVICE_ATTRIBUTE_PCI_BUS_ID: v = (int)d->index + 1; break;
    case CU_DEVICE_ATTRIBUTE_PCI_DEVICE_ID: v = 0; break;
    case CU_DEVICE_ATTRIBUTE_TCC_DRIVER: v = 0; break;
    case CU_DEVICE_ATTRIBUTE_MEMORY_CLOCK_RATE: v = 1215000; break;
    case CU_DEVICE_ATTRIBUTE_GLOBAL_MEMORY_BUS_WIDTH: v = 5120; break;
    case CU_DEVICE_ATTRIBUTE_L2_CACHE_SIZE: v = 40 << 20; break;
    case CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_MULTIPROCESSOR: v = 2048; break;
    case CU_DEVICE_ATTRIBUTE_ASYNC_ENGINE_COUNT: v = 2; break;
    case CU_DEVICE_ATTRIBUTE_UNIFIED_ADDRESSING: v = 1; break;
    case CU_DEVICE_ATTRIBUTE_PCI_DOMAIN_ID: v = 0; break;
    case CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR: v = 8; break;
    case CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR: v = 0; break;
    case CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_MULTIPROCESSOR: v = 167936; break;
    case CU_DEVICE_ATTRIBUTE_MAX_REGISTERS_PER_MULTIPROCESSOR: v = 65536; break;
    case CU_DEVICE_ATTRIBUTE_MANAGED_MEMORY: v = 1; break;
    case CU_DEVICE_ATTRIBUTE_MULTI_GPU_BOARD: v = 0; break;
    case CU_DEVICE_ATTRIBUTE_CONCURRENT_MANAGED_ACCESS: v = 1; break;
    case CU_DEVICE_ATTRIBUTE_COOPERATIVE_LAUNCH: v = 1; break;
    case CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN: v = 166912; break;
    case CU_DEVICE_ATTRIBUTE_VIRTUAL_MEMORY_MANAGEMENT_SUPPORTED: v = 1; break;
    case CU_DEVICE_ATTRIBUTE_MAX_BLOCKS_PER_MULTIPROCESSOR: v = 32; break;
    case CU_DEVICE_ATTRIBUTE_MAX_PERSISTING_L2_CACHE_SIZE: v = 30 << 20; break;
    case CU_DEVICE_ATTRIBUTE_MEMORY_POOLS_SUPPORTED: v = 1; break;
    default:
        if ((int)attr <= 0 || (int)attr > 200)
            return CUDA_ERROR_INVALID_VALUE;
        v = 0; /* an attribute the simulator does not model: reported as absent */
        break;
    }
    *value = v;
    return CUDA_SUCCESS;
}

/* ------------------------------------------------------------------ contexts */

sim_context *sim_current_context(void)
{
    if (t_ctx_depth <= 0)
        return NULL;
    sim_context *ctx = t_ctx_stack[t_ctx_depth - 1];
    return sim_pool_get(&g_contexts, ctx);
}

static sim_context *context_get(CUcontext handle) { return sim_pool_get(&g_contexts, handle); }

static sim_context *context_new(CUdevice ordinal, unsigned flags, int is_primary)
{
    sim_context *ctx = sim_pool_alloc(&g_contexts);
    if (!ctx)
        return NULL;
    ctx->ordinal = ordinal;
    ctx->device = sim_physical_device(ordinal);
    ctx->flags = flags;
    ctx->is_primary = is_primary;
    ctx->null_stream = sim_stream_new(ctx, 0, 0);
    if (!ctx->null_stream) {
        sim_pool_free(&g_contexts, ctx);
        return NULL;
    }
    sim_engine_mark_active(ctx->device);
    return ctx;
}

static void context_delete(sim_context *ctx)
{
    sim_context_wait_idle(ctx);
    sim_stream_delete(ctx->null_stream);
    sim_pool_free(&g_contexts, ctx);
}

static CUresult push_context(sim_context *ctx)
{
    if (t_ctx_depth >= CTX_STACK_DEPTH)
        return CUDA_ERROR_OUT_OF_MEMORY;
    t_ctx_stack[t_ctx_depth++] = ctx;
    return CUDA_SUCCESS;
}

SIM_API CUresult cuDevicePrimaryCtxRetain(CUcontext *pctx, CUdevice dev)
{
    CUresult r = sim_check_init();
    if (r)
        return r;
    if (!pctx)
        return CUDA_ERROR_INVALID_VALUE;
    if (sim_physical_device(dev) < 0)
        return CUDA_ERROR_INVALID_DEVICE;
    pthread_mutex_lock(&g_primary_lock);
    primary_context *p = &g_primary[dev];
    if (!p->ctx)
        p->ctx = context_new(dev, p->flags, 1);
    if (p->ctx)
        p->retains++;
    sim_context *ctx = p->ctx;
    pthread_mutex_unlock(&g_primary_lock);
    if (!ctx)
        return CUDA_ERROR_OUT_OF_MEMORY;
    *pctx = (CUcontext)ctx;
    return CUDA_SUCCESS;
}

SIM_API CUresult cuDevicePrimaryCtxRelease_v2(CUdevice dev)
{
    CUresult r = sim_check_init();
    if (r)
        return r;
    if (sim_physical_device(dev) < 0)
        return CUDA_ERROR_INVALID_DEVICE;
    pthread_mutex_lock(&g_primary_lock);
    primary_context *p = &g_primary[dev];
    if (p->retains <= 0) {
        pthread_mutex_unlock(&g_primary_lock);
        return CUDA_ERROR_INVALID_CONTEXT;
    }
    p->retains--;
    /* the primary context object stays valid (threads may still have it current), as its
     * handle does with the real driver until it is re-created */
    pthread_mutex_unlock(&g_primary_lock);
    return CUDA_SUCCESS;
}
SIM_API CUresult cuDevicePrimaryCtxRelease(CUdevice dev)
    __attribute__((alias("cuDevicePrimaryCtxRelease_v2")));

SIM_API CUresult cuDevicePrimaryCtxReset_v2(CUdevice dev)
{
    CUresult r = sim_check_init();
    if (r)
        return r;
    if (sim_physical_device(dev) < 0)
        return CUDA_ERROR_INVALID_DEVICE;
    pthread_mutex_lock(&g_primary_lock);
    g_primary[dev].retains = 0;
    g_primary[dev].flags = 0;
    sim_context *ctx = g_primary[dev].ctx;
    pthread_mutex_unlock(&g_primary_lock);
    if (ctx)
        sim_context_wait_idle(ctx);
    return CUDA_SUCCESS;
}
SIM_API CUresult cuDevicePrimaryCtxReset(CUdevice dev)
    __attribute__((alias("cuDevicePrimaryCtxReset_v2")));

SIM_API CUresult cuDevicePrimaryCtxGetState(CUdevice dev, unsigned int *flags, int *active)
{
    CUresult r = sim_check_init();
    if (r)
        return r;
    if (!flags || !active)
        return CUDA_ERROR_INVALID_VALUE;
    if (sim_physical_device(dev) < 0)
        return CUDA_ERROR_INVALID_DEVICE;
    pthread_mutex_lock(&g_primary_lock);
    *flags = g_primary[dev].flags;
    *active = g_primary[dev].retains > 0;
    pthread_mutex_unlock(&g_primary_lock);
    return CUDA_SUCCESS;
}

SIM_API CUresult cuDevicePrimaryCtxSetFlags_v2(CUdevice dev, unsigned int flags)
{
    CUresult r = sim_check_init();
    if (r)
        return r;
    if (sim_physical_device(dev) < 0)
        return CUDA_ERROR_INVALID_DEVICE;
    if (flags & ~(unsigned)CU_CTX_FLAGS_MASK)
        return CUDA_ERROR_INVALID_VALUE;
    pthread_mutex_lock(&g_primary_lock);
    g_primary[dev].flags = flags;
    pthread_mutex_unlock(&g_primary_lock);
    return CUDA_SUCCESS;
}
SIM_API CUresult cuDevicePrimaryCtxSetFlags(CUdevice dev, unsigned int flags)
    __attribute__((alias("cuDevicePrimaryCtxSetFlags_v2")));

static CUresult create_context(CUcontext *pctx, unsigned flags, CUdevice dev)
{
    CUresult r = sim_check_init();
    if (r)
        return r;
    if (!pctx)
        return CUDA_ERROR_INVALID_VALUE;
    if (sim_physical_device(dev) < 0)
        return CUDA_ERROR_INVALID_DEVICE;
    sim_context *ctx = context_new(dev, flags, 0);
    if (!ctx)
        return CUDA_ERROR_OUT_OF_MEMORY;
    r = push_context(ctx);
    if (r) {
        context_delete(ctx);
        return r;
    }
    *pctx = (CUcontext)ctx;
    return CUDA_SUCCESS;
}

SIM_API CUresult cuCtxCreate_v2(CUcontext *pctx, unsigned int flags, CUdevice dev)
{
    return create_context(pctx, flags, dev);
}
SIM_API CUresult cuCtxCreate(CUcontext *pctx, unsigned int flags, CUdevice dev)
    __attribute__((alias("cuCtxCreate_v2")));

SIM_API CUresult cuCtxCreate_v3(CUcontext *pctx, CUexecAffinityParam *params, int num_params,
                                unsigned int flags, CUdevice dev)
{
    if (num_params < 0 || (num_params > 0 && !params))
        return CUDA_ERROR_INVALID_VALUE;
    return create_context(pctx, flags, dev);
}

SIM_API CUresult cuCtxCreate_v4(CUcontext *pctx, CUctxCreateParams *params, unsigned int flags,
                                CUdevice dev)
{
    if (params && params->numExecAffinityParams > 0 && !params->execAffinityParams)
        return CUDA_ERROR_INVALID_VALUE;
    return create_context(pctx, flags, dev);
}

SIM_API CUresult cuCtxDestroy_v2(CUcontext handle)
{
    CUresult r = sim_check_init();
    if (r)
        return r;
    sim_context *ctx = context_get(handle);
    if (!ctx || ctx->is_primary)
        return CUDA_ERROR_INVALID_CONTEXT;
    /* drop it from this thread's stack; other threads' stale references fail validation */
    for (int i = t_ctx_depth - 1; i >= 0; i--) {
        if (t_ctx_stack[i] == ctx) {
            memmove(&t_ctx_stack[i], &t_ctx_stack[i + 1],
                    (size_t)(t_ctx_depth - 1 - i) * sizeof t_ctx_stack[0]);
            t_ctx_depth--;
        }
    }
    context_delete(ctx);
    return CUDA_SUCCESS;
}
SIM_API CUresult cuCtxDestroy(CUcontext handle) __attribute__((alias("cuCtxDestroy_v2")));

SIM_API CUresult cuCtxSetCurrent(CUcontext handle)
{
    CUresult r = sim_check_init();
    if (r)
        return r;
    if (!handle) {
        if (t_ctx_depth > 0)
            t_ctx_depth--;
        return CUDA_SUCCESS;
    }
    sim_context *ctx = context_get(handle);
    if (!ctx)
        return CUDA_ERROR_INVALID_CONTEXT;
    if (t_ctx_depth == 0)
        t_ctx_depth = 1;
    t_ctx_stack[t_ctx_depth - 1] = ctx;
    return CUDA_SUCCESS;
}

SIM_API CUresult cuCtxGetCurrent(CUcontext *pctx)
{
    CUresult r = sim_check_init();
    if (r)
        return r;
    if (!pctx)
        return CUDA_ERROR_INVALID_VALUE;
    *pctx = (CUcontext)sim_current_context();
    return CUDA_SUCCESS;
}

SIM_API CUresult cuCtxPushCurrent_v2(CUcontext handle)
{
    CUresult r = sim_check_init();
    if (r)
        return r;
    sim_context *ctx = context_get(handle);
    if (!ctx)
        return CUDA_ERROR_INVALID_CONTEXT;
    return push_context(ctx);
}
SIM_API CUresult cuCtxPushCurrent(CUcontext handle) __attribute__((alias("cuCtxPushCurrent_v2")));

SIM_API CUresult cuCtxPopCurrent_v2(CUcontext *pctx)
{
    CUresult r = sim_check_init();
    if (r)
        return r;
    if (t_ctx_depth <= 0)
        return CUDA_ERROR_INVALID_CONTEXT;
    sim_context *ctx = t_ctx_stack[--t_ctx_depth];
    if (pctx)
        *pctx = (CUcontext)ctx;
    return CUDA_SUCCESS;
}
SIM_API CUresult cuCtxPopCurrent(CUcontext *pctx) __attribute__((alias("cuCtxPopCurrent_v2")));

static CUresult context_or_current(CUcontext handle, sim_context **out)
{
    CUresult r = sim_check_init();
    if (r)
        return r;
    *out = handle ? context_get(handle) : sim_current_context();
    return *out ? CUDA_SUCCESS : CUDA_ERROR_INVALID_CONTEXT;
}

SIM_API CUresult cuCtxGetDevice_v2(CUdevice *device, CUcontext handle)
{
    sim_context *ctx;
    CUresult r = context_or_current(handle, &ctx);
    if (r)
        return r;
    if (!device)
        return CUDA_ERROR_INVALID_VALUE;
    *device = ctx->ordinal;
    return CUDA_SUCCESS;
}

SIM_API CUresult cuCtxGetDevice(CUdevice *device) { return cuCtxGetDevice_v2(device, NULL); }

SIM_API CUresult cuCtxSynchronize_v2(CUcontext handle)
{
    sim_context *ctx;
    CUresult r = context_or_current(handle, &ctx);
    if (r)
        return r;
    sim_context_wait_idle(ctx);
    return CUDA_SUCCESS;
}

SIM_API CUresult cuCtxSynchronize(void) { return cuCtxSynchronize_v2(NULL); }

/* ------------------------------------------------------------------ errors */

typedef struct error_text {
    CUresult code;
    const char *name;
    const char *text;
} error_text;

#define E(code, text) {code, #code, text}
static const error_text g_errors[] = {
    E(CUDA_SUCCESS, "no error"),
    E(CUDA_ERROR_INVALID_VALUE, "invalid argument"),
    E(CUDA_ERROR_OUT_OF_MEMORY, "out of memory"),
    E(CUDA_ERROR_NOT_INITIALIZED, "initialization error"),
    E(CUDA_ERROR_DEINITIALIZED, "driver shutting down"),
    E(CUDA_ERROR_STUB_LIBRARY, "CUDA driver is a stub library"),
    E(CUDA_ERROR_NO_DEVICE, "no CUDA-capable device is detected"),
    E(CUDA_ERROR_INVALID_DEVICE, "invalid device ordinal"),
    E(CUDA_ERROR_INVALID_IMAGE, "device kernel image is invalid"),
    E(CUDA_ERROR_INVALID_CONTEXT, "invalid device context"),
    E(CUDA_ERROR_CONTEXT_ALREADY_CURRENT, "context already current"),
    E(CUDA_ERROR_MAP_FAILED, "mapping of buffer object failed"),
    E(CUDA_ERROR_UNMAP_FAILED, "unmapping of buffer object failed"),
    E(CUDA_ERROR_ALREADY_MAPPED, "resource already mapped"),
    E(CUDA_ERROR_NOT_MAPPED, "resource not mapped"),
    E(CUDA_ERROR_INVALID_SOURCE, "device kernel image is invalid"),
    E(CUDA_ERROR_FILE_NOT_FOUND, "file not found"),
    E(CUDA_ERROR_OPERATING_SYSTEM, "OS call failed or operation not supported on this OS"),
    E(CUDA_ERROR_INVALID_HANDLE, "invalid resource handle"),
    E(CUDA_ERROR_ILLEGAL_STATE, "the operation cannot be performed in the present state"),
    E(CUDA_ERROR_NOT_FOUND, "named symbol not found"),
    E(CUDA_ERROR_NOT_READY, "device not ready"),
    E(CUDA_ERROR_ILLEGAL_ADDRESS, "an illegal memory access was encountered"),
    E(CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES, "too many resources requested for launch"),
    E(CUDA_ERROR_LAUNCH_TIMEOUT, "the launch timed out and was terminated"),
    E(CUDA_ERROR_PRIMARY_CONTEXT_ACTIVE, "primary context active"),
    E(CUDA_ERROR_CONTEXT_IS_DESTROYED, "context is destroyed"),
    E(CUDA_ERROR_LAUNCH_FAILED, "unspecified launch failure"),
    E(CUDA_ERROR_COOPERATIVE_LAUNCH_TOO_LARGE, "too many blocks in cooperative launch"),
    E(CUDA_ERROR_NOT_PERMITTED, "operation not permitted"),
    E(CUDA_ERROR_NOT_SUPPORTED, "operation not supported"),
    E(CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED, "operation not permitted when stream is capturing"),
    E(CUDA_ERROR_STREAM_CAPTURE_INVALIDATED, "operation failed due to a previous error during capture"),
    E(CUDA_ERROR_STREAM_CAPTURE_UNMATCHED, "capture was not initiated in this stream"),
    E(CUDA_ERROR_STREAM_CAPTURE_WRONG_THREAD, "attempt to terminate a thread-local capture sequence from another thread"),
    E(CUDA_ERROR_TIMEOUT, "wait operation timed out"),
    E(CUDA_ERROR_UNKNOWN, "unknown error"),
};
#undef E

static const error_text *find_error(CUresult code)
{
    for (size_t i = 0; i < SIM_COUNT_OF(g_errors); i++)
        if (g_errors[i].code == code)
            return &g_errors[i];
    return NULL;
}

SIM_API CUresult cuGetErrorName(CUresult code, const char **name)
{
    if (!name)
        return CUDA_ERROR_INVALID_VALUE;
    const error_text *e = find_error(code);
    *name = e ? e->name : NULL;
    return e ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
}

SIM_API CUresult cuGetErrorString(CUresult code, const char **text)
{
    if (!text)
        return CUDA_ERROR_INVALID_VALUE;
    const error_text *e = find_error(code);
    *text = e ? e->text : NULL;
    return e ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
}

SIM_API CUresult cuGetExportTable(const void **table, const CUuuid *id)
{
    (void)id;
    if (table)
        *table = NULL;
    return CUDA_ERROR_NOT_SUPPORTED; /* the simulator has no private export tables */
}

/* ------------------------------------------------------------------ simulator-only calls */

/* Device time completed on `dev` (an ordinal as this process sees it) by every process, and the
 * CLOCK_MONOTONIC time it was taken at. */
SIM_API CUresult hamiSimDeviceBusy(CUdevice dev, unsigned long long *busy_ns,
                                   unsigned long long *now_ns)
{
    CUresult r = sim_check_init();
    if (r)
        return r;
    int phys = sim_physical_device(dev);
    if (phys < 0)
        return CUDA_ERROR_INVALID_DEVICE;
    if (!busy_ns)
        return CUDA_ERROR_INVALID_VALUE;
    uint64_t now = hami_now_ns();
    *busy_ns = sim_engine_device_busy_ns(sim_engine_state(), phys, now);
    if (now_ns)
        *now_ns = now;
    return CUDA_SUCCESS;
}

/* This process's bytes held and device time completed on `dev`, at CLOCK_MONOTONIC `now_ns`. */
SIM_API CUresult hamiSimProcessUsage(CUdevice dev, unsigned long long *used_bytes,
                                     unsigned long long *busy_ns, unsigned long long *now_ns)
{
    CUresult r = sim_check_init();
    if (r)
        return r;
    int phys = sim_physical_device(dev);
    if (phys < 0)
        return CUDA_ERROR_INVALID_DEVICE;
    sim_proc_slot *slot = sim_engine_my_slot();
    uint64_t now = hami_now_ns();
    if (used_bytes)
        *used_bytes = slot ? atomic_load(&slot->used_bytes[phys]) : 0;
    if (busy_ns)
        *busy_ns = slot ? sim_engine_slot_busy_ns(slot, phys, now) : 0;
    if (now_ns)
        *now_ns = now;
    return CUDA_SUCCESS;
}
