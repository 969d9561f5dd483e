"""``hami-core doctor``: what is wrong with this environment, in plain words, with a fix for each.

:func:`diagnose` returns a list of :class:`Check` (data only); :func:`run_doctor` prints them
(text, or ``--json``) and returns the exit code: 0 when nothing failed (warnings allowed), 1
when a check failed.

Checks, by their stable ``check`` names (``--json`` prints a list of
``{"check", "status": "ok"|"warn"|"fail", "detail", "fix"}``; ``fix`` is null when there is
nothing to do):

=====================  ======================================================================
``library``            the bundled ``libhami.so`` exists
``library.arch``       its ELF class and machine match this interpreter's machine
``library.load``       the dynamic loader can preload it (``LD_PRELOAD=lib /bin/true``)
``driver.cuda``        where ``libcuda.so.1`` resolves: real driver, our simulator, or missing
``driver.nvml``        the same for ``libnvidia-ml.so.1``
``driver.ascend``      the same for ``libascendcl.so``
``preload``            whether the library is active in this process tree (``LD_PRELOAD`` or
                       ``/etc/ld.so.preload``)
``preload.libvgpu``    HAMi's ``libvgpu.so`` preloaded as well (two interception layers)
``env.VARIABLE``       a limit variable whose value does not parse (the C grammar's message)
``env.unknown.NAME``   a ``HAMI_*`` / ``CUDA_DEVICE_*`` / ``NPU_*`` variable nothing reads (a typo?)
``env.limits``         the limits the library will apply, per vendor and device ordinal
``region``             the region file: path, directory, permissions
``region.format``      magic and layout version (a corrupt or foreign file is refused)
``region.stale``       dead processes still holding bytes
``region.devices``     devices whose stored limits are invalid (they refuse work)
=====================  ======================================================================

Drivers are probed in a subprocess (``dlopen`` there), so nothing is loaded into this process.
``/etc/ld.so.preload`` is read from ``$HAMI_ETC_LD_SO_PRELOAD`` when set (as the container
entrypoint does), which also lets tests plant one.
"""
from __future__ import annotations

import difflib
import json
import os
import platform
import re
import struct
import subprocess
import sys
import tempfile
from dataclasses import asdict, dataclass
from typing import Dict, List, Mapping, Optional, Tuple

from . import LibraryNotFoundError, RegionError, RegionFormatError, RegionNotFoundError, _native, library_path

__all__ = ["Check", "diagnose", "check_library", "check_drivers", "check_preload", "check_environment",
           "check_region", "run_doctor", "KNOWN_VARIABLES"]

OK, WARN, FAIL = "ok", "warn", "fail"


@dataclass
class Check:
    """One finding.  ``status`` is ``ok``, ``warn`` or ``fail``; ``fix`` says what to do (None
    when nothing is to be done)."""

    check: str
    status: str
    detail: str
    fix: Optional[str] = None

    def to_dict(self) -> dict:
        return asdict(self)


# --------------------------------------------------------------------------------------------
# The environment


# Limit variables: name -> (vendor the C parser reads it for, kind, takes a _<i> suffix)
LIMIT_VARIABLES: Dict[str, Tuple[str, str, bool]] = {
    "HAMI_MEMORY_LIMIT": ("cuda", "size", True),
    "HAMI_COMPUTE_LIMIT": ("cuda", "percent", True),
    "CUDA_DEVICE_MEMORY_LIMIT": ("cuda", "size", True),
    "CUDA_DEVICE_SM_LIMIT": ("cuda", "percent", True),
    "NPU_MEM_QUOTA": ("ascend", "mib", False),
    "NPU_PRIORITY": ("ascend", "percent", False),
}
# Other variables someone reads: the library, the entrypoint, `hami-core sim`, the build.
KNOWN_VARIABLES = frozenset({
    "HAMI_REGION", "HAMI_POLICY", "HAMI_LOG_LEVEL",
    "CUDA_DEVICE_MEMORY_SHARED_CACHE", "GPU_CORE_UTILIZATION_POLICY", "LIBCUDA_LOG_LEVEL",
    "HAMI_LIBRARY", "HAMI_DISABLE", "HAMI_ENTRYPOINT_VALIDATE", "HAMI_ENTRYPOINT_DRY_RUN",
    "HAMI_ETC_LD_SO_PRELOAD",
    "HAMI_SIM_STATE", "HAMI_SIM_DEVICES", "HAMI_SIM_MEMORY", "HAMI_SIM_SMS", "HAMI_SIM_BLOCK_NS",
    "HAMI_SIM_VENDORS",
    "HAMI_BUILD_DIR", "HAMI_CMAKE_ARGS",
    "NPU_VISIBLE_DEVICES",
})
_WATCHED_PREFIXES = ("HAMI_", "CUDA_DEVICE_", "NPU_")
_LOG_LEVELS = ("error", "warn", "info", "debug", "0", "1", "2", "3", "4")


def _limit_base(name: str) -> Optional[Tuple[str, Optional[int]]]:
    """("HAMI_MEMORY_LIMIT", 3) for HAMI_MEMORY_LIMIT_3; (base, None) for a global; None otherwise."""
    if name in LIMIT_VARIABLES:
        return name, None
    m = re.fullmatch(r"(.+)_(\d+)", name)
    if m and m.group(1) in LIMIT_VARIABLES and LIMIT_VARIABLES[m.group(1)][2]:
        return m.group(1), int(m.group(2))
    return None


def _expected(kind: str) -> str:
    return {"size": "a size such as 2g, 1536Mi, 4GB or a number of bytes",
            "percent": "a whole percentage 0-100 (0 = no cap), e.g. 30",
            "mib": "a whole number of MiB, e.g. 4096"}[kind]


def check_environment(env: Optional[Mapping[str, str]] = None) -> List[Check]:
    """Every limit variable of DESIGN 3.1 parsed with the library's own grammar, unknown
    variables of our prefixes (typos), and the limits that result per vendor and ordinal."""
    env = dict(os.environ if env is None else env)
    out: List[Check] = []
    bad = set()
    ordinals = {0}
    for name in sorted(env):
        value = env[name]
        base = _limit_base(name)
        if base is not None:
            vendor, kind, _ = LIMIT_VARIABLES[base[0]]
            if base[1] is not None:
                if base[1] >= _native.MAX_DEVICES:
                    out.append(Check(f"env.{name}", WARN,
                                     f"{name}={value}: device ordinal {base[1]} is past the last one the library "
                                     f"reads ({_native.MAX_DEVICES - 1}); it is ignored",
                                     f"remove {name}"))
                    continue
                ordinals.add(base[1])
            if value == "":
                continue   # the library treats an empty value as unset
            res = _native.limits_from_env(vendor, base[1] or 0, {name: value})
            if res["error"]:
                bad.add(name)
                what = "allocations" if kind in ("size", "mib") else "launches"
                out.append(Check(f"env.{name}", FAIL,
                                 f"{res['error']} (the devices it applies to refuse {what} until it is fixed)",
                                 f"set {name} to {_expected(kind)}"))
        elif name in ("HAMI_POLICY", "GPU_CORE_UTILIZATION_POLICY"):
            if value and value.lower() not in ("force", "disable", "default"):
                bad.add(name)
                out.append(Check(f"env.{name}", FAIL, f"{name}={value}: expected force or disable "
                                 "(the library keeps force: caps hold)", f"set {name}=force or {name}=disable"))
        elif name in ("HAMI_LOG_LEVEL", "LIBCUDA_LOG_LEVEL"):
            if value and value.lower() not in _LOG_LEVELS:
                out.append(Check(f"env.{name}", WARN, f"{name}={value}: not a log level (the library uses warn)",
                                 f"set {name} to error, warn, info, debug or 0-4"))
        elif name == "HAMI_REGION" or name == "CUDA_DEVICE_MEMORY_SHARED_CACHE":
            if value and not os.path.isabs(value):
                out.append(Check(f"env.{name}", WARN, f"{name}={value}: a relative path: processes started in "
                                 "other directories use other regions (and other budgets)",
                                 f"give {name} an absolute path"))
        elif name.startswith(_WATCHED_PREFIXES) and name not in KNOWN_VARIABLES:
            candidates = sorted(KNOWN_VARIABLES | set(LIMIT_VARIABLES))
            stem = re.sub(r"_\d+$", "", name)
            close = difflib.get_close_matches(stem, candidates, n=1, cutoff=0.8)
            if close:
                suffix = name[len(stem):]
                limit = close[0] in LIMIT_VARIABLES
                out.append(Check(f"env.unknown.{name}", FAIL if limit else WARN,
                                 f"{name} is not a variable hami-core reads; did you mean {close[0]}{suffix}? "
                                 + ("As written, no such limit is applied." if limit else ""),
                                 f"rename it to {close[0]}{suffix}"))
            elif name.startswith("HAMI_"):
                out.append(Check(f"env.unknown.{name}", WARN, f"{name} is not a variable hami-core reads",
                                 "remove it, or see the README's list of variables"))
            # other CUDA_DEVICE_* / NPU_* names belong to device plugins we do not replace: silent
    # what applies, per vendor and ordinal (with the library's precedence)
    parts: List[str] = []
    any_limit = False
    for vendor in ("cuda", "ascend"):
        for i in sorted(ordinals):
            res = _native.limits_from_env(vendor, i, env)
            mem = "INVALID" if res["memory_invalid"] else (
                _fmt(res["memory_limit_bytes"]) if res["memory_limit_bytes"] else "none")
            cpt = "INVALID" if res["compute_invalid"] else (
                f"{res['compute_limit_pct']}%" if res["compute_limit_pct"] else "none")
            if mem != "none" or cpt != "none" or res["policy_disable"]:
                any_limit = True
                dev = f"device {i}" if len(ordinals) > 1 or i else "every device"
                parts.append(f"{vendor} {dev}: memory {mem}, compute {cpt}"
                             + (", policy disable (caps off)" if res["policy_disable"] else ""))
    if any_limit:
        out.append(Check("env.limits", FAIL if bad else OK, "; ".join(parts),
                         "fix the variables above" if bad else None))
    else:
        out.append(Check("env.limits", OK, "no limit variables set: devices are not capped "
                         "(set HAMI_MEMORY_LIMIT / HAMI_COMPUTE_LIMIT, or use `hami-core run --memory ...`)"))
    return out


def _fmt(n: int) -> str:
    from .top import fmt_bytes

    return fmt_bytes(n)


# --------------------------------------------------------------------------------------------
# The library

_ELF_MACHINES = {3: "x86", 62: "x86-64", 40: "arm", 183: "aarch64", 243: "riscv", 21: "ppc64"}
_MACHINE_NAMES = {"x86_64": 62, "amd64": 62, "aarch64": 183, "arm64": 183, "i686": 3, "i386": 3,
                  "riscv64": 243, "ppc64le": 21, "ppc64": 21}


def _elf_info(path: str) -> Tuple[int, int]:
    """(ELF class bits, e_machine) of a shared object; ValueError when it is not ELF."""
    with open(path, "rb") as f:
        head = f.read(20)
    if len(head) < 20 or head[:4] != b"\x7fELF":
        raise ValueError("not an ELF file")
    bits = {1: 32, 2: 64}.get(head[4], 0)
    endian = "<" if head[5] == 1 else ">"
    machine = struct.unpack(endian + "H", head[18:20])[0]
    return bits, machine


def check_library(path: Optional[str] = None) -> List[Check]:
    """The interception library: present, built for this machine, preloadable."""
    try:
        lib = path or library_path()
    except LibraryNotFoundError as e:
        return [Check("library", FAIL, str(e), "reinstall hami-core from a complete checkout: pip install .")]
    if not os.path.isfile(lib):
        return [Check("library", FAIL, f"{lib}: no such file",
                      "reinstall hami-core (pip install .) or point HAMI_LIBRARY at an existing libhami.so")]
    out = [Check("library", OK, lib)]
    want_machine = _MACHINE_NAMES.get(platform.machine().lower())
    want_bits = 64 if sys.maxsize > 2**32 else 32
    try:
        bits, machine = _elf_info(lib)
    except (OSError, ValueError) as e:
        out.append(Check("library.arch", FAIL, f"{lib}: {e}", "reinstall hami-core (pip install .)"))
        return out
    name = _ELF_MACHINES.get(machine, f"machine {machine}")
    if (want_machine is not None and machine != want_machine) or bits != want_bits:
        out.append(Check("library.arch", FAIL,
                         f"{lib} is a {bits}-bit {name} library; this machine is {want_bits}-bit "
                         f"{platform.machine()}: the loader will refuse to preload it",
                         "build hami-core on (or for) this machine: pip install . from the source"))
        return out
    out.append(Check("library.arch", OK, f"{bits}-bit {name}, matches this machine ({platform.machine()})"))
    with tempfile.TemporaryDirectory(prefix="hami-doctor-") as tmp:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("HAMI_", "CUDA_DEVICE_", "NPU_"))}
        env.update(LD_PRELOAD=lib, HAMI_REGION=os.path.join(tmp, "probe.region"), HAMI_LOG_LEVEL="error")
        true = "/bin/true" if os.path.exists("/bin/true") else "true"
        try:
            r = subprocess.run([true], env=env, capture_output=True, text=True, timeout=20)
            msg = (r.stderr or "").strip()
        except (OSError, subprocess.SubprocessError) as e:
            r, msg = None, str(e)
    if r is None or r.returncode != 0 or "cannot be preloaded" in msg or "ERROR: ld.so" in msg:
        out.append(Check("library.load", FAIL, f"the loader cannot preload {lib}: {msg.splitlines()[0] if msg else 'exit ' + str(r.returncode if r else '?')}",
                         "install the missing dependencies it names (ldd " + lib + "), or reinstall hami-core"))
    else:
        out.append(Check("library.load", OK, "LD_PRELOAD of it works (probed with /bin/true)"))
    return out


# --------------------------------------------------------------------------------------------
# Drivers

_PROBE = r"""
import ctypes, json, sys
name = sys.argv[1]
res = {"name": name, "loaded": False}
try:
    lib = ctypes.CDLL(name)
    res["loaded"] = True
    res["simulated"] = hasattr(lib, "hamiSimDeviceBusy")
    with open("/proc/self/maps") as f:
        for line in f:
            p = line.split()[-1] if len(line.split()) >= 6 else ""
            base = p.rsplit("/", 1)[-1]
            if base.startswith(name.split(".so")[0] + ".so"):
                res["path"] = p
                break
except OSError as e:
    res["error"] = str(e)
print(json.dumps(res))
"""

_DRIVERS = (
    ("driver.cuda", "cuda", "libcuda.so.1", "the CUDA driver"),
    ("driver.nvml", "cuda", "libnvidia-ml.so.1", "NVML (what nvidia-smi uses)"),
    ("driver.ascend", "ascend", "libascendcl.so", "the Ascend ACL runtime"),
)


def _ldconfig() -> Dict[str, str]:
    """name -> path from ``ldconfig -p`` ({} when ldconfig is not there)."""
    for exe in ("/sbin/ldconfig", "/usr/sbin/ldconfig", "ldconfig"):
        try:
            r = subprocess.run([exe, "-p"], capture_output=True, text=True, timeout=10)
        except (OSError, subprocess.SubprocessError):
            continue
        out: Dict[str, str] = {}
        for line in r.stdout.splitlines():
            m = re.match(r"\s*(\S+)\s.*=>\s*(\S+)", line)
            if m:
                out.setdefault(m.group(1), m.group(2))
        return out
    return {}


def probe_driver(name: str, env: Optional[Mapping[str, str]] = None) -> dict:
    """dlopen ``name`` in a subprocess (without LD_PRELOAD): {"loaded", "path", "simulated", "error"}."""
    env = dict(os.environ if env is None else env)
    env.pop("LD_PRELOAD", None)
    try:
        r = subprocess.run([sys.executable, "-c", _PROBE, name], env=env, capture_output=True, text=True, timeout=30)
        return json.loads(r.stdout.strip().splitlines()[-1])
    except (OSError, subprocess.SubprocessError, ValueError, IndexError) as e:
        return {"name": name, "loaded": False, "error": f"probe failed: {e}"}


def check_drivers(env: Optional[Mapping[str, str]] = None) -> List[Check]:
    """Which library each vendor resolves to: real, simulated (``hami-core sim``), or missing."""
    try:
        from . import sim_library_dir

        simdir: Optional[str] = os.path.realpath(sim_library_dir())
    except Exception:
        simdir = None
    ldc = _ldconfig()
    results = {name: probe_driver(name, env) for _, _, name, _ in _DRIVERS}
    vendors_present = {v for _, v, name, _ in _DRIVERS if results[name].get("loaded")}
    out: List[Check] = []
    for check, vendor, name, what in _DRIVERS:
        res = results[name]
        if res.get("loaded"):
            path = res.get("path", "?")
            sim = res.get("simulated") or (simdir is not None and os.path.realpath(path).startswith(simdir + os.sep))
            if sim:
                out.append(Check(check, OK, f"{name} -> {path}: simulated devices (hami-core sim), not a real {vendor} device"))
            else:
                out.append(Check(check, OK, f"{name} -> {path}: the real {what}"))
            continue
        err = (res.get("error") or "not found").splitlines()[0]
        registered = ldc.get(name)
        if registered:
            out.append(Check(check, FAIL, f"{name} is registered with ldconfig at {registered} but does not load: {err}",
                             f"check that {registered} matches this machine's architecture and driver install"))
        elif vendor in vendors_present:
            out.append(Check(check, WARN if name == "libnvidia-ml.so.1" else OK,
                             f"{name}: not found ({what}); fine unless a program needs it",
                             "install the vendor's driver package" if name == "libnvidia-ml.so.1" else None))
        else:
            out.append(Check(check, WARN, f"{name}: not found: no {vendor} driver on this machine, so {vendor} "
                             "programs cannot run (nothing to cap)",
                             f"install {what}, or try hami-core on simulated devices: hami-core sim -- CMD"))
    return out


# --------------------------------------------------------------------------------------------
# Is it active?


def _preload_entries(text: str) -> List[str]:
    return [p for p in re.split(r"[:\s]+", text) if p]


def check_preload(env: Optional[Mapping[str, str]] = None) -> List[Check]:
    """Whether libhami.so is preloaded in this process tree, and whether HAMi's libvgpu.so is too."""
    env = dict(os.environ if env is None else env)
    etc = env.get("HAMI_ETC_LD_SO_PRELOAD") or "/etc/ld.so.preload"
    try:
        with open(etc, encoding="utf-8", errors="replace") as f:
            etc_entries = _preload_entries(f.read())
    except OSError:
        etc_entries = []
    env_entries = _preload_entries(env.get("LD_PRELOAD", ""))
    out: List[Check] = []
    ours = [(src, p) for src, entries in (("LD_PRELOAD", env_entries), (etc, etc_entries))
            for p in entries if os.path.basename(p) == "libhami.so"]
    if ours:
        src, p = ours[0]
        if "/" in p and not os.path.isfile(p):
            out.append(Check("preload", FAIL, f"{src} names {p}, which does not exist: the loader skips it and "
                             "nothing is capped", "fix the path (hami-core run sets it for you)"))
        else:
            try:
                bundled: Optional[str] = library_path()
            except LibraryNotFoundError:
                bundled = None
            other = f" (not the one of this hami-core, {bundled})" if bundled and os.path.realpath(p) != os.path.realpath(bundled) else ""
            out.append(Check("preload", OK, f"active: {src} preloads {p}{other}"))
    else:
        out.append(Check("preload", WARN, "not active here: neither LD_PRELOAD nor " + etc + " preloads libhami.so, "
                         "so programs started from this shell are not capped",
                         "start programs with `hami-core run [--memory SIZE] [--compute PCT] -- CMD`, or use the "
                         "container entrypoint (docker/entrypoint.sh)"))
    vgpu = [(src, p) for src, entries in (("LD_PRELOAD", env_entries), (etc, etc_entries))
            for p in entries if os.path.basename(p).startswith("libvgpu.so")]
    if vgpu:
        src, p = vgpu[0]
        out.append(Check("preload.libvgpu", WARN,
                         f"{src} also preloads HAMi's {p}: two interception layers count and cap the same memory "
                         "and launches twice",
                         "set CUDA_DISABLE_CONTROL=true in the container's env so HAMi's device plugin does not "
                         "mount libvgpu.so (or remove it from " + src + ")"))
    return out


# --------------------------------------------------------------------------------------------
# The region


_REGION_MAGIC = b"HAMIRGN\0"  # HAMI_REGION_MAGIC with its NUL, the first 8 bytes of every region


_NOT_A_REGION_FIX = ("{path} is not a hami-core region: point --region / HAMI_REGION at a hami-core region "
                     "(or at a path where one can be created)")


def _has_region_magic(path: str) -> bool:
    """True when the file starts with the region magic (a hami-core region, whatever its layout)."""
    try:
        with open(path, "rb") as f:
            return f.read(len(_REGION_MAGIC)) == _REGION_MAGIC
    except OSError:
        return False


def check_region(region: Optional[str] = None) -> List[Check]:
    """The region file: where, whether it can be used, its format, stale processes, invalid limits."""
    from . import region_path

    path = region_path(region)
    out: List[Check] = []
    if not os.path.exists(path):
        d = os.path.dirname(path) or "."
        if not os.path.isdir(d):
            return [Check("region", FAIL, f"{path}: its directory {d} does not exist, so no process can create it",
                          f"mkdir -p {d} (a volume shared by the container's processes), or set HAMI_REGION")]
        if not os.access(d, os.W_OK | os.X_OK):
            return [Check("region", FAIL, f"{path}: not there yet and {d} is not writable, so no process can create it",
                          f"make {d} writable for this user, or set HAMI_REGION to a writable place")]
        return [Check("region", OK, f"{path}: not created yet (the first process that uses a device creates it)")]
    if not os.path.isfile(path):
        return [Check("region", FAIL, f"{path} is not a regular file", "point HAMI_REGION at a file path")]
    st = os.stat(path)
    mode = f"{st.st_mode & 0o777:03o}"
    if not os.access(path, os.R_OK | os.W_OK):
        if os.access(path, os.R_OK) and not _has_region_magic(path):  # e.g. --region /etc/passwd
            out.append(Check("region", FAIL, f"{path} (mode {mode}, owner uid {st.st_uid}) is not a hami-core region",
                             _NOT_A_REGION_FIX.format(path=path)))
            return out
        out.append(Check("region", FAIL, f"{path} (mode {mode}, owner uid {st.st_uid}) is not readable and writable "
                         "by this user: processes here cannot join it and fail closed",
                         f"chmod u+rw {path} (or run as uid {st.st_uid}), or use another HAMI_REGION"))
        return out
    out.append(Check("region", OK, f"{path} (mode {mode}, {st.st_size} bytes)"))
    try:
        r = _native.Region(path, False)
    except RegionFormatError as e:
        if _has_region_magic(path):  # a hami-core region of another layout version (or damaged)
            fix = f"when no process uses it, remove it (rm {path}); the next process creates a fresh one"
        else:  # some other file: never suggest deleting it
            fix = _NOT_A_REGION_FIX.format(path=path)
        out.append(Check("region.format", FAIL, f"{e}: it is refused, never reinterpreted", fix))
        return out
    except RegionNotFoundError:
        out.append(Check("region.format", OK, f"{path} disappeared while being checked"))
        return out
    except RegionError as e:
        out.append(Check("region.format", FAIL, str(e), "check the file's permissions and the disk"))
        return out
    with r:
        devs = r.devices()
        procs = r.processes()
    out.append(Check("region.format", OK, f"hami-core region, layout version {_native.REGION_VERSION}; "
                     f"{len(devs)} device(s), {sum(1 for p in procs if p['alive'])} live process(es)"))
    slot_name = {int(d["slot"]): d["uuid"] for d in devs}
    stale = [p for p in procs if not p["alive"]]
    held = [p for p in stale if any(int(v) for v in p["used_bytes"].values())]
    if held:
        total = sum(int(v) for p in held for v in p["used_bytes"].values())
        pids = ", ".join(str(p["pid"]) for p in held[:8]) + (" ..." if len(held) > 8 else "")
        out.append(Check("region.stale", WARN,
                         f"{len(held)} dead process(es) (pid {pids}) still hold {_fmt(total)} in the region: they "
                         "count against the cap until reclaimed",
                         f"hami-core status --region {path} reclaims them (a failing allocation does too)"))
    elif stale:
        out.append(Check("region.stale", OK, f"{len(stale)} dead process slot(s) holding nothing (freed on next attach)"))
    else:
        out.append(Check("region.stale", OK, "no dead processes"))
    bad = [d for d in devs if d["memory_invalid"] or d["compute_invalid"]]
    for d in bad:
        what = " and ".join(w for w, f in (("memory", d["memory_invalid"]), ("compute", d["compute_invalid"])) if f)
        out.append(Check("region.devices", FAIL,
                         f"device {slot_name.get(int(d['slot']), d['slot'])}: its {what} limit was configured with a "
                         "value that did not parse, so it refuses work",
                         "fix the variable (see env.* above) and restart, or set a valid cap live: "
                         f"hami-core set --region {path} --memory SIZE --compute PCT"))
    return out


# --------------------------------------------------------------------------------------------
# All of it


def diagnose(region: Optional[str] = None, env_only: bool = False,
             env: Optional[Mapping[str, str]] = None) -> List[Check]:
    """Run the checks (only the environment's with ``env_only``) and return them in order."""
    if env_only:
        return check_environment(env)
    checks: List[Check] = []
    checks += check_library(os.environ.get("HAMI_LIBRARY") or None)
    checks += check_drivers(env)
    checks += check_preload(env)
    checks += check_environment(env)
    checks += check_region(region)
    return checks


_MARK = {OK: " ok ", WARN: "WARN", FAIL: "FAIL"}


def format_checks(checks: List[Check]) -> str:
    """Plain text: one line per check, the fix under each warning or failure, a summary."""
    lines = []
    for c in checks:
        lines.append(f"[{_MARK.get(c.status, c.status)}] {c.check}: {c.detail}")
        if c.status != OK and c.fix:
            lines.append(f"       fix: {c.fix}")
    fails = sum(c.status == FAIL for c in checks)
    warns = sum(c.status == WARN for c in checks)
    if fails:
        lines.append(f"{fails} problem(s), {warns} warning(s): fix the FAIL lines above.")
    elif warns:
        lines.append(f"no problems; {warns} warning(s).")
    else:
        lines.append("all good.")
    return "\n".join(lines)


def run_doctor(region: Optional[str], env_only: bool, as_json: bool) -> int:
    """``hami-core doctor``: print the checks; 0 when none failed (warnings allowed), else 1."""
    checks = diagnose(region, env_only)
    if as_json:
        sys.stdout.write(json.dumps([c.to_dict() for c in checks], indent=2) + "\n")
    else:
        sys.stdout.write(format_checks(checks) + "\n")
    sys.stdout.flush()
    return 1 if any(c.status == FAIL for c in checks) else 0
