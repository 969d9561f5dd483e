"""`hami-core top` (issue 6 item 1): under a pseudo-terminal (q, Ctrl-C, terminal restored), in
plain mode, and its layout at 80 and 200 columns from a real region with two devices.

``HAMI_UPDATE_DOCS=1 pytest tests/test_top.py`` rewrites docs/top-80.txt and docs/top-200.txt
from the region the layout test builds."""
from __future__ import annotations

import errno
import fcntl
import os
import pty
import select
import struct
import subprocess
import sys
import termios
import time

import pytest

from conftest import GiB, MiB, clean_env, hami_cmd

from hami_core import _native
from hami_core.top import (ALT_SCREEN_OFF, ALT_SCREEN_ON, CURSOR_SHOW, RegionView, Snapshot,
                           render_screen)

DOCS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "docs")

# Until the CLI delegates to hami_core.top.run_top (with --dir), drive run_top the same way.
_SHIM = ("import argparse, sys; from hami_core.top import run_top; p = argparse.ArgumentParser(); "
         "p.add_argument('--region'); p.add_argument('--interval', type=float, default=1.0); "
         "p.add_argument('--count', type=int, default=0); p.add_argument('--dir'); a = p.parse_args(); "
         "sys.exit(run_top(a.region, a.interval, a.count, a.dir))")


def top_argv() -> list:
    r = subprocess.run(hami_cmd() + ["top", "--help"], capture_output=True, text=True, env=clean_env())
    if r.returncode == 0 and "--dir" in r.stdout:
        return hami_cmd() + ["top"]
    return [sys.executable, "-c", _SHIM]


def _make_region(path: str):
    """A region with two devices, one capped, and this process holding memory on both."""
    r = _native.Region(path, True)
    d0 = r.device("cuda", "GPU-11111111-2222-3333-4444-555555555555", 16 * GiB,
                  {"memory_limit_bytes": 2 * GiB, "compute_limit_pct": 30})
    d1 = r.device("cuda", "GPU-aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee", 16 * GiB, {})
    me = r.join()
    assert r.charge_memory(d0, me, 1536 * MiB)[0] == 0
    assert r.charge_memory(d1, me, 256 * MiB)[0] == 0
    return r, me


def _read_until(fd: int, needle: bytes, timeout: float) -> bytes:
    buf = b""
    deadline = time.monotonic() + timeout
    while needle not in buf and time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.1)
        if ready:
            try:
                chunk = os.read(fd, 65536)
            except OSError as e:
                if e.errno == errno.EIO:
                    break
                raise
            if not chunk:
                break
            buf += chunk
    return buf


def _drain(fd: int, proc: subprocess.Popen, timeout: float) -> bytes:
    buf = b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.1)
        if ready:
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                break
            if not chunk:
                break
            buf += chunk
        elif proc.poll() is not None:
            break
    return buf


def _spawn_on_pty(argv: list, env: dict, cwd: str, cols: int = 100, rows: int = 30):
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))

    def make_controlling() -> None:
        os.setsid()
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)

    proc = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, env=env, cwd=cwd,
                            preexec_fn=make_controlling, close_fds=True)
    return master, slave, proc


@pytest.mark.parametrize("key", [b"q", b"\x03"], ids=["q", "ctrl-c"])
def test_top_on_a_terminal_quits_and_restores_it(tmp_path, key):
    path = str(tmp_path / "t.region")
    r, me = _make_region(path)
    try:
        master, slave, proc = _spawn_on_pty(top_argv() + ["--region", path, "--interval", "0.2"],
                                            clean_env(), str(tmp_path))
        before = termios.tcgetattr(slave)
        try:
            out = _read_until(master, b"GPU-1111", 20)
            assert ALT_SCREEN_ON.encode() in out, out[-500:]
            assert b"MEM" in out and b"1.50 GiB" in out and str(os.getpid()).encode() in out
            during = termios.tcgetattr(slave)
            assert during[3] & termios.ICANON == 0 and during[3] & termios.ECHO == 0   # keys without Enter
            os.write(master, key)
            proc.wait(timeout=10)
            out += _drain(master, proc, 2)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        assert proc.returncode == 0
        tail = out[out.rfind(ALT_SCREEN_ON.encode()):]
        assert (CURSOR_SHOW + ALT_SCREEN_OFF).encode() in tail          # left the alternate screen
        assert b"Traceback" not in out
        assert termios.tcgetattr(slave) == before                        # stty settings restored
        os.close(master)
        os.close(slave)
    finally:
        r.leave(me)
        r.close()


def test_top_plain_mode_prints_count_blocks(runner, tmp_path):
    path = str(tmp_path / "p.region")
    r, me = _make_region(path)
    try:
        t0 = time.monotonic()
        out = subprocess.run(top_argv() + ["--region", path, "--interval", "0.2", "--count", "2"],
                             capture_output=True, text=True, env=clean_env(COLUMNS="80"), timeout=30,
                             cwd=str(tmp_path))
        assert out.returncode == 0, out.stderr
        assert time.monotonic() - t0 < 15
        assert "\x1b" not in out.stdout                                  # no escape codes in a pipe
        blocks = [b for b in out.stdout.split("\n\n\n") if b.strip()]
        assert out.stdout.count("hami-core top ") == 2, out.stdout
        assert all(len(ln) <= 80 for ln in out.stdout.splitlines())
        assert "GPU-1111" in out.stdout and "cap  30%" in out.stdout and str(os.getpid()) in out.stdout
        assert "q: quit" not in out.stdout and blocks
    finally:
        r.leave(me)
        r.close()


def test_top_directory_and_errors(tmp_path):
    d = tmp_path / "regions"
    (d / "a").mkdir(parents=True)
    r1, m1 = _make_region(str(d / "a" / "one.region"))
    (d / "two.region").write_bytes(b"\0" * 4096)                        # corrupt: shown, not fatal
    try:
        out = subprocess.run(top_argv() + ["--dir", str(d), "--interval", "0.1", "--count", "1"],
                             capture_output=True, text=True, env=clean_env(), timeout=30)
        assert out.returncode == 0, out.stderr
        assert "2 regions" in out.stdout and "one.region" in out.stdout and "two.region" in out.stdout
        missing = subprocess.run(top_argv() + ["--region", str(tmp_path / "none.region"), "--count", "1"],
                                 capture_output=True, text=True, env=clean_env(), timeout=30)
        assert missing.returncode == 1 and len(missing.stderr.strip().splitlines()) == 1
        assert "no region at" in missing.stderr
    finally:
        r1.leave(m1)
        r1.close()


# ---- layout ----------------------------------------------------------------------------------

_LAYOUT_SCRIPT = r"""
import json, os, subprocess, sys, time
import hami_core
from hami_core import Limits, top
lib = os.environ.get("HAMI_LIBRARY") or hami_core.library_path()
reg = os.environ["HAMI_REGION"]
env = dict(os.environ, **Limits(memory="2g", compute=30).env())
env["LD_PRELOAD"] = lib
W = [sys.executable, "-m", "hami_core._workload"]
procs = [subprocess.Popen(W + ["hold", "1536Mi"], env=env, stdout=subprocess.PIPE, text=True),
         subprocess.Popen(W + ["hold", "256Mi", "--device", "1"], env=env, stdout=subprocess.PIPE, text=True)]
for p in procs:
    assert json.loads(p.stdout.readline())["ready"]
procs.append(subprocess.Popen([sys.executable, "-m", "hami_core.demo", "tenant", "--seconds", "20"], env=env,
                              stdout=subprocess.PIPE, text=True))
assert json.loads(procs[-1].stdout.readline())["ready"]
samplers = {}
time.sleep(0.3)
top.collect([reg], samplers, 1.0, reg)
time.sleep(1.0)
snap = top.collect([reg], samplers, 1.0, reg)
for p in procs:
    p.kill(); p.wait()
print(json.dumps({"80": top.render_screen(snap, 80, 40), "200": top.render_screen(snap, 200, 40),
                  "pids": [p.pid for p in procs]}))
"""


def test_render_at_80_and_200_columns_from_a_real_region(runner):
    lib = os.environ.get("HAMI_LIBRARY")     # another libhami.so for the captured layouts, if given
    r = runner.script(_LAYOUT_SCRIPT, sim_args=["--devices", "2"], timeout=60,
                      env=clean_env(**({"HAMI_LIBRARY": lib} if lib else {})))
    assert r.returncode == 0, r.stderr
    j = runner.last_json(r.stdout)
    narrow, wide = j["80"], j["200"]
    assert max(len(ln) for ln in narrow) <= 80 and max(len(ln) for ln in wide) <= 200
    assert max(len(ln) for ln in wide) > 120                     # the extra width is used
    text80, text200 = "\n".join(narrow), "\n".join(wide)
    for pid in j["pids"]:
        assert str(pid) in text80 and str(pid) in text200
    assert "1.50 GiB / 2.00 GiB" in text80 and "256 MiB / 2.00 GiB" in text80
    assert text80.count(" MEM [") == 2 and text80.count(" SM  [") == 2 and "cap  30%" in text80
    uuids = [ln.split()[2] for ln in narrow if " MEM [" in ln]
    assert len(set(uuids)) == 2                                  # short UUIDs still tell devices apart
    assert any(len(ln.split()[2]) == 40 for ln in wide if " MEM [" in ln)   # full UUIDs when wide
    assert "card 16.00 GiB" in text200 and "launches" in text200
    if os.environ.get("HAMI_UPDATE_DOCS"):
        os.makedirs(DOCS, exist_ok=True)
        for name, lines in (("top-80.txt", narrow), ("top-200.txt", wide)):
            with open(os.path.join(DOCS, name), "w", encoding="utf-8") as f:
                f.write("\n".join(lines) + "\n")


def test_committed_layouts_fit():
    for name, width in (("top-80.txt", 80), ("top-200.txt", 200)):
        with open(os.path.join(DOCS, name), encoding="utf-8") as f:
            lines = f.read().splitlines()
        assert lines and lines[0].startswith("hami-core top")
        assert max(len(ln) for ln in lines) <= width


def _synthetic(ndev: int = 2, nproc: int = 3) -> Snapshot:
    from hami_core import DeviceUsage, ProcessUsage, RecentUse

    devs = [DeviceUsage(index=i, vendor="cuda" if i % 2 == 0 else "ascend", uuid=f"GPU-{i:08d}-0000-0000-0000-00000000000{i % 10}",
                        card_total_bytes=16 * GiB, memory_limit_bytes=2 * GiB if i == 0 else 0,
                        used_bytes=(i + 1) * 300 * MiB, free_bytes=0, compute_limit_pct=30 if i == 0 else 0,
                        memory_limit_invalid=(i == 3), compute_limit_invalid=(i == 3), policy="force",
                        launches=1000 * i, throttled_ns=0, busy_ns=0, slot=i) for i in range(ndev)]
    procs = [ProcessUsage(pid=100 + k, name="a-very-long-process-name-for-testing" if k == 0 else "python3",
                          alive=k != 2, start_time=k, used_bytes={k % ndev: 100 * MiB}, busy_ns={k % ndev: 1},
                          slot=k) for k in range(nproc)]
    recent = {d.uuid: RecentUse(window_s=1.0, busy_pct=29.5, throttled_pct=140.0, launches_per_s=480.0,
                                process_busy_pct={100: 29.5}) for d in devs}
    return Snapshot(clock=0.0, interval=1.0, source="/r", regions=[RegionView(path="/r/x.region", devices=devs,
                                                                              processes=procs, recent=recent)])


@pytest.mark.parametrize("width", [40, 80, 100, 119, 120, 160, 200, 300])
def test_render_screen_is_pure_and_fits(width):
    snap = _synthetic(4, 5)
    a = render_screen(snap, width, 100)
    assert a == render_screen(snap, width, 100)
    assert max(len(ln) for ln in a) <= min(width, 200)
    text = "\n".join(a)
    if width < 80:
        return                                   # below the designed minimum: lines are only cut
    assert "INVALID" in text and "(dead)" in text and "29.5%" in text


def test_render_screen_cuts_to_height():
    lines = render_screen(_synthetic(6, 20), 80, 12)
    assert len(lines) == 12 and lines[-1].startswith("... ") and "more lines" in lines[-1]
