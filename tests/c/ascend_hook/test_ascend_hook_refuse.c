/*
 * Fail closed on bad configuration values (DESIGN 3.1).  argv[1]:
 *   compute  (NPU_PRIORITY=150): every submission path is refused before it reaches the
 *            library, with ACL_ERROR_INVALID_PARAM (100000) from acl* -- proof that the acl*
 *            wrapper saw it (the runtime would answer 107000) -- and ACL_ERROR_RT_PARAM_INVALID
 *            (107000) from rt* called directly; allocations still work.
 *   memory   (NPU_MEM_QUOTA=abc): allocations are refused with 207001 at both layers, and the
 *            memory information shows nothing free; submissions work.
 *   cap      (NPU_PRIORITY=30, a valid compute cap): submissions take the slow path (where
 *            metering will go) and reach the library at both layers.
 */
#include "ascend_hook_test.h"

#define DECLARE(name) extern __typeof__(*(name##_fn)0) name;
DECLARE(aclrtSetDevice)
DECLARE(aclrtMalloc)
DECLARE(aclrtFree)
DECLARE(aclrtGetMemInfo)
DECLARE(aclrtCreateStream)
DECLARE(aclrtSynchronizeStream)
DECLARE(aclrtLaunchKernel)
DECLARE(aclrtLaunchKernelWithHostArgs)
DECLARE(aclopExecuteV2)
DECLARE(aclopCompileAndExecute)
DECLARE(aclmdlLoadFromMem)
DECLARE(aclmdlExecute)
DECLARE(aclmdlExecuteAsync)
DECLARE(rtMalloc)
DECLARE(rtFree)
DECLARE(rtKernelLaunch)
DECLARE(rtKernelLaunchWithHandleV2)
DECLARE(rtLaunchKernelByFuncHandleV3)
DECLARE(rtsLaunchKernelWithHostArgs)
DECLARE(rtModelExecute)
aclopAttr *aclopCreateAttr(void);
void aclopDestroyAttr(const aclopAttr *attr);
aclError aclopSetAttrInt(aclopAttr *attr, const char *attrName, int64_t attrValue);

int main(int argc, char **argv)
{
    test_fresh_files();
    const char *mode = argc > 1 ? argv[1] : "compute";
    CHECK_EQ(aclrtSetDevice(0), ACL_SUCCESS);
    aclrtStream stream = NULL;
    CHECK_EQ(aclrtCreateStream(&stream), ACL_SUCCESS);
    aclopAttr *attr = aclopCreateAttr();
    CHECK_EQ(aclopSetAttrInt(attr, "duration_ns", 1000), ACL_SUCCESS);
    uint32_t model = 0;
    CHECK_EQ(aclmdlLoadFromMem("model", 5, &model), ACL_SUCCESS);
    void *p = NULL;
    uint64_t dummy = 0;
    if (strcmp(mode, "compute") == 0) {
        const int acl_refused = ACL_ERROR_INVALID_PARAM, rt_refused = ACL_ERROR_RT_PARAM_INVALID;
        CHECK_EQ(aclrtLaunchKernel(&dummy, 1, &dummy, sizeof dummy, stream), acl_refused);
        CHECK_EQ(aclrtLaunchKernelWithHostArgs(&dummy, 1, stream, NULL, &dummy, sizeof dummy,
                                               NULL, 0),
                 acl_refused);
        CHECK_EQ(aclopExecuteV2("HamiSimSpin", 0, NULL, NULL, 0, NULL, NULL, attr, stream),
                 acl_refused);
        CHECK_EQ(aclopCompileAndExecute("HamiSimSpin", 0, NULL, NULL, 0, NULL, NULL, attr,
                                        ACL_ENGINE_SYS, ACL_COMPILE_SYS, NULL, stream),
                 acl_refused);
        CHECK_EQ(aclmdlExecute(model, NULL, NULL), acl_refused);
        CHECK_EQ(aclmdlExecuteAsync(model, NULL, NULL, stream), acl_refused);
        CHECK_EQ(rtKernelLaunch(&dummy, 1, &dummy, sizeof dummy, NULL, stream), rt_refused);
        CHECK_EQ(rtKernelLaunchWithHandleV2(&dummy, 0, 1, NULL, NULL, stream, NULL), rt_refused);
        CHECK_EQ(rtLaunchKernelByFuncHandleV3(&dummy, 1, NULL, stream, NULL), rt_refused);
        CHECK_EQ(rtsLaunchKernelWithHostArgs(&dummy, 1, stream, NULL, &dummy, 8, NULL, 0),
                 rt_refused);
        CHECK_EQ(rtModelExecute(&dummy, stream, 0), rt_refused);
        CHECK_EQ(aclrtMalloc(&p, MiB, ACL_MEM_MALLOC_HUGE_FIRST), ACL_SUCCESS);
        CHECK_EQ(aclrtFree(p), ACL_SUCCESS);
    } else if (strcmp(mode, "memory") == 0) {
        CHECK_EQ(aclrtMalloc(&p, MiB, ACL_MEM_MALLOC_HUGE_FIRST), ACL_ERROR_RT_MEMORY_ALLOCATION);
        CHECK_EQ(rtMalloc(&p, MiB, RT_MEMORY_HBM, 0), ACL_ERROR_RT_MEMORY_ALLOCATION);
        size_t free_bytes = 1, total_bytes = 0;
        CHECK_EQ(aclrtGetMemInfo(ACL_HBM_MEM, &free_bytes, &total_bytes), ACL_SUCCESS);
        CHECK_EQ(free_bytes, 0);
        CHECK_EQ(aclopExecuteV2("HamiSimSpin", 0, NULL, NULL, 0, NULL, NULL, attr, stream),
                 ACL_SUCCESS);
    } else { /* cap */
        CHECK_EQ(aclopExecuteV2("HamiSimSpin", 0, NULL, NULL, 0, NULL, NULL, attr, stream),
                 ACL_SUCCESS);
        CHECK_EQ(aclmdlExecute(model, NULL, NULL), ACL_SUCCESS);
        CHECK_EQ(aclrtSynchronizeStream(stream), ACL_SUCCESS);
    }
    aclopDestroyAttr(attr);
    return test_finish("test_ascend_hook_refuse");
}
