"""The in-service Python API (issue 6 item 5): current(), memory_budget(), UsageSampler."""
from __future__ import annotations

import sys

import pytest

from conftest import GiB, MiB, hami_cmd

import hami_core
from hami_core import _native


def test_outside_the_library(tmp_path):
    assert hami_core.current() is None
    with pytest.raises(hami_core.NotUnderLibraryError):
        hami_core.memory_budget()
    # an operator can still ask about a region explicitly
    path = str(tmp_path / "r.region")
    with _native.Region(path, True) as r:
        dev = r.device("cuda", "GPU-00000000-budget", 16 * GiB, {"memory_limit_bytes": GiB})
        me = r.join()
        assert r.charge_memory(dev, me, 200 * MiB)[0] == 0
        assert hami_core.memory_budget(0, 1.0, region=path) == GiB - 200 * MiB
        assert hami_core.memory_budget("GPU-0000", 0.5, region=path) == (GiB - 200 * MiB) // 2
        with pytest.raises(ValueError):
            hami_core.memory_budget(0, 1.5, region=path)
        with pytest.raises(hami_core.DeviceNotFoundError):
            hami_core.memory_budget(3, region=path)
        r.leave(me)


def test_current_inside_the_library(runner):
    code = """
        import hami_core
        from hami_core.cuda import Driver
        sampler = hami_core.UsageSampler()
        other = workload("hold", "200Mi")                 # another process of the same container
        first_json(other)
        drv = Driver(); drv.primary_context(0)
        p = drv.mem_alloc(100 << 20)
        spin = drv.spin_module().function("hami_sim_spin")
        s = drv.stream()
        for _ in range(50):
            drv.spin(spin, 5_000_000, stream=s)
        s.synchronize()
        cur = hami_core.current(sampler=sampler)
        plain = hami_core.current()
        free, total = drv.mem_get_info()
        emit({"cur": cur.to_dict(), "plain_recent": plain.devices[0].recent, "pid": os.getpid(),
              "meminfo": [free, total], "budget": hami_core.memory_budget(0, 0.9),
              "budget_uuid": hami_core.memory_budget(cur.devices[0].uuid, 1.0),
              "dev": cur.device(0).uuid == cur.devices[0].uuid})
        other.kill()
    """
    r = runner.hami("sim", "--devices", "1", "--", *hami_cmd(), "run", "--memory", "1g", "--compute", "50", "--",
                    sys.executable, runner.write_script(code))
    assert r.returncode == 0, r.stderr
    j = runner.last_json(r.stdout)
    cur = j["cur"]
    assert cur["pid"] == j["pid"] and cur["region_exists"]
    d = cur["devices"][0]
    assert d["memory_cap_bytes"] == GiB and d["memory_limit_bytes"] == GiB
    assert d["used_bytes"] == 300 * MiB                       # the container: this process and the other
    assert d["process_used_bytes"] == 100 * MiB
    assert d["free_bytes"] == GiB - 300 * MiB
    assert d["compute_limit_pct"] == 50
    assert j["meminfo"] == [GiB - 300 * MiB, GiB]             # what cuMemGetInfo (torch) reports
    assert j["budget"] == int((GiB - 300 * MiB) * 0.9) and j["budget_uuid"] == GiB - 300 * MiB
    rec = d["recent"]
    assert rec is not None and rec["window_s"] > 0 and 0 <= rec["busy_pct"] <= 100
    if d["busy_ns"]:                                          # the library meters launches: 250 ms of work
        assert rec["busy_pct"] > 0 and str(j["pid"]) in rec["process_busy_pct"]
    assert j["plain_recent"] is None and j["dev"]
