/*
 * Process-local table of everything a simulated library handed out by address or id (device,
 * managed and host memory, arrays, VMM handles, reservations and mappings): key -> bytes,
 * device, kind (sim_alloc_table.h).  256 stripes, each a mutex over 256 chained buckets, with
 * nodes recycled through a per-stripe free list (malloc only when a stripe grows), so
 * insert/remove cost a hash, an uncontended lock and a few stores.
 */
#include <pthread.h>
#include <stdlib.h>

#include "sim_alloc_table.h"

#define STRIPES 256u
#define BUCKETS_PER_STRIPE 256u
#define NODES_PER_CHUNK 64u

typedef struct alloc_node {
    uint64_t key;
    uint64_t bytes;
    int32_t device;
    int32_t kind;
    struct alloc_node *next;
} alloc_node;

typedef struct stripe {
    pthread_mutex_t lock;
    alloc_node *buckets[BUCKETS_PER_STRIPE];
    alloc_node *free_nodes;
} __attribute__((aligned(64))) stripe;

static stripe g_stripes[STRIPES];
static pthread_once_t g_once = PTHREAD_ONCE_INIT;

static void init_locks(void)
{
    for (unsigned i = 0; i < STRIPES; i++)
        pthread_mutex_init(&g_stripes[i].lock, NULL);
}

static inline uint64_t mix(uint64_t key)
{
    key ^= key >> 33;
    key *= 0xff51afd7ed558ccdull;
    key ^= key >> 33;
    return key;
}

static inline stripe *stripe_of(uint64_t h) { return &g_stripes[h & (STRIPES - 1)]; }
static inline unsigned bucket_of(uint64_t h)
{
    return (unsigned)(h >> 8) & (BUCKETS_PER_STRIPE - 1);
}

int sim_alloc_insert(uint64_t key, uint64_t bytes, int device, int kind)
{
    pthread_once(&g_once, init_locks);
    uint64_t h = mix(key);
    stripe *s = stripe_of(h);
    pthread_mutex_lock(&s->lock);
    alloc_node *n = s->free_nodes;
    if (!n) {
        alloc_node *chunk = malloc(NODES_PER_CHUNK * sizeof *chunk);
        if (!chunk) {
            pthread_mutex_unlock(&s->lock);
            return -1;
        }
        for (unsigned i = 0; i + 1 < NODES_PER_CHUNK; i++)
            chunk[i].next = &chunk[i + 1];
        chunk[NODES_PER_CHUNK - 1].next = NULL;
        n = chunk;
    }
    s->free_nodes = n->next;
    n->key = key;
    n->bytes = bytes;
    n->device = device;
    n->kind = kind;
    unsigned b = bucket_of(h);
    n->next = s->buckets[b];
    s->buckets[b] = n;
    pthread_mutex_unlock(&s->lock);
    return 0;
}

static int lookup(uint64_t key, unsigned kinds_mask, uint64_t *bytes, int *device, int *kind,
                  int remove)
{
    pthread_once(&g_once, init_locks);
    uint64_t h = mix(key);
    stripe *s = stripe_of(h);
    pthread_mutex_lock(&s->lock);
    alloc_node **link = &s->buckets[bucket_of(h)];
    for (alloc_node *n = *link; n; link = &n->next, n = n->next) {
        if (n->key != key)
            continue;
        if (!(kinds_mask & SIM_KIND_BIT(n->kind)))
            break;
        if (bytes)
            *bytes = n->bytes;
        if (device)
            *device = n->device;
        if (kind)
            *kind = n->kind;
        if (remove) {
            *link = n->next;
            n->next = s->free_nodes;
            s->free_nodes = n;
        }
        pthread_mutex_unlock(&s->lock);
        return 0;
    }
    pthread_mutex_unlock(&s->lock);
    return -1;
}

int sim_alloc_remove(uint64_t key, unsigned kinds_mask, uint64_t *bytes, int *device, int *kind)
{
    return lookup(key, kinds_mask, bytes, device, kind, 1);
}

int sim_alloc_find(uint64_t key, unsigned kinds_mask, uint64_t *bytes, int *device)
{
    return lookup(key, kinds_mask, bytes, device, NULL, 0);
}

void sim_alloc_after_fork(void)
{
    /* a thread of the parent may have held a stripe lock at fork time: start the child's
     * locks afresh.  Entries stay: freeing them in the child releases nothing the child's own
     * slot does not hold (engine.c clamps), so the parent's accounting is untouched. */
    init_locks();
}
