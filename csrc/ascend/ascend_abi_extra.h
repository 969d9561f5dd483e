/*
 * Ascend declarations the interception library needs that csrc/include/hami/acl_abi.h does not
 * carry: the CANN runtime's context calls, hooked (ascend_device.c) only to drop the calling
 * thread's cached submission device when its current context changes.  Signatures as in
 * CANN's runtime/context.h (rtContext_t is a plain handle).
 */
#ifndef HAMI_ASCEND_ABI_EXTRA_H
#define HAMI_ASCEND_ABI_EXTRA_H

#include "hami/acl_abi.h"

typedef rtError_t (*rtCtxCreate_fn)(rtContext_t *ctx, uint32_t flags, int32_t device);
typedef rtError_t (*rtCtxDestroy_fn)(rtContext_t ctx);
typedef rtError_t (*rtCtxSetCurrent_fn)(rtContext_t ctx);

#endif
