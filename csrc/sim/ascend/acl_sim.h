/*
 * Private declarations of the simulated ACL (libascendcl.so): the export macro, the runtime
 * functions it calls across the library boundary (resolved at load time through the dynamic
 * linker, so an LD_PRELOADed interposer of rt* sees them, as on real CANN), and helpers.
 */
#ifndef HAMI_SIM_ASCEND_ACL_SIM_H
#define HAMI_SIM_ASCEND_ACL_SIM_H

#include <stdint.h>

#include "hami/acl_abi.h"

#define ACL_API __attribute__((visibility("default")))

/* ---- libruntime.so (real CANN names and signatures; see acl_abi.h) */
rtError_t rtSetDevice(int32_t device);
rtError_t rtDeviceReset(int32_t device);
rtError_t rtGetDevice(int32_t *device);
rtError_t rtGetDeviceCount(int32_t *count);
rtError_t rtGetDevicePhyIdByIndex(uint32_t devIndex, uint32_t *phyId);
rtError_t rtDeviceSynchronize(void);
rtError_t rtCtxCreate(rtContext_t *ctx, uint32_t flags, int32_t device);
rtError_t rtCtxDestroy(rtContext_t ctx);
rtError_t rtCtxSetCurrent(rtContext_t ctx);
rtError_t rtCtxGetCurrent(rtContext_t *ctx);
rtError_t rtMalloc(void **devPtr, uint64_t size, rtMemType_t type, uint16_t moduleId);
rtError_t rtFree(void *devPtr);
rtError_t rtMallocHost(void **hostPtr, uint64_t size, uint16_t moduleId);
rtError_t rtFreeHost(void *hostPtr);
rtError_t rtMallocPhysical(rtDrvMemHandle *handle, size_t size, rtDrvMemProp_t *prop,
                           uint64_t flags);
rtError_t rtFreePhysical(rtDrvMemHandle handle);
rtError_t rtReserveMemAddress(void **devPtr, size_t size, size_t alignment, void *devAddr,
                              uint64_t flags);
rtError_t rtReleaseMemAddress(void *devPtr);
rtError_t rtMapMem(void *devPtr, size_t size, size_t offset, rtDrvMemHandle handle,
                   uint64_t flags);
rtError_t rtUnmapMem(void *devPtr);
rtError_t rtMemGetInfoEx(rtMemInfoType_t memInfoType, size_t *free_bytes, size_t *total_bytes);
rtError_t rtStreamCreate(rtStream_t *stream, int32_t priority);
rtError_t rtStreamDestroy(rtStream_t stream);
rtError_t rtStreamSynchronize(rtStream_t stream);
rtError_t rtStreamWaitEvent(rtStream_t stream, rtEvent_t event);
rtError_t rtEventCreate(rtEvent_t *event);
rtError_t rtEventDestroy(rtEvent_t event);
rtError_t rtEventRecord(rtEvent_t event, rtStream_t stream);
rtError_t rtEventQuery(rtEvent_t event);
rtError_t rtEventQueryStatus(rtEvent_t event, rtEventStatus_t *status);
rtError_t rtEventSynchronize(rtEvent_t event);
rtError_t rtEventElapsedTime(float *ms, rtEvent_t start, rtEvent_t end);
rtError_t rtsBinaryLoadFromData(const void *data, uint64_t length,
                                const rtLoadBinaryConfig_t *cfg, rtBinHandle *handle);
rtError_t rtBinaryUnLoad(rtBinHandle handle);
rtError_t rtsFuncGetByName(const rtBinHandle binHandle, const char *kernelName,
                           rtFuncHandle *funcHandle);
rtError_t rtDevBinaryRegister(const rtDevBinary_t *bin, void **hdl);
rtError_t rtFunctionRegister(void *binHandle, const void *stubFunc, const char *stubName,
                             const void *devFunc, uint32_t funcMode);
rtError_t rtKernelLaunch(const void *stubFunc, uint32_t blockDim, void *args, uint32_t argsSize,
                         rtSmDesc_t *smDesc, rtStream_t stream);
rtError_t rtLaunchKernelByFuncHandleV3(rtFuncHandle funcHandle, uint32_t blockDim,
                                       const rtArgsEx_t *argsInfo, rtStream_t stream,
                                       const rtTaskCfgInfo_t *cfgInfo);
rtError_t rtsLaunchKernelWithHostArgs(rtFuncHandle funcHandle, uint32_t blockDim,
                                      rtStream_t stream, rtKernelLaunchCfg_t *cfg, void *hostArgs,
                                      uint32_t argsSize, rtPlaceHolderInfo_t *placeHolderArray,
                                      uint32_t placeHolderNum);
rtError_t rtModelCreate(rtModel_t *model, uint32_t flag);
rtError_t rtModelDestroy(rtModel_t model);
rtError_t rtModelLoadComplete(rtModel_t model);
rtError_t rtModelExecute(rtModel_t model, rtStream_t stream, uint32_t flag);
rtError_t rtHamiSimModelAddTask(rtModel_t model, uint64_t duration_ns);
rtError_t rtHamiSimDeviceInfo(int32_t logicalDevice, hamiSimNpuInfo *info);
const char *rtHamiSimLastError(void);

/* ---- acl_device.c */
void acl_set_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* AI cores of the current device (1 when there is none) */
uint32_t acl_current_ai_cores(void);

#endif
