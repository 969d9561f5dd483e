/* hami-bench-acl-launch: cost of aclrtLaunchKernel of a zero-duration kernel (the simulator's
 * hami_sim_spin with 0 ns), with a stream synchronisation every 512 launches so the queue never
 * fills; the Ascend counterpart of hami-bench-launch.  "-n N -r R": launches per repetition
 * and repetitions.  Prints one JSON line:
 * {"bench":"acl_launch","ns_per_launch":<median over repetitions>,...}.  Links libascendcl.so
 * by SONAME with no rpath. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hami/acl_abi.h"
#include "hami/clock.h"

#define DECLARE(name) extern __typeof__(*(name##_fn)0) name;
DECLARE(aclInit)
DECLARE(aclrtSetDevice)
DECLARE(aclrtCreateStream)
DECLARE(aclrtSynchronizeStream)
DECLARE(aclrtBinaryLoadFromData)
DECLARE(aclrtBinaryGetFunction)
DECLARE(aclrtLaunchKernel)

#define CHECK(call)                                                                            \
    do {                                                                                       \
        aclError r_ = (call);                                                                  \
        if (r_ != ACL_SUCCESS) {                                                               \
            fprintf(stderr, "%s failed: %d\n", #call, (int)r_);                                \
            exit(2);                                                                           \
        }                                                                                      \
    } while (0)

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    long n = 200000, reps = 7;
    for (int i = 1; i + 1 < argc; i += 2) {
        long v = strtol(argv[i + 1], NULL, 10);
        if (v <= 0) {
            fprintf(stderr, "usage: %s [-n ITERATIONS] [-r REPETITIONS]\n", argv[0]);
            return 2;
        }
        if (strcmp(argv[i], "-n") == 0)
            n = v;
        else if (strcmp(argv[i], "-r") == 0)
            reps = v;
    }
    CHECK(aclInit(NULL));
    CHECK(aclrtSetDevice(0));
    aclrtStream stream;
    CHECK(aclrtCreateStream(&stream));
    static const char image[] = "hami-bench kernels";
    aclrtBinHandle bin;
    aclrtFuncHandle fn;
    CHECK(aclrtBinaryLoadFromData(image, sizeof image, NULL, &bin));
    CHECK(aclrtBinaryGetFunction(bin, "hami_sim_spin", &fn));
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
    qsort(per, (size_t)reps, sizeof per[0], cmp_double);
    double med = reps % 2 ? per[reps / 2] : (per[reps / 2 - 1] + per[reps / 2]) / 2;
    printf("{\"bench\":\"acl_launch\",\"ns_per_launch\":%.1f,\"iterations\":%ld,\"repetitions\":%ld}\n",
           med, n, reps);
    free(per);
    return 0;
}
