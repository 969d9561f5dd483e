/*
 * The thread-local layer guard of the Ascend hooks (ascend_guard.c).
 *
 * ACL (libascendcl.so) implements its calls on top of the CANN runtime (libruntime.so) and calls
 * it ACROSS the library boundary: aclrtMalloc -> rtMalloc, aclrtMallocPhysical ->
 * rtMallocPhysical, aclrtFree -> rtFree, aclrtGetMemInfo -> rtMemGetInfoEx, aclrtLaunchKernel ->
 * rtLaunchKernelByFuncHandleV3, aclmdlExecute -> rtModelExecute, ...  With libhami.so preloaded
 * both layers reach our wrappers.  The acl* wrapper is the one that counts (it knows the size the
 * application asked for and ACL's own rounding); while it runs the real ACL function it sets the
 * bit of its class on this thread, and the rt* wrapper of the same class passes straight through
 * to the runtime when it finds the bit set.  An rt* call made directly by the application (or by
 * an ACL call of ANOTHER class: e.g. a workspace rtMalloc inside an op execution) finds the bit
 * clear and is counted itself.  So every allocation / submission is seen exactly once whichever
 * layer the application called and however it resolved the symbol (linking, dlsym(handle)).
 *
 * Cost: one initial-exec TLS load (and a store on each side of the real ACL call).  The guard
 * is saved and restored, never just cleared, so nested wrapper calls compose.
 */
#ifndef HAMI_ASCEND_GUARD_H
#define HAMI_ASCEND_GUARD_H

enum hami_ascend_guard_class {
    HAMI_ASCEND_GUARD_MEMORY = 1u, /* allocations and frees (ascend_memory.c) */
    HAMI_ASCEND_GUARD_INFO = 2u,   /* memory information (ascend_info.c) */
    HAMI_ASCEND_GUARD_SUBMIT = 4u, /* kernel / op / model submissions (ascend_submit.c) */
};

extern __thread unsigned hami_ascend_guard_bits __attribute__((tls_model("initial-exec")));

/* Enter an acl* wrapper's real call: returns the previous bits for hami_ascend_guard_leave. */
static inline unsigned hami_ascend_guard_enter(unsigned class_bit)
{
    unsigned previous = hami_ascend_guard_bits;
    hami_ascend_guard_bits = previous | class_bit;
    return previous;
}

static inline void hami_ascend_guard_leave(unsigned previous)
{
    hami_ascend_guard_bits = previous;
}

/* 1 when an acl* wrapper of this class is active on this thread (the rt* wrapper then passes
 * through). */
static inline int hami_ascend_guarded(unsigned class_bit)
{
    return (hami_ascend_guard_bits & class_bit) != 0;
}

#endif
