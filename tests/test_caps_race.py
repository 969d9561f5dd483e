"""Memory caps under pressure, end to end on the simulator: 8 processes x 4 threads racing
random allocation sizes never pass the cap by one byte (the region's count and the simulator's
ground truth, sampled throughout; control: the same race without the library passes it);
`kill -9` mid-allocation leaves no lock held and its bytes are reclaimed; a forking Python
process (multiprocessing) gives the child its own slot without double counting."""
from __future__ import annotations

import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "workloads"))
import caps_helpers as H  # noqa: E402

MiB = H.MiB


@pytest.fixture(scope="session")
def workload(built_hami_core, tmp_path_factory):
    return H.build_workload(str(tmp_path_factory.mktemp("caps_workload")))


RACE = """
import hami_core
from hami_core import _native
state = os.environ["HAMI_SIM_STATE"]
cap = 256 << 20
def race(capped, region):
    prefix = HAMI + ["run", "--memory", str(cap), "--region", region, "--"] if capped else []
    procs = [subprocess.Popen(prefix + [WORKLOAD, "race", "0", "4", "1500", str(40 << 20), str(i)],
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
             for i in range(8)]
    max_truth = max_region = samples = 0
    while any(p.poll() is None for p in procs):
        max_truth = max(max_truth, _native.sim_devices(state)[0]["used_bytes"])
        if capped and os.path.exists(region):
            try:
                max_region = max(max_region, hami_core.usage(region, reclaim=False)[0].used_bytes)
            except Exception:
                pass
        samples += 1
    totals = {"ok": 0, "oom": 0, "other": 0}
    for p in procs:
        out = json.loads(p.stdout.read().splitlines()[-1])
        for k in totals:
            totals[k] += out[k]
    end_region = hami_core.usage(region)[0].used_bytes if capped else 0
    return dict(totals, max_truth=max_truth, max_region=max_region, samples=samples,
                end_region=end_region)
print(json.dumps({"capped": race(True, REGION), "control": race(False, REGION + ".unused")}))
"""


def test_racing_processes_never_pass_the_cap(workload, tmp_path):
    code = f"WORKLOAD = {workload!r}\nREGION = {str(tmp_path / 'region')!r}\n" + RACE
    r = H.run_driver(code, tmp_path, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    out = H.last_json(r.stdout)
    capped, control = out["capped"], out["control"]
    cap = 256 * MiB
    assert control["max_truth"] > cap, control  # without the library the race passes the cap
    assert capped["oom"] > 0 and capped["ok"] > 0, capped  # the cap was actually contended
    assert capped["other"] == 0, capped
    assert capped["max_truth"] <= cap, capped
    assert capped["max_region"] <= cap, capped
    assert capped["end_region"] == 0, capped  # every byte released or reclaimed


KILL = """
import random, hami_core
random.seed(7)
region = REGION
for attempt in range(5):
    p = subprocess.Popen(HAMI + ["run", "--memory", "256m", "--region", region, "--",
                                 WORKLOAD, "churn", "0", str(200 << 20)],
                         stdout=subprocess.PIPE, text=True)
    assert json.loads(p.stdout.readline())["ready"]
    time.sleep(random.uniform(0.0, 0.2))
    p.send_signal(signal.SIGKILL)
    p.wait()
    # a new process can allocate up to the cap: the dead one's bytes are reclaimed, and no lock
    # it may have held blocks the region
    r = subprocess.run(HAMI + ["run", "--memory", "256m", "--region", region, "--",
                               WORKLOAD, "alloc", "direct", "0", str(256 << 20)],
                       capture_output=True, text=True, timeout=30)
    got = json.loads(r.stdout.splitlines()[-1])
    assert got["rc"] == 0, (attempt, got, r.stderr)
print(json.dumps({"ok": True, "used_after": hami_core.usage(region)[0].used_bytes}))
"""


def test_kill_9_mid_allocation_is_reclaimed(workload, tmp_path):
    code = f"WORKLOAD = {workload!r}\nREGION = {str(tmp_path / 'region')!r}\n" + KILL
    r = H.run_driver(code, tmp_path, timeout=180)
    assert r.returncode == 0, r.stderr[-2000:]
    out = H.last_json(r.stdout)
    assert out == {"ok": True, "used_after": 0}


FORK = """
import multiprocessing as mp
import hami_core
from hami_core.cuda import Driver
region = os.environ["HAMI_REGION"]
def mine(pid):
    for p in hami_core.processes(region, reclaim=False):
        if p.pid == pid and p.alive:
            return p.total_bytes
    return 0
def child(q):
    drv = Driver()
    drv.primary_context(0)
    ptr = drv.mem_alloc(50 << 20)
    q.put({"pid": os.getpid(), "child": mine(os.getpid()), "parent": mine(os.getppid()),
           "device": hami_core.usage(region, reclaim=False)[0].used_bytes})
    time.sleep(0.2)
drv = Driver()
drv.primary_context(0)
ptr = drv.mem_alloc(100 << 20)
ctx = mp.get_context("fork")
q = ctx.Queue()
proc = ctx.Process(target=child, args=(q,))
proc.start()
seen = q.get(timeout=30)
proc.join()
after = {"parent": mine(os.getpid()), "device": hami_core.usage(region)[0].used_bytes}
drv.mem_free(ptr)
print(json.dumps({"during": seen, "after": after,
                  "freed": hami_core.usage(region)[0].used_bytes}))
"""


def test_forked_child_gets_its_own_slot(workload, tmp_path):
    script = tmp_path / "fork_workload.py"
    script.write_text("import json, os, sys, time\n" + FORK)
    r = H.run_capped([sys.executable, str(script)], memory=["1g"], region=str(tmp_path / "region"))
    assert r.returncode == 0, r.stderr[-2000:]
    out = H.last_json(r.stdout)
    assert out["during"]["child"] == 50 * MiB
    assert out["during"]["parent"] == 100 * MiB
    assert out["during"]["device"] == 150 * MiB  # nothing counted twice
    assert out["after"] == {"parent": 100 * MiB, "device": 100 * MiB}  # child's bytes reclaimed
    assert out["freed"] == 0
