"""Bad configuration fails closed, end to end: garbage memory values (set directly, as a
container entrypoint would; `hami-core run` rejects them itself) make allocations fail with
CUDA_ERROR_OUT_OF_MEMORY while the process keeps running, and stderr names the variable, the
value and the expected form at start and at the first refused call; a compute value of 150
percent refuses launches with CUDA_ERROR_INVALID_VALUE; a region file of another version or a
corrupt one gives the documented message and capped devices refuse allocations (never
silently unlimited), while uncapped devices still work."""
from __future__ import annotations

import os
import struct
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "workloads"))
import caps_helpers as H  # noqa: E402

MiB = H.MiB


@pytest.fixture(scope="session")
def workload(built_hami_core, tmp_path_factory):
    return H.build_workload(str(tmp_path_factory.mktemp("caps_workload")))


def preloaded_env(tmp_path, **variables: str) -> dict:
    import hami_core

    return H.clean_env(LD_PRELOAD=hami_core.library_path(),
                       HAMI_REGION=str(tmp_path / "region"), **variables)


@pytest.mark.parametrize("value", ["abc", "-1g", "99999999999999t"])
def test_garbage_memory_value_fails_closed(workload, tmp_path, value):
    env = preloaded_env(tmp_path, HAMI_MEMORY_LIMIT=value)
    r = H.run_sim([workload, "alloc", "direct", "0", str(MiB)], env=env)
    assert r.returncode == 0, r.stderr  # the process still runs
    out = H.last_json(r.stdout)
    assert out["rc"] == 2  # CUDA_ERROR_OUT_OF_MEMORY
    assert out["free"] == 0
    mentions = [ln for ln in r.stderr.splitlines() if f"HAMI_MEMORY_LIMIT={value}" in ln]
    assert len(mentions) >= 2, r.stderr  # at start and at the first refused call
    assert "refuses allocations" in r.stderr


def test_alias_garbage_value_fails_closed(workload, tmp_path):
    env = preloaded_env(tmp_path, CUDA_DEVICE_MEMORY_LIMIT_1="lots")
    r0 = H.run_sim([workload, "alloc", "direct", "0", str(MiB)], env=env)
    r1 = H.run_sim([workload, "alloc", "direct", "1", str(MiB)], env=env)
    assert H.last_json(r0.stdout)["rc"] == 0  # device 0 is not concerned
    assert H.last_json(r1.stdout)["rc"] == 2
    assert "CUDA_DEVICE_MEMORY_LIMIT_1=lots" in r1.stderr


def test_150_percent_compute_refuses_launches(workload, tmp_path):
    env = preloaded_env(tmp_path, HAMI_COMPUTE_LIMIT="150")
    r = H.run_sim([workload, "launch", "0"], env=env)
    assert r.returncode == 0, r.stderr
    assert H.last_json(r.stdout)["rc"] == 1  # CUDA_ERROR_INVALID_VALUE
    assert "HAMI_COMPUTE_LIMIT=150" in r.stderr
    ok = H.run_sim([workload, "launch", "0"], env=preloaded_env(tmp_path))
    assert H.last_json(ok.stdout)["rc"] == 0  # control: launches work without the bad value
    mem = H.run_sim([workload, "alloc", "direct", "0", str(MiB)], env=env)
    assert H.last_json(mem.stdout)["rc"] == 0  # memory is not concerned


def _foreign_region(path) -> None:
    # our magic, another layout version
    path.write_bytes(b"HAMIRGN\0" + struct.pack("<II", 99, 64) + b"\0" * 4096)


def _corrupt_region(path) -> None:
    path.write_bytes(os.urandom(4096))


@pytest.mark.parametrize("make", [_foreign_region, _corrupt_region], ids=["version", "corrupt"])
def test_unusable_region_fails_closed(workload, tmp_path, make):
    region = tmp_path / "region"
    make(region)
    before = region.read_bytes()
    env = preloaded_env(tmp_path, HAMI_MEMORY_LIMIT="1g")
    r = H.run_sim([workload, "alloc", "direct", "0", str(MiB)], env=env)
    assert r.returncode == 0, r.stderr
    out = H.last_json(r.stdout)
    assert out["rc"] == 2 and out["free"] == 0  # fail closed, never unlimited
    assert f"region {region} unusable" in r.stderr
    assert "fail closed" in r.stderr
    assert region.read_bytes() == before  # never reinterpreted or overwritten
    # without any cap configured, the same process works (nothing to enforce)
    free = H.run_sim([workload, "alloc", "direct", "0", str(MiB)], env=preloaded_env(tmp_path))
    assert H.last_json(free.stdout)["rc"] == 0


@pytest.mark.parametrize("make", [_foreign_region, _corrupt_region], ids=["version", "corrupt"])
def test_unusable_region_refuses_capped_launches(workload, tmp_path, make):
    """A compute cap that cannot be metered (no shared bucket) refuses launches instead of
    running them unmetered; without a compute cap the same launch works."""
    region = tmp_path / "region"
    make(region)
    r = H.run_sim([workload, "launch", "0"], env=preloaded_env(tmp_path, HAMI_COMPUTE_LIMIT="30"))
    assert r.returncode == 0, r.stderr
    assert H.last_json(r.stdout)["rc"] == 1  # CUDA_ERROR_INVALID_VALUE: fail closed
    assert "refuses launches: it has a compute cap and the shared region is unusable" in r.stderr
    ok = H.run_sim([workload, "launch", "0"], env=preloaded_env(tmp_path))
    assert H.last_json(ok.stdout)["rc"] == 0  # control: no cap, nothing to enforce
