/*
 * Process-local allocation table shared by the simulated vendor libraries (libcuda.so.1,
 * libruntime.so): key (address or id) -> bytes, device, kind, where each library defines its
 * own kinds (enum sim_alloc_kind in sim_cuda.h, enum rt_alloc_kind in ascend/rt_sim.h).
 * Compiled into hami_sim_common (static, hidden visibility): each library that links it has its
 * own private table, none of it exported.
 */
#ifndef HAMI_SIM_ALLOC_TABLE_H
#define HAMI_SIM_ALLOC_TABLE_H

#include <stdint.h>

#define SIM_KIND_BIT(k) (1u << (k))

int sim_alloc_insert(uint64_t key, uint64_t bytes, int device, int kind); /* 0, -1 no memory */
/* Remove `key` if its kind is in `kinds_mask`; 0 and its record (each out pointer may be
 * NULL), or -1 when absent or of another kind. */
int sim_alloc_remove(uint64_t key, unsigned kinds_mask, uint64_t *bytes, int *device, int *kind);
int sim_alloc_find(uint64_t key, unsigned kinds_mask, uint64_t *bytes, int *device);
void sim_alloc_after_fork(void); /* re-initialise the stripe locks in a forked child */

#endif
