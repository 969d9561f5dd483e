/* First of two test libraries defining hook_probe_value: hook_probe_next() looks the symbol
 * up with dlsym(RTLD_NEXT), which must find the SECOND library's definition (relative to this
 * library, the caller), not ours again, even with libhami.so's dlsym override in front. */

#include <dlfcn.h>

__attribute__((visibility("default"))) int hook_probe_value(void) { return 1; }

__attribute__((visibility("default"))) int hook_probe_next(void)
{
    int (*next)(void) = (int (*)(void))dlsym(RTLD_NEXT, "hook_probe_value");
    return next ? next() : -1;
}

/* Not a tail call: glibc resolves RTLD_NEXT relative to the return address, which a tail call
 * would move into the executable. */
__attribute__((visibility("default"))) void *hook_probe_next_dlsym(void)
{
    void *volatile found = dlsym(RTLD_NEXT, "dlsym");
    return found;
}
