/*
 * Configuration grammar and environment precedence (csrc/core/config.c owns it): the size and
 * percent parsers shared by C and Python, and hami_limits_from_env.
 *
 * Size grammar (exactly, nothing else is accepted):
 *   <digits>[<suffix>]          digits: one or more of 0-9, no sign, no spaces, no fraction
 *   suffix  ""  or "B"          bytes
 *           k K m M g G t T     1024-based (HAMi writes "1024m", "3000M")
 *           Ki Mi Gi Ti, KiB .. 1024-based (the unit letter in either case, then "i" or "iB")
 *           kB KB MB GB TB      1000-based (SI; "KB" accepted as the common spelling of kB)
 *   Rejected: "", " 1g", "1 g", "-1g", "+1g", "1.5g" (integers only: HAMi never writes a
 *   fraction, and a rounding rule would be one more thing to get wrong), "1mb"/"1gb" (lower-case
 *   b is ambiguous: bits or bytes), anything that overflows 64 bits ("99999999999999t").
 * Percent grammar: <digits>[%], value 0..100 (0 = no cap).
 *
 * Fail-closed rule: a set variable whose value does not parse makes the matching limit
 * invalid (memory_invalid / compute_invalid), never 0 = unlimited.  A set-but-empty variable
 * counts as unset (shells and YAML produce them).  A bad policy value keeps the default
 * "force" (the caps hold) and is reported the same way.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core_util.h"
#include "hami/region.h"

#define MiB (1024ull * 1024ull)

/* Append "; <msg>" (or <msg> when err is empty) to a one-line error buffer. */
static void append_err(char *err, size_t errlen, const char *msg)
{
    if (err == NULL || errlen == 0)
        return;
    size_t used = strnlen(err, errlen);
    if (used >= errlen - 1)
        return;
    snprintf(err + used, errlen - used, "%s%s", used ? "; " : "", msg);
}

/* Parse a run of decimal digits into *out.  Returns the number of digits consumed, 0 when
 * there are none, -1 on overflow. */
static int parse_digits(const char *s, uint64_t *out)
{
    uint64_t v = 0;
    int n = 0;
    for (; s[n] >= '0' && s[n] <= '9'; n++) {
        uint64_t digit = (uint64_t)(s[n] - '0');
        if (v > (UINT64_MAX - digit) / 10)
            return -1;
        v = v * 10 + digit;
    }
    *out = v;
    return n;
}

/* Multiplier for a size suffix, 0 when the suffix is not in the grammar. */
static uint64_t size_multiplier(const char *suffix)
{
    if (suffix[0] == '\0' || strcmp(suffix, "B") == 0)
        return 1;
    int exponent;
    switch (suffix[0]) {
    case 'k': case 'K': exponent = 1; break;
    case 'm': case 'M': exponent = 2; break;
    case 'g': case 'G': exponent = 3; break;
    case 't': case 'T': exponent = 4; break;
    default: return 0;
    }
    const char *rest = suffix + 1;
    uint64_t base;
    if (rest[0] == '\0' || strcmp(rest, "i") == 0 || strcmp(rest, "iB") == 0)
        base = 1024;
    else if (strcmp(rest, "B") == 0 && (suffix[0] == 'k' || (suffix[0] >= 'A' && suffix[0] <= 'Z')))
        base = 1000; /* kB KB MB GB TB; "mB" "gB" "tB" are not units */
    else
        return 0;
    uint64_t m = 1;
    for (int i = 0; i < exponent; i++)
        m *= base;
    return m;
}

int hami_parse_size(const char *text, uint64_t *bytes_out, char *err, size_t errlen)
{
    static const char expected[] =
        "expected whole bytes with optional unit k/m/g/t, Ki..Ti (1024) or kB..TB (1000), e.g. 4g";
    if (text == NULL || text[0] == '\0') {
        set_err(err, errlen, "empty size: %s", expected);
        return HAMI_E_INVALID;
    }
    uint64_t number = 0;
    int n = parse_digits(text, &number);
    if (n < 0) {
        set_err(err, errlen, "size \"%s\" is too large (over 2^64 bytes)", text);
        return HAMI_E_INVALID;
    }
    if (n == 0) {
        set_err(err, errlen, "\"%s\" is not a size: %s", text, expected);
        return HAMI_E_INVALID;
    }
    uint64_t multiplier = size_multiplier(text + n);
    if (multiplier == 0) {
        set_err(err, errlen, "\"%s\" has unknown unit \"%s\": %s", text, text + n, expected);
        return HAMI_E_INVALID;
    }
    if (number != 0 && multiplier > UINT64_MAX / number) {
        set_err(err, errlen, "size \"%s\" is too large (over 2^64 bytes)", text);
        return HAMI_E_INVALID;
    }
    if (bytes_out != NULL)
        *bytes_out = number * multiplier;
    return HAMI_OK;
}

int hami_parse_percent(const char *text, uint32_t *pct_out, char *err, size_t errlen)
{
    static const char expected[] = "expected a whole percent 0-100 (0 = no cap), e.g. 30";
    if (text == NULL || text[0] == '\0') {
        set_err(err, errlen, "empty percentage: %s", expected);
        return HAMI_E_INVALID;
    }
    uint64_t value = 0;
    int n = parse_digits(text, &value);
    const char *rest = n > 0 ? text + n : text;
    if (n <= 0 || !(rest[0] == '\0' || (rest[0] == '%' && rest[1] == '\0'))) {
        set_err(err, errlen, "\"%s\" is not a percent: %s", text, expected);
        return HAMI_E_INVALID;
    }
    if (value > 100) {
        set_err(err, errlen, "\"%s\" is above 100: %s", text, expected);
        return HAMI_E_INVALID;
    }
    if (pct_out != NULL)
        *pct_out = (uint32_t)value;
    return HAMI_OK;
}

/* NPU_MEM_QUOTA: a bare count of MiB, as HAMi's Ascend device plugin writes it. */
static int parse_mib(const char *text, uint64_t *bytes_out, char *err, size_t errlen)
{
    uint64_t mib = 0;
    int n = parse_digits(text, &mib);
    if (n <= 0 || text[n] != '\0') {
        set_err(err, errlen, "\"%s\" is not a whole number of MiB (expected e.g. 4096)", text);
        return HAMI_E_INVALID;
    }
    if (mib > UINT64_MAX / MiB) {
        set_err(err, errlen, "\"%s\" MiB is too large (more than 2^64 bytes)", text);
        return HAMI_E_INVALID;
    }
    *bytes_out = mib * MiB;
    return HAMI_OK;
}

typedef struct env_lookup {
    hami_getenv_fn getenv_fn;
} env_lookup;

/* Value of `name`, NULL when unset or empty. */
static const char *env_value(const env_lookup *env, const char *name)
{
    const char *v = env->getenv_fn(name);
    return v != NULL && v[0] != '\0' ? v : NULL;
}

/* First set variable of `names` (NULL entries skipped, `count` entries): its name and value. */
static const char *first_set(const env_lookup *env, const char *const *names, int count,
                             const char **name_out)
{
    for (int i = 0; i < count; i++) {
        if (names[i] == NULL)
            continue;
        const char *v = env_value(env, names[i]);
        if (v != NULL) {
            *name_out = names[i];
            return v;
        }
    }
    return NULL;
}

static const char *getenv_default(const char *name) { return getenv(name); }

int hami_limits_from_env(int vendor, int ordinal, hami_limits *out, hami_getenv_fn getenv_fn,
                         char *err, size_t errlen)
{
    if (out == NULL || ordinal < 0)
        return HAMI_E_INVALID;
    memset(out, 0, sizeof(*out));
    if (err != NULL && errlen > 0)
        err[0] = '\0';
    env_lookup env = {getenv_fn != NULL ? getenv_fn : getenv_default};
    int rc = HAMI_OK;
    char line[2 * HAMI_ERR_LEN + 128]; /* name + value + reason; err truncates */

    char cuda_mem_i[64], cuda_sm_i[64], hami_mem_i[64], hami_cpt_i[64];
    snprintf(cuda_mem_i, sizeof(cuda_mem_i), "CUDA_DEVICE_MEMORY_LIMIT_%d", ordinal);
    snprintf(cuda_sm_i, sizeof(cuda_sm_i), "CUDA_DEVICE_SM_LIMIT_%d", ordinal);
    snprintf(hami_mem_i, sizeof(hami_mem_i), "HAMI_MEMORY_LIMIT_%d", ordinal);
    snprintf(hami_cpt_i, sizeof(hami_cpt_i), "HAMI_COMPUTE_LIMIT_%d", ordinal);
    int cuda = vendor == HAMI_VENDOR_CUDA, ascend = vendor == HAMI_VENDOR_ASCEND;

    /* Memory: vendor per-device, generic per-device, vendor global, generic global. */
    const char *mem_names[4] = {cuda ? cuda_mem_i : NULL, hami_mem_i,
                                cuda ? "CUDA_DEVICE_MEMORY_LIMIT"
                                     : (ascend ? "NPU_MEM_QUOTA" : NULL),
                                "HAMI_MEMORY_LIMIT"};
    const char *name = NULL;
    const char *value = first_set(&env, mem_names, 4, &name);
    if (value != NULL) {
        char why[HAMI_ERR_LEN];
        int prc = strcmp(name, "NPU_MEM_QUOTA") == 0
                      ? parse_mib(value, &out->memory_limit_bytes, why, sizeof(why))
                      : hami_parse_size(value, &out->memory_limit_bytes, why, sizeof(why));
        if (prc != HAMI_OK) {
            out->memory_limit_bytes = 0;
            out->memory_invalid = 1;
            snprintf(line, sizeof(line), "%s=%s: %s; allocations refused",
                     name, value, why);
            append_err(err, errlen, line);
            rc = HAMI_E_INVALID;
        }
    }

    /* Compute. */
    const char *cpt_names[4] = {cuda ? cuda_sm_i : NULL, hami_cpt_i,
                                cuda ? "CUDA_DEVICE_SM_LIMIT" : (ascend ? "NPU_PRIORITY" : NULL),
                                "HAMI_COMPUTE_LIMIT"};
    value = first_set(&env, cpt_names, 4, &name);
    if (value != NULL) {
        char why[HAMI_ERR_LEN];
        if (hami_parse_percent(value, &out->compute_limit_pct, why, sizeof(why)) != HAMI_OK) {
            out->compute_limit_pct = 0;
            out->compute_invalid = 1;
            snprintf(line, sizeof(line), "%s=%s: %s; launches refused", name,
                     value, why);
            append_err(err, errlen, line);
            rc = HAMI_E_INVALID;
        }
    }

    /* Policy: force (default; HAMi also writes "default") or disable, case-insensitive. */
    const char *policy_names[2] = {cuda ? "GPU_CORE_UTILIZATION_POLICY" : NULL, "HAMI_POLICY"};
    value = first_set(&env, policy_names, 2, &name);
    if (value != NULL) {
        if (strcasecmp(value, "disable") == 0) {
            out->policy_disable = 1;
        } else if (strcasecmp(value, "force") != 0 && strcasecmp(value, "default") != 0) {
            snprintf(line, sizeof(line),
                     "%s=%s: expected force or disable; keeping force (caps hold)", name, value);
            append_err(err, errlen, line);
            rc = HAMI_E_INVALID;
        }
    }
    return rc;
}
