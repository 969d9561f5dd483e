"""`hami-core sim`: simulated devices, end to end through subprocesses (issue 2)."""
from __future__ import annotations

import os
import signal
import sys

import pytest

from conftest import GiB, MiB


# ---- the command itself -------------------------------------------------------------------------

def test_exit_code_passes_through(runner):
    r = runner.hami("sim", "--", sys.executable, "-c", "import sys; sys.exit(7)")
    assert r.returncode == 7, r.stderr
    r = runner.hami("sim", "--", sys.executable, "-c", "pass")
    assert r.returncode == 0, r.stderr


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM])
def test_signal_death_is_128_plus_signal(runner, sig):
    code = f"import os; os.kill(os.getpid(), {int(sig)})"
    r = runner.hami("sim", "--", sys.executable, "-c", code)
    assert r.returncode == 128 + int(sig), (r.returncode, r.stderr)


def test_command_not_found(runner):
    r = runner.hami("sim", "--", "no-such-command-hami-test")
    assert r.returncode == 127
    assert r.stderr.strip().count("\n") == 0 and "command not found" in r.stderr


def test_fresh_state_each_run_and_removed_after(runner):
    code = """
        emit({"state": os.environ["HAMI_SIM_STATE"], "region": os.environ["HAMI_REGION"],
              "ld": os.environ["LD_LIBRARY_PATH"], "exists": os.path.exists(os.environ["HAMI_SIM_STATE"]),
              "info": info()})
    """
    a = runner.script(code)
    b = runner.script(code)
    assert a.returncode == 0 and b.returncode == 0, a.stderr + b.stderr
    ja, jb = runner.last_json(a.stdout), runner.last_json(b.stdout)
    assert ja["exists"] and ja["state"] != jb["state"] and ja["region"] != jb["region"]
    assert not os.path.exists(ja["state"]) and not os.path.exists(os.path.dirname(ja["state"]))
    assert ja["ld"].split(":")[0].endswith(os.path.join("_lib", "sim"))
    devs = ja["info"]["devices"]
    assert len(devs) == 2                                  # default: 2 devices of 16 GiB
    for d in devs:
        assert d["total"] == 16 * GiB and d["free"] == d["total"] and d["total_mem"] == 16 * GiB
    assert devs[0]["uuid"] != devs[1]["uuid"] and devs[0]["uuid"].startswith("GPU-")


def test_devices_and_memory_options(runner):
    r = runner.script('emit(info())', sim_args=["--devices", "3", "--memory", "4g"])
    assert r.returncode == 0, r.stderr
    devs = runner.last_json(r.stdout)["devices"]
    assert [d["total"] for d in devs] == [4 * GiB] * 3


@pytest.mark.parametrize("args,word", [
    (["--memory", "abc"], "--memory"),
    (["--memory", "-1g"], "--memory"),
    (["--memory", "99999999999999t"], "--memory"),
    (["--devices", "0"], "--devices"),
    (["--vendor", "amd"], "--vendor"),
])
def test_bad_values_exit_2_one_line(runner, tmp_path, args, word):
    marker = tmp_path / "ran"
    r = runner.hami("sim", *args, "--", sys.executable, "-c", f"open({str(marker)!r}, 'w')")
    assert r.returncode == 2, (r.returncode, r.stderr)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"hami-core: {word}"), r.stderr
    assert "Traceback" not in r.stderr
    assert not marker.exists()


# ---- two processes share a device ---------------------------------------------------------------

def test_memory_shared_between_processes_and_returned_after_kill9(runner):
    code = """
        total = info()["devices"][0]["total"]
        holder = workload("hold", "3Gi")
        h = first_json(holder)
        seen = info()["devices"][0]
        os.kill(holder.pid, signal.SIGKILL)
        holder.wait()
        after = None
        for _ in range(40):                       # the driver gives a dead process's memory back
            after = info()["devices"][0]
            if after["free"] == total:
                break
            time.sleep(0.05)
        emit({"total": total, "holder": h, "seen": seen, "after": after})
    """
    r = runner.script(code)
    assert r.returncode == 0, r.stderr
    j = runner.last_json(r.stdout)
    assert j["holder"]["ready"]
    assert j["seen"]["free"] == j["total"] - 3 * GiB      # the other process's memory is not free
    assert j["seen"]["total"] == j["total"]
    assert j["after"]["free"] == j["total"]               # returned after kill -9


def test_two_spinners_share_device_time(runner):
    """Each process launches 1 s of spin kernels back to back on device 0: together ~2 s of
    wall time (time slicing), while one alone takes ~1 s (the control)."""
    code = """
        start = time.monotonic_ns() + 1_500_000_000     # both start at the same moment
        def spinners(n):
            ps = [workload("spin", "--total-ns", "1000000000", "--kernel-ns", "10000000",
                           "--start-at", str(start)) for _ in range(n)]
            outs = [first_json(p) for p in ps]
            for p in ps: p.wait()
            return outs
        two = spinners(2)
        start = time.monotonic_ns() + 1_000_000_000
        one = spinners(1)
        emit({"two": two, "one": one})
    """
    r = runner.script(code, timeout=90)
    assert r.returncode == 0, r.stderr
    j = runner.last_json(r.stdout)
    two = j["two"]
    span2 = (max(o["end_ns"] for o in two) - min(o["start_ns"] for o in two)) / 1e9
    span1 = j["one"][0]["wall_s"]
    assert all(o["kernels"] == 100 for o in two)
    assert 1.7 <= span2 <= 3.5, span2
    assert 0.9 <= span1 <= 1.6, span1


# ---- NVML ---------------------------------------------------------------------------------------

NVML_SCRIPT = """
    import ctypes
    class Mem(ctypes.Structure):
        _fields_ = [("total", ctypes.c_ulonglong), ("free", ctypes.c_ulonglong), ("used", ctypes.c_ulonglong)]
    class Proc(ctypes.Structure):
        _fields_ = [("pid", ctypes.c_uint), ("usedGpuMemory", ctypes.c_ulonglong),
                    ("gpuInstanceId", ctypes.c_uint), ("computeInstanceId", ctypes.c_uint)]
    holder = workload("hold", "1536Mi", "--device", "1")
    h = first_json(holder)
    nvml = ctypes.CDLL("libnvidia-ml.so.1")
    assert nvml.nvmlInit_v2() == 0
    count = ctypes.c_uint()
    assert nvml.nvmlDeviceGetCount_v2(ctypes.byref(count)) == 0
    out = {"count": count.value, "devices": []}
    for i in range(count.value):
        dev = ctypes.c_void_p()
        assert nvml.nvmlDeviceGetHandleByIndex_v2(i, ctypes.byref(dev)) == 0
        mem = Mem()
        assert nvml.nvmlDeviceGetMemoryInfo(dev, ctypes.byref(mem)) == 0
        n = ctypes.c_uint(16)
        procs = (Proc * 16)()
        rc = nvml.nvmlDeviceGetComputeRunningProcesses_v3(dev, ctypes.byref(n), procs)
        out["devices"].append({"rc": rc, "used": mem.used, "total": mem.total, "free": mem.free,
                               "procs": [(procs[k].pid, procs[k].usedGpuMemory) for k in range(n.value)]})
    out["holder_pid"] = holder.pid
    holder.kill(); holder.wait()
    emit(out)
"""


def test_nvml_reports_per_process_memory(runner):
    r = runner.script(NVML_SCRIPT)
    assert r.returncode == 0, r.stderr
    j = runner.last_json(r.stdout)
    assert j["count"] == 2
    d0, d1 = j["devices"]
    assert d0["rc"] == 0 and d1["rc"] == 0
    assert [p for p in d1["procs"] if p[0] == j["holder_pid"]] == [[j["holder_pid"], 1536 * MiB]]
    assert not [p for p in d0["procs"] if p[0] == j["holder_pid"]]
    assert d1["used"] >= 1536 * MiB and d1["total"] == 16 * GiB and d1["free"] == d1["total"] - d1["used"]


def test_stream_events_and_query_through_python_client(runner):
    code = """
        from hami_core.cuda import Driver
        d = Driver(); d.primary_context(0)
        f = d.spin_module().function("hami_sim_spin")
        s = d.stream(); a = d.event(); b = d.event()
        t0 = time.monotonic()
        a.record(s)
        for _ in range(100):
            d.spin(f, 1_000_000, s)          # 100 x 1 ms
        b.record(s)
        queued = [s.query(), b.query()]
        s.synchronize()
        wall = time.monotonic() - t0
        emit({"queued": queued, "done": [s.query(), b.query()], "wall": wall, "elapsed_ms": a.elapsed_ms(b)})
    """
    r = runner.script(code)
    assert r.returncode == 0, r.stderr
    j = runner.last_json(r.stdout)
    assert j["queued"] == [False, False] and j["done"] == [True, True]
    assert 95 <= j["elapsed_ms"] <= 130, j
    assert 0.095 <= j["wall"] <= 0.6, j
