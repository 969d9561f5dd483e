/*
 * Simulated ACL: offline models (aclmdl*) over the runtime's models (rtModelCreate ..
 * rtModelExecute) and minimal datasets.
 * Model convention: data that starts with the 8 bytes "HAMISIMM" followed by a little-endian
 * uint64 is a model of 4 kernels whose durations sum to that many nanoseconds; any other
 * bytes load as 4 kernels of 1 ms.  aclmdlExecute runs on the current context's default stream
 * and waits for it; aclmdlExecuteAsync queues on the given stream; both descend to
 * rtModelExecute.  Model ids start at 1.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "acl_sim.h"

#define MODEL_MAGIC "HAMISIMM"
#define MODEL_KERNELS 4u
#define DEFAULT_KERNEL_NS 1000000ull
#define MAX_MODELS 1024

static pthread_mutex_t g_models_lock = PTHREAD_MUTEX_INITIALIZER;
static rtModel_t g_models[MAX_MODELS + 1]; /* by model id */

struct aclmdlDataset {
    size_t count, capacity;
    aclDataBuffer **buffers;
};

static aclError load(const void *model, size_t modelSize, uint32_t *modelId)
{
    if (!model || modelSize == 0 || !modelId)
        return ACL_ERROR_INVALID_PARAM;
    uint64_t total_ns = MODEL_KERNELS * DEFAULT_KERNEL_NS;
    if (modelSize >= 16 && memcmp(model, MODEL_MAGIC, 8) == 0) {
        const uint8_t *p = (const uint8_t *)model + 8;
        total_ns = 0;
        for (int i = 7; i >= 0; i--)
            total_ns = total_ns << 8 | p[i];
    }
    rtModel_t m = NULL;
    rtError_t r = rtModelCreate(&m, 0);
    if (r)
        return r;
    for (uint32_t k = 0; k < MODEL_KERNELS && !r; k++) {
        uint64_t share = total_ns / MODEL_KERNELS;
        if (k == MODEL_KERNELS - 1)
            share += total_ns % MODEL_KERNELS;
        r = rtHamiSimModelAddTask(m, share);
    }
    if (!r)
        r = rtModelLoadComplete(m);
    if (r) {
        rtModelDestroy(m);
        return r;
    }
    pthread_mutex_lock(&g_models_lock);
    uint32_t id = 1;
    while (id <= MAX_MODELS && g_models[id])
        id++;
    if (id <= MAX_MODELS)
        g_models[id] = m;
    pthread_mutex_unlock(&g_models_lock);
    if (id > MAX_MODELS) {
        rtModelDestroy(m);
        return ACL_ERROR_RT_NO_MODEL_RESOURCE;
    }
    *modelId = id;
    return ACL_SUCCESS;
}

ACL_API aclError aclmdlLoadFromMem(const void *model, size_t modelSize, uint32_t *modelId)
{
    return load(model, modelSize, modelId);
}

ACL_API aclError aclmdlLoadFromMemWithMem(const void *model, size_t modelSize, uint32_t *modelId,
                                          void *workPtr, size_t workSize, void *weightPtr,
                                          size_t weightSize)
{
    (void)workPtr;
    (void)workSize;
    (void)weightPtr;
    (void)weightSize;
    return load(model, modelSize, modelId);
}

static rtModel_t model_of(uint32_t id)
{
    rtModel_t m = NULL;
    pthread_mutex_lock(&g_models_lock);
    if (id >= 1 && id <= MAX_MODELS)
        m = g_models[id];
    pthread_mutex_unlock(&g_models_lock);
    return m;
}

ACL_API aclError aclmdlUnload(uint32_t modelId)
{
    rtModel_t m = NULL;
    pthread_mutex_lock(&g_models_lock);
    if (modelId >= 1 && modelId <= MAX_MODELS) {
        m = g_models[modelId];
        g_models[modelId] = NULL;
    }
    pthread_mutex_unlock(&g_models_lock);
    if (!m)
        return ACL_ERROR_INVALID_MODEL_ID;
    return rtModelDestroy(m);
}

ACL_API aclError aclmdlExecuteAsync(uint32_t modelId, const aclmdlDataset *input,
                                    aclmdlDataset *output, aclrtStream stream)
{
    (void)input;
    (void)output;
    rtModel_t m = model_of(modelId);
    if (!m)
        return ACL_ERROR_INVALID_MODEL_ID;
    return rtModelExecute(m, stream, 0);
}

ACL_API aclError aclmdlExecute(uint32_t modelId, const aclmdlDataset *input,
                               aclmdlDataset *output)
{
    aclError r = aclmdlExecuteAsync(modelId, input, output, NULL);
    return r ? r : rtStreamSynchronize(NULL);
}

ACL_API aclmdlDataset *aclmdlCreateDataset(void) { return calloc(1, sizeof(aclmdlDataset)); }

ACL_API aclError aclmdlDestroyDataset(const aclmdlDataset *dataset)
{
    if (!dataset)
        return ACL_ERROR_INVALID_PARAM;
    free(dataset->buffers);
    free((void *)dataset);
    return ACL_SUCCESS;
}

ACL_API aclError aclmdlAddDatasetBuffer(aclmdlDataset *dataset, aclDataBuffer *dataBuffer)
{
    if (!dataset || !dataBuffer)
        return ACL_ERROR_INVALID_PARAM;
    if (dataset->count == dataset->capacity) {
        size_t cap = dataset->capacity ? dataset->capacity * 2 : 8;
        aclDataBuffer **grown = realloc(dataset->buffers, cap * sizeof *grown);
        if (!grown)
            return ACL_ERROR_BAD_ALLOC;
        dataset->buffers = grown;
        dataset->capacity = cap;
    }
    dataset->buffers[dataset->count++] = dataBuffer;
    return ACL_SUCCESS;
}

ACL_API size_t aclmdlGetDatasetNumBuffers(const aclmdlDataset *dataset)
{
    return dataset ? dataset->count : 0;
}

ACL_API aclDataBuffer *aclmdlGetDatasetBuffer(const aclmdlDataset *dataset, size_t index)
{
    return dataset && index < dataset->count ? dataset->buffers[index] : NULL;
}
