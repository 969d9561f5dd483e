/*
 * Real-function resolution of the interception library (resolve.c): the table of hooked and
 * helper symbols with the driver's real pointers, resolved once, lazily, per vendor library.
 */
#ifndef HAMI_HOOK_RESOLVE_H
#define HAMI_HOOK_RESOLVE_H

#include <stdatomic.h>

#include "hook_symbols.h"

enum hami_hook_library {
    HAMI_LIB_CUDA = 0,
    HAMI_LIB_NVML = 1,
    HAMI_LIB_ACL = 2, /* libascendcl.so */
    HAMI_LIB_RT = 3,  /* libruntime.so (CANN runtime) */
    HAMI_LIB_COUNT = 4
};

/* Real driver pointers by HAMI_SYM_* index; valid once hami_lib_resolved[lib] is set. */
extern void *_Atomic hami_real_fns[HAMI_SYM_COUNT];
extern _Atomic int hami_lib_resolved[HAMI_LIB_COUNT];

/* Resolve library `lib` (dlopen + the real dlsym per listed name) if not done yet.  Returns 1
 * when the table is usable (symbols the library lacks are NULL), 0 when this thread is itself
 * inside that resolution (a re-entrant dlsym from a library constructor: pass it through). */
int hami_resolve_library(int lib);

static inline int hami_symbol_library(int index)
{
    if (index < HAMI_SYM_CUDA_END)
        return HAMI_LIB_CUDA;
    if (index < HAMI_SYM_NVML_END)
        return HAMI_LIB_NVML;
    return index < HAMI_SYM_ACL_END ? HAMI_LIB_ACL : HAMI_LIB_RT;
}

/* The driver's function for a HAMI_SYM_* index, or NULL when the driver lacks it. */
static inline void *hami_real(int index)
{
    int lib = hami_symbol_library(index);
    if (__builtin_expect(!atomic_load_explicit(&hami_lib_resolved[lib], memory_order_acquire), 0))
        hami_resolve_library(lib);
    return atomic_load_explicit(&hami_real_fns[index], memory_order_relaxed);
}

#define HAMI_REAL(name) ((name##_fn)hami_real(HAMI_SYM_##name))

/* cuGetProcAddress support: our wrapper when `fn` is the driver's pointer of a hooked CUDA
 * symbol, else `fn` itself. */
void *hami_cuda_wrapper_for(void *fn);

#endif
