/*
 * The one list of driver symbols the interception library deals with, as X-macros, so the
 * symbol table (resolve.c), the index enum and the wrapper declarations cannot drift apart.
 *
 *   HOOK(name)    we export a wrapper `name`; dlsym(handle, "name") and cuGetProcAddress answers
 *                 that equal the driver's `name` are replaced by it.
 *   HELPER(name)  the driver's function is only resolved, for the hooks' own use (never
 *                 exported, never substituted).
 *
 * Everything else the application asks for resolves to the driver untouched.
 */
#ifndef HAMI_HOOK_SYMBOLS_H
#define HAMI_HOOK_SYMBOLS_H

#include "hami/cuda_abi.h"
#include "hami/nvml_abi.h"
#include "hook_abi_extra.h"
#include "hami/acl_abi.h"
#include "../ascend/ascend_abi_extra.h"

#define HAMI_CUDA_SYMBOLS(HOOK, HELPER)                                                          \
    /* resolution */                                                                             \
    HOOK(cuGetProcAddress)                                                                       \
    HOOK(cuGetProcAddress_v2)                                                                    \
    /* memory (memory.c) */                                                                      \
    HOOK(cuMemAlloc_v2)                                                                          \
    HOOK(cuMemAllocPitch_v2)                                                                     \
    HOOK(cuMemAllocManaged)                                                                      \
    HOOK(cuMemFree_v2)                                                                           \
    HOOK(cuMemAllocAsync)                                                                        \
    HOOK(cuMemAllocAsync_ptsz)                                                                   \
    HOOK(cuMemAllocFromPoolAsync)                                                                \
    HOOK(cuMemAllocFromPoolAsync_ptsz)                                                           \
    HOOK(cuMemFreeAsync)                                                                         \
    HOOK(cuMemFreeAsync_ptsz)                                                                    \
    HOOK(cuMemCreate)                                                                            \
    HOOK(cuMemRelease)                                                                           \
    HOOK(cuArrayCreate_v2)                                                                       \
    HOOK(cuArray3DCreate_v2)                                                                     \
    HOOK(cuArrayDestroy)                                                                         \
    HOOK(cuMipmappedArrayCreate)                                                                 \
    HOOK(cuMipmappedArrayDestroy)                                                                \
    /* information (info.c) */                                                                   \
    HOOK(cuMemGetInfo_v2)                                                                        \
    HOOK(cuDeviceTotalMem_v2)                                                                    \
    /* launches (launch.c) */                                                                    \
    HOOK(cuLaunchKernel)                                                                         \
    HOOK(cuLaunchKernel_ptsz)                                                                    \
    HOOK(cuLaunchKernelEx)                                                                       \
    HOOK(cuLaunchKernelEx_ptsz)                                                                  \
    HOOK(cuLaunchCooperativeKernel)                                                              \
    HOOK(cuLaunchCooperativeKernel_ptsz)                                                         \
    HOOK(cuGraphLaunch)                                                                          \
    HOOK(cuGraphLaunch_ptsz)                                                                     \
    /* stream capture (launch.c): captured launches are not metered */                          \
    HOOK(cuStreamBeginCapture)                                                                   \
    HOOK(cuStreamBeginCapture_ptsz)                                                              \
    HOOK(cuStreamBeginCapture_v2)                                                                \
    HOOK(cuStreamBeginCapture_v2_ptsz)                                                           \
    HOOK(cuStreamEndCapture)                                                                     \
    HOOK(cuStreamEndCapture_ptsz)                                                                \
    /* context switches (cuda_device.c): invalidate the launch path's per-thread device cache */ \
    HOOK(cuCtxSetCurrent)                                                                        \
    HOOK(cuCtxPushCurrent_v2)                                                                    \
    HOOK(cuCtxPopCurrent_v2)                                                                     \
    HOOK(cuCtxCreate_v2)                                                                         \
    HOOK(cuCtxCreate_v3)                                                                         \
    HOOK(cuCtxCreate_v4)                                                                         \
    HOOK(cuCtxDestroy_v2)                                                                        \
    HOOK(cuDevicePrimaryCtxRelease_v2)                                                           \
    HOOK(cuDevicePrimaryCtxReset_v2)                                                             \
    /* helpers */                                                                                \
    HELPER(cuCtxGetDevice)                                                                       \
    HELPER(cuDeviceGetCount)                                                                     \
    HELPER(cuDeviceGetUuid)                                                                      \
    HELPER(cuDeviceGetUuid_v2)                                                                   \
    HELPER(cuDevicePrimaryCtxGetState)                                                           \
    HELPER(cuStreamIsCapturing)

#define HAMI_NVML_SYMBOLS(HOOK, HELPER)                                                          \
    HOOK(nvmlDeviceGetMemoryInfo)                                                                \
    HOOK(nvmlDeviceGetMemoryInfo_v2)                                                             \
    HELPER(nvmlDeviceGetUUID)                                                                    \
    HELPER(nvmlDeviceGetIndex)

/* Ascend ACL (libascendcl.so), csrc/ascend.  Every acl* memory, info and submission call that
 * descends into a hooked rt* call runs that call under the thread-local guard of
 * csrc/ascend/ascend_guard.h, so it is seen once. */
#define HAMI_ACL_SYMBOLS(HOOK, HELPER)                                                           \
    /* memory (ascend_memory.c) */                                                               \
    HOOK(aclrtMalloc)                                                                            \
    HOOK(aclrtMallocAlign32)                                                                     \
    HOOK(aclrtMallocCached)                                                                      \
    HOOK(aclrtMallocWithCfg)                                                                     \
    HOOK(aclrtFree)                                                                              \
    HOOK(aclrtMallocPhysical)                                                                    \
    HOOK(aclrtFreePhysical)                                                                      \
    /* information (ascend_info.c) */                                                            \
    HOOK(aclrtGetMemInfo)                                                                        \
    HOOK(aclrtGetDeviceInfo)                                                                     \
    /* submissions (ascend_submit.c) */                                                          \
    HOOK(aclrtLaunchKernel)                                                                      \
    HOOK(aclrtLaunchKernelWithHostArgs)                                                          \
    HOOK(aclopExecuteV2)                                                                         \
    HOOK(aclopCompileAndExecute)                                                                 \
    HOOK(aclmdlExecute)                                                                          \
    HOOK(aclmdlExecuteAsync)                                                                     \
    /* current-device changes (ascend_device.c): invalidate the per-thread submission device */  \
    HOOK(aclrtSetDevice)                                                                         \
    HOOK(aclrtResetDevice)                                                                       \
    HOOK(aclrtCreateContext)                                                                     \
    HOOK(aclrtDestroyContext)                                                                    \
    HOOK(aclrtSetCurrentContext)                                                                 \
    /* helpers (ascend_device.c) */                                                              \
    HELPER(aclrtGetDevice)                                                                       \
    HELPER(aclrtGetPhyDevIdByLogicDevId)

/* CANN runtime (libruntime.so), csrc/ascend: counted only when called directly (not under an
 * acl* wrapper of the same class on this thread). */
#define HAMI_RT_SYMBOLS(HOOK, HELPER)                                                            \
    /* memory (ascend_memory.c) */                                                               \
    HOOK(rtMalloc)                                                                               \
    HOOK(rtFree)                                                                                 \
    HOOK(rtMallocPhysical)                                                                       \
    HOOK(rtFreePhysical)                                                                         \
    /* information (ascend_info.c) */                                                            \
    HOOK(rtMemGetInfoEx)                                                                         \
    /* submissions (ascend_submit.c) */                                                          \
    HOOK(rtKernelLaunch)                                                                         \
    HOOK(rtKernelLaunchWithHandleV2)                                                             \
    HOOK(rtLaunchKernelByFuncHandleV3)                                                           \
    HOOK(rtsLaunchKernelWithHostArgs)                                                            \
    HOOK(rtModelExecute)                                                                         \
    /* current-device changes (ascend_device.c): invalidate the per-thread submission device */  \
    HOOK(rtSetDevice)                                                                            \
    HOOK(rtDeviceReset)                                                                          \
    HOOK(rtCtxCreate)                                                                            \
    HOOK(rtCtxDestroy)                                                                           \
    HOOK(rtCtxSetCurrent)                                                                        \
    /* helpers (ascend_device.c) */                                                              \
    HELPER(rtGetDevice)                                                                          \
    HELPER(rtGetDeviceCount)                                                                     \
    HELPER(rtGetDevicePhyIdByIndex)                                                              \
    HELPER(rtHamiSimDeviceInfo)

/* Indexes into the symbol table: HAMI_SYM_<name>; CUDA entries, HAMI_SYM_CUDA_END, NVML,
 * HAMI_SYM_NVML_END, ACL, HAMI_SYM_ACL_END, runtime (rt). */
#define HAMI_SYM_ENUM_(name) HAMI_SYM_##name,
enum hami_symbol_index {
    HAMI_CUDA_SYMBOLS(HAMI_SYM_ENUM_, HAMI_SYM_ENUM_)
    HAMI_SYM_CUDA_END, /* unused slot between two libraries */
    HAMI_NVML_SYMBOLS(HAMI_SYM_ENUM_, HAMI_SYM_ENUM_)
    HAMI_SYM_NVML_END, /* unused slot */
    HAMI_ACL_SYMBOLS(HAMI_SYM_ENUM_, HAMI_SYM_ENUM_)
    HAMI_SYM_ACL_END, /* unused slot */
    HAMI_RT_SYMBOLS(HAMI_SYM_ENUM_, HAMI_SYM_ENUM_)
    HAMI_SYM_COUNT
};
#undef HAMI_SYM_ENUM_

/* Declarations of our exported wrappers, typed from the driver's own signatures. */
#define HAMI_EXPORT __attribute__((visibility("default")))
#define HAMI_DECLARE_WRAPPER_(name) HAMI_EXPORT extern __typeof__(*(name##_fn)0) name;
#define HAMI_NO_DECLARATION_(name)
HAMI_CUDA_SYMBOLS(HAMI_DECLARE_WRAPPER_, HAMI_NO_DECLARATION_)
HAMI_NVML_SYMBOLS(HAMI_DECLARE_WRAPPER_, HAMI_NO_DECLARATION_)
HAMI_ACL_SYMBOLS(HAMI_DECLARE_WRAPPER_, HAMI_NO_DECLARATION_)
HAMI_RT_SYMBOLS(HAMI_DECLARE_WRAPPER_, HAMI_NO_DECLARATION_)
#undef HAMI_DECLARE_WRAPPER_
#undef HAMI_NO_DECLARATION_

#endif
