/* Tests of the configuration grammar (hami_parse_size, hami_parse_percent) and of the
 * environment precedence and fail-closed flags of hami_limits_from_env, with a fake getenv. */
#include <stdint.h>

#include "hami/region.h"
#include "test_util.h"

#define KiB 1024ull
#define MiB (1024ull * KiB)
#define GiB (1024ull * MiB)
#define TiB (1024ull * GiB)

struct size_case {
    const char *text;
    int ok;
    uint64_t bytes;
};

static const struct size_case size_cases[] = {
    {"0", 1, 0},
    {"1", 1, 1},
    {"4096", 1, 4096},
    {"1B", 1, 1},
    {"1k", 1, KiB}, {"1K", 1, KiB}, {"1024m", 1, 1024 * MiB}, {"3000M", 1, 3000 * MiB},
    {"4g", 1, 4 * GiB}, {"4G", 1, 4 * GiB}, {"2t", 1, 2 * TiB}, {"2T", 1, 2 * TiB},
    {"1Ki", 1, KiB}, {"512Mi", 1, 512 * MiB}, {"8Gi", 1, 8 * GiB}, {"1Ti", 1, TiB},
    {"1KiB", 1, KiB}, {"512MiB", 1, 512 * MiB}, {"8GiB", 1, 8 * GiB}, {"1TiB", 1, TiB},
    {"1mi", 1, MiB},
    {"1kB", 1, 1000}, {"1KB", 1, 1000}, {"1MB", 1, 1000000}, {"1GB", 1, 1000000000ull},
    {"1TB", 1, 1000000000000ull},
    {"18446744073709551615", 1, UINT64_MAX},
    {"16777215t", 1, 16777215ull * TiB},
    /* rejected */
    {"", 0, 0}, {"abc", 0, 0}, {"-1g", 0, 0}, {"+1g", 0, 0}, {"99999999999999t", 0, 0},
    {"18446744073709551616", 0, 0}, {"16777216t", 0, 0}, {"1.5g", 0, 0}, {" 1g", 0, 0},
    {"1g ", 0, 0}, {"1 g", 0, 0}, {"g", 0, 0}, {"1gb", 0, 0}, {"1mb", 0, 0}, {"1mB", 0, 0},
    {"1x", 0, 0}, {"1KIB", 0, 0}, {"1gg", 0, 0}, {"0x10", 0, 0}, {"1e9", 0, 0},
};

struct pct_case {
    const char *text;
    int ok;
    uint32_t pct;
};

static const struct pct_case pct_cases[] = {
    {"0", 1, 0}, {"1", 1, 1}, {"30", 1, 30}, {"100", 1, 100}, {"30%", 1, 30}, {"007", 1, 7},
    {"", 0, 0}, {"150", 0, 0}, {"101", 0, 0}, {"-1", 0, 0}, {"abc", 0, 0}, {"30.5", 0, 0},
    {" 30", 0, 0}, {"30 ", 0, 0}, {"%", 0, 0}, {"30%%", 0, 0}, {"99999999999999999999999", 0, 0},
};

static void test_size_grammar(void)
{
    for (size_t i = 0; i < sizeof(size_cases) / sizeof(size_cases[0]); i++) {
        const struct size_case *c = &size_cases[i];
        uint64_t bytes = 12345;
        char err[HAMI_ERR_LEN] = "";
        int rc = hami_parse_size(c->text, &bytes, err, sizeof(err));
        int good = c->ok ? (rc == HAMI_OK && bytes == c->bytes) : (rc == HAMI_E_INVALID && err[0]);
        if (!t_check(good, "size case", __FILE__, __LINE__))
            fprintf(stderr, "  \"%s\": rc=%d bytes=%llu err=%s\n", c->text, rc,
                    (unsigned long long)bytes, err);
    }
    CHECK(hami_parse_size(NULL, NULL, NULL, 0) == HAMI_E_INVALID);
    char err[HAMI_ERR_LEN];
    hami_parse_size("abc", NULL, err, sizeof(err));
    CHECK(strstr(err, "abc") != NULL);
}

static void test_percent_grammar(void)
{
    for (size_t i = 0; i < sizeof(pct_cases) / sizeof(pct_cases[0]); i++) {
        const struct pct_case *c = &pct_cases[i];
        uint32_t pct = 777;
        char err[HAMI_ERR_LEN] = "";
        int rc = hami_parse_percent(c->text, &pct, err, sizeof(err));
        int good = c->ok ? (rc == HAMI_OK && pct == c->pct) : (rc == HAMI_E_INVALID && err[0]);
        if (!t_check(good, "percent case", __FILE__, __LINE__))
            fprintf(stderr, "  \"%s\": rc=%d pct=%u err=%s\n", c->text, rc, pct, err);
    }
}

/* Fake environment: a NULL-terminated list of "NAME=value". */
static const char *const *fake_env;
static const char *fake_getenv(const char *name)
{
    size_t n = strlen(name);
    for (const char *const *e = fake_env; e && *e; e++)
        if (strncmp(*e, name, n) == 0 && (*e)[n] == '=')
            return *e + n + 1;
    return NULL;
}

static int limits_for(const char *const *env, int vendor, int ordinal, hami_limits *out,
                      char *err, size_t errlen)
{
    fake_env = env;
    return hami_limits_from_env(vendor, ordinal, out, fake_getenv, err, errlen);
}

static void test_env_precedence(void)
{
    hami_limits l;
    char err[HAMI_ERR_LEN];

    const char *const none[] = {NULL};
    CHECK(limits_for(none, HAMI_VENDOR_CUDA, 0, &l, err, sizeof(err)) == HAMI_OK);
    CHECK(l.memory_limit_bytes == 0 && l.compute_limit_pct == 0 && !l.memory_invalid &&
          !l.compute_invalid && !l.policy_disable && err[0] == '\0');

    const char *const all[] = {"CUDA_DEVICE_MEMORY_LIMIT_1=1g", "HAMI_MEMORY_LIMIT_1=2g",
                               "CUDA_DEVICE_MEMORY_LIMIT=3g",   "HAMI_MEMORY_LIMIT=4g",
                               "CUDA_DEVICE_SM_LIMIT_1=10",     "HAMI_COMPUTE_LIMIT_1=20",
                               "CUDA_DEVICE_SM_LIMIT=30",       "HAMI_COMPUTE_LIMIT=40",
                               NULL};
    CHECK(limits_for(all, HAMI_VENDOR_CUDA, 1, &l, err, sizeof(err)) == HAMI_OK);
    CHECK(l.memory_limit_bytes == 1 * GiB && l.compute_limit_pct == 10);
    /* Device 0 has no per-device values: vendor global beats generic global. */
    CHECK(limits_for(all, HAMI_VENDOR_CUDA, 0, &l, err, sizeof(err)) == HAMI_OK);
    CHECK(l.memory_limit_bytes == 3 * GiB && l.compute_limit_pct == 30);
    /* Ascend ignores CUDA names: generic per-device for device 1, generic global for 0. */
    CHECK(limits_for(all, HAMI_VENDOR_ASCEND, 1, &l, err, sizeof(err)) == HAMI_OK);
    CHECK(l.memory_limit_bytes == 2 * GiB && l.compute_limit_pct == 20);
    CHECK(limits_for(all, HAMI_VENDOR_ASCEND, 0, &l, err, sizeof(err)) == HAMI_OK);
    CHECK(l.memory_limit_bytes == 4 * GiB && l.compute_limit_pct == 40);

    /* Generic per-device beats vendor global. */
    const char *const mixed[] = {"HAMI_MEMORY_LIMIT_0=2g", "CUDA_DEVICE_MEMORY_LIMIT=3g", NULL};
    CHECK(limits_for(mixed, HAMI_VENDOR_CUDA, 0, &l, err, sizeof(err)) == HAMI_OK);
    CHECK(l.memory_limit_bytes == 2 * GiB);

    /* Ascend aliases: NPU_MEM_QUOTA in MiB, NPU_PRIORITY percent; generic global loses. */
    const char *const npu[] = {"NPU_MEM_QUOTA=4096", "NPU_PRIORITY=25", "HAMI_MEMORY_LIMIT=1g",
                               "HAMI_COMPUTE_LIMIT=90", NULL};
    CHECK(limits_for(npu, HAMI_VENDOR_ASCEND, 0, &l, err, sizeof(err)) == HAMI_OK);
    CHECK(l.memory_limit_bytes == 4096 * MiB && l.compute_limit_pct == 25);
    /* CUDA ignores NPU names. */
    CHECK(limits_for(npu, HAMI_VENDOR_CUDA, 0, &l, err, sizeof(err)) == HAMI_OK);
    CHECK(l.memory_limit_bytes == 1 * GiB && l.compute_limit_pct == 90);

    /* Set-but-empty counts as unset. */
    const char *const empty[] = {"CUDA_DEVICE_MEMORY_LIMIT_0=", "HAMI_MEMORY_LIMIT=5g",
                                 "HAMI_COMPUTE_LIMIT=", NULL};
    CHECK(limits_for(empty, HAMI_VENDOR_CUDA, 0, &l, err, sizeof(err)) == HAMI_OK);
    CHECK(l.memory_limit_bytes == 5 * GiB && l.compute_limit_pct == 0 && !l.compute_invalid);

    /* Policy: vendor alias beats ours; force/default/disable case-insensitive. */
    const char *const pol1[] = {"GPU_CORE_UTILIZATION_POLICY=DISABLE", "HAMI_POLICY=force", NULL};
    CHECK(limits_for(pol1, HAMI_VENDOR_CUDA, 0, &l, err, sizeof(err)) == HAMI_OK);
    CHECK(l.policy_disable == 1);
    CHECK(limits_for(pol1, HAMI_VENDOR_ASCEND, 0, &l, err, sizeof(err)) == HAMI_OK);
    CHECK(l.policy_disable == 0);
    const char *const pol2[] = {"HAMI_POLICY=Default", NULL};
    CHECK(limits_for(pol2, HAMI_VENDOR_CUDA, 0, &l, err, sizeof(err)) == HAMI_OK);
    CHECK(l.policy_disable == 0);
    const char *const pol3[] = {"HAMI_POLICY=off", NULL};
    CHECK(limits_for(pol3, HAMI_VENDOR_CUDA, 0, &l, err, sizeof(err)) == HAMI_E_INVALID);
    CHECK(l.policy_disable == 0 && strstr(err, "HAMI_POLICY=off") != NULL);
}

static void test_fail_closed(void)
{
    hami_limits l;
    char err[HAMI_ERR_LEN];

    const char *const bad_mem[] = {"CUDA_DEVICE_MEMORY_LIMIT=abc", "HAMI_MEMORY_LIMIT=4g", NULL};
    CHECK(limits_for(bad_mem, HAMI_VENDOR_CUDA, 0, &l, err, sizeof(err)) == HAMI_E_INVALID);
    CHECK(l.memory_invalid == 1 && l.memory_limit_bytes == 0 && l.compute_invalid == 0);
    CHECK(strstr(err, "CUDA_DEVICE_MEMORY_LIMIT=abc") != NULL);
    CHECK(strchr(err, '\n') == NULL);

    const char *const overflow[] = {"HAMI_MEMORY_LIMIT=99999999999999t", NULL};
    CHECK(limits_for(overflow, HAMI_VENDOR_CUDA, 0, &l, err, sizeof(err)) == HAMI_E_INVALID);
    CHECK(l.memory_invalid == 1);

    const char *const neg[] = {"HAMI_MEMORY_LIMIT_0=-1g", NULL};
    CHECK(limits_for(neg, HAMI_VENDOR_CUDA, 0, &l, err, sizeof(err)) == HAMI_E_INVALID);
    CHECK(l.memory_invalid == 1 && strstr(err, "HAMI_MEMORY_LIMIT_0=-1g") != NULL);
    /* ... but only for the device it names. */
    CHECK(limits_for(neg, HAMI_VENDOR_CUDA, 1, &l, err, sizeof(err)) == HAMI_OK);
    CHECK(l.memory_invalid == 0);

    const char *const pct[] = {"CUDA_DEVICE_SM_LIMIT=150", NULL};
    CHECK(limits_for(pct, HAMI_VENDOR_CUDA, 0, &l, err, sizeof(err)) == HAMI_E_INVALID);
    CHECK(l.compute_invalid == 1 && l.compute_limit_pct == 0 && l.memory_invalid == 0);
    CHECK(strstr(err, "CUDA_DEVICE_SM_LIMIT=150") != NULL);

    const char *const quota[] = {"NPU_MEM_QUOTA=4g", NULL};
    CHECK(limits_for(quota, HAMI_VENDOR_ASCEND, 0, &l, err, sizeof(err)) == HAMI_E_INVALID);
    CHECK(l.memory_invalid == 1 && strstr(err, "NPU_MEM_QUOTA=4g") != NULL);

    /* Two bad values: both flags, both named on one line. */
    const char *const both[] = {"HAMI_MEMORY_LIMIT=1.5g", "HAMI_COMPUTE_LIMIT=abc", NULL};
    CHECK(limits_for(both, HAMI_VENDOR_NONE, 0, &l, err, sizeof(err)) == HAMI_E_INVALID);
    CHECK(l.memory_invalid == 1 && l.compute_invalid == 1);
    CHECK(strstr(err, "HAMI_MEMORY_LIMIT=1.5g") && strstr(err, "HAMI_COMPUTE_LIMIT=abc"));
    CHECK(strchr(err, '\n') == NULL);

    /* A tiny error buffer is never overrun. */
    char small[8];
    CHECK(limits_for(both, HAMI_VENDOR_NONE, 0, &l, small, sizeof(small)) == HAMI_E_INVALID);
    CHECK(strlen(small) < sizeof(small));
    CHECK(limits_for(both, HAMI_VENDOR_NONE, 0, &l, NULL, 0) == HAMI_E_INVALID);
}

int main(void)
{
    test_size_grammar();
    test_percent_grammar();
    test_env_precedence();
    test_fail_closed();
    return t_summary("test_config");
}
