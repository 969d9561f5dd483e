/*
 * Simulated ACL: kernel binaries and launches, single-operator execution and its descriptors.
 *   aclrtBinaryLoadFromData -> rtsBinaryLoadFromData; aclrtBinaryGetFunction -> rtsFuncGetByName
 *   aclrtLaunchKernel -> rtLaunchKernelByFuncHandleV3 (args wrapped in an rtArgsEx_t)
 *   aclrtLaunchKernelWithHostArgs -> rtsLaunchKernelWithHostArgs
 *   aclopExecuteV2, aclopCompileAndExecute -> rtKernelLaunch (stubs ACL registers once with
 *     rtDevBinaryRegister + rtFunctionRegister)
 * Op convention: opType "HamiSimSpin" runs for the int attribute "duration_ns" of its aclopAttr
 * (set with aclopSetAttrInt); any other opType runs 10 waves of HAMI_SIM_BLOCK_NS (blockDim =
 * 10 x AI cores).  Tensor descriptors and data buffers are checked for presence only.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "acl_sim.h"

#define SPIN_OP "HamiSimSpin"
#define SPIN_ATTR "duration_ns"
#define GENERIC_OP_WAVES 10u
#define ATTR_SLOTS 16

/* ------------------------------------------------------------------ binaries and kernels */

ACL_API aclError aclrtBinaryLoadFromData(const void *data, size_t length,
                                         const aclrtBinaryLoadOptions *options,
                                         aclrtBinHandle *binHandle)
{
    if (!data || length == 0 || !binHandle)
        return ACL_ERROR_INVALID_PARAM;
    return rtsBinaryLoadFromData(data, length, (const rtLoadBinaryConfig_t *)options, binHandle);
}

ACL_API aclError aclrtBinaryGetFunction(const aclrtBinHandle binHandle, const char *kernelName,
                                        aclrtFuncHandle *funcHandle)
{
    if (!binHandle || !kernelName || !funcHandle)
        return ACL_ERROR_INVALID_PARAM;
    return rtsFuncGetByName(binHandle, kernelName, funcHandle);
}

ACL_API aclError aclrtBinaryUnLoad(aclrtBinHandle binHandle)
{
    if (!binHandle)
        return ACL_ERROR_INVALID_PARAM;
    return rtBinaryUnLoad(binHandle);
}

ACL_API aclError aclrtLaunchKernel(aclrtFuncHandle funcHandle, uint32_t numBlocks,
                                   const void *argsData, size_t argsSize, aclrtStream stream)
{
    if (!funcHandle || !argsData || argsSize > UINT32_MAX)
        return ACL_ERROR_INVALID_PARAM;
    rtArgsEx_t args;
    memset(&args, 0, sizeof args);
    args.args = (void *)argsData;
    args.argsSize = (uint32_t)argsSize;
    args.isNoNeedH2DCopy = 1;
    return rtLaunchKernelByFuncHandleV3(funcHandle, numBlocks, &args, stream, NULL);
}

ACL_API aclError aclrtLaunchKernelWithHostArgs(aclrtFuncHandle funcHandle, uint32_t numBlocks,
                                               aclrtStream stream, aclrtLaunchKernelCfg *cfg,
                                               void *hostArgs, size_t argsSize,
                                               aclrtPlaceHolderInfo *placeHolderArray,
                                               size_t placeHolderNum)
{
    if (!funcHandle || argsSize > UINT32_MAX || placeHolderNum > UINT32_MAX)
        return ACL_ERROR_INVALID_PARAM;
    return rtsLaunchKernelWithHostArgs(funcHandle, numBlocks, stream, (rtKernelLaunchCfg_t *)cfg,
                                       hostArgs, (uint32_t)argsSize,
                                       (rtPlaceHolderInfo_t *)placeHolderArray,
                                       (uint32_t)placeHolderNum);
}

/* ------------------------------------------------------------------ descriptors */

struct aclDataBuffer {
    void *data;
    size_t size;
};

struct aclTensorDesc {
    aclDataType type;
    aclFormat format;
    int num_dims;
    int64_t dims[8];
};

struct aclopAttr {
    pthread_mutex_t lock;
    int count;
    char names[ATTR_SLOTS][32];
    int64_t values[ATTR_SLOTS];
};

ACL_API aclDataBuffer *aclCreateDataBuffer(void *data, size_t size)
{
    aclDataBuffer *b = calloc(1, sizeof *b);
    if (b) {
        b->data = data;
        b->size = size;
    }
    return b;
}

ACL_API aclError aclDestroyDataBuffer(const aclDataBuffer *dataBuffer)
{
    if (!dataBuffer)
        return ACL_ERROR_INVALID_PARAM;
    free((void *)dataBuffer);
    return ACL_SUCCESS;
}

ACL_API void *aclGetDataBufferAddr(const aclDataBuffer *dataBuffer)
{
    return dataBuffer ? dataBuffer->data : NULL;
}

ACL_API size_t aclGetDataBufferSizeV2(const aclDataBuffer *dataBuffer)
{
    return dataBuffer ? dataBuffer->size : 0;
}

ACL_API aclTensorDesc *aclCreateTensorDesc(aclDataType dataType, int numDims,
                                           const int64_t *dims, aclFormat format)
{
    if (numDims < 0 || numDims > 8 || (numDims && !dims))
        return NULL;
    aclTensorDesc *d = calloc(1, sizeof *d);
    if (d) {
        d->type = dataType;
        d->format = format;
        d->num_dims = numDims;
        if (numDims)
            memcpy(d->dims, dims, sizeof(int64_t) * (size_t)numDims);
    }
    return d;
}

ACL_API void aclDestroyTensorDesc(const aclTensorDesc *desc) { free((void *)desc); }

ACL_API aclopAttr *aclopCreateAttr(void)
{
    aclopAttr *a = calloc(1, sizeof *a);
    if (a)
        pthread_mutex_init(&a->lock, NULL);
    return a;
}

ACL_API void aclopDestroyAttr(const aclopAttr *attr)
{
    if (attr) {
        pthread_mutex_destroy((pthread_mutex_t *)&attr->lock);
        free((void *)attr);
    }
}

ACL_API aclError aclopSetAttrInt(aclopAttr *attr, const char *attrName, int64_t attrValue)
{
    if (!attr || !attrName || strlen(attrName) >= sizeof attr->names[0])
        return ACL_ERROR_INVALID_PARAM;
    pthread_mutex_lock(&attr->lock);
    int i = 0;
    while (i < attr->count && strcmp(attr->names[i], attrName) != 0)
        i++;
    aclError r = ACL_SUCCESS;
    if (i == attr->count) {
        if (attr->count == ATTR_SLOTS)
            r = ACL_ERROR_BAD_ALLOC;
        else
            strcpy(attr->names[attr->count++], attrName);
    }
    if (r == ACL_SUCCESS)
        attr->values[i] = attrValue;
    pthread_mutex_unlock(&attr->lock);
    return r;
}

static int attr_int(const aclopAttr *attr, const char *name, int64_t *value)
{
    int found = 0;
    if (!attr)
        return 0;
    pthread_mutex_lock((pthread_mutex_t *)&attr->lock);
    for (int i = 0; i < attr->count && !found; i++)
        if (strcmp(attr->names[i], name) == 0) {
            *value = attr->values[i];
            found = 1;
        }
    pthread_mutex_unlock((pthread_mutex_t *)&attr->lock);
    return found;
}

/* ------------------------------------------------------------------ single operators */

static const char g_spin_stub = 0;    /* host stubs: their addresses name the kernels */
static const char g_generic_stub = 0;
static pthread_once_t g_stub_once = PTHREAD_ONCE_INIT;
static aclError g_stub_result = ACL_ERROR_RT_NO_DEVICE;

static void register_stubs(void)
{
    static const char image[] = "hami-sim op kernels";
    rtDevBinary_t bin = {0, 0, image, sizeof image};
    void *handle = NULL;
    rtError_t r = rtDevBinaryRegister(&bin, &handle);
    if (!r)
        r = rtFunctionRegister(handle, &g_spin_stub, "hami_sim_spin", "hami_sim_spin", 0);
    if (!r)
        r = rtFunctionRegister(handle, &g_generic_stub, "hami_sim_op", "hami_sim_op", 0);
    g_stub_result = r;
}

static aclError execute_op(const char *opType, int numInputs, const void *inputDesc,
                           const void *inputs, int numOutputs, const void *outputDesc,
                           const void *outputs, const aclopAttr *attr, aclrtStream stream)
{
    if (!opType || numInputs < 0 || numOutputs < 0 || (numInputs && (!inputDesc || !inputs)) ||
        (numOutputs && (!outputDesc || !outputs)))
        return ACL_ERROR_INVALID_PARAM;
    int32_t dev;
    rtError_t r = rtGetDevice(&dev); /* an op needs a current device */
    if (r)
        return r;
    pthread_once(&g_stub_once, register_stubs);
    if (g_stub_result)
        return g_stub_result;
    if (strcmp(opType, SPIN_OP) == 0) {
        int64_t ns = 0;
        if (!attr_int(attr, SPIN_ATTR, &ns) || ns < 0) {
            acl_set_error(SPIN_OP " needs a non-negative int attribute \"" SPIN_ATTR "\"");
            return ACL_ERROR_INVALID_PARAM;
        }
        uint64_t args = (uint64_t)ns;
        return rtKernelLaunch(&g_spin_stub, 1, &args, sizeof args, NULL, stream);
    }
    uint64_t unused_args = 0;
    return rtKernelLaunch(&g_generic_stub, GENERIC_OP_WAVES * acl_current_ai_cores(),
                          &unused_args, sizeof unused_args, NULL, stream);
}

ACL_API aclError aclopExecuteV2(const char *opType, int numInputs, aclTensorDesc *inputDesc[],
                                aclDataBuffer *inputs[], int numOutputs,
                                aclTensorDesc *outputDesc[], aclDataBuffer *outputs[],
                                aclopAttr *attr, aclrtStream stream)
{
    return execute_op(opType, numInputs, inputDesc, inputs, numOutputs, outputDesc, outputs,
                      attr, stream);
}

ACL_API aclError aclopCompileAndExecute(const char *opType, int numInputs,
                                        const aclTensorDesc *const inputDesc[],
                                        const aclDataBuffer *const inputs[], int numOutputs,
                                        const aclTensorDesc *const outputDesc[],
                                        aclDataBuffer *const outputs[], const aclopAttr *attr,
                                        aclopEngineType engineType, aclopCompileType compileFlag,
                                        const char *opPath, aclrtStream stream)
{
    (void)engineType;
    (void)compileFlag;
    (void)opPath;
    return execute_op(opType, numInputs, inputDesc, inputs, numOutputs, outputDesc, outputs,
                      attr, stream);
}
