/*
 * Owns the process-wide allocation table (see alloc_table.h): 64 shards of linear-probing
 * hash tables with backward-shift deletion (no tombstones, so lookups stay short under churn),
 * each under its own mutex.  Lock hold times are a few dozen instructions; the table grows by
 * doubling under the shard lock, which is the only allocation and happens O(log n) times.
 */
#include "alloc_table.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#define SHARD_BITS 6
#define SHARD_COUNT (1u << SHARD_BITS)
#define SHARD_INITIAL_CAPACITY 64u

typedef struct alloc_entry {
    uint64_t key;
    uint64_t bytes;
    int32_t region_slot;
    uint32_t kind; /* HAMI_ALLOC_NONE = empty */
} alloc_entry;

typedef struct alloc_shard {
    pthread_mutex_t lock;
    alloc_entry *entries;
    uint32_t capacity; /* power of two, or 0 before the first insert */
    uint32_t count;
} __attribute__((aligned(64))) alloc_shard; /* one shard per cache line pair: no false sharing */

static alloc_shard shards[SHARD_COUNT] = {
#define SHARD_INIT {.lock = PTHREAD_MUTEX_INITIALIZER}
#define SHARD_INIT4 SHARD_INIT, SHARD_INIT, SHARD_INIT, SHARD_INIT
#define SHARD_INIT16 SHARD_INIT4, SHARD_INIT4, SHARD_INIT4, SHARD_INIT4
    SHARD_INIT16, SHARD_INIT16, SHARD_INIT16, SHARD_INIT16,
};
_Static_assert(SHARD_COUNT == 64, "initialiser above lists 64 shards");

static _Atomic uint64_t record_count;

static inline uint64_t hash_key(uint32_t kind, uint64_t key)
{
    uint64_t h = (key ^ ((uint64_t)kind << 59)) * 0x9E3779B97F4A7C15ull;
    return h ^ (h >> 29);
}

static inline alloc_shard *shard_of(uint64_t h) { return &shards[h >> (64 - SHARD_BITS)]; }

/* Index of (kind, key) in the shard, or the empty slot where it would go. */
static uint32_t probe(const alloc_shard *s, uint64_t h, uint32_t kind, uint64_t key)
{
    uint32_t mask = s->capacity - 1;
    uint32_t i = (uint32_t)h & mask;
    for (;;) {
        const alloc_entry *e = &s->entries[i];
        if (e->kind == HAMI_ALLOC_NONE || (e->kind == kind && e->key == key))
            return i;
        i = (i + 1) & mask;
    }
}

static int grow(alloc_shard *s)
{
    uint32_t new_capacity = s->capacity ? s->capacity * 2 : SHARD_INITIAL_CAPACITY;
    alloc_entry *fresh = calloc(new_capacity, sizeof *fresh);
    if (!fresh)
        return -1;
    alloc_entry *old = s->entries;
    uint32_t old_capacity = s->capacity;
    s->entries = fresh;
    s->capacity = new_capacity;
    for (uint32_t i = 0; i < old_capacity; i++) {
        if (old[i].kind == HAMI_ALLOC_NONE)
            continue;
        uint64_t h = hash_key(old[i].kind, old[i].key);
        fresh[probe(s, h, old[i].kind, old[i].key)] = old[i];
    }
    free(old);
    return 0;
}

/* Fault injection for tests: inserts left to fail.  One relaxed load per insert (already
 * under a mutex), zero outside tests. */
static _Atomic uint32_t test_failing_inserts;

void hami_alloc_table_test_fail_inserts(uint32_t n)
{
    atomic_store_explicit(&test_failing_inserts, n, memory_order_relaxed);
}

static int test_insert_fails(void)
{
    uint32_t n = atomic_load_explicit(&test_failing_inserts, memory_order_relaxed);
    while (__builtin_expect(n != 0, 0)) {
        if (atomic_compare_exchange_weak_explicit(&test_failing_inserts, &n, n - 1,
                                                  memory_order_relaxed, memory_order_relaxed))
            return 1;
    }
    return 0;
}

/* Under the shard lock: 1 when (kind, key) is present. */
static int present_locked(const alloc_shard *s, uint64_t h, uint32_t kind, uint64_t key)
{
    return s->count != 0 && s->entries[probe(s, h, kind, key)].kind != HAMI_ALLOC_NONE;
}

/* Under the shard lock: make room for one more entry.  0, or -1 (nothing changed). */
static int reserve_locked(alloc_shard *s)
{
    if (test_insert_fails())
        return -1;
    /* Keep the load factor at or below 1/2. */
    if ((s->count + 1) * 2 > s->capacity && grow(s) != 0)
        return -1;
    return 0;
}

int hami_alloc_table_insert_absent(uint32_t kind, uint64_t key, uint64_t bytes,
                                   int32_t region_slot)
{
    uint64_t h = hash_key(kind, key);
    alloc_shard *s = shard_of(h);
    int rc = 0;
    pthread_mutex_lock(&s->lock);
    if (present_locked(s, h, kind, key)) {
        rc = 1;
    } else if (reserve_locked(s) != 0) {
        rc = -1;
    } else {
        alloc_entry *e = &s->entries[probe(s, h, kind, key)];
        e->key = key;
        e->bytes = bytes;
        e->region_slot = region_slot;
        e->kind = kind;
        s->count++;
        atomic_fetch_add_explicit(&record_count, 1, memory_order_relaxed);
    }
    pthread_mutex_unlock(&s->lock);
    return rc;
}

int hami_alloc_table_insert(uint32_t kind, uint64_t key, uint64_t bytes, int32_t region_slot,
                            hami_alloc_record *replaced)
{
    uint64_t h = hash_key(kind, key);
    alloc_shard *s = shard_of(h);
    replaced->kind = HAMI_ALLOC_NONE;
    pthread_mutex_lock(&s->lock);
    if (reserve_locked(s) != 0) {
        pthread_mutex_unlock(&s->lock);
        return -1;
    }
    alloc_entry *e = &s->entries[probe(s, h, kind, key)];
    if (e->kind != HAMI_ALLOC_NONE) {
        replaced->bytes = e->bytes;
        replaced->region_slot = e->region_slot;
        replaced->kind = e->kind;
    } else {
        s->count++;
        atomic_fetch_add_explicit(&record_count, 1, memory_order_relaxed);
    }
    e->key = key;
    e->bytes = bytes;
    e->region_slot = region_slot;
    e->kind = kind;
    pthread_mutex_unlock(&s->lock);
    return 0;
}

static int lookup(uint32_t kind, uint64_t key, hami_alloc_record *out, int remove)
{
    uint64_t h = hash_key(kind, key);
    alloc_shard *s = shard_of(h);
    int found = 0;
    out->kind = HAMI_ALLOC_NONE;
    pthread_mutex_lock(&s->lock);
    if (s->count != 0) {
        uint32_t mask = s->capacity - 1;
        uint32_t i = probe(s, h, kind, key);
        alloc_entry *e = &s->entries[i];
        if (e->kind != HAMI_ALLOC_NONE) {
            found = 1;
            out->bytes = e->bytes;
            out->region_slot = e->region_slot;
            out->kind = e->kind;
            if (remove) {
                /* Backward-shift deletion: pull later members of the probe run into the hole
                 * when their home position allows it. */
                uint32_t hole = i;
                uint32_t j = i;
                for (;;) {
                    j = (j + 1) & mask;
                    alloc_entry *next = &s->entries[j];
                    if (next->kind == HAMI_ALLOC_NONE)
                        break;
                    uint32_t home = (uint32_t)hash_key(next->kind, next->key) & mask;
                    /* next may move to hole iff home is not cyclically in (hole, j]. */
                    int home_in_range = hole <= j ? (home > hole && home <= j)
                                                  : (home > hole || home <= j);
                    if (!home_in_range) {
                        s->entries[hole] = *next;
                        hole = j;
                    }
                }
                s->entries[hole].kind = HAMI_ALLOC_NONE;
                s->count--;
                atomic_fetch_sub_explicit(&record_count, 1, memory_order_relaxed);
            }
        }
    }
    pthread_mutex_unlock(&s->lock);
    return found;
}

int hami_alloc_table_remove(uint32_t kind, uint64_t key, hami_alloc_record *out)
{
    return lookup(kind, key, out, 1);
}

int hami_alloc_table_find(uint32_t kind, uint64_t key, hami_alloc_record *out)
{
    return lookup(kind, key, out, 0);
}

uint64_t hami_alloc_table_count(void)
{
    return atomic_load_explicit(&record_count, memory_order_relaxed);
}

void hami_alloc_table_reset_in_child(void)
{
    static const pthread_mutex_t fresh_lock = PTHREAD_MUTEX_INITIALIZER;
    for (uint32_t i = 0; i < SHARD_COUNT; i++) {
        /* Copying an initialiser is async-signal-safe where pthread_mutex_init need not be. */
        memcpy(&shards[i].lock, &fresh_lock, sizeof fresh_lock);
        shards[i].entries = NULL; /* abandoned: the parent thread may have been mid-grow */
        shards[i].capacity = 0;
        shards[i].count = 0;
    }
    atomic_store_explicit(&record_count, 0, memory_order_relaxed);
}
