/* Virtual time: 100 spin kernels of 1 ms complete in ~100 ms, events time them, cuStreamQuery
 * is NOT_READY while work is queued, synchronisation sleeps, a full queue (1024 pending)
 * blocks the launcher until space frees, block-wave durations for ordinary kernels. */
#include <sys/resource.h>

#include "sim_test.h"

static double cpu_ms(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_utime.tv_sec * 1e3 + ru.ru_utime.tv_usec / 1e3 + ru.ru_stime.tv_sec * 1e3 +
           ru.ru_stime.tv_usec / 1e3;
}

int main(void)
{
    sim_test_setup("streams", NULL);
    CUfunction spin = sim_test_init_spin();
    CUstream s;
    CUevent e0, e1;
    CHECK_CU(cuStreamCreate(&s, CU_STREAM_NON_BLOCKING));
    CHECK_CU(cuEventCreate(&e0, 0));
    CHECK_CU(cuEventCreate(&e1, 0));

    /* 100 x 1 ms */
    uint64_t t0 = hami_now_ns();
    CHECK_CU(cuEventRecord(e0, s));
    for (int i = 0; i < 100; i++)
        CHECK_CU(sim_test_spin(spin, s, 1000000));
    CHECK_CU(cuEventRecord(e1, s));
    double launch_ms = ms_since(t0);
    CHECK(launch_ms < 50); /* launches are asynchronous */
    CHECK(cuStreamQuery(s) == CUDA_ERROR_NOT_READY);
    CHECK(cuEventQuery(e1) == CUDA_ERROR_NOT_READY);
    float ms = 0;
    CHECK(cuEventElapsedTime_v2(&ms, e0, e1) == CUDA_ERROR_NOT_READY);
    double cpu0 = cpu_ms();
    CHECK_CU(cuStreamSynchronize(s));
    double wall = ms_since(t0), cpu = cpu_ms() - cpu0;
    printf("100 x 1 ms: %.1f ms wall, %.1f ms cpu while waiting\n", wall, cpu);
    CHECK(wall >= 90 && wall <= 300);
    CHECK(cpu < 30); /* synchronisation sleeps */
    CHECK_CU(cuStreamQuery(s));
    CHECK_CU(cuEventQuery(e1));
    CHECK_CU(cuEventElapsedTime_v2(&ms, e0, e1));
    printf("event elapsed: %.3f ms\n", ms);
    CHECK(ms >= 99.99 && ms <= 102); /* virtual time: exact, plus the launch gap */
    CHECK_CU(cuEventElapsedTime(&ms, e0, e1));

    /* event synchronize and stream wait event */
    CHECK_CU(sim_test_spin(spin, s, 30000000));
    CHECK_CU(cuEventRecord(e1, s));
    t0 = hami_now_ns();
    CHECK_CU(cuEventSynchronize(e1));
    CHECK(ms_since(t0) >= 29);
    CUstream s2;
    CHECK_CU(cuStreamCreateWithPriority(&s2, 0, -1));
    CHECK_CU(sim_test_spin(spin, s, 20000000));
    CHECK_CU(cuEventRecord(e0, s));
    CHECK_CU(cuStreamWaitEvent(s2, e0, 0));
    t0 = hami_now_ns();
    CHECK_CU(cuStreamSynchronize(s2));
    CHECK(ms_since(t0) >= 19);

    /* 100 spins of 100 us: 10 ms exactly in virtual time */
    CHECK_CU(cuEventRecord(e0, s));
    for (int i = 0; i < 100; i++)
        CHECK_CU(sim_test_spin(spin, s, 100000));
    CHECK_CU(cuEventRecord(e1, s));
    CHECK_CU(cuStreamSynchronize(s));
    CHECK_CU(cuEventElapsedTime(&ms, e0, e1));
    CHECK(ms >= 9.99 && ms <= 12);
    /* ordinary kernel: ceil(blocks / 108 SMs) waves of 10 us */
    CUmodule mod;
    CUfunction other;
    CHECK_CU(cuModuleLoadData(&mod, "x"));
    CHECK_CU(cuModuleGetFunction(&other, mod, "gemm"));
    CHECK_CU(cuEventRecord(e0, s));
    CHECK_CU(cuLaunchKernel(other, 1080, 1, 1, 128, 1, 1, 0, s, NULL, NULL));
    CHECK_CU(cuLaunchKernel(other, 109, 1, 1, 128, 1, 1, 0, s, NULL, NULL));
    CHECK_CU(cuEventRecord(e1, s));
    CHECK_CU(cuStreamSynchronize(s));
    CHECK_CU(cuEventElapsedTime(&ms, e0, e1));
    CHECK(ms >= 0.1199 && ms <= 2); /* 10 + 2 waves of 10 us, plus the launch gap */

    /* spin through the extra-buffer form */
    uint64_t ns = 5000000;
    size_t size = sizeof ns;
    void *extra[] = {CU_LAUNCH_PARAM_BUFFER_POINTER, &ns, CU_LAUNCH_PARAM_BUFFER_SIZE, &size,
                     CU_LAUNCH_PARAM_END};
    CHECK_CU(cuEventRecord(e0, s));
    CHECK_CU(cuLaunchKernel(spin, 1, 1, 1, 1, 1, 1, 0, s, NULL, extra));
    CHECK_CU(cuEventRecord(e1, s));
    CHECK_CU(cuEventSynchronize(e1));
    CHECK_CU(cuEventElapsedTime(&ms, e0, e1));
    CHECK(ms >= 4.99 && ms <= 7);
    CHECK(cuLaunchKernel(spin, 1, 1, 1, 1, 1, 1, 0, s, NULL, NULL) == CUDA_ERROR_INVALID_VALUE);

    /* full queue: a 300 ms kernel then 1023 empty ones fill the ring; the 1025th launch waits
     * for the first to finish */
    t0 = hami_now_ns();
    CHECK_CU(sim_test_spin(spin, s, 300000000));
    for (int i = 0; i < 1023; i++)
        CHECK_CU(sim_test_spin(spin, s, 0));
    double fill_ms = ms_since(t0);
    CHECK(fill_ms < 150);
    cpu0 = cpu_ms();
    CHECK_CU(sim_test_spin(spin, s, 0));
    double blocked_ms = ms_since(t0);
    cpu = cpu_ms() - cpu0;
    printf("queue filled in %.1f ms; 1025th launch returned at %.1f ms (cpu %.1f ms)\n", fill_ms,
           blocked_ms, cpu);
    CHECK(blocked_ms >= 295 && blocked_ms < 1000);
    CHECK(cpu < 30);
    CHECK_CU(cuStreamSynchronize(s));

    CHECK_CU(cuEventDestroy_v2(e0));
    CHECK(cuEventQuery(e0) == CUDA_ERROR_INVALID_HANDLE);
    CHECK_CU(cuStreamDestroy_v2(s2));
    CHECK(cuStreamQuery(s2) == CUDA_ERROR_INVALID_HANDLE);
    CHECK_CU(cuStreamDestroy_v2(s));
    printf("ok\n");
    return 0;
}
