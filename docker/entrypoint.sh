#!/bin/sh
# hami-core container entrypoint: turn the environment a device plugin (or a Pod spec) sets into
# a preloaded libhami.so, then exec the command.  POSIX sh (runs under dash, busybox ash, bash).
#
# Limits are read by the library itself, under our names or HAMi's (DESIGN 3.1):
#   HAMI_MEMORY_LIMIT[_i] HAMI_COMPUTE_LIMIT[_i] HAMI_REGION HAMI_POLICY HAMI_LOG_LEVEL
#   CUDA_DEVICE_MEMORY_LIMIT[_i] CUDA_DEVICE_SM_LIMIT[_i] CUDA_DEVICE_MEMORY_SHARED_CACHE
#   GPU_CORE_UTILIZATION_POLICY LIBCUDA_LOG_LEVEL NPU_MEM_QUOTA NPU_PRIORITY
# This script only:
#   1. finds libhami.so: $HAMI_LIBRARY, else `python3 -c 'import hami_core; ...library_path()'`,
#      else /usr/local/lib/hami/libhami.so; a missing library is an error (never run uncapped
#      by accident);
#   2. puts it first in LD_PRELOAD (colon- or space-separated; never twice);
#   3. sets HAMI_REGION from CUDA_DEVICE_MEMORY_SHARED_CACHE (the per-container file HAMi's
#      device plugin mounts) when HAMI_REGION is unset, and creates the region's directory;
#   4. validates the values with `hami-core doctor --env-only` when that command exists
#      (HAMI_ENTRYPOINT_VALIDATE=warn (default): print its complaint and go on; strict: stop;
#      off: skip);
#   5. warns when HAMi's own libvgpu.so is also preloaded through /etc/ld.so.preload (set
#      CUDA_DISABLE_CONTROL=true in the container spec so HAMi's plugin does not mount it).
# HAMI_DISABLE=1 skips the preload (and removes libhami.so from an inherited LD_PRELOAD).
# HAMI_LOG_LEVEL=info (or debug) prints one line on stderr saying what was set up.
# HAMI_ENTRYPOINT_DRY_RUN=1 prints the resulting variables (sorted KEY=VALUE) and the command
# (`exec: ...`, shell-quoted) on stdout instead of exec'ing it.
set -eu

me=hami-entrypoint

die() {
    printf '%s: error: %s\n' "$me" "$*" >&2
    exit 1
}

warn() {
    printf '%s: warning: %s\n' "$me" "$*" >&2
}

truthy() {
    case "$1" in
        1 | [Tt][Rr][Uu][Ee] | [Yy][Ee][Ss] | [Oo][Nn]) return 0 ;;
        *) return 1 ;;
    esac
}

# quote ARG: ARG as one shell word
quote() {
    case "$1" in
        '') printf "''" ;;
        *[!A-Za-z0-9_./:=@%+,-]*) printf "'%s'" "$(printf '%s' "$1" | sed "s/'/'\\\\''/g")" ;;
        *) printf '%s' "$1" ;;
    esac
}

# preload_without LIB VALUE: VALUE (an LD_PRELOAD) colon-joined, without LIB (and without
# libhami.so entries at all when LIB is empty)
preload_without() {
    _lib=$1
    _out=
    _old_ifs=$IFS
    IFS=': '
    set -f
    for _p in $2; do
        [ -n "$_p" ] || continue
        if [ -n "$_lib" ]; then
            [ "$_p" = "$_lib" ] && continue
        else
            case "$_p" in */libhami.so | libhami.so) continue ;; esac
        fi
        _out=${_out:+$_out:}$_p
    done
    set +f
    IFS=$_old_ifs
    printf '%s' "$_out"
}

if [ "$#" -eq 0 ]; then
    die "no command given: use it as ENTRYPOINT and give the program as CMD/args"
fi

log_level=$(printf '%s' "${HAMI_LOG_LEVEL:-}" | tr 'A-Z' 'a-z')
summary=

if truthy "${HAMI_DISABLE:-0}"; then
    new_preload=$(preload_without "" "${LD_PRELOAD:-}")
    summary="HAMI_DISABLE=${HAMI_DISABLE}: libhami.so not preloaded, no caps"
else
    # 1. the library
    lib=${HAMI_LIBRARY:-}
    if [ -n "$lib" ]; then
        [ -f "$lib" ] || die "HAMI_LIBRARY=$lib: no such file"
    else
        if command -v python3 >/dev/null 2>&1; then
            lib=$(python3 -c 'import hami_core; print(hami_core.library_path())' 2>/dev/null) || lib=
        fi
        if [ -z "$lib" ] || [ ! -f "$lib" ]; then
            lib=/usr/local/lib/hami/libhami.so
        fi
        [ -f "$lib" ] || die "libhami.so not found: set HAMI_LIBRARY to its path, install the hami-core package for python3, or put it at /usr/local/lib/hami/libhami.so (HAMI_DISABLE=1 runs without it)"
    fi

    # 2. LD_PRELOAD: the library first, once (set just before exec, so that the helpers this
    #    script runs are not intercepted)
    rest=$(preload_without "$lib" "${LD_PRELOAD:-}")
    new_preload=$lib${rest:+:$rest}

    # 3. the region
    if [ -z "${HAMI_REGION:-}" ] && [ -n "${CUDA_DEVICE_MEMORY_SHARED_CACHE:-}" ]; then
        HAMI_REGION=$CUDA_DEVICE_MEMORY_SHARED_CACHE
        export HAMI_REGION
    fi
    if [ -n "${HAMI_REGION:-}" ]; then
        region_dir=$(dirname -- "$HAMI_REGION")
        mkdir -p -- "$region_dir" 2>/dev/null || die "cannot create the region's directory $region_dir (HAMI_REGION=$HAMI_REGION): mount a writable volume there"
    fi

    # 4. validation, when this hami-core has `doctor --env-only`
    validate=$(printf '%s' "${HAMI_ENTRYPOINT_VALIDATE:-warn}" | tr 'A-Z' 'a-z')
    if [ "$validate" != off ] && [ "$validate" != 0 ] && command -v hami-core >/dev/null 2>&1; then
        if hami-core doctor --help 2>/dev/null | grep -q -- '--env-only'; then
            if ! out=$(hami-core doctor --env-only 2>&1); then
                if [ "$validate" = strict ]; then
                    printf '%s\n' "$out" >&2
                    die "the environment does not validate (hami-core doctor --env-only); HAMI_ENTRYPOINT_VALIDATE=warn runs anyway (devices with bad values then refuse work)"
                fi
                warn "hami-core doctor --env-only reports problems (devices with bad values refuse work):"
                printf '%s\n' "$out" >&2
            fi
        fi
    fi

    # 5. HAMi's own library preloaded as well?
    etc_preload=${HAMI_ETC_LD_SO_PRELOAD:-/etc/ld.so.preload}
    if [ -r "$etc_preload" ] && grep -q 'libvgpu\.so' "$etc_preload" 2>/dev/null; then
        warn "$etc_preload preloads HAMi's libvgpu.so too (two interception layers); set CUDA_DISABLE_CONTROL=true in the container's env so HAMi's device plugin does not mount it"
    fi

    summary="preloading $lib; region ${HAMI_REGION:-(library default)}"
    for name in HAMI_MEMORY_LIMIT CUDA_DEVICE_MEMORY_LIMIT NPU_MEM_QUOTA HAMI_COMPUTE_LIMIT CUDA_DEVICE_SM_LIMIT NPU_PRIORITY; do
        eval "val=\${$name:-}"
        [ -z "$val" ] || summary="$summary; $name=$val"
    done
fi

case "$log_level" in
    info | debug) printf '%s: %s\n' "$me" "$summary" >&2 ;;
esac

if truthy "${HAMI_ENTRYPOINT_DRY_RUN:-0}"; then
    # printed without preloading anything into env/grep/sort themselves
    {
        env | grep -E '^(HAMI_|CUDA_DEVICE_|NPU_|ASCEND_VISIBLE_DEVICES=|GPU_CORE_UTILIZATION_POLICY=|LIBCUDA_LOG_LEVEL=|CUDA_DISABLE_CONTROL=)' |
            grep -v -E '^HAMI_ENTRYPOINT_DRY_RUN=' || true
        [ -z "$new_preload" ] || printf 'LD_PRELOAD=%s\n' "$new_preload"
    } | LC_ALL=C sort
    printf 'exec:'
    for arg in "$@"; do
        printf ' %s' "$(quote "$arg")"
    done
    printf '\n'
    exit 0
fi

if [ -n "$new_preload" ]; then
    LD_PRELOAD=$new_preload
    export LD_PRELOAD
else
    unset LD_PRELOAD
fi
exec "$@"
