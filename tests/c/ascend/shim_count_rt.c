/* A tiny LD_PRELOAD interposer of the CANN runtime for test_ascend_preload: counts the rt*
 * calls that reach it and forwards them to the next definition (libruntime.so). */
#include <dlfcn.h>
#include <stdatomic.h>

#include "hami/acl_abi.h"

#define SHIM_API __attribute__((visibility("default")))

SHIM_API _Atomic int hami_shim_rtMalloc_calls;
SHIM_API _Atomic int hami_shim_rtMallocPhysical_calls;
SHIM_API _Atomic int hami_shim_rtsLaunchKernelWithHostArgs_calls;
SHIM_API _Atomic int hami_shim_rtLaunchKernelByFuncHandleV3_calls;
SHIM_API _Atomic int hami_shim_rtKernelLaunch_calls;
SHIM_API _Atomic int hami_shim_rtModelExecute_calls;
SHIM_API _Atomic int hami_shim_rtMemGetInfoEx_calls;

#define FORWARD(name, counter, ...)                                                             \
    static name##_fn real;                                                                      \
    if (!real)                                                                                  \
        real = (name##_fn)dlsym(RTLD_NEXT, #name);                                              \
    atomic_fetch_add(&counter, 1);                                                              \
    return real ? real(__VA_ARGS__) : ACL_ERROR_RT_INTERNAL_ERROR

SHIM_API rtError_t rtMalloc(void **p, uint64_t size, rtMemType_t type, uint16_t module)
{
    FORWARD(rtMalloc, hami_shim_rtMalloc_calls, p, size, type, module);
}

SHIM_API rtError_t rtMallocPhysical(rtDrvMemHandle *h, size_t size, rtDrvMemProp_t *prop,
                                    uint64_t flags)
{
    FORWARD(rtMallocPhysical, hami_shim_rtMallocPhysical_calls, h, size, prop, flags);
}

SHIM_API rtError_t rtsLaunchKernelWithHostArgs(rtFuncHandle f, uint32_t blocks, rtStream_t s,
                                               rtKernelLaunchCfg_t *cfg, void *args,
                                               uint32_t bytes, rtPlaceHolderInfo_t *ph,
                                               uint32_t nph)
{
    FORWARD(rtsLaunchKernelWithHostArgs, hami_shim_rtsLaunchKernelWithHostArgs_calls, f, blocks,
            s, cfg, args, bytes, ph, nph);
}

SHIM_API rtError_t rtLaunchKernelByFuncHandleV3(rtFuncHandle f, uint32_t blocks,
                                                const rtArgsEx_t *args, rtStream_t s,
                                                const rtTaskCfgInfo_t *cfg)
{
    FORWARD(rtLaunchKernelByFuncHandleV3, hami_shim_rtLaunchKernelByFuncHandleV3_calls, f,
            blocks, args, s, cfg);
}

SHIM_API rtError_t rtKernelLaunch(const void *stub, uint32_t blocks, void *args, uint32_t bytes,
                                  rtSmDesc_t *sm, rtStream_t s)
{
    FORWARD(rtKernelLaunch, hami_shim_rtKernelLaunch_calls, stub, blocks, args, bytes, sm, s);
}

SHIM_API rtError_t rtModelExecute(rtModel_t m, rtStream_t s, uint32_t flag)
{
    FORWARD(rtModelExecute, hami_shim_rtModelExecute_calls, m, s, flag);
}

SHIM_API rtError_t rtMemGetInfoEx(rtMemInfoType_t t, size_t *f, size_t *total)
{
    FORWARD(rtMemGetInfoEx, hami_shim_rtMemGetInfoEx_calls, t, f, total);
}
