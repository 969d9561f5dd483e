/*
 * The virtual-device engine behind the simulated libraries (see engine.h for the time model).
 * Owns: the state file (layout, race-free creation, validation, mapping), per-device memory
 * accounting with a CAS that cannot overshoot capacity, per-process slots identified by pid and
 * start time, reclaiming dead processes' slots (at attach, on a failed charge, when reading
 * stats), device-time scheduling and the ground-truth readers of sim.h.
 *
 * State file: HAMI_SIM_STATE, else "$TMPDIR/hami-sim-<uid>.state" ($TMPDIR defaults to /tmp).
 * When absent it is created from HAMI_SIM_DEVICES/MEMORY/SMS/BLOCK_NS: written in full to a
 * temporary file, then link(2)ed to its name, so a process never sees a half-written state and
 * two processes racing to create it agree on one.  A file whose magic, version or size does not
 * match is refused with one line on stderr; the libraries then behave as if there were no
 * devices (cuInit returns CUDA_ERROR_NO_DEVICE, nvmlInit NVML_ERROR_DRIVER_NOT_LOADED).
 */
#include "engine.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hami/clock.h"

#define SIM_DEFAULT_DEVICES 2u
#define SIM_DEFAULT_MEMORY_BYTES (16ull << 30)
#define SIM_DEFAULT_SMS 108u
#define SIM_DEFAULT_BLOCK_NS 10000ull

static void set_err(char *err, size_t errlen, const char *fmt, const char *a, const char *b)
{
    /* `a` is usually a path from the environment: cut it so the message stays one line that
     * fits (and so the compiler can see the bound at any optimisation level). */
    char a_cut[320];
    snprintf(a_cut, sizeof a_cut, "%.319s", a ? a : "");
    if (err && errlen)
        snprintf(err, errlen, fmt, a_cut, b ? b : "");
}

/* ------------------------------------------------------------------ sizes and config */

int sim_parse_size(const char *text, uint64_t *out_bytes)
{
    if (!text || !out_bytes)
        return -1;
    const char *p = text;
    while (*p == ' ')
        p++;
    if (*p < '0' || *p > '9')
        return -1;
    uint64_t value = 0;
    while (*p >= '0' && *p <= '9') {
        if (__builtin_mul_overflow(value, 10u, &value) ||
            __builtin_add_overflow(value, (uint64_t)(*p - '0'), &value))
            return -1;
        p++;
    }
    uint64_t mult = 1;
    if (*p) {
        char u = *p;
        int exp = 0;
        switch (u) {
        case 'k': case 'K': exp = 1; break;
        case 'm': case 'M': exp = 2; break;
        case 'g': case 'G': exp = 3; break;
        case 't': case 'T': exp = 4; break;
        default: return -1;
        }
        p++;
        uint64_t base = 1024;
        if (*p == 'i') { /* Ki, Mi ... */
            p++;
            if (*p == 'B')
                p++;
        } else if (*p == 'B' || *p == 'b') { /* kB, MB ... */
            base = 1000;
            p++;
        }
        if (*p)
            return -1;
        for (int i = 0; i < exp; i++)
            mult *= base;
    }
    if (__builtin_mul_overflow(value, mult, out_bytes))
        return -1;
    return 0;
}

static int parse_u64_env(const char *name, uint64_t def, uint64_t lo, uint64_t hi, int is_size,
                         uint64_t *out)
{
    const char *v = getenv(name);
    if (!v || !*v) {
        *out = def;
        return 0;
    }
    uint64_t x = 0;
    if (is_size) {
        if (sim_parse_size(v, &x) != 0)
            x = 0, lo = 1; /* force the range error below */
    } else {
        char *end = NULL;
        errno = 0;
        unsigned long long y = strtoull(v, &end, 10);
        if (errno || end == v || *end || v[0] == '-')
            y = 0, lo = 1;
        x = y;
    }
    if (x < lo || x > hi) {
        fprintf(stderr, "hami-sim: %s=%s is not valid (expected %s in [%llu, %llu])\n", name, v,
                is_size ? "a size like 16Gi" : "an integer", (unsigned long long)lo,
                (unsigned long long)hi);
        return -1;
    }
    *out = x;
    return 0;
}

static int config_from_env(hami_sim_config *cfg)
{
    uint64_t devices, memory, sms, block;
    if (parse_u64_env("HAMI_SIM_DEVICES", SIM_DEFAULT_DEVICES, 1, HAMI_SIM_MAX_DEVICES, 0,
                      &devices) ||
        parse_u64_env("HAMI_SIM_MEMORY", SIM_DEFAULT_MEMORY_BYTES, 1, 1ull << 50, 1, &memory) ||
        parse_u64_env("HAMI_SIM_SMS", SIM_DEFAULT_SMS, 1, 100000, 0, &sms) ||
        parse_u64_env("HAMI_SIM_BLOCK_NS", SIM_DEFAULT_BLOCK_NS, 0, 1000000000000ull, 0, &block))
        return -1;
    cfg->devices = (uint32_t)devices;
    cfg->memory_bytes = memory;
    cfg->sms = (uint32_t)sms;
    cfg->block_ns = block;
    cfg->vendors = 3;
    return 0;
}

static const char *default_state_path(char *buf, size_t len)
{
    const char *p = getenv("HAMI_SIM_STATE");
    if (p && *p)
        return p;
    const char *tmp = getenv("TMPDIR");
    if (!tmp || !*tmp)
        tmp = "/tmp";
    snprintf(buf, len, "%s/hami-sim-%u.state", tmp, (unsigned)getuid());
    return buf;
}

/* ------------------------------------------------------------------ state file */

static void fill_state(sim_state *st, const hami_sim_config *cfg)
{
    memset(st, 0, sizeof *st);
    st->magic = SIM_STATE_MAGIC;
    st->version = SIM_STATE_VERSION;
    st->state_bytes = (uint32_t)sizeof *st;
    st->devices = cfg->devices;
    st->vendors = cfg->vendors;
    st->block_ns = cfg->block_ns;
    st->created_ns = hami_now_ns();
    if (getrandom(st->instance_id, sizeof st->instance_id, GRND_NONBLOCK) !=
        (ssize_t)sizeof st->instance_id) {
        uint64_t a = st->created_ns ^ ((uint64_t)getpid() << 32), b = a * 0x9E3779B97F4A7C15ull;
        memcpy(st->instance_id, &a, 8);
        memcpy(st->instance_id + 8, &b, 8);
    }
    for (uint32_t i = 0; i < cfg->devices; i++) {
        sim_device_state *d = &st->dev[i];
        d->capacity_bytes = cfg->memory_bytes;
        d->sms = cfg->sms;
        d->index = i;
        memcpy(d->uuid_bytes, st->instance_id, 16);
        d->uuid_bytes[15] = (uint8_t)(d->uuid_bytes[15] ^ (uint8_t)i);
        d->uuid_bytes[6] = (uint8_t)((d->uuid_bytes[6] & 0x0f) | 0x40); /* version 4 */
        d->uuid_bytes[8] = (uint8_t)((d->uuid_bytes[8] & 0x3f) | 0x80);
        const uint8_t *u = d->uuid_bytes;
        snprintf(d->uuid, sizeof d->uuid,
                 "GPU-%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", u[0],
                 u[1], u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11], u[12], u[13],
                 u[14], u[15]);
        snprintf(d->name, sizeof d->name, "HAMi Simulated GPU");
    }
}

/* Write a complete state to a new temporary file next to `path`; returns its fd, name in tmp. */
static int write_temp_state(const char *path, const hami_sim_config *cfg, char *tmp, size_t tmplen,
                            char *err, size_t errlen)
{
    if ((size_t)snprintf(tmp, tmplen, "%s.tmp.XXXXXX", path) >= tmplen) {
        set_err(err, errlen, "state path too long: %s%s", path, NULL);
        return -1;
    }
    int fd = mkstemp(tmp);
    if (fd < 0) {
        set_err(err, errlen, "cannot create %s: %s", tmp, strerror(errno));
        return -1;
    }
    fchmod(fd, 0666 & ~(mode_t)0);
    if (ftruncate(fd, (off_t)sizeof(sim_state)) != 0) {
        set_err(err, errlen, "cannot size %s: %s", tmp, strerror(errno));
        close(fd);
        unlink(tmp);
        return -1;
    }
    sim_state *st = mmap(NULL, sizeof(sim_state), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (st == MAP_FAILED) {
        set_err(err, errlen, "cannot map %s: %s", tmp, strerror(errno));
        close(fd);
        unlink(tmp);
        return -1;
    }
    fill_state(st, cfg);
    munmap(st, sizeof(sim_state));
    return fd;
}

static int valid_config(const hami_sim_config *cfg)
{
    return cfg && cfg->devices >= 1 && cfg->devices <= HAMI_SIM_MAX_DEVICES &&
           cfg->memory_bytes > 0 && cfg->sms > 0;
}

int hami_sim_create(const char *path, const hami_sim_config *cfg, char *err, size_t errlen)
{
    if (!path || !*path || !valid_config(cfg)) {
        set_err(err, errlen, "hami_sim_create: bad path or configuration%s%s", NULL, NULL);
        return -1;
    }
    char tmp[4096];
    int fd = write_temp_state(path, cfg, tmp, sizeof tmp, err, errlen);
    if (fd < 0)
        return -1;
    close(fd);
    if (rename(tmp, path) != 0) {
        set_err(err, errlen, "cannot install %s: %s", path, strerror(errno));
        unlink(tmp);
        return -1;
    }
    return 0;
}

/* Map and validate an existing state file.  NULL with err set when refused. */
static sim_state *map_state(const char *path, char *err, size_t errlen)
{
    int fd = open(path, O_RDWR | O_CLOEXEC);
    if (fd < 0) {
        set_err(err, errlen, "cannot open %s: %s", path, strerror(errno));
        return NULL;
    }
    struct stat sb;
    if (fstat(fd, &sb) != 0 || (uint64_t)sb.st_size != sizeof(sim_state)) {
        set_err(err, errlen,
                "%s is not a simulator state of this version (size mismatch)%s; remove it or "
                "run under `hami-core sim`",
                path, NULL);
        close(fd);
        return NULL;
    }
    sim_state *st = mmap(NULL, sizeof(sim_state), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    if (st == MAP_FAILED) {
        set_err(err, errlen, "cannot map %s: %s", path, strerror(errno));
        return NULL;
    }
    if (st->magic != SIM_STATE_MAGIC || st->version != SIM_STATE_VERSION ||
        st->state_bytes != sizeof(sim_state) || st->devices < 1 ||
        st->devices > HAMI_SIM_MAX_DEVICES) {
        set_err(err, errlen,
                "%s is not a simulator state of this version (bad magic, version or "
                "layout)%s; remove it or run under `hami-core sim`",
                path, NULL);
        munmap(st, sizeof(sim_state));
        return NULL;
    }
    for (uint32_t i = 0; i < st->devices; i++) {
        if (st->dev[i].capacity_bytes == 0 || st->dev[i].sms == 0) {
            set_err(err, errlen, "%s is corrupt (device with no memory or SMs)%s", path, NULL);
            munmap(st, sizeof(sim_state));
            return NULL;
        }
    }
    return st;
}

/* Open `path`, creating it from the environment when absent (temp file + link: race-free). */
static sim_state *open_or_create(const char *path, char *err, size_t errlen)
{
    if (access(path, F_OK) != 0 && errno == ENOENT) {
        hami_sim_config cfg;
        if (config_from_env(&cfg) != 0) {
            set_err(err, errlen, "not creating %s: bad HAMI_SIM_* configuration%s", path, NULL);
            return NULL;
        }
        char tmp[4096];
        int fd = write_temp_state(path, &cfg, tmp, sizeof tmp, err, errlen);
        if (fd < 0)
            return NULL;
        close(fd);
        if (link(tmp, path) != 0 && errno != EEXIST) {
            set_err(err, errlen, "cannot create %s: %s", path, strerror(errno));
            unlink(tmp);
            return NULL;
        }
        unlink(tmp); /* created or lost the race: either way `path` is complete now */
    }
    return map_state(path, err, errlen);
}

/* ------------------------------------------------------------------ process slots */

static uint64_t proc_start_time_ticks(pid_t pid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return 0;
    buf[n] = 0;
    char *p = strrchr(buf, ')');
    if (!p)
        return 0;
    p++; /* now at " S ppid ..." : field 3 follows */
    int field = 2;
    while (*p && field < 22) {
        if (*p == ' ') {
            field++;
            if (field == 22)
                return strtoull(p + 1, NULL, 10);
        }
        p++;
    }
    return 0;
}

static int slot_is_dead(const sim_proc_slot *slot)
{
    pid_t pid = slot->pid;
    if (pid <= 0)
        return 1;
    if (kill(pid, 0) != 0 && errno == ESRCH)
        return 1;
    uint64_t start = proc_start_time_ticks(pid);
    if (start == 0)
        return 0; /* it exists but /proc does not show it (another pid namespace): keep it */
    return start != slot->start_time_ticks; /* a reused pid is a different process */
}

static void sub_clamped(_Atomic uint64_t *counter, uint64_t bytes)
{
    uint64_t cur = atomic_load_explicit(counter, memory_order_relaxed);
    uint64_t next;
    do {
        next = cur > bytes ? cur - bytes : 0;
    } while (!atomic_compare_exchange_weak_explicit(counter, &cur, next, memory_order_acq_rel,
                                                    memory_order_relaxed));
}

static void reclaim_slot(sim_state *st, sim_proc_slot *slot)
{
    uint32_t live = SIM_SLOT_LIVE;
    if (!atomic_compare_exchange_strong(&slot->state, &live, SIM_SLOT_RECLAIMING))
        return; /* someone else got it */
    for (uint32_t d = 0; d < HAMI_SIM_MAX_DEVICES; d++) {
        uint64_t bytes = atomic_exchange(&slot->used_bytes[d], 0);
        if (bytes && d < st->devices)
            sub_clamped(&st->dev[d].used_bytes, bytes);
        atomic_store(&slot->scheduled_total_ns[d], 0);
        atomic_store(&slot->last_end_ns[d], 0);
    }
    atomic_store(&slot->devices_active, 0);
    slot->pid = 0;
    slot->start_time_ticks = 0;
    atomic_store(&slot->state, SIM_SLOT_FREE);
}

int sim_engine_reclaim_dead(sim_state *st)
{
    if (!st)
        return 0;
    int reclaimed = 0;
    pid_t self = getpid();
    for (int i = 0; i < HAMI_SIM_MAX_PROCS; i++) {
        sim_proc_slot *slot = &st->procs[i];
        if (atomic_load_explicit(&slot->state, memory_order_acquire) != SIM_SLOT_LIVE)
            continue;
        if (slot->pid == self || !slot_is_dead(slot))
            continue;
        reclaim_slot(st, slot);
        reclaimed++;
    }
    return reclaimed;
}

/* ------------------------------------------------------------------ attachment */

static _Atomic(sim_state *) g_state;
static int g_attach_failed;
static pthread_mutex_t g_attach_lock = PTHREAD_MUTEX_INITIALIZER;
static _Atomic(sim_proc_slot *) g_my_slot;
static pid_t g_my_pid;
static uint64_t g_my_start_ticks;

static void after_fork_in_child(void)
{
    /* the child is a new process: it must not charge the parent's slot */
    atomic_store(&g_my_slot, NULL);
    g_my_pid = 0;
}

sim_state *sim_engine_state(void)
{
    sim_state *st = atomic_load_explicit(&g_state, memory_order_acquire);
    if (st)
        return st;
    pthread_mutex_lock(&g_attach_lock);
    st = atomic_load(&g_state);
    if (!st && !g_attach_failed) {
        char buf[4096], err[512] = "";
        const char *path = default_state_path(buf, sizeof buf);
        st = open_or_create(path, err, sizeof err);
        if (!st) {
            g_attach_failed = 1;
            fprintf(stderr, "hami-sim: %s; simulated devices unavailable\n", err);
        } else {
            sim_engine_reclaim_dead(st);
            pthread_atfork(NULL, NULL, after_fork_in_child);
            atomic_store(&g_state, st);
        }
    }
    pthread_mutex_unlock(&g_attach_lock);
    return st;
}

static sim_proc_slot *claim_slot(sim_state *st)
{
    pid_t pid = getpid();
    if (g_my_pid != pid) {
        g_my_pid = pid;
        g_my_start_ticks = proc_start_time_ticks(pid);
    }
    for (int pass = 0; pass < 2; pass++) {
        for (int i = 0; i < HAMI_SIM_MAX_PROCS; i++) {
            sim_proc_slot *slot = &st->procs[i];
            uint32_t free_state = SIM_SLOT_FREE;
            if (atomic_load_explicit(&slot->state, memory_order_relaxed) != SIM_SLOT_FREE)
                continue;
            if (!atomic_compare_exchange_strong(&slot->state, &free_state, SIM_SLOT_CLAIMING))
                continue;
            slot->pid = pid;
            slot->start_time_ticks = g_my_start_ticks;
            slot->attach_ns = hami_now_ns();
            for (int d = 0; d < HAMI_SIM_MAX_DEVICES; d++) {
                atomic_store(&slot->used_bytes[d], 0);
                atomic_store(&slot->scheduled_total_ns[d], 0);
                atomic_store(&slot->last_end_ns[d], 0);
            }
            atomic_store(&slot->devices_active, 0);
            atomic_store(&slot->state, SIM_SLOT_LIVE);
            return slot;
        }
        if (sim_engine_reclaim_dead(st) == 0)
            break;
    }
    return NULL;
}

sim_proc_slot *sim_engine_my_slot(void)
{
    sim_proc_slot *slot = atomic_load_explicit(&g_my_slot, memory_order_acquire);
    if (slot)
        return slot;
    sim_state *st = sim_engine_state();
    if (!st)
        return NULL;
    pthread_mutex_lock(&g_attach_lock);
    slot = atomic_load(&g_my_slot);
    if (!slot) {
        slot = claim_slot(st);
        if (!slot)
            fprintf(stderr, "hami-sim: all %d process slots are taken\n", HAMI_SIM_MAX_PROCS);
        atomic_store(&g_my_slot, slot);
    }
    pthread_mutex_unlock(&g_attach_lock);
    return slot;
}

void sim_engine_mark_active(int dev)
{
    sim_proc_slot *slot = sim_engine_my_slot();
    if (slot && dev >= 0 && dev < HAMI_SIM_MAX_DEVICES)
        atomic_fetch_or(&slot->devices_active, 1u << dev);
}

/* ------------------------------------------------------------------ memory */

static int try_charge_device(sim_device_state *d, uint64_t bytes)
{
    uint64_t cur = atomic_load_explicit(&d->used_bytes, memory_order_relaxed);
    for (;;) {
        uint64_t next;
        if (__builtin_add_overflow(cur, bytes, &next) || next > d->capacity_bytes)
            return -1;
        if (atomic_compare_exchange_weak_explicit(&d->used_bytes, &cur, next,
                                                  memory_order_acq_rel, memory_order_relaxed))
            return 0;
    }
}

int sim_engine_mem_charge(int dev, uint64_t bytes)
{
    sim_state *st = sim_engine_state();
    sim_proc_slot *slot = sim_engine_my_slot();
    if (!st || !slot || dev < 0 || (uint32_t)dev >= st->devices)
        return -1;
    sim_device_state *d = &st->dev[dev];
    if (try_charge_device(d, bytes) != 0) {
        if (sim_engine_reclaim_dead(st) == 0 || try_charge_device(d, bytes) != 0)
            return -1;
    }
    atomic_fetch_add_explicit(&slot->used_bytes[dev], bytes, memory_order_relaxed);
    return 0;
}

void sim_engine_mem_release(int dev, uint64_t bytes)
{
    sim_state *st = atomic_load_explicit(&g_state, memory_order_acquire);
    sim_proc_slot *slot = atomic_load_explicit(&g_my_slot, memory_order_acquire);
    if (!st || dev < 0 || (uint32_t)dev >= st->devices)
        return;
    if (slot) {
        /* a forked child frees what its parent charged: only take what this slot holds */
        uint64_t held = atomic_load(&slot->used_bytes[dev]);
        uint64_t take = held < bytes ? held : bytes;
        sub_clamped(&slot->used_bytes[dev], take);
        sub_clamped(&st->dev[dev].used_bytes, take);
    }
}

/* ------------------------------------------------------------------ time */

static void store_max(_Atomic uint64_t *x, uint64_t v)
{
    uint64_t cur = atomic_load_explicit(x, memory_order_relaxed);
    while (cur < v && !atomic_compare_exchange_weak_explicit(x, &cur, v, memory_order_release,
                                                             memory_order_relaxed)) {
    }
}

uint64_t sim_engine_schedule(int dev, uint64_t not_before_ns, uint64_t duration_ns,
                             uint64_t now_ns)
{
    sim_state *st = atomic_load_explicit(&g_state, memory_order_acquire);
    sim_proc_slot *slot = sim_engine_my_slot();
    if (!st || dev < 0 || (uint32_t)dev >= st->devices)
        return now_ns;
    sim_device_state *d = &st->dev[dev];
    uint64_t base = now_ns > not_before_ns ? now_ns : not_before_ns;
    uint64_t busy = atomic_load_explicit(&d->busy_until_ns, memory_order_relaxed);
    uint64_t end;
    do {
        uint64_t start = busy > base ? busy : base;
        end = start + duration_ns;
    } while (!atomic_compare_exchange_weak_explicit(&d->busy_until_ns, &busy, end,
                                                    memory_order_acq_rel, memory_order_relaxed));
    if (duration_ns) {
        atomic_fetch_add_explicit(&d->scheduled_total_ns, duration_ns, memory_order_release);
        if (slot) {
            atomic_fetch_add_explicit(&slot->scheduled_total_ns[dev], duration_ns,
                                      memory_order_relaxed);
            store_max(&slot->last_end_ns[dev], end);
        }
    }
    return end;
}

static uint64_t completed_ns(uint64_t scheduled_total, uint64_t busy_until, uint64_t now)
{
    uint64_t pending = busy_until > now ? busy_until - now : 0;
    return scheduled_total > pending ? scheduled_total - pending : 0;
}

uint64_t sim_engine_device_busy_ns(const sim_state *st, int dev, uint64_t now_ns)
{
    const sim_device_state *d = &st->dev[dev];
    uint64_t busy_until = atomic_load_explicit(&d->busy_until_ns, memory_order_acquire);
    uint64_t total = atomic_load_explicit(&d->scheduled_total_ns, memory_order_acquire);
    return completed_ns(total, busy_until, now_ns);
}

uint64_t sim_engine_slot_busy_ns(const sim_proc_slot *slot, int dev, uint64_t now_ns)
{
    uint64_t last_end = atomic_load_explicit(&slot->last_end_ns[dev], memory_order_acquire);
    uint64_t total = atomic_load_explicit(&slot->scheduled_total_ns[dev], memory_order_acquire);
    return completed_ns(total, last_end, now_ns);
}

/* ------------------------------------------------------------------ public readers */

static sim_state *map_for_reading(const char *path, char *err, size_t errlen, int *unmap)
{
    char buf[4096];
    if (!path || !*path)
        path = default_state_path(buf, sizeof buf);
    *unmap = 1;
    return map_state(path, err, errlen);
}

int hami_sim_read_devices(const char *path, hami_sim_device_stats *out, int max, char *err,
                          size_t errlen)
{
    int unmap = 0;
    sim_state *st = map_for_reading(path, err, errlen, &unmap);
    if (!st)
        return -1;
    sim_engine_reclaim_dead(st);
    uint64_t now = hami_now_ns();
    int n = 0;
    for (uint32_t i = 0; i < st->devices && n < max; i++, n++) {
        const sim_device_state *d = &st->dev[i];
        hami_sim_device_stats *o = &out[n];
        memset(o, 0, sizeof *o);
        snprintf(o->uuid, sizeof o->uuid, "%s", d->uuid);
        snprintf(o->name, sizeof o->name, "%s", d->name);
        o->total_bytes = d->capacity_bytes;
        o->used_bytes = atomic_load(&d->used_bytes);
        o->sms = d->sms;
        o->busy_ns = sim_engine_device_busy_ns(st, (int)i, now);
        o->now_ns = now;
    }
    if (unmap)
        munmap(st, sizeof(sim_state));
    return n;
}

int hami_sim_read_processes(const char *path, hami_sim_process_stats *out, int max, char *err,
                            size_t errlen)
{
    int unmap = 0;
    sim_state *st = map_for_reading(path, err, errlen, &unmap);
    if (!st)
        return -1;
    sim_engine_reclaim_dead(st);
    uint64_t now = hami_now_ns();
    int n = 0;
    for (int i = 0; i < HAMI_SIM_MAX_PROCS && n < max; i++) {
        const sim_proc_slot *slot = &st->procs[i];
        if (atomic_load(&slot->state) != SIM_SLOT_LIVE)
            continue;
        uint32_t active = atomic_load(&slot->devices_active);
        for (uint32_t d = 0; d < st->devices && n < max; d++) {
            uint64_t used = atomic_load(&slot->used_bytes[d]);
            uint64_t sched = atomic_load(&slot->scheduled_total_ns[d]);
            if (!used && !sched && !(active & (1u << d)))
                continue;
            out[n].pid = slot->pid;
            out[n].device = d;
            out[n].used_bytes = used;
            out[n].busy_ns = sim_engine_slot_busy_ns(slot, (int)d, now);
            out[n].now_ns = now;
            n++;
        }
    }
    if (unmap)
        munmap(st, sizeof(sim_state));
    return n;
}
