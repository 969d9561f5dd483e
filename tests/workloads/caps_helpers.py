"""Helpers of the memory-cap end-to-end tests (tests/test_caps_*.py).

The C workload (caps_workload.c) is compiled once per session with ``cc`` against the
simulator's libcuda.so.1 by path, without an rpath.  Tests run Python driver scripts under
``hami-core sim --`` (so they can read the simulator's ground truth from $HAMI_SIM_STATE) and
the driver scripts start workloads under ``hami-core run ... --``.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from typing import List, Sequence

from conftest import MiB, hami_cmd  # noqa: F401  (MiB: H.MiB of the caps tests)
from conftest import clean_env as _clean_env

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.join(HERE, "caps_workload.c")


def clean_env(**extra: str) -> dict:
    """conftest.clean_env, also without CUDA_VISIBLE_DEVICES (unless `extra` sets it)."""
    env = _clean_env()
    env.pop("CUDA_VISIBLE_DEVICES", None)
    env.update(extra)
    return env


def build_workload(out_dir: str) -> str:
    """Compile caps_workload.c; returns the binary's path."""
    import hami_core

    sim_dir = hami_core.sim_library_dir()
    include = os.path.join(os.path.dirname(HERE), "..", "csrc", "include")
    exe = os.path.join(out_dir, "caps_workload")
    cc = os.environ.get("CC", "cc")
    subprocess.run([cc, "-O1", "-Wall", "-D_GNU_SOURCE", "-I", os.path.normpath(include), SRC,
                    "-o", exe, os.path.join(sim_dir, "libcuda.so.1"), "-ldl", "-lpthread"],
                   check=True, capture_output=True, text=True)
    return exe


def run_capped(argv: Sequence[str], *, memory: Sequence[str] = (), region: str = "",
               env: dict = None, timeout: float = 60) -> subprocess.CompletedProcess:
    """hami-core sim -- hami-core run [--memory M]... [--region R] -- argv"""
    run_args: List[str] = []
    for m in memory:
        run_args += ["--memory", m]
    if region:
        run_args += ["--region", region]
    cmd = hami_cmd() + ["sim", "--"] + hami_cmd() + ["run", *run_args, "--", *argv]
    return run_group(cmd, env=env or clean_env(), timeout=timeout)


def run_sim(argv: Sequence[str], env: dict = None, timeout: float = 60,
            sim_args: Sequence[str] = ()) -> subprocess.CompletedProcess:
    cmd = hami_cmd() + ["sim", *sim_args, "--", *argv]
    return run_group(cmd, env=env or clean_env(), timeout=timeout)


def run_group(cmd: Sequence[str], env: dict, timeout: float) -> subprocess.CompletedProcess:
    """subprocess.run in a process group of its own: on timeout the whole group is killed, so a
    workload orphaned by a failing driver cannot hold the output pipe open and hang the test."""
    proc = subprocess.Popen(list(cmd), env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        raise subprocess.TimeoutExpired(cmd, timeout, output=out, stderr=err)
    finally:
        try:  # leftovers of a driver that exited early (held workloads) die with the group
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    return subprocess.CompletedProcess(list(cmd), proc.returncode, out, err)


def run_driver(code: str, tmp_path, env: dict = None, timeout: float = 120,
               sim_args: Sequence[str] = ()) -> subprocess.CompletedProcess:
    """Run a Python driver script under `hami-core sim`; HAMI (the CLI argv) is predefined."""
    path = os.path.join(str(tmp_path), "driver.py")
    with open(path, "w", encoding="utf-8") as f:
        f.write("import json, os, signal, subprocess, sys, time\n")
        f.write(f"HAMI = {hami_cmd()!r}\n")
        f.write(textwrap.dedent(code))
    return run_sim([sys.executable, path], env=env, timeout=timeout, sim_args=sim_args)


def last_json(out: str) -> dict:
    lines = [ln for ln in out.splitlines() if ln.startswith("{")]
    assert lines, f"no JSON line in output: {out!r}"
    return json.loads(lines[-1])
