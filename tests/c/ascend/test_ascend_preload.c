/* ACL descends to the runtime across the library boundary: with a counting rt* shim
 * LD_PRELOADed (ctest sets it), each ACL call below reaches the shim's rt* exactly once,
 * including ACL reached through dlopen + dlsym and the op library's launch. */
#include <dlfcn.h>
#include <stdatomic.h>

#include "acl_decls.h"
#include "ascend_test.h"

static int count(const char *name)
{
    _Atomic int *c = dlsym(RTLD_DEFAULT, name);
    if (!c) {
        fprintf(stderr, "the counting shim is not preloaded (%s missing)\n", name);
        exit(1);
    }
    return atomic_load(c);
}

int main(void)
{
    asc_test_setup("preload", "1Gi", 1);
    CHECK_ACL(aclrtSetDevice(0));
    void *p;
    CHECK(count("hami_shim_rtMalloc_calls") == 0);
    CHECK_ACL(aclrtMalloc(&p, 1000, ACL_MEM_MALLOC_HUGE_FIRST));
    CHECK(count("hami_shim_rtMalloc_calls") == 1);
    CHECK_ACL(aclrtFree(p));
    CHECK_ACL(aclrtMallocAlign32(&p, 1000, ACL_MEM_MALLOC_HUGE_FIRST));
    CHECK_ACL(aclrtFree(p));
    CHECK_ACL(aclrtMallocWithCfg(&p, 1000, ACL_MEM_MALLOC_HUGE_FIRST, NULL));
    CHECK_ACL(aclrtFree(p));
    CHECK(count("hami_shim_rtMalloc_calls") == 3);

    void *acl = dlopen("libascendcl.so", RTLD_NOW);
    CHECK(acl);
    aclrtMalloc_fn m = (aclrtMalloc_fn)dlsym(acl, "aclrtMalloc");
    CHECK(m);
    CHECK_ACL(m(&p, 4096, ACL_MEM_MALLOC_HUGE_FIRST));
    CHECK_ACL(aclrtFree(p));
    CHECK(count("hami_shim_rtMalloc_calls") == 4);

    aclrtPhysicalMemProp prop;
    memset(&prop, 0, sizeof prop);
    prop.location.type = ACL_MEM_LOCATION_TYPE_DEVICE;
    aclrtDrvMemHandle h;
    CHECK_ACL(aclrtMallocPhysical(&h, 1 << 21, &prop, 0));
    CHECK_ACL(aclrtFreePhysical(h));
    CHECK(count("hami_shim_rtMallocPhysical_calls") == 1);

    size_t f, t;
    CHECK_ACL(aclrtGetMemInfo(ACL_HBM_MEM, &f, &t));
    CHECK(count("hami_shim_rtMemGetInfoEx_calls") == 1);

    aclrtBinHandle bin;
    aclrtFuncHandle spin;
    CHECK_ACL(aclrtBinaryLoadFromData("img", 3, NULL, &bin));
    CHECK_ACL(aclrtBinaryGetFunction(bin, "hami_sim_spin", &spin));
    uint64_t ns = 1000;
    CHECK_ACL(aclrtLaunchKernel(spin, 1, &ns, sizeof ns, NULL));
    CHECK(count("hami_shim_rtLaunchKernelByFuncHandleV3_calls") == 1);
    CHECK_ACL(aclrtLaunchKernelWithHostArgs(spin, 1, NULL, NULL, &ns, sizeof ns, NULL, 0));
    CHECK(count("hami_shim_rtsLaunchKernelWithHostArgs_calls") == 1);
    CHECK_ACL(aclopExecuteV2("Add", 0, NULL, NULL, 0, NULL, NULL, NULL, NULL));
    CHECK(count("hami_shim_rtKernelLaunch_calls") == 1);
    unsigned char model[16] = "HAMISIMM";
    uint32_t id;
    CHECK_ACL(aclmdlLoadFromMem(model, sizeof model, &id));
    CHECK_ACL(aclmdlExecute(id, NULL, NULL));
    CHECK(count("hami_shim_rtModelExecute_calls") == 1);

    /* the op library: dlopen + dlsym of ACL, launch through aclrtLaunchKernelWithHostArgs */
    void *op = dlopen("libhami_sim_opapi.so", RTLD_NOW);
    CHECK(op);
    aclnnHamiSpinGetWorkspaceSize_fn ws_fn =
        (aclnnHamiSpinGetWorkspaceSize_fn)dlsym(op, "aclnnHamiSpinGetWorkspaceSize");
    aclnnHamiSpin_fn run = (aclnnHamiSpin_fn)dlsym(op, "aclnnHamiSpin");
    uint64_t ws_bytes;
    aclOpExecutor *x;
    CHECK_ACL(ws_fn(1000, &ws_bytes, &x));
    void *ws;
    CHECK_ACL(aclrtMalloc(&ws, ws_bytes, ACL_MEM_MALLOC_HUGE_FIRST));
    CHECK_ACL(run(ws, ws_bytes, x, NULL));
    CHECK(count("hami_shim_rtsLaunchKernelWithHostArgs_calls") == 2);
    CHECK_ACL(aclrtFree(ws));
    CHECK_ACL(aclrtSynchronizeDevice());
    printf("ascend preload: ok\n");
    return 0;
}
