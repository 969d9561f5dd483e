"""``hami-core demo``: two tenants share one simulated GPU; one is capped at 2 GiB.

Everything runs as real processes on the simulated driver, through the real interception
library, exactly as ``hami-core sim -- hami-core run --memory 2g -- CMD`` would run them.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Callable, Dict, Optional

from . import Limits, library_path, usage
from .cli import fmt_bytes
from .sim import session

CAP = "2g"
CARD = "16g"


def _workload(args, env: Dict[str, str], cwd: str, timeout: float = 60.0) -> dict:
    out = subprocess.run([sys.executable, "-m", "hami_core._workload", *args], env=env, capture_output=True,
                         text=True, timeout=timeout, cwd=cwd)
    lines = [ln for ln in out.stdout.splitlines() if ln.startswith("{")]
    if not lines:
        raise RuntimeError(f"workload {' '.join(args)} failed (exit {out.returncode}): {out.stderr.strip()[-500:]}")
    return json.loads(lines[-1])


def run_demo(echo: Callable[[str], None] = print) -> int:
    lib = library_path()  # fails with a clear message when the package lacks the library
    ok = True
    with session(devices=1, memory=CARD) as s:
        echo(f"A simulated machine with one GPU of {fmt_bytes(s.memory_bytes)} "
             f"(what `hami-core sim --devices 1 --memory {CARD.lower()} -- CMD` sets up).\n")
        region_a = os.path.join(s.directory, "tenant-a.region")
        region_b = os.path.join(s.directory, "tenant-b.region")
        env_a = dict(s.env, **Limits(memory=CAP, region=region_a).env(preload=True))
        env_b = dict(s.env, **Limits(region=region_b).env(preload=True))

        # Tenant B: no cap, holds 4 GiB for the whole show.
        hold: Optional[subprocess.Popen] = subprocess.Popen(
            [sys.executable, "-m", "hami_core._workload", "hold", "4Gi"], env=env_b,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=s.directory)
        try:
            line = hold.stdout.readline() if hold.stdout else ""
            b = json.loads(line) if line.startswith("{") else {}
            if not b.get("ready"):
                err = hold.stderr.read() if hold.stderr else ""
                raise RuntimeError(f"tenant B could not allocate: {line.strip() or err.strip()[-300:]}")
            echo("Tenant B (no cap):   hami-core run -- python serve.py")
            echo(f"  holds {fmt_bytes(b['bytes'])}; cuMemGetInfo says total {fmt_bytes(b['total'])}, "
                 f"free {fmt_bytes(b['free'])}: the whole card, minus what it uses.\n")

            echo(f"Tenant A (capped):    hami-core run --memory {CAP.lower()} -- python train.py")
            a = _workload(["fill", "--chunk", "256Mi", "--max", "8Gi"], env_a, cwd=s.directory)
            echo(f"  cuMemGetInfo before allocating: total {fmt_bytes(a['total'])}, free {fmt_bytes(a['free_before'])}"
                 " -- the process sees a 2 GiB GPU.")
            if a.get("oom"):
                echo(f"  allocated {a['chunks']} x {fmt_bytes(a['chunk'])} = {fmt_bytes(a['allocated'])}, then "
                     f"cuMemAlloc returned {a['error']} ({a['code']}): the driver's own out-of-memory code, so "
                     "PyTorch raises torch.cuda.OutOfMemoryError and frees its cache as usual.")
            else:
                ok = False
                echo(f"  allocated {fmt_bytes(a['allocated'])} without reaching the cap (error: {a['error']}): "
                     "the cap did NOT hold -- run `hami-core doctor` or report a bug.")
            devs = usage(region_a)
            if devs:
                d = devs[0]
                echo(f"  its region afterwards: cap {fmt_bytes(d.memory_limit_bytes)}, in use {fmt_bytes(d.used_bytes)}"
                     " (everything was freed).\n")

            bu = usage(region_b)
            if bu:
                echo(f"Meanwhile tenant B's region shows {fmt_bytes(bu[0].used_bytes)} in use on {bu[0].uuid}; "
                     "`hami-core status --region PATH` prints the same.\n")
        finally:
            if hold is not None and hold.poll() is None:
                hold.kill()
                hold.wait()
            for f in (hold.stdout, hold.stderr):
                if f:
                    f.close()

    echo("With your own program:")
    echo("  hami-core sim -- hami-core run --memory 2g -- python your_script.py   # simulated GPU")
    echo("  hami-core run --memory 2g --compute 50 -- python your_script.py        # a real GPU")
    echo("  hami-core status                                                      # live usage")
    echo(f"  (library: {lib})")
    return 0 if ok else 1
