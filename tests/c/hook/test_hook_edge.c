/*
 * Edge cases of the vendor-neutral hook state (csrc/cuda/hook_state.c over the allocation
 * table), driven directly rather than through a driver: this program links hook_state.c and
 * alloc_table.c themselves, so it can stage what a driver rarely does.
 *   - a free the driver refuses puts the record back, so a later free releases it;
 *   - a refused free whose record cannot be put back (the table cannot grow) releases the
 *     bytes rather than leaving them charged for ever;
 *   - a refused free that in fact freed the memory, the address already handed to another
 *     thread and recorded by it: that thread's record stays (with its bytes), ours is released.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../common/hook_test_common.h"
#include "../../../csrc/cuda/hook_state.h"

#define UUID "GPU-hook-edge"
#define KEY 0x7000100000ull

static uint64_t used(void)
{
    hami_device_info d;
    return test_region_device(UUID, HAMI_VENDOR_CUDA, &d) ? d.used_bytes : UINT64_MAX;
}

/* Allocate `bytes` under KEY (reserve, "driver" success, track). */
static void alloc_key(hami_hook_device *dev, uint64_t bytes)
{
    hami_hook_pending_alloc p;
    CHECK_EQ(hami_hook_alloc_begin(dev, bytes, "test_alloc", &p), 0);
    CHECK(p.charged_slot >= 0);
    CHECK_EQ(hami_hook_alloc_end(&p, 1, HAMI_ALLOC_DEVPTR, KEY, NULL), 0);
}

int main(void)
{
    char dir[256];
    const char *tmp = getenv("TMPDIR");
    snprintf(dir, sizeof dir, "%s/hami-hook-edge-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(dir))
        return 2;
    char region[300];
    snprintf(region, sizeof region, "%s/r.region", dir);
    setenv("HAMI_REGION", region, 1);
    setenv("HAMI_MEMORY_LIMIT", "1g", 1);

    hami_hook_process_init(HAMI_VENDOR_CUDA);
    static hami_hook_device dev;
    hami_hook_bind_device(&dev, HAMI_VENDOR_CUDA, 0, UUID, 1ull << 34);
    CHECK(dev.region_slot >= 0 && !dev.refuse_memory);

    /* 1. refused free: the record goes back, the bytes stay charged, a later free releases */
    alloc_key(&dev, 1000);
    CHECK_EQ(used(), 1000);
    hami_alloc_record rec;
    CHECK_EQ(hami_hook_forget_begin(HAMI_ALLOC_DEVPTR, KEY, &rec), 1);
    hami_hook_forget_end(HAMI_ALLOC_DEVPTR, KEY, &rec, 0);
    CHECK_EQ(used(), 1000);
    CHECK_EQ(hami_alloc_table_count(), 1);
    CHECK_EQ(hami_hook_forget_begin(HAMI_ALLOC_DEVPTR, KEY, &rec), 1);
    hami_hook_forget_end(HAMI_ALLOC_DEVPTR, KEY, &rec, 1);
    CHECK_EQ(used(), 0);
    CHECK_EQ(hami_alloc_table_count(), 0);

    /* 2. refused free, and the record cannot be put back: released, not stuck */
    alloc_key(&dev, 2000);
    CHECK_EQ(hami_hook_forget_begin(HAMI_ALLOC_DEVPTR, KEY, &rec), 1);
    hami_alloc_table_test_fail_inserts(1);
    hami_hook_forget_end(HAMI_ALLOC_DEVPTR, KEY, &rec, 0);
    hami_alloc_table_test_fail_inserts(0);
    CHECK_EQ(used(), 0);
    CHECK_EQ(hami_alloc_table_count(), 0);

    /* 3. a "refused" free that freed, the address re-allocated by another thread meanwhile:
     *    its record (3000 bytes) is the live one and keeps its bytes; ours (1500) goes */
    alloc_key(&dev, 1500);
    CHECK_EQ(hami_hook_forget_begin(HAMI_ALLOC_DEVPTR, KEY, &rec), 1);
    alloc_key(&dev, 3000); /* the other thread, between our driver call and forget_end */
    CHECK_EQ(used(), 4500);
    hami_hook_forget_end(HAMI_ALLOC_DEVPTR, KEY, &rec, 0);
    CHECK_EQ(used(), 3000);
    hami_alloc_record live;
    CHECK_EQ(hami_alloc_table_find(HAMI_ALLOC_DEVPTR, KEY, &live), 1);
    CHECK_EQ(live.bytes, 3000);
    CHECK_EQ(hami_hook_forget_begin(HAMI_ALLOC_DEVPTR, KEY, &rec), 1);
    hami_hook_forget_end(HAMI_ALLOC_DEVPTR, KEY, &rec, 1);
    CHECK_EQ(used(), 0);
    CHECK_EQ(hami_alloc_table_count(), 0);

    unlink(region);
    rmdir(dir);
    return test_finish("test_hook_edge");
}
