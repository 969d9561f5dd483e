"""The ``hami-core`` command line.

The CLI only formats what :mod:`hami_core` returns.  Every view has ``--json`` (stable, schema
versioned by the ``"schema"`` key).  Errors are one line on stderr -- what was wrong and what to
do -- with a non-zero exit code; ``hami-core --debug ...`` shows tracebacks.

Exit codes: 0 ok; 1 an operation failed (missing/corrupt region, missing library ...); 2 bad
usage or a bad value; 126/127 the command could not be executed / was not found; for ``run``
and ``sim`` otherwise the command's own exit code (128+N when it died of signal N).
"""
from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time
from typing import Dict, List, Optional, Sequence, Tuple

import click

from . import (
    DeviceUsage,
    HamiError,
    ProcessUsage,
    RegionError,
    RegionFormatError,
    RecentUse,
    RegionNotFoundError,
    UsageSampler,
    __version__,
    _native,
)

JSON_SCHEMA = 1


class Fail(Exception):
    """A one-line error for the user, with the exit code to leave with."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


# --------------------------------------------------------------------------------------------
# Formatting helpers


def fmt_bytes(n: int) -> str:
    n = int(n)
    for unit, shift in (("TiB", 40), ("GiB", 30), ("MiB", 20), ("KiB", 10)):
        if n >= 1 << shift:
            v = n / (1 << shift)
            return f"{v:.2f} {unit}" if v < 100 else f"{v:.0f} {unit}"
    return f"{n} B"


def _echo_json(obj: object) -> None:
    click.echo(json.dumps(obj, indent=2, sort_keys=False))


# --------------------------------------------------------------------------------------------
# Value parsing (one grammar, in C, via _native)


def _split_dev(value: str) -> Tuple[Optional[str], str]:
    if "=" in value:
        dev, _, v = value.partition("=")
        return dev.strip(), v.strip()
    return None, value.strip()


def _parse_values(option: str, values: Sequence[str], kind: str, dev_is_ordinal: bool) -> List[Tuple[Optional[str], int]]:
    """Validate every SIZE|DEV=SIZE (kind 'size') or PCT|DEV=PCT (kind 'percent') value.
    Raises Fail(code 2) on the first bad one, naming the option and the value."""
    out: List[Tuple[Optional[str], int]] = []
    parse = _native.parse_size if kind == "size" else _native.parse_percent
    for raw in values:
        dev, v = _split_dev(raw)
        if dev is not None:
            if dev == "":
                raise Fail(f"{option} '{raw}': missing device before '=' (expected DEV={kind.upper()})", 2)
            if dev_is_ordinal and not (dev.isdigit() and int(dev) < _native.MAX_DEVICES):
                raise Fail(f"{option} '{raw}': device '{dev}': expected a device ordinal 0..{_native.MAX_DEVICES - 1}", 2)
        try:
            out.append((dev, int(parse(v))))
        except ValueError as e:
            msg = str(e)
            if dev is None and msg.startswith(f'"{v}" '):  # the C message quotes the value itself
                raise Fail(f"{option} {msg}", 2) from None
            raise Fail(f"{option} '{raw}': {msg}", 2) from None
    return out


_MEMORY_VARS = ("HAMI_MEMORY_LIMIT", "CUDA_DEVICE_MEMORY_LIMIT", "NPU_MEM_QUOTA")
_COMPUTE_VARS = ("HAMI_COMPUTE_LIMIT", "CUDA_DEVICE_SM_LIMIT", "NPU_PRIORITY")


def _drop_vars(env: Dict[str, str], prefixes: Sequence[str]) -> None:
    for key in list(env):
        for p in prefixes:
            if key == p or (key.startswith(p + "_") and key[len(p) + 1:].isdigit()):
                del env[key]


def _check_region(ctx: click.Context, param: click.Parameter, value: Optional[str]) -> Optional[str]:
    """--region callback: an empty path is an error (it would silently mean the default region)."""
    if value is not None and value == "":
        raise Fail("--region '': expected a path (leave --region out for the default region)", 2)
    return value


# --------------------------------------------------------------------------------------------
# The group


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--debug", is_flag=True, help="Show Python tracebacks on errors.")
@click.version_option(__version__, prog_name="hami-core")
def cli(debug: bool) -> None:
    """hami-core: share GPUs/NPUs between containers with memory and compute caps.

    \b
    Quick look on simulated devices:   hami-core demo
    Cap a program at 4 GiB:            hami-core run --memory 4g -- python train.py
    Try it without a GPU:              hami-core sim -- hami-core run --memory 2g -- CMD
    See live usage:                    hami-core status
    """


_PASSTHROUGH = {"ignore_unknown_options": True, "allow_interspersed_args": False}


# --------------------------------------------------------------------------------------------
# run


@cli.command(context_settings=_PASSTHROUGH)
@click.option("--memory", "-m", multiple=True, metavar="SIZE|DEV=SIZE",
              help="Memory cap (0 = none) for every device, or for device ordinal DEV (repeatable). "
                   "Sizes: 512m, 4g, 1536Mi, 2GB, bytes.")
@click.option("--compute", "-c", multiple=True, metavar="PCT|DEV=PCT",
              help="Compute cap in percent of device time, 1-100 (0 = none), for every device or DEV.")
@click.option("--region", metavar="PATH", callback=_check_region, help="Region file of this group of processes "
              "(default: $HAMI_REGION, else $TMPDIR/hami-<uid>.region).")
@click.option("--policy", type=click.Choice(["force", "disable"]), help="force (default) or disable the caps.")
@click.option("--log-level", type=click.Choice(["error", "warn", "info", "debug"]), help="Library log level.")
@click.argument("command", nargs=-1, required=True, type=click.UNPROCESSED, metavar="-- CMD [ARGS]...")
def run(memory: Tuple[str, ...], compute: Tuple[str, ...], region: Optional[str], policy: Optional[str],
        log_level: Optional[str], command: Tuple[str, ...]) -> None:
    """Execute CMD with the interception library preloaded and the limits set.

    The options replace any memory (compute) variables already in the environment, HAMi's
    aliases included.  Every value is checked before anything starts; CMD replaces this
    process, so its exit code is the exit code."""
    from . import preload_value

    mems = _parse_values("--memory", memory, "size", dev_is_ordinal=True)
    pcts = _parse_values("--compute", compute, "percent", dev_is_ordinal=True)
    try:
        preload = preload_value(os.environ.get("LD_PRELOAD", ""))
    except HamiError as e:
        raise Fail(str(e), 1) from None
    env = dict(os.environ)
    if mems:
        _drop_vars(env, _MEMORY_VARS)
    for dev, v in mems:
        env["HAMI_MEMORY_LIMIT" + (f"_{int(dev)}" if dev is not None else "")] = str(v)
    if pcts:
        _drop_vars(env, _COMPUTE_VARS)
    for dev, v in pcts:
        env["HAMI_COMPUTE_LIMIT" + (f"_{int(dev)}" if dev is not None else "")] = str(v)
    if policy:
        env.pop("GPU_CORE_UTILIZATION_POLICY", None)
        env["HAMI_POLICY"] = policy
    if log_level:
        env.pop("LIBCUDA_LOG_LEVEL", None)
        env["HAMI_LOG_LEVEL"] = log_level
    if region:
        env["HAMI_REGION"] = os.path.abspath(region)
    elif not env.get("HAMI_REGION"):
        env["HAMI_REGION"] = _native.default_region_path()
    env["LD_PRELOAD"] = preload
    argv = list(command)
    try:
        sys.stdout.flush()
        sys.stderr.flush()
        os.execvpe(argv[0], argv, env)
    except FileNotFoundError:
        raise Fail(f"{argv[0]}: command not found", 127) from None
    except PermissionError:
        raise Fail(f"{argv[0]}: permission denied (not executable)", 126) from None
    except OSError as e:
        raise Fail(f"{argv[0]}: cannot execute: {e.strerror}", 126) from None


# --------------------------------------------------------------------------------------------
# sim


def _run_child(argv: Sequence[str], env: Dict[str, str]) -> int:
    """Run argv as a child, forwarding SIGTERM/SIGHUP/SIGQUIT (SIGINT reaches it from the
    terminal directly); return its exit code, 128+N for death by signal N."""
    try:
        proc = subprocess.Popen(list(argv), env=env)
    except FileNotFoundError:
        raise Fail(f"{argv[0]}: command not found", 127) from None
    except PermissionError:
        raise Fail(f"{argv[0]}: permission denied (not executable)", 126) from None
    except OSError as e:
        raise Fail(f"{argv[0]}: cannot execute: {e.strerror}", 126) from None

    def forward(signum, _frame):  # noqa: ANN001
        try:
            proc.send_signal(signum)
        except ProcessLookupError:
            pass

    old = {}
    for s in (signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1, signal.SIGUSR2):
        old[s] = signal.signal(s, forward)
    old[signal.SIGINT] = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        while True:
            try:
                rc = proc.wait()
                break
            except InterruptedError:  # pragma: no cover
                continue
    finally:
        for s, h in old.items():
            signal.signal(s, h)
    return 128 - rc if rc < 0 else rc


@cli.command(context_settings=_PASSTHROUGH)
@click.option("--devices", "-n", default=2, show_default=True, type=int, help="Number of simulated devices (1-16).")
@click.option("--memory", "-m", default="16Gi", show_default=True, metavar="SIZE", help="Memory per device.")
@click.option("--sms", default=108, show_default=True, type=int, help="SMs (AI cores) per device.")
@click.option("--block-ns", default=10_000, show_default=True, type=int,
              help="Duration of one wave of blocks of an ordinary kernel, ns.")
@click.option("--vendor", default="cuda", show_default=True, metavar="cuda|ascend|cuda,ascend",
              help="Which vendor libraries the devices answer to.")
@click.argument("command", nargs=-1, required=True, type=click.UNPROCESSED, metavar="-- CMD [ARGS]...")
def sim(devices: int, memory: str, sms: int, block_ns: int, vendor: str, command: Tuple[str, ...]) -> None:
    """Run CMD on fresh simulated devices (no GPU needed).

    The simulated libraries come first on LD_LIBRARY_PATH (CUDA: libcuda.so.1, libnvidia-ml.so.1;
    Ascend: libascendcl.so, libruntime.so, libhami_sim_opapi.so); their state (and a fresh region,
    unless HAMI_REGION is set) lives in a temporary directory removed afterwards.  Composes with
    run:  hami-core sim --vendor cuda,ascend -- hami-core run --memory 1g -- CMD"""
    from . import sim_library_dir
    from .sim import parse_vendors, session

    _parse_values("--memory", [memory], "size", dev_is_ordinal=False)
    if not 1 <= devices <= _native.SIM_MAX_DEVICES:
        raise Fail(f"--devices {devices}: expected 1..{_native.SIM_MAX_DEVICES}", 2)
    if sms < 1:
        raise Fail(f"--sms {sms}: expected a positive number", 2)
    if block_ns < 1:
        raise Fail(f"--block-ns {block_ns}: expected a positive number of nanoseconds", 2)
    try:
        vendors = parse_vendors(vendor)
        if vendors & 2 and not os.path.exists(os.path.join(sim_library_dir(), "libascendcl.so")):
            raise ValueError(f"'{vendor}': this hami-core was built without the simulated Ascend libraries "
                             "(libascendcl.so, libruntime.so); reinstall from a complete checkout or use --vendor cuda")
    except ValueError as e:
        raise Fail(f"--vendor {e}", 2) from None
    except HamiError as e:
        raise Fail(str(e), 1) from None
    try:
        ctx = session(devices=devices, memory=memory, sms=sms, block_ns=block_ns, vendors=vendors)
        s = ctx.__enter__()
    except HamiError as e:
        raise Fail(str(e), 1) from None
    except ValueError as e:
        raise Fail(f"cannot create the simulated devices: {e}", 1) from None
    try:
        rc = _run_child(command, s.env)
    finally:
        ctx.__exit__(None, None, None)
    sys.exit(rc)


# --------------------------------------------------------------------------------------------
# status / top / set


def _snapshot(region: Optional[str]) -> Tuple[str, List[DeviceUsage], List[ProcessUsage]]:
    from . import _device_usage, _processes, _read, region_path

    path = region_path(region)
    try:
        with _native.Region(path, False) as r:
            devs, index_of = _read(r, reclaim=True)
            procs = _processes(r, index_of)
    except RegionNotFoundError:
        raise Fail(
            f"no region at {path}: no process has used a device under the library with it yet "
            "(start one with `hami-core run -- CMD`) or pass --region PATH", 1) from None
    except RegionFormatError as e:
        raise Fail(f"{e} (check --region / HAMI_REGION)", 1) from None
    except RegionError as e:
        raise Fail(str(e), 1) from None
    return path, [_device_usage(i, d) for i, d in enumerate(devs)], procs


def _sampled_snapshot(region: Optional[str], interval: float
                      ) -> Tuple[str, List[DeviceUsage], List[ProcessUsage], Optional[Dict[str, RecentUse]]]:
    """A snapshot, and with ``interval`` > 0 the recent compute use per device UUID
    (:class:`hami_core.UsageSampler` over two readings ``interval`` seconds apart)."""
    if interval <= 0:
        path, devices, procs = _snapshot(region)
        return path, devices, procs, None
    sampler = UsageSampler(region, prime=False)
    _, first, first_procs = _snapshot(region)
    sampler.update(first, first_procs)
    time.sleep(interval)
    path, devices, procs = _snapshot(region)
    return path, devices, procs, sampler.update(devices, procs)


def _rate_fields(r: Optional[RecentUse]) -> dict:
    if r is None:
        return {"compute_used_pct": None, "throttled_ns_per_s": None, "throttled_pct": None, "launches_per_s": None}
    return {"compute_used_pct": round(r.busy_pct, 1), "throttled_ns_per_s": int(r.throttled_pct * 1e7),
            "throttled_pct": round(r.throttled_pct, 1), "launches_per_s": round(r.launches_per_s, 1)}


def status_json(path: str, devices: List[DeviceUsage], procs: List[ProcessUsage],
                rates: Optional[Dict[str, RecentUse]] = None) -> dict:
    """The ``status --json`` document (schema 1, see README)."""
    devs = []
    for d in devices:
        e = d.to_dict()
        e.update(_rate_fields(rates.get(d.uuid) if rates else None))
        devs.append(e)
    return {
        "schema": JSON_SCHEMA,
        "region": path,
        "sample_interval_s": (round(next(iter(rates.values())).window_s, 3) if rates else None),
        "devices": devs,
        "processes": [p.to_dict() for p in procs],
    }


def _limit_text(d: DeviceUsage) -> str:
    if d.memory_limit_invalid:
        return "INVALID"
    return fmt_bytes(d.memory_limit_bytes) if d.memory_limit_bytes else "none"


def _compute_text(d: DeviceUsage) -> str:
    if d.compute_limit_invalid:
        return "INVALID"
    return f"{d.compute_limit_pct}%" if d.compute_limit_pct else "none"


def status_text(path: str, devices: List[DeviceUsage], procs: List[ProcessUsage],
                rates: Optional[Dict[str, RecentUse]] = None) -> str:
    """The ``status`` table: devices (memory, compute cap, use and throttling over the last
    second when ``rates`` is given), then processes."""
    lines = [f"region {path}"]
    if not devices:
        lines.append("  no devices yet (no process has used a device under the library)")
    else:
        lines.append(f"{'DEV':>3}  {'VENDOR':<6}  {'UUID':<40}  {'IN USE':>10}  {'CAP':>10}  {'FREE':>10}  "
                     f"{'COMPUTE':>7}  {'USED/1s':>7}  {'THROTTLED/1s':>17}  {'LAUNCHES':>9}  POLICY")
        for d in devices:
            r = rates.get(d.uuid) if rates else None
            used = f"{r.busy_pct:.1f}%" if r else "-"
            thr = f"{r.throttled_pct * 10:.1f} ms ({r.throttled_pct:.0f}%)" if r else "-"
            lines.append(
                f"{d.index:>3}  {d.vendor:<6}  {d.uuid[:40]:<40}  {fmt_bytes(d.used_bytes):>10}  "
                f"{_limit_text(d):>10}  {fmt_bytes(d.free_bytes):>10}  {_compute_text(d):>7}  {used:>7}  "
                f"{thr:>17}  {d.launches:>9}  {d.policy}")
    lines.append("")
    if not procs:
        lines.append("no processes attached")
    else:
        lines.append(f"{'PID':>8}  {'NAME':<20}  {'DEV':>3}  {'MEMORY':>10}")
        for p in procs:
            name = (p.name or "?") if p.alive else "(dead)"
            if not p.used_bytes:
                lines.append(f"{p.pid:>8}  {name[:20]:<20}  {'-':>3}  {fmt_bytes(0):>10}")
            for dev, b in sorted(p.used_bytes.items()):
                lines.append(f"{p.pid:>8}  {name[:20]:<20}  {dev:>3}  {fmt_bytes(b):>10}")
    return "\n".join(lines)


@cli.command()
@click.option("--region", metavar="PATH", callback=_check_region, help="Region file (default: $HAMI_REGION, else the default path).")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output (schema in the README).")
@click.option("--interval", default=0.5, show_default=True, type=float, metavar="S",
              help="Seconds between the two readings of the compute counters (0: no sampling, rates shown as -).")
def status(region: Optional[str], as_json: bool, interval: float) -> None:
    """Devices, limits, usage and processes of a region.

    Per device: memory in use / cap / free, the compute cap, the device time the container
    used over the last second (USED/1s) and the time its threads spent throttled (summed over
    threads, ns and % of the second).  The region keeps cumulative counters, so status reads
    them twice --interval seconds apart (0.5 s by default) and scales the difference to one
    second."""
    if not math.isfinite(interval) or interval < 0:
        raise Fail(f"--interval {interval}: expected 0 or a positive, finite number of seconds", 2)
    path, devices, procs, rates = _sampled_snapshot(region, interval)
    if as_json:
        _echo_json(status_json(path, devices, procs, rates))
    else:
        click.echo(status_text(path, devices, procs, rates))


def _import_optional(module: str, what: str):  # noqa: ANN202 - a module object
    """Import hami_core.<module>; a one-line Fail when this installation lacks it."""
    import importlib

    try:
        return importlib.import_module(f"hami_core.{module}")
    except ImportError as e:
        if getattr(e, "name", None) in (f"hami_core.{module}", module):
            raise Fail(f"`hami-core {what}` is not available in this installation (hami_core/{module}.py is "
                       "missing); reinstall from a complete checkout", 1) from None
        raise


@cli.command()
@click.option("--region", metavar="PATH", callback=_check_region, help="Region file (default: $HAMI_REGION, else the default path).")
@click.option("--dir", "directory", metavar="PATH", help="Show every region file under this directory.")
@click.option("--interval", default=1.0, show_default=True, type=float, help="Seconds between refreshes.")
@click.option("--count", default=0, type=int, help="Stop after N refreshes (0 = until q or Ctrl-C).")
def top(region: Optional[str], directory: Optional[str], interval: float, count: int) -> int:
    """A live view of a region's devices and processes (or of every region under --dir):
    memory with bars, compute cap against use over the last second, throttled time.  Quits on
    q or Ctrl-C; plain periodic output when not on a terminal."""
    if not math.isfinite(interval) or interval <= 0:
        raise Fail(f"--interval {interval}: expected a positive, finite number of seconds", 2)
    if count < 0:
        raise Fail(f"--count {count}: expected 0 (forever) or a positive number", 2)
    if region and directory:
        raise Fail("give either --region or --dir, not both", 2)
    mod = _import_optional("top", "top")
    try:
        return int(mod.run_top(region, interval, count, directory))
    except RegionNotFoundError as e:
        raise Fail(f"{e} (start a process with `hami-core run -- CMD` or pass --region PATH)", 1) from None
    except (RegionError, HamiError) as e:
        raise Fail(str(e), 1) from None


@cli.command()
@click.option("--region", metavar="PATH", callback=_check_region, help="Region file to check (default: $HAMI_REGION, else the default path).")
@click.option("--env-only", is_flag=True, help="Check only the environment variables (what a container entrypoint does).")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def doctor(region: Optional[str], env_only: bool, as_json: bool) -> int:
    """What is wrong with this environment, in plain words, with a fix for each problem.

    Exit 0 when all is well."""
    mod = _import_optional("doctor", "doctor")
    return int(mod.run_doctor(region, env_only, as_json))


@cli.command(name="set")
@click.option("--memory", "-m", multiple=True, metavar="SIZE|DEV=SIZE",
              help="New memory cap (0 = none) for every device, or device DEV (index in the region "
                   "as `status` shows it, or a UUID prefix).")
@click.option("--compute", "-c", multiple=True, metavar="PCT|DEV=PCT",
              help="New compute cap in percent (0 = none); running processes follow at once.")
@click.option("--region", metavar="PATH", callback=_check_region)
@click.option("--json", "as_json", is_flag=True)
def set_(memory: Tuple[str, ...], compute: Tuple[str, ...], region: Optional[str], as_json: bool) -> None:
    """Change live limits; running processes follow without restart.

    All or nothing: every value is checked and every DEV resolved against one reading of the
    region before anything is written."""
    from . import DeviceNotFoundError, _apply_limits

    if not memory and not compute:
        raise Fail("nothing to set: give --memory SIZE|DEV=SIZE and/or --compute PCT|DEV=PCT", 2)
    mems = _parse_values("--memory", memory, "size", dev_is_ordinal=False)
    pcts = _parse_values("--compute", compute, "percent", dev_is_ordinal=False)
    path, devices, _ = _snapshot(region)  # the region must exist and be readable: one clear message otherwise
    if not devices:
        raise Fail(f"region {path} has no devices yet, so there is nothing to set: start a process under "
                   "the library first (`hami-core run -- CMD`), or set limits at start with `hami-core run "
                   "--memory/--compute`", 1)
    # global values first, then per-device ones (a per-device value wins for its device)
    changes = [(dev, v, None) for dev, v in mems if dev is None] + [(dev, v, None) for dev, v in mems if dev is not None] + \
        [(dev, None, v) for dev, v in pcts if dev is None] + [(dev, None, v) for dev, v in pcts if dev is not None]
    try:
        _apply_limits(changes, region)
    except DeviceNotFoundError as e:
        raise Fail(f"{e}; nothing was changed (see `hami-core status`)", 2) from None
    except ValueError as e:
        raise Fail(str(e), 2) from None
    except RegionError as e:
        raise Fail(str(e), 1) from None
    path, devices, procs = _snapshot(region)
    if as_json:
        _echo_json(status_json(path, devices, procs))
    else:
        click.echo(status_text(path, devices, procs))


# --------------------------------------------------------------------------------------------
# env


@cli.command(name="env")
@click.option("--memory", "-m", multiple=True, metavar="SIZE|DEV=SIZE",
              help="Memory cap (0 = none) for every device, or for device ordinal DEV (repeatable).")
@click.option("--compute", "-c", multiple=True, metavar="PCT|DEV=PCT",
              help="Compute cap in percent, 1-100 (0 = none), for every device or DEV (repeatable).")
@click.option("--policy", type=click.Choice(["force", "disable"]), help="force (default) or disable the caps.")
@click.option("--region", metavar="PATH", callback=_check_region, help="Region path inside the container (default /run/hami/hami.region).")
@click.option("--library", metavar="PATH",
              help="Also set LD_PRELOAD to this path and mount it (for images without the entrypoint).")
@click.option("--format", "fmt", type=click.Choice(["shell", "docker", "k8s", "json"]), default="shell",
              show_default=True, help="export lines, docker run flags, a Kubernetes snippet, or JSON.")
def env_(memory: Tuple[str, ...], compute: Tuple[str, ...], policy: Optional[str], region: Optional[str],
         library: Optional[str], fmt: str) -> None:
    """Print the environment variables and mounts that put a container under these limits.

    \b
    eval "$(hami-core env --memory 4g --compute 30)"
    docker run $(hami-core env -m 4g -c 30 --format docker) IMAGE
    hami-core env -m 4g --format k8s      # env, volumeMounts and volumes for a Pod"""
    from . import containerenv as ce

    _parse_values("--memory", memory, "size", dev_is_ordinal=True)
    _parse_values("--compute", compute, "percent", dev_is_ordinal=True)
    try:
        limits = ce.limits_from_options(memory, compute, policy=policy)
        where = region or ce.DEFAULT_REGION
        env = ce.container_env(limits, region=where, library=library)
        mounts = ce.container_mounts(region=where, library=library)
        text = ce.render(fmt, env, mounts)
    except ValueError as e:
        raise Fail(str(e), 2) from None
    click.echo(text, nl=False)


# --------------------------------------------------------------------------------------------
# bench / demo


@cli.command()
@click.argument("which", type=click.Choice(["memory", "overhead", "attach", "throttle", "all"]), default="all")
@click.option("--json", "as_json", is_flag=True, help="Print the results as JSON (schema in the README).")
@click.option("--output", "-o", metavar="FILE", help="Also write the JSON results to FILE.")
@click.option("--plot", metavar="FILE", help="Write a PNG chart to FILE (needs matplotlib: the 'plot' extra).")
@click.option("--vendor", type=click.Choice(["cuda", "ascend", "both"]), default="both", show_default=True,
              help="throttle/all: which simulated vendor(s) to measure (both: those installed).")
@click.option("--repeat", default=None, type=int, help="Pairs of runs without/with the library (default 5, quick 1).")
@click.option("--iterations", default=0, type=int, help="Loop iterations per run (0 = the program's default).")
@click.option("--processes", default=None, type=int, help="Processes for the attach benchmark (default 256, quick 64).")
@click.option("--quick", is_flag=True, help="Short runs and fewer cells (a smoke test, not a measurement).")
def bench(which: str, as_json: bool, output: Optional[str], plot: Optional[str], vendor: str, repeat: Optional[int],
          iterations: int, processes: Optional[int], quick: bool) -> None:
    """Measure the library against the same workload without it, in one run (simulated devices).

    \b
    memory    alloc+free pairs with a memory cap             (target <= 300 ns added)
    overhead  cuLaunchKernel with no caps                    (target <= 20 ns added)
    attach    N processes joining one region at once         (target all in <= 1 s)
    throttle  compute caps: achieved vs cap for caps 10-90 %, kernels 50 us-20 ms, 1 and 4
              processes, sync/graph/cooperative (Ascend: aclnn/model) paths, controls without
              the library, reaction to a live change, launch cost with a cap (CUDA and Ascend;
              ~6 minutes on 2 cores, --quick ~30 s)
    all       every one of them and a summary against the targets of DESIGN 5"""
    from . import bench as B
    from . import bench_throttle as T

    repeat = repeat if repeat is not None else (1 if quick else 5)
    processes = processes if processes is not None else (64 if quick else 256)
    if repeat < 1:
        raise Fail(f"--repeat {repeat}: expected at least 1", 2)
    if processes < 1:
        raise Fail(f"--processes {processes}: expected at least 1", 2)
    if quick and not iterations:
        iterations = 20_000
    if plot:
        from .plot import PlotUnavailable, _pyplot

        try:
            _pyplot()
        except PlotUnavailable as e:
            raise Fail(str(e), 1) from None
    vendors = ["cuda", "ascend"] if vendor == "both" else [vendor]
    progress = None if as_json else (lambda m: click.echo(m, err=True))
    if as_json:  # progress still goes to stderr, one line per step
        progress = lambda m: click.echo(m, err=True) if not m.startswith("  ") else None  # noqa: E731
    try:
        if which == "throttle":
            results = T.run_throttle(vendors, T.Settings.quick_settings() if quick else T.Settings(), progress=progress)
            text = T.format_throttle
        elif which == "all":
            results = B.run_all(repeat=repeat, iterations=iterations or None, processes=processes, quick=quick,
                                vendors=vendors, progress=progress)
            text = B.format_all
        else:
            results = B.run_benchmarks([which], repeat=repeat, iterations=iterations or None, processes=processes,
                                       progress=progress)
            results["summary"] = B.summarise_all(results, None)
            text = B.format_results
    except B.BenchError as e:
        raise Fail(str(e), 1) from None
    except HamiError as e:
        raise Fail(str(e), 1) from None
    if output:
        with open(output, "w", encoding="utf-8") as f:
            json.dump(results, f, indent=2)
    if plot:
        from . import plot as P

        (P.plot_throttle if which == "throttle" else P.plot_all)(results, plot)
    if as_json:
        _echo_json(results)
    else:
        click.echo(text(results))
        if plot:
            click.echo(f"plot written to {plot}")


@cli.command()
def demo() -> int:
    """A short show on simulated devices: two tenants share one GPU, one capped."""
    mod = _import_optional("demo", "demo")
    try:
        return int(mod.run_demo(click.echo))
    except HamiError as e:
        raise Fail(str(e), 1) from None


# --------------------------------------------------------------------------------------------
# entry point


def _debug_requested(argv: Sequence[str]) -> bool:
    for a in argv:
        if a == "--":
            return False
        if a == "--debug":
            return True
        if not a.startswith("-"):
            return False  # the subcommand: --debug is a group option
    return False


def main(argv: Optional[Sequence[str]] = None) -> None:
    args = list(sys.argv[1:] if argv is None else argv)
    debug = _debug_requested(args)
    try:
        rv = cli.main(args=args, prog_name="hami-core", standalone_mode=False)
    except Fail as e:
        if debug:
            raise
        click.echo(f"hami-core: {e}", err=True)
        sys.exit(e.code)
    except click.exceptions.Exit as e:
        sys.exit(e.exit_code)
    except click.ClickException as e:
        e.show()
        sys.exit(e.exit_code)
    except click.Abort:
        click.echo("hami-core: aborted", err=True)
        sys.exit(1)
    except KeyboardInterrupt:
        sys.exit(130)
    except BrokenPipeError:
        sys.exit(1)
    except Exception as e:  # noqa: BLE001 - one line unless --debug
        if debug:
            raise
        click.echo(f"hami-core: {type(e).__name__}: {e} (run `hami-core --debug ...` for the traceback)", err=True)
        sys.exit(1)
    sys.exit(rv if isinstance(rv, int) else 0)


if __name__ == "__main__":  # pragma: no cover
    main()
