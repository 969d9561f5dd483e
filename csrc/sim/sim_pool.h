/*
 * Handle pools shared by the simulated vendor libraries (libcuda.so.1, libruntime.so): fixed
 * arrays of objects whose first member is a tag, with a free list.  A handle is valid when it
 * points at an element of its pool whose tag is the pool's tag, so a random or stale pointer is
 * refused without being dereferenced outside the pool.  Compiled into hami_sim_common (static,
 * hidden visibility): each library gets its own private copy, none of it exported.
 */
#ifndef HAMI_SIM_POOL_H
#define HAMI_SIM_POOL_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

typedef struct sim_pool {
    void *base;
    size_t elem_bytes;
    uint32_t capacity;
    uint32_t tag;
    pthread_mutex_t lock;
    uint32_t next_unused;
    uint32_t free_count;
    uint32_t *free_list;
} sim_pool;

#define SIM_POOL_DEFINE(name, type, count, tag_value)                                           \
    static type name##_elems[count];                                                           \
    static uint32_t name##_free[count];                                                        \
    static sim_pool name = {name##_elems, sizeof(type), count, tag_value,                      \
                            PTHREAD_MUTEX_INITIALIZER, 0, 0, name##_free}

void *sim_pool_alloc(sim_pool *pool); /* zeroed element with its tag set, or NULL when full */
void sim_pool_free(sim_pool *pool, void *elem); /* a double free is ignored */
void *sim_pool_get(const sim_pool *pool, const void *handle); /* NULL when not a live handle */
/* calls fn for every live element (context/device synchronisation) */
void sim_pool_for_each(sim_pool *pool, void (*fn)(void *elem, void *arg), void *arg);

#endif
