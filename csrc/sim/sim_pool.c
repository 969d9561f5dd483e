/*
 * Handle pools of the simulated vendor libraries (sim_pool.h): fixed arrays of objects
 * (contexts, streams, events, modules, functions, graphs, binaries, models ...) with a free
 * list.  Validation is a range check plus a tag compare, so a bad handle is refused without
 * touching memory outside the pool.
 */
#include <stdatomic.h>
#include <string.h>

#include "sim_pool.h"

void *sim_pool_alloc(sim_pool *pool)
{
    uint32_t index;
    pthread_mutex_lock(&pool->lock);
    if (pool->free_count)
        index = pool->free_list[--pool->free_count];
    else if (pool->next_unused < pool->capacity)
        index = pool->next_unused++;
    else {
        pthread_mutex_unlock(&pool->lock);
        return NULL;
    }
    pthread_mutex_unlock(&pool->lock);
    char *elem = (char *)pool->base + (size_t)index * pool->elem_bytes;
    memset(elem, 0, pool->elem_bytes);
    atomic_store_explicit((_Atomic uint32_t *)elem, pool->tag, memory_order_release);
    return elem;
}

void sim_pool_free(sim_pool *pool, void *elem)
{
    uint32_t expected = pool->tag;
    if (!elem || !atomic_compare_exchange_strong((_Atomic uint32_t *)elem, &expected, 0))
        return; /* not live: a double free is ignored */
    uint32_t index = (uint32_t)(((char *)elem - (char *)pool->base) / pool->elem_bytes);
    pthread_mutex_lock(&pool->lock);
    pool->free_list[pool->free_count++] = index;
    pthread_mutex_unlock(&pool->lock);
}

void *sim_pool_get(const sim_pool *pool, const void *handle)
{
    uintptr_t p = (uintptr_t)handle, base = (uintptr_t)pool->base;
    size_t span = (size_t)pool->capacity * pool->elem_bytes;
    if (p < base || p - base >= span || (p - base) % pool->elem_bytes)
        return NULL;
    if (atomic_load_explicit((_Atomic uint32_t *)handle, memory_order_acquire) != pool->tag)
        return NULL;
    return (void *)handle;
}

void sim_pool_for_each(sim_pool *pool, void (*fn)(void *elem, void *arg), void *arg)
{
    pthread_mutex_lock(&pool->lock);
    uint32_t used = pool->next_unused;
    pthread_mutex_unlock(&pool->lock);
    for (uint32_t i = 0; i < used; i++) {
        char *elem = (char *)pool->base + (size_t)i * pool->elem_bytes;
        if (atomic_load_explicit((_Atomic uint32_t *)elem, memory_order_acquire) == pool->tag)
            fn(elem, arg);
    }
}
