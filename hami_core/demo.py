"""``hami-core demo``: two tenants share one simulated GPU; one is capped at 2 GiB and 30 %.

Everything runs as real processes on the simulated driver, through the real interception
library, exactly as ``hami-core sim -- hami-core run --memory 2g --compute 30 -- CMD`` would run
them.  Tenant A (capped) and tenant B (no cap) are two containers: each has its own region.

1. memory: B holds 4 GiB; A sees a 2 GiB GPU in ``cuMemGetInfo`` and allocates until the
   driver API returns ``CUDA_ERROR_OUT_OF_MEMORY``;
2. compute: both launch kernels back to back; their achieved shares of the GPU come from the
   simulator's ground truth per process (``_native.sim_processes``), sampled every second;
3. a live change: ``set_limits(compute=60)`` on A's region while both run; the shares move.

Numbers are measured, never assumed: when a cap does not hold (for instance a library built
without compute metering), the demo says so and exits 1.  ``$HAMI_LIBRARY`` selects another
``libhami.so`` (as the container entrypoint does).

``python -m hami_core.demo tenant ...`` is the demo's own workload (a kernel loop).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from typing import Callable, Dict, List, Optional, Sequence, Tuple

from . import Limits, _native, library_path, set_limits, usage
from .sim import SimSession, session
from .top import fmt_bytes

__all__ = ["run_demo", "CAP", "CARD", "COMPUTE", "COMPUTE_LIVE"]

CAP = "2g"
CARD = "16g"
COMPUTE = 30
COMPUTE_LIVE = 60
KERNEL_NS = 2_000_000       # 2 ms spin kernels
SAMPLES = 3                 # one-second samples per compute phase
TOLERANCE = 10.0            # points: a capped share above cap + this means the cap did not hold

Echo = Callable[[str], None]


def _workload(args: Sequence[str], env: Dict[str, str], cwd: str, timeout: float = 60.0) -> dict:
    out = subprocess.run([sys.executable, "-m", "hami_core._workload", *args], env=env, capture_output=True,
                         text=True, timeout=timeout, cwd=cwd)
    lines = [ln for ln in out.stdout.splitlines() if ln.startswith("{")]
    if not lines:
        raise RuntimeError(f"workload {' '.join(args)} failed (exit {out.returncode}): {out.stderr.strip()[-500:]}")
    return json.loads(lines[-1])


def _start(argv: List[str], env: Dict[str, str], cwd: str) -> Tuple[subprocess.Popen, dict]:
    """Start a tenant process and wait for its first JSON line ({"ready": ...})."""
    p = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=cwd)
    line = p.stdout.readline() if p.stdout else ""
    info = json.loads(line) if line.startswith("{") else {}
    if not info.get("ready"):
        err = ""
        if p.poll() is not None and p.stderr:
            err = p.stderr.read()
        _stop([p])
        raise RuntimeError(f"{' '.join(argv[2:])} did not start: {line.strip() or err.strip()[-300:]}")
    return p, info


def _stop(procs: Sequence[Optional[subprocess.Popen]]) -> None:
    for p in procs:
        if p is None:
            continue
        if p.poll() is None:
            p.kill()
        p.wait()
        for f in (p.stdout, p.stderr):
            if f:
                f.close()


def _busy(s: SimSession, pids: Sequence[int]) -> Tuple[Dict[int, int], int]:
    """Simulator ground truth: {pid: busy ns on device 0}, and the engine's clock (ns)."""
    rows = _native.sim_processes(s.state)
    now = max((int(r["now_ns"]) for r in rows), default=time.monotonic_ns())
    busy = {pid: 0 for pid in pids}
    for r in rows:
        if int(r["pid"]) in busy and int(r["device"]) == 0:
            busy[int(r["pid"])] += int(r["busy_ns"])
    return busy, now


def _region_busy(region: str) -> int:
    devs = usage(region, reclaim=False)
    return devs[0].busy_ns if devs else 0


def _measure(s: SimSession, a: int, b: int, echo: Echo, label: str,
             region_a: str) -> Tuple[float, float, float]:
    """SAMPLES one-second samples of both tenants' shares, printed as they come; the averages
    (A, B) and A's use as its region counted it (what the bucket meters), in percent."""
    rb0 = _region_busy(region_a)
    busy0, t0 = _busy(s, (a, b))
    first = (busy0, t0)
    for i in range(SAMPLES):
        time.sleep(1.0)
        busy1, t1 = _busy(s, (a, b))
        dt = max(t1 - t0, 1)
        sa = 100.0 * (busy1[a] - busy0[a]) / dt
        sb = 100.0 * (busy1[b] - busy0[b]) / dt
        echo(f"    {label} second {i + 1}:  tenant A {sa:5.1f} %   tenant B {sb:5.1f} %")
        busy0, t0 = busy1, t1
    dt = max(t0 - first[1], 1)
    counted = 100.0 * (_region_busy(region_a) - rb0) / dt
    return (100.0 * (busy0[a] - first[0][a]) / dt, 100.0 * (busy0[b] - first[0][b]) / dt, counted)


def _memory_part(s: SimSession, env_a: Dict[str, str], region_a: str, echo: Echo) -> bool:
    echo(f"Tenant A (capped):    hami-core run --memory {CAP} --compute {COMPUTE} -- python train.py")
    a = _workload(["fill", "--chunk", "256Mi", "--max", "8Gi"], env_a, cwd=s.directory)
    echo(f"  cuMemGetInfo: total {fmt_bytes(a['total'])}, free {fmt_bytes(a['free_before'])} -- "
         "the process sees a 2 GiB GPU, not the 16 GiB card.")
    if a.get("oom") and a["allocated"] <= 2 * (1 << 30):
        echo(f"  allocated {a['chunks']} x {fmt_bytes(a['chunk'])} = {fmt_bytes(a['allocated'])}, then "
             f"cuMemAlloc returned {a['error']} ({a['code']}): the driver's own out-of-memory code, so "
             "PyTorch raises torch.cuda.OutOfMemoryError and frees its cache as usual.")
        ok = True
    else:
        echo(f"  allocated {fmt_bytes(a['allocated'])} without stopping at the cap (error: {a['error']}): "
             "the memory cap did NOT hold -- run `hami-core doctor`.")
        ok = False
    devs = usage(region_a)
    if devs:
        echo(f"  its region afterwards: cap {fmt_bytes(devs[0].memory_limit_bytes)}, in use "
             f"{fmt_bytes(devs[0].used_bytes)} (everything was freed).")
    echo("")
    return ok


def _compute_part(s: SimSession, env_a: Dict[str, str], env_b: Dict[str, str], region_a: str,
                  echo: Echo) -> bool:
    tenant = [sys.executable, "-m", "hami_core.demo", "tenant", "--kernel-ns", str(KERNEL_NS), "--seconds", "60"]
    echo("Compute: both tenants now launch 2 ms kernels back to back on the same GPU.")
    echo("  Achieved shares of the GPU's time, from the simulator's per-process ground truth:")
    pa: Optional[subprocess.Popen] = None
    pb: Optional[subprocess.Popen] = None
    try:
        pa, ia = _start(tenant, env_a, s.directory)
        pb, ib = _start(tenant, env_b, s.directory)
        a, b = int(ia["pid"]), int(ib["pid"])
        time.sleep(0.5)   # both running, the bucket settled
        sa, sb, ca = _measure(s, a, b, echo, f"cap {COMPUTE} %", region_a)
        echo(f"  average: tenant A {sa:.1f} % (cap {COMPUTE} %), tenant B {sb:.1f} % (no cap)")
        held1 = sa <= COMPUTE + TOLERANCE
        if held1 and sa >= COMPUTE - TOLERANCE:
            echo(f"  A is held to its {COMPUTE} % by the token bucket in its region; B takes the rest.")
        elif held1:
            echo(f"  A stays under its {COMPUTE} % cap but gets less than it allows: its region metered "
                 f"{ca:.1f} % of device time for it while the simulator measured {sa:.1f} % "
                 "(the metering over-counts under contention).")
        else:
            echo(f"  A got {sa:.1f} %, well above its {COMPUTE} % cap: the compute cap did NOT hold with "
                 f"this library ({env_a['LD_PRELOAD'].split(':')[0]}); it may have been built without "
                 "compute metering in the launch hooks. The numbers above are what was measured.")
        echo("")
        echo(f"Live change, while both run:  hami_core.set_limits(compute={COMPUTE_LIVE}, region=A's region)"
             f"   (CLI: hami-core set --compute {COMPUTE_LIVE} --region ...)")
        set_limits(compute=COMPUTE_LIVE, region=region_a)
        time.sleep(0.5)
        sa2, sb2, ca2 = _measure(s, a, b, echo, f"cap {COMPUTE_LIVE} %", region_a)
        echo(f"  average: tenant A {sa2:.1f} % (cap {COMPUTE_LIVE} %), tenant B {sb2:.1f} %")
        held2 = sa2 <= COMPUTE_LIVE + TOLERANCE and sa2 > sa + 10.0
        if held2:
            echo(f"  A's share moved from {sa:.0f} % to {sa2:.0f} % without a restart"
                 + (f" (its region metered {ca2:.0f} %)." if abs(ca2 - sa2) > TOLERANCE else "."))
        elif held1:
            echo(f"  A's share did NOT follow the new cap ({sa:.0f} % -> {sa2:.0f} %).")
        devs = usage(region_a)
        if devs and devs[0].busy_ns:
            d = devs[0]
            echo(f"  A's region counted {d.launches} launches, {d.busy_ns / 1e9:.2f} s of device time and "
                 f"{d.throttled_ns / 1e9:.2f} s held back (`hami-core top --region ...` shows it live).")
        echo("")
        return held1 and held2
    finally:
        _stop([pa, pb])


def run_demo(echo: Echo = print) -> int:
    """Run the show, printing through ``echo``; 0 when both caps held, 1 otherwise."""
    lib = os.environ.get("HAMI_LIBRARY") or library_path()
    t_start = time.monotonic()
    with session(devices=1, memory=CARD) as s:
        echo(f"A simulated machine with one GPU of {fmt_bytes(s.memory_bytes)} "
             f"(what `hami-core sim --devices 1 --memory {CARD} -- CMD` sets up).\n")
        region_a = os.path.join(s.directory, "tenant-a.region")
        region_b = os.path.join(s.directory, "tenant-b.region")
        env_a = dict(s.env, **Limits(memory=CAP, compute=COMPUTE, region=region_a).env())
        env_b = dict(s.env, **Limits(region=region_b).env())
        for env in (env_a, env_b):
            rest = [p for p in env.get("LD_PRELOAD", "").split(":") if p and p != lib]
            env["LD_PRELOAD"] = ":".join([lib] + rest)

        hold: Optional[subprocess.Popen] = None
        try:
            hold, b = _start([sys.executable, "-m", "hami_core._workload", "hold", "4Gi"], env_b, s.directory)
            echo("Tenant B (no cap):    hami-core run -- python serve.py")
            echo(f"  holds {fmt_bytes(b['bytes'])}; cuMemGetInfo says total {fmt_bytes(b['total'])}, "
                 f"free {fmt_bytes(b['free'])}: the whole card, minus what is in use.\n")
            mem_ok = _memory_part(s, env_a, region_a, echo)
        finally:
            _stop([hold])
        cpu_ok = _compute_part(s, env_a, env_b, region_a, echo)

    echo("What you just saw:")
    echo(f"  - a memory cap: the capped program saw a {fmt_bytes(2 << 30)} GPU and got the driver's real "
         "out-of-memory error at the cap" + ("" if mem_ok else " (NOT this time: see above)") + ";")
    echo(f"  - a compute cap: its share of the GPU held to {COMPUTE} % at most while the other tenant used the rest"
         + ("" if cpu_ok else " (NOT this time: see above)") + ";")
    echo(f"  - a live change to {COMPUTE_LIVE} %, followed by the running process without a restart.")
    echo(f"  ({time.monotonic() - t_start:.0f} s, real processes through {lib})\n")
    echo("With your own program:")
    echo("  hami-core run --memory 2g --compute 30 -- python serve.py        # on a real GPU")
    echo("  hami-core sim -- hami-core run --memory 2g --compute 30 -- CMD   # on simulated devices")
    echo("  hami-core top                 # live use;  hami-core set --compute 60   # change it live")
    echo("  hami-core doctor              # what is wrong, if anything")
    return 0 if (mem_ok and cpu_ok) else 1


# --------------------------------------------------------------------------------------------
# The demo's workload


def _tenant(argv: Sequence[str]) -> int:
    """Launch spin kernels back to back (at most --depth in flight) until --seconds pass."""
    from .cuda import CudaError, Driver

    p = argparse.ArgumentParser(prog="python -m hami_core.demo tenant")
    p.add_argument("--kernel-ns", type=int, default=KERNEL_NS)
    p.add_argument("--seconds", type=float, default=60.0)
    p.add_argument("--depth", type=int, default=2)
    args = p.parse_args(argv)
    try:
        drv = Driver()
        drv.primary_context(0)
        func = drv.spin_module().function("hami_sim_spin")
        stream = drv.stream()
        print(json.dumps({"ready": True, "pid": os.getpid()}), flush=True)
        deadline = time.monotonic() + args.seconds
        events = []
        while time.monotonic() < deadline:
            drv.spin(func, args.kernel_ns, stream=stream)
            ev = drv.event()
            ev.record(stream)
            events.append(ev)
            if len(events) >= args.depth:
                old = events.pop(0)
                old.synchronize()
                old.destroy()
        stream.synchronize()
    except CudaError as e:
        print(json.dumps({"ready": False, "error": e.name, "message": str(e)}), flush=True)
        return 3
    return 0


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "tenant":
        sys.exit(_tenant(sys.argv[2:]))
    sys.exit(run_demo())
