/*
 * Shared by the Ascend bench/c programs, over bench_common.h: declarations of the ACL calls they
 * all make (from the typedefs of hami/acl_abi.h), the check, and device 0 with a stream and the
 * simulator's spin kernel.
 */
#ifndef HAMI_BENCH_ACL_H
#define HAMI_BENCH_ACL_H
#include "bench_common.h"
#include "hami/acl_abi.h"

BENCH_DECL(aclInit)
BENCH_DECL(aclrtSetDevice)
BENCH_DECL(aclrtCreateStream)
BENCH_DECL(aclrtSynchronizeStream)
BENCH_DECL(aclrtBinaryLoadFromData)
BENCH_DECL(aclrtBinaryGetFunction)
BENCH_DECL(aclrtLaunchKernel)

#define CHECK(call)                                                                            \
    do {                                                                                       \
        aclError r_ = (call);                                                                  \
        if (r_ != ACL_SUCCESS) {                                                               \
            fprintf(stderr, "%s failed: %d\n", #call, (int)r_);                                \
            exit(2);                                                                           \
        }                                                                                      \
    } while (0)

/* aclInit, device 0 and a stream on it, then the spin kernel (hami_sim_spin) from a binary
 * loaded from `image` (`image_len` bytes). */
static inline aclrtFuncHandle bench_acl_spin_kernel(const char *image, size_t image_len,
                                                    aclrtStream *stream)
{
    aclrtBinHandle bin;
    aclrtFuncHandle fn;
    CHECK(aclInit(NULL));
    CHECK(aclrtSetDevice(0));
    CHECK(aclrtCreateStream(stream));
    CHECK(aclrtBinaryLoadFromData(image, image_len, NULL, &bin));
    CHECK(aclrtBinaryGetFunction(bin, "hami_sim_spin", &fn));
    return fn;
}
#endif
