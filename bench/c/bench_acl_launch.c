/* hami-bench-acl-launch: cost of aclrtLaunchKernel of a zero-duration kernel (the simulator's
 * hami_sim_spin with 0 ns), with a stream synchronisation every 512 launches so the queue never
 * fills; the Ascend counterpart of hami-bench-launch.  "-n N -r R": launches per repetition
 * and repetitions.  Prints one JSON line:
 * {"bench":"acl_launch","ns_per_launch":<median over repetitions>,...}.  Links libascendcl.so
 * by SONAME with no rpath. */
#include "bench_acl.h"

int main(int argc, char **argv)
{
    long n = 200000, reps = 7;
    bench_args(argc, argv, &n, &reps);
    static const char image[] = "hami-bench kernels";
    aclrtStream stream;
    aclrtFuncHandle fn = bench_acl_spin_kernel(image, sizeof image, &stream);
    uint64_t zero_ns = 0;
    double *per = calloc((size_t)reps, sizeof *per);
    if (!per)
        return 2;
    for (long r = 0; r < reps; r++) {
        uint64_t launch_ns = 0;
        for (long done = 0; done < n;) {
            long batch = n - done < 512 ? n - done : 512;
            uint64_t t0 = hami_now_ns();
            for (long i = 0; i < batch; i++)
                CHECK(aclrtLaunchKernel(fn, 1, &zero_ns, sizeof zero_ns, stream));
            launch_ns += hami_now_ns() - t0;
            CHECK(aclrtSynchronizeStream(stream));
            done += batch;
        }
        per[r] = (double)launch_ns / (double)n;
    }
    bench_report("acl_launch", "ns_per_launch", per, n, reps);
    free(per);
    return 0;
}
