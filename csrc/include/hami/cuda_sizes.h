/*
 * Device bytes that a CUDA array or mipmapped array occupies, as both the simulated driver
 * (csrc/sim) and the interception library (csrc/cuda) count them, so the two always agree:
 *   bytes = width * height * depth * channels * element size, each dimension at least 1
 *   (a layered array's depth is its layer count; a cube map has 6 faces, times the layers
 *   when also layered); a mipmapped array adds its levels, each dimension halving
 *   (never below 1) from one level to the next.
 * Element sizes are kept in half bytes so NV12 (a full-size luma plane plus a half-size chroma
 * plane: 1.5 bytes per element) is exact; a fractional total is rounded up.
 * A format this header does not know (a newer CUDA's, e.g. 12.8's packed formats 0x51-0x5d) is
 * charged an upper bound, HAMI_CUDA_UNKNOWN_FORMAT_BYTES per element and channel, never 0: a 0
 * would make the hook skip the charge and let the allocation through uncapped.
 * Returns 0 only for a NULL descriptor or a size that overflows 64 bits (the driver rejects
 * both; callers pass 0 through uncharged).
 */
#ifndef HAMI_CUDA_SIZES_H
#define HAMI_CUDA_SIZES_H
#include <stdint.h>
#include "hami/cuda_abi.h"

/* the largest element the known formats have (4 x 32-bit channels) : a safe bound */
#define HAMI_CUDA_UNKNOWN_FORMAT_BYTES 16u

/* Bytes per element of `format`, times 2 (half-byte units). */
static inline uint64_t hami_cuda_format_half_bytes(CUarray_format format)
{
    switch (format) {
    case CU_AD_FORMAT_UNSIGNED_INT8:
    case CU_AD_FORMAT_SIGNED_INT8:
    case CU_AD_FORMAT_UNORM_INT8X1:
    case CU_AD_FORMAT_SNORM_INT8X1:
        return 2;
    case CU_AD_FORMAT_NV12:
        return 3; /* 4:2:0, 8-bit: 1 byte luma + 0.5 byte chroma per element */
    case CU_AD_FORMAT_UNSIGNED_INT16:
    case CU_AD_FORMAT_SIGNED_INT16:
    case CU_AD_FORMAT_HALF:
    case CU_AD_FORMAT_UNORM_INT8X2:
    case CU_AD_FORMAT_SNORM_INT8X2:
    case CU_AD_FORMAT_UNORM_INT16X1:
    case CU_AD_FORMAT_SNORM_INT16X1:
        return 4;
    case CU_AD_FORMAT_UNSIGNED_INT32:
    case CU_AD_FORMAT_SIGNED_INT32:
    case CU_AD_FORMAT_FLOAT:
    case CU_AD_FORMAT_UNORM_INT8X4:
    case CU_AD_FORMAT_SNORM_INT8X4:
    case CU_AD_FORMAT_UNORM_INT16X2:
    case CU_AD_FORMAT_SNORM_INT16X2:
    case CU_AD_FORMAT_UNORM_INT_101010_2:
        return 8;
    case CU_AD_FORMAT_UNORM_INT16X4:
    case CU_AD_FORMAT_SNORM_INT16X4:
        return 16;
    default:
        /* Block-compressed formats (BC1-BC7: at most 1 byte per texel): 4 bytes per element,
         * an upper bound. */
        if ((unsigned)format >= 0x91u && (unsigned)format <= 0x9eu)
            return 8;
        /* Video formats (P010 .. YUV444 16-bit semi-planar): the widest, Y416, is 8 bytes per
         * element; charge that for all of them (an upper bound). */
        if ((unsigned)format >= 0x9fu && (unsigned)format <= 0xb5u)
            return 16;
        return 2u * HAMI_CUDA_UNKNOWN_FORMAT_BYTES;
    }
}

/* a*b without overflow; 0 on overflow */
static inline uint64_t hami_cuda_mul_u64(uint64_t a, uint64_t b)
{
    uint64_t r;
    if (__builtin_mul_overflow(a, b, &r))
        return 0;
    return r;
}

static inline uint64_t hami_cuda_dim(uint64_t d) { return d ? d : 1; }

static inline uint64_t hami_cuda_extent_bytes(uint64_t width, uint64_t height, uint64_t depth,
                                              unsigned channels, CUarray_format format)
{
    uint64_t half = hami_cuda_format_half_bytes(format);
    uint64_t r = hami_cuda_mul_u64(hami_cuda_dim(width), hami_cuda_dim(height));
    r = hami_cuda_mul_u64(r, hami_cuda_dim(depth));
    r = hami_cuda_mul_u64(r, hami_cuda_dim(channels));
    r = hami_cuda_mul_u64(r, half); /* 0 stays 0: an overflow above */
    return r / 2 + (r & 1u);        /* half bytes -> bytes, rounded up, no overflow */
}

static inline uint64_t hami_cuda_array_bytes(const CUDA_ARRAY_DESCRIPTOR *d)
{
    return d ? hami_cuda_extent_bytes(d->Width, d->Height, 1, d->NumChannels, d->Format) : 0;
}

/* depth of a 3D descriptor as stored: layers for layered arrays, 6 faces for cube maps */
static inline uint64_t hami_cuda_array3d_depth(const CUDA_ARRAY3D_DESCRIPTOR *d)
{
    uint64_t depth = hami_cuda_dim(d->Depth);
    if ((d->Flags & CUDA_ARRAY3D_CUBEMAP) && !(d->Flags & CUDA_ARRAY3D_LAYERED))
        depth = 6; /* a plain cube map: Depth must be 6 */
    return depth;
}

static inline uint64_t hami_cuda_array3d_bytes(const CUDA_ARRAY3D_DESCRIPTOR *d)
{
    if (!d)
        return 0;
    return hami_cuda_extent_bytes(d->Width, d->Height, hami_cuda_array3d_depth(d), d->NumChannels,
                                  d->Format);
}

static inline uint64_t hami_cuda_mipmapped_array_bytes(const CUDA_ARRAY3D_DESCRIPTOR *d,
                                                       unsigned levels)
{
    if (!d)
        return 0;
    uint64_t w = hami_cuda_dim(d->Width), h = hami_cuda_dim(d->Height);
    /* layers (or cube faces) do not shrink; a true 3D extent (no layer flag) does */
    int layered = (d->Flags & (CUDA_ARRAY3D_LAYERED | CUDA_ARRAY3D_CUBEMAP)) != 0;
    uint64_t dep = hami_cuda_array3d_depth(d);
    uint64_t total = 0;
    if (levels == 0)
        levels = 1;
    for (unsigned i = 0; i < levels; i++) {
        uint64_t b = hami_cuda_extent_bytes(w, h, dep, d->NumChannels, d->Format);
        if (b == 0 || __builtin_add_overflow(total, b, &total))
            return 0;
        w = w > 1 ? w / 2 : 1;
        h = h > 1 ? h / 2 : 1;
        if (!layered)
            dep = dep > 1 ? dep / 2 : 1;
    }
    return total;
}
#endif
