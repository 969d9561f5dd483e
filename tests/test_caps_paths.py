"""Memory caps end to end, through `hami-core sim` + `hami-core run`: every resolution path
(direct linking, dlopen + dlsym, cuGetProcAddress_v2 at 12000 and 13000) is capped, each with a
control that shows the same workload exceeds the cap without the library; per-device caps
apply to the right device, also when CUDA_VISIBLE_DEVICES reorders the devices."""
from __future__ import annotations

import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "workloads"))
import caps_helpers as H  # noqa: E402

MiB = H.MiB
PATHS = ["direct", "dlsym", "procaddr12000", "procaddr13000"]


@pytest.fixture(scope="session")
def workload(built_hami_core, tmp_path_factory):
    return H.build_workload(str(tmp_path_factory.mktemp("caps_workload")))


@pytest.mark.parametrize("mode", PATHS)
def test_each_resolution_path_is_capped(workload, mode, tmp_path):
    region = str(tmp_path / "region")
    control = H.run_sim([workload, "alloc", mode, "0", str(100 * MiB)])
    assert control.returncode == 0, control.stderr
    assert H.last_json(control.stdout)["rc"] == 0  # the card has room: without us it succeeds
    capped = H.run_capped([workload, "alloc", mode, "0", str(100 * MiB)], memory=["64m"],
                          region=region)
    assert capped.returncode == 0, capped.stderr
    out = H.last_json(capped.stdout)
    assert out["rc"] == 2  # CUDA_ERROR_OUT_OF_MEMORY
    assert out["total"] == 64 * MiB and out["free"] == 64 * MiB
    assert "out of memory on device 0" in capped.stderr and "cap 67108864" in capped.stderr
    ok = H.run_capped([workload, "alloc", mode, "0", str(64 * MiB)], memory=["64m"],
                      region=region)
    assert H.last_json(ok.stdout) == {"rc": 0, "free": 0, "total": 64 * MiB}


@pytest.mark.parametrize("visible", [None, "1,0"])
def test_per_device_caps(workload, visible, tmp_path):
    env = H.clean_env()
    if visible:
        env["CUDA_VISIBLE_DEVICES"] = visible
    results = {}
    for dev in (0, 1):
        for size_mib in (1000, 1100, 2000, 2100):
            r = H.run_capped([workload, "alloc", "direct", str(dev), str(size_mib * MiB)],
                             memory=["0=1g", "1=2g"], region=str(tmp_path / f"r{dev}{size_mib}"),
                             env=env)
            results[(dev, size_mib)] = H.last_json(r.stdout)
    # ordinals as the process sees them: _0 caps ordinal 0 whatever physical GPU it is
    assert results[(0, 1000)]["rc"] == 0 and results[(0, 1100)]["rc"] == 2
    assert results[(0, 1000)]["total"] == 1 << 30
    assert results[(1, 2000)]["rc"] == 0 and results[(1, 2100)]["rc"] == 2
    assert results[(1, 2000)]["total"] == 2 << 30
    assert results[(0, 2000)]["rc"] == 2


def test_reordered_devices_charge_the_physical_uuid(workload, tmp_path):
    """With CUDA_VISIBLE_DEVICES=1,0, ordinal 0 is physical device 1: the region entry charged
    is keyed by that device's UUID."""
    code = f"""
    import hami_core
    region = {str(tmp_path / 'region')!r}
    env = dict(os.environ, CUDA_VISIBLE_DEVICES="1,0")
    p = subprocess.Popen(HAMI + ["run", "--memory", "0=1g", "--region", region, "--",
                                 {workload!r}, "hold", "0", str(300 << 20)],
                         stdout=subprocess.PIPE, text=True, env=env)
    ready = json.loads(p.stdout.readline())
    info = subprocess.run([sys.executable, "-m", "hami_core._workload", "info"],
                          capture_output=True, text=True).stdout
    uuids = [d["uuid"] for d in json.loads(info.splitlines()[-1])["devices"]]
    used = {{d.uuid: d.used_bytes for d in hami_core.usage(region)}}
    limits = {{d.uuid: d.memory_limit_bytes for d in hami_core.usage(region)}}
    p.kill(); p.wait()
    print(json.dumps({{"ready": ready, "uuids": uuids, "used": used, "limits": limits}}))
    """
    r = H.run_driver(code, tmp_path)
    assert r.returncode == 0, r.stderr
    out = H.last_json(r.stdout)
    assert out["ready"]["ready"]
    physical1 = out["uuids"][1]
    assert out["used"] == {physical1: 300 << 20}
    assert out["limits"][physical1] == 1 << 30
