/*
 * csrc/cuda/cuda_device.c linked without the rest of libhami.so, over a fake driver table:
 * a device the driver cannot identify (both cuDeviceGetUuid variants fail) or whose ordinal is
 * beyond the region's device table refuses allocations when the environment caps its memory
 * (fail closed), instead of passing them through uncounted; without a cap it passes through
 * (NULL); an ordinal the driver does not have is the driver's to refuse (NULL).
 * Usage: test_cuda_device_unbound [capped|uncapped]   (the parent runs both as children)
 */
#include <sys/wait.h>

#include "../common/hook_test_common.h"
#include "cuda_device.h"
#include "resolve.h"

/* resolve.c's table, filled by the test */
void *_Atomic hami_real_fns[HAMI_SYM_COUNT];
_Atomic int hami_lib_resolved[HAMI_LIB_COUNT];
int hami_resolve_library(int lib)
{
    (void)lib;
    return 1;
}

#define FAKE_DEVICES 40

static CUresult fake_count(int *n)
{
    *n = FAKE_DEVICES;
    return CUDA_SUCCESS;
}
static CUresult fake_uuid(CUuuid *uuid, CUdevice dev)
{
    if (dev == 1 || dev >= FAKE_DEVICES)
        return CUDA_ERROR_INVALID_DEVICE; /* device 1: the driver cannot say */
    memset(uuid->bytes, 0, sizeof uuid->bytes);
    uuid->bytes[0] = (char)(dev + 1);
    return CUDA_SUCCESS;
}
static CUresult fake_total(size_t *bytes, CUdevice dev)
{
    (void)dev;
    *bytes = (size_t)16 << 30;
    return CUDA_SUCCESS;
}

static int run(int capped)
{
    for (int i = 0; i < HAMI_LIB_COUNT; i++)
        atomic_store(&hami_lib_resolved[i], 1);
    atomic_store(&hami_real_fns[HAMI_SYM_cuDeviceGetCount], (void *)fake_count);
    atomic_store(&hami_real_fns[HAMI_SYM_cuDeviceGetUuid_v2], (void *)fake_uuid);
    atomic_store(&hami_real_fns[HAMI_SYM_cuDeviceGetUuid], (void *)fake_uuid);
    atomic_store(&hami_real_fns[HAMI_SYM_cuDeviceTotalMem_v2], (void *)fake_total);

    hami_hook_device *ok = hami_cuda_device(0);
    CHECK(ok != NULL && ok->refuse_memory == 0);
    hami_hook_device *noid = hami_cuda_device(1);
    hami_hook_device *beyond = hami_cuda_device(HAMI_MAX_DEVICES + 1);
    CHECK(hami_cuda_device(FAKE_DEVICES + 3) == NULL); /* no such device */
    CHECK(hami_cuda_device(-1) == NULL);
    if (capped) {
        CHECK(noid != NULL && noid->refuse_memory && noid->region_slot < 0);
        CHECK(beyond != NULL && beyond->refuse_memory && beyond->region_slot < 0);
        int slot = 0;
        CHECK(noid && hami_hook_reserve(noid, 1 << 20, "test", &slot) == -1);
        CHECK(beyond && hami_hook_reserve(beyond, 1 << 20, "test", &slot) == -1);
        CHECK(hami_cuda_device(1) == noid); /* the same answer again */
    } else {
        CHECK(noid == NULL);
        CHECK(beyond == NULL);
    }
    return test_finish(capped ? "test_cuda_device_unbound capped" : "test_cuda_device_unbound");
}

static int child(const char *self, const char *mode)
{
    pid_t pid = fork();
    if (pid == 0) {
        execl(self, self, mode, (char *)NULL);
        _exit(127);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}

int main(int argc, char **argv)
{
    if (argc == 2) {
        if (strcmp(argv[1], "capped") == 0)
            setenv("HAMI_MEMORY_LIMIT", "64m", 1);
        else
            unsetenv("HAMI_MEMORY_LIMIT");
        return run(strcmp(argv[1], "capped") == 0);
    }
    test_fresh_files();
    CHECK_EQ(child(argv[0], "capped"), 0);
    test_fresh_files();
    CHECK_EQ(child(argv[0], "uncapped"), 0);
    return test_finish("test_cuda_device_unbound");
}
