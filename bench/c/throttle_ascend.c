/*
 * hami-throttle-ascend: the Ascend workload of `hami-core bench throttle`, the counterpart of
 * hami-throttle-cuda.  It keeps NPU 0 as busy as it can with the simulator's "hami_sim_spin"
 * kernel (KERNEL_NS of device time each) until SECONDS have passed or SIGTERM/SIGINT arrives.
 *
 *   hami-throttle-ascend MODE KERNEL_NS SECONDS
 *
 *   launch  aclrtLaunchKernel in a loop (descends to rtLaunchKernelByFuncHandleV3), queue
 *           bounded with events (wait for batch k-1 before launching batch k+1, ~20 ms each)
 *   sync    aclrtLaunchKernel then aclrtSynchronizeStream, every kernel
 *   aclnn   the op library's two-phase aclnn op (libhami_sim_opapi.so reached with dlopen +
 *           dlsym, as torch_npu's op plugin does): aclnnHamiSpinGetWorkspaceSize then
 *           aclnnHamiSpin on the stream (aclrtLaunchKernelWithHostArgs underneath), bounded
 *   model   an offline model of 4 tasks of KERNEL_NS each (aclmdlLoadFromMem of the
 *           simulator's "HAMISIMM" format), aclmdlExecuteAsync in a loop (rtModelExecute
 *           underneath), bounded
 *
 * Prints {"ready": true, ...} after the first submission completed and {"done": true,
 * "launches": N, "seconds": S} at the end.  Links libascendcl.so by SONAME with no rpath.
 */
#include <dlfcn.h>

#include "bench_acl.h"

BENCH_DECL(aclrtCreateEvent)
BENCH_DECL(aclrtRecordEvent)
BENCH_DECL(aclrtSynchronizeEvent)
BENCH_DECL(aclrtMalloc)
BENCH_DECL(aclmdlLoadFromMem)
BENCH_DECL(aclmdlExecuteAsync)
aclmdlDataset *aclmdlCreateDataset(void);

#define MODEL_TASKS 4u

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: %s launch|sync|aclnn|model KERNEL_NS SECONDS\n", argv[0]);
        return 2;
    }
    const char *mode = argv[1];
    int m_launch = !strcmp(mode, "launch"), m_sync = !strcmp(mode, "sync");
    int m_aclnn = !strcmp(mode, "aclnn"), m_model = !strcmp(mode, "model");
    if (!(m_launch || m_sync || m_aclnn || m_model)) {
        fprintf(stderr, "%s: unknown mode '%s' (launch, sync, aclnn, model)\n", argv[0], mode);
        return 2;
    }
    uint64_t kernel_ns;
    double seconds;
    throttle_args(argv, &kernel_ns, &seconds);

    static const char image[] = "hami-throttle kernels";
    aclrtStream stream;
    aclrtFuncHandle fn = bench_acl_spin_kernel(image, sizeof image, &stream);
    uint64_t arg = kernel_ns;

    aclnnHamiSpinGetWorkspaceSize_fn ws_size = NULL;
    aclnnHamiSpin_fn spin_op = NULL;
    void *workspace = NULL;
    uint64_t workspace_bytes = 0;
    if (m_aclnn) {
        void *ops = dlopen("libhami_sim_opapi.so", RTLD_NOW | RTLD_LOCAL);
        if (!ops) {
            fprintf(stderr, "dlopen libhami_sim_opapi.so: %s\n", dlerror());
            return 3;
        }
        ws_size = (aclnnHamiSpinGetWorkspaceSize_fn)dlsym(ops, "aclnnHamiSpinGetWorkspaceSize");
        spin_op = (aclnnHamiSpin_fn)dlsym(ops, "aclnnHamiSpin");
        if (!ws_size || !spin_op) {
            fprintf(stderr, "libhami_sim_opapi.so lacks the aclnnHamiSpin op\n");
            return 3;
        }
        aclOpExecutor *x = NULL;
        CHECK(ws_size(kernel_ns, &workspace_bytes, &x));
        CHECK(aclrtMalloc(&workspace, workspace_bytes, ACL_MEM_MALLOC_HUGE_FIRST));
        CHECK(spin_op(workspace, workspace_bytes, x, stream)); /* consumes the executor */
        CHECK(aclrtSynchronizeStream(stream));
    }
    uint32_t model_id = 0;
    aclmdlDataset *in = NULL, *out = NULL;
    uint64_t unit_ns = kernel_ns;
    if (m_model) {
        unsigned char blob[16];
        uint64_t total = kernel_ns * MODEL_TASKS;
        memcpy(blob, "HAMISIMM", 8);
        for (int i = 0; i < 8; i++)
            blob[8 + i] = (unsigned char)(total >> (8 * i));
        CHECK(aclmdlLoadFromMem(blob, sizeof blob, &model_id));
        in = aclmdlCreateDataset();
        out = aclmdlCreateDataset();
        unit_ns = total;
    }
    uint64_t batch = throttle_batch(unit_ns);
    aclrtEvent ev[2];
    CHECK(aclrtCreateEvent(&ev[0]));
    CHECK(aclrtCreateEvent(&ev[1]));

    uint64_t t0 = hami_now_ns();
    uint64_t deadline = t0 + (uint64_t)(seconds * 1e9);
    uint64_t launches = 0;
    int ready = 0;
    for (uint64_t b = 0; !throttle_stop && hami_now_ns() < deadline; b++) {
        for (uint64_t i = 0; i < batch && !throttle_stop; i++) {
            if (m_aclnn) {
                aclOpExecutor *x = NULL;
                uint64_t ws = 0;
                CHECK(ws_size(kernel_ns, &ws, &x));
                CHECK(spin_op(workspace, ws, x, stream));
            } else if (m_model) {
                CHECK(aclmdlExecuteAsync(model_id, in, out, stream));
            } else {
                CHECK(aclrtLaunchKernel(fn, 1, &arg, sizeof arg, stream));
            }
            launches++;
            if (m_sync || !ready)
                CHECK(aclrtSynchronizeStream(stream));
            if (!ready) {
                throttle_ready(mode, kernel_ns);
                ready = 1;
            }
        }
        if (!m_sync) {
            CHECK(aclrtRecordEvent(ev[b & 1], stream));
            if (b > 0)
                CHECK(aclrtSynchronizeEvent(ev[(b + 1) & 1]));
        }
    }
    throttle_done(launches, t0);
    return 0;
}
