/* hami-bench-launch: cost of cuLaunchKernel of a zero-duration kernel (hami_sim_spin with 0 ns on
 * the simulator), with a stream synchronisation every 512 launches so the queue never fills.
 * Prints one JSON line: {"bench":"launch","ns_per_launch":<median over repetitions>,...}. */
#include "bench_cuda.h"

int main(int argc, char **argv)
{
    long n = 200000, reps = 7;
    bench_args(argc, argv, &n, &reps);
    CUfunction fn = bench_spin_kernel("hami-bench");
    uint64_t zero_ns = 0;
    void *params[] = {&zero_ns};
    double *per = calloc((size_t)reps, sizeof *per);
    if (!per)
        return 2;
    for (long r = 0; r < reps; r++) {
        uint64_t launch_ns = 0;
        for (long done = 0; done < n;) {
            long batch = n - done < 512 ? n - done : 512;
            uint64_t t0 = hami_now_ns();
            for (long i = 0; i < batch; i++)
                BENCH_CHECK(cuLaunchKernel(fn, 1, 1, 1, 1, 1, 1, 0, NULL, params, NULL));
            launch_ns += hami_now_ns() - t0;
            BENCH_CHECK(cuStreamSynchronize(NULL));
            done += batch;
        }
        per[r] = (double)launch_ns / (double)n;
    }
    bench_report("launch", "ns_per_launch", per, n, reps);
    free(per);
    return 0;
}
