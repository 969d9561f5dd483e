"""Environment variables and mounts that put a container under hami-core.

Pure functions (no I/O, no global state) behind ``hami-core env``::

    hami-core env --memory 4g --compute 30 [--format shell|docker|k8s|json]

- :func:`limits_from_options` turns ``--memory SIZE|DEV=SIZE`` / ``--compute PCT|DEV=PCT`` option
  values into a limits mapping;
- :func:`container_env` gives the variables (DESIGN 3.1 names) for a set of limits;
- :func:`container_mounts` gives the bind mounts (the region's directory, and the library when the
  image does not carry it);
- :func:`render` writes them as ``export`` lines, ``docker run`` flags, a Kubernetes snippet or
  JSON.

Sizes and percentages are validated with the C grammar through ``hami_core._native``
(``parse_size`` / ``parse_percent``), imported lazily so this module imports even where the
native part is not built; a call that needs it then raises ImportError saying so.

The names the interception library and ``docker/entrypoint.sh`` read are listed once here
(:data:`LIBRARY_ENV`, :data:`INDEXED_ENV`, :data:`ENTRYPOINT_ENV`, :data:`HAMI_PLUGIN_ENV`);
``docker/README.md`` documents the same list and ``tests/test_docker.py`` checks the Kubernetes
examples against it.
"""
from __future__ import annotations

import importlib
import json
import os
import re
import shlex
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

__all__ = [
    "LIBRARY_ENV",
    "INDEXED_ENV",
    "ENTRYPOINT_ENV",
    "HAMI_PLUGIN_ENV",
    "DEFAULT_REGION",
    "REGION_VOLUME",
    "LIBRARY_VOLUME",
    "FORMATS",
    "is_known_env",
    "limits_from_options",
    "container_env",
    "container_mounts",
    "render",
]

#: Variables the interception library reads (DESIGN 3.1): our names, then HAMi's aliases.
#: ``CUDA_DEVICE_MEMORY_SHARED_CACHE`` is the region path HAMi's device plugin sets; the
#: entrypoint maps it to ``HAMI_REGION`` when that is unset.
LIBRARY_ENV: Tuple[str, ...] = (
    "HAMI_MEMORY_LIMIT",
    "HAMI_COMPUTE_LIMIT",
    "HAMI_REGION",
    "HAMI_POLICY",
    "HAMI_LOG_LEVEL",
    "CUDA_DEVICE_MEMORY_LIMIT",
    "CUDA_DEVICE_SM_LIMIT",
    "CUDA_DEVICE_MEMORY_SHARED_CACHE",
    "GPU_CORE_UTILIZATION_POLICY",
    "LIBCUDA_LOG_LEVEL",
    "NPU_MEM_QUOTA",
    "NPU_PRIORITY",
)

#: Of those, the ones that also exist per device as ``NAME_<i>`` (``<i>``: the ordinal the
#: process sees).
INDEXED_ENV: Tuple[str, ...] = (
    "HAMI_MEMORY_LIMIT",
    "HAMI_COMPUTE_LIMIT",
    "CUDA_DEVICE_MEMORY_LIMIT",
    "CUDA_DEVICE_SM_LIMIT",
)

#: Variables only ``docker/entrypoint.sh`` reads (besides ``LD_PRELOAD``, which it rewrites).
ENTRYPOINT_ENV: Tuple[str, ...] = (
    "HAMI_LIBRARY",            # path of libhami.so (skips the lookup)
    "HAMI_DISABLE",            # 1/true/yes: do not preload (and drop libhami.so from LD_PRELOAD)
    "HAMI_ENTRYPOINT_DRY_RUN",  # 1: print the environment and the command instead of exec'ing
    "HAMI_ENTRYPOINT_VALIDATE",  # warn (default) | strict | off: `hami-core doctor --env-only`
    "HAMI_ETC_LD_SO_PRELOAD",  # file checked for HAMi's own libvgpu.so (default /etc/ld.so.preload)
    "LD_PRELOAD",
)

#: Variables addressed to HAMi's device plugin, not to us: ``CUDA_DISABLE_CONTROL=true`` in a
#: container's spec stops HAMi's plugin from mounting its own ``libvgpu.so`` over
#: ``/etc/ld.so.preload`` (it still sets the limits and the cache path, which we read).
HAMI_PLUGIN_ENV: Tuple[str, ...] = ("CUDA_DISABLE_CONTROL",)

#: Region path used inside containers when none is given (a directory of its own, so that one
#: volume shares it between the containers of a Pod).
DEFAULT_REGION = "/run/hami/hami.region"
REGION_VOLUME = "hami-region"
LIBRARY_VOLUME = "hami-lib"

FORMATS: Tuple[str, ...] = ("shell", "docker", "k8s", "json")

_INDEXED_RE = re.compile(r"^(%s)_(\d+)$" % "|".join(INDEXED_ENV))

LimitsLike = Union[Mapping[str, Any], Any]


def is_known_env(name: str) -> bool:
    """True for a variable the library or the entrypoint reads (including ``NAME_<i>``)."""
    return name in LIBRARY_ENV or name in ENTRYPOINT_ENV or bool(_INDEXED_RE.match(name))


# --------------------------------------------------------------------------------------------
# validation (the C grammar, through _native)


def _native() -> Any:
    try:
        return importlib.import_module("hami_core._native")
    except ImportError as e:
        raise ImportError(
            "hami_core._native is not importable, so sizes and percentages cannot be validated "
            "with the library's grammar: build/install the package (`pip install .`) "
            f"({e})"
        ) from e


def _size(value: Any, what: str) -> int:
    if isinstance(value, bool):
        raise ValueError(f"{what} {value!r}: expected a size such as 4g, 512Mi or bytes")
    if isinstance(value, int):
        if value < 0:
            raise ValueError(f"{what} {value}: a size cannot be negative")
        return value
    try:
        return int(_native().parse_size(str(value)))
    except ValueError as e:
        raise ValueError(f"{what}: {e}") from None


def _percent(value: Any, what: str) -> int:
    if isinstance(value, bool):
        raise ValueError(f"{what} {value!r}: expected a percentage 0-100")
    try:
        return int(_native().parse_percent(str(value)))
    except ValueError as e:
        raise ValueError(f"{what}: {e}") from None


def _ordinal(key: Any, what: str) -> int:
    try:
        i = int(str(key).strip())
    except ValueError:
        raise ValueError(f"{what}: device '{key}' is not a device ordinal (0, 1, ...)") from None
    if i < 0:
        raise ValueError(f"{what}: device '{key}' is not a device ordinal (0, 1, ...)")
    return i


# --------------------------------------------------------------------------------------------
# limits


def limits_from_options(memory: Sequence[str] = (), compute: Sequence[str] = (),
                        policy: Optional[str] = None, log_level: Optional[str] = None) -> Dict[str, Any]:
    """A limits mapping from CLI option values: each ``--memory`` is ``SIZE`` (every device) or
    ``DEV=SIZE`` (device ordinal DEV), each ``--compute`` ``PCT`` or ``DEV=PCT``.  Values are kept
    as given; :func:`container_env` validates them."""
    out: Dict[str, Any] = {"device_memory": {}, "device_compute": {}}
    for opt, values, key in (("--memory", memory, "memory"), ("--compute", compute, "compute")):
        for v in values:
            if "=" in v:
                dev, val = v.split("=", 1)
                out["device_" + key][_ordinal(dev, f"{opt} {v}")] = val
            else:
                out[key] = v
    if policy is not None:
        out["policy"] = policy
    if log_level is not None:
        out["log_level"] = log_level
    return out


def _get(limits: LimitsLike, name: str) -> Any:
    if limits is None:
        return None
    if isinstance(limits, Mapping):
        return limits.get(name)
    return getattr(limits, name, None)


def container_env(limits: LimitsLike, region: str = DEFAULT_REGION, library: Optional[str] = None) -> Dict[str, str]:
    """The environment (DESIGN 3.1 names) that puts a container's processes under ``limits``.

    ``limits``: a mapping (or an object such as :class:`hami_core.Limits`) with any of ``memory``
    (size), ``compute`` (percent), ``device_memory`` / ``device_compute`` (ordinal -> value),
    ``policy`` (``force``/``disable``), ``log_level``.  Sizes come out in bytes.
    ``region``: the region path *inside* the container.  ``library``: when given, ``LD_PRELOAD``
    is set to it (for images without ``docker/entrypoint.sh``; the library must then be mounted at
    that path, see :func:`container_mounts`); when None the image's entrypoint preloads it.

    Raises ValueError (the library's message) for a value that does not parse, ImportError when
    the native part needed to validate is missing.
    """
    env: Dict[str, str] = {}
    memory = _get(limits, "memory")
    if memory is not None:
        env["HAMI_MEMORY_LIMIT"] = str(_size(memory, "memory"))
    for dev, v in sorted(((_ordinal(k, "memory"), v) for k, v in dict(_get(limits, "device_memory") or {}).items())):
        env[f"HAMI_MEMORY_LIMIT_{dev}"] = str(_size(v, f"memory of device {dev}"))
    compute = _get(limits, "compute")
    if compute is not None:
        env["HAMI_COMPUTE_LIMIT"] = str(_percent(compute, "compute"))
    for dev, v in sorted(((_ordinal(k, "compute"), v) for k, v in dict(_get(limits, "device_compute") or {}).items())):
        env[f"HAMI_COMPUTE_LIMIT_{dev}"] = str(_percent(v, f"compute of device {dev}"))
    policy = _get(limits, "policy")
    if policy is not None:
        if str(policy).lower() not in ("force", "disable"):
            raise ValueError(f"policy '{policy}': expected force or disable")
        env["HAMI_POLICY"] = str(policy).lower()
    log_level = _get(limits, "log_level")
    if log_level is not None:
        if str(log_level).lower() not in ("error", "warn", "info", "debug"):
            raise ValueError(f"log level '{log_level}': expected error, warn, info or debug")
        env["HAMI_LOG_LEVEL"] = str(log_level).lower()
    if not region or not os.path.isabs(region):
        raise ValueError(f"region '{region}': expected an absolute path inside the container")
    env["HAMI_REGION"] = os.path.normpath(region)
    if library:
        if not os.path.isabs(library):
            raise ValueError(f"library '{library}': expected an absolute path")
        env["LD_PRELOAD"] = library
    return env


def container_mounts(region: str = DEFAULT_REGION, library: Optional[str] = None,
                     host_region_dir: Optional[str] = None) -> List[Dict[str, Any]]:
    """Bind mounts for a container: the region's directory (read-write; shared by every
    container that should draw from the same budget) and, when ``library`` is given, the library
    read-only at the same path.  Each mount: ``{"name", "source", "target", "read_only"}``;
    ``source`` is the host directory (``host_region_dir``, default the same path as inside)."""
    if not region or not os.path.isabs(region):
        raise ValueError(f"region '{region}': expected an absolute path inside the container")
    rdir = os.path.dirname(os.path.normpath(region))
    mounts = [{"name": REGION_VOLUME, "source": host_region_dir or rdir, "target": rdir, "read_only": False}]
    if library:
        mounts.append({"name": LIBRARY_VOLUME, "source": library, "target": library, "read_only": True})
    return mounts


# --------------------------------------------------------------------------------------------
# rendering


def _q(s: str) -> str:
    """A double-quoted YAML scalar (JSON strings are valid YAML double-quoted scalars)."""
    return json.dumps(str(s))


def _render_shell(env: Mapping[str, str]) -> str:
    lines = []
    for k, v in env.items():
        if k == "LD_PRELOAD":
            # put the library first, keep what is there, never add it twice (sourcing is idempotent)
            qv = shlex.quote(v)
            lines.append(
                f'case ":${{LD_PRELOAD:-}}:" in *:{qv}:*) ;; '
                f'*) LD_PRELOAD={qv}"${{LD_PRELOAD:+:$LD_PRELOAD}}" ;; esac; export LD_PRELOAD')
        else:
            lines.append(f"export {k}={shlex.quote(v)}")
    return "\n".join(lines) + "\n"


def _render_docker(env: Mapping[str, str], mounts: Sequence[Mapping[str, Any]]) -> str:
    args: List[str] = []
    for k, v in env.items():
        args += ["-e", f"{k}={v}"]
    for m in mounts:
        args += ["-v", f"{m['source']}:{m['target']}" + (":ro" if m.get("read_only") else "")]
    return " ".join(shlex.quote(a) for a in args) + "\n"


def _render_k8s(env: Mapping[str, str], mounts: Sequence[Mapping[str, Any]]) -> str:
    out = ["# container spec"]
    out.append("env:")
    for k, v in env.items():
        out.append(f"  - name: {_q(k)}")
        out.append(f"    value: {_q(v)}")
    if mounts:
        out.append("volumeMounts:")
        for m in mounts:
            out.append(f"  - name: {_q(m['name'])}")
            out.append(f"    mountPath: {_q(m['target'])}")
            if m.get("read_only"):
                out.append("    readOnly: true")
        out.append("# pod spec")
        out.append("volumes:")
        for m in mounts:
            out.append(f"  - name: {_q(m['name'])}")
            out.append("    hostPath:")
            out.append(f"      path: {_q(m['source'])}")
            out.append(f"      type: {_q('File' if m.get('read_only') else 'DirectoryOrCreate')}")
    return "\n".join(out) + "\n"


def render(fmt: str, env: Mapping[str, str], mounts: Sequence[Mapping[str, Any]] = ()) -> str:
    """``env`` and ``mounts`` as text:

    - ``shell``: ``export K=V`` lines, shell-quoted, to ``eval`` or source (``LD_PRELOAD`` is
      prepended to the current value, not repeated);
    - ``docker``: ``-e K=V`` and ``-v SRC:DST[:ro]`` flags, shell-quoted, for a ``docker run``
      line;
    - ``k8s``: a YAML snippet with ``env:`` and ``volumeMounts:`` (container spec) and
      ``volumes:`` (pod spec, hostPath), every value double-quoted;
    - ``json``: ``{"env": {...}, "mounts": [...]}``.
    """
    if fmt == "shell":
        return _render_shell(env)
    if fmt == "docker":
        return _render_docker(env, mounts)
    if fmt == "k8s":
        return _render_k8s(env, mounts)
    if fmt == "json":
        return json.dumps({"env": dict(env), "mounts": [dict(m) for m in mounts]}, indent=2) + "\n"
    raise ValueError(f"format '{fmt}': expected one of {', '.join(FORMATS)}")
