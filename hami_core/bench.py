"""``hami-core bench``: the library's overhead, measured against the same workload without it.

Each benchmark runs its C program (bundled in ``hami_core/_lib/bin``) on simulated devices,
alternately WITHOUT and WITH the interception library, ``repeat`` times in one run, and reports
the medians, the added cost and its ratio to the DESIGN 5 target:

========  =====================================================  =========================
name      workload                                               target (DESIGN 5)
========  =====================================================  =========================
memory    ``hami-bench-alloc``: cuMemAlloc+cuMemFree pairs,      <= 300 ns added per pair
          with a memory cap (8 GiB of a 16 GiB device)
overhead  ``hami-bench-launch``: cuLaunchKernel, no caps         <= 20 ns added per launch
attach    N processes (default 256) open and join one region     all attached in <= 1 s
          at the same moment (forked, in C); also N processes of
          hami-bench-alloc started at once without/with the library
========  =====================================================  =========================

The simulated driver's own cost is in the "without" figure; the difference is the library's.
``throttle`` (compute caps) lives in :mod:`hami_core.bench_throttle`; :func:`run_all` runs
everything and summarises it against DESIGN 5 (``hami-core bench all``).

JSON schema 1: ``{"schema", "platform", "real_device_present", "cpus", "benchmarks": [{"name",
"unit", "target_ns", "without_ns", "with_ns", "added_ns", "ratio_to_target", "met", "runs":
{"without": [...], "with": [...]}, ...}]}``.
"""
from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import time
from typing import Callable, Dict, List, Optional, Sequence

from . import Limits, _native, bin_dir
from .sim import SimSession, session

TARGETS_NS = {"memory": 300.0, "overhead": 20.0, "attach": 1e9}
PROGRAMS = {"memory": "hami-bench-alloc", "overhead": "hami-bench-launch"}
# Keys the programs may use for their per-operation figure, most specific first.
_PER_OP_KEYS = ("ns_per_pair", "ns_per_launch", "ns_per_op", "ns_per_iter", "per_op_ns", "avg_ns")


class BenchError(RuntimeError):
    """A benchmark could not run (program missing, program failed)."""


def real_device_present() -> bool:
    return os.path.exists("/dev/nvidiactl") or os.path.exists("/dev/davinci_manager")


def _program(name: str) -> str:
    path = os.path.join(bin_dir(), name)
    if not os.access(path, os.X_OK):
        raise BenchError(f"{path} is missing: this hami-core was built without the benchmark programs (bench/c); "
                         "reinstall with `pip install .` from a complete checkout")
    return path


def _per_op_ns(result: dict, program: str) -> float:
    for k in _PER_OP_KEYS:
        if k in result:
            return float(result[k])
    cands = [k for k in result if k.startswith("ns_per") or k.endswith("_ns_per_op")]
    if len(cands) == 1:
        return float(result[cands[0]])
    if "total_ns" in result and "iterations" in result and result["iterations"]:
        return float(result["total_ns"]) / float(result["iterations"])
    raise BenchError(f"{program} printed no per-operation figure: {json.dumps(result)[:300]}")


def _run_program(path: str, env: Dict[str, str], iterations: Optional[int], cwd: str) -> dict:
    argv = [path] + (["-n", str(iterations)] if iterations else [])
    out = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=300, cwd=cwd)
    lines = [ln for ln in out.stdout.splitlines() if ln.strip().startswith("{")]
    if out.returncode != 0 or not lines:
        raise BenchError(f"{os.path.basename(path)} failed (exit {out.returncode}): "
                         f"{(out.stderr.strip() or out.stdout.strip())[-300:]}")
    return json.loads(lines[-1])


def _summary(name: str, without: List[float], with_: List[float], extra: Optional[dict] = None) -> dict:
    target = TARGETS_NS[name]
    mw, ml = statistics.median(without), statistics.median(with_)
    added = ml - mw
    out = {
        "name": name,
        "unit": "ns per alloc+free pair" if name == "memory" else "ns per cuLaunchKernel",
        "target_ns": target,
        "without_ns": round(mw, 2),
        "with_ns": round(ml, 2),
        "added_ns": round(added, 2),
        "ratio_to_target": round(added / target, 3),
        "met": added <= target,
        "runs": {"without": [round(x, 2) for x in without], "with": [round(x, 2) for x in with_]},
    }
    if extra:
        out.update(extra)
    return out


def _pair_bench(name: str, s: SimSession, repeat: int, iterations: Optional[int],
                progress: Optional[Callable[[str], None]]) -> dict:
    prog = _program(PROGRAMS[name])
    region = os.path.join(s.directory, f"bench-{name}.region")
    limits = Limits(memory="8Gi", region=region) if name == "memory" else Limits(region=region)
    env_with = dict(s.env, **limits.env(preload=True))
    env_without = dict(s.env)
    without: List[float] = []
    with_: List[float] = []
    raw: List[dict] = []
    for i in range(repeat):
        a = _run_program(prog, env_without, iterations, s.directory)
        b = _run_program(prog, env_with, iterations, s.directory)
        without.append(_per_op_ns(a, prog))
        with_.append(_per_op_ns(b, prog))
        raw.append({"without": a, "with": b})
        if progress:
            progress(f"  {name} {i + 1}/{repeat}: without {without[-1]:.1f} ns, with {with_[-1]:.1f} ns")
    return _summary(name, without, with_, {"program": os.path.basename(prog), "program_output": raw[-1]})


def _attach_bench(s: SimSession, repeat: int, processes: int, progress: Optional[Callable[[str], None]]) -> dict:
    n = max(1, min(processes, _native.MAX_PROCS))
    times: List[float] = []
    lat: List[float] = []
    for i in range(repeat):
        path = os.path.join(s.directory, f"attach-{i}.region")
        res = _native.attach_storm(path, n, True, "cuda", "GPU-bench-attach")
        if res["failed"]:
            raise BenchError(f"attach: {res['failed']} of {n} processes failed to join: {res['error']}")
        times.append(float(res["all_joined_ns"]))
        lat.extend(float(x) for x in res["join_latency_ns"])
        if progress:
            progress(f"  attach {i + 1}/{repeat}: {n} processes joined in {res['all_joined_ns'] / 1e6:.1f} ms")
    med = statistics.median(times)
    target = TARGETS_NS["attach"]
    startup = _startup_storm(s, n, repeat, progress)
    return {
        "name": "attach",
        "unit": f"ns until all {n} processes joined (from the first fork)",
        "processes": n,
        "target_ns": target,
        "without_ns": None,
        "with_ns": round(med, 0),
        "added_ns": round(med, 0),
        "ratio_to_target": round(med / target, 3),
        "met": med <= target,
        "join_latency_median_ns": round(statistics.median(lat), 0),
        "join_latency_max_ns": round(max(lat), 0),
        "runs": {"with": [round(x, 0) for x in times]},
        "startup": startup,
    }


def _startup_storm(s: SimSession, n: int, repeat: int, progress: Optional[Callable[[str], None]]) -> Optional[dict]:
    """N processes of ``hami-bench-alloc -n 1 -r 1`` (cuInit, context, one alloc+free) started at
    once, without and with the library: wall time until all have exited.  The difference is
    what the library adds to a start-up storm (attach included), on top of exec and loading."""
    try:
        prog = _program(PROGRAMS["memory"])
    except BenchError:
        return None
    region = os.path.join(s.directory, "startup.region")
    env_with = dict(s.env, **Limits(memory="8Gi", region=region).env(preload=True))
    env_without = dict(s.env)

    def storm(env: Dict[str, str]) -> float:
        t0 = time.monotonic_ns()
        procs = [subprocess.Popen([prog, "-n", "1", "-r", "1"], env=env, cwd=s.directory,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE) for _ in range(n)]
        failed = 0
        err = b""
        for p in procs:
            _, e = p.communicate()
            if p.returncode != 0:
                failed += 1
                err = err or e
        if failed:
            raise BenchError(f"attach: {failed} of {n} {os.path.basename(prog)} processes failed: "
                             f"{err.decode(errors='replace').strip()[-300:]}")
        return float(time.monotonic_ns() - t0)

    without: List[float] = []
    with_: List[float] = []
    for i in range(repeat):
        without.append(storm(env_without))
        with_.append(storm(env_with))
        if progress:
            progress(f"  startup {i + 1}/{repeat}: {n} processes without {without[-1] / 1e6:.0f} ms, "
                     f"with the library {with_[-1] / 1e6:.0f} ms")
    mw, ml = statistics.median(without), statistics.median(with_)
    return {"processes": n, "program": os.path.basename(prog), "without_ns": round(mw, 0), "with_ns": round(ml, 0),
            "added_ns": round(ml - mw, 0),
            "runs": {"without": [round(x, 0) for x in without], "with": [round(x, 0) for x in with_]}}


def run_benchmarks(names: List[str], repeat: int = 5, iterations: Optional[int] = None, processes: int = 256,
                   progress: Optional[Callable[[str], None]] = None) -> dict:
    """Run the named benchmarks (memory, overhead, attach) on a fresh simulated device."""
    results = []
    started = time.time()
    with session(devices=1, memory="16Gi") as s:
        for name in names:
            if progress:
                progress(f"{name}:")
            if name == "attach":
                results.append(_attach_bench(s, repeat, processes, progress))
            else:
                results.append(_pair_bench(name, s, repeat, iterations, progress))
    return {
        "schema": 1,
        "platform": "simulator",
        "real_device_present": real_device_present(),
        "note": "run on simulated devices; bench/gpu/ measures a real card",
        "cpus": os.cpu_count(),
        "machine": platform.machine(),
        "repeat": repeat,
        "seconds": round(time.time() - started, 2),
        "benchmarks": results,
    }


def format_results(results: dict) -> str:
    lines = [f"hami-core bench on the {results['platform']}"
             + (" (a real device is present; bench/gpu/ measures it)" if results.get("real_device_present") else "")
             + f", {results['cpus']} CPUs, medians of {results['repeat']} runs each:"]
    for b in results["benchmarks"]:
        ok = "met" if b["met"] else "NOT met"
        if b["name"] == "attach":
            lines.append(f"  attach    {b['processes']} processes joined one region in {b['with_ns'] / 1e6:.1f} ms "
                         f"(target {b['target_ns'] / 1e6:.0f} ms: {ok}; per process median "
                         f"{b['join_latency_median_ns'] / 1e3:.0f} us, max {b['join_latency_max_ns'] / 1e3:.0f} us)")
            st = b.get("startup")
            if st:
                lines.append(f"            {st['processes']} x {st['program']} started at once: all done in "
                             f"{st['without_ns'] / 1e6:.0f} ms without, {st['with_ns'] / 1e6:.0f} ms with the library "
                             f"(+{st['added_ns'] / 1e6:.0f} ms)")
        else:
            lines.append(f"  {b['name']:<9} without {b['without_ns']:.1f} ns, with {b['with_ns']:.1f} ns: "
                         f"+{b['added_ns']:.1f} {b['unit']} (target {b['target_ns']:.0f} ns, "
                         f"ratio {b['ratio_to_target']:.2f}: {ok})")
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------
# bench all: every benchmark in one run, summarised against DESIGN 5


def _row(what: str, target: float, unit: str, measured: Optional[float], met: bool, note: str = "") -> dict:
    return {"what": what, "target": target, "unit": unit, "measured": measured, "met": bool(met), "note": note}


def summarise_all(results: dict, throttle: Optional[dict]) -> List[dict]:
    """The DESIGN 5 table: one row per target with the measured value and met / not met."""
    rows: List[dict] = []
    by_name = {b["name"]: b for b in results.get("benchmarks", [])}
    if "overhead" in by_name:
        b = by_name["overhead"]
        rows.append(_row("launch hook, no compute cap (cuda)", 20.0, "ns added per launch", b["added_ns"], b["met"]))
    if throttle:
        for v, r in throttle["vendors"].items():
            o = r["overhead"]
            rows.append(_row(f"launch hook, cap active, tokens available ({v})", o["target_ns"], "ns added per launch",
                             o["added_ns"], o["met"]))
    if "memory" in by_name:
        b = by_name["memory"]
        rows.append(_row("alloc + free with a memory cap (cuda)", 300.0, "ns added per pair", b["added_ns"], b["met"]))
    if throttle:
        for v, r in throttle["vendors"].items():
            m = r["matrix"]
            note = "" if r["enforced"] else "launches not throttled on this vendor"
            rows.append(_row(f"compute cap accuracy, mean abs error ({v})", m["target_pts"], "points",
                             m["mean_abs_error_pts"], m["met"], note))
            rc = r["reaction"]
            rows.append(_row(f"reaction to a live limit change ({v})", rc["target_ms"], "ms", rc["reaction_ms"],
                             rc["met"], "" if rc["reaction_ms"] is not None else "never within 2 points"))
    if "attach" in by_name:
        b = by_name["attach"]
        rows.append(_row(f"{b['processes']} processes attaching at once", 1000.0, "ms until all joined",
                         round(b["with_ns"] / 1e6, 1), b["met"]))
    return rows


def run_all(repeat: int = 5, iterations: Optional[int] = None, processes: int = 256, quick: bool = False,
            vendors: Sequence[str] = ("cuda", "ascend"), progress: Optional[Callable[[str], None]] = None) -> dict:
    """Every benchmark (memory, overhead, attach, throttle) in one run; JSON schema 1 with
    ``summary`` (one row per DESIGN 5 target), ``benchmarks`` (as :func:`run_benchmarks`) and
    ``throttle`` (as :func:`hami_core.bench_throttle.run_throttle`)."""
    from . import bench_throttle as T

    started = time.time()
    steps = ["memory", "overhead", "attach", "throttle"]
    parts: List[dict] = []
    for i, name in enumerate(steps[:3], 1):
        if progress:
            progress(f"[{i}/{len(steps)}] {name}")
        parts.append(run_benchmarks([name], repeat=repeat, iterations=iterations, processes=processes,
                                    progress=progress))
    if progress:
        progress(f"[4/{len(steps)}] throttle (compute caps: accuracy, reaction, launch cost)")
    throttle = T.run_throttle(vendors, T.Settings.quick_settings() if quick else T.Settings(), progress=progress)
    base = dict(parts[0])
    base["benchmarks"] = [b for p in parts for b in p["benchmarks"]]
    summary = summarise_all(base, throttle)
    present = real_device_present()
    return {
        "schema": 1,
        "kind": "all",
        "platform": "simulator",
        "device_used": "simulator" + (" (a real device is present: bench/gpu/ measures it)" if present else ""),
        "real_device_present": present,
        "cpus": os.cpu_count(),
        "machine": platform.machine(),
        "quick": quick,
        "repeat": repeat,
        "seconds": round(time.time() - started, 1),
        "summary": summary,
        "all_met": all(r["met"] for r in summary),
        "benchmarks": base["benchmarks"],
        "throttle": throttle,
    }


def format_all(res: dict) -> str:
    """The ``bench all`` summary table, then each benchmark's own report."""
    from .bench_throttle import format_throttle

    lines = [f"hami-core bench all on the {res['device_used']}, {res['cpus']} CPUs"
             + (" (quick: a smoke test, not a measurement)" if res.get("quick") else ""), ""]
    lines.append(f"{'target (DESIGN 5)':<52} {'target':>8} {'measured':>10}  result")
    for r in res["summary"]:
        meas = "-" if r["measured"] is None else f"{r['measured']:g}"
        lines.append(f"{r['what']:<52} {('<= ' + format(r['target'], 'g')):>8} {meas:>10}  "
                     f"{'met' if r['met'] else 'NOT met'} ({r['unit']}{'; ' + r['note'] if r['note'] else ''})")
    lines.append("")
    lines.append(format_results({"platform": res["platform"], "real_device_present": res["real_device_present"],
                                 "cpus": res["cpus"], "repeat": res["repeat"], "benchmarks": res["benchmarks"]}))
    lines.append("")
    lines.append(format_throttle(res["throttle"]))
    return "\n".join(lines)
