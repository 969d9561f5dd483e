/* NVML over the engine: devices by physical index, memory, and per-process used memory and
 * utilisation that match what this process did (and a forked child, to see two processes). */
#include <signal.h>
#include <sys/wait.h>

#include "nvml_decls.h"
#include "sim_test.h"

int main(void)
{
    sim_test_setup("nvml", "8Gi");
    CHECK(nvmlDeviceGetCount_v2(&(unsigned){0}) == NVML_ERROR_UNINITIALIZED);
    CHECK(nvmlInit_v2() == NVML_SUCCESS);
    unsigned count = 0;
    CHECK(nvmlDeviceGetCount_v2(&count) == NVML_SUCCESS && count == 2);
    nvmlDevice_t dev, dev1;
    CHECK(nvmlDeviceGetHandleByIndex_v2(0, &dev) == NVML_SUCCESS);
    CHECK(nvmlDeviceGetHandleByIndex_v2(1, &dev1) == NVML_SUCCESS);
    CHECK(nvmlDeviceGetHandleByIndex_v2(2, &dev1) == NVML_ERROR_INVALID_ARGUMENT);
    char uuid[96], name[96], ver[96];
    CHECK(nvmlDeviceGetUUID(dev, uuid, sizeof uuid) == NVML_SUCCESS);
    CHECK(strncmp(uuid, "GPU-", 4) == 0);
    nvmlDevice_t again;
    CHECK(nvmlDeviceGetHandleByUUID(uuid, &again) == NVML_SUCCESS && again == dev);
    CHECK(nvmlDeviceGetName(dev, name, sizeof name) == NVML_SUCCESS);
    CHECK(nvmlSystemGetDriverVersion(ver, sizeof ver) == NVML_SUCCESS);
    unsigned idx = 9;
    CHECK(nvmlDeviceGetIndex(dev, &idx) == NVML_SUCCESS && idx == 0);
    CHECK(nvmlDeviceGetMemoryInfo((nvmlDevice_t)name, NULL) == NVML_ERROR_INVALID_ARGUMENT);

    /* the CUDA uuid and the NVML uuid name the same device */
    CUfunction spin = sim_test_init_spin();
    CUuuid cu;
    CHECK_CU(cuDeviceGetUuid_v2(&cu, 0));
    char expect[16];
    snprintf(expect, sizeof expect, "GPU-%02x%02x%02x%02x", (unsigned char)cu.bytes[0],
             (unsigned char)cu.bytes[1], (unsigned char)cu.bytes[2], (unsigned char)cu.bytes[3]);
    CHECK(strncmp(uuid, expect, 12) == 0);

    const unsigned long long MiB = 1 << 20;
    CUdeviceptr p;
    CHECK_CU(cuMemAlloc_v2(&p, 256 * MiB));
    nvmlMemory_t m;
    CHECK(nvmlDeviceGetMemoryInfo(dev, &m) == NVML_SUCCESS);
    CHECK(m.total == 8192 * MiB && m.used == 256 * MiB && m.free == m.total - m.used);
    nvmlMemory_v2_t m2;
    m2.version = 0;
    CHECK(nvmlDeviceGetMemoryInfo_v2(dev, &m2) == NVML_ERROR_ARGUMENT_VERSION_MISMATCH);
    m2.version = nvmlMemory_v2;
    CHECK(nvmlDeviceGetMemoryInfo_v2(dev, &m2) == NVML_SUCCESS && m2.used == 256 * MiB);

    /* a child holding 512 MiB is listed too */
    int ready[2];
    CHECK(pipe(ready) == 0);
    pid_t child = fork();
    if (child == 0) {
        CUdeviceptr q;
        CHECK_CU(cuMemAlloc_v2(&q, 512 * MiB));
        CHECK(write(ready[1], "x", 1) == 1);
        pause();
        _exit(0);
    }
    char c;
    CHECK(read(ready[0], &c, 1) == 1);
    unsigned n = 0;
    CHECK(nvmlDeviceGetComputeRunningProcesses_v3(dev, &n, NULL) == NVML_ERROR_INSUFFICIENT_SIZE);
    CHECK(n == 2);
    nvmlProcessInfo_t procs[8];
    n = 8;
    CHECK(nvmlDeviceGetComputeRunningProcesses_v3(dev, &n, procs) == NVML_SUCCESS && n == 2);
    int seen = 0;
    for (unsigned i = 0; i < n; i++) {
        if (procs[i].pid == (unsigned)getpid() && procs[i].usedGpuMemory == 256 * MiB)
            seen |= 1;
        if (procs[i].pid == (unsigned)child && procs[i].usedGpuMemory == 512 * MiB)
            seen |= 2;
    }
    CHECK(seen == 3);
    kill(child, SIGKILL);
    waitpid(child, NULL, 0);
    n = 8;
    CHECK(nvmlDeviceGetComputeRunningProcesses_v2(dev, &n, procs) == NVML_SUCCESS && n == 1);
    CHECK(nvmlDeviceGetMemoryInfo(dev, &m) == NVML_SUCCESS && m.used == 256 * MiB);

    /* utilisation: 150 ms of kernels inside a ~300 ms window is ~50 % */
    nvmlUtilization_t u;
    nvmlProcessUtilizationSample_t samples[8];
    CHECK(nvmlDeviceGetUtilizationRates(dev, &u) == NVML_SUCCESS); /* opens the window */
    n = 8;
    nvmlDeviceGetProcessUtilization(dev, samples, &n, 0);
    uint64_t t0 = hami_now_ns();
    for (int i = 0; i < 15; i++)
        CHECK_CU(sim_test_spin(spin, NULL, 10000000));
    CHECK_CU(cuCtxSynchronize());
    hami_sleep_until_ns(t0 + 300000000ull);
    double window = ms_since(t0);
    CHECK(nvmlDeviceGetUtilizationRates(dev, &u) == NVML_SUCCESS);
    double expect_pct = 150.0 * 100 / window;
    printf("device utilisation %u%% (expected ~%.0f%%)\n", u.gpu, expect_pct);
    CHECK(u.gpu + 8 >= expect_pct && u.gpu <= expect_pct + 8);
    n = 8;
    CHECK(nvmlDeviceGetProcessUtilization(dev, samples, &n, 0) == NVML_SUCCESS);
    CHECK(n == 1 && samples[0].pid == (unsigned)getpid());
    printf("process smUtil %u%%\n", samples[0].smUtil);
    CHECK(samples[0].smUtil + 8 >= expect_pct && samples[0].smUtil <= expect_pct + 8);
    unsigned long long used = 0, busy = 0;
    CHECK_CU(hamiSimProcessUsage(0, &used, &busy, NULL));
    CHECK(used == 256 * MiB && busy == 150000000ull);
    CHECK(nvmlShutdown() == NVML_SUCCESS);
    CHECK(nvmlShutdown() == NVML_ERROR_UNINITIALIZED);
    printf("ok\n");
    return 0;
}
