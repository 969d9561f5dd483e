/*
 * The dlsym override keeps RTLD_NEXT and RTLD_DEFAULT lookups of other objects intact: they
 * are resolved relative to the real caller, as without libhami.so (profilers, sanitizers and
 * malloc interposers depend on it).  Linked with libhook_next_first then libhook_next_second.
 */
#include <dlfcn.h>

#include "hook_test.h"

int hook_probe_value(void);
int hook_probe_next(void);
void *hook_probe_next_dlsym(void);

static int object_is(void *fn, const char *part)
{
    Dl_info info;
    return fn && dladdr(fn, &info) && info.dli_fname && strstr(info.dli_fname, part);
}

int main(void)
{
    CHECK_EQ(hook_probe_value(), 1);
    CHECK_EQ(hook_probe_next(), 2);
    int (*probe)(void) = (int (*)(void))dlsym(RTLD_DEFAULT, "hook_probe_value");
    CHECK(probe && probe() == 1);
    /* from the executable, RTLD_NEXT skips the executable only */
    probe = (int (*)(void))dlsym(RTLD_NEXT, "hook_probe_value");
    CHECK(probe && probe() == 1);
    void *m = dlsym(RTLD_NEXT, "malloc");
    CHECK(m != NULL);
    CHECK(object_is(m, "libc.so") || object_is(m, "libasan"));
    /* RTLD_NEXT "dlsym" from a library after libhami.so is libc's */
    CHECK(object_is(hook_probe_next_dlsym(), "libc.so"));
    /* the override itself is in effect */
    CHECK(object_is(dlsym(RTLD_DEFAULT, "dlsym"), "libhami.so"));
    /* thousands of lookups from several paths: no recursion, no deadlock */
    for (int i = 0; i < 10000; i++) {
        if (!dlsym(RTLD_NEXT, "free") || hook_probe_next() != 2) {
            CHECK(0);
            break;
        }
    }
    return test_finish("test_hook_rtld_next");
}
