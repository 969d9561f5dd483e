/*
 * Owns symbol resolution for the interception library:
 *   - the symbol table (hook_symbols.h): exported name, our wrapper, the driver's real pointer;
 *   - lazy, once-per-library resolution of the real pointers (dlopen of libcuda.so.1 /
 *     libnvidia-ml.so.1 / libascendcl.so / libruntime.so, then the real dlsym per name),
 *     triggered by the first hooked call or by the first dlsym of a hooked name; never from a
 *     constructor, so a shell that merely has the library preloaded never loads the driver;
 *   - the exported `dlsym` override (dlsym(handle, name) on any handle: if the answer is the
 *     driver's pointer of a hooked symbol, our wrapper is returned instead);
 *   - the cuGetProcAddress / cuGetProcAddress_v2 wrappers (same rule, on the driver's answer,
 *     so the requested version is honoured: we only ever swap a pointer for the wrapper of that
 *     exact variant).
 *
 * RTLD_NEXT / RTLD_DEFAULT: glibc's dlsym resolves these pseudo-handles relative to its
 * caller's object (the return address).  If our override called the real dlsym, the caller
 * would be libhami.so and RTLD_NEXT lookups of every other library (profilers, ASan, malloc
 * interposers) would silently change meaning.  So the exported `dlsym` is a small assembly
 * entry (x86-64) that JUMPS to the real dlsym for pseudo-handles, leaving the caller's return
 * address in place: the real dlsym sees the true caller, exactly as without us.  Only real
 * handles go through C (hami_dlsym_with_handle).  Results for pseudo-handles are not
 * substituted: with the library preloaded, RTLD_DEFAULT already finds our exported wrapper
 * first.  On other architectures a C fallback tail-calls the real dlsym (gcc emits a sibling
 * call at -O2; at -O0 RTLD_NEXT would resolve relative to libhami.so).
 */
#include <dlfcn.h>
#include <stdatomic.h>
#include <stddef.h>
#include <string.h>

#include "hami/log.h"
#include "resolve.h"

typedef void *(*dlsym_fn)(void *, const char *);

/* ------------------------------------------------------------------ the symbol table -- */

typedef struct hami_symbol {
    const char *name;
    void *wrapper; /* NULL for helpers */
} hami_symbol;

#define HAMI_TABLE_HOOK_(n) [HAMI_SYM_##n] = {#n, (void *)&n},
#define HAMI_TABLE_HELPER_(n) [HAMI_SYM_##n] = {#n, NULL},
static const hami_symbol symbol_table[HAMI_SYM_COUNT] = {
    HAMI_CUDA_SYMBOLS(HAMI_TABLE_HOOK_, HAMI_TABLE_HELPER_)
    HAMI_NVML_SYMBOLS(HAMI_TABLE_HOOK_, HAMI_TABLE_HELPER_)
    HAMI_ACL_SYMBOLS(HAMI_TABLE_HOOK_, HAMI_TABLE_HELPER_)
    HAMI_RT_SYMBOLS(HAMI_TABLE_HOOK_, HAMI_TABLE_HELPER_)
};
#undef HAMI_TABLE_HOOK_
#undef HAMI_TABLE_HELPER_

void *_Atomic hami_real_fns[HAMI_SYM_COUNT];
_Atomic int hami_lib_resolved[HAMI_LIB_COUNT];

static const char *const library_sonames[HAMI_LIB_COUNT] = {"libcuda.so.1", "libnvidia-ml.so.1",
                                                             "libascendcl.so", "libruntime.so"};

/* Set while this thread runs a resolution: a dlsym re-entered from a library constructor during
 * our dlopen passes through instead of waiting on ourselves. */
static __thread int resolving_library __attribute__((tls_model("initial-exec")));

/* ------------------------------------------------------------------ the real dlsym -- */

/* Read by the assembly entry below; hidden (-fvisibility=hidden). */
void *_Atomic hami_real_dlsym_fn;

/* Find glibc's dlsym (libc.so.6 since 2.34, libdl.so.2 before).  dlvsym is not overridden,
 * and RTLD_NEXT relative to libhami.so is exactly what we want here. */
void *hami_real_dlsym_resolve(void)
{
    void *fn = atomic_load_explicit(&hami_real_dlsym_fn, memory_order_acquire);
    if (fn)
        return fn;
    fn = dlvsym(RTLD_NEXT, "dlsym", "GLIBC_2.34");
    if (!fn)
        fn = dlvsym(RTLD_NEXT, "dlsym", "GLIBC_2.2.5");
    if (!fn)
        fn = dlvsym(RTLD_NEXT, "dlsym", "GLIBC_2.17"); /* aarch64's base version */
    if (fn)
        atomic_store_explicit(&hami_real_dlsym_fn, fn, memory_order_release);
    return fn;
}

static inline dlsym_fn real_dlsym(void)
{
    void *fn = atomic_load_explicit(&hami_real_dlsym_fn, memory_order_acquire);
    return (dlsym_fn)(fn ? fn : hami_real_dlsym_resolve());
}

/* ------------------------------------------------------------------ resolution -- */

int hami_resolve_library(int lib)
{
    if (atomic_load_explicit(&hami_lib_resolved[lib], memory_order_acquire))
        return 1;
    if (resolving_library)
        return 0;
    resolving_library = 1;
    /* No lock is held across dlopen: a lock here would deadlock against the loader lock when
     * another thread's library constructor calls dlsym.  Racing threads store identical
     * values, and dlopen is reference-counted. */
    void *handle = dlopen(library_sonames[lib], RTLD_LAZY | RTLD_LOCAL);
    const char *why = handle ? NULL : dlerror(); /* also clears the caller-visible dlerror */
    dlsym_fn lookup = real_dlsym();
    for (int i = 0; i < HAMI_SYM_COUNT; i++) {
        if (!symbol_table[i].name || hami_symbol_library(i) != lib)
            continue;
        void *fn = handle && lookup ? lookup(handle, symbol_table[i].name) : NULL;
        atomic_store_explicit(&hami_real_fns[i], fn, memory_order_relaxed);
    }
    if (handle)
        (void)dlerror(); /* a missing optional symbol must not leak into the caller's dlerror */
    int was_resolved = atomic_exchange_explicit(&hami_lib_resolved[lib], 1, memory_order_acq_rel);
    resolving_library = 0;
    if (!handle && !was_resolved)
        hami_log(HAMI_LOG_WARN, "cannot load %s (%s): its calls will fail", library_sonames[lib],
                 why ? why : "unknown error");
    return 1;
}

/* Index of the hooked symbol called `name`, or -1.  Cheap rejection first: dlsym is called for
 * every Python extension and plugin symbol, and must never load the driver for those. */
static int hooked_index_by_name(const char *name)
{
    int begin, end;
    if (name[0] == 'c' && name[1] == 'u') {
        begin = 0;
        end = HAMI_SYM_CUDA_END;
    } else if (strncmp(name, "nvml", 4) == 0) {
        begin = HAMI_SYM_CUDA_END + 1;
        end = HAMI_SYM_NVML_END;
    } else if (strncmp(name, "acl", 3) == 0) {
        begin = HAMI_SYM_NVML_END + 1;
        end = HAMI_SYM_ACL_END;
    } else if (name[0] == 'r' && name[1] == 't') {
        begin = HAMI_SYM_ACL_END + 1;
        end = HAMI_SYM_COUNT;
    } else {
        return -1;
    }
    for (int i = begin; i < end; i++) {
        if (symbol_table[i].wrapper && strcmp(symbol_table[i].name, name) == 0)
            return i;
    }
    return -1;
}

void *hami_cuda_wrapper_for(void *fn)
{
    if (!fn || !hami_resolve_library(HAMI_LIB_CUDA))
        return fn;
    for (int i = 0; i < HAMI_SYM_CUDA_END; i++) {
        if (symbol_table[i].wrapper &&
            atomic_load_explicit(&hami_real_fns[i], memory_order_relaxed) == fn)
            return symbol_table[i].wrapper;
    }
    return fn;
}

/* ------------------------------------------------------------------ dlsym override -- */

/* dlsym on a real handle (called from the assembly entry, never for RTLD_NEXT/RTLD_DEFAULT). */
void *hami_dlsym_with_handle(void *handle, const char *name)
{
    dlsym_fn real = real_dlsym();
    if (!real)
        return NULL;
    void *fn = real(handle, name);
    if (!fn || !name)
        return fn;
    int index = hooked_index_by_name(name);
    if (index < 0 || !hami_resolve_library(hami_symbol_library(index)))
        return fn;
    if (fn == atomic_load_explicit(&hami_real_fns[index], memory_order_relaxed))
        return symbol_table[index].wrapper;
    return fn;
}

#if defined(__x86_64__)
#if defined(__CET__)
#define HAMI_ENDBR "endbr64\n"
#else
#define HAMI_ENDBR ""
#endif
/* dlsym(handle, name): rdi = handle, rsi = name.
 *   handle == RTLD_DEFAULT (0) or RTLD_NEXT (-1): tail-jump to the real dlsym (resolving it
 *   first if needed, with rdi/rsi saved), so it sees our caller's return address.
 *   otherwise: tail-jump to hami_dlsym_with_handle. */
__asm__(".text\n"
        ".globl dlsym\n"
        ".type dlsym, @function\n"
        ".p2align 4\n"
        "dlsym:\n"
        ".cfi_startproc\n" HAMI_ENDBR
        "    test %rdi, %rdi\n"
        "    je 1f\n"
        "    cmp $-1, %rdi\n"
        "    je 1f\n"
        "    jmp hami_dlsym_with_handle\n"
        "1:  mov hami_real_dlsym_fn(%rip), %rax\n"
        "    test %rax, %rax\n"
        "    je 2f\n"
        "    jmp *%rax\n"
        "2:  push %rdi\n"
        ".cfi_adjust_cfa_offset 8\n"
        "    push %rsi\n"
        ".cfi_adjust_cfa_offset 8\n"
        "    sub $8, %rsp\n" /* 16-byte alignment at the call */
        ".cfi_adjust_cfa_offset 8\n"
        "    call hami_real_dlsym_resolve\n"
        "    add $8, %rsp\n"
        ".cfi_adjust_cfa_offset -8\n"
        "    pop %rsi\n"
        ".cfi_adjust_cfa_offset -8\n"
        "    pop %rdi\n"
        ".cfi_adjust_cfa_offset -8\n"
        "    test %rax, %rax\n"
        "    je 3f\n"
        "    jmp *%rax\n"
        "3:  xor %eax, %eax\n"
        "    ret\n"
        ".cfi_endproc\n"
        ".size dlsym, .-dlsym\n");
#else
HAMI_EXPORT void *dlsym(void *handle, const char *name)
{
    if (handle == RTLD_DEFAULT || handle == RTLD_NEXT) {
        dlsym_fn real = real_dlsym();
        return real ? real(handle, name) : NULL; /* a sibling call at -O2: caller preserved */
    }
    return hami_dlsym_with_handle(handle, name);
}
#endif

/* ------------------------------------------------------------------ cuGetProcAddress -- */

CUresult cuGetProcAddress(const char *symbol, void **pfn, int cudaVersion, cuuint64_t flags)
{
    cuGetProcAddress_fn real = HAMI_REAL(cuGetProcAddress);
    if (!real)
        return CUDA_ERROR_NOT_FOUND;
    CUresult rc = real(symbol, pfn, cudaVersion, flags);
    if (rc == CUDA_SUCCESS && pfn)
        *pfn = hami_cuda_wrapper_for(*pfn);
    return rc;
}

CUresult cuGetProcAddress_v2(const char *symbol, void **pfn, int cudaVersion, cuuint64_t flags,
                             CUdriverProcAddressQueryResult *symbolStatus)
{
    cuGetProcAddress_v2_fn real = HAMI_REAL(cuGetProcAddress_v2);
    if (!real)
        return CUDA_ERROR_NOT_FOUND;
    CUresult rc = real(symbol, pfn, cudaVersion, flags, symbolStatus);
    if (rc == CUDA_SUCCESS && pfn)
        *pfn = hami_cuda_wrapper_for(*pfn);
    return rc;
}
