/*
 * Simulated libcuda.so.1: cuGetProcAddress and cuGetProcAddress_v2.  One table row per ABI
 * variant {base name, first CUDA version, function}; a lookup returns the newest variant whose
 * version is <= the requested cudaVersion, exactly as the real driver does (cuCtxCreate at 12000
 * gives cuCtxCreate_v3, at 12050 and later cuCtxCreate_v4).  Names are base names ("cuMemAlloc");
 * a name the table does not know gives CUDA_ERROR_NOT_FOUND with
 * CU_GET_PROC_ADDRESS_SYMBOL_NOT_FOUND, a known name asked for at a version below its first one
 * gives CUDA_ERROR_NOT_FOUND with CU_GET_PROC_ADDRESS_VERSION_NOT_SUFFICIENT.
 * The per-thread-default-stream variants (_ptsz/_ptds) are exported aliases of the same
 * functions, so the flags do not change the answer.  The library links with -Bsymbolic: every
 * pointer here is the simulator's own, the same address dlsym(handle, "<_vN name>") returns.
 */
#include <string.h>

#include "sim_cuda.h"

/* declarations of the entry points defined in the other sim_cuda_*.c files */
#define X(name, ver, sym) extern CUresult sym();
#include "sim_cuda_procaddr_table.h"
#undef X

typedef struct proc_entry {
    const char *name;
    int first_version;
    void *fn;
} proc_entry;

static const proc_entry g_table[] = {
#define X(name, ver, sym) {#name, ver, (void *)&sym},
#include "sim_cuda_procaddr_table.h"
#undef X
};

static CUresult lookup(const char *symbol, void **pfn, int cuda_version,
                       CUdriverProcAddressQueryResult *status)
{
    if (!symbol || !pfn)
        return CUDA_ERROR_INVALID_VALUE;
    const proc_entry *best = NULL;
    int known = 0;
    for (size_t i = 0; i < SIM_COUNT_OF(g_table); i++) {
        if (strcmp(g_table[i].name, symbol) != 0)
            continue;
        known = 1;
        if (g_table[i].first_version <= cuda_version &&
            (!best || g_table[i].first_version > best->first_version))
            best = &g_table[i];
    }
    if (!best) {
        *pfn = NULL;
        if (status)
            *status = known ? CU_GET_PROC_ADDRESS_VERSION_NOT_SUFFICIENT
                            : CU_GET_PROC_ADDRESS_SYMBOL_NOT_FOUND;
        return CUDA_ERROR_NOT_FOUND;
    }
    *pfn = best->fn;
    if (status)
        *status = CU_GET_PROC_ADDRESS_SUCCESS;
    return CUDA_SUCCESS;
}

SIM_API CUresult cuGetProcAddress_v2(const char *symbol, void **pfn, int cudaVersion,
                                     cuuint64_t flags, CUdriverProcAddressQueryResult *status)
{
    (void)flags;
    return lookup(symbol, pfn, cudaVersion, status);
}

SIM_API CUresult cuGetProcAddress(const char *symbol, void **pfn, int cudaVersion,
                                  cuuint64_t flags)
{
    (void)flags;
    return lookup(symbol, pfn, cudaVersion, NULL);
}
