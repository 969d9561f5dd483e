/*
 * The shared region file (csrc/core/region.c owns it): creation and validation, the device
 * registry, process slots (join, leave, liveness, reclaim of dead processes), the memory
 * budget (charge/release), the compute token bucket (GCRA) and the counters, and the snapshots
 * the CLI and Python read.  Layout: region_layout.h.
 *
 * Concurrency model
 * - Hot paths (hami_charge_memory, hami_release_memory, hami_take_tokens, hami_charge_back,
 *   hami_count_launch) are lock-free atomics on the mapping: no allocation, no syscall except
 *   clock_gettime (vDSO) for the heartbeat, and on a failed charge one scan for dead processes.
 * - Device registration takes a process-shared robust mutex (join time only); a holder killed
 *   with -9 leaves EOWNERDEAD, which the next locker repairs with pthread_mutex_consistent.
 * - Process slots are claimed with a CAS on a state word that carries the pid of whoever owns
 *   the current state, so a slot in any state whose pid is dead can be taken over.
 * - A charge touches two counters: the device's (CAS against the cap) then the process
 *   slot's; a release does slot then device.  Each op raises the slot's `inflight` count
 *   around them.  A process killed between the two atomics leaves its in-flight bytes counted
 *   on the device with no slot holding them; its reclaimer sees inflight != 0 and requests a
 *   reconcile: at a moment when no slot has an op in flight and none is being reclaimed, the
 *   device counter is set to the sum of the slots (only ever lowered, with a CAS against the
 *   value read first, so a concurrent op makes it retry later rather than lose bytes).
 * - An op enters its window only while the slot is still this handle's LIVE slot (checked
 *   after the inflight increment); hami_region_leave moves the slot to RECLAIMING, then waits
 *   (bounded, sleeping) for inflight to drain before it drains the bytes and frees the slot,
 *   so an exiting process's racing thread can neither strand bytes in a FREE slot nor touch
 *   the slot's next owner.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "hami/clock.h"
#include "hami/region.h"
#include "core_util.h"
#include "region_layout.h"

struct hami_region {
    int fd;
    region_layout *map;
    size_t map_bytes;
    /* Devices registered by this process: (pid << 32) | bitmask of device slots.  Keyed by pid
     * so a forked child registers afresh.  Lets a repeated hami_region_device in one process
     * return without touching limits (the stale-region rule applies to a process's first
     * registration only). */
    _Atomic uint64_t registered;
    /* The pid that joined through this handle (0: none yet): charges and releases go through
     * only while their slot's state word is hami_slot_word(joined_pid, LIVE), so a thread
     * still holding a slot number after hami_region_leave (process exit racing a charge)
     * cannot touch the slot once it is left or claimed by another process.  Process-local
     * (a fork child's copy changes when the child joins), not part of the file. */
    _Atomic pid_t joined_pid;
    char path[PATH_MAX];
};

_Static_assert(HAMI_MAX_DEVICES <= 32, "registered bitmask holds 32 device slots");
_Static_assert(ATOMIC_LLONG_LOCK_FREE == 2, "64-bit atomics must be lock-free (shared memory)");

/* ---------------------------------------------------------------- paths ---------------- */

const char *hami_region_default_path(char *buf, size_t len)
{
    if (buf == NULL || len == 0)
        return NULL;
    /* HAMi's device plugin names a per-container shared file in CUDA_DEVICE_MEMORY_SHARED_CACHE;
     * our own name wins when both are set. */
    const char *explicit_path = getenv("HAMI_REGION");
    if (explicit_path == NULL || explicit_path[0] == '\0')
        explicit_path = getenv("CUDA_DEVICE_MEMORY_SHARED_CACHE");
    if (explicit_path != NULL && explicit_path[0] != '\0') {
        if (snprintf(buf, len, "%s", explicit_path) >= (int)len)
            return NULL;
        return buf;
    }
    const char *tmp = getenv("TMPDIR");
    if (tmp == NULL || tmp[0] == '\0')
        tmp = "/tmp";
    if (snprintf(buf, len, "%s/hami-%u.region", tmp, (unsigned)getuid()) >= (int)len)
        return NULL;
    return buf;
}

const char *hami_region_path(const hami_region *r) { return r ? r->path : NULL; }

/* ---------------------------------------------------------------- open/create ----------- */

static int init_registry_lock(pthread_mutex_t *m)
{
    pthread_mutexattr_t attr;
    int rc = pthread_mutexattr_init(&attr);
    if (rc != 0)
        return rc;
    rc = pthread_mutexattr_setpshared(&attr, PTHREAD_PROCESS_SHARED);
    if (rc == 0)
        rc = pthread_mutexattr_setrobust(&attr, PTHREAD_MUTEX_ROBUST);
    if (rc == 0)
        rc = pthread_mutex_init(m, &attr);
    pthread_mutexattr_destroy(&attr);
    return rc;
}

/* Initialise a fresh mapping that nobody else can see yet (a temp file before link). */
static int init_layout(region_layout *map)
{
    memset(map, 0, sizeof(*map));
    region_header *h = &map->header;
    memcpy(h->magic, HAMI_REGION_MAGIC, sizeof(HAMI_REGION_MAGIC));
    h->version = HAMI_REGION_VERSION;
    h->header_bytes = (uint32_t)sizeof(region_header);
    h->total_bytes = sizeof(region_layout);
    h->max_devices = HAMI_MAX_DEVICES;
    h->max_procs = HAMI_MAX_PROCS;
    atomic_init(&h->device_count, 0);
    return init_registry_lock(&h->registry_lock);
}

/* Validate the header of an open file before mapping it.  0 or HAMI_E_FORMAT / HAMI_E_IO. */
static int validate_file(int fd, const char *path, char *err, size_t errlen)
{
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        set_err(err, errlen, "region %s: fstat failed: %s", path, strerror(e));
        errno = e;
        return HAMI_E_IO;
    }
    if (!S_ISREG(st.st_mode)) {
        set_err(err, errlen, "region %s: not a regular file", path);
        return HAMI_E_FORMAT;
    }
    region_header h;
    if ((size_t)st.st_size < sizeof(h)) {
        set_err(err, errlen,
                "region %s: file is %lld bytes, shorter than a region header (%zu bytes): "
                "truncated or not a hami-core region",
                path, (long long)st.st_size, sizeof(h));
        return HAMI_E_FORMAT;
    }
    ssize_t n = pread(fd, &h, sizeof(h), 0);
    if (n != (ssize_t)sizeof(h)) {
        int e = errno;
        set_err(err, errlen, "region %s: cannot read header: %s", path,
                n < 0 ? strerror(e) : "short read");
        return n < 0 ? HAMI_E_IO : HAMI_E_FORMAT;
    }
    if (memcmp(h.magic, HAMI_REGION_MAGIC, sizeof(HAMI_REGION_MAGIC)) != 0) {
        set_err(err, errlen, "region %s: not a hami-core region (magic is not \"%s\")", path,
                HAMI_REGION_MAGIC);
        return HAMI_E_FORMAT;
    }
    if (h.version != HAMI_REGION_VERSION) {
        set_err(err, errlen, "region %s: layout version %u, this library reads version %u", path,
                h.version, HAMI_REGION_VERSION);
        return HAMI_E_FORMAT;
    }
    if (h.header_bytes != sizeof(region_header) || h.total_bytes != sizeof(region_layout) ||
        h.max_devices != HAMI_MAX_DEVICES || h.max_procs != HAMI_MAX_PROCS) {
        set_err(err, errlen,
                "region %s: geometry differs (total %llu bytes, %u devices, %u processes; this "
                "library expects %zu bytes, %d devices, %d processes)",
                path, (unsigned long long)h.total_bytes, h.max_devices, h.max_procs,
                sizeof(region_layout), HAMI_MAX_DEVICES, HAMI_MAX_PROCS);
        return HAMI_E_FORMAT;
    }
    if ((uint64_t)st.st_size != h.total_bytes) {
        set_err(err, errlen, "region %s: file is %lld bytes, header says %llu: truncated or corrupt",
                path, (long long)st.st_size, (unsigned long long)h.total_bytes);
        return HAMI_E_FORMAT;
    }
    if (h.device_count > HAMI_MAX_DEVICES) {
        set_err(err, errlen, "region %s: corrupt header (device count %u)", path, h.device_count);
        return HAMI_E_FORMAT;
    }
    return HAMI_OK;
}

static int map_fd(int fd, region_layout **out)
{
    void *p = mmap(NULL, sizeof(region_layout), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED)
        return HAMI_E_IO;
    *out = p;
    return HAMI_OK;
}

static int open_existing(const char *path, hami_region *r, char *err, size_t errlen)
{
    int fd = open(path, O_RDWR | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        set_err(err, errlen, "region %s: cannot open: %s", path, strerror(e));
        errno = e;
        return e == ENOENT ? HAMI_E_NOT_FOUND : HAMI_E_IO;
    }
    int rc = validate_file(fd, path, err, errlen);
    if (rc == HAMI_OK && map_fd(fd, &r->map) != HAMI_OK) {
        int e = errno;
        set_err(err, errlen, "region %s: mmap failed: %s", path, strerror(e));
        rc = HAMI_E_IO;
    }
    if (rc != HAMI_OK) {
        close(fd);
        return rc;
    }
    r->fd = fd;
    return HAMI_OK;
}

/* Create, initialise and publish with link(2): the final name appears only once the file is
 * complete, so an opener never sees a half-initialised header.  Returns HAMI_OK or a negative
 * error; with HAMI_OK, *lost set means another process published first (the caller then opens
 * theirs) and nothing was mapped. */
static int create_new(const char *path, hami_region *r, int *lost, char *err, size_t errlen)
{
    char tmp[PATH_MAX];
    *lost = 0;
    if (snprintf(tmp, sizeof(tmp), "%s.tmp.%d.%llx", path, (int)getpid(),
                 (unsigned long long)hami_now_ns()) >= (int)sizeof(tmp)) {
        set_err(err, errlen, "region %s: path too long", path);
        return HAMI_E_INVALID;
    }
    int fd = open(tmp, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd < 0) {
        int e = errno;
        set_err(err, errlen, "region %s: cannot create %s: %s", path, tmp, strerror(e));
        errno = e;
        return HAMI_E_IO;
    }
    int rc = HAMI_OK;
    region_layout *map = NULL;
    if (ftruncate(fd, (off_t)sizeof(region_layout)) != 0) {
        int e = errno;
        set_err(err, errlen, "region %s: ftruncate failed: %s", path, strerror(e));
        rc = HAMI_E_IO;
    } else if (map_fd(fd, &map) != HAMI_OK) {
        int e = errno;
        set_err(err, errlen, "region %s: mmap failed: %s", path, strerror(e));
        rc = HAMI_E_IO;
    } else if (init_layout(map) != 0) {
        set_err(err, errlen, "region %s: cannot initialise the registry mutex", path);
        rc = HAMI_E_IO;
    } else if (link(tmp, path) != 0) {
        int e = errno;
        if (e == EEXIST) {
            *lost = 1;
        } else {
            set_err(err, errlen, "region %s: cannot publish (link): %s", path, strerror(e));
            rc = HAMI_E_IO;
        }
    }
    unlink(tmp);
    if (rc != HAMI_OK || *lost) {
        if (map != NULL)
            munmap(map, sizeof(region_layout));
        close(fd);
        return rc;
    }
    r->map = map;
    r->fd = fd;
    return HAMI_OK;
}

static void update_compute_mask(hami_region *r, int slot);

int hami_region_open(const char *path, int create, hami_region **out, char *err, size_t errlen)
{
    if (out == NULL)
        return HAMI_E_INVALID;
    *out = NULL;
    if (path == NULL || path[0] == '\0') {
        set_err(err, errlen, "region: empty path");
        return HAMI_E_INVALID;
    }
    hami_region *r = calloc(1, sizeof(*r));
    if (r == NULL) {
        set_err(err, errlen, "region %s: out of memory", path);
        return HAMI_E_IO;
    }
    if (snprintf(r->path, sizeof(r->path), "%s", path) >= (int)sizeof(r->path)) {
        free(r);
        set_err(err, errlen, "region: path too long");
        return HAMI_E_INVALID;
    }
    r->fd = -1;
    r->map_bytes = sizeof(region_layout);
    atomic_init(&r->registered, 0);
    atomic_init(&r->joined_pid, 0);

    int rc = open_existing(path, r, err, errlen);
    /* Two rounds: the file may vanish between our failed create and our open (an operator
     * deleting it); give up after that rather than loop. */
    for (int round = 0; rc == HAMI_E_NOT_FOUND && create && round < 2; round++) {
        int lost = 0;
        rc = create_new(path, r, &lost, err, errlen);
        if (rc == HAMI_OK && lost)
            rc = open_existing(path, r, err, errlen);
    }
    if (rc != HAMI_OK) {
        free(r);
        return rc;
    }
    /* A region written by a library without the compute mask (zero there) or a writer killed
     * between its limit store and its mask update: derive the mask from the devices again. */
    int count = hami_region_device_count(r);
    for (int i = 0; i < count; i++)
        update_compute_mask(r, i);
    if (err != NULL && errlen > 0)
        err[0] = '\0';
    *out = r;
    return HAMI_OK;
}

void hami_region_close(hami_region *r)
{
    if (r == NULL)
        return;
    if (r->map != NULL)
        munmap(r->map, r->map_bytes);
    if (r->fd >= 0)
        close(r->fd);
    free(r);
}

/* ---------------------------------------------------------------- liveness -------------- */

/* Read /proc/<pid>/stat: state (field 3) and start time (field 22).  Async-signal-safe
 * (open/read/close only, no stdio).  0 or -1. */
static int read_proc_stat(pid_t pid, char *state_out, uint64_t *start_time_out)
{
    char path[64];
    char buf[1024];
    /* Build "/proc/<pid>/stat" by hand: snprintf is not async-signal-safe. */
    char digits[16];
    int nd = 0;
    unsigned v = (unsigned)pid;
    do {
        digits[nd++] = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0 && nd < (int)sizeof(digits));
    size_t pos = 0;
    memcpy(path, "/proc/", 6);
    pos = 6;
    while (nd > 0)
        path[pos++] = digits[--nd];
    memcpy(path + pos, "/stat", 6);

    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0)
        return -1;
    buf[n] = '\0';
    /* The command name (field 2) may contain spaces and parentheses: skip to the last ')'. */
    char *p = strrchr(buf, ')');
    if (p == NULL || p[1] != ' ')
        return -1;
    p += 2; /* field 3 */
    if (state_out != NULL)
        *state_out = *p;
    for (int field = 3; field < 22; field++) {
        p = strchr(p, ' ');
        if (p == NULL)
            return -1;
        p++;
    }
    uint64_t st = 0;
    if (*p < '0' || *p > '9')
        return -1;
    while (*p >= '0' && *p <= '9')
        st = st * 10 + (uint64_t)(*p++ - '0');
    if (start_time_out != NULL)
        *start_time_out = st;
    return 0;
}

/* Dead: no such pid (ESRCH), a zombie (holds no device memory), or a different process under a
 * reused pid (start time differs).  EPERM from kill means alive.  When /proc cannot be read we
 * trust kill alone: never reclaim a process we are not sure is gone. */
static int pid_is_alive(pid_t pid, uint64_t recorded_start_time)
{
    if (pid <= 0)
        return 0;
    if (kill(pid, 0) == -1 && errno == ESRCH)
        return 0;
    char state = 0;
    uint64_t start_time = 0;
    if (read_proc_stat(pid, &state, &start_time) != 0)
        return 1;
    if (state == 'Z' || state == 'X')
        return 0;
    if (recorded_start_time != 0 && start_time != recorded_start_time)
        return 0;
    return 1;
}

static int slot_owner_alive(region_proc *p, uint64_t word)
{
    unsigned st = hami_slot_state(word);
    /* Only a LIVE slot has a start time of its owner; CLAIMING/RECLAIMING record the pid of
     * the process doing that step, checked with kill and /proc state alone. */
    uint64_t start_time = st == HAMI_SLOT_LIVE ? atomic_load_explicit(&p->start_time,
                                                                      memory_order_acquire)
                                               : 0;
    return pid_is_alive(hami_slot_pid(word), start_time);
}

/* ---------------------------------------------------------------- helpers --------------- */

static inline region_device *device_at(hami_region *r, int dev_slot)
{
    if (r == NULL || dev_slot < 0 || dev_slot >= HAMI_MAX_DEVICES)
        return NULL;
    region_device *d = &r->map->devices[dev_slot];
    if (atomic_load_explicit(&d->state, memory_order_acquire) != HAMI_DEV_PUBLISHED)
        return NULL;
    return d;
}

static inline region_proc *proc_at(hami_region *r, int proc_slot)
{
    if (r == NULL || proc_slot < 0 || proc_slot >= HAMI_MAX_PROCS)
        return NULL;
    return &r->map->procs[proc_slot];
}

/* Subtract up to `bytes` from a counter, never below zero.  Returns what was subtracted. */
static uint64_t saturating_sub(_Atomic uint64_t *counter, uint64_t bytes)
{
    uint64_t cur = atomic_load_explicit(counter, memory_order_relaxed);
    for (;;) {
        uint64_t take = bytes < cur ? bytes : cur;
        if (take == 0)
            return 0;
        if (atomic_compare_exchange_weak_explicit(counter, &cur, cur - take, memory_order_seq_cst,
                                                  memory_order_relaxed))
            return take;
    }
}

/* Give every byte a slot holds back to the devices, exactly once per byte (exchange to zero),
 * and clear its counters.  The caller owns the slot in RECLAIMING state.  Resumable: a
 * reclaimer that dies half-way leaves the rest for the next one.  `owner_dead`: the owner died,
 * possibly mid-op, so its inflight count is reset (and a reconcile requested when it was not
 * zero).  A leaving owner has waited for inflight 0 instead and must not write it: a thread of
 * its own may still be between the increment and decrement of a charge it backs out of (it
 * sees the slot is no longer LIVE), and a reset there would leave the counter wrapped. */
static void drain_slot(hami_region *r, region_proc *p, int owner_dead)
{
    if (owner_dead && atomic_exchange_explicit(&p->inflight, 0, memory_order_seq_cst) != 0)
        atomic_fetch_add_explicit(&r->map->header.reconcile_requests, 1, memory_order_seq_cst);
    for (int d = 0; d < HAMI_MAX_DEVICES; d++) {
        uint64_t held = atomic_exchange_explicit(&p->used_bytes[d], 0, memory_order_acq_rel);
        if (held != 0)
            saturating_sub(&r->map->devices[d].used_bytes, held);
        atomic_store_explicit(&p->busy_ns[d], 0, memory_order_relaxed);
    }
    atomic_store_explicit(&p->start_time, 0, memory_order_relaxed);
    atomic_store_explicit(&p->heartbeat_ns, 0, memory_order_relaxed);
}

/* Try to reclaim slot `p` seen with state word `word` whose owner is dead.  On success the
 * slot is left in RECLAIMING state owned by `me` and drained; the caller frees it or claims it.
 * Returns 1 when we did the reclaim, 0 when someone else changed the slot first. */
static int take_over_dead_slot(hami_region *r, region_proc *p, uint64_t word, pid_t me)
{
    uint64_t mine = hami_slot_word(me, HAMI_SLOT_RECLAIMING);
    if (!atomic_compare_exchange_strong_explicit(&p->state, &word, mine, memory_order_acq_rel,
                                                 memory_order_acquire))
        return 0;
    drain_slot(r, p, 1);
    return 1;
}

static int reclaim_slot_if_dead(hami_region *r, region_proc *p, pid_t me)
{
    uint64_t word = atomic_load_explicit(&p->state, memory_order_acquire);
    if (hami_slot_state(word) == HAMI_SLOT_FREE || hami_slot_pid(word) == me)
        return 0;
    if (slot_owner_alive(p, word))
        return 0;
    if (!take_over_dead_slot(r, p, word, me))
        return 0;
    atomic_store_explicit(&p->state, hami_slot_word(0, HAMI_SLOT_FREE), memory_order_release);
    return 1;
}

/* Set device `d`'s counter to the sum of what the slots hold, if that is lower and nothing is
 * in flight.  1 when the device is consistent afterwards, 0 when it must be retried. */
static int reconcile_device(hami_region *r, int d)
{
    _Atomic uint64_t *used = &r->map->devices[d].used_bytes;
    uint64_t seen = atomic_load_explicit(used, memory_order_seq_cst);
    uint64_t held = 0;
    for (int i = 0; i < HAMI_MAX_PROCS; i++) {
        region_proc *p = &r->map->procs[i];
        /* inflight before used: an op that starts after this read changes the device
         * counter, so the CAS below fails (or it completed a round trip: still consistent). */
        if (atomic_load_explicit(&p->inflight, memory_order_seq_cst) != 0 ||
            hami_slot_state(atomic_load_explicit(&p->state, memory_order_seq_cst)) ==
                HAMI_SLOT_RECLAIMING)
            return 0;
        held += atomic_load_explicit(&p->used_bytes[d], memory_order_seq_cst);
    }
    if (seen <= held)
        return 1;
    return atomic_compare_exchange_strong_explicit(used, &seen, held, memory_order_seq_cst,
                                                   memory_order_seq_cst);
}

static void reconcile_if_requested(hami_region *r)
{
    uint32_t requests = atomic_load_explicit(&r->map->header.reconcile_requests,
                                             memory_order_seq_cst);
    if (requests == 0)
        return;
    int count = hami_region_device_count(r);
    for (int d = 0; d < count; d++) {
        int done = 0;
        for (int attempt = 0; attempt < 4 && !done; attempt++)
            done = reconcile_device(r, d);
        if (!done)
            return; /* busy: the next reclaim_dead (failed charge, CLI, join) tries again */
    }
    /* Requests that arrived meanwhile keep the flag set. */
    atomic_compare_exchange_strong_explicit(&r->map->header.reconcile_requests, &requests, 0,
                                            memory_order_seq_cst, memory_order_seq_cst);
}

int hami_region_reclaim_dead(hami_region *r)
{
    if (r == NULL)
        return HAMI_E_INVALID;
    pid_t me = getpid();
    int reclaimed = 0;
    for (int i = 0; i < HAMI_MAX_PROCS; i++)
        reclaimed += reclaim_slot_if_dead(r, &r->map->procs[i], me);
    reconcile_if_requested(r);
    return reclaimed;
}

/* ---------------------------------------------------------------- devices --------------- */

static int find_published(hami_region *r, int vendor, const char *uuid)
{
    uint32_t count = atomic_load_explicit(&r->map->header.device_count, memory_order_acquire);
    if (count > HAMI_MAX_DEVICES)
        count = HAMI_MAX_DEVICES;
    for (uint32_t i = 0; i < count; i++) {
        region_device *d = &r->map->devices[i];
        if (atomic_load_explicit(&d->state, memory_order_acquire) != HAMI_DEV_PUBLISHED)
            continue;
        if (d->vendor == vendor && strncmp(d->uuid, uuid, HAMI_UUID_LEN) == 0)
            return (int)i;
    }
    return HAMI_E_NOT_FOUND;
}

int hami_region_find_device(hami_region *r, int vendor, const char *uuid)
{
    if (r == NULL || uuid == NULL)
        return HAMI_E_INVALID;
    return find_published(r, vendor, uuid);
}

int hami_region_device_count(hami_region *r)
{
    if (r == NULL)
        return HAMI_E_INVALID;
    uint32_t count = atomic_load_explicit(&r->map->header.device_count, memory_order_acquire);
    return (int)(count > HAMI_MAX_DEVICES ? HAMI_MAX_DEVICES : count);
}

static uint32_t limit_flags(const hami_limits *l)
{
    return (l->memory_invalid ? HAMI_DEVF_MEMORY_INVALID : 0u) |
           (l->compute_invalid ? HAMI_DEVF_COMPUTE_INVALID : 0u) |
           (l->policy_disable ? HAMI_DEVF_POLICY_DISABLE : 0u);
}

static uint32_t effective_rate_pct(const hami_limits *l)
{
    if (l->policy_disable || l->compute_invalid || l->compute_limit_pct > 100)
        return 0;
    return l->compute_limit_pct;
}

/* Must launches on this device leave the hooks' fast path?  From the stored live limits. */
static int device_compute_active(region_device *d)
{
    if (atomic_load_explicit(&d->state, memory_order_seq_cst) != HAMI_DEV_PUBLISHED)
        return 0;
    uint32_t flags = atomic_load_explicit(&d->flags, memory_order_seq_cst);
    return atomic_load_explicit(&d->compute_rate_pct, memory_order_seq_cst) != 0 ||
           ((flags & HAMI_DEVF_COMPUTE_INVALID) && !(flags & HAMI_DEVF_POLICY_DISABLE));
}

/* Make bit `slot` of the header's compute mask match the device's stored limits.  Writers of
 * the same device may race (two `set`s); each one re-derives the bit from the shared limits
 * after its own update and repeats until what it derived still holds, so the last writer to
 * finish leaves the bit matching the final limits (no lock: set_limits must stay lock-free). */
static void update_compute_mask(hami_region *r, int slot)
{
    region_device *d = &r->map->devices[slot];
    _Atomic uint32_t *mask = &r->map->header.compute_active_mask;
    uint32_t bit = 1u << slot;
    for (int want = device_compute_active(d);;) {
        if (want)
            atomic_fetch_or_explicit(mask, bit, memory_order_seq_cst);
        else
            atomic_fetch_and_explicit(mask, ~bit, memory_order_seq_cst);
        int now = device_compute_active(d);
        if (now == want)
            return;
        want = now;
    }
}

static void store_limits(hami_region *r, int slot, const hami_limits *l)
{
    region_device *d = &r->map->devices[slot];
    atomic_store_explicit(&d->memory_limit_bytes, l->memory_limit_bytes, memory_order_release);
    atomic_store_explicit(&d->compute_limit_pct, l->compute_limit_pct, memory_order_release);
    atomic_store_explicit(&d->flags, limit_flags(l), memory_order_release);
    atomic_store_explicit(&d->compute_rate_pct, effective_rate_pct(l), memory_order_seq_cst);
    update_compute_mask(r, slot);
}

static int lock_registry(hami_region *r)
{
    int rc = pthread_mutex_lock(&r->map->header.registry_lock);
    if (rc == EOWNERDEAD) {
        /* The holder died mid-registration.  Nothing it did is visible unless it published
         * the entry (state store is the last step), so the protected data is consistent. */
        pthread_mutex_consistent(&r->map->header.registry_lock);
        rc = 0;
    }
    return rc == 0 ? HAMI_OK : HAMI_E_IO;
}

static void unlock_registry(hami_region *r) { pthread_mutex_unlock(&r->map->header.registry_lock); }

/* Under the registry lock: is any process other than `me` attached?  Reclaims the dead ones it
 * meets (so a stale region's bytes are returned) and stops at the first live one. */
static int other_process_attached(hami_region *r, pid_t me)
{
    for (int i = 0; i < HAMI_MAX_PROCS; i++) {
        region_proc *p = &r->map->procs[i];
        uint64_t word = atomic_load_explicit(&p->state, memory_order_acquire);
        if (hami_slot_state(word) == HAMI_SLOT_FREE || hami_slot_pid(word) == me)
            continue;
        if (slot_owner_alive(p, word))
            return 1;
        if (take_over_dead_slot(r, p, word, me))
            atomic_store_explicit(&p->state, hami_slot_word(0, HAMI_SLOT_FREE),
                                  memory_order_release);
    }
    return 0;
}

static void mark_registered(hami_region *r, int slot, pid_t me)
{
    uint64_t cur = atomic_load_explicit(&r->registered, memory_order_acquire);
    for (;;) {
        uint64_t mask = (pid_t)(uint32_t)(cur >> 32) == me ? (cur & 0xffffffffu) : 0;
        uint64_t next = ((uint64_t)(uint32_t)me << 32) | mask | (1ull << slot);
        if (next == cur || atomic_compare_exchange_weak_explicit(&r->registered, &cur, next,
                                                                 memory_order_acq_rel,
                                                                 memory_order_acquire))
            return;
    }
}

/* Under the registry lock: if the entry at device_count is already PUBLISHED (its registrant
 * died between the two stores), count it.  1 when it did. */
static int adopt_published_past_count(hami_region *r)
{
    uint32_t count = atomic_load_explicit(&r->map->header.device_count, memory_order_acquire);
    if (count >= HAMI_MAX_DEVICES ||
        atomic_load_explicit(&r->map->devices[count].state, memory_order_acquire) !=
            HAMI_DEV_PUBLISHED)
        return 0;
    /* the registrant may have died before setting the entry's compute mask bit */
    update_compute_mask(r, (int)count);
    atomic_store_explicit(&r->map->header.device_count, count + 1, memory_order_release);
    return 1;
}

static int registered_by_me(hami_region *r, int slot, pid_t me)
{
    uint64_t cur = atomic_load_explicit(&r->registered, memory_order_acquire);
    return (pid_t)(uint32_t)(cur >> 32) == me && ((cur >> slot) & 1u);
}

int hami_region_device(hami_region *r, int vendor, const char *uuid, uint64_t card_total_bytes,
                       const hami_limits *limits)
{
    if (r == NULL || uuid == NULL || limits == NULL || uuid[0] == '\0' ||
        strnlen(uuid, HAMI_UUID_LEN) >= HAMI_UUID_LEN)
        return HAMI_E_INVALID;
    pid_t me = getpid();
    int slot = find_published(r, vendor, uuid);
    if (slot >= 0 && registered_by_me(r, slot, me))
        return slot;

    int rc = lock_registry(r);
    if (rc != HAMI_OK)
        return rc;
    slot = find_published(r, vendor, uuid);
    /* A registrant killed after publishing entry `count` but before bumping device_count left
     * a complete entry past the count (its state store came after every field it wrote).  It
     * is adopted, not rewritten: device_at accepts an entry by its state alone, so anything
     * holding that slot number may be charging it (a rewrite zeroes used_bytes under it) and
     * a lock-free reader could see a torn uuid.  Once it is counted the search may find it:
     * it is then this device's entry; otherwise the next free entry is taken as usual. */
    while (slot < 0 && adopt_published_past_count(r))
        slot = find_published(r, vendor, uuid);
    if (slot >= 0) {
        region_device *d = &r->map->devices[slot];
        if (card_total_bytes != 0)
            atomic_store_explicit(&d->card_total_bytes, card_total_bytes, memory_order_relaxed);
        if (!other_process_attached(r, me)) {
            /* Stale region (an earlier run): this process's configuration wins.  The dead
             * slots were just drained (and a reconcile run if one of them died mid-charge), so
             * usage is already right: it is NOT zeroed, because a process that registered
             * before us but has not joined yet may be charging by the time we get here.  The
             * bucket is reset: an arrival time from before a reboot would be far in the
             * future; resetting it only forgives debt.  Counters are history: kept. */
            store_limits(r, slot, limits);
            reconcile_if_requested(r);
            atomic_store_explicit(&d->tat_ns, 0, memory_order_release);
        }
    } else {
        uint32_t count = atomic_load_explicit(&r->map->header.device_count, memory_order_acquire);
        if (count >= HAMI_MAX_DEVICES) {
            unlock_registry(r);
            return HAMI_E_FULL;
        }
        slot = (int)count;
        region_device *d = &r->map->devices[slot];
        /* A holder killed before publishing may have left a half-written entry: rewrite all. */
        d->vendor = vendor;
        memset(d->uuid, 0, sizeof(d->uuid));
        memcpy(d->uuid, uuid, strnlen(uuid, HAMI_UUID_LEN - 1));
        atomic_store_explicit(&d->card_total_bytes, card_total_bytes, memory_order_relaxed);
        atomic_store_explicit(&d->used_bytes, 0, memory_order_relaxed);
        atomic_store_explicit(&d->tat_ns, 0, memory_order_relaxed);
        atomic_store_explicit(&d->launches, 0, memory_order_relaxed);
        atomic_store_explicit(&d->throttled_ns, 0, memory_order_relaxed);
        atomic_store_explicit(&d->measured_busy_ns, 0, memory_order_relaxed);
        store_limits(r, slot, limits);
        atomic_store_explicit(&d->state, HAMI_DEV_PUBLISHED, memory_order_seq_cst);
        /* the mask bit needs the published state (device_compute_active checks it) */
        update_compute_mask(r, slot);
        atomic_store_explicit(&r->map->header.device_count, count + 1, memory_order_release);
    }
    unlock_registry(r);
    mark_registered(r, slot, me);
    return slot;
}

/* ---------------------------------------------------------------- processes ------------- */

static uint64_t self_start_time(void)
{
    uint64_t st = 0;
    if (read_proc_stat(getpid(), NULL, &st) != 0)
        return 0;
    return st;
}

/* Fill a slot we own in CLAIMING state and make it LIVE. */
static int finish_claim(region_proc *p, int index, pid_t me, uint64_t start_time)
{
    for (int d = 0; d < HAMI_MAX_DEVICES; d++) {
        atomic_store_explicit(&p->used_bytes[d], 0, memory_order_relaxed);
        atomic_store_explicit(&p->busy_ns[d], 0, memory_order_relaxed);
    }
    /* inflight is 0 already: a dead owner's was reset by drain_slot, a leaving owner waited
     * for 0.  It is not stored: a straggling thread of the previous owner may be between the
     * increment and decrement of a charge it backs out of, and a store would wrap it. */
    atomic_store_explicit(&p->start_time, start_time, memory_order_relaxed);
    atomic_store_explicit(&p->heartbeat_ns, hami_now_ns(), memory_order_relaxed);
    atomic_store_explicit(&p->state, hami_slot_word(me, HAMI_SLOT_LIVE), memory_order_release);
    return index;
}

static int join_slot(hami_region *r, pid_t me)
{
    uint64_t start_time = self_start_time();
    uint64_t claiming = hami_slot_word(me, HAMI_SLOT_CLAIMING);
    int first = (int)((unsigned)me % HAMI_MAX_PROCS);
    for (int n = 0; n < HAMI_MAX_PROCS; n++) {
        int i = (first + n) % HAMI_MAX_PROCS;
        region_proc *p = &r->map->procs[i];
        uint64_t word = atomic_load_explicit(&p->state, memory_order_acquire);
        unsigned st = hami_slot_state(word);
        if (st == HAMI_SLOT_FREE) {
            if (atomic_compare_exchange_strong_explicit(&p->state, &word, claiming,
                                                        memory_order_acq_rel,
                                                        memory_order_acquire))
                return finish_claim(p, i, me, start_time);
            continue; /* someone else took it: move on rather than contend */
        }
        if (hami_slot_pid(word) == me) {
            /* Already joined (a second caller in this process): same slot.  A slot of our pid
             * with another start time is a predecessor with a reused pid: dead. */
            if (st == HAMI_SLOT_LIVE &&
                atomic_load_explicit(&p->start_time, memory_order_acquire) == start_time)
                return i;
            if (st != HAMI_SLOT_LIVE)
                continue;
        } else if (slot_owner_alive(p, word)) {
            continue;
        }
        /* Dead owner (or dead claimer/reclaimer): take it over, give its bytes back, and
         * claim it ourselves without passing through FREE. */
        if (take_over_dead_slot(r, p, word, me)) {
            uint64_t reclaiming = hami_slot_word(me, HAMI_SLOT_RECLAIMING);
            atomic_compare_exchange_strong_explicit(&p->state, &reclaiming, claiming,
                                                    memory_order_acq_rel, memory_order_acquire);
            return finish_claim(p, i, me, start_time);
        }
    }
    return HAMI_E_FULL;
}

int hami_region_join(hami_region *r)
{
    if (r == NULL)
        return HAMI_E_INVALID;
    pid_t me = getpid();
    int slot = join_slot(r, me);
    if (slot >= 0)
        atomic_store_explicit(&r->joined_pid, me, memory_order_release);
    return slot;
}

/* How long hami_region_leave waits for this process's in-flight charges and releases (each is
 * a few atomics: only a preempted thread takes longer) before it gives up leaving. */
#define LEAVE_WAIT_STEP_NS 100000ull /* 0.1 ms */
#define LEAVE_WAIT_STEPS 1000        /* 100 ms in all */

void hami_region_leave(hami_region *r, int proc_slot)
{
    region_proc *p = proc_at(r, proc_slot);
    if (p == NULL)
        return;
    pid_t me = getpid();
    uint64_t live = hami_slot_word(me, HAMI_SLOT_LIVE);
    uint64_t reclaiming = hami_slot_word(me, HAMI_SLOT_RECLAIMING);
    uint64_t word = live;
    /* RECLAIMING first: from here on a charge or release of ours that has not yet checked the
     * state backs out (charge_once / hami_release_memory: inflight up, then state check; we:
     * state, then inflight; both seq_cst, so one of the two sees the other).  Those already
     * past the check are counted in inflight: wait for them, so their bytes land in the slot
     * before it is drained rather than in a FREE slot that the next claimer would zero. */
    if (!atomic_compare_exchange_strong_explicit(&p->state, &word, reclaiming,
                                                 memory_order_seq_cst, memory_order_acquire))
        return; /* not ours (a forked child holding the parent's slot number): leave it be */
    for (int i = 0; atomic_load_explicit(&p->inflight, memory_order_seq_cst) != 0; i++) {
        if (i == LEAVE_WAIT_STEPS) {
            /* A thread stuck mid-op (stopped, or a counter wrapped by an older library):
             * stay attached.  Once this process is gone its slot is reclaimed as any dead
             * process's (LIVE keeps the start time that makes the death check exact), and
             * the reclaimer's reconcile settles whatever was in flight. */
            atomic_compare_exchange_strong_explicit(&p->state, &reclaiming, live,
                                                    memory_order_seq_cst, memory_order_relaxed);
            return;
        }
        struct timespec ts = {0, (long)LEAVE_WAIT_STEP_NS};
        nanosleep(&ts, NULL);
    }
    drain_slot(r, p, 0);
    atomic_store_explicit(&p->state, hami_slot_word(0, HAMI_SLOT_FREE), memory_order_release);
}

int hami_region_heartbeat(hami_region *r, int proc_slot)
{
    region_proc *p = proc_at(r, proc_slot);
    if (p == NULL)
        return HAMI_E_INVALID;
    atomic_store_explicit(&p->heartbeat_ns, hami_now_ns(), memory_order_relaxed);
    return HAMI_OK;
}

/* ---------------------------------------------------------------- memory ---------------- */

/* One CAS loop: add `bytes` to used unless that passes the limit (limit 0 = no cap). */
static int try_reserve(region_device *d, uint64_t bytes, int capped, uint64_t *used_seen,
                       uint64_t *limit_seen)
{
    uint64_t limit = atomic_load_explicit(&d->memory_limit_bytes, memory_order_acquire);
    uint64_t used = atomic_load_explicit(&d->used_bytes, memory_order_relaxed);
    for (;;) {
        uint64_t next = used + bytes;
        int overflow = next < used;
        if (overflow || (capped && limit != 0 && next > limit)) {
            *used_seen = used;
            *limit_seen = limit;
            return 0;
        }
        if (atomic_compare_exchange_weak_explicit(&d->used_bytes, &used, next,
                                                  memory_order_seq_cst, memory_order_relaxed))
            return 1;
    }
}

/* Enter the slot's inflight window; 0 (window not entered) when the slot is not this
 * handle's LIVE slot any more (left, or claimed by another process since).  The increment
 * comes before the state check, both seq_cst, so hami_region_leave (state, then inflight)
 * either waits for us or we back out: no op lands in a slot after it is drained.  One extra
 * load, on the cache line the increment already owns. */
static int enter_slot(hami_region *r, region_proc *p)
{
    atomic_fetch_add_explicit(&p->inflight, 1, memory_order_seq_cst);
    pid_t owner = atomic_load_explicit(&r->joined_pid, memory_order_acquire);
    uint64_t word = atomic_load_explicit(&p->state, memory_order_seq_cst);
    if (__builtin_expect(owner != 0 && word == hami_slot_word(owner, HAMI_SLOT_LIVE), 1))
        return 1;
    atomic_fetch_sub_explicit(&p->inflight, 1, memory_order_seq_cst);
    return 0;
}

/* One attempt: reserve on the device, then record in the slot, inside the slot's inflight
 * window so a reconciler never sees the two counters torn.  1 charged, 0 over the cap, -1 the
 * slot is not ours (nothing charged). */
static int charge_once(hami_region *r, region_device *d, region_proc *p, int dev_slot,
                       uint64_t bytes, int capped, uint64_t *used_seen, uint64_t *limit_seen)
{
    if (!enter_slot(r, p))
        return -1;
    int ok = try_reserve(d, bytes, capped, used_seen, limit_seen);
    if (ok)
        atomic_fetch_add_explicit(&p->used_bytes[dev_slot], bytes, memory_order_seq_cst);
    atomic_fetch_sub_explicit(&p->inflight, 1, memory_order_seq_cst);
    return ok;
}

int hami_charge_memory(hami_region *r, int dev_slot, int proc_slot, uint64_t bytes,
                       uint64_t *in_use_bytes, uint64_t *limit_bytes)
{
    region_device *d = device_at(r, dev_slot);
    region_proc *p = proc_at(r, proc_slot);
    if (d == NULL || p == NULL)
        return HAMI_E_INVALID;
    uint32_t flags = atomic_load_explicit(&d->flags, memory_order_acquire);
    if (flags & HAMI_DEVF_MEMORY_INVALID) {
        if (in_use_bytes)
            *in_use_bytes = atomic_load_explicit(&d->used_bytes, memory_order_relaxed);
        if (limit_bytes)
            *limit_bytes = atomic_load_explicit(&d->memory_limit_bytes, memory_order_relaxed);
        return HAMI_E_LIMIT_INVALID;
    }
    int capped = !(flags & HAMI_DEVF_POLICY_DISABLE);
    uint64_t used_seen = 0, limit_seen = 0;
    int ok = charge_once(r, d, p, dev_slot, bytes, capped, &used_seen, &limit_seen);
    if (ok == 0) {
        /* Dead processes' bytes (and a reconcile they requested) may be what is in the way. */
        hami_region_reclaim_dead(r);
        ok = charge_once(r, d, p, dev_slot, bytes, capped, &used_seen, &limit_seen);
    }
    if (ok < 0)
        return HAMI_E_INVALID; /* the slot was left (process exit) or is not this process's */
    if (ok == 0) {
        if (in_use_bytes)
            *in_use_bytes = used_seen;
        if (limit_bytes)
            *limit_bytes = limit_seen;
        return HAMI_E_OVER_LIMIT;
    }
    atomic_store_explicit(&p->heartbeat_ns, hami_now_ns(), memory_order_relaxed);
    return HAMI_OK;
}

void hami_release_memory(hami_region *r, int dev_slot, int proc_slot, uint64_t bytes)
{
    region_device *d = device_at(r, dev_slot);
    region_proc *p = proc_at(r, proc_slot);
    if (d == NULL || p == NULL || bytes == 0)
        return;
    if (!enter_slot(r, p))
        return; /* left (its bytes went back when it was drained) or another process's */
    uint64_t take = saturating_sub(&p->used_bytes[dev_slot], bytes);
    if (take != 0)
        saturating_sub(&d->used_bytes, take);
    atomic_fetch_sub_explicit(&p->inflight, 1, memory_order_seq_cst);
}

/* ---------------------------------------------------------------- limits ---------------- */

int hami_region_get_limits(hami_region *r, int dev_slot, hami_limits *out)
{
    region_device *d = device_at(r, dev_slot);
    if (d == NULL || out == NULL)
        return HAMI_E_INVALID;
    uint32_t flags = atomic_load_explicit(&d->flags, memory_order_acquire);
    out->memory_limit_bytes = atomic_load_explicit(&d->memory_limit_bytes, memory_order_acquire);
    out->compute_limit_pct = atomic_load_explicit(&d->compute_limit_pct, memory_order_acquire);
    out->memory_invalid = (flags & HAMI_DEVF_MEMORY_INVALID) ? 1u : 0u;
    out->compute_invalid = (flags & HAMI_DEVF_COMPUTE_INVALID) ? 1u : 0u;
    out->policy_disable = (flags & HAMI_DEVF_POLICY_DISABLE) ? 1u : 0u;
    return HAMI_OK;
}

/* Outstanding bucket debt (tat - now) was accrued at the old rate; rescale it to the new rate
 * so a live change takes effect at once rather than after the old debt drains. */
static void rescale_debt(region_device *d, uint32_t old_pct, uint32_t new_pct, uint64_t now)
{
    if (old_pct == 0 || new_pct == 0 || old_pct == new_pct)
        return;
    uint64_t tat = atomic_load_explicit(&d->tat_ns, memory_order_acquire);
    for (;;) {
        if (tat <= now)
            return;
        unsigned __int128 debt = (unsigned __int128)(tat - now) * old_pct / new_pct;
        uint64_t next = now + (uint64_t)debt;
        if (atomic_compare_exchange_weak_explicit(&d->tat_ns, &tat, next, memory_order_acq_rel,
                                                  memory_order_acquire))
            return;
    }
}

static int set_limits_at(hami_region *r, int dev_slot, const hami_limits *limits, uint64_t now)
{
    region_device *d = device_at(r, dev_slot);
    if (d == NULL || limits == NULL || limits->compute_limit_pct > 100)
        return HAMI_E_INVALID;
    uint32_t old_pct = atomic_load_explicit(&d->compute_rate_pct, memory_order_acquire);
    store_limits(r, dev_slot, limits);
    rescale_debt(d, old_pct, effective_rate_pct(limits), now);
    return HAMI_OK;
}

int hami_region_set_limits(hami_region *r, int dev_slot, const hami_limits *limits)
{
    return set_limits_at(r, dev_slot, limits, hami_now_ns());
}

/* ---------------------------------------------------------------- compute --------------- */

/* Device time -> wall time at `pct`: cost_ns * 100 / pct, saturating. */
static uint64_t wall_ns_for(uint64_t device_ns, uint32_t pct)
{
    /* the launch path's common cases without a 128-bit division (__udivti3, ~20 ns) */
    if (pct == 100)
        return device_ns < UINT64_MAX / 4 ? device_ns : UINT64_MAX / 4;
    if (device_ns <= UINT64_MAX / 100 / 4)
        return device_ns * 100u / pct;
    unsigned __int128 wall = (unsigned __int128)device_ns * 100u / pct;
    return wall > (unsigned __int128)(UINT64_MAX / 4) ? UINT64_MAX / 4 : (uint64_t)wall;
}

/*
 * GCRA with a tolerance of HAMI_BUCKET_BURST_NS.  tat is the wall time at which the device
 * time granted so far would have been used up at the capped rate.  A take commits
 * new_tat = max(tat, now) + cost*100/pct (its place is reserved whether or not it must wait)
 * and may start at once when the old tat is within the burst window of now; otherwise it
 * sleeps until old_tat - burst.  So:
 * - over any interval, granted device time <= pct% x (interval + burst) + one cost;
 * - an idle period moves nothing: max(tat, now) forgets it, nothing is banked beyond the
 *   burst window;
 * - waiting callers are served in the order they committed.
 */
uint64_t hami_take_tokens(hami_region *r, int dev_slot, uint64_t cost_ns, uint64_t now_ns)
{
    if (r == NULL || (unsigned)dev_slot >= HAMI_MAX_DEVICES)
        return 0;
    region_device *d = &r->map->devices[dev_slot];
    uint32_t pct = atomic_load_explicit(&d->compute_rate_pct, memory_order_relaxed);
    if (pct == 0)
        return 0;
    if (now_ns == 0) /* caller left the clock to us: read only when a cap is active */
        now_ns = hami_now_ns();
    uint64_t increment = wall_ns_for(cost_ns, pct);
    uint64_t tat = atomic_load_explicit(&d->tat_ns, memory_order_relaxed);
    uint64_t start;
    for (;;) {
        start = tat > now_ns ? tat : now_ns;
        if (atomic_compare_exchange_weak_explicit(&d->tat_ns, &tat, start + increment,
                                                  memory_order_relaxed, memory_order_relaxed))
            break;
    }
    uint64_t may_go_at = start > HAMI_BUCKET_BURST_NS ? start - HAMI_BUCKET_BURST_NS : 0;
    return may_go_at > now_ns ? may_go_at - now_ns : 0;
}

void hami_charge_back(hami_region *r, int dev_slot, int64_t delta_ns)
{
    if (r == NULL || (unsigned)dev_slot >= HAMI_MAX_DEVICES || delta_ns == 0)
        return;
    region_device *d = &r->map->devices[dev_slot];
    uint32_t pct = atomic_load_explicit(&d->compute_rate_pct, memory_order_relaxed);
    if (pct == 0)
        return;
    uint64_t magnitude = delta_ns > 0 ? (uint64_t)delta_ns : (uint64_t)0 - (uint64_t)delta_ns;
    uint64_t wall = wall_ns_for(magnitude, pct);
    uint64_t tat = atomic_load_explicit(&d->tat_ns, memory_order_relaxed);
    for (;;) {
        uint64_t next;
        if (delta_ns > 0)
            next = tat + wall;
        else
            next = tat > wall ? tat - wall : 0; /* a credit below now is forgotten by take */
        if (atomic_compare_exchange_weak_explicit(&d->tat_ns, &tat, next, memory_order_relaxed,
                                                  memory_order_relaxed))
            return;
    }
}

void hami_count_launches(hami_region *r, int dev_slot, int proc_slot, uint64_t launches,
                         uint64_t measured_busy_ns, uint64_t throttled_ns)
{
    if (r == NULL || (unsigned)dev_slot >= HAMI_MAX_DEVICES)
        return;
    region_device *d = &r->map->devices[dev_slot];
    if (launches != 0)
        atomic_fetch_add_explicit(&d->launches, launches, memory_order_relaxed);
    if (throttled_ns != 0)
        atomic_fetch_add_explicit(&d->throttled_ns, throttled_ns, memory_order_relaxed);
    if (measured_busy_ns != 0) {
        atomic_fetch_add_explicit(&d->measured_busy_ns, measured_busy_ns, memory_order_relaxed);
        region_proc *p = proc_at(r, proc_slot);
        if (p != NULL)
            atomic_fetch_add_explicit(&p->busy_ns[dev_slot], measured_busy_ns,
                                      memory_order_relaxed);
    }
}

void hami_count_launch(hami_region *r, int dev_slot, int proc_slot, uint64_t measured_busy_ns,
                       uint64_t throttled_ns)
{
    hami_count_launches(r, dev_slot, proc_slot, 1, measured_busy_ns, throttled_ns);
}

int hami_region_compute_active(hami_region *r)
{
    if (r == NULL)
        return 0;
    return atomic_load_explicit(&r->map->header.compute_active_mask, memory_order_acquire) != 0;
}

const uint32_t *hami_region_compute_word(hami_region *r)
{
    /* The same object as the _Atomic field: callers load it with __atomic_load_n, which is
     * what an _Atomic uint32_t load compiles to (lock-free, asserted above). */
    return r == NULL ? NULL : (const uint32_t *)&r->map->header.compute_active_mask;
}

/* ---------------------------------------------------------------- snapshots ------------- */

int hami_region_devices(hami_region *r, hami_device_info *out, int max)
{
    if (r == NULL || (out == NULL && max > 0))
        return HAMI_E_INVALID;
    int count = hami_region_device_count(r);
    int n = 0;
    for (int i = 0; i < count && n < max; i++) {
        region_device *d = device_at(r, i);
        if (d == NULL)
            continue;
        hami_device_info *o = &out[n++];
        memset(o, 0, sizeof(*o));
        o->slot = i;
        o->vendor = d->vendor;
        memcpy(o->uuid, d->uuid, HAMI_UUID_LEN);
        o->uuid[HAMI_UUID_LEN - 1] = '\0';
        o->card_total_bytes = atomic_load_explicit(&d->card_total_bytes, memory_order_relaxed);
        hami_region_get_limits(r, i, &o->limits);
        o->used_bytes = atomic_load_explicit(&d->used_bytes, memory_order_acquire);
        o->launches = atomic_load_explicit(&d->launches, memory_order_relaxed);
        o->throttled_ns = atomic_load_explicit(&d->throttled_ns, memory_order_relaxed);
        o->measured_busy_ns = atomic_load_explicit(&d->measured_busy_ns, memory_order_relaxed);
    }
    return n;
}

int hami_region_processes(hami_region *r, hami_process_info *out, int max)
{
    if (r == NULL || (out == NULL && max > 0))
        return HAMI_E_INVALID;
    int n = 0;
    for (int i = 0; i < HAMI_MAX_PROCS && n < max; i++) {
        region_proc *p = &r->map->procs[i];
        uint64_t word = atomic_load_explicit(&p->state, memory_order_acquire);
        if (hami_slot_state(word) != HAMI_SLOT_LIVE)
            continue;
        hami_process_info *o = &out[n++];
        memset(o, 0, sizeof(*o));
        o->slot = i;
        o->pid = hami_slot_pid(word);
        o->start_time = atomic_load_explicit(&p->start_time, memory_order_acquire);
        o->heartbeat_ns = atomic_load_explicit(&p->heartbeat_ns, memory_order_relaxed);
        o->alive = pid_is_alive(o->pid, o->start_time);
        for (int d = 0; d < HAMI_MAX_DEVICES; d++) {
            o->used_bytes[d] = atomic_load_explicit(&p->used_bytes[d], memory_order_relaxed);
            o->busy_ns[d] = atomic_load_explicit(&p->busy_ns[d], memory_order_relaxed);
        }
    }
    return n;
}

/* ---------------------------------------------------------------- test hooks ------------ */

int hami_region_test_lock_registry(hami_region *r) { return r ? lock_registry(r) : HAMI_E_INVALID; }

int hami_region_test_set_limits_at(hami_region *r, int dev_slot, const hami_limits *limits,
                                   uint64_t now_ns)
{
    return set_limits_at(r, dev_slot, limits, now_ns);
}

uint64_t hami_region_test_tat(hami_region *r, int dev_slot)
{
    if (r == NULL || (unsigned)dev_slot >= HAMI_MAX_DEVICES)
        return 0;
    return atomic_load_explicit(&r->map->devices[dev_slot].tat_ns, memory_order_acquire);
}
