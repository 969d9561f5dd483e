"""``hami-core bench throttle``: how exactly the compute cap holds (DESIGN 5), on simulated devices.

Everything is measured against the simulator's ground truth: the device time the virtual
device completed (``_native.sim_devices(state)["busy_ns"]``, exact, with its own clock), sampled
at the start and the end of a measurement window after a warm-up.  Per vendor (CUDA, Ascend):

- **Accuracy matrix**: caps 10, 30, 50, 70, 90 %; ``hami_sim_spin`` kernels of 50 us, 1 ms and
  20 ms; 1 and 4 processes of the workload, all in one container (one region, one bucket), each
  started as ``hami-core run --compute CAP --region R -- PROGRAM``.  The workload queues work
  ahead of the device (CUDA ``cuLaunchKernel``, Ascend ``aclrtLaunchKernel``); uncapped it keeps
  the device 100 % busy.
- **Other submission paths**, 1 process, 1 ms kernels, the same caps: a workload that
  synchronises after every kernel; a CUDA graph of 4 kernels (``cuGraphLaunch``) and
  cooperative launches (``cuLaunchCooperativeKernel``); on Ascend the aclnn op of the op library
  (``aclrtLaunchKernelWithHostArgs`` underneath) and an offline model (``aclmdlExecuteAsync`` ->
  ``rtModelExecute``).
- **Controls**: every workload shape once WITHOUT the library.  A cell's reference is
  ``min(cap, uncapped achievable)``: the synchronising workload cannot keep the device 100 %
  busy even uncapped, so a cap above what it reaches is not an error.  Error = achieved -
  reference, in points; the matrix's mean absolute error and worst cell are the headline.  A
  vendor whose capped cells reach what the controls reach is reported ``enforced: false``.
- **Reaction**: one process at 20 %; ``hami_core.set_limits(compute=60)`` at t0; ground truth
  sampled every 50 ms; the reaction time is the first sample time after t0 at which the
  utilisation over the trailing 200 ms is within 2 points of 60 (a 200 ms window that still
  straddles the change cannot be, so ~190 ms is the floor of this measure).
- **Overhead** with a cap and tokens available: ``hami-bench-launch`` (``hami-bench-acl-launch``
  on Ascend; zero-duration spin kernels) without the library, with it and no cap, and with it
  under ``HAMI_COMPUTE_LIMIT=100``, alternating in one run; medians.  A zero-ns kernel costs
  nothing once measured, so a 100 % bucket never makes the launcher sleep (the region's
  ``throttled_ns`` after the capped runs is reported to show it).

Vendors run side by side (one simulated device each, in separate sessions); the cells of one
vendor run one after another.  JSON: see :func:`run_throttle` and the README.
"""
from __future__ import annotations

import os
import platform
import select
import signal
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Sequence, Tuple

from . import _native, bin_dir, sim_library_dir, usage
from .bench import BenchError, real_device_present
from .sim import SimSession, session

SCHEMA = 1
CAPS: Tuple[int, ...] = (10, 30, 50, 70, 90)
KERNELS_NS: Tuple[int, ...] = (50_000, 1_000_000, 20_000_000)
PROCESSES: Tuple[int, ...] = (1, 4)
TARGET_MAE_PTS = 1.5
TARGET_REACTION_MS = 300.0
TARGET_LAUNCH_CAP_NS = 60.0
REACTION_FROM, REACTION_TO = 20, 60
REACTION_SAMPLE_S = 0.05
REACTION_WINDOW_S = 0.2
REACTION_TOLERANCE_PTS = 2.0

Progress = Optional[Callable[[str], None]]


@dataclass(frozen=True)
class VendorSpec:
    """The programs and workload names of one vendor."""

    name: str
    workload_program: str
    launch_program: str
    matrix_workload: str
    extra_workloads: Tuple[str, ...]
    apis: Dict[str, str]


VENDORS: Dict[str, VendorSpec] = {
    "cuda": VendorSpec(
        name="cuda", workload_program="hami-throttle-cuda", launch_program="hami-bench-launch",
        matrix_workload="queue", extra_workloads=("sync", "graph", "coop"),
        apis={"queue": "cuLaunchKernel", "sync": "cuLaunchKernel + cuStreamSynchronize",
              "graph": "cuGraphLaunch (4 kernel nodes)", "coop": "cuLaunchCooperativeKernel"}),
    "ascend": VendorSpec(
        name="ascend", workload_program="hami-throttle-ascend", launch_program="hami-bench-acl-launch",
        matrix_workload="launch", extra_workloads=("sync", "aclnn", "model"),
        apis={"launch": "aclrtLaunchKernel", "sync": "aclrtLaunchKernel + aclrtSynchronizeStream",
              "aclnn": "aclnnHamiSpin (op library, aclrtLaunchKernelWithHostArgs)",
              "model": "aclmdlExecuteAsync (4 tasks, rtModelExecute)"}),
}


@dataclass(frozen=True)
class Settings:
    """What one ``bench throttle`` run measures and for how long."""

    caps: Tuple[int, ...] = CAPS
    kernels_ns: Tuple[int, ...] = KERNELS_NS
    processes: Tuple[int, ...] = PROCESSES
    extra_caps: Tuple[int, ...] = CAPS
    extra_kernel_ns: int = 1_000_000
    window_s: float = 5.0
    warmup_s: float = 1.0
    control_window_s: float = 2.0
    reaction_after_s: float = 1.5
    overhead_repeat: int = 5
    overhead_iterations: int = 200_000
    quick: bool = False

    @staticmethod
    def quick_settings() -> "Settings":
        """~1 s cells, fewer of them: a smoke test of the harness, not a measurement."""
        return Settings(caps=(30, 70), kernels_ns=(1_000_000,), processes=(1, 4), extra_caps=(30,),
                        window_s=1.0, warmup_s=0.5, control_window_s=0.5, reaction_after_s=1.0,
                        overhead_repeat=1, overhead_iterations=20_000, quick=True)

    def to_dict(self) -> dict:
        return {"caps": list(self.caps), "kernels_ns": list(self.kernels_ns), "processes": list(self.processes),
                "extra_caps": list(self.extra_caps), "extra_kernel_ns": self.extra_kernel_ns,
                "window_s": self.window_s, "warmup_s": self.warmup_s, "control_window_s": self.control_window_s,
                "quick": self.quick}


@dataclass
class _Workers:
    """Workload processes of one cell (each in a process group of its own)."""

    procs: List[subprocess.Popen] = field(default_factory=list)
    logs: List[str] = field(default_factory=list)

    def stop(self) -> None:
        for p in self.procs:
            if p.poll() is None:
                try:
                    os.killpg(p.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        deadline = time.monotonic() + 5.0
        for p in self.procs:
            try:
                p.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(p.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                p.wait()
            if p.stdout:
                p.stdout.close()


def _program(name: str) -> str:
    path = os.path.join(bin_dir(), name)
    if not os.access(path, os.X_OK):
        raise BenchError(f"{path} is missing: this hami-core was built without the benchmark programs (bench/c); "
                         "reinstall with `pip install .` from a complete checkout")
    return path


def vendor_available(vendor: str) -> bool:
    """True when the simulated libraries and the workload programs of ``vendor`` are installed."""
    spec = VENDORS[vendor]
    lib = "libcuda.so.1" if vendor == "cuda" else "libascendcl.so"
    try:
        libdir = sim_library_dir()
    except Exception:  # noqa: BLE001 - no simulator at all
        return False
    return (os.path.exists(os.path.join(libdir, lib))
            and all(os.access(os.path.join(bin_dir(), p), os.X_OK)
                    for p in (spec.workload_program, spec.launch_program)))


def _log_tail(path: str) -> str:
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read()[-400:].strip()
    except OSError:
        return ""


def _start(s: SimSession, argv: Sequence[str], n: int, cap: Optional[int], region: str, tag: str) -> _Workers:
    """Start ``n`` copies of argv, under ``hami-core run --compute cap`` (cap None: without the
    library), and wait until each has printed its ready line."""
    w = _Workers()
    env = dict(s.env)
    env.pop("LD_PRELOAD", None)
    for i in range(n):
        if cap is None:
            cmd = list(argv)
        else:
            cmd = [sys.executable, "-m", "hami_core", "run", "--compute", str(cap), "--region", region, "--", *argv]
        log = os.path.join(s.directory, f"{tag}-{i}.log")
        w.logs.append(log)
        with open(log, "wb") as errf:
            w.procs.append(subprocess.Popen(cmd, env=env, cwd=s.directory, stdout=subprocess.PIPE, stderr=errf,
                                            start_new_session=True))
    deadline = time.monotonic() + 30.0
    for p, log in zip(w.procs, w.logs):
        assert p.stdout is not None
        ready = select.select([p.stdout], [], [], max(0.0, deadline - time.monotonic()))[0]
        line = p.stdout.readline() if ready else b""
        if b'"ready"' not in line:
            w.stop()
            raise BenchError(f"{os.path.basename(argv[0])} {' '.join(argv[1:3])} did not start "
                             f"(exit {p.poll()}): {_log_tail(log) or line.decode(errors='replace').strip()}")
    return w


def _truth(s: SimSession) -> Tuple[int, int]:
    d = _native.sim_devices(s.state)[0]
    return int(d["busy_ns"]), int(d["now_ns"])


def _wait_idle(s: SimSession, limit_s: float = 3.0) -> None:
    """Wait until device 0 has no more queued work (busy time stops growing)."""
    deadline = time.monotonic() + limit_s
    last = _truth(s)[0]
    while time.monotonic() < deadline:
        time.sleep(0.03)
        b = _truth(s)[0]
        if b == last:
            return
        last = b


def _measure(s: SimSession, warmup_s: float, window_s: float) -> float:
    time.sleep(warmup_s)
    b0, t0 = _truth(s)
    time.sleep(window_s)
    b1, t1 = _truth(s)
    return 100.0 * (b1 - b0) / max(1, t1 - t0)


def _run_cell(s: SimSession, spec: VendorSpec, workload: str, kernel_ns: int, nproc: int, cap: Optional[int],
              warmup_s: float, window_s: float, index: int) -> dict:
    prog = _program(spec.workload_program)
    region = os.path.join(s.directory, f"cell-{index}.region")
    seconds = warmup_s + window_s + 30.0  # a safety net: the cell stops them long before
    w = _start(s, [prog, workload, str(kernel_ns), f"{seconds:g}"], nproc, cap, region, f"cell-{index}")
    try:
        achieved = _measure(s, warmup_s, window_s)
        counters: Dict[str, int] = {}
        if cap is not None:
            try:
                d = usage(region, reclaim=False)
                if d:
                    counters = {"launches": d[0].launches, "throttled_ns": d[0].throttled_ns,
                                "metered_busy_ns": d[0].busy_ns}
            except Exception:  # noqa: BLE001 - counters are informative only
                counters = {}
    finally:
        w.stop()
        _wait_idle(s)
        try:
            os.unlink(region)
        except OSError:
            pass
    cell = {"vendor": spec.name, "workload": workload, "api": spec.apis[workload], "kernel_ns": kernel_ns,
            "processes": nproc, "cap_pct": cap, "achieved_pct": round(achieved, 2), "window_s": window_s}
    cell.update(counters)
    return cell


def _summarise(cells: List[dict]) -> dict:
    if not cells:
        return {"cells": 0, "mean_abs_error_pts": None, "worst": None}
    worst = max(cells, key=lambda c: abs(c["error_pts"]))
    return {
        "cells": len(cells),
        "mean_abs_error_pts": round(statistics.fmean(abs(c["error_pts"]) for c in cells), 2),
        "worst": {k: worst[k] for k in ("workload", "kernel_ns", "processes", "cap_pct", "achieved_pct",
                                        "reference_pct", "error_pts")},
    }


def _accuracy(s: SimSession, spec: VendorSpec, st: Settings, progress: Progress) -> dict:
    plan: List[Tuple[str, int, int, Optional[int]]] = []
    for kernel in st.kernels_ns:
        for n in st.processes:
            plan.append((spec.matrix_workload, kernel, n, None))
            plan.extend((spec.matrix_workload, kernel, n, cap) for cap in st.caps)
    for wl in spec.extra_workloads:
        plan.append((wl, st.extra_kernel_ns, 1, None))
        plan.extend((wl, st.extra_kernel_ns, 1, cap) for cap in st.extra_caps)
    controls: Dict[Tuple[str, int, int], float] = {}
    control_list: List[dict] = []
    cells: List[dict] = []
    for i, (wl, kernel, n, cap) in enumerate(plan):
        window = st.control_window_s if cap is None else st.window_s
        c = _run_cell(s, spec, wl, kernel, n, cap, st.warmup_s, window, i)
        if cap is None:
            controls[(wl, kernel, n)] = c["achieved_pct"]
            control_list.append({k: c[k] for k in ("workload", "api", "kernel_ns", "processes", "achieved_pct",
                                                    "window_s")})
            label = "uncapped, no library"
        else:
            uncapped = controls[(wl, kernel, n)]
            ref = min(float(cap), uncapped)
            c["uncapped_pct"] = uncapped
            c["reference_pct"] = round(ref, 2)
            c["error_pts"] = round(c["achieved_pct"] - ref, 2)
            cells.append(c)
            label = f"cap {cap:>2} %"
        if progress:
            extra = f" (error {c['error_pts']:+.2f})" if cap is not None else ""
            progress(f"  {spec.name} {wl:<6} {kernel / 1e6:g} ms x{n} {label}: {c['achieved_pct']:.2f} %{extra}")
    matrix = [c for c in cells if c["workload"] == spec.matrix_workload]
    # Enforced when the capped cells stay well below what the same workload reaches uncapped.
    low = [c for c in cells if c["cap_pct"] <= 50 and c["uncapped_pct"] >= c["cap_pct"] + 20]
    enforced = bool(low) and all(c["achieved_pct"] < c["uncapped_pct"] - 10 for c in low)
    out = {
        "enforced": enforced,
        "matrix_workload": spec.matrix_workload,
        "cells": cells,
        "controls": control_list,
        "matrix": dict(_summarise(matrix), target_pts=TARGET_MAE_PTS),
        "all_workloads": _summarise(cells),
    }
    mae = out["matrix"]["mean_abs_error_pts"]
    out["matrix"]["met"] = bool(enforced and mae is not None and mae <= TARGET_MAE_PTS)
    if not enforced:
        out["note"] = ("launches are NOT throttled on this vendor by this libhami.so: the capped cells reach what the "
                       "uncapped control reaches, so these figures measure nothing")
    return out


def _reaction(s: SimSession, spec: VendorSpec, st: Settings, progress: Progress) -> dict:
    from . import set_limits

    prog = _program(spec.workload_program)
    region = os.path.join(s.directory, "reaction.region")
    w = _start(s, [prog, spec.matrix_workload, "1000000", "60"], 1, REACTION_FROM, region, "reaction")
    samples: List[Tuple[int, int]] = []
    t_change = 0
    try:
        time.sleep(max(st.warmup_s, 1.0))
        step = REACTION_SAMPLE_S
        nxt = time.monotonic()
        before = int(round(0.5 / step)) + 1
        for i in range(before):
            samples.append(_truth(s))
            nxt += step
            time.sleep(max(0.0, nxt - time.monotonic()))
        t_change = _monotonic_ns()  # t0: just before the call (its own time counts against us)
        set_limits(compute=REACTION_TO, region=region)
        for i in range(int(round(st.reaction_after_s / step))):
            nxt += step
            time.sleep(max(0.0, nxt - time.monotonic()))
            samples.append(_truth(s))
    finally:
        w.stop()
        _wait_idle(s)
    per = max(1, int(round(REACTION_WINDOW_S / REACTION_SAMPLE_S)))
    curve: List[List[float]] = []
    reaction_ms: Optional[float] = None
    for i in range(1, len(samples)):
        b1, t1 = samples[i]
        b0, t0 = samples[i - 1]
        u50 = 100.0 * (b1 - b0) / max(1, t1 - t0)
        u200: Optional[float] = None
        if i >= per:
            bw, tw = samples[i - per]
            u200 = 100.0 * (b1 - bw) / max(1, t1 - tw)
        t_ms = (t1 - t_change) / 1e6
        curve.append([round(t_ms, 1), round(u50, 2), None if u200 is None else round(u200, 2)])
        if (reaction_ms is None and t1 >= t_change and u200 is not None
                and abs(u200 - REACTION_TO) <= REACTION_TOLERANCE_PTS):
            reaction_ms = round(t_ms, 1)
    res = {
        "workload": spec.matrix_workload, "kernel_ns": 1_000_000, "from_pct": REACTION_FROM, "to_pct": REACTION_TO,
        "sample_ms": REACTION_SAMPLE_S * 1e3, "window_ms": REACTION_WINDOW_S * 1e3,
        "tolerance_pts": REACTION_TOLERANCE_PTS, "reaction_ms": reaction_ms, "target_ms": TARGET_REACTION_MS,
        "met": reaction_ms is not None and reaction_ms <= TARGET_REACTION_MS,
        "curve": curve, "curve_columns": ["t_ms_since_change", "util_pct_50ms", "util_pct_200ms"],
    }
    if progress:
        shown = f"{reaction_ms:.0f} ms" if reaction_ms is not None else "never within 2 points"
        progress(f"  {spec.name} reaction {REACTION_FROM} % -> {REACTION_TO} %: {shown}")
    return res


def _monotonic_ns() -> int:
    """CLOCK_MONOTONIC in ns: the clock the simulator's ``now_ns`` uses."""
    return time.monotonic_ns()


def _launch_run(prog: str, env: Dict[str, str], iterations: int, cwd: str) -> float:
    argv = [prog, "-n", str(iterations), "-r", "5"]
    out = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=300, cwd=cwd)
    lines = [ln for ln in out.stdout.splitlines() if ln.strip().startswith("{")]
    if out.returncode != 0 or not lines:
        raise BenchError(f"{os.path.basename(prog)} failed (exit {out.returncode}): "
                         f"{(out.stderr.strip() or out.stdout.strip())[-300:]}")
    import json

    return float(json.loads(lines[-1])["ns_per_launch"])


def _overhead(s: SimSession, spec: VendorSpec, st: Settings, progress: Progress) -> dict:
    from . import Limits

    prog = _program(spec.launch_program)
    base = dict(s.env)
    base.pop("LD_PRELOAD", None)
    region_nocap = os.path.join(s.directory, "overhead-nocap.region")
    region_cap = os.path.join(s.directory, "overhead-cap.region")
    envs = {
        "without": base,
        "no_cap": dict(base, **Limits(region=region_nocap).env(preload=True)),
        "cap": dict(base, **Limits(compute=100, region=region_cap).env(preload=True)),
    }
    runs: Dict[str, List[float]] = {k: [] for k in envs}
    for i in range(st.overhead_repeat):
        for k, env in envs.items():
            runs[k].append(_launch_run(prog, env, st.overhead_iterations, s.directory))
        if progress:
            progress(f"  {spec.name} launch {i + 1}/{st.overhead_repeat}: without {runs['without'][-1]:.1f} ns, "
                     f"library no cap {runs['no_cap'][-1]:.1f} ns, cap 100 % {runs['cap'][-1]:.1f} ns")
    med = {k: statistics.median(v) for k, v in runs.items()}
    throttled = None
    launches = None
    try:
        d = usage(region_cap, reclaim=False)
        if d:
            throttled, launches = d[0].throttled_ns, d[0].launches
    except Exception:  # noqa: BLE001 - informative only
        pass
    added = med["cap"] - med["without"]
    return {
        "program": spec.launch_program,
        "unit": "ns per launch (zero-duration kernel)",
        "without_ns": round(med["without"], 2),
        "no_cap_ns": round(med["no_cap"], 2),
        "cap_ns": round(med["cap"], 2),
        "added_ns": round(added, 2),
        "added_no_cap_ns": round(med["no_cap"] - med["without"], 2),
        "target_ns": TARGET_LAUNCH_CAP_NS,
        "met": added <= TARGET_LAUNCH_CAP_NS,
        "cap_pct": 100,
        "cap_throttled_ns": throttled,
        "cap_launches_counted": launches,
        "runs": {k: [round(x, 2) for x in v] for k, v in runs.items()},
    }


def _vendor_accuracy(vendor: str, st: Settings, progress: Progress, out: Dict[str, dict],
                     errors: Dict[str, BaseException]) -> None:
    try:
        with session(devices=1, memory="16Gi", vendors=vendor) as s:
            out[vendor] = _accuracy(s, VENDORS[vendor], st, progress)
    except BaseException as e:  # noqa: BLE001 - re-raised by the caller
        errors[vendor] = e


def run_throttle(vendors: Sequence[str] = ("cuda", "ascend"), settings: Optional[Settings] = None,
                 progress: Progress = None) -> dict:
    """Run the compute-cap benchmark for ``vendors`` and return the JSON document (schema 1).

    Vendors whose simulated libraries or programs are not installed are listed under
    ``"skipped"``; BenchError when none can run or a workload fails."""
    st = settings or Settings()
    started = time.time()
    wanted = list(dict.fromkeys(vendors))
    for v in wanted:
        if v not in VENDORS:
            raise BenchError(f"vendor '{v}': expected cuda or ascend")
    run = [v for v in wanted if vendor_available(v)]
    skipped = {v: "simulated libraries or workload programs not installed" for v in wanted if v not in run}
    if not run:
        raise BenchError(f"no vendor to measure: {', '.join(wanted)} not installed in this hami-core "
                         "(reinstall from a complete checkout)")
    lock = threading.Lock()

    def say(msg: str) -> None:
        if progress:
            with lock:
                progress(msg)

    # 1. accuracy: one thread per vendor, each with its own simulated device
    acc: Dict[str, dict] = {}
    errors: Dict[str, BaseException] = {}
    threads = [threading.Thread(target=_vendor_accuracy, args=(v, st, say, acc, errors), daemon=True) for v in run]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for v in run:
        if v in errors:
            e = errors[v]
            raise e if isinstance(e, BenchError) else BenchError(f"{v}: {type(e).__name__}: {e}")
    # 2. reaction and overhead, one vendor at a time (timing-sensitive)
    results: Dict[str, dict] = {}
    for v in run:
        with session(devices=1, memory="16Gi", vendors=v) as s:
            r = dict(acc[v])
            r["reaction"] = _reaction(s, VENDORS[v], st, say)
            r["overhead"] = _overhead(s, VENDORS[v], st, say)
            results[v] = r
    return {
        "schema": SCHEMA,
        "kind": "throttle",
        "platform": "simulator",
        "real_device_present": real_device_present(),
        "cpus": os.cpu_count(),
        "machine": platform.machine(),
        "seconds": round(time.time() - started, 1),
        "settings": st.to_dict(),
        "targets": {"mean_abs_error_pts": TARGET_MAE_PTS, "reaction_ms": TARGET_REACTION_MS,
                    "launch_added_ns": TARGET_LAUNCH_CAP_NS},
        "vendors": results,
        "skipped": skipped,
    }


# --------------------------------------------------------------------------------------------
# text


def _ms(ns: int) -> str:
    return f"{ns / 1e6:g} ms"


def format_throttle(res: dict) -> str:
    """The results as a human-readable report (tables of achieved % per cell)."""
    st = res["settings"]
    lines = [f"hami-core bench throttle on the {res['platform']}, {res['cpus']} CPUs"
             + (" (quick: a smoke test, not a measurement)" if st.get("quick") else "")
             + f"; {st['window_s']:g} s windows after {st['warmup_s']:g} s warm-up, ground truth from the simulator"]
    for v, r in res["vendors"].items():
        lines.append("")
        lines.append(f"{v}: achieved % of device time ({r['matrix_workload']} workload; error vs min(cap, uncapped))")
        caps = st["caps"]
        lines.append(f"  {'kernel':>8} {'procs':>5} " + " ".join(f"{'cap ' + str(c):>8}" for c in caps)
                     + f" {'uncapped':>9}")
        cells = r["cells"]
        ctrl = {(c["workload"], c["kernel_ns"], c["processes"]): c["achieved_pct"] for c in r["controls"]}
        for k in st["kernels_ns"]:
            for n in st["processes"]:
                row = []
                for cap in caps:
                    c = next((c for c in cells if c["workload"] == r["matrix_workload"] and c["kernel_ns"] == k
                              and c["processes"] == n and c["cap_pct"] == cap), None)
                    row.append(f"{c['achieved_pct']:>8.2f}" if c else f"{'-':>8}")
                u = ctrl.get((r["matrix_workload"], k, n))
                lines.append(f"  {_ms(k):>8} {n:>5} " + " ".join(row) + (f" {u:>9.2f}" if u is not None else ""))
        others = [c for c in cells if c["workload"] != r["matrix_workload"]]
        if others:
            lines.append("  other paths (1 process, achieved % / uncapped):")
            for wl in dict.fromkeys(c["workload"] for c in others):
                cs = [c for c in others if c["workload"] == wl]
                lines.append(f"    {wl:<6} {cs[0]['api']}: "
                             + ", ".join(f"cap {c['cap_pct']} -> {c['achieved_pct']:.2f}" for c in cs)
                             + f"; uncapped {cs[0]['uncapped_pct']:.2f}")
        m, a = r["matrix"], r["all_workloads"]
        if m["cells"]:
            w = m["worst"]
            lines.append(f"  matrix: mean abs error {m['mean_abs_error_pts']:.2f} points over {m['cells']} cells "
                         f"(target <= {m['target_pts']:g}: {'met' if m['met'] else 'NOT met'}); worst "
                         f"{w['error_pts']:+.2f} at cap {w['cap_pct']} %, {_ms(w['kernel_ns'])}, {w['processes']} proc")
        if a["cells"]:
            lines.append(f"  all paths: mean abs error {a['mean_abs_error_pts']:.2f} points over {a['cells']} cells; "
                         f"worst {a['worst']['error_pts']:+.2f} ({a['worst']['workload']}, cap {a['worst']['cap_pct']} %)")
        if not r["enforced"]:
            lines.append(f"  NOTE: {r['note']}")
        rc = r["reaction"]
        shown = f"{rc['reaction_ms']:.0f} ms" if rc["reaction_ms"] is not None else "never within 2 points"
        lines.append(f"  reaction {rc['from_pct']} % -> {rc['to_pct']} % (200 ms window within 2 points): {shown} "
                     f"(target <= {rc['target_ms']:.0f} ms: {'met' if rc['met'] else 'NOT met'})")
        o = r["overhead"]
        lines.append(f"  launch cost ({o['program']}): without {o['without_ns']:.1f} ns, library no cap "
                     f"{o['no_cap_ns']:.1f} ns, cap 100 % {o['cap_ns']:.1f} ns: +{o['added_ns']:.1f} ns with a cap "
                     f"(target <= {o['target_ns']:.0f}: {'met' if o['met'] else 'NOT met'}); throttled "
                     f"{(o['cap_throttled_ns'] or 0) / 1e6:.1f} ms")
    for v, why in res.get("skipped", {}).items():
        lines.append(f"{v}: skipped ({why})")
    return "\n".join(lines)
