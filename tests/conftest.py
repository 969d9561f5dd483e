"""Shared helpers for the end-to-end tests.

Tests run `hami-core` and small Python workloads (``python -m hami_core._workload``) as a user
would, in subprocesses, on simulated devices.  Subprocesses run with cwd set to a temporary
directory so that they import the *installed* hami_core, never the source tree's copy.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from typing import List, Optional, Sequence

import pytest

import hami_core

GiB = 1 << 30
MiB = 1 << 20


def hami_cmd() -> List[str]:
    """The installed console script (next to this interpreter), else ``python -m hami_core``."""
    exe = os.path.join(os.path.dirname(sys.executable), "hami-core")
    if os.path.exists(exe):
        return [exe]
    found = shutil.which("hami-core")
    return [found] if found else [sys.executable, "-m", "hami_core"]


def clean_env(**extra: str) -> dict:
    """The test process's environment without any hami-core / simulator variables."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("HAMI_", "CUDA_DEVICE_", "NPU_"))
           and k not in ("LD_PRELOAD", "GPU_CORE_UTILIZATION_POLICY", "LIBCUDA_LOG_LEVEL")}
    env.update(extra)
    return env


class Runner:
    def __init__(self, cwd: str) -> None:
        self.cwd = cwd

    def hami(self, *args: str, env: Optional[dict] = None, timeout: float = 60,
             input: Optional[str] = None) -> subprocess.CompletedProcess:
        return subprocess.run(hami_cmd() + list(args), cwd=self.cwd, env=env or clean_env(),
                              capture_output=True, text=True, timeout=timeout, input=input)

    def script(self, code: str, sim_args: Sequence[str] = (), env: Optional[dict] = None,
               timeout: float = 60) -> subprocess.CompletedProcess:
        """Run a Python script under `hami-core sim [sim_args] --`."""
        return self.hami("sim", *sim_args, "--", sys.executable, self.write_script(code), env=env,
                         timeout=timeout)

    def write_script(self, code: str) -> str:
        """A script file with the PRELUDE helpers followed by `code` (dedented)."""
        path = os.path.join(self.cwd, f"script_{abs(hash(code))}.py")
        with open(path, "w", encoding="utf-8") as f:
            f.write(PRELUDE + textwrap.dedent(code))
        return path

    @staticmethod
    def last_json(out: str) -> dict:
        lines = [ln for ln in out.splitlines() if ln.startswith("{")]
        assert lines, f"no JSON line in output: {out!r}"
        return json.loads(lines[-1])


# Helpers available to scripts run under the simulator.
PRELUDE = '''
import json, os, signal, subprocess, sys, time
HAMI = %r
def workload(*args, env=None, **kw):
    return subprocess.Popen([sys.executable, "-m", "hami_core._workload", *args],
                            stdout=subprocess.PIPE, text=True, env=env, **kw)
def capped(*run_args):
    """argv prefix: hami-core run <run_args> -- python -m hami_core._workload"""
    return HAMI + ["run", *run_args, "--", sys.executable, "-m", "hami_core._workload"]
def first_json(proc):
    line = proc.stdout.readline()
    return json.loads(line)
def run_json(argv, env=None):
    out = subprocess.run(argv, capture_output=True, text=True, env=env)
    try:
        return json.loads(out.stdout)
    except ValueError:
        pass
    lines = [l for l in out.stdout.splitlines() if l.startswith("{")]
    if not lines:
        raise SystemExit("no JSON from %%s: rc=%%s %%s" %% (argv, out.returncode, out.stderr))
    return json.loads(lines[-1])
def info():
    return run_json([sys.executable, "-m", "hami_core._workload", "info"])
def emit(obj):
    print(json.dumps(obj), flush=True)
''' % (hami_cmd(),)


@pytest.fixture(scope="session")
def built_hami_core():
    """hami_core, with its interception library and simulator built; skips the test otherwise."""
    hami_core = pytest.importorskip("hami_core")
    try:
        hami_core.library_path()
        hami_core.sim_library_dir()
    except Exception as e:  # noqa: BLE001
        pytest.skip(f"hami-core is not built: {e}")
    return hami_core


@pytest.fixture
def runner(tmp_path) -> Runner:
    return Runner(str(tmp_path))


@pytest.fixture
def lib_path() -> str:
    return hami_core.library_path()
