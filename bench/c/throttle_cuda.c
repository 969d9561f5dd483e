/*
 * hami-throttle-cuda: the CUDA workload of `hami-core bench throttle` (DESIGN 5, compute cap
 * accuracy).  It keeps device 0 as busy as it can with hami_sim_spin kernels of KERNEL_NS each
 * (on the simulator a spin kernel occupies the device for exactly that long) until SECONDS of
 * wall time have passed or SIGTERM/SIGINT arrives.
 *
 *   hami-throttle-cuda MODE KERNEL_NS SECONDS
 *
 *   queue  cuLaunchKernel in a loop, the application queueing work ahead of the device; the
 *          queue is bounded with events (wait for batch k-1 before launching batch k+1, a
 *          batch being ~20 ms of work), so at most ~2 batches are pending and a stopped
 *          workload leaves little behind for the next measurement
 *   sync   cuLaunchKernel then cuStreamSynchronize, every kernel (an application that
 *          synchronises after each step: it cannot reach 100 % even uncapped)
 *   graph  a CUDA graph of 4 kernel nodes of KERNEL_NS each, instantiated once and launched
 *          with cuGraphLaunch in a loop (bounded like queue)
 *   coop   cuLaunchCooperativeKernel in a loop (bounded like queue)
 *
 * Prints {"ready": true, ...} once the first launch has completed (setup done), and
 * {"done": true, "launches": N, "seconds": S} at the end.  Links libcuda.so.1 by SONAME with no
 * rpath: `hami-core sim` provides the simulator, a GPU machine the real driver.
 */
#include "bench_cuda.h"

BENCH_DECL(cuStreamCreate)
BENCH_DECL(cuEventCreate)
BENCH_DECL(cuEventRecord)
BENCH_DECL(cuEventSynchronize)
BENCH_DECL(cuLaunchCooperativeKernel)
BENCH_DECL(cuGraphCreate)
BENCH_DECL(cuGraphAddKernelNode_v2)
BENCH_DECL(cuGraphInstantiateWithFlags)
BENCH_DECL(cuGraphLaunch)

#define GRAPH_NODES 4u

typedef enum { MODE_QUEUE, MODE_SYNC, MODE_GRAPH, MODE_COOP } mode_t_;

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: %s queue|sync|graph|coop KERNEL_NS SECONDS\n", argv[0]);
        return 2;
    }
    mode_t_ mode;
    if (strcmp(argv[1], "queue") == 0)
        mode = MODE_QUEUE;
    else if (strcmp(argv[1], "sync") == 0)
        mode = MODE_SYNC;
    else if (strcmp(argv[1], "graph") == 0)
        mode = MODE_GRAPH;
    else if (strcmp(argv[1], "coop") == 0)
        mode = MODE_COOP;
    else {
        fprintf(stderr, "%s: unknown mode '%s' (queue, sync, graph, coop)\n", argv[0], argv[1]);
        return 2;
    }
    uint64_t kernel_ns;
    double seconds;
    throttle_args(argv, &kernel_ns, &seconds);

    CUfunction fn = bench_spin_kernel("hami-throttle");
    CUstream stream;
    BENCH_CHECK(cuStreamCreate(&stream, 0));
    uint64_t arg = kernel_ns;
    void *params[] = {&arg};

    uint64_t unit_ns = kernel_ns; /* device work of one submission */
    CUgraphExec exec = NULL;
    if (mode == MODE_GRAPH) {
        CUgraph graph;
        BENCH_CHECK(cuGraphCreate(&graph, 0));
        CUgraphNode prev = NULL;
        for (unsigned i = 0; i < GRAPH_NODES; i++) {
            CUDA_KERNEL_NODE_PARAMS p;
            memset(&p, 0, sizeof p);
            p.func = fn;
            p.gridDimX = p.gridDimY = p.gridDimZ = 1;
            p.blockDimX = p.blockDimY = p.blockDimZ = 1;
            p.kernelParams = params;
            CUgraphNode node;
            BENCH_CHECK(cuGraphAddKernelNode_v2(&node, graph, prev ? &prev : NULL, prev ? 1 : 0, &p));
            prev = node;
        }
        BENCH_CHECK(cuGraphInstantiateWithFlags(&exec, graph, 0));
        unit_ns = kernel_ns * GRAPH_NODES;
    }
    uint64_t batch = throttle_batch(unit_ns);
    CUevent ev[2];
    BENCH_CHECK(cuEventCreate(&ev[0], 0));
    BENCH_CHECK(cuEventCreate(&ev[1], 0));

    uint64_t t0 = hami_now_ns();
    uint64_t deadline = t0 + (uint64_t)(seconds * 1e9);
    uint64_t launches = 0;
    int ready = 0;
    for (uint64_t b = 0; !throttle_stop && hami_now_ns() < deadline; b++) {
        for (uint64_t i = 0; i < batch && !throttle_stop; i++) {
            switch (mode) {
            case MODE_GRAPH:
                BENCH_CHECK(cuGraphLaunch(exec, stream));
                break;
            case MODE_COOP:
                BENCH_CHECK(cuLaunchCooperativeKernel(fn, 1, 1, 1, 1, 1, 1, 0, stream, params));
                break;
            default:
                BENCH_CHECK(cuLaunchKernel(fn, 1, 1, 1, 1, 1, 1, 0, stream, params, NULL));
            }
            launches++;
            if (mode == MODE_SYNC)
                BENCH_CHECK(cuStreamSynchronize(stream));
            if (!ready) {
                BENCH_CHECK(cuStreamSynchronize(stream));
                throttle_ready(argv[1], kernel_ns);
                ready = 1;
            }
        }
        if (mode != MODE_SYNC) {
            /* at most two batches pending: wait for the one before this one */
            BENCH_CHECK(cuEventRecord(ev[b & 1], stream));
            if (b > 0)
                BENCH_CHECK(cuEventSynchronize(ev[(b + 1) & 1]));
        }
    }
    throttle_done(launches, t0);
    return 0;
}
