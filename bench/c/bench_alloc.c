/* hami-bench-alloc: cost of one cuMemAlloc_v2 + cuMemFree_v2 pair (1 MiB each).
 * Prints one JSON line: {"bench":"alloc","ns_per_pair":<median over repetitions>,...}. */
#include "bench_cuda.h"

int main(int argc, char **argv)
{
    long n = 200000, reps = 7;
    bench_args(argc, argv, &n, &reps);
    bench_context();
    double *per = calloc((size_t)reps, sizeof *per);
    if (!per)
        return 2;
    for (long r = 0; r < reps; r++) {
        uint64_t t0 = hami_now_ns();
        for (long i = 0; i < n; i++) {
            CUdeviceptr p;
            BENCH_CHECK(cuMemAlloc_v2(&p, 1 << 20));
            BENCH_CHECK(cuMemFree_v2(p));
        }
        per[r] = (double)(hami_now_ns() - t0) / (double)n;
    }
    bench_report("alloc", "ns_per_pair", per, n, reps);
    free(per);
    return 0;
}
