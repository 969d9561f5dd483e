/*
 * Ascend workload of the end-to-end memory-cap tests (tests/test_ascend_caps.py): the
 * allocation patterns torch_npu uses, each printing one JSON line.  Linked against the
 * simulator's libascendcl.so and libruntime.so by path (direct path); the other paths reach
 * ACL as torch_npu does, with dlopen("libascendcl.so") + dlsym(handle).
 *
 *   alloc MODE DEV BYTES    one allocation on device DEV, then the memory information:
 *                           MODE direct (aclrtMalloc, linked), dlsym (aclrtMallocAlign32 via
 *                           dlsym), rt (rtMalloc via dlsym on libruntime.so)
 *                           -> {"rc", "free", "total"} (HBM, after the allocation)
 *   cache CHUNK MAX         caching allocator: aclrtMallocAlign32 (dlsym) blocks of CHUNK until
 *                           207001 or MAX blocks; then, as torch_npu does on 207001, free the
 *                           cache and retry the failed size once
 *                           -> {"rc", "allocated", "retry_rc", "total"}
 *   expandable SEG MAX      expandable segments: one reserved range, then aclrtMallocPhysical +
 *                           aclrtMapMem per segment of SEG until 207001 or MAX segments
 *                           -> {"rc", "mapped"}
 *   workspace CHUNK MAX     an aclnn op from the op library (dlopen + dlsym) while a cache of up
 *                           to MAX blocks of CHUNK is held: workspace with aclrtMalloc, on 207001
 *                           free one cached block and retry, then run the op
 *                           -> {"cached", "workspace_rc", "retry_rc", "op_rc"}
 *   both BYTES              a process on a GPU and an NPU at once: cuMemAlloc_v2 (dlopen
 *                           libcuda.so.1) and aclrtMalloc of BYTES each on device 0
 *                           -> {"cuda_rc", "acl_rc"}
 */
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hami/acl_abi.h"
#include "hami/cuda_abi.h"

#define DECLARE(name) extern __typeof__(*(name##_fn)0) name;
DECLARE(aclrtSetDevice)
DECLARE(aclrtMalloc)
DECLARE(aclrtGetMemInfo)

static void *acl_handle(void)
{
    void *h = dlopen("libascendcl.so", RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        fprintf(stderr, "dlopen libascendcl.so: %s\n", dlerror());
        exit(3);
    }
    return h;
}

#define LOOKUP(h, name)                                                                        \
    name##_fn name = (name##_fn)dlsym(h, #name);                                               \
    if (!name) {                                                                               \
        fprintf(stderr, "dlsym %s failed\n", #name);                                           \
        return 3;                                                                              \
    }

static int mode_alloc(const char *mode, int dev, uint64_t bytes)
{
    if (aclrtSetDevice(dev) != ACL_SUCCESS)
        return 3;
    void *p = NULL;
    int rc;
    if (strcmp(mode, "direct") == 0) {
        rc = aclrtMalloc(&p, bytes, ACL_MEM_MALLOC_HUGE_FIRST);
    } else if (strcmp(mode, "dlsym") == 0) {
        void *h = acl_handle();
        LOOKUP(h, aclrtMallocAlign32);
        rc = aclrtMallocAlign32(&p, bytes, ACL_MEM_MALLOC_HUGE_FIRST);
    } else {
        void *h = dlopen("libruntime.so", RTLD_NOW | RTLD_LOCAL);
        if (!h)
            return 3;
        LOOKUP(h, rtMalloc);
        rc = rtMalloc(&p, bytes, RT_MEMORY_HBM, 0);
    }
    size_t free_bytes = 0, total_bytes = 0;
    aclrtGetMemInfo(ACL_HBM_MEM, &free_bytes, &total_bytes);
    printf("{\"rc\": %d, \"free\": %zu, \"total\": %zu}\n", rc, free_bytes, total_bytes);
    return 0;
}

static int mode_cache(uint64_t chunk, int max)
{
    void *h = acl_handle();
    LOOKUP(h, aclrtSetDevice);
    LOOKUP(h, aclrtMallocAlign32);
    LOOKUP(h, aclrtFree);
    LOOKUP(h, aclrtGetMemInfo);
    if (aclrtSetDevice(0) != ACL_SUCCESS)
        return 3;
    void **blocks = calloc((size_t)max + 1, sizeof *blocks);
    int n = 0, rc = ACL_SUCCESS;
    while (n < max && (rc = aclrtMallocAlign32(&blocks[n], chunk, 0)) == ACL_SUCCESS)
        n++;
    uint64_t allocated = (uint64_t)n * chunk;
    int retry_rc = -1;
    if (rc == ACL_ERROR_RT_MEMORY_ALLOCATION) { /* torch_npu: free the cache, retry once */
        while (n > 0)
            aclrtFree(blocks[--n]);
        retry_rc = aclrtMallocAlign32(&blocks[n], chunk, 0);
    }
    size_t free_bytes = 0, total_bytes = 0;
    aclrtGetMemInfo(ACL_HBM_MEM, &free_bytes, &total_bytes);
    printf("{\"rc\": %d, \"allocated\": %llu, \"retry_rc\": %d, \"total\": %zu}\n", rc,
           (unsigned long long)allocated, retry_rc, total_bytes);
    return 0;
}

static int mode_expandable(uint64_t segment, int max)
{
    void *h = acl_handle();
    LOOKUP(h, aclrtSetDevice);
    LOOKUP(h, aclrtReserveMemAddress);
    LOOKUP(h, aclrtMallocPhysical);
    LOOKUP(h, aclrtMapMem);
    if (aclrtSetDevice(0) != ACL_SUCCESS)
        return 3;
    void *va = NULL;
    if (aclrtReserveMemAddress(&va, segment * (uint64_t)max, 0, NULL, 0) != ACL_SUCCESS)
        return 3;
    aclrtPhysicalMemProp prop;
    memset(&prop, 0, sizeof prop);
    prop.memAttr = ACL_HBM_MEM_HUGE;
    prop.location.type = ACL_MEM_LOCATION_TYPE_DEVICE;
    prop.location.id = 0;
    int n = 0, rc = ACL_SUCCESS;
    while (n < max) {
        aclrtDrvMemHandle handle = NULL;
        rc = aclrtMallocPhysical(&handle, segment, &prop, 0);
        if (rc != ACL_SUCCESS)
            break;
        rc = aclrtMapMem((char *)va + (uint64_t)n * segment, segment, 0, handle, 0);
        if (rc != ACL_SUCCESS)
            break;
        n++;
    }
    printf("{\"rc\": %d, \"mapped\": %llu}\n", rc, (unsigned long long)((uint64_t)n * segment));
    return 0;
}

static int mode_workspace(uint64_t chunk, int max)
{
    void *h = acl_handle();
    LOOKUP(h, aclrtSetDevice);
    LOOKUP(h, aclrtMallocAlign32);
    LOOKUP(h, aclrtMalloc);
    LOOKUP(h, aclrtFree);
    LOOKUP(h, aclrtCreateStream);
    LOOKUP(h, aclrtSynchronizeStream);
    void *ops = dlopen("libhami_sim_opapi.so", RTLD_NOW | RTLD_LOCAL);
    if (!ops)
        return 3;
    LOOKUP(ops, aclnnHamiSpinGetWorkspaceSize);
    LOOKUP(ops, aclnnHamiSpin);
    if (aclrtSetDevice(0) != ACL_SUCCESS)
        return 3;
    aclrtStream stream = NULL;
    if (aclrtCreateStream(&stream) != ACL_SUCCESS)
        return 3;
    void **blocks = calloc((size_t)max + 1, sizeof *blocks);
    int n = 0;
    while (n < max && aclrtMallocAlign32(&blocks[n], chunk, 0) == ACL_SUCCESS)
        n++;
    uint64_t cached = (uint64_t)n * chunk;
    uint64_t workspace_bytes = 0;
    aclOpExecutor *executor = NULL;
    if (aclnnHamiSpinGetWorkspaceSize(100000, &workspace_bytes, &executor) != ACL_SUCCESS)
        return 3;
    void *workspace = NULL;
    int workspace_rc = aclrtMalloc(&workspace, workspace_bytes, ACL_MEM_MALLOC_HUGE_FIRST);
    int retry_rc = -1;
    if (workspace_rc == ACL_ERROR_RT_MEMORY_ALLOCATION && n > 0) {
        aclrtFree(blocks[--n]);
        retry_rc = aclrtMalloc(&workspace, workspace_bytes, ACL_MEM_MALLOC_HUGE_FIRST);
    }
    int op_rc = -1;
    if (workspace_rc == ACL_SUCCESS || retry_rc == ACL_SUCCESS) {
        op_rc = aclnnHamiSpin(workspace, workspace_bytes, executor, stream);
        if (op_rc == ACL_SUCCESS)
            op_rc = aclrtSynchronizeStream(stream);
    }
    printf("{\"cached\": %llu, \"workspace_rc\": %d, \"retry_rc\": %d, \"op_rc\": %d}\n",
           (unsigned long long)cached, workspace_rc, retry_rc, op_rc);
    return 0;
}

static int mode_both(uint64_t bytes)
{
    void *cuda = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
    if (!cuda)
        return 3;
    LOOKUP(cuda, cuInit);
    LOOKUP(cuda, cuDevicePrimaryCtxRetain);
    LOOKUP(cuda, cuCtxSetCurrent);
    LOOKUP(cuda, cuMemAlloc_v2);
    CUcontext ctx;
    if (cuInit(0) != CUDA_SUCCESS || cuDevicePrimaryCtxRetain(&ctx, 0) != CUDA_SUCCESS ||
        cuCtxSetCurrent(ctx) != CUDA_SUCCESS)
        return 3;
    CUdeviceptr d;
    int cuda_rc = cuMemAlloc_v2(&d, bytes);
    if (aclrtSetDevice(0) != ACL_SUCCESS)
        return 3;
    void *p = NULL;
    int acl_rc = aclrtMalloc(&p, bytes, ACL_MEM_MALLOC_HUGE_FIRST);
    printf("{\"cuda_rc\": %d, \"acl_rc\": %d}\n", cuda_rc, acl_rc);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc >= 5 && strcmp(argv[1], "alloc") == 0)
        return mode_alloc(argv[2], atoi(argv[3]), strtoull(argv[4], NULL, 10));
    if (argc >= 4 && strcmp(argv[1], "cache") == 0)
        return mode_cache(strtoull(argv[2], NULL, 10), atoi(argv[3]));
    if (argc >= 4 && strcmp(argv[1], "expandable") == 0)
        return mode_expandable(strtoull(argv[2], NULL, 10), atoi(argv[3]));
    if (argc >= 4 && strcmp(argv[1], "workspace") == 0)
        return mode_workspace(strtoull(argv[2], NULL, 10), atoi(argv[3]));
    if (argc >= 3 && strcmp(argv[1], "both") == 0)
        return mode_both(strtoull(argv[2], NULL, 10));
    fprintf(stderr, "usage: see the top of ascend_workload.c\n");
    return 2;
}
