/*
 * The process-wide allocation table of the interception library: for every allocation the
 * hooks charged to the region, the key the driver handed back (device pointer, array handle,
 * VMM handle...), the bytes charged and the region device slot they were charged to.  A free
 * releases exactly what its allocation charged, from whichever thread it comes; a free of a key
 * the table does not hold (foreign memory, a double free) releases nothing.
 *
 * Vendor-neutral (keys are opaque 64-bit values tagged with a kind), so the Ascend hooks can
 * reuse it.  Thread-safe: 64 shards, each an open-addressing table under its own mutex; a
 * shard grows by doubling (the only allocation, amortised and rare).
 */
#ifndef HAMI_HOOK_ALLOC_TABLE_H
#define HAMI_HOOK_ALLOC_TABLE_H

#include <stdint.h>

/* Key spaces: the same numeric value may be a device pointer and a VMM handle at once. */
enum hami_alloc_kind {
    HAMI_ALLOC_NONE = 0,
    HAMI_ALLOC_DEVPTR = 1,          /* cuMemAlloc*, pitch, managed, async, pool: CUdeviceptr */
    HAMI_ALLOC_ARRAY = 2,           /* CUarray */
    HAMI_ALLOC_MIPMAPPED_ARRAY = 3, /* CUmipmappedArray */
    HAMI_ALLOC_VMM_HANDLE = 4,      /* CUmemGenericAllocationHandle */
};

typedef struct hami_alloc_record {
    uint64_t bytes;       /* bytes charged to the region */
    int32_t region_slot;  /* region device slot charged */
    uint32_t kind;        /* enum hami_alloc_kind; HAMI_ALLOC_NONE when absent */
} hami_alloc_record;

/* Insert (kind, key) -> record.  If the key was already present (the driver reused an address
 * whose free we never saw), the stale record is returned in *replaced (kind != NONE) so the
 * caller can release it; otherwise replaced->kind = HAMI_ALLOC_NONE.  Returns 0, or -1 when
 * memory for the table could not be allocated (nothing inserted). */
int hami_alloc_table_insert(uint32_t kind, uint64_t key, uint64_t bytes, int32_t region_slot,
                            hami_alloc_record *replaced);

/* Insert (kind, key) -> record only when the key is absent.  Returns 0 when inserted, 1 when
 * the key is already present (nothing changed: that record stays), -1 when memory for the
 * table could not be allocated (nothing inserted). */
int hami_alloc_table_insert_absent(uint32_t kind, uint64_t key, uint64_t bytes,
                                   int32_t region_slot);

/* Remove (kind, key) and return its record in *out; returns 1 when found, 0 when absent. */
int hami_alloc_table_remove(uint32_t kind, uint64_t key, hami_alloc_record *out);

/* Look up without removing; returns 1 when found. */
int hami_alloc_table_find(uint32_t kind, uint64_t key, hami_alloc_record *out);

/* Number of records (all shards; not a consistent snapshot under concurrent use). */
uint64_t hami_alloc_table_count(void);

/* In a fork child: forget everything (the parent's allocations stay the parent's) and make the
 * shard locks usable again even if another parent thread held one at fork time.  The parent's
 * table memory is abandoned, not freed (it may have been mid-update).  Async-signal-safe. */
void hami_alloc_table_reset_in_child(void);

/* Test hook (hidden, like everything in libhami.so but the hooks): the next `n` inserts fail
 * as if the table could not grow. */
void hami_alloc_table_test_fail_inserts(uint32_t n);

#endif
