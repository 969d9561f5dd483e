/*
 * CUDA workload for the memory-cap end-to-end tests (tests/test_caps_*.py).  Compiled at test
 * time with `cc` against the simulator's libcuda.so.1 by path and WITHOUT an rpath, so the
 * driver is whatever LD_LIBRARY_PATH provides (`hami-core sim` puts the simulator there).
 * Every command prints one JSON line on stdout.
 *
 *   alloc MODE DEVICE BYTES     MODE: direct | dlsym | procaddr12000 | procaddr13000
 *                               allocate BYTES on DEVICE through that resolution path, report
 *                               {"rc", "free", "total"} (memory info through the same path)
 *   race DEVICE THREADS MILLIS MAXBYTES SEED
 *                               for MILLIS ms, THREADS threads allocate random sizes up to
 *                               MAXBYTES and free them in random order (each holds up to 8);
 *                               report {"ok", "oom", "other"}
 *   hold DEVICE BYTES           allocate, report {"ready"}, then sleep until killed
 *   churn DEVICE BYTES          allocate/free BYTES in a loop forever (killed by the test)
 *   launch DEVICE               launch one hami_sim_spin kernel, report {"rc"}
 */
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "hami/cuda_abi.h"

#define DECLARE(name) extern __typeof__(*(name##_fn)0) name;
DECLARE(cuInit)
DECLARE(cuDevicePrimaryCtxRetain)
DECLARE(cuCtxSetCurrent)
DECLARE(cuMemAlloc_v2)
DECLARE(cuMemFree_v2)
DECLARE(cuMemGetInfo_v2)
DECLARE(cuModuleLoadData)
DECLARE(cuModuleGetFunction)
DECLARE(cuLaunchKernel)
DECLARE(cuCtxSynchronize)

static CUcontext context_of(int device)
{
    CUcontext ctx = NULL;
    if (cuInit(0) != CUDA_SUCCESS || cuDevicePrimaryCtxRetain(&ctx, device) != CUDA_SUCCESS ||
        cuCtxSetCurrent(ctx) != CUDA_SUCCESS) {
        printf("{\"error\": \"no context on device %d\"}\n", device);
        exit(2);
    }
    return ctx;
}

static int cmd_alloc(const char *mode, int device, unsigned long long bytes)
{
    context_of(device);
    cuMemAlloc_v2_fn alloc = cuMemAlloc_v2;
    cuMemGetInfo_v2_fn info = cuMemGetInfo_v2;
    if (strcmp(mode, "dlsym") == 0) {
        void *h = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
        alloc = (cuMemAlloc_v2_fn)dlsym(h, "cuMemAlloc_v2");
        info = (cuMemGetInfo_v2_fn)dlsym(h, "cuMemGetInfo_v2");
    } else if (strncmp(mode, "procaddr", 8) == 0) {
        int version = atoi(mode + 8);
        void *h = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
        cuGetProcAddress_v2_fn get = (cuGetProcAddress_v2_fn)dlsym(h, "cuGetProcAddress_v2");
        CUdriverProcAddressQueryResult status;
        get("cuMemAlloc", (void **)&alloc, version, 0, &status);
        get("cuMemGetInfo", (void **)&info, version, 0, &status);
    } else if (strcmp(mode, "direct") != 0) {
        printf("{\"error\": \"unknown mode %s\"}\n", mode);
        return 2;
    }
    CUdeviceptr p = 0;
    CUresult rc = alloc(&p, (size_t)bytes);
    size_t free_bytes = 0, total_bytes = 0;
    info(&free_bytes, &total_bytes);
    printf("{\"rc\": %d, \"free\": %zu, \"total\": %zu}\n", (int)rc, free_bytes, total_bytes);
    return 0;
}

typedef struct race_args {
    CUcontext ctx;
    int millis;
    unsigned long long max_bytes;
    unsigned seed;
    int ok, oom, other;
} race_args;

#define RACE_HELD 8

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void *race_thread(void *arg)
{
    race_args *a = arg;
    cuCtxSetCurrent(a->ctx);
    CUdeviceptr held[RACE_HELD] = {0};
    unsigned seed = a->seed;
    double end = now_ms() + a->millis;
    while (now_ms() < end) {
        int slot = rand_r(&seed) % RACE_HELD;
        if (held[slot]) {
            cuMemFree_v2(held[slot]);
            held[slot] = 0;
            continue;
        }
        size_t bytes = 1 + (size_t)(((unsigned long long)rand_r(&seed) << 16 ^ rand_r(&seed)) %
                                    a->max_bytes);
        CUresult rc = cuMemAlloc_v2(&held[slot], bytes);
        if (rc == CUDA_SUCCESS)
            a->ok++;
        else if (rc == CUDA_ERROR_OUT_OF_MEMORY)
            a->oom++, held[slot] = 0;
        else
            a->other++, held[slot] = 0;
    }
    for (int s = 0; s < RACE_HELD; s++)
        if (held[s])
            cuMemFree_v2(held[s]);
    return NULL;
}

static int cmd_race(int device, int threads, int millis, unsigned long long max_bytes,
                    unsigned seed)
{
    CUcontext ctx = context_of(device);
    pthread_t tids[64];
    race_args args[64];
    if (threads > 64)
        threads = 64;
    for (int t = 0; t < threads; t++) {
        args[t] = (race_args){ctx, millis, max_bytes, seed * 131u + (unsigned)t, 0, 0, 0};
        pthread_create(&tids[t], NULL, race_thread, &args[t]);
    }
    int ok = 0, oom = 0, other = 0;
    for (int t = 0; t < threads; t++) {
        pthread_join(tids[t], NULL);
        ok += args[t].ok, oom += args[t].oom, other += args[t].other;
    }
    printf("{\"ok\": %d, \"oom\": %d, \"other\": %d}\n", ok, oom, other);
    return 0;
}

static int cmd_hold(int device, unsigned long long bytes, int churn)
{
    context_of(device);
    CUdeviceptr p = 0;
    CUresult rc = cuMemAlloc_v2(&p, (size_t)bytes);
    printf("{\"ready\": %s, \"rc\": %d, \"pid\": %d}\n", rc == CUDA_SUCCESS ? "true" : "false",
           (int)rc, (int)getpid());
    fflush(stdout);
    if (!churn) {
        for (;;)
            pause();
    }
    for (;;) {
        cuMemFree_v2(p);
        cuMemAlloc_v2(&p, (size_t)bytes);
    }
    return 0;
}

static int cmd_launch(int device)
{
    context_of(device);
    CUmodule module;
    CUfunction spin;
    if (cuModuleLoadData(&module, "image") != CUDA_SUCCESS ||
        cuModuleGetFunction(&spin, module, "hami_sim_spin") != CUDA_SUCCESS)
        return 2;
    unsigned long long ns = 1000;
    void *params[] = {&ns};
    CUresult rc = cuLaunchKernel(spin, 1, 1, 1, 32, 1, 1, 0, NULL, params, NULL);
    cuCtxSynchronize();
    printf("{\"rc\": %d}\n", (int)rc);
    return 0;
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc == 5 && strcmp(argv[1], "alloc") == 0)
        return cmd_alloc(argv[2], atoi(argv[3]), strtoull(argv[4], NULL, 10));
    if (argc == 7 && strcmp(argv[1], "race") == 0)
        return cmd_race(atoi(argv[2]), atoi(argv[3]), atoi(argv[4]), strtoull(argv[5], NULL, 10),
                        (unsigned)atoi(argv[6]));
    if (argc == 4 && (strcmp(argv[1], "hold") == 0 || strcmp(argv[1], "churn") == 0))
        return cmd_hold(atoi(argv[2]), strtoull(argv[3], NULL, 10), argv[1][0] == 'c');
    if (argc == 3 && strcmp(argv[1], "launch") == 0)
        return cmd_launch(atoi(argv[2]));
    fprintf(stderr, "usage: see the comment at the top of caps_workload.c\n");
    return 2;
}
