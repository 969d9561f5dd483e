"""hami-core: user-space GPU/NPU sharing.

A C library loaded with ``LD_PRELOAD`` (``libhami.so``) caps device memory and compute for every
process of a container through one shared-memory *region* file.  This package is the thin,
typed Python side of it:

- :func:`library_path` / :func:`sim_library_dir` -- the bundled native libraries;
- :class:`Limits` -- limits as a container entrypoint sets them, :meth:`Limits.env`;
- :func:`usage`, :func:`processes` -- live usage read from a region (dataclasses);
- :func:`set_limits` -- change live limits (running processes follow without restart);
- :func:`current` -- the limits and usage of the calling process when it runs under the library;
  :func:`memory_budget` -- bytes to size a cache to (what ``torch.cuda.mem_get_info`` reports
  under the cap); :class:`UsageSampler` -- measured compute use between two readings.

Every function takes the region explicitly (``region=None`` means ``$HAMI_REGION``, else the
library's default path); nothing is cached between calls.  The region layout is defined once,
in C, and read through :mod:`hami_core._native`.
"""
from __future__ import annotations

import operator
import os
import sys
import time
from dataclasses import asdict, dataclass, field
from typing import Callable, Dict, List, Mapping, Optional, Sequence, Tuple, Union


def _find_installed_native() -> Optional[str]:
    """When this copy of the package has no native part (the source tree of a checkout that was
    installed with `pip install .`, imported because the current directory is the checkout),
    return the directory of an installed copy that has one."""
    import glob
    import sysconfig

    here = os.path.dirname(os.path.abspath(__file__))
    suffix = sysconfig.get_config_var("EXT_SUFFIX") or ".so"
    for entry in sys.path:
        cand = os.path.join(os.path.abspath(entry or "."), "hami_core")
        if cand != here and glob.glob(os.path.join(cand, "_native" + suffix)):
            return cand
    return None


try:
    from . import _native
except ImportError as _e:
    _other = _find_installed_native()
    if _other is None:  # pragma: no cover - only when the package was not built
        raise ImportError(
            "hami_core._native is missing: the native part of hami-core was not built. "
            "Install with `pip install .` (or `pip install -e .`) from the source checkout."
        ) from _e
    __path__.append(_other)  # noqa: F821 - the package's own search path
    from . import _native

from ._native import RegionError, RegionFormatError, RegionNotFoundError

__version__ = "0.1.0"

__all__ = [
    "__version__",
    "HamiError",
    "LibraryNotFoundError",
    "DeviceNotFoundError",
    "RegionError",
    "RegionFormatError",
    "RegionNotFoundError",
    "Limits",
    "DeviceUsage",
    "ProcessUsage",
    "Current",
    "CurrentDevice",
    "RecentUse",
    "UsageSampler",
    "NotUnderLibraryError",
    "library_path",
    "sim_library_dir",
    "bin_dir",
    "region_path",
    "parse_size",
    "parse_percent",
    "usage",
    "processes",
    "set_limits",
    "current",
    "memory_budget",
    "is_preloaded",
    "preload_value",
]

Size = Union[int, str]
Percent = Union[int, str]

# The bundled libraries sit next to the native extension (see _find_installed_native).
_PKG_DIR = os.path.dirname(os.path.abspath(_native.__file__))
_LIB_DIR = os.path.join(_PKG_DIR, "_lib")


class HamiError(Exception):
    """Base class of the errors raised by this package (besides the region errors)."""


class LibraryNotFoundError(HamiError, FileNotFoundError):
    """A bundled native library is missing (the package was built without it)."""


class DeviceNotFoundError(HamiError, LookupError):
    """No device of the region matches the given index or UUID."""


class NotUnderLibraryError(HamiError, RuntimeError):
    """The calling process does not run under the interception library (and no region was given)."""


# --------------------------------------------------------------------------------------------
# Paths


def library_path() -> str:
    """Absolute path of the bundled interception library ``libhami.so``."""
    path = os.path.join(_LIB_DIR, "libhami.so")
    if not os.path.isfile(path):
        raise LibraryNotFoundError(
            f"{path} is missing: this hami-core was built without the interception library; "
            "reinstall with `pip install .` from a complete checkout"
        )
    return path


def sim_library_dir() -> str:
    """Directory of the simulated vendor libraries (``libcuda.so.1``, ``libnvidia-ml.so.1`` ...)."""
    path = os.path.join(_LIB_DIR, "sim")
    if not os.path.isfile(os.path.join(path, "libcuda.so.1")):
        raise LibraryNotFoundError(
            f"{path}/libcuda.so.1 is missing: this hami-core was built without the simulator; "
            "reinstall with `pip install .` from a complete checkout"
        )
    return path


def bin_dir() -> str:
    """Directory of the bundled benchmark programs (``hami-bench-alloc`` ...)."""
    return os.path.join(_LIB_DIR, "bin")


def region_path(region: Optional[str] = None) -> str:
    """The region a call addresses: ``region``, else the path the library itself resolves
    (``$HAMI_REGION``, else HAMi's ``$CUDA_DEVICE_MEMORY_SHARED_CACHE``, else
    ``$TMPDIR/hami-<uid>.region``)."""
    return os.path.abspath(region or _native.default_region_path())


def parse_size(value: Size) -> int:
    """Bytes of a size (``4g``, ``512Mi``, ``2GB``, ``1073741824``), with the C grammar.
    Raises ValueError with the library's message."""
    if isinstance(value, bool):
        raise ValueError(f"{value!r}: expected a size")
    if isinstance(value, int):
        if value < 0:
            raise ValueError(f"'{value}': a size cannot be negative")
        if value >= 1 << 64:
            raise ValueError(f"'{value}': a size must be below 2^64 bytes")
        return value
    return int(_native.parse_size(str(value)))


def parse_percent(value: Percent) -> int:
    """A percentage 0..100 (0 = no cap), with the C grammar.  Raises ValueError."""
    if isinstance(value, bool):
        raise ValueError(f"{value!r}: expected a percentage")
    if isinstance(value, int):
        value = str(value)
    return int(_native.parse_percent(str(value)))


# --------------------------------------------------------------------------------------------
# Limits as a container entrypoint sets them

_POLICIES = ("force", "disable")
_LOG_LEVELS = ("error", "warn", "info", "debug")


@dataclass
class Limits:
    """Limits for the processes of one container.

    ``memory``/``compute`` apply to every device; ``device_memory``/``device_compute`` override
    them per device ordinal (as the process sees devices).  Sizes are bytes or strings of the
    size grammar (``"4g"``, ``"1536Mi"``); percentages are 1..100 (0 = no cap).  Values are
    validated at construction: a bad one raises ValueError with the library's message.

    >>> Limits(memory="4g", compute=50).env()["HAMI_MEMORY_LIMIT"]
    '4294967296'
    """

    memory: Optional[Size] = None
    compute: Optional[Percent] = None
    device_memory: Mapping[int, Size] = field(default_factory=dict)
    device_compute: Mapping[int, Percent] = field(default_factory=dict)
    policy: Optional[str] = None
    region: Optional[str] = None
    log_level: Optional[str] = None

    def __post_init__(self) -> None:
        self._memory = parse_size(self.memory) if self.memory is not None else None
        self._compute = parse_percent(self.compute) if self.compute is not None else None
        self._device_memory = {self._ordinal(k): parse_size(v) for k, v in dict(self.device_memory).items()}
        self._device_compute = {self._ordinal(k): parse_percent(v) for k, v in dict(self.device_compute).items()}
        if self.policy is not None and self.policy not in _POLICIES:
            raise ValueError(f"policy '{self.policy}': expected one of {', '.join(_POLICIES)}")
        if self.log_level is not None and self.log_level not in _LOG_LEVELS:
            raise ValueError(f"log_level '{self.log_level}': expected one of {', '.join(_LOG_LEVELS)}")

    @staticmethod
    def _ordinal(key: Union[int, str]) -> int:
        try:
            i = int(key)
        except (TypeError, ValueError):
            raise ValueError(f"device '{key}': expected a device ordinal 0..{_native.MAX_DEVICES - 1}") from None
        if not 0 <= i < _native.MAX_DEVICES:
            raise ValueError(f"device '{key}': expected a device ordinal 0..{_native.MAX_DEVICES - 1}")
        return i

    def env(self, preload: bool = False) -> Dict[str, str]:
        """The environment variables (DESIGN 3.1 names) that apply these limits.

        Sizes are written in bytes.  With ``preload=True`` the dict also holds ``LD_PRELOAD``
        with the bundled library in front of the current value."""
        env: Dict[str, str] = {}
        if self._memory is not None:
            env["HAMI_MEMORY_LIMIT"] = str(self._memory)
        for i, v in sorted(self._device_memory.items()):
            env[f"HAMI_MEMORY_LIMIT_{i}"] = str(v)
        if self._compute is not None:
            env["HAMI_COMPUTE_LIMIT"] = str(self._compute)
        for i, v in sorted(self._device_compute.items()):
            env[f"HAMI_COMPUTE_LIMIT_{i}"] = str(v)
        if self.policy is not None:
            env["HAMI_POLICY"] = self.policy
        if self.region is not None:
            env["HAMI_REGION"] = os.path.abspath(self.region)
        if self.log_level is not None:
            env["HAMI_LOG_LEVEL"] = self.log_level
        if preload:
            env["LD_PRELOAD"] = preload_value(os.environ.get("LD_PRELOAD", ""))
        return env


def preload_value(existing: str = "") -> str:
    """``LD_PRELOAD`` with the bundled library first (not repeated if already there)."""
    lib = library_path()
    parts = [p for p in existing.replace(" ", ":").split(":") if p and p != lib]
    return ":".join([lib] + parts)


# --------------------------------------------------------------------------------------------
# Usage


@dataclass
class DeviceUsage:
    """One device of a region: its live limits and the container's use of it.

    ``index`` is the device's position in the region (what ``hami-core set DEV=...`` takes);
    ``memory_limit_bytes`` 0 means no cap; ``free_bytes`` is cap minus in use (or card total
    minus in use without a cap); ``*_invalid`` means the configured value did not parse and the
    device refuses work (fail closed).
    """

    index: int
    vendor: str
    uuid: str
    card_total_bytes: int
    memory_limit_bytes: int
    used_bytes: int
    free_bytes: int
    compute_limit_pct: int
    memory_limit_invalid: bool
    compute_limit_invalid: bool
    policy: str
    launches: int
    throttled_ns: int
    busy_ns: int
    slot: int

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class ProcessUsage:
    """One process attached to a region.  ``used_bytes`` maps device index -> bytes held."""

    pid: int
    name: str
    alive: bool
    start_time: int
    used_bytes: Dict[int, int]
    busy_ns: Dict[int, int]
    slot: int

    @property
    def total_bytes(self) -> int:
        return sum(self.used_bytes.values())

    def to_dict(self) -> dict:
        d = asdict(self)
        d["used_bytes"] = {str(k): v for k, v in self.used_bytes.items()}
        d["busy_ns"] = {str(k): v for k, v in self.busy_ns.items()}
        return d


def _device_usage(index: int, d: dict) -> DeviceUsage:
    limit = int(d["memory_limit_bytes"])
    used = int(d["used_bytes"])
    total = int(d["card_total_bytes"])
    cap = limit if limit else total
    if limit and total:
        cap = min(limit, total)
    return DeviceUsage(
        index=index,
        vendor=d["vendor"],
        uuid=d["uuid"],
        card_total_bytes=total,
        memory_limit_bytes=limit,
        used_bytes=used,
        free_bytes=max(cap - used, 0),
        compute_limit_pct=int(d["compute_limit_pct"]),
        memory_limit_invalid=bool(d["memory_invalid"]),
        compute_limit_invalid=bool(d["compute_invalid"]),
        policy="disable" if d["policy_disable"] else "force",
        launches=int(d["launches"]),
        throttled_ns=int(d["throttled_ns"]),
        busy_ns=int(d["busy_ns"]),
        slot=int(d["slot"]),
    )


def _process_name(pid: int) -> str:
    try:
        import psutil

        return psutil.Process(pid).name()
    except Exception:
        return ""


def _open(region: Optional[str]) -> "_native.Region":
    return _native.Region(region_path(region), False)


def _read(r: "_native.Region", reclaim: bool):
    if reclaim:
        try:
            r.reclaim_dead()
        except RegionError:
            pass
    devs = r.devices()
    index_of = {int(d["slot"]): i for i, d in enumerate(devs)}
    return devs, index_of


def usage(region: Optional[str] = None, reclaim: bool = True) -> List[DeviceUsage]:
    """Devices of the region with their live limits and use.

    Dead processes' bytes are reclaimed first (``reclaim=False`` reads without writing).
    Raises :class:`RegionNotFoundError` when no region exists at the path and
    :class:`RegionFormatError` for a corrupt or foreign file."""
    with _open(region) as r:
        devs, _ = _read(r, reclaim)
    return [_device_usage(i, d) for i, d in enumerate(devs)]


def _processes(r: "_native.Region", index_of: Dict[int, int], names: bool = True) -> List[ProcessUsage]:
    out = []
    for p in r.processes():
        pid = int(p["pid"])
        alive = bool(p["alive"])
        out.append(
            ProcessUsage(
                pid=pid,
                name=_process_name(pid) if alive and names else "",
                alive=alive,
                start_time=int(p["start_time"]),
                used_bytes={index_of.get(int(k), int(k)): int(v) for k, v in p["used_bytes"].items()},
                busy_ns={index_of.get(int(k), int(k)): int(v) for k, v in p["busy_ns"].items()},
                slot=int(p["slot"]),
            )
        )
    return out


def processes(region: Optional[str] = None, reclaim: bool = True) -> List[ProcessUsage]:
    """Processes attached to the region, with names (psutil) and bytes per device index."""
    with _open(region) as r:
        _, index_of = _read(r, reclaim)
        return _processes(r, index_of)


def _select_devices(devs: List[dict], device: Union[None, int, str]) -> List[int]:
    """Positions in ``devs`` addressed by ``device``: None = all; an int or digit string = index;
    other strings = UUID or a unique UUID prefix.  Never empty: a region without devices, an
    unknown index and an unmatched or empty UUID raise :class:`DeviceNotFoundError`; a value of
    another type (``True`` included) raises ValueError."""
    if device is not None and not isinstance(device, str):
        try:
            if isinstance(device, bool):
                raise TypeError
            device = operator.index(device)
        except TypeError:
            raise ValueError(f"device {device!r}: expected an index (int) or a UUID (str)") from None
    if not devs:
        what = "" if device is None else f"device {device!r}: "
        raise DeviceNotFoundError(f"{what}the region has no devices yet (no process has used one)")
    if device is None:
        return list(range(len(devs)))
    if isinstance(device, int) or device.isdigit():
        i = int(device)
        if 0 <= i < len(devs):
            return [i]
        raise DeviceNotFoundError(f"device {i}: the region has {len(devs)} device(s) (indexes 0..{len(devs) - 1})")
    if not device.strip():
        raise DeviceNotFoundError(f"device {device!r}: an empty UUID matches no device")
    matches = [i for i, d in enumerate(devs) if d["uuid"] == device]
    if not matches:
        matches = [i for i, d in enumerate(devs) if d["uuid"].lower().startswith(device.lower())]
    if len(matches) == 1:
        return matches
    if not matches:
        raise DeviceNotFoundError(f"device '{device}': no device of the region has this UUID or UUID prefix")
    raise DeviceNotFoundError(f"device '{device}': the prefix matches {len(matches)} devices; give more of the UUID")


LimitChange = Tuple[Union[None, int, str], Optional[Size], Optional[Percent]]


def _apply_limits(changes: Sequence[LimitChange], region: Optional[str]) -> List[DeviceUsage]:
    """Apply ``(device, memory, compute)`` changes all or nothing: every value is parsed and
    every device resolved against one reading of the region before anything is written.  The
    changes apply in order (a later one wins for the devices it addresses)."""
    parsed = []
    for device, memory, compute in changes:
        if memory is None and compute is None:
            raise ValueError("nothing to set: give memory and/or compute")
        parsed.append((device, parse_size(memory) if memory is not None else None,
                       parse_percent(compute) if compute is not None else None))
    if not parsed:
        raise ValueError("nothing to set: give memory and/or compute")
    with _open(region) as r:
        devs, _ = _read(r, reclaim=False)
        final: Dict[int, List[Optional[int]]] = {}
        for device, mem, pct in parsed:          # resolve everything first: raises before any write
            for i in _select_devices(devs, device):
                slot = final.setdefault(i, [None, None])
                if mem is not None:
                    slot[0] = mem
                if pct is not None:
                    slot[1] = pct
        for i, (mem, pct) in sorted(final.items()):
            r.set_limits(int(devs[i]["slot"]), memory_limit_bytes=mem, compute_limit_pct=pct)
        devs = r.devices()
    return [_device_usage(i, d) for i, d in enumerate(devs)]


def set_limits(
    memory: Optional[Size] = None,
    compute: Optional[Percent] = None,
    device: Union[None, int, str] = None,
    region: Optional[str] = None,
) -> List[DeviceUsage]:
    """Change live limits; running processes follow without restart.

    ``memory`` (size; 0 removes the cap) and ``compute`` (percent; 0 removes the cap) apply to
    ``device`` (index in the region, UUID or UUID prefix) or, with ``device=None``, to every
    device of the region.  A memory cap below current use refuses new allocations until use
    falls under it; nothing is freed by force.  Returns the devices after the change.

    Raises ValueError when neither ``memory`` nor ``compute`` is given (or a value, or the type
    of ``device``, is bad) and :class:`DeviceNotFoundError` when no device is addressed (an
    unknown index or UUID, or a region without devices yet); nothing is written then."""
    return _apply_limits([(device, memory, compute)], region)


# --------------------------------------------------------------------------------------------
# The calling process


def is_preloaded() -> bool:
    """True when the interception library is loaded in this process."""
    try:
        with open("/proc/self/maps", encoding="utf-8", errors="replace") as f:
            return any("libhami" in line for line in f)
    except OSError:  # pragma: no cover - no procfs
        return "libhami" in os.environ.get("LD_PRELOAD", "")


@dataclass
class RecentUse:
    """Measured compute use of one device between two readings of its region counters.

    ``busy_pct``: device time the container's kernels took (the region's cumulative
    ``measured_busy_ns``) per wall-clock time of the window, in percent of the device -- the
    number to compare with the compute cap.  ``throttled_pct``: time launches were held back by
    the token bucket per wall time (summed over threads, so it can pass 100).
    ``process_busy_pct``: the same share per pid.  ``window_s``: the window's length."""

    window_s: float
    busy_pct: float
    throttled_pct: float
    launches_per_s: float
    process_busy_pct: Dict[int, float] = field(default_factory=dict)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["process_busy_pct"] = {str(k): v for k, v in self.process_busy_pct.items()}
        return d


class UsageSampler:
    """Turns the region's cumulative counters into recent use: each :meth:`update` returns the
    use since the previous one (nothing is kept anywhere else; create one sampler per view).

    >>> s = UsageSampler()                    # doctest: +SKIP
    >>> cur = hami_core.current(sampler=s)    # doctest: +SKIP   (use since the sampler was made)

    ``clock`` returns seconds (default ``time.monotonic``).  Devices are keyed by UUID and
    processes by (pid, start time), so a device slot or pid reused between readings is not
    mistaken for the old one; a counter that went backwards (a region re-created) restarts."""

    def __init__(self, region: Optional[str] = None, prime: bool = True,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.region = region
        self._clock = clock
        self._t: Optional[float] = None
        self._dev: Dict[str, Tuple[int, int, int]] = {}
        self._proc: Dict[Tuple[int, int], Dict[str, int]] = {}
        if prime:
            try:
                with _open(region) as r:
                    devs, index_of = _read(r, reclaim=False)
                    procs = _processes(r, index_of, names=False)
                self.update([_device_usage(i, d) for i, d in enumerate(devs)], procs)
            except RegionNotFoundError:
                self._t = self._clock()     # no region yet: everything counted later is new use
            except RegionError:
                pass

    def update(self, devices: Sequence[DeviceUsage], procs: Sequence[ProcessUsage] = (),
               now: Optional[float] = None) -> Dict[str, RecentUse]:
        """Record a reading; return {device uuid: use since the previous reading} ({} the first
        time; a device or process absent from the previous reading counts from zero)."""
        t = self._clock() if now is None else now
        out: Dict[str, RecentUse] = {}
        dt = (t - self._t) if self._t is not None else 0.0
        by_index = {d.index: d.uuid for d in devices}
        proc_now: Dict[Tuple[int, int], Dict[str, int]] = {}
        for p in procs:
            proc_now[(p.pid, p.start_time)] = {by_index[i]: ns for i, ns in p.busy_ns.items() if i in by_index}
        dev_now = {d.uuid: (d.busy_ns, d.throttled_ns, d.launches) for d in devices}
        if dt > 0:
            for d in devices:
                prev = self._dev.get(d.uuid, (0, 0, 0))   # new since the previous reading: all of it
                busy = max(d.busy_ns - prev[0], 0)
                thr = max(d.throttled_ns - prev[1], 0)
                lau = max(d.launches - prev[2], 0)
                shares: Dict[int, float] = {}
                for (pid, st), per in proc_now.items():
                    ns = per.get(d.uuid, 0)
                    before = self._proc.get((pid, st), {}).get(d.uuid, 0)
                    if ns - before > 0:
                        shares[pid] = min((ns - before) / 1e9 / dt * 100.0, 100.0)
                out[d.uuid] = RecentUse(window_s=dt, busy_pct=min(busy / 1e9 / dt * 100.0, 100.0),
                                        throttled_pct=thr / 1e9 / dt * 100.0, launches_per_s=lau / dt,
                                        process_busy_pct=shares)
        self._t = t
        self._dev = dev_now
        self._proc = proc_now
        return out


@dataclass
class CurrentDevice(DeviceUsage):
    """A device of the calling process's region, as :func:`current` reports it.

    Everything of :class:`DeviceUsage` (container-wide: every process of the container shares
    the cap), plus ``memory_cap_bytes`` (the effective cap: the limit, or the card without
    one), ``process_used_bytes`` (held by the calling process) and ``recent`` (measured compute
    use since the sampler's previous reading; None without a sampler or on its first reading).
    """

    memory_cap_bytes: int = 0
    process_used_bytes: int = 0
    recent: Optional[RecentUse] = None

    def to_dict(self) -> dict:
        d = asdict(self)
        d["recent"] = self.recent.to_dict() if self.recent else None
        return d


@dataclass
class Current:
    """What the calling process runs under.

    ``devices`` are the region's devices (limits and use are container-wide: every process of
    the container shares them); ``process`` is this process's own slot, None until it has used
    a device; ``region_exists`` is False before any process of the container touched a device."""

    region: str
    pid: int
    region_exists: bool
    devices: List[CurrentDevice]
    process: Optional[ProcessUsage]

    def device(self, device: Union[int, str] = 0) -> CurrentDevice:
        """The device with this region index, UUID or UUID prefix (DeviceNotFoundError)."""
        raw = [{"uuid": d.uuid} for d in self.devices]
        return self.devices[_select_devices(raw, device)[0]]

    def to_dict(self) -> dict:
        return {
            "region": self.region,
            "pid": self.pid,
            "region_exists": self.region_exists,
            "devices": [d.to_dict() for d in self.devices],
            "process": self.process.to_dict() if self.process else None,
        }


def _current_device(u: DeviceUsage, mine: Optional[ProcessUsage], recent: Optional[RecentUse]) -> CurrentDevice:
    cap = u.memory_limit_bytes or u.card_total_bytes
    if u.memory_limit_bytes and u.card_total_bytes:
        cap = min(u.memory_limit_bytes, u.card_total_bytes)
    base = {k: getattr(u, k) for k in DeviceUsage.__dataclass_fields__}
    return CurrentDevice(**base, memory_cap_bytes=cap,
                         process_used_bytes=(mine.used_bytes.get(u.index, 0) if mine else 0), recent=recent)


def current(sampler: Optional[UsageSampler] = None, region: Optional[str] = None) -> Optional[Current]:
    """Limits and usage of the calling process when it runs under the library, else None.

    Returns None when the interception library is not loaded in this process (nothing is
    capped then: ask the framework, e.g. ``torch.cuda.mem_get_info``).  Inside, ``devices``
    lists every device of the container's region (CUDA and Ascend alike) with its cap, the
    container's use, free bytes and compute cap; with a ``sampler`` each device's ``recent``
    holds the measured compute use since the sampler's previous reading (no sampler: None;
    nothing is remembered between calls otherwise).  ``region`` overrides ``$HAMI_REGION``.

    An inference service can size its caches with :func:`memory_budget` (or
    ``current().devices[i].free_bytes``) instead of the card; ``cuMemGetInfo`` /
    ``aclrtGetMemInfo`` in the process report the same cap."""
    if not is_preloaded():
        return None
    path = region_path(region)
    pid = os.getpid()
    try:
        r = _native.Region(path, False)
    except RegionNotFoundError:
        return Current(region=path, pid=pid, region_exists=False, devices=[], process=None)
    with r:
        devs, index_of = _read(r, reclaim=False)
        procs = _processes(r, index_of)
    usages = [_device_usage(i, d) for i, d in enumerate(devs)]
    recent = sampler.update(usages, procs) if sampler is not None else {}
    mine = next((p for p in procs if p.pid == pid and p.alive), None)
    return Current(region=path, pid=pid, region_exists=True,
                   devices=[_current_device(u, mine, recent.get(u.uuid)) for u in usages], process=mine)


def _mapped(name: str) -> bool:
    try:
        with open("/proc/self/maps", encoding="utf-8", errors="replace") as f:
            return any(line.rstrip().endswith("/" + name) for line in f)
    except OSError:  # pragma: no cover
        return False


def _ordinal_uuid(ordinal: int) -> Optional[str]:
    """UUID of CUDA device ``ordinal`` as this process sees it, when the process has the CUDA
    driver loaded already (no driver is loaded for the question); else None."""
    if not _mapped("libcuda.so.1"):
        return None
    try:
        from .cuda import Driver

        return Driver().device_uuid(ordinal)
    except Exception:
        return None


def memory_budget(device: Union[int, str] = 0, fraction: float = 0.9, region: Optional[str] = None) -> int:
    """Bytes a cache on ``device`` may take: ``fraction`` of what is free under the cap, i.e. of
    ``min(cap, card) - container use`` -- what ``torch.cuda.mem_get_info()[0]`` reports in a
    process under the library (the cap is container-wide: other processes' use counts).

    ``device``: an int is the device ordinal as this process sees it (matched by UUID when the
    process has the CUDA driver loaded, else taken as the region index -- the same whenever the
    container uses its devices in order); a string is a UUID or UUID prefix.  Raises
    :class:`NotUnderLibraryError` outside the library unless ``region`` is given,
    :class:`DeviceNotFoundError` when the region has no such device (no process has used it)."""
    if not 0.0 < fraction <= 1.0:
        raise ValueError(f"fraction {fraction}: expected 0 < fraction <= 1")
    if region is None and not is_preloaded():
        raise NotUnderLibraryError("this process does not run under libhami.so (nothing is capped): "
                                   "start it with `hami-core run ...` or pass region=PATH")
    usages = usage(region, reclaim=False)
    key: Union[int, str] = device
    if isinstance(device, int) and not isinstance(device, bool):
        uuid = _ordinal_uuid(device)
        if uuid is not None and any(u.uuid == uuid for u in usages):
            key = uuid
    raw = [{"uuid": u.uuid} for u in usages]
    u = usages[_select_devices(raw, key)[0]]
    return int(u.free_bytes * fraction)
