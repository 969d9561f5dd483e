/*
 * Resolution path 2, dlopen("libascendcl.so") / dlopen("libruntime.so") + dlsym(handle), as
 * torch_npu's function loader and CANN's op libraries reach ACL: the program links neither.
 * Hooked names come back as libhami.so's wrappers, unhooked ones as the library's own; the
 * caching-allocator pattern (aclrtMallocAlign32 through dlsym) is counted once and capped with
 * 207001; the aclnn op library's workspace allocation and launch work under the cap.
 */
#include <dlfcn.h>

#include "ascend_hook_test.h"

static int from(void *fn, const char *lib)
{
    Dl_info info;
    return fn && dladdr(fn, &info) && info.dli_fname && strstr(info.dli_fname, lib);
}

int main(void)
{
    test_fresh_files();
    void *acl = dlopen("libascendcl.so", RTLD_NOW | RTLD_LOCAL);
    void *rt = dlopen("libruntime.so", RTLD_NOW | RTLD_LOCAL);
    CHECK(acl != NULL && rt != NULL);
    if (!acl || !rt)
        return test_finish("test_ascend_hook_dlsym");
#define LOOKUP(h, name) name##_fn name = (name##_fn)dlsym(h, #name)
    LOOKUP(acl, aclrtSetDevice);
    LOOKUP(acl, aclrtMallocAlign32);
    LOOKUP(acl, aclrtMalloc);
    LOOKUP(acl, aclrtFree);
    LOOKUP(acl, aclrtGetMemInfo);
    LOOKUP(acl, aclrtGetDeviceInfo);
    LOOKUP(acl, aclrtMallocPhysical);
    LOOKUP(acl, aclrtCreateStream);
    LOOKUP(acl, aclrtSynchronizeStream);
    LOOKUP(acl, aclrtLaunchKernelWithHostArgs);
    LOOKUP(rt, rtMalloc);
    LOOKUP(rt, rtFree);
    LOOKUP(rt, rtMemGetInfoEx);
    LOOKUP(rt, rtHamiSimDeviceInfo);
    CHECK(from((void *)aclrtMallocAlign32, "libhami.so"));
    CHECK(from((void *)aclrtMalloc, "libhami.so"));
    CHECK(from((void *)aclrtFree, "libhami.so"));
    CHECK(from((void *)aclrtGetMemInfo, "libhami.so"));
    CHECK(from((void *)aclrtGetDeviceInfo, "libhami.so"));
    CHECK(from((void *)aclrtMallocPhysical, "libhami.so"));
    CHECK(from((void *)aclrtLaunchKernelWithHostArgs, "libhami.so"));
    CHECK(from((void *)rtMalloc, "libhami.so"));
    CHECK(from((void *)rtFree, "libhami.so"));
    CHECK(from((void *)rtMemGetInfoEx, "libhami.so"));
    /* hooked only to drop the thread's cached submission device (ascend_device.c) */
    CHECK(from((void *)aclrtSetDevice, "libhami.so"));
    CHECK(from((void *)aclrtCreateStream, "libascendcl.so")); /* not hooked */
    CHECK(from((void *)rtHamiSimDeviceInfo, "libruntime.so"));
    CHECK(dlsym(acl, "aclrtNoSuchFunction") == NULL);
    CHECK(dlerror() != NULL);
    CHECK(from(dlsym(RTLD_DEFAULT, "aclrtMalloc"), "libhami.so"));

    CHECK_EQ(aclrtSetDevice(0), ACL_SUCCESS);
    hamiSimNpuInfo info;
    CHECK_EQ(rtHamiSimDeviceInfo(0, &info), RT_ERROR_NONE);
    const char *uuid = info.uuid;

    /* torch_npu's caching allocator: aclrtMallocAlign32 blocks until the cap, then 207001 */
    void *blocks[8];
    int n = 0;
    aclError rc = ACL_SUCCESS;
    while (n < 8 && (rc = aclrtMallocAlign32(&blocks[n], 20 * MiB, ACL_MEM_MALLOC_HUGE_FIRST)) ==
                        ACL_SUCCESS)
        n++;
    CHECK_EQ(n, 3);
    CHECK_EQ(rc, ACL_ERROR_RT_MEMORY_ALLOCATION);
    CHECK_EQ(USED(uuid), 60 * MiB);
    size_t free_bytes = 0, total_bytes = 0;
    CHECK_EQ(aclrtGetMemInfo(ACL_HBM_MEM, &free_bytes, &total_bytes), ACL_SUCCESS);
    CHECK_EQ(total_bytes, 64 * MiB);
    CHECK_EQ(free_bytes, 4 * MiB);
    CHECK_EQ(rtMemGetInfoEx(RT_MEMORYINFO_HBM, &free_bytes, &total_bytes), RT_ERROR_NONE);
    CHECK_EQ(total_bytes, 64 * MiB);
    int64_t value = 0;
    CHECK_EQ(aclrtGetDeviceInfo(0, ACL_DEV_ATTR_TOTAL_GLOBAL_MEM_SIZE, &value), ACL_SUCCESS);
    CHECK_EQ(value, 64 * MiB);

    /* the op library (dlopen'ed, reaches ACL with dlsym): workspace from aclrtMalloc, then the
     * op; the workspace does not fit while the cache holds 60 MiB */
    void *ops = dlopen("libhami_sim_opapi.so", RTLD_NOW | RTLD_LOCAL);
    CHECK(ops != NULL);
    if (ops) {
        LOOKUP(ops, aclnnHamiSpinGetWorkspaceSize);
        LOOKUP(ops, aclnnHamiSpin);
        uint64_t workspace_bytes = 0;
        aclOpExecutor *executor = NULL;
        CHECK_EQ(aclnnHamiSpinGetWorkspaceSize(1000, &workspace_bytes, &executor), ACL_SUCCESS);
        void *workspace = NULL;
        CHECK_EQ(aclrtMalloc(&workspace, 4 * MiB, ACL_MEM_MALLOC_HUGE_FIRST),
                 ACL_ERROR_RT_MEMORY_ALLOCATION);
        CHECK_EQ(aclrtFree(blocks[--n]), ACL_SUCCESS); /* torch_npu frees its cache, retries */
        CHECK_EQ(aclrtMalloc(&workspace, workspace_bytes, ACL_MEM_MALLOC_HUGE_FIRST), ACL_SUCCESS);
        CHECK_EQ(USED(uuid), 40 * MiB + ((workspace_bytes + 31) / 32 * 32 + 32));
        aclrtStream stream = NULL;
        CHECK_EQ(aclrtCreateStream(&stream), ACL_SUCCESS);
        CHECK_EQ(aclnnHamiSpin(workspace, workspace_bytes, executor, stream), ACL_SUCCESS);
        CHECK_EQ(aclrtSynchronizeStream(stream), ACL_SUCCESS);
        CHECK_EQ(aclrtFree(workspace), ACL_SUCCESS);
    }
    /* the runtime through dlsym, counted once */
    void *r = NULL;
    CHECK_EQ(rtMalloc(&r, 30 * MiB, RT_MEMORY_HBM, 0), ACL_ERROR_RT_MEMORY_ALLOCATION);
    CHECK_EQ(rtMalloc(&r, 20 * MiB, RT_MEMORY_HBM, 0), RT_ERROR_NONE);
    CHECK_EQ(USED(uuid), 60 * MiB);
    CHECK_EQ(rtFree(r), RT_ERROR_NONE);
    while (n > 0)
        CHECK_EQ(aclrtFree(blocks[--n]), ACL_SUCCESS);
    CHECK_EQ(USED(uuid), 0);
    return test_finish("test_ascend_hook_dlsym");
}
