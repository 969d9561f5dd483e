"""Ascend memory caps end to end, through `hami-core sim --vendor ascend` + `hami-core run`:
each resolution path (ACL linked, ACL through dlopen + dlsym, the runtime through dlsym) is
capped with 207001 (ACL_ERROR_RT_MEMORY_ALLOCATION) and the memory information shows the cap;
the torch_npu patterns (caching allocator through aclrtMallocAlign32 via dlsym, expandable
segments through reserve/physical/map, aclnn workspace allocations from the op library) are
capped; NPU_MEM_QUOTA (MiB) works like --memory; a process on a GPU and an NPU at once is
capped on both.  Every capped case has a CONTROL: the same workload without the library goes
past the cap."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "workloads"))
import caps_helpers as H  # noqa: E402

MiB = H.MiB
GiB = 1 << 30
OOM = 207001
SRC = os.path.join(os.path.dirname(__file__), "workloads", "ascend_workload.c")


@pytest.fixture(scope="session")
def workload(built_hami_core, tmp_path_factory):
    sim_dir = built_hami_core.sim_library_dir()
    libs = [os.path.join(sim_dir, n) for n in ("libascendcl.so", "libruntime.so")]
    if not all(os.path.isfile(p) for p in libs):
        pytest.fail("hami-core was built without the Ascend simulator")
    out = str(tmp_path_factory.mktemp("ascend_workload"))
    include = os.path.normpath(os.path.join(os.path.dirname(__file__), "..", "csrc", "include"))
    exe = os.path.join(out, "ascend_workload")
    subprocess.run([os.environ.get("CC", "cc"), "-O1", "-Wall", "-D_GNU_SOURCE", "-I", include,
                    SRC, "-o", exe, *libs, "-ldl"], check=True, capture_output=True, text=True)
    return exe


def sim_args(vendor="ascend"):
    return ["--vendor", vendor]


def control(argv, vendor="ascend", env=None):
    """The workload on the simulator, without the library."""
    r = H.run_sim(argv, env=env, sim_args=sim_args(vendor))
    assert r.returncode == 0, r.stderr
    return H.last_json(r.stdout)


def capped(argv, tmp_path, memory=("1g",), vendor="ascend", env=None):
    """hami-core sim --vendor V -- hami-core run --memory M --region R -- argv"""
    run_args = []
    for m in memory:
        run_args += ["--memory", m]
    cmd = (H.hami_cmd() + ["sim", *sim_args(vendor), "--"] + H.hami_cmd() +
           ["run", *run_args, "--region", str(tmp_path / "region"), "--", *argv])
    r = H.run_group(cmd, env=env or H.clean_env(), timeout=60)
    assert r.returncode == 0, r.stderr
    return H.last_json(r.stdout), r.stderr


@pytest.mark.parametrize("mode", ["direct", "dlsym", "rt"])
def test_each_resolution_path_is_capped(workload, mode, tmp_path):
    argv = [workload, "alloc", mode, "0", str(100 * MiB)]
    assert control(argv)["rc"] == 0  # the card has room: without us it succeeds
    out, err = capped(argv, tmp_path, memory=["64m"])
    assert out["rc"] == OOM
    assert out["total"] == 64 * MiB and out["free"] == 64 * MiB
    assert "out of memory on device 0" in err and "cap 67108864" in err
    ok, _ = capped([workload, "alloc", mode, "0", str(32 * MiB)], tmp_path, memory=["64m"])
    assert ok["rc"] == 0 and ok["total"] == 64 * MiB
    assert ok["free"] == 32 * MiB - (32 if mode == "direct" else 0)


def test_per_device_caps(workload, tmp_path):
    for dev, cap_mib in ((0, 1024), (1, 2048)):
        over = [workload, "alloc", "direct", str(dev), str((cap_mib + 100) * MiB)]
        assert control(over)["rc"] == 0
        out, _ = capped(over, tmp_path, memory=["0=1g", "1=2g"])
        assert out["rc"] == OOM and out["total"] == cap_mib * MiB
        fits, _ = capped([workload, "alloc", "direct", str(dev), str((cap_mib - 100) * MiB)],
                         tmp_path, memory=["0=1g", "1=2g"])
        assert fits["rc"] == 0


def test_caching_allocator_via_dlsym(workload, tmp_path):
    argv = [workload, "cache", str(256 * MiB), "6"]
    free_run = control(argv)
    assert free_run["rc"] == 0 and free_run["allocated"] == 6 * 256 * MiB  # past 1g without us
    out, err = capped(argv, tmp_path)
    assert out["rc"] == OOM and out["allocated"] == 1 * GiB and out["total"] == 1 * GiB
    assert out["retry_rc"] == 0  # torch_npu's free-cache-and-retry works after 207001
    assert "aclrtMallocAlign32: out of memory on device 0" in err


def test_expandable_segments(workload, tmp_path):
    argv = [workload, "expandable", str(128 * MiB), "12"]
    free_run = control(argv)
    assert free_run["rc"] == 0 and free_run["mapped"] == 12 * 128 * MiB
    out, err = capped(argv, tmp_path)
    assert out["rc"] == OOM and out["mapped"] == 1 * GiB
    assert "aclrtMallocPhysical: out of memory" in err


def test_op_library_workspace(workload, tmp_path):
    argv = [workload, "workspace", str(256 * MiB), "5"]
    free_run = control(argv)
    assert free_run["cached"] == 5 * 256 * MiB and free_run["workspace_rc"] == 0
    assert free_run["op_rc"] == 0
    out, _ = capped(argv, tmp_path)
    assert out["cached"] == 1 * GiB
    assert out["workspace_rc"] == OOM and out["retry_rc"] == 0 and out["op_rc"] == 0


def test_npu_mem_quota_works_like_memory(workload, tmp_path):
    env = H.clean_env(NPU_MEM_QUOTA="1024")
    argv = [workload, "cache", str(256 * MiB), "6"]
    out, _ = capped(argv, tmp_path, memory=(), env=env)
    via_option, _ = capped(argv, tmp_path, memory=["1g"])
    assert out == via_option
    assert out["rc"] == OOM and out["allocated"] == 1 * GiB and out["total"] == 1 * GiB


def test_bad_quota_fails_closed(workload, tmp_path):
    env = H.clean_env(NPU_MEM_QUOTA="abc")
    cmd = (H.hami_cmd() + ["sim", "--vendor", "ascend", "--", workload, "alloc", "direct", "0",
                           str(MiB)])
    env["LD_PRELOAD"] = __import__("hami_core").library_path()
    env["HAMI_REGION"] = str(tmp_path / "region")
    r = H.run_group(cmd, env=env, timeout=60)
    assert r.returncode == 0, r.stderr
    assert H.last_json(r.stdout)["rc"] == OOM
    assert "NPU_MEM_QUOTA" in r.stderr


def test_cuda_and_ascend_in_one_process(workload, tmp_path):
    argv = [workload, "both", str(1100 * MiB)]
    free_run = control(argv, vendor="cuda,ascend")
    assert free_run == {"cuda_rc": 0, "acl_rc": 0}
    out, err = capped(argv, tmp_path, vendor="cuda,ascend")
    assert out == {"cuda_rc": 2, "acl_rc": OOM}
    assert "cuMemAlloc_v2: out of memory" in err and "aclrtMalloc: out of memory" in err
    fits, _ = capped([workload, "both", str(900 * MiB)], tmp_path, vendor="cuda,ascend")
    assert fits == {"cuda_rc": 0, "acl_rc": 0}
