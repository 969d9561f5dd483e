/*
 * Driver declarations the interception library needs that csrc/include/hami/cuda_abi.h does not
 * (yet) carry.  Kept here, not in the shared header, so the owners of that header decide.
 *
 * The per-thread-default-stream variants (`_ptsz`) are what cuGetProcAddress hands out when
 * asked with CU_GET_PROC_ADDRESS_PER_THREAD_DEFAULT_STREAM (nvcc --default-stream per-thread);
 * their signatures equal the plain variants'.
 */
#ifndef HAMI_HOOK_ABI_EXTRA_H
#define HAMI_HOOK_ABI_EXTRA_H

#include "hami/cuda_abi.h"

typedef cuMemAllocAsync_fn cuMemAllocAsync_ptsz_fn;
typedef cuMemAllocFromPoolAsync_fn cuMemAllocFromPoolAsync_ptsz_fn;
typedef cuMemFreeAsync_fn cuMemFreeAsync_ptsz_fn;
typedef cuLaunchKernel_fn cuLaunchKernel_ptsz_fn;
typedef cuLaunchKernelEx_fn cuLaunchKernelEx_ptsz_fn;
typedef cuLaunchCooperativeKernel_fn cuLaunchCooperativeKernel_ptsz_fn;
typedef cuGraphLaunch_fn cuGraphLaunch_ptsz_fn;
typedef cuStreamBeginCapture_fn cuStreamBeginCapture_ptsz_fn;
typedef cuStreamBeginCapture_v2_fn cuStreamBeginCapture_v2_ptsz_fn;
typedef cuStreamEndCapture_fn cuStreamEndCapture_ptsz_fn;

#endif
