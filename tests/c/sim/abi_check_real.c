/* ABI check, toolkit side: the same list evaluated against the real cuda.h, plus a compile-time
 * check of our function-pointer typedefs: each is initialised with the address of the toolkit's
 * declaration, so a signature that differs fails to compile (-Werror).  main() compares the two
 * tables and names every mismatch.  Built only where /usr/local/cuda/include/cuda.h exists. */
#define CUDA_ENABLE_DEPRECATED 1 /* check deprecated entry points too */
#include <cuda.h>
#include <stdio.h>

#define HAMI_CUDA_ABI_TYPES_FROM_TOOLKIT
#include "hami/cuda_abi.h"

#define CONST(name) (long long)(name),
#define SIZE(type) (long long)sizeof(type),
#define OFFSET(type, member) (long long)offsetof(type, member),
static const long long real_values[] = {
#include "abi_check_list.h"
};

extern const long long hami_abi_ours[];
extern const char *const hami_abi_names[];
extern const size_t hami_abi_count;

/* function types: our typedef must accept the toolkit's function */
#define FN(sym) (void *)(sym##_fn)&sym,
static void *const typed[] = {
    FN(cuInit) FN(cuDriverGetVersion) FN(cuGetErrorName) FN(cuGetErrorString) FN(cuGetProcAddress_v2)
    FN(cuGetExportTable) FN(cuDeviceGet) FN(cuDeviceGetCount) FN(cuDeviceGetName)
    FN(cuDeviceGetUuid_v2) FN(cuDeviceGetAttribute) FN(cuDeviceTotalMem_v2)
    FN(cuDeviceComputeCapability) FN(cuDeviceGetDefaultMemPool) FN(cuDevicePrimaryCtxRetain)
    FN(cuDevicePrimaryCtxRelease_v2) FN(cuDevicePrimaryCtxReset_v2) FN(cuDevicePrimaryCtxGetState)
    FN(cuDevicePrimaryCtxSetFlags_v2) FN(cuCtxCreate_v4) FN(cuCtxDestroy_v2) FN(cuCtxSetCurrent)
    FN(cuCtxGetCurrent) FN(cuCtxGetDevice) FN(cuCtxGetDevice_v2) FN(cuCtxPushCurrent_v2)
    FN(cuCtxPopCurrent_v2) FN(cuCtxSynchronize) FN(cuCtxSynchronize_v2) FN(cuMemAlloc_v2)
    FN(cuMemAllocPitch_v2) FN(cuMemAllocManaged) FN(cuMemFree_v2) FN(cuMemGetInfo_v2)
    FN(cuMemAllocHost_v2) FN(cuMemHostAlloc) FN(cuMemFreeHost) FN(cuMemcpyHtoD_v2)
    FN(cuMemcpyDtoH_v2) FN(cuMemcpyDtoD_v2) FN(cuMemsetD8_v2) FN(cuMemAllocAsync) FN(cuMemFreeAsync)
    FN(cuMemAllocFromPoolAsync) FN(cuMemPoolCreate) FN(cuMemPoolDestroy) FN(cuMemCreate)
    FN(cuMemRelease) FN(cuMemAddressReserve) FN(cuMemAddressFree) FN(cuMemMap) FN(cuMemUnmap)
    FN(cuMemSetAccess) FN(cuMemGetAllocationGranularity) FN(cuArrayCreate_v2)
    FN(cuArray3DCreate_v2) FN(cuArrayDestroy) FN(cuMipmappedArrayCreate)
    FN(cuMipmappedArrayDestroy) FN(cuModuleLoad) FN(cuModuleLoadData) FN(cuModuleLoadDataEx)
    FN(cuModuleUnload) FN(cuModuleGetFunction) FN(cuFuncGetAttribute) FN(cuLaunchKernel)
    FN(cuLaunchKernelEx) FN(cuLaunchCooperativeKernel) FN(cuStreamCreate)
    FN(cuStreamCreateWithPriority) FN(cuStreamDestroy_v2) FN(cuStreamSynchronize) FN(cuStreamQuery)
    FN(cuStreamWaitEvent) FN(cuEventCreate) FN(cuEventRecord) FN(cuEventQuery)
    FN(cuEventSynchronize) FN(cuEventElapsedTime_v2) FN(cuEventDestroy_v2)
    FN(cuStreamBeginCapture_v2) FN(cuStreamEndCapture) FN(cuStreamIsCapturing) FN(cuGraphCreate)
    FN(cuGraphAddKernelNode_v2) FN(cuGraphInstantiateWithFlags) FN(cuGraphLaunch)
    FN(cuGraphDestroy) FN(cuGraphExecDestroy)
};

int main(void)
{
    int bad = 0;
    if (sizeof real_values / sizeof real_values[0] != hami_abi_count) {
        fprintf(stderr, "list length mismatch\n");
        return 1;
    }
    for (size_t i = 0; i < hami_abi_count; i++) {
        if (real_values[i] != hami_abi_ours[i]) {
            fprintf(stderr, "%s: ours %lld, cuda.h %lld\n", hami_abi_names[i], hami_abi_ours[i],
                    real_values[i]);
            bad++;
        }
    }
    printf("%zu values, sizes and offsets checked, %zu function types; %d mismatches\n",
           hami_abi_count, sizeof typed / sizeof typed[0], bad);
    return bad != 0;
}
