"""`hami-core bench throttle`, `bench all`, `env` and `status --json` (the compute fields), end to
end through the installed CLI on simulated devices.

The benchmarks run in --quick mode (about 1 s cells): these tests check that the harness runs
and that its JSON matches the schema documented in the README, plus one robust figure (a 30 %
cap within 10 points) once the library throttles; the exact figures belong to the benchmark
runs committed under bench/results/.
"""
from __future__ import annotations

import json
import os
import subprocess

import pytest

import hami_core
from conftest import clean_env, hami_cmd

HAVE_ASCEND = os.path.exists(os.path.join(hami_core.sim_library_dir(), "libascendcl.so"))


def _bench(tmp_path, *args: str, timeout: float = 240) -> subprocess.CompletedProcess:
    return subprocess.run(hami_cmd() + ["bench", *args], cwd=str(tmp_path), env=clean_env(),
                          capture_output=True, text=True, timeout=timeout, start_new_session=True)


def _have_matplotlib() -> bool:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


CELL_KEYS = {"vendor", "workload", "api", "kernel_ns", "processes", "cap_pct", "achieved_pct", "uncapped_pct",
             "reference_pct", "error_pts", "window_s"}
CONTROL_KEYS = {"workload", "api", "kernel_ns", "processes", "achieved_pct", "window_s"}


def check_throttle_schema(doc: dict) -> None:
    assert doc["schema"] == 1 and doc["kind"] == "throttle"
    assert doc["platform"] == "simulator"
    assert set(doc["settings"]) >= {"caps", "kernels_ns", "processes", "window_s", "warmup_s", "quick"}
    assert doc["targets"] == {"mean_abs_error_pts": 1.5, "reaction_ms": 300.0, "launch_added_ns": 60.0}
    assert doc["vendors"], doc
    for vendor, r in doc["vendors"].items():
        assert vendor in ("cuda", "ascend")
        assert isinstance(r["enforced"], bool)
        assert r["cells"] and r["controls"]
        for c in r["cells"]:
            assert CELL_KEYS <= set(c), c
            assert c["reference_pct"] == pytest.approx(min(c["cap_pct"], c["uncapped_pct"]), abs=0.01)
            assert c["error_pts"] == pytest.approx(c["achieved_pct"] - c["reference_pct"], abs=0.02)
            assert 0 <= c["achieved_pct"] <= 100.5
        for c in r["controls"]:
            assert CONTROL_KEYS <= set(c), c
        # every capped workload shape has its control
        shapes = {(c["workload"], c["kernel_ns"], c["processes"]) for c in r["controls"]}
        assert {(c["workload"], c["kernel_ns"], c["processes"]) for c in r["cells"]} <= shapes
        for part in ("matrix", "all_workloads"):
            assert set(r[part]) >= {"cells", "mean_abs_error_pts", "worst"}
        assert isinstance(r["matrix"]["met"], bool)
        rc = r["reaction"]
        assert set(rc) >= {"from_pct", "to_pct", "reaction_ms", "target_ms", "met", "curve", "curve_columns"}
        assert rc["curve"] and all(len(p) == 3 for p in rc["curve"])
        o = r["overhead"]
        assert set(o) >= {"program", "without_ns", "no_cap_ns", "cap_ns", "added_ns", "target_ns", "met", "runs"}
        assert o["without_ns"] > 0 and o["cap_ns"] > 0


@pytest.fixture(scope="module")
def throttle_quick(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("throttle")
    plot = tmp / "throttle.png"
    args = ["throttle", "--quick", "--json", "--vendor", "both" if HAVE_ASCEND else "cuda"]
    if _have_matplotlib():
        args += ["--plot", str(plot)]
    out = _bench(tmp, *args)
    assert out.returncode == 0, out.stderr[-2000:]
    return json.loads(out.stdout), plot


def test_bench_throttle_quick_json_schema(throttle_quick):
    doc, _ = throttle_quick
    check_throttle_schema(doc)
    assert doc["settings"]["quick"] is True
    assert "cuda" in doc["vendors"]
    if HAVE_ASCEND:
        assert "ascend" in doc["vendors"]


def test_bench_throttle_controls_run_uncapped(throttle_quick):
    """The controls (no library) keep the device busy: the queueing workload reaches ~100 %."""
    doc, _ = throttle_quick
    for vendor, r in doc["vendors"].items():
        for c in r["controls"]:
            if c["workload"] == r["matrix_workload"]:
                assert c["achieved_pct"] > 90, (vendor, c)


@pytest.mark.parametrize("vendor", ["cuda", "ascend"])
def test_bench_throttle_30pct_cell_within_10_points(throttle_quick, vendor):
    doc, _ = throttle_quick
    r = doc["vendors"].get(vendor)
    if r is None:
        pytest.fail(f"{vendor}: not measured (simulated libraries not installed)")
    if not r["enforced"]:
        pytest.fail(f"{vendor}: libhami.so did not throttle {vendor} launches (capped cells reach the "
                    "uncapped control)")
    cells = [c for c in r["cells"] if c["cap_pct"] == 30 and c["workload"] == r["matrix_workload"]]
    assert cells
    for c in cells:
        assert abs(c["achieved_pct"] - 30) <= 10, c


def test_bench_throttle_plot_png(throttle_quick):
    doc, plot = throttle_quick
    if not _have_matplotlib():
        pytest.skip("matplotlib is not installed (the 'plot' extra)")
    with open(plot, "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"


def test_bench_plot_without_matplotlib_is_one_line(tmp_path):
    if _have_matplotlib():
        pytest.skip("matplotlib is installed: the missing-matplotlib message cannot be shown")
    out = _bench(tmp_path, "throttle", "--quick", "--plot", str(tmp_path / "x.png"), timeout=60)
    assert out.returncode == 1
    assert out.stderr.strip().count("\n") == 0 and "matplotlib" in out.stderr


def test_bench_all_quick_json_schema(tmp_path):
    out = _bench(tmp_path, "all", "--quick", "--json", "--vendor", "cuda", "--processes", "16")
    assert out.returncode == 0, out.stderr[-2000:]
    doc = json.loads(out.stdout)
    assert doc["schema"] == 1 and doc["kind"] == "all"
    assert doc["device_used"].startswith("simulator")
    assert {b["name"] for b in doc["benchmarks"]} == {"memory", "overhead", "attach"}
    check_throttle_schema(doc["throttle"])
    whats = [r["what"] for r in doc["summary"]]
    for expected in ("launch hook, no compute cap (cuda)", "launch hook, cap active, tokens available (cuda)",
                     "alloc + free with a memory cap (cuda)", "compute cap accuracy, mean abs error (cuda)",
                     "reaction to a live limit change (cuda)", "16 processes attaching at once"):
        assert expected in whats, whats
    for r in doc["summary"]:
        assert set(r) == {"what", "target", "unit", "measured", "met", "note"}
        assert isinstance(r["met"], bool)
    assert doc["all_met"] == all(r["met"] for r in doc["summary"])
    # one progress line per step on stderr
    steps = [ln for ln in out.stderr.splitlines() if ln.startswith("[")]
    assert [s.split()[0] for s in steps] == ["[1/4]", "[2/4]", "[3/4]", "[4/4]"], out.stderr


def test_bench_bad_vendor_is_usage_error(tmp_path):
    out = _bench(tmp_path, "throttle", "--vendor", "amd", timeout=30)
    assert out.returncode == 2
    assert "amd" in out.stderr


# ---------------------------------------------------------------------------------------------
# env


def _hami(tmp_path, *args: str, timeout: float = 30) -> subprocess.CompletedProcess:
    return subprocess.run(hami_cmd() + list(args), cwd=str(tmp_path), env=clean_env(), capture_output=True,
                          text=True, timeout=timeout)


def test_env_shell_is_sourceable(tmp_path):
    out = _hami(tmp_path, "env", "--memory", "4g", "--compute", "30", "--compute", "1=50")
    assert out.returncode == 0, out.stderr
    sh = subprocess.run(["sh", "-c", out.stdout + 'echo "$HAMI_MEMORY_LIMIT $HAMI_COMPUTE_LIMIT '
                                                  '$HAMI_COMPUTE_LIMIT_1 $HAMI_REGION"'],
                        capture_output=True, text=True, env=clean_env())
    assert sh.stdout.split() == ["4294967296", "30", "50", "/run/hami/hami.region"]


def test_env_json_docker_k8s(tmp_path):
    out = _hami(tmp_path, "env", "-m", "2g", "-c", "25", "--region", "/run/hami/a.region", "--format", "json")
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert doc["env"] == {"HAMI_MEMORY_LIMIT": str(2 << 30), "HAMI_COMPUTE_LIMIT": "25",
                          "HAMI_REGION": "/run/hami/a.region"}
    assert doc["mounts"][0]["target"] == "/run/hami"
    docker = _hami(tmp_path, "env", "-m", "2g", "--format", "docker").stdout
    assert f"-e HAMI_MEMORY_LIMIT={2 << 30}" in docker and "-v /run/hami:/run/hami" in docker
    k8s = _hami(tmp_path, "env", "-c", "40", "--format", "k8s").stdout
    assert '- name: "HAMI_COMPUTE_LIMIT"' in k8s and 'value: "40"' in k8s and "volumeMounts:" in k8s


@pytest.mark.parametrize("args", [["--memory", "abc"], ["--compute", "150"], ["--compute", "x=5"],
                                  ["--region", "relative/path"], ["--format", "yaml"]])
def test_env_bad_values_one_line_exit_2(tmp_path, args):
    out = _hami(tmp_path, "env", *args)
    assert out.returncode == 2, (args, out)
    assert out.stdout == ""
    assert "Traceback" not in out.stderr


# ---------------------------------------------------------------------------------------------
# status: compute fields


def test_status_json_compute_fields(tmp_path):
    """A capped workload runs; status --json shows the cap, the use over the last second and the
    throttled time, measured by sampling the region's counters."""
    prog = os.path.join(hami_core.bin_dir(), "hami-throttle-cuda")
    if not os.access(prog, os.X_OK):
        pytest.fail("hami-throttle-cuda is not installed")
    script = tmp_path / "drive.sh"
    script.write_text(
        f'{" ".join(hami_cmd())} run --compute 30 -- {prog} queue 1000000 4 >/dev/null &\n'
        "pid=$!\nsleep 1.5\n"
        f'{" ".join(hami_cmd())} status --json --interval 0.5\n'
        "rc=$?\nkill $pid 2>/dev/null; wait\nexit $rc\n")
    out = subprocess.run(hami_cmd() + ["sim", "--devices", "1", "--", "sh", str(script)], cwd=str(tmp_path),
                         env=clean_env(), capture_output=True, text=True, timeout=60, start_new_session=True)
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert doc["schema"] == 1 and doc["sample_interval_s"] == pytest.approx(0.5, abs=0.3)
    d = doc["devices"][0]
    for key in ("compute_limit_pct", "compute_used_pct", "throttled_ns_per_s", "throttled_pct", "busy_ns",
                "throttled_ns", "launches"):
        assert key in d, key
    assert d["compute_limit_pct"] == 30
    assert d["launches"] > 0
    if d["throttled_ns"] > 0:  # the library throttles: use is near the cap, and time was throttled
        assert 10 <= d["compute_used_pct"] <= 60, d
        assert d["throttled_ns_per_s"] > 0


def test_status_interval_zero_has_null_rates(tmp_path):
    region = tmp_path / "r.region"
    from hami_core import _native

    with _native.Region(str(region), True) as r:
        r.device("cuda", "GPU-test-status", 1 << 30, {"compute_limit_pct": 20})
    out = _hami(tmp_path, "status", "--region", str(region), "--json", "--interval", "0")
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert doc["sample_interval_s"] is None
    d = doc["devices"][0]
    assert d["compute_limit_pct"] == 20 and d["compute_used_pct"] is None and d["throttled_pct"] is None
    text = _hami(tmp_path, "status", "--region", str(region), "--interval", "0.1")
    assert text.returncode == 0 and "USED/1s" in text.stdout and "THROTTLED/1s" in text.stdout
