"""`hami-core doctor` (issue 6 item 2): each planted problem is found, with a fix; a clean
simulated environment passes; `--json` follows the documented schema; `--env-only` is what the
container entrypoint runs."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from conftest import MiB, clean_env, hami_cmd

import hami_core

# Until the CLI delegates to hami_core.doctor.run_doctor, drive run_doctor the same way.
_SHIM = ("import argparse, sys; from hami_core.doctor import run_doctor; p = argparse.ArgumentParser(); "
         "p.add_argument('--region'); p.add_argument('--env-only', action='store_true'); "
         "p.add_argument('--json', action='store_true'); a = p.parse_args(); "
         "sys.exit(run_doctor(a.region, a.env_only, a.json))")


def doctor_argv() -> list:
    r = subprocess.run(hami_cmd() + ["doctor", "--help"], capture_output=True, text=True, env=clean_env())
    if r.returncode == 0 and "--env-only" in r.stdout:
        return hami_cmd() + ["doctor"]
    return [sys.executable, "-c", _SHIM]


def doctor(*args: str, env: dict, cwd: str, sim: bool = False) -> subprocess.CompletedProcess:
    argv = doctor_argv() + list(args)
    if sim:
        argv = hami_cmd() + ["sim", "--devices", "1", "--"] + argv
    return subprocess.run(argv, capture_output=True, text=True, env=env, cwd=cwd, timeout=60)


def checks(out: str) -> dict:
    return {c["check"]: c for c in json.loads(out)}


def test_clean_simulated_environment_passes(tmp_path):
    r = doctor(env=clean_env(HAMI_REGION=str(tmp_path / "x.region")), cwd=str(tmp_path), sim=True)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "[FAIL]" not in r.stdout
    assert "simulated devices" in r.stdout and "libhami.so" in r.stdout


def test_json_schema(tmp_path):
    r = doctor("--json", env=clean_env(HAMI_REGION=str(tmp_path / "x.region")), cwd=str(tmp_path), sim=True)
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    assert isinstance(data, list) and data
    for c in data:
        assert set(c) == {"check", "status", "detail", "fix"}
        assert c["status"] in ("ok", "warn", "fail")
        assert isinstance(c["check"], str) and isinstance(c["detail"], str) and c["detail"]
        assert c["fix"] is None or isinstance(c["fix"], str)
        if c["status"] != "ok":
            assert c["fix"]
    names = [c["check"] for c in data]
    for expected in ("library", "library.arch", "library.load", "driver.cuda", "driver.nvml", "driver.ascend",
                     "preload", "env.limits", "region"):
        assert expected in names
    by = checks(r.stdout)
    assert by["driver.cuda"]["status"] == "ok" and "simulated" in by["driver.cuda"]["detail"]


def test_bad_limit_and_typo_are_found_env_only(tmp_path):
    env = clean_env(HAMI_MEMORY_LIMIT="12 gigs", HAMI_MEMORY_LIMT="2g", CUDA_DEVICE_SM_LIMIT_1="150")
    r = doctor("--env-only", env=env, cwd=str(tmp_path))
    assert r.returncode == 1
    out = r.stdout
    assert "HAMI_MEMORY_LIMIT=12 gigs" in out and "expected" in out
    assert "HAMI_MEMORY_LIMT" in out and "did you mean HAMI_MEMORY_LIMIT" in out
    assert "CUDA_DEVICE_SM_LIMIT_1=150" in out
    assert "library" not in [ln.split(":")[0].split()[-1] for ln in out.splitlines() if ln.startswith("[")]
    j = checks(doctor("--env-only", "--json", env=env, cwd=str(tmp_path)).stdout)
    assert j["env.HAMI_MEMORY_LIMIT"]["status"] == "fail" and "HAMI_MEMORY_LIMIT" in j["env.HAMI_MEMORY_LIMIT"]["fix"]
    assert j["env.unknown.HAMI_MEMORY_LIMT"]["status"] == "fail"
    assert j["env.CUDA_DEVICE_SM_LIMIT_1"]["status"] == "fail"
    ok = doctor("--env-only", env=clean_env(HAMI_MEMORY_LIMIT="2g", NPU_MEM_QUOTA="4096"), cwd=str(tmp_path))
    assert ok.returncode == 0, ok.stdout
    assert "memory 2.00 GiB" in ok.stdout and "ascend" in ok.stdout


def test_entrypoint_validation_stops_on_a_bad_value(tmp_path, lib_path):
    """docker/entrypoint.sh runs `hami-core doctor --env-only` (strict: stop with the problem)."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    assert "--env-only" in subprocess.run(hami_cmd() + ["doctor", "--help"], capture_output=True,
                                          text=True, env=clean_env()).stdout
    env = clean_env(HAMI_LIBRARY=lib_path, HAMI_ENTRYPOINT_VALIDATE="strict", HAMI_MEMORY_LIMIT="abc",
                    HAMI_REGION=str(tmp_path / "e.region"))
    r = subprocess.run(["sh", os.path.join(root, "docker", "entrypoint.sh"), "true"], env=env,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode != 0 and "HAMI_MEMORY_LIMIT=abc" in r.stderr


def test_missing_library_path_is_found(tmp_path):
    missing = str(tmp_path / "nope" / "libhami.so")
    r = doctor("--json", env=clean_env(LD_PRELOAD=missing, HAMI_LIBRARY=missing,
                                       HAMI_REGION=str(tmp_path / "x.region")), cwd=str(tmp_path))
    assert r.returncode == 1
    j = checks(r.stdout)
    assert j["library"]["status"] == "fail" and missing in j["library"]["detail"]
    assert j["preload"]["status"] == "fail" and "does not exist" in j["preload"]["detail"]


def test_hami_libvgpu_preloaded_is_found(tmp_path, lib_path):
    etc = tmp_path / "ld.so.preload"
    etc.write_text("/usr/local/vgpu/libvgpu.so\n")
    env = clean_env(LD_PRELOAD=lib_path, HAMI_ETC_LD_SO_PRELOAD=str(etc), HAMI_REGION=str(tmp_path / "x.region"))
    j = checks(doctor("--json", env=env, cwd=str(tmp_path)).stdout)
    assert j["preload"]["status"] == "ok" and "LD_PRELOAD" in j["preload"]["detail"]
    assert j["preload.libvgpu"]["status"] == "warn" and "CUDA_DISABLE_CONTROL" in j["preload.libvgpu"]["fix"]
    env = clean_env(LD_PRELOAD=f"{lib_path}:/opt/hami/libvgpu.so", HAMI_REGION=str(tmp_path / "x.region"))
    j = checks(doctor("--json", env=env, cwd=str(tmp_path)).stdout)
    assert "libvgpu.so" in j["preload.libvgpu"]["detail"]


def test_corrupt_region_is_found(tmp_path):
    bad = tmp_path / "bad.region"
    bad.write_bytes(b"NOTAREGION" + b"\0" * 8000)
    r = doctor("--region", str(bad), env=clean_env(), cwd=str(tmp_path))
    assert r.returncode == 1
    assert "[FAIL] region.format" in r.stdout and str(bad) in r.stdout
    # not a hami-core region: never advise deleting it, point at a region instead
    assert "rm " not in r.stdout and "HAMI_REGION" in r.stdout
    # a hami-core region of another layout version (the magic matches): removing it is the fix
    other = tmp_path / "old.region"
    other.write_bytes(b"HAMIRGN\0" + (99).to_bytes(4, "little") + b"\0" * 8000)
    j = checks(doctor("--json", "--region", str(other), env=clean_env(), cwd=str(tmp_path)).stdout)
    assert j["region.format"]["status"] == "fail" and f"rm {other}" in j["region.format"]["fix"]
    noperm_dir = tmp_path / "nodir" / "x.region"
    j = checks(doctor("--json", "--region", str(noperm_dir), env=clean_env(), cwd=str(tmp_path)).stdout)
    assert j["region"]["status"] == "fail" and "mkdir -p" in j["region"]["fix"]


def test_foreign_file_is_never_suggested_for_removal(tmp_path):
    """`doctor --region /etc/passwd` must not advise `rm /etc/passwd`."""
    j = checks(doctor("--json", "--region", "/etc/passwd", env=clean_env(), cwd=str(tmp_path)).stdout)
    c = j.get("region.format") or j["region"]
    assert c["status"] == "fail"
    assert "rm " not in (c["fix"] or "") and "--region / HAMI_REGION" in c["fix"]


def test_stale_process_is_found(runner, tmp_path):
    """A process that held memory under the library and was SIGKILLed leaves a stale entry."""
    region = str(tmp_path / "s.region")
    code = f"""
        import signal
        p = workload("hold", "512Mi", env=dict(os.environ, HAMI_REGION={region!r},
                     LD_PRELOAD={hami_core.library_path()!r}, HAMI_MEMORY_LIMIT="1g"))
        first_json(p)
        os.kill(p.pid, signal.SIGKILL)
        p.wait()
        emit({{"pid": p.pid}})
    """
    r = runner.script(code, sim_args=["--devices", "1"])
    assert r.returncode == 0, r.stderr
    pid = runner.last_json(r.stdout)["pid"]
    out = doctor("--json", "--region", region, env=clean_env(), cwd=str(tmp_path))
    j = checks(out.stdout)
    assert j["region.format"]["status"] == "ok"
    assert j["region.stale"]["status"] == "warn" and str(pid) in j["region.stale"]["detail"]
    assert "512 MiB" in j["region.stale"]["detail"] and "hami-core status" in j["region.stale"]["fix"]
    assert out.returncode == 0                                   # a warning, not a failure
    # the doctor reports; it does not reclaim (status does)
    assert hami_core.usage(region, reclaim=False)[0].used_bytes == 512 * MiB
