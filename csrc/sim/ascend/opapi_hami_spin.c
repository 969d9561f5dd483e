/*
 * The simulator's op library (libhami_sim_opapi.so): one aclnn-style two-phase op, as CANN's
 * op libraries (libopapi.so) and torch_npu's op plugin use them.
 *   aclnnHamiSpinGetWorkspaceSize(duration_ns, &workspaceSize, &executor)
 *       -> workspaceSize = 1 MiB (the caller allocates it with aclrtMalloc) and a one-shot
 *          executor;
 *   aclnnHamiSpin(workspace, workspaceSize, executor, stream)
 *       -> launches the "hami_sim_spin" kernel for duration_ns through
 *          aclrtLaunchKernelWithHostArgs, and frees the executor (also on error).
 * ACL is reached as torch_npu reaches it: dlopen("libascendcl.so") + dlsym(handle, name), so
 * a dlsym hook on that path sees the launch.  The library does not link libascendcl.so.
 */
#include <dlfcn.h>
#include <pthread.h>
#include <stdlib.h>

#include "hami/acl_abi.h"

#define OP_API __attribute__((visibility("default")))
#define WORKSPACE_BYTES (1ull << 20)
#define EXECUTOR_TAG 0x48534558u /* "HSEX" */

struct aclOpExecutor {
    uint32_t tag;
    uint64_t duration_ns;
};

static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static aclError g_load_result = ACL_ERROR_RT_NO_DEVICE;
static aclrtLaunchKernelWithHostArgs_fn g_launch;
static aclrtFuncHandle g_spin_function;

static void load_kernel(void)
{
    void *acl = dlopen("libascendcl.so", RTLD_NOW | RTLD_GLOBAL);
    if (!acl)
        return;
    aclrtBinaryLoadFromData_fn load_binary =
        (aclrtBinaryLoadFromData_fn)dlsym(acl, "aclrtBinaryLoadFromData");
    aclrtBinaryGetFunction_fn get_function =
        (aclrtBinaryGetFunction_fn)dlsym(acl, "aclrtBinaryGetFunction");
    g_launch = (aclrtLaunchKernelWithHostArgs_fn)dlsym(acl, "aclrtLaunchKernelWithHostArgs");
    if (!load_binary || !get_function || !g_launch)
        return;
    static const char image[] = "hami_sim_opapi kernels";
    aclrtBinHandle bin = NULL;
    aclError r = load_binary(image, sizeof image, NULL, &bin);
    if (!r)
        r = get_function(bin, "hami_sim_spin", &g_spin_function);
    g_load_result = r;
}

OP_API aclError aclnnHamiSpinGetWorkspaceSize(uint64_t duration_ns, uint64_t *workspaceSize,
                                              aclOpExecutor **executor)
{
    if (!workspaceSize || !executor)
        return ACL_ERROR_INVALID_PARAM;
    aclOpExecutor *x = malloc(sizeof *x);
    if (!x)
        return ACL_ERROR_BAD_ALLOC;
    x->tag = EXECUTOR_TAG;
    x->duration_ns = duration_ns;
    *workspaceSize = WORKSPACE_BYTES;
    *executor = x;
    return ACL_SUCCESS;
}

OP_API aclError aclnnHamiSpin(void *workspace, uint64_t workspaceSize, aclOpExecutor *executor,
                              aclrtStream stream)
{
    if (!executor || executor->tag != EXECUTOR_TAG)
        return ACL_ERROR_INVALID_PARAM;
    uint64_t duration_ns = executor->duration_ns;
    executor->tag = 0;
    free(executor);
    if (!workspace || workspaceSize < WORKSPACE_BYTES)
        return ACL_ERROR_INVALID_PARAM;
    pthread_once(&g_once, load_kernel);
    if (g_load_result)
        return g_load_result;
    uint64_t args = duration_ns;
    return g_launch(g_spin_function, 1, stream, NULL, &args, sizeof args, NULL, 0);
}
