/*
 * The submission hooks cache each thread's current device (csrc/ascend/ascend_device.h); every
 * call that changes it must drop the cache, at both layers.  Run with HAMI_COMPUTE_LIMIT_0=100
 * (device 0 metered) and HAMI_COMPUTE_LIMIT_1=abc (device 1 refuses every submission, fail
 * closed): a submission's return code says which device the hooks attributed it to --
 * ACL_SUCCESS on device 0, ACL_ERROR_INVALID_PARAM (100000, the acl* wrapper's refusal) on
 * device 1, and the library's own error when the thread has no current device.  Each switch
 * follows a run of submissions on the other device, so a stale cache would show.
 */
#include <pthread.h>

#include "ascend_hook_test.h"

#define DECLARE(name) extern __typeof__(*(name##_fn)0) name;
DECLARE(aclrtSetDevice)
DECLARE(aclrtResetDevice)
DECLARE(aclrtCreateContext)
DECLARE(aclrtDestroyContext)
DECLARE(aclrtSetCurrentContext)
DECLARE(aclrtGetCurrentContext)
DECLARE(aclrtSynchronizeDevice)
DECLARE(aclrtBinaryLoadFromData)
DECLARE(aclrtBinaryGetFunction)
DECLARE(aclrtLaunchKernel)
DECLARE(rtSetDevice)
DECLARE(rtDeviceReset)
rtError_t rtCtxCreate(rtContext_t *ctx, uint32_t flags, int32_t device);
rtError_t rtCtxDestroy(rtContext_t ctx);
rtError_t rtCtxSetCurrent(rtContext_t ctx);

#define REFUSED ACL_ERROR_INVALID_PARAM

static aclrtFuncHandle fn;
static uint64_t zero_ns;

static aclError launch(void)
{
    return aclrtLaunchKernel(fn, 1, &zero_ns, sizeof zero_ns, NULL);
}

/* n submissions, all expected to return `want` (fills the cache with this device) */
static void launches(int n, aclError want, int line)
{
    for (int i = 0; i < n; i++) {
        aclError rc = launch();
        if (rc != want) {
            fprintf(stderr, "%s:%d: launch %d returned %d, expected %d\n", __FILE__, line, i,
                    (int)rc, (int)want);
            test_failures++;
            return;
        }
    }
}
#define LAUNCHES(n, want) launches((n), (want), __LINE__)

/* no current device: neither admitted on device 0 nor refused as device 1 */
#define CHECK_NO_DEVICE()                                                                      \
    do {                                                                                       \
        aclError rc_ = launch();                                                               \
        CHECK(rc_ != ACL_SUCCESS && rc_ != REFUSED);                                           \
    } while (0)

static void *other_thread(void *arg)
{
    (void)arg;
    CHECK_EQ(aclrtSetDevice(1), ACL_SUCCESS);
    LAUNCHES(50, REFUSED);
    return NULL;
}

int main(void)
{
    test_fresh_files();
    static const char image[] = "hami-test kernels";
    aclrtBinHandle bin;
    CHECK_EQ(aclrtSetDevice(0), ACL_SUCCESS);
    CHECK_EQ(aclrtBinaryLoadFromData(image, sizeof image, NULL, &bin), ACL_SUCCESS);
    CHECK_EQ(aclrtBinaryGetFunction(bin, "hami_sim_spin", &fn), ACL_SUCCESS);
    aclrtContext ctx0 = NULL;
    CHECK_EQ(aclrtGetCurrentContext(&ctx0), ACL_SUCCESS);

    /* device switches, ACL and runtime */
    LAUNCHES(50, ACL_SUCCESS);
    CHECK_EQ(aclrtSetDevice(1), ACL_SUCCESS);
    LAUNCHES(50, REFUSED);
    CHECK_EQ(aclrtSetDevice(0), ACL_SUCCESS);
    LAUNCHES(50, ACL_SUCCESS);
    CHECK_EQ(rtSetDevice(1), RT_ERROR_NONE);
    LAUNCHES(50, REFUSED);
    CHECK_EQ(rtSetDevice(0), RT_ERROR_NONE);
    LAUNCHES(50, ACL_SUCCESS);

    /* contexts, ACL and runtime */
    aclrtContext ctx1 = NULL;
    CHECK_EQ(aclrtCreateContext(&ctx1, 1), ACL_SUCCESS); /* becomes current */
    LAUNCHES(50, REFUSED);
    CHECK_EQ(aclrtSetCurrentContext(ctx0), ACL_SUCCESS);
    LAUNCHES(50, ACL_SUCCESS);
    CHECK_EQ(rtCtxSetCurrent(ctx1), RT_ERROR_NONE);
    LAUNCHES(50, REFUSED);
    CHECK_EQ(rtCtxSetCurrent(ctx0), RT_ERROR_NONE);
    LAUNCHES(50, ACL_SUCCESS);
    rtContext_t ctx1b = NULL;
    CHECK_EQ(rtCtxCreate(&ctx1b, 0, 1), RT_ERROR_NONE); /* becomes current */
    LAUNCHES(50, REFUSED);
    CHECK_EQ(rtCtxDestroy(ctx1b), RT_ERROR_NONE); /* the current one: none left */
    CHECK_NO_DEVICE();
    CHECK_EQ(aclrtSetCurrentContext(ctx1), ACL_SUCCESS);
    LAUNCHES(50, REFUSED);
    CHECK_EQ(aclrtDestroyContext(ctx1), ACL_SUCCESS);
    CHECK_NO_DEVICE();

    /* resets drop the thread's current device */
    CHECK_EQ(aclrtSetDevice(1), ACL_SUCCESS);
    LAUNCHES(50, REFUSED);
    CHECK_EQ(aclrtResetDevice(1), ACL_SUCCESS);
    CHECK_NO_DEVICE();
    CHECK_EQ(rtSetDevice(1), RT_ERROR_NONE);
    LAUNCHES(50, REFUSED);
    CHECK_EQ(rtDeviceReset(1), RT_ERROR_NONE);
    CHECK_NO_DEVICE();

    /* the cache is per thread: another thread on device 1 does not move this one */
    CHECK_EQ(aclrtSetDevice(0), ACL_SUCCESS);
    LAUNCHES(50, ACL_SUCCESS);
    pthread_t t;
    CHECK_EQ(pthread_create(&t, NULL, other_thread, NULL), 0);
    CHECK_EQ(pthread_join(t, NULL), 0);
    LAUNCHES(50, ACL_SUCCESS);
    CHECK_EQ(aclrtSynchronizeDevice(), ACL_SUCCESS);
    return test_finish("test_ascend_hook_device_switch");
}
