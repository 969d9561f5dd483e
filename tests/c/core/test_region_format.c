/* Region file tests: creation and reopening, refusal of foreign, other-version and truncated
 * files with a message naming the path, 16 processes creating one region at once, and a
 * registry lock whose holder died (robust mutex). */
#include <fcntl.h>
#include <stdint.h>
#include <sys/wait.h>

#include "hami/region.h"
#include "region_layout.h"
#include "test_util.h"

static char path[512];

static void write_file(const char *p, const void *data, size_t len)
{
    int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0 || write(fd, data, len) != (ssize_t)len) {
        perror("write_file");
        exit(2);
    }
    close(fd);
}

static void test_create_and_reopen(void)
{
    hami_region *r = NULL;
    char err[HAMI_ERR_LEN];
    CHECK(hami_region_open(path, 0, &r, err, sizeof(err)) == HAMI_E_NOT_FOUND);
    CHECK(r == NULL && strstr(err, path) != NULL);
    CHECK(hami_region_open(path, 1, &r, err, sizeof(err)) == HAMI_OK && r != NULL);
    CHECK(strcmp(hami_region_path(r), path) == 0);
    hami_limits lim = {.memory_limit_bytes = 1 << 20, .compute_limit_pct = 30};
    int dev = hami_region_device(r, HAMI_VENDOR_CUDA, "GPU-aaaa", 80ull << 30, &lim);
    CHECK(dev == 0);
    CHECK(hami_region_device_count(r) == 1);
    hami_region_close(r);

    hami_region *r2 = NULL;
    CHECK(hami_region_open(path, 0, &r2, err, sizeof(err)) == HAMI_OK);
    CHECK(hami_region_find_device(r2, HAMI_VENDOR_CUDA, "GPU-aaaa") == 0);
    CHECK(hami_region_find_device(r2, HAMI_VENDOR_ASCEND, "GPU-aaaa") == HAMI_E_NOT_FOUND);
    hami_limits got;
    CHECK(hami_region_get_limits(r2, 0, &got) == HAMI_OK);
    CHECK(got.memory_limit_bytes == (1 << 20) && got.compute_limit_pct == 30);
    hami_device_info info[4];
    CHECK(hami_region_devices(r2, info, 4) == 1);
    CHECK(strcmp(info[0].uuid, "GPU-aaaa") == 0 && info[0].card_total_bytes == 80ull << 30);
    hami_region_close(r2);
}

static void expect_format_error(const char *file, const char *needle)
{
    hami_region *r = NULL;
    char err[HAMI_ERR_LEN] = "";
    for (int create = 0; create <= 1; create++) {
        int rc = hami_region_open(file, create, &r, err, sizeof(err));
        if (!t_check(rc == HAMI_E_FORMAT && r == NULL && strstr(err, file) != NULL &&
                         strstr(err, needle) != NULL,
                     "format error", __FILE__, __LINE__))
            fprintf(stderr, "  %s: rc=%d err=%s (wanted \"%s\")\n", file, rc, err, needle);
    }
}

static void test_refusals(void)
{
    char p[600];
    /* Foreign file: random bytes of the right size. */
    size_t size = sizeof(region_layout);
    unsigned char *junk = malloc(size);
    unsigned seed = 12345;
    for (size_t i = 0; i < size; i++)
        junk[i] = (unsigned char)(rand_r(&seed) & 0xff);
    snprintf(p, sizeof(p), "%s/foreign.region", t_dir);
    write_file(p, junk, size);
    expect_format_error(p, "not a hami-core region");

    /* Empty and short files. */
    snprintf(p, sizeof(p), "%s/empty.region", t_dir);
    write_file(p, "", 0);
    expect_format_error(p, "shorter than a region header");
    snprintf(p, sizeof(p), "%s/short.region", t_dir);
    write_file(p, "HAMIRGN", 8);
    expect_format_error(p, "shorter than a region header");

    /* A real region, then mutated copies. */
    region_layout *good = calloc(1, size);
    int fd = open(path, O_RDONLY);
    CHECK(fd >= 0 && read(fd, good, size) == (ssize_t)size);
    close(fd);

    good->header.version = 7;
    snprintf(p, sizeof(p), "%s/v7.region", t_dir);
    write_file(p, good, size);
    expect_format_error(p, "layout version 7, this library reads version 1");
    good->header.version = HAMI_REGION_VERSION;

    snprintf(p, sizeof(p), "%s/truncated.region", t_dir);
    write_file(p, good, size / 2);
    expect_format_error(p, "truncated");

    good->header.max_procs = 16;
    snprintf(p, sizeof(p), "%s/geometry.region", t_dir);
    write_file(p, good, size);
    expect_format_error(p, "geometry differs");
    good->header.max_procs = HAMI_MAX_PROCS;

    /* A foreign file is never overwritten by create. */
    snprintf(p, sizeof(p), "%s/foreign.region", t_dir);
    unsigned char *after = malloc(size);
    fd = open(p, O_RDONLY);
    CHECK(fd >= 0 && read(fd, after, size) == (ssize_t)size);
    close(fd);
    CHECK(memcmp(junk, after, size) == 0);
    free(after);
    free(junk);
    free(good);
}

/* 16 processes open-or-create one fresh path at the same moment; all must end up with the
 * same region (a device registered by each is visible to all, one header). */
static void test_create_race(void)
{
    char p[600];
    snprintf(p, sizeof(p), "%s/race.region", t_dir);
    int go[2];
    CHECK(pipe(go) == 0);
    pid_t kids[16];
    for (int i = 0; i < 16; i++) {
        kids[i] = fork();
        if (kids[i] == 0) {
            close(go[1]);
            char c;
            if (read(go[0], &c, 1) < 0)
                _exit(3);
            hami_region *r = NULL;
            if (hami_region_open(p, 1, &r, NULL, 0) != HAMI_OK)
                _exit(1);
            char uuid[32];
            snprintf(uuid, sizeof(uuid), "GPU-%02d", i);
            hami_limits lim = {0};
            int dev = hami_region_device(r, HAMI_VENDOR_CUDA, uuid, 0, &lim);
            hami_region_close(r);
            _exit(dev >= 0 ? 0 : 2);
        }
    }
    close(go[0]);
    close(go[1]); /* release them all at once */
    int all_ok = 1;
    for (int i = 0; i < 16; i++) {
        int status = 0;
        waitpid(kids[i], &status, 0);
        all_ok &= WIFEXITED(status) && WEXITSTATUS(status) == 0;
    }
    CHECK(all_ok);
    hami_region *r = NULL;
    CHECK(hami_region_open(p, 0, &r, NULL, 0) == HAMI_OK);
    CHECK(hami_region_device_count(r) == 16);
    for (int i = 0; i < 16; i++) {
        char uuid[32];
        snprintf(uuid, sizeof(uuid), "GPU-%02d", i);
        CHECK(hami_region_find_device(r, HAMI_VENDOR_CUDA, uuid) >= 0);
    }
    hami_region_close(r);
    /* No temp files left behind. */
    char cmd[700];
    snprintf(cmd, sizeof(cmd), "ls '%s' | grep -q '\\.tmp\\.'", t_dir);
    CHECK(system(cmd) != 0);
}

/* A process that dies holding the registry lock must not block registration. */
static void test_robust_registry_lock(void)
{
    pid_t kid = fork();
    if (kid == 0) {
        hami_region *r = NULL;
        if (hami_region_open(path, 0, &r, NULL, 0) != HAMI_OK)
            _exit(1);
        _exit(hami_region_test_lock_registry(r) == HAMI_OK ? 0 : 2); /* dies holding it */
    }
    int status = 0;
    waitpid(kid, &status, 0);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    hami_region *r = NULL;
    CHECK(hami_region_open(path, 0, &r, NULL, 0) == HAMI_OK);
    hami_limits lim = {0};
    CHECK(hami_region_device(r, HAMI_VENDOR_CUDA, "GPU-after-death", 0, &lim) >= 0);
    CHECK(hami_region_device(r, HAMI_VENDOR_CUDA, "GPU-after-death-2", 0, &lim) >= 0);
    hami_region_close(r);
}

static void test_bad_arguments(void)
{
    hami_region *r = NULL;
    CHECK(hami_region_open("", 1, &r, NULL, 0) == HAMI_E_INVALID);
    CHECK(hami_region_open(path, 1, NULL, NULL, 0) == HAMI_E_INVALID);
    CHECK(hami_region_open(path, 0, &r, NULL, 0) == HAMI_OK);
    hami_limits lim = {0};
    char long_uuid[HAMI_UUID_LEN + 8];
    memset(long_uuid, 'x', sizeof(long_uuid) - 1);
    long_uuid[sizeof(long_uuid) - 1] = '\0';
    CHECK(hami_region_device(r, HAMI_VENDOR_CUDA, long_uuid, 0, &lim) == HAMI_E_INVALID);
    CHECK(hami_region_device(r, HAMI_VENDOR_CUDA, "", 0, &lim) == HAMI_E_INVALID);
    CHECK(hami_charge_memory(r, 31, 0, 1, NULL, NULL) == HAMI_E_INVALID);
    CHECK(hami_charge_memory(r, -1, 0, 1, NULL, NULL) == HAMI_E_INVALID);
    CHECK(hami_take_tokens(r, 99, 1000, 0) == 0);
    hami_release_memory(r, 99, 0, 1);
    hami_region_close(r);
    char buf[8];
    setenv("HAMI_REGION", "/x/y.region", 1);
    CHECK(hami_region_default_path(buf, sizeof(buf)) == NULL);
    char big[256];
    CHECK(strcmp(hami_region_default_path(big, sizeof(big)), "/x/y.region") == 0);
    setenv("CUDA_DEVICE_MEMORY_SHARED_CACHE", "/hami/cache", 1);
    CHECK(strcmp(hami_region_default_path(big, sizeof(big)), "/x/y.region") == 0);
    unsetenv("HAMI_REGION");
    CHECK(strcmp(hami_region_default_path(big, sizeof(big)), "/hami/cache") == 0);
    unsetenv("CUDA_DEVICE_MEMORY_SHARED_CACHE");
    CHECK(strstr(hami_region_default_path(big, sizeof(big)), "/hami-") != NULL);
}

int main(void)
{
    t_make_dir();
    snprintf(path, sizeof(path), "%s/main.region", t_dir);
    test_create_and_reopen();
    test_refusals();
    test_create_race();
    test_robust_registry_lock();
    test_bad_arguments();
    t_cleanup_dir();
    return t_summary("test_region_format");
}
