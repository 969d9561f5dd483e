"""The `hami-core` CLI end to end: run, status, set, demo, bench, errors (issues 2 and 3)."""
from __future__ import annotations

import json
import os
import sys

import pytest

import hami_core
from conftest import GiB, MiB, clean_env

PRINT_ENV = ("import json, os; print(json.dumps({k: v for k, v in os.environ.items() "
             "if k.startswith(('HAMI_', 'LD_PRELOAD', 'CUDA_DEVICE'))}))")


# ---- run ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("args,start", [
    (["--memory", "abc"], "hami-core: --memory"),
    (["--memory", "-1g"], "hami-core: --memory"),
    (["--memory", "99999999999999t"], "hami-core: --memory"),
    (["--memory", "0=lots"], "hami-core: --memory '0=lots'"),
    (["--memory", "x=1g"], "hami-core: --memory 'x=1g'"),
    (["--memory", "=1g"], "hami-core: --memory '=1g'"),
    (["--compute", "150"], "hami-core: --compute"),
    (["--compute", "abc"], "hami-core: --compute"),
    (["--compute", "1=-5"], "hami-core: --compute '1=-5'"),
    (["--memory", "1g", "--compute", "101%"], "hami-core: --compute"),
])
def test_run_rejects_bad_values_before_starting(runner, tmp_path, args, start):
    marker = tmp_path / "ran"
    r = runner.hami("run", *args, "--", sys.executable, "-c", f"open({str(marker)!r}, 'w')")
    assert r.returncode == 2, (r.returncode, r.stderr)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(start), r.stderr
    assert ("expected" in lines[0]) or ("too large" in lines[0])
    assert not marker.exists()


def test_run_sets_environment_and_preloads(runner, tmp_path, lib_path):
    region = tmp_path / "r.region"
    env = clean_env(CUDA_DEVICE_MEMORY_LIMIT="8g", HAMI_MEMORY_LIMIT_3="5g", LD_PRELOAD="libfoo.so")
    r = runner.hami("run", "--memory", "1g", "--memory", "1=2GB", "--compute", "50", "--compute", "0=30%",
                    "--region", str(region), "--", sys.executable, "-c", PRINT_ENV, env=env)
    assert r.returncode == 0, r.stderr
    e = json.loads(r.stdout)
    assert e["HAMI_MEMORY_LIMIT"] == str(GiB)
    assert e["HAMI_MEMORY_LIMIT_1"] == str(2 * 10**9)
    assert e["HAMI_COMPUTE_LIMIT"] == "50" and e["HAMI_COMPUTE_LIMIT_0"] == "30"
    assert e["HAMI_REGION"] == str(region)
    assert "CUDA_DEVICE_MEMORY_LIMIT" not in e and "HAMI_MEMORY_LIMIT_3" not in e  # replaced, not mixed
    assert e["LD_PRELOAD"].split(":") == [lib_path, "libfoo.so"]


def test_run_passes_exit_code_and_finds_commands(runner):
    r = runner.hami("run", "--", sys.executable, "-c", "import sys; sys.exit(5)")
    assert r.returncode == 5, r.stderr
    r = runner.hami("run", "--memory", "1g", "--", "no-such-command-hami-test")
    assert r.returncode == 127 and "command not found" in r.stderr


def test_run_composes_with_sim_and_caps(runner):
    """`hami-core sim -- hami-core run --memory 1g -- CMD`: the workload sees a 1 GiB device and
    gets CUDA_ERROR_OUT_OF_MEMORY at the cap; the control without run fills past it."""
    code = """
        capped_fill = run_json(capped("--memory", "1g") + ["fill", "--chunk", "128Mi", "--max", "4Gi"])
        control = run_json([sys.executable, "-m", "hami_core._workload", "fill", "--chunk", "128Mi", "--max", "4Gi"])
        emit({"capped": capped_fill, "control": control})
    """
    r = runner.script(code)
    assert r.returncode == 0, r.stderr
    j = runner.last_json(r.stdout)
    c = j["capped"]
    assert c["total"] == GiB and c["free_before"] == GiB
    assert c["allocated"] == GiB and c["oom"] and c["error"] == "CUDA_ERROR_OUT_OF_MEMORY"
    assert j["control"]["allocated"] == 4 * GiB and j["control"]["total"] == 16 * GiB


# ---- status / set -------------------------------------------------------------------------------

STATUS_SCRIPT = """
    holder = subprocess.Popen(capped("--memory", "2g", "--memory", "1=3g") + ["hold", "512Mi"],
                              stdout=subprocess.PIPE, text=True)
    h = first_json(holder)
    st = run_json(HAMI + ["status", "--json"])
    text = subprocess.run(HAMI + ["status"], capture_output=True, text=True).stdout
    uuid = st["devices"][0]["uuid"]
    set1 = run_json(HAMI + ["set", "--memory", "1g", "--json"])
    set2 = run_json(HAMI + ["set", "--memory", "0=768Mi", "--compute", uuid[:12] + "=40", "--json"])
    bad = subprocess.run(HAMI + ["set", "--memory", "7=1g"], capture_output=True, text=True)
    fill = run_json(capped() + ["fill", "--chunk", "64Mi", "--max", "2Gi"])
    holder.kill(); holder.wait()
    after = run_json(HAMI + ["status", "--json"])
    emit({"holder": h, "status": st, "text": text, "set1": set1, "set2": set2,
          "bad": [bad.returncode, bad.stderr], "fill": fill, "after": after})
"""


def test_status_json_schema_set_and_live_limits(runner):
    r = runner.script(STATUS_SCRIPT)
    assert r.returncode == 0, r.stderr
    j = runner.last_json(r.stdout)
    st = j["status"]
    assert st["schema"] == 1 and os.path.isabs(st["region"])
    assert len(st["devices"]) >= 1
    d = st["devices"][0]
    keys = {"index", "vendor", "uuid", "card_total_bytes", "memory_limit_bytes", "used_bytes", "free_bytes",
            "compute_limit_pct", "memory_limit_invalid", "compute_limit_invalid", "policy", "launches",
            "throttled_ns", "busy_ns", "slot"}
    assert keys <= set(d)
    assert d["index"] == 0 and d["vendor"] == "cuda" and d["uuid"].startswith("GPU-")
    assert d["memory_limit_bytes"] == 2 * GiB and d["used_bytes"] == 512 * MiB
    assert d["free_bytes"] == 2 * GiB - 512 * MiB and d["card_total_bytes"] == 16 * GiB
    assert d["policy"] == "force" and d["memory_limit_invalid"] is False
    procs = [p for p in st["processes"] if p["pid"] == j["holder"]["pid"]]
    assert len(procs) == 1
    p = procs[0]
    assert {"pid", "name", "alive", "start_time", "used_bytes", "busy_ns", "slot"} <= set(p)
    assert p["alive"] and p["name"].startswith("python") and p["used_bytes"] == {"0": 512 * MiB}
    # the table shows the same
    assert d["uuid"][:20] in j["text"] and "512 MiB" in j["text"] and "2.00 GiB" in j["text"]
    # set: all devices, then by index and by UUID prefix
    assert all(x["memory_limit_bytes"] == GiB for x in j["set1"]["devices"])
    d2 = j["set2"]["devices"][0]
    assert d2["memory_limit_bytes"] == 768 * MiB and d2["compute_limit_pct"] == 40
    assert j["bad"][0] == 2 and j["bad"][1].startswith("hami-core: device 7") and j["bad"][1].count("\n") == 1
    # the live cap applies to a process started afterwards: 768 MiB cap, 512 MiB held elsewhere
    assert j["fill"]["total"] == 768 * MiB and j["fill"]["allocated"] == 256 * MiB and j["fill"]["oom"]
    # the holder's bytes are gone once it is killed
    assert j["after"]["devices"][0]["used_bytes"] == 0
    assert not [p for p in j["after"]["processes"] if p["pid"] == j["holder"]["pid"] and p["alive"]]


def test_status_missing_region(runner, tmp_path):
    r = runner.hami("status", "--region", str(tmp_path / "none.region"))
    assert r.returncode == 1
    assert r.stderr.startswith("hami-core: no region at ") and r.stderr.count("\n") == 1
    r = runner.hami("status", "--json", env=clean_env(HAMI_REGION=str(tmp_path / "none2.region")))
    assert r.returncode == 1 and "none2.region" in r.stderr and r.stdout == ""


@pytest.mark.parametrize("content", [b"", b"garbage" * 100, b"HAMIRGN\0" + b"\xff" * 4096])
def test_status_corrupt_region(runner, tmp_path, content):
    path = tmp_path / "bad.region"
    path.write_bytes(content)
    r = runner.hami("status", "--region", str(path))
    assert r.returncode == 1, r.stderr
    assert r.stderr.startswith("hami-core: ") and r.stderr.count("\n") == 1 and "Traceback" not in r.stderr
    assert str(path) in r.stderr
    assert path.read_bytes() == content          # refused, never rewritten
    r = runner.hami("set", "--memory", "1g", "--region", str(path))
    assert r.returncode == 1 and path.read_bytes() == content


def test_set_needs_a_value(runner, tmp_path):
    r = runner.hami("set", "--region", str(tmp_path / "x.region"))
    assert r.returncode == 2 and "nothing to set" in r.stderr
    r = runner.hami("set", "--memory", "lots", "--region", str(tmp_path / "x.region"))
    assert r.returncode == 2 and r.stderr.startswith("hami-core: --memory")


def _one_device_region(path, limit=GiB):
    from hami_core import _native

    r = _native.Region(str(path), True)
    r.device("cuda", "GPU-00000000-cli", 16 * GiB, {"memory_limit_bytes": limit, "compute_limit_pct": 0})
    r.close()


@pytest.mark.parametrize("args", [
    ["--memory", "3g", "--memory", "5=2g"],                  # a later DEV that does not exist
    ["--compute", "30", "--memory", "5=2g"],                 # another kind, same rule
    ["--memory", "3g", "--compute", "GPU-ffff=10"],          # an unknown UUID prefix
    ["--memory", "0=3g", "--memory", "1=2g"],                # a valid DEV, then an invalid one
])
def test_set_is_all_or_nothing(runner, tmp_path, args):
    path = tmp_path / "one.region"
    _one_device_region(path)
    r = runner.hami("set", *args, "--region", str(path))
    assert r.returncode == 2, (r.returncode, r.stderr)
    assert r.stderr.startswith("hami-core: device ") and r.stderr.count("\n") == 1, r.stderr
    [u] = hami_core.usage(str(path))
    assert u.memory_limit_bytes == GiB and u.compute_limit_pct == 0     # nothing was written
    # per-device values still win over global ones, whatever their order on the command line
    r = runner.hami("set", "--memory", "0=2g", "--memory", "3g", "--compute", "GPU-0000=20", "--compute", "50",
                    "--region", str(path), "--json")
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)["devices"][0]
    assert d["memory_limit_bytes"] == 2 * GiB and d["compute_limit_pct"] == 20


def test_set_on_a_region_without_devices_fails(runner, tmp_path):
    from hami_core import _native

    path = tmp_path / "empty.region"
    _native.Region(str(path), True).close()
    r = runner.hami("set", "--memory", "1g", "--region", str(path))
    assert r.returncode == 1, (r.returncode, r.stdout, r.stderr)
    assert r.stderr.startswith("hami-core: ") and "no devices yet" in r.stderr and r.stderr.count("\n") == 1
    assert r.stdout == ""


@pytest.mark.parametrize("cmd", [["status"], ["status", "--json"], ["top", "--count", "1"]])
@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "-1"])
def test_interval_must_be_finite_and_not_negative(runner, tmp_path, cmd, value):
    path = tmp_path / "one.region"
    _one_device_region(path)
    r = runner.hami(*cmd, "--interval", value, "--region", str(path), timeout=10)
    assert r.returncode == 2, (r.returncode, r.stderr)
    assert r.stderr.startswith("hami-core: --interval") and r.stderr.count("\n") == 1, r.stderr


@pytest.mark.parametrize("cmd", [
    ["run", "--region", "", "--", sys.executable, "-c", "pass"],
    ["env", "--region", ""],
    ["status", "--region", ""],
    ["set", "--memory", "1g", "--region", ""],
    ["doctor", "--region", ""],
    ["top", "--count", "1", "--region", ""],
])
def test_empty_region_is_rejected(runner, cmd):
    r = runner.hami(*cmd, timeout=10)
    assert r.returncode == 2, (r.returncode, r.stderr)
    assert r.stderr.startswith("hami-core: --region ''") and r.stderr.count("\n") == 1, r.stderr
    assert r.stdout == ""


@pytest.mark.parametrize("cmd", ["run", "env", "set"])
def test_memory_help_says_zero_is_no_cap(runner, cmd):
    r = runner.hami(cmd, "--help")
    assert r.returncode == 0
    text = " ".join(r.stdout.split())
    options = text[text.index("Options:"):]
    memory_help = options[options.index("--memory"):options.index("--compute")]
    assert "0 = none" in memory_help, memory_help


def test_debug_shows_traceback_only_when_asked(runner, tmp_path):
    bad = tmp_path / "bad.region"
    bad.write_bytes(b"x" * 64)
    r = runner.hami("status", "--region", str(bad))
    assert "Traceback" not in r.stderr
    r = runner.hami("--debug", "status", "--region", str(bad))
    assert r.returncode != 0 and "Traceback" in r.stderr


# ---- demo / bench -------------------------------------------------------------------------------

def test_demo(runner):
    r = runner.hami("demo", timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "CUDA_ERROR_OUT_OF_MEMORY" in r.stdout and "2.00 GiB" in r.stdout


def test_bench_quick_json(runner, tmp_path):
    """One pair benchmark with --output (bench all and throttle: tests/test_bench.py)."""
    out = tmp_path / "bench.json"
    r = runner.hami("bench", "memory", "--json", "--repeat", "1", "--quick", "--output", str(out), timeout=240)
    assert r.returncode == 0, r.stderr
    j = json.loads(r.stdout)
    assert json.loads(out.read_text()) == j
    assert j["schema"] == 1 and j["platform"] in ("simulator", "gpu")
    names = {b["name"] for b in j["benchmarks"]}
    assert names == {"memory"}
    for b in j["benchmarks"]:
        assert "target_ns" in b and "added_ns" in b and "ratio_to_target" in b
    assert [row["what"] for row in j["summary"]] == ["alloc + free with a memory cap (cuda)"]


@pytest.mark.parametrize("vendor", ["ascend", "cuda,ascend"])
def test_sim_vendor_ascend(runner, vendor):
    """`sim --vendor ascend` (and both vendors) puts the simulated ACL/runtime/op libraries first
    on the library path; an Ascend workload runs on them."""
    if not os.path.exists(os.path.join(hami_core.sim_library_dir(), "libascendcl.so")):
        pytest.fail("this hami-core was built without the simulated Ascend libraries")
    prog = os.path.join(hami_core.bin_dir(), "hami-throttle-ascend")
    code = f'''
        import os, subprocess
        libdir = os.environ["LD_LIBRARY_PATH"].split(":")[0]
        rc, text = None, ""
        if os.access({prog!r}, os.X_OK):
            out = subprocess.run([{prog!r}, "launch", "100000", "0.2"], capture_output=True, text=True)
            rc, text = out.returncode, out.stdout
        emit({{"vendors": os.environ["HAMI_SIM_VENDORS"], "libs": sorted(os.listdir(libdir)),
              "rc": rc, "out": text}})
    '''
    r = runner.script(code, sim_args=["--vendor", vendor])
    assert r.returncode == 0, r.stderr
    j = runner.last_json(r.stdout)
    assert j["vendors"] == vendor
    assert {"libascendcl.so", "libruntime.so", "libhami_sim_opapi.so"} <= set(j["libs"])
    if os.access(prog, os.X_OK):
        assert j["rc"] == 0 and '"done": true' in j["out"], j
