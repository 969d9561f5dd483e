/* Resolution path 3: cuGetProcAddress_v2 (as libcudart uses it) returns exactly the pointer
 * dlsym gives for the _vN symbol of the requested version; unknown names give NOT_FOUND. */
#include <dlfcn.h>

#define SIM_TEST_NO_LINK
#include "sim_test.h"

static void *h;
static cuGetProcAddress_v2_fn gpa;

static void expect(const char *name, int version, const char *symbol)
{
    void *fn = NULL;
    CUdriverProcAddressQueryResult st = CU_GET_PROC_ADDRESS_SYMBOL_NOT_FOUND;
    CUresult r = gpa(name, &fn, version, CU_GET_PROC_ADDRESS_DEFAULT, &st);
    if (r != CUDA_SUCCESS || st != CU_GET_PROC_ADDRESS_SUCCESS || fn != dlsym(h, symbol)) {
        fprintf(stderr, "%s@%d: got %p (r=%d st=%d), want %s=%p\n", name, version, fn, (int)r,
                (int)st, symbol, dlsym(h, symbol));
        exit(1);
    }
}

int main(void)
{
    sim_test_setup("procaddr", NULL);
    h = dlopen("libcuda.so.1", RTLD_NOW);
    CHECK(h);
    gpa = (cuGetProcAddress_v2_fn)dlsym(h, "cuGetProcAddress_v2");
    CHECK(gpa);
    expect("cuMemAlloc", 12000, "cuMemAlloc_v2");
    expect("cuMemAlloc", 3020, "cuMemAlloc_v2");
    expect("cuCtxCreate", 3020, "cuCtxCreate_v2");
    expect("cuCtxCreate", 11040, "cuCtxCreate_v3");
    expect("cuCtxCreate", 12000, "cuCtxCreate_v3"); /* DESIGN 8: never the _v4 at 12000 */
    expect("cuCtxCreate", 12050, "cuCtxCreate_v4");
    expect("cuCtxCreate", 13000, "cuCtxCreate_v4");
    expect("cuEventElapsedTime", 12000, "cuEventElapsedTime");
    expect("cuEventElapsedTime", 12080, "cuEventElapsedTime_v2");
    expect("cuGraphAddKernelNode", 11080, "cuGraphAddKernelNode");
    expect("cuGraphAddKernelNode", 12000, "cuGraphAddKernelNode_v2");
    expect("cuGraphInstantiate", 11000, "cuGraphInstantiate_v2");
    expect("cuGraphInstantiate", 12000, "cuGraphInstantiateWithFlags");
    expect("cuStreamBeginCapture", 10000, "cuStreamBeginCapture");
    expect("cuStreamBeginCapture", 12000, "cuStreamBeginCapture_v2");
    expect("cuDeviceGetUuid", 11000, "cuDeviceGetUuid");
    expect("cuDeviceGetUuid", 11040, "cuDeviceGetUuid_v2");
    expect("cuCtxGetDevice", 12090, "cuCtxGetDevice");
    expect("cuCtxGetDevice", 13000, "cuCtxGetDevice_v2");
    expect("cuLaunchKernel", 12000, "cuLaunchKernel");
    expect("cuGetProcAddress", 12000, "cuGetProcAddress_v2");
    expect("cuGetProcAddress", 11030, "cuGetProcAddress");
    expect("cuMemGetInfo", 12000, "cuMemGetInfo_v2");
    expect("hamiSimDeviceBusy", 12000, "hamiSimDeviceBusy");

    /* per-thread-default-stream flag: the _ptsz symbol (an alias of the same function) */
    void *fn = NULL;
    CHECK(gpa("cuLaunchKernel", &fn, 12000, CU_GET_PROC_ADDRESS_PER_THREAD_DEFAULT_STREAM, NULL) ==
          CUDA_SUCCESS);
    CHECK(fn == dlsym(h, "cuLaunchKernel_ptsz"));

    CUdriverProcAddressQueryResult st = CU_GET_PROC_ADDRESS_SUCCESS;
    fn = (void *)1;
    CHECK(gpa("cuNoSuchThing", &fn, 13000, 0, &st) == CUDA_ERROR_NOT_FOUND);
    CHECK(st == CU_GET_PROC_ADDRESS_SYMBOL_NOT_FOUND && fn == NULL);
    CHECK(gpa("cuMemAlloc", &fn, 3000, 0, &st) == CUDA_ERROR_NOT_FOUND);
    CHECK(st == CU_GET_PROC_ADDRESS_VERSION_NOT_SUFFICIENT);
    CHECK(gpa("cuMemAlloc_v2", &fn, 13000, 0, &st) == CUDA_ERROR_NOT_FOUND); /* base names only */
    CHECK(gpa(NULL, &fn, 13000, 0, &st) == CUDA_ERROR_INVALID_VALUE);

    /* the legacy 4-argument entry point answers the same */
    cuGetProcAddress_fn gpa1 = (cuGetProcAddress_fn)dlsym(h, "cuGetProcAddress");
    CHECK(gpa1("cuCtxCreate", &fn, 12000, 0) == CUDA_SUCCESS && fn == dlsym(h, "cuCtxCreate_v3"));

    /* and the pointers work */
    cuInit_fn init = NULL;
    CHECK(gpa("cuInit", (void **)&init, 12000, 0, NULL) == CUDA_SUCCESS);
    CHECK(init(0) == CUDA_SUCCESS);
    printf("ok\n");
    return 0;
}
