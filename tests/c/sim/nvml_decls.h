/* Prototypes of the NVML entry points the tests call, from hami/nvml_abi.h typedefs. */
#ifndef HAMI_SIM_TEST_NVML_DECLS_H
#define HAMI_SIM_TEST_NVML_DECLS_H
#include "hami/nvml_abi.h"
#define NVML_DECL(name) extern __typeof__(*(name##_fn)0) name;
NVML_DECL(nvmlInit)
NVML_DECL(nvmlInit_v2)
NVML_DECL(nvmlInitWithFlags)
NVML_DECL(nvmlShutdown)
NVML_DECL(nvmlErrorString)
NVML_DECL(nvmlSystemGetDriverVersion)
NVML_DECL(nvmlDeviceGetCount_v2)
NVML_DECL(nvmlDeviceGetHandleByIndex_v2)
NVML_DECL(nvmlDeviceGetHandleByUUID)
NVML_DECL(nvmlDeviceGetUUID)
NVML_DECL(nvmlDeviceGetName)
NVML_DECL(nvmlDeviceGetIndex)
NVML_DECL(nvmlDeviceGetMemoryInfo)
NVML_DECL(nvmlDeviceGetMemoryInfo_v2)
NVML_DECL(nvmlDeviceGetUtilizationRates)
NVML_DECL(nvmlDeviceGetComputeRunningProcesses_v3)
NVML_DECL(nvmlDeviceGetComputeRunningProcesses_v2)
NVML_DECL(nvmlDeviceGetProcessUtilization)
#endif
