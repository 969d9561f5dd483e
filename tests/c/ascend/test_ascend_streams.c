/* Streams keep order and take device time (100 x 1 ms spin kernels ~ 100 ms), events measure
 * it and report both status enums, every launch path (aclrtLaunchKernel,
 * aclrtLaunchKernelWithHostArgs, aclopExecuteV2, aclopCompileAndExecute,
 * rtKernelLaunchWithHandleV2), models and the aclnn two-phase op take device time, and bad
 * handles give error codes. */
#include <dlfcn.h>

#include "acl_decls.h"
#include "ascend_test.h"

#define MS 1000000ull

int main(void)
{
    asc_test_setup("streams", "1Gi", 1);
    CHECK_ACL(aclInit(NULL));
    CHECK_ACL(aclrtSetDevice(0));
    aclrtStream s = NULL;
    CHECK_ACL(aclrtCreateStream(&s));
    aclrtBinHandle bin = NULL;
    aclrtFuncHandle spin = NULL, other = NULL;
    CHECK_ACL(aclrtBinaryLoadFromData("any image", 9, NULL, &bin));
    CHECK_ACL(aclrtBinaryGetFunction(bin, "hami_sim_spin", &spin));
    CHECK_ACL(aclrtBinaryGetFunction(bin, "matmul", &other));

    /* 1. 100 x 1 ms on one stream, timed by events */
    aclrtEvent e0, e1;
    CHECK_ACL(aclrtCreateEvent(&e0));
    CHECK_ACL(aclrtCreateEvent(&e1));
    double busy0 = busy_ms(0);
    uint64_t t0 = hami_now_ns();
    CHECK_ACL(aclrtRecordEvent(e0, s));
    uint64_t ns = MS;
    for (int i = 0; i < 100; i++)
        CHECK_ACL(aclrtLaunchKernel(spin, 1, &ns, sizeof ns, s));
    CHECK_ACL(aclrtRecordEvent(e1, s));
    double submit_ms = ms_since(t0);
    CHECK(submit_ms < 50); /* asynchronous */
    aclrtEventStatus st1;
    aclrtEventRecordedStatus st2;
    CHECK_ACL(aclrtQueryEvent(e1, &st1));
    CHECK(st1 == ACL_EVENT_STATUS_NOT_READY);
    CHECK_ACL(aclrtQueryEventStatus(e1, &st2));
    CHECK(st2 == ACL_EVENT_RECORDED_STATUS_NOT_READY);
    CHECK_ACL(aclrtSynchronizeEvent(e1));
    double wall = ms_since(t0);
    CHECK(wall >= 90 && wall <= 300);
    CHECK_ACL(aclrtQueryEvent(e1, &st1));
    CHECK(st1 == ACL_EVENT_STATUS_COMPLETE);
    CHECK_ACL(aclrtQueryEventStatus(e1, &st2));
    CHECK(st2 == ACL_EVENT_RECORDED_STATUS_COMPLETE);
    float ms = 0;
    CHECK_ACL(aclrtEventElapsedTime(&ms, e0, e1));
    CHECK(ms >= 99.0f && ms <= 102.0f);
    CHECK(busy_ms(0) - busy0 >= 99.0);
    printf("100 x 1 ms: wall %.1f ms, events %.2f ms\n", wall, ms);

    /* 2. ordinary kernels: ceil(blocks / 24 cores) waves of 10 us */
    CHECK_ACL(aclrtRecordEvent(e0, s));
    CHECK_ACL(aclrtLaunchKernel(other, 24 * 100, &ns, sizeof ns, s)); /* 100 waves = 1 ms */
    CHECK_ACL(aclrtRecordEvent(e1, s));
    CHECK_ACL(aclrtSynchronizeStream(s));
    CHECK_ACL(aclrtEventElapsedTime(&ms, e0, e1));
    CHECK(ms >= 0.99f && ms <= 1.2f);

    /* 3. each other submission path takes its device time: 10 ms each */
    uint64_t ten = 10 * MS;
    aclopAttr *attr = aclopCreateAttr();
    CHECK(attr);
    CHECK_ACL(aclopSetAttrInt(attr, "duration_ns", (int64_t)ten));
    static const char spin_image[] = "hami_sim_spin kernels";
    rtDevBinary_t dev_bin = {0, 0, spin_image, sizeof spin_image};
    void *bin_handle = NULL;
    CHECK_ACL(rtDevBinaryRegister(&dev_bin, &bin_handle));
    for (int path = 0; path < 4; path++) {
        CHECK_ACL(aclrtRecordEvent(e0, s));
        if (path == 0)
            CHECK_ACL(aclrtLaunchKernelWithHostArgs(spin, 1, s, NULL, &ten, sizeof ten, NULL, 0));
        else if (path == 1)
            CHECK_ACL(aclopExecuteV2("HamiSimSpin", 0, NULL, NULL, 0, NULL, NULL, attr, s));
        else if (path == 2)
            CHECK_ACL(aclopCompileAndExecute("HamiSimSpin", 0, NULL, NULL, 0, NULL, NULL, attr,
                                             ACL_ENGINE_SYS, ACL_COMPILE_SYS, NULL, s));
        else {
            rtArgsEx_t args;
            memset(&args, 0, sizeof args);
            args.args = &ten;
            args.argsSize = sizeof ten;
            CHECK_ACL(rtKernelLaunchWithHandleV2(bin_handle, 7, 1, &args, NULL, s, NULL));
        }
        CHECK_ACL(aclrtRecordEvent(e1, s));
        CHECK_ACL(aclrtSynchronizeStream(s));
        CHECK_ACL(aclrtEventElapsedTime(&ms, e0, e1));
        CHECK(ms >= 9.9f && ms <= 10.5f);
    }
    /* a generic op: 10 waves of 10 us */
    CHECK_ACL(aclrtRecordEvent(e0, s));
    CHECK_ACL(aclopExecuteV2("Add", 0, NULL, NULL, 0, NULL, NULL, NULL, s));
    CHECK_ACL(aclrtRecordEvent(e1, s));
    CHECK_ACL(aclrtSynchronizeStream(s));
    CHECK_ACL(aclrtEventElapsedTime(&ms, e0, e1));
    CHECK(ms >= 0.099f && ms <= 0.3f);
    CHECK(aclopExecuteV2("HamiSimSpin", 0, NULL, NULL, 0, NULL, NULL, NULL, s) ==
          ACL_ERROR_INVALID_PARAM);
    aclopDestroyAttr(attr);

    /* 4. models: "HAMISIMM" + 20 ms, sync and async */
    unsigned char model[16] = "HAMISIMM";
    uint64_t model_ns = 20 * MS;
    memcpy(model + 8, &model_ns, 8);
    uint32_t id = 0;
    CHECK_ACL(aclmdlLoadFromMem(model, sizeof model, &id));
    aclmdlDataset *in = aclmdlCreateDataset(), *out = aclmdlCreateDataset();
    t0 = hami_now_ns();
    CHECK_ACL(aclmdlExecute(id, in, out));
    wall = ms_since(t0);
    CHECK(wall >= 19.5 && wall < 200);
    CHECK_ACL(aclrtRecordEvent(e0, s));
    CHECK_ACL(aclmdlExecuteAsync(id, in, out, s));
    CHECK_ACL(aclrtRecordEvent(e1, s));
    CHECK_ACL(aclrtSynchronizeStream(s));
    CHECK_ACL(aclrtEventElapsedTime(&ms, e0, e1));
    CHECK(ms >= 19.9f && ms <= 20.5f);
    CHECK_ACL(aclmdlUnload(id));
    CHECK(aclmdlExecute(id, in, out) == ACL_ERROR_INVALID_MODEL_ID);
    CHECK_ACL(aclmdlDestroyDataset(in));
    CHECK_ACL(aclmdlDestroyDataset(out));

    /* 5. the aclnn two-phase op from the op library, reached with dlopen + dlsym */
    void *op = dlopen("libhami_sim_opapi.so", RTLD_NOW);
    CHECK(op);
    aclnnHamiSpinGetWorkspaceSize_fn get_ws =
        (aclnnHamiSpinGetWorkspaceSize_fn)dlsym(op, "aclnnHamiSpinGetWorkspaceSize");
    aclnnHamiSpin_fn run = (aclnnHamiSpin_fn)dlsym(op, "aclnnHamiSpin");
    CHECK(get_ws && run);
    uint64_t ws_bytes = 0;
    aclOpExecutor *x = NULL;
    CHECK_ACL(get_ws(15 * MS, &ws_bytes, &x));
    CHECK(ws_bytes > 0);
    void *ws = NULL;
    CHECK_ACL(aclrtMalloc(&ws, ws_bytes, ACL_MEM_MALLOC_HUGE_FIRST));
    busy0 = busy_ms(0);
    CHECK_ACL(aclrtRecordEvent(e0, s));
    CHECK_ACL(run(ws, ws_bytes, x, s));
    CHECK_ACL(aclrtRecordEvent(e1, s));
    CHECK_ACL(aclrtSynchronizeStream(s));
    CHECK_ACL(aclrtEventElapsedTime(&ms, e0, e1));
    CHECK(ms >= 14.9f && ms <= 15.5f);
    CHECK(busy_ms(0) - busy0 >= 14.9);
    CHECK_ACL(aclrtFree(ws));

    /* 6. bad handles: error codes, never a crash */
    int junk[64] = {0};
    CHECK(aclrtLaunchKernel((aclrtFuncHandle)junk, 1, &ns, sizeof ns, s) ==
          ACL_ERROR_RT_INVALID_HANDLE);
    CHECK(aclrtLaunchKernel(spin, 1, &ns, sizeof ns, (aclrtStream)junk) ==
          ACL_ERROR_RT_INVALID_HANDLE);
    CHECK(aclrtRecordEvent((aclrtEvent)junk, s) == ACL_ERROR_RT_INVALID_HANDLE);
    CHECK(aclrtSynchronizeStream((aclrtStream)junk) == ACL_ERROR_RT_INVALID_HANDLE);
    CHECK(aclrtLaunchKernel(spin, 1, &ns, 4, s) == ACL_ERROR_RT_PARAM_INVALID);
    CHECK(aclrtLaunchKernel(spin, 0, &ns, sizeof ns, s) == ACL_ERROR_RT_PARAM_INVALID);
    CHECK(aclmdlExecute(999, NULL, NULL) == ACL_ERROR_INVALID_MODEL_ID);

    /* 7. the default stream (NULL) and device synchronisation */
    CHECK_ACL(aclrtLaunchKernel(spin, 1, &ten, sizeof ten, NULL));
    t0 = hami_now_ns();
    CHECK_ACL(aclrtSynchronizeDevice());
    CHECK(ms_since(t0) >= 9.0);
    CHECK_ACL(aclrtDestroyEvent(e0));
    CHECK_ACL(aclrtDestroyEvent(e1));
    CHECK_ACL(aclrtDestroyStream(s));
    CHECK(aclrtDestroyStream(s) == ACL_ERROR_RT_INVALID_HANDLE);
    CHECK_ACL(aclrtResetDevice(0));
    CHECK_ACL(aclFinalize());
    printf("ascend streams: ok\n");
    return 0;
}
