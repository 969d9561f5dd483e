/*
 * Our own declarations of the Huawei Ascend ACL (libascendcl.so) and CANN runtime
 * (libruntime.so, rt*) ABI that hami-core touches (DESIGN 7): handle types, the enums and
 * structs the hooked calls take, error codes, and one function-pointer typedef per function
 * (`<name>_fn`), so that neither the hooks (csrc/ascend) nor the simulator (csrc/sim/ascend)
 * needs CANN installed.
 *
 * Sources: CANN's public acl_base.h / acl_rt.h / rt_error_codes.h / runtime/kernel.h as
 * published (hicann/runtime and the Ascend docs).  Where a real type is opaque or its layout
 * changed between CANN releases we declare only what callers pass through (a pointer) and say
 * so.  Values marked ASSUMED were not checked against a header; everything else was.
 *
 * Error codes: ACL and the runtime share one number space: rt* return ACL_ERROR_RT_* values
 * (RT_ERROR_NONE == 0) and ACL passes them through unchanged, so 207001 is the out-of-memory
 * code at both layers.
 */
#ifndef HAMI_ACL_ABI_H
#define HAMI_ACL_ABI_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------ error codes */
typedef int aclError;
typedef int32_t rtError_t;

#define ACL_SUCCESS 0
#define RT_ERROR_NONE 0
#define ACL_ERROR_INVALID_PARAM 100000
#define ACL_ERROR_UNINITIALIZE 100001
#define ACL_ERROR_REPEAT_INITIALIZE 100002
#define ACL_ERROR_INVALID_FILE 100003
#define ACL_ERROR_INVALID_MODEL_ID 100011
#define ACL_ERROR_DESERIALIZE_MODEL 100012
#define ACL_ERROR_OP_NOT_FOUND 100024
#define ACL_ERROR_BAD_ALLOC 200000 /* host-side allocation failure */

#define ACL_ERROR_RT_PARAM_INVALID 107000
#define ACL_ERROR_RT_INVALID_DEVICEID 107001
#define ACL_ERROR_RT_CONTEXT_NULL 107002
#define ACL_ERROR_RT_STREAM_CONTEXT 107003
#define ACL_ERROR_RT_INVALID_MEMORY_TYPE 107016
#define ACL_ERROR_RT_INVALID_HANDLE 107017
#define ACL_ERROR_RT_FEATURE_NOT_SUPPORT 207000
#define ACL_ERROR_RT_MEMORY_ALLOCATION 207001 /* out of device memory: torch_npu retries on it */
#define ACL_ERROR_RT_MEMORY_FREE 207002
#define ACL_ERROR_RT_NO_DEVICE 207004
#define ACL_ERROR_RT_RESOURCE_ALLOC_FAIL 207005
#define ACL_ERROR_RT_NO_EVENT_RESOURCE 207007
#define ACL_ERROR_RT_NO_STREAM_RESOURCE 207008
#define ACL_ERROR_RT_NO_MODEL_RESOURCE 207010
#define ACL_ERROR_RT_INTERNAL_ERROR 507000
#define ACL_ERROR_RT_STREAM_NOT_COMPLETE 507004
#define ACL_ERROR_RT_EVENT_NOT_COMPLETE 507006

/* ------------------------------------------------------------------ handles (all opaque) */
typedef void *aclrtStream;
typedef void *aclrtEvent;
typedef void *aclrtContext;
typedef void *aclrtBinHandle;
typedef void *aclrtFuncHandle;
typedef void *aclrtDrvMemHandle;
typedef struct aclDataBuffer aclDataBuffer;
typedef struct aclTensorDesc aclTensorDesc;
typedef struct aclopAttr aclopAttr;
typedef struct aclmdlDataset aclmdlDataset;
typedef struct aclOpExecutor aclOpExecutor;       /* aclnn two-phase ops */
typedef struct aclrtMallocConfig aclrtMallocConfig; /* opaque here: only passed through */
typedef struct aclrtLaunchKernelCfg aclrtLaunchKernelCfg;   /* opaque here */
typedef struct aclrtPlaceHolderInfo aclrtPlaceHolderInfo;   /* opaque here */
typedef struct aclrtBinaryLoadOptions aclrtBinaryLoadOptions; /* opaque here */

typedef void *rtStream_t;
typedef void *rtEvent_t;
typedef void *rtContext_t;
typedef void *rtModel_t;
typedef void *rtBinHandle;
typedef void *rtFuncHandle;
typedef void *rtDrvMemHandle;
typedef struct rtKernelLaunchCfg rtKernelLaunchCfg_t; /* opaque here */
typedef struct rtPlaceHolderInfo rtPlaceHolderInfo_t; /* opaque here */
typedef struct rtLoadBinaryConfig rtLoadBinaryConfig_t; /* opaque here */
typedef struct tagRtSmCtrl rtSmDesc_t;                 /* opaque here (L2 control, unused) */

/* ------------------------------------------------------------------ enums */
typedef enum aclrtMemMallocPolicy {
    ACL_MEM_MALLOC_HUGE_FIRST = 0,
    ACL_MEM_MALLOC_HUGE_ONLY = 1,
    ACL_MEM_MALLOC_NORMAL_ONLY = 2,
    ACL_MEM_MALLOC_HUGE_FIRST_P2P = 3,
    ACL_MEM_MALLOC_HUGE_ONLY_P2P = 4,
    ACL_MEM_MALLOC_NORMAL_ONLY_P2P = 5,
    ACL_MEM_TYPE_LOW_BAND_WIDTH = 0x0100,
    ACL_MEM_TYPE_HIGH_BAND_WIDTH = 0x1000,
} aclrtMemMallocPolicy;

typedef enum aclrtMemAttr {
    ACL_DDR_MEM = 0,
    ACL_HBM_MEM = 1, /* torch_npu queries HBM */
    ACL_DDR_MEM_HUGE = 2,
    ACL_DDR_MEM_NORMAL = 3,
    ACL_HBM_MEM_HUGE = 4,
    ACL_HBM_MEM_NORMAL = 5,
} aclrtMemAttr;

/* the runtime's twin of aclrtMemAttr: same numbering (ACL casts) */
typedef enum rtMemInfoType {
    RT_MEMORYINFO_DDR = 0,
    RT_MEMORYINFO_HBM = 1,
    RT_MEMORYINFO_DDR_HUGE = 2,
    RT_MEMORYINFO_DDR_NORMAL = 3,
    RT_MEMORYINFO_HBM_HUGE = 4,
    RT_MEMORYINFO_HBM_NORMAL = 5,
} rtMemInfoType_t;

/* rtMalloc's memory type: HBM/DDR bits plus policy bits; the simulator accepts any value */
typedef uint32_t rtMemType_t;
#define RT_MEMORY_DEFAULT 0x0u
#define RT_MEMORY_HBM 0x2u
#define RT_MEMORY_POLICY_HUGE_PAGE_FIRST 0x400u

typedef enum aclrtDevAttr {
    ACL_DEV_ATTR_AICPU_CORE_NUM = 1,
    ACL_DEV_ATTR_AICORE_CORE_NUM = 101,
    ACL_DEV_ATTR_VECTOR_CORE_NUM = 201,
    ACL_DEV_ATTR_TOTAL_GLOBAL_MEM_SIZE = 301,
} aclrtDevAttr;

typedef enum aclrtMemcpyKind {
    ACL_MEMCPY_HOST_TO_HOST = 0,
    ACL_MEMCPY_HOST_TO_DEVICE = 1,
    ACL_MEMCPY_DEVICE_TO_HOST = 2,
    ACL_MEMCPY_DEVICE_TO_DEVICE = 3,
    ACL_MEMCPY_DEFAULT = 4,
} aclrtMemcpyKind;

/* aclrtQueryEvent: has the work before the record completed */
typedef enum aclrtEventStatus {
    ACL_EVENT_STATUS_COMPLETE = 0,
    ACL_EVENT_STATUS_NOT_READY = 1,
    ACL_EVENT_STATUS_RESERVED = 2,
} aclrtEventStatus;

/* aclrtQueryEventStatus: note the opposite numbering */
typedef enum aclrtEventRecordedStatus {
    ACL_EVENT_RECORDED_STATUS_NOT_READY = 0,
    ACL_EVENT_RECORDED_STATUS_COMPLETE = 1,
} aclrtEventRecordedStatus;

/* rtEventQueryStatus (what aclrtQueryEventStatus descends to) */
typedef enum rtEventStatus {
    RT_EVENT_INIT = 0,     /* not yet complete */
    RT_EVENT_RECORDED = 1, /* complete */
} rtEventStatus_t;

typedef enum aclDataType { ACL_DT_UNDEFINED = -1, ACL_FLOAT = 0, ACL_FLOAT16 = 1, ACL_INT8 = 2,
                           ACL_INT32 = 3, ACL_UINT8 = 4, ACL_INT64 = 9 } aclDataType;
typedef enum aclFormat { ACL_FORMAT_UNDEFINED = -1, ACL_FORMAT_NCHW = 0, ACL_FORMAT_NHWC = 1,
                         ACL_FORMAT_ND = 2 } aclFormat;
typedef enum aclopEngineType { ACL_ENGINE_SYS = 0, ACL_ENGINE_AICORE = 1,
                               ACL_ENGINE_VECTOR = 2 } aclopEngineType;
typedef enum aclopCompileType { ACL_COMPILE_SYS = 0, ACL_COMPILE_UNREGISTERED = 1 } aclopCompileType;

/* ------------------------------------------------------------------ structs */
/* VMM physical allocation properties (acl_rt.h layout) */
typedef enum aclrtMemHandleType { ACL_MEM_HANDLE_TYPE_NONE = 0 } aclrtMemHandleType;
typedef enum aclrtMemAllocationType { ACL_MEM_ALLOCATION_TYPE_PINNED = 0 } aclrtMemAllocationType;
typedef enum aclrtMemLocationType {
    ACL_MEM_LOCATION_TYPE_HOST = 0,   /* ASSUMED value */
    ACL_MEM_LOCATION_TYPE_DEVICE = 1, /* ASSUMED value */
} aclrtMemLocationType;
typedef struct aclrtMemLocation {
    uint32_t id; /* device id (logical, as the process sees it) */
    aclrtMemLocationType type;
} aclrtMemLocation;
typedef struct aclrtPhysicalMemProp {
    aclrtMemHandleType handleType;
    aclrtMemAllocationType allocationType;
    aclrtMemAttr memAttr;
    aclrtMemLocation location;
    uint64_t reserve;
} aclrtPhysicalMemProp;

/* what aclrtMallocPhysical hands rtMallocPhysical (runtime layout) */
typedef struct rtDrvMemProp {
    uint32_t side;   /* 0 host, 1 device */
    uint32_t devid;  /* logical device id */
    uint32_t module_id;
    uint32_t pg_type;
    uint32_t mem_type;
    uint64_t reserve;
} rtDrvMemProp_t;

typedef struct rtHostInputInfo {
    uint32_t addrOffset;
    uint32_t dataOffset;
} rtHostInputInfo_t;

/* kernel arguments as ACL hands them to the runtime (runtime/kernel.h, CANN 8 layout) */
typedef struct tagRtArgsEx {
    void *args;                          /* host copy of the argument block */
    rtHostInputInfo_t *hostInputInfoPtr; /* NULL: no host-memory inputs */
    uint32_t argsSize;
    uint32_t tilingAddrOffset;
    uint32_t tilingDataOffset;
    uint16_t hostInputInfoNum;
    uint8_t hasTiling;
    uint8_t isNoNeedH2DCopy;
    uint8_t reserved[4];
} rtArgsEx_t;

typedef struct tagRtTaskCfgInfo {
    uint8_t qos;
    uint8_t partId;
    uint8_t schemMode;
    uint8_t res[1];
} rtTaskCfgInfo_t;

typedef struct tagRtDevBinary {
    uint32_t magic;
    uint32_t version;
    const void *data;
    uint64_t length;
} rtDevBinary_t;

/* ------------------------------------------------------------------ simulator-only */
/* Identity of a simulated NPU (libruntime.so: rtHamiSimDeviceInfo).  Device ids passed to
 * ACL/rt are logical (after ASCEND_VISIBLE_DEVICES / ASCEND_RT_VISIBLE_DEVICES); `physical` is
 * the engine's device index, shared with the simulated CUDA driver. */
typedef struct hamiSimNpuInfo {
    int32_t logical;
    int32_t physical;
    char uuid[48]; /* "NPU-xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx", distinct from the GPU- form */
    char name[64]; /* "Ascend910B-sim" */
    uint64_t total_bytes;
    uint32_t ai_cores;
} hamiSimNpuInfo;

/* ------------------------------------------------------------------ function pointers: ACL */
typedef aclError (*aclInit_fn)(const char *configPath);
typedef aclError (*aclFinalize_fn)(void);
typedef aclError (*aclrtSetDevice_fn)(int32_t deviceId);
typedef aclError (*aclrtResetDevice_fn)(int32_t deviceId);
typedef aclError (*aclrtGetDevice_fn)(int32_t *deviceId);
typedef aclError (*aclrtGetDeviceCount_fn)(uint32_t *count);
typedef aclError (*aclrtCreateContext_fn)(aclrtContext *context, int32_t deviceId);
typedef aclError (*aclrtDestroyContext_fn)(aclrtContext context);
typedef aclError (*aclrtSetCurrentContext_fn)(aclrtContext context);
typedef aclError (*aclrtGetCurrentContext_fn)(aclrtContext *context);
typedef aclError (*aclrtMalloc_fn)(void **devPtr, size_t size, aclrtMemMallocPolicy policy);
typedef aclError (*aclrtMallocAlign32_fn)(void **devPtr, size_t size, aclrtMemMallocPolicy policy);
typedef aclError (*aclrtMallocCached_fn)(void **devPtr, size_t size, aclrtMemMallocPolicy policy);
typedef aclError (*aclrtMallocWithCfg_fn)(void **devPtr, size_t size, aclrtMemMallocPolicy policy,
                                          aclrtMallocConfig *cfg);
typedef aclError (*aclrtFree_fn)(void *devPtr);
typedef aclError (*aclrtMallocHost_fn)(void **hostPtr, size_t size);
typedef aclError (*aclrtFreeHost_fn)(void *hostPtr);
typedef aclError (*aclrtMemcpy_fn)(void *dst, size_t destMax, const void *src, size_t count,
                                   aclrtMemcpyKind kind);
typedef aclError (*aclrtMemset_fn)(void *devPtr, size_t maxCount, int32_t value, size_t count);
typedef aclError (*aclrtGetMemInfo_fn)(aclrtMemAttr attr, size_t *free, size_t *total);
typedef aclError (*aclrtGetDeviceInfo_fn)(uint32_t deviceId, aclrtDevAttr attr, int64_t *value);
typedef const char *(*aclrtGetSocName_fn)(void);
typedef aclError (*aclrtGetPhyDevIdByLogicDevId_fn)(int32_t logicDevId, int32_t *phyDevId);
typedef aclError (*aclrtReserveMemAddress_fn)(void **virPtr, size_t size, size_t alignment,
                                              void *expectPtr, uint64_t flags);
typedef aclError (*aclrtReleaseMemAddress_fn)(void *virPtr);
typedef aclError (*aclrtMallocPhysical_fn)(aclrtDrvMemHandle *handle, size_t size,
                                           const aclrtPhysicalMemProp *prop, uint64_t flags);
typedef aclError (*aclrtFreePhysical_fn)(aclrtDrvMemHandle handle);
typedef aclError (*aclrtMapMem_fn)(void *virPtr, size_t size, size_t offset,
                                   aclrtDrvMemHandle handle, uint64_t flags);
typedef aclError (*aclrtUnmapMem_fn)(void *virPtr);
typedef aclError (*aclrtCreateStream_fn)(aclrtStream *stream);
typedef aclError (*aclrtDestroyStream_fn)(aclrtStream stream);
typedef aclError (*aclrtSynchronizeStream_fn)(aclrtStream stream);
typedef aclError (*aclrtSynchronizeDevice_fn)(void);
typedef aclError (*aclrtCreateEvent_fn)(aclrtEvent *event);
typedef aclError (*aclrtDestroyEvent_fn)(aclrtEvent event);
typedef aclError (*aclrtRecordEvent_fn)(aclrtEvent event, aclrtStream stream);
typedef aclError (*aclrtQueryEvent_fn)(aclrtEvent event, aclrtEventStatus *status);
typedef aclError (*aclrtQueryEventStatus_fn)(aclrtEvent event, aclrtEventRecordedStatus *status);
typedef aclError (*aclrtSynchronizeEvent_fn)(aclrtEvent event);
typedef aclError (*aclrtEventElapsedTime_fn)(float *ms, aclrtEvent start, aclrtEvent end);
typedef aclError (*aclrtStreamWaitEvent_fn)(aclrtStream stream, aclrtEvent event);
typedef aclError (*aclrtBinaryLoadFromData_fn)(const void *data, size_t length,
                                               const aclrtBinaryLoadOptions *options,
                                               aclrtBinHandle *binHandle);
typedef aclError (*aclrtBinaryGetFunction_fn)(const aclrtBinHandle binHandle,
                                              const char *kernelName, aclrtFuncHandle *funcHandle);
typedef aclError (*aclrtBinaryUnLoad_fn)(aclrtBinHandle binHandle);
typedef aclError (*aclrtLaunchKernel_fn)(aclrtFuncHandle funcHandle, uint32_t numBlocks,
                                         const void *argsData, size_t argsSize,
                                         aclrtStream stream);
typedef aclError (*aclrtLaunchKernelWithHostArgs_fn)(aclrtFuncHandle funcHandle,
                                                     uint32_t numBlocks, aclrtStream stream,
                                                     aclrtLaunchKernelCfg *cfg, void *hostArgs,
                                                     size_t argsSize,
                                                     aclrtPlaceHolderInfo *placeHolderArray,
                                                     size_t placeHolderNum);
typedef aclError (*aclopExecuteV2_fn)(const char *opType, int numInputs,
                                      aclTensorDesc *inputDesc[], aclDataBuffer *inputs[],
                                      int numOutputs, aclTensorDesc *outputDesc[],
                                      aclDataBuffer *outputs[], aclopAttr *attr,
                                      aclrtStream stream);
typedef aclError (*aclopCompileAndExecute_fn)(const char *opType, int numInputs,
                                              const aclTensorDesc *const inputDesc[],
                                              const aclDataBuffer *const inputs[], int numOutputs,
                                              const aclTensorDesc *const outputDesc[],
                                              aclDataBuffer *const outputs[],
                                              const aclopAttr *attr, aclopEngineType engineType,
                                              aclopCompileType compileFlag, const char *opPath,
                                              aclrtStream stream);
typedef aclError (*aclmdlLoadFromMem_fn)(const void *model, size_t modelSize, uint32_t *modelId);
typedef aclError (*aclmdlExecute_fn)(uint32_t modelId, const aclmdlDataset *input,
                                     aclmdlDataset *output);
typedef aclError (*aclmdlExecuteAsync_fn)(uint32_t modelId, const aclmdlDataset *input,
                                          aclmdlDataset *output, aclrtStream stream);
typedef aclError (*aclmdlUnload_fn)(uint32_t modelId);
typedef const char *(*aclGetRecentErrMsg_fn)(void);

/* aclnn two-phase op of the simulator's op library (libhami_sim_opapi.so) */
typedef aclError (*aclnnHamiSpinGetWorkspaceSize_fn)(uint64_t duration_ns, uint64_t *workspaceSize,
                                                     aclOpExecutor **executor);
typedef aclError (*aclnnHamiSpin_fn)(void *workspace, uint64_t workspaceSize,
                                     aclOpExecutor *executor, aclrtStream stream);

/* ------------------------------------------------------------------ function pointers: rt */
typedef rtError_t (*rtSetDevice_fn)(int32_t device);
typedef rtError_t (*rtDeviceReset_fn)(int32_t device);
typedef rtError_t (*rtGetDevice_fn)(int32_t *device);
typedef rtError_t (*rtGetDeviceCount_fn)(int32_t *count);
typedef rtError_t (*rtGetDevicePhyIdByIndex_fn)(uint32_t devIndex, uint32_t *phyId);
typedef rtError_t (*rtMalloc_fn)(void **devPtr, uint64_t size, rtMemType_t type, uint16_t moduleId);
typedef rtError_t (*rtFree_fn)(void *devPtr);
typedef rtError_t (*rtMallocHost_fn)(void **hostPtr, uint64_t size, uint16_t moduleId);
typedef rtError_t (*rtFreeHost_fn)(void *hostPtr);
typedef rtError_t (*rtMallocPhysical_fn)(rtDrvMemHandle *handle, size_t size, rtDrvMemProp_t *prop,
                                         uint64_t flags);
typedef rtError_t (*rtFreePhysical_fn)(rtDrvMemHandle handle);
typedef rtError_t (*rtReserveMemAddress_fn)(void **devPtr, size_t size, size_t alignment,
                                            void *devAddr, uint64_t flags);
typedef rtError_t (*rtReleaseMemAddress_fn)(void *devPtr);
typedef rtError_t (*rtMapMem_fn)(void *devPtr, size_t size, size_t offset, rtDrvMemHandle handle,
                                 uint64_t flags);
typedef rtError_t (*rtUnmapMem_fn)(void *devPtr);
typedef rtError_t (*rtMemGetInfoEx_fn)(rtMemInfoType_t memInfoType, size_t *free, size_t *total);
typedef rtError_t (*rtStreamCreate_fn)(rtStream_t *stream, int32_t priority);
typedef rtError_t (*rtStreamDestroy_fn)(rtStream_t stream);
typedef rtError_t (*rtStreamSynchronize_fn)(rtStream_t stream);
typedef rtError_t (*rtEventCreate_fn)(rtEvent_t *event);
typedef rtError_t (*rtEventRecord_fn)(rtEvent_t event, rtStream_t stream);
typedef rtError_t (*rtEventQuery_fn)(rtEvent_t event);
typedef rtError_t (*rtEventQueryStatus_fn)(rtEvent_t event, rtEventStatus_t *status);
typedef rtError_t (*rtEventSynchronize_fn)(rtEvent_t event);
typedef rtError_t (*rtEventElapsedTime_fn)(float *ms, rtEvent_t start, rtEvent_t end);
typedef rtError_t (*rtKernelLaunch_fn)(const void *stubFunc, uint32_t blockDim, void *args,
                                       uint32_t argsSize, rtSmDesc_t *smDesc, rtStream_t stream);
typedef rtError_t (*rtKernelLaunchWithHandleV2_fn)(void *hdl, uint64_t tilingKey,
                                                   uint32_t blockDim, rtArgsEx_t *argsInfo,
                                                   rtSmDesc_t *smDesc, rtStream_t stream,
                                                   const rtTaskCfgInfo_t *cfgInfo);
typedef rtError_t (*rtLaunchKernelByFuncHandleV3_fn)(rtFuncHandle funcHandle, uint32_t blockDim,
                                                     const rtArgsEx_t *argsInfo, rtStream_t stream,
                                                     const rtTaskCfgInfo_t *cfgInfo);
typedef rtError_t (*rtsLaunchKernelWithHostArgs_fn)(rtFuncHandle funcHandle, uint32_t blockDim,
                                                    rtStream_t stream, rtKernelLaunchCfg_t *cfg,
                                                    void *hostArgs, uint32_t argsSize,
                                                    rtPlaceHolderInfo_t *placeHolderArray,
                                                    uint32_t placeHolderNum);
typedef rtError_t (*rtModelExecute_fn)(rtModel_t model, rtStream_t stream, uint32_t flag);
typedef rtError_t (*rtHamiSimDeviceInfo_fn)(int32_t logicalDevice, hamiSimNpuInfo *info);

#ifdef __cplusplus
}
#endif
#endif
