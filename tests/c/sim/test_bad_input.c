/* Bad input never crashes: bad handles give the driver's errors, and a corrupt or foreign state
 * file is refused with a message (cuInit: CUDA_ERROR_NO_DEVICE; nvmlInit: DRIVER_NOT_LOADED). */
#include <fcntl.h>
#include <sys/wait.h>

#include "nvml_decls.h"
#include "sim_test.h"

static int run_child_on_state(const char *path, const char *content, size_t len)
{
    int fd = open(path, O_CREAT | O_TRUNC | O_WRONLY, 0600);
    CHECK(fd >= 0);
    CHECK(write(fd, content, len) == (ssize_t)len);
    close(fd);
    pid_t pid = fork();
    if (pid == 0) {
        setenv("HAMI_SIM_STATE", path, 1);
        CHECK(cuInit(0) == CUDA_ERROR_NO_DEVICE);
        int n = -1;
        CHECK(cuDeviceGetCount(&n) == CUDA_ERROR_NOT_INITIALIZED);
        CUdeviceptr p;
        CHECK(cuMemAlloc_v2(&p, 16) == CUDA_ERROR_NOT_INITIALIZED);
        CHECK(nvmlInit_v2() == NVML_ERROR_DRIVER_NOT_LOADED);
        _exit(0);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    unlink(path);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 100 + WTERMSIG(status);
}

int main(void)
{
    sim_test_setup("bad", NULL);
    char path[600];
    snprintf(path, sizeof path, "%s.corrupt", sim_test_state_path);
    static char garbage[300000];
    memset(garbage, 0x5a, sizeof garbage);
    CHECK(run_child_on_state(path, "not a state file\n", 17) == 0);
    CHECK(run_child_on_state(path, garbage, sizeof garbage) == 0);

    /* bad handles on a good state */
    CUfunction spin = sim_test_init_spin();
    int junk[64] = {0};
    CHECK(cuStreamSynchronize((CUstream)junk) == CUDA_ERROR_INVALID_HANDLE);
    CHECK(cuStreamQuery((CUstream)0x12345) == CUDA_ERROR_INVALID_HANDLE);
    CHECK(cuEventRecord((CUevent)junk, NULL) == CUDA_ERROR_INVALID_HANDLE);
    CHECK(cuEventSynchronize(NULL) == CUDA_ERROR_INVALID_HANDLE);
    float ms;
    CHECK(cuEventElapsedTime_v2(&ms, (CUevent)junk, (CUevent)junk) == CUDA_ERROR_INVALID_HANDLE);
    CHECK(cuLaunchKernel((CUfunction)junk, 1, 1, 1, 1, 1, 1, 0, NULL, NULL, NULL) ==
          CUDA_ERROR_INVALID_HANDLE);
    CHECK(sim_test_spin(spin, (CUstream)junk, 1) == CUDA_ERROR_INVALID_HANDLE);
    CHECK(cuLaunchKernel(spin, 0, 1, 1, 1, 1, 1, 0, NULL, NULL, NULL) == CUDA_ERROR_INVALID_VALUE);
    CHECK(cuModuleGetFunction(&spin, (CUmodule)junk, "x") == CUDA_ERROR_INVALID_HANDLE);
    CHECK(cuModuleUnload((CUmodule)junk) == CUDA_ERROR_INVALID_HANDLE);
    CHECK(cuCtxSetCurrent((CUcontext)junk) == CUDA_ERROR_INVALID_CONTEXT);
    CHECK(cuCtxDestroy_v2((CUcontext)junk) == CUDA_ERROR_INVALID_CONTEXT);
    CHECK(cuStreamDestroy_v2((CUstream)junk) == CUDA_ERROR_INVALID_HANDLE);
    CHECK(cuMemFree_v2(0xdeadbeef000ull) == CUDA_ERROR_INVALID_VALUE);
    CHECK(cuArrayDestroy((CUarray)junk) == CUDA_ERROR_INVALID_HANDLE);
    CHECK(cuGraphExecDestroy((CUgraphExec)junk) == CUDA_ERROR_INVALID_VALUE);
    CHECK(cuMemPoolDestroy((CUmemoryPool)junk) == CUDA_ERROR_INVALID_VALUE);
    CHECK(cuDeviceGetAttribute(&junk[0], (CUdevice_attribute)-5, 0) == CUDA_ERROR_INVALID_VALUE);
    CHECK(cuDeviceGetName((char *)junk, 16, 9) == CUDA_ERROR_INVALID_DEVICE);

    /* no current context */
    CHECK_CU(cuCtxSetCurrent(NULL));
    CUdeviceptr p;
    CHECK(cuMemAlloc_v2(&p, 16) == CUDA_ERROR_INVALID_CONTEXT);
    CHECK(cuCtxSynchronize() == CUDA_ERROR_INVALID_CONTEXT);
    printf("ok\n");
    return 0;
}
