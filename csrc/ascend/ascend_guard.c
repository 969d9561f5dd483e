/*
 * Owns the storage of the Ascend hooks' thread-local layer guard (see ascend_guard.h for how
 * the acl* -> rt* descent is counted once).
 */
#include "ascend_guard.h"

__thread unsigned hami_ascend_guard_bits __attribute__((tls_model("initial-exec")));
