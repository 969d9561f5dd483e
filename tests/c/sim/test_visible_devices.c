/* CUDA_VISIBLE_DEVICES maps ordinals like the real driver: "1" shows one device (physical 1),
 * a UUID prefix selects by UUID, parsing stops at the first invalid entry. */
#include "sim_test.h"

int main(int argc, char **argv)
{
    if (argc == 1) {
        sim_test_setup("visible", NULL);
        char cmd[1024];
        snprintf(cmd, sizeof cmd, "CUDA_VISIBLE_DEVICES=1,7,0 %s child1", argv[0]);
        CHECK(system(cmd) == 0);
        snprintf(cmd, sizeof cmd, "CUDA_VISIBLE_DEVICES= %s child0", argv[0]);
        CHECK(system(cmd) == 0);
        CHECK_CU(cuInit(0));
        CUuuid u;
        CHECK_CU(cuDeviceGetUuid_v2(&u, 1));
        char prefix[32];
        snprintf(prefix, sizeof prefix, "GPU-%02x%02x%02x%02x", (unsigned char)u.bytes[0],
                 (unsigned char)u.bytes[1], (unsigned char)u.bytes[2], (unsigned char)u.bytes[3]);
        snprintf(cmd, sizeof cmd, "CUDA_VISIBLE_DEVICES=%s %s uuid", prefix, argv[0]);
        CHECK(system(cmd) == 0);
        printf("ok\n");
        return 0;
    }
    if (strcmp(argv[1], "child0") == 0) {
        CHECK(cuInit(0) == CUDA_ERROR_NO_DEVICE);
        return 0;
    }
    CHECK_CU(cuInit(0));
    int n = 0;
    CHECK_CU(cuDeviceGetCount(&n));
    CHECK(n == 1); /* "1,7,0": 7 is invalid, parsing stops */
    CUcontext ctx;
    CHECK_CU(cuCtxCreate_v2(&ctx, 0, 0));
    CUdevice d;
    CHECK_CU(cuCtxGetDevice(&d));
    CHECK(d == 0);
    return 0;
}
