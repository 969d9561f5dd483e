"""Compute caps end to end, through the CLI: `hami-core sim [--vendor ascend] -- hami-core run
--compute PCT --region R -- <workload>`, achieved utilisation against the simulator's ground
truth (CUDA: hamiSimDeviceBusy) or the known duration of the work completed (Ascend: spin ops
of a fixed duration, counted after a final synchronisation).  Every capped case has a CONTROL:
the same workload without the library runs well above the cap.  Live limits go through
`hami-core set --compute` on the running processes' region.

Tolerance: 10 points (a 2-core CI machine is noisy); each workload runs at most ~3 s.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "workloads"))
import caps_helpers as H  # noqa: E402

TOL = 10.0

# The workload: one program, both vendors (the Ascend part is resolved with dlopen so the CUDA
# cases need no Ascend simulator).  Prints one JSON line per measurement window.
#   cuda SECONDS KERNEL_US WINDOW_MS [graph|coop]    1 thread, one stream, spin kernels
#   ascend SECONDS KERNEL_US                         aclopExecuteV2("HamiSimSpin") on a stream
SOURCE = r'''
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "hami/cuda_abi.h"
#include "hami/acl_abi.h"

CUresult cuInit(unsigned int);
CUresult cuDevicePrimaryCtxRetain(CUcontext *, CUdevice);
CUresult cuCtxSetCurrent(CUcontext);
CUresult cuModuleLoadData(CUmodule *, const void *);
CUresult cuModuleGetFunction(CUfunction *, CUmodule, const char *);
CUresult cuStreamCreate(CUstream *, unsigned int);
CUresult cuStreamSynchronize(CUstream);
CUresult cuLaunchKernel(CUfunction, unsigned, unsigned, unsigned, unsigned, unsigned, unsigned,
                        unsigned, CUstream, void **, void **);
CUresult cuLaunchCooperativeKernel(CUfunction, unsigned, unsigned, unsigned, unsigned, unsigned,
                                   unsigned, unsigned, CUstream, void **);
CUresult cuStreamBeginCapture_v2(CUstream, CUstreamCaptureMode);
CUresult cuStreamEndCapture(CUstream, CUgraph *);
CUresult cuGraphInstantiateWithFlags(CUgraphExec *, CUgraph, unsigned long long);
CUresult cuGraphLaunch(CUgraphExec, CUstream);
CUresult hamiSimDeviceBusy(CUdevice, unsigned long long *, unsigned long long *);
typedef aclopAttr *(*aclopCreateAttr_fn)(void);
typedef aclError (*aclopSetAttrInt_fn)(aclopAttr *, const char *, int64_t);

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int cuda(double seconds, uint64_t kernel_ns, uint64_t window_ns, const char *kind)
{
    CUcontext ctx; CUmodule mod; CUfunction spin; CUstream s;
    if (cuInit(0) || cuDevicePrimaryCtxRetain(&ctx, 0) || cuCtxSetCurrent(ctx) ||
        cuModuleLoadData(&mod, "image") || cuModuleGetFunction(&spin, mod, "hami_sim_spin") ||
        cuStreamCreate(&s, 1))
        return 2;
    uint64_t ns = kernel_ns, quarter = kernel_ns / 4;
    void *params[] = {&ns}, *qparams[] = {&quarter};
    CUgraphExec exec = NULL;
    int graph = strcmp(kind, "graph") == 0, coop = strcmp(kind, "coop") == 0;
    if (graph) {
        CUgraph g;
        if (cuStreamBeginCapture_v2(s, CU_STREAM_CAPTURE_MODE_GLOBAL)) return 3;
        for (int i = 0; i < 4; i++)
            if (cuLaunchKernel(spin, 1, 1, 1, 1, 1, 1, 0, s, qparams, NULL)) return 3;
        if (cuStreamEndCapture(s, &g) || cuGraphInstantiateWithFlags(&exec, g, 0)) return 3;
    }
    uint64_t start = now_ns(), end = start + (uint64_t)(seconds * 1e9);
    uint64_t next = start + 300000000ull; /* first window after 300 ms of warm-up */
    unsigned long long b0 = 0, t0 = 0, b1, t1;
    int measuring = 0;
    while (now_ns() < end) {
        uint64_t t = now_ns();
        if (t >= next) {
            hamiSimDeviceBusy(0, &b1, &t1);
            if (measuring)
                printf("{\"t\": %.3f, \"m\": %.3f, \"util\": %.2f}\n", (double)(t - start) / 1e9,
                       (double)t / 1e9, 100.0 * (double)(b1 - b0) / (double)(t1 - t0));
            fflush(stdout);
            b0 = b1; t0 = t1; measuring = 1;
            next = t + window_ns;
        }
        CUresult rc = graph ? cuGraphLaunch(exec, s)
                    : coop ? cuLaunchCooperativeKernel(spin, 1, 1, 1, 1, 1, 1, 0, s, params)
                           : cuLaunchKernel(spin, 1, 1, 1, 1, 1, 1, 0, s, params, NULL);
        if (rc) return 4;
    }
    hamiSimDeviceBusy(0, &b1, &t1);
    printf("{\"t\": %.3f, \"util\": %.2f, \"last\": 1}\n", (double)(now_ns() - start) / 1e9,
           100.0 * (double)(b1 - b0) / (double)(t1 - t0));
    cuStreamSynchronize(s);
    return 0;
}

#define SYM(lib, name) name##_fn p_##name = (name##_fn)dlsym(lib, #name); if (!p_##name) return 5
static int ascend(double seconds, uint64_t kernel_ns)
{
    void *acl = dlopen("libascendcl.so", RTLD_NOW | RTLD_GLOBAL);
    if (!acl) return 5;
    SYM(acl, aclInit); SYM(acl, aclrtSetDevice); SYM(acl, aclrtCreateStream);
    SYM(acl, aclopCreateAttr); SYM(acl, aclopSetAttrInt); SYM(acl, aclopExecuteV2);
    SYM(acl, aclrtSynchronizeStream);
    p_aclInit(NULL);
    aclrtStream s;
    if (p_aclrtSetDevice(0) || p_aclrtCreateStream(&s)) return 6;
    aclopAttr *attr = p_aclopCreateAttr();
    p_aclopSetAttrInt(attr, "duration_ns", (int64_t)kernel_ns);
    uint64_t start = now_ns(), from = start + 300000000ull, end = start + (uint64_t)(seconds * 1e9);
    uint64_t t_from = 0, n = 0;
    while (now_ns() < end) {
        if (!t_from && now_ns() >= from) {
            if (p_aclrtSynchronizeStream(s)) return 7;
            t_from = now_ns(); n = 0;
        }
        if (p_aclopExecuteV2("HamiSimSpin", 0, NULL, NULL, 0, NULL, NULL, attr, s)) return 8;
        n++;
    }
    if (p_aclrtSynchronizeStream(s)) return 7;
    uint64_t t = now_ns();
    printf("{\"util\": %.2f, \"last\": 1}\n", 100.0 * (double)(n * kernel_ns) / (double)(t - t_from));
    return 0;
}

int main(int argc, char **argv)
{
    if (argc >= 5 && strcmp(argv[1], "cuda") == 0)
        return cuda(atof(argv[2]), strtoull(argv[3], NULL, 10) * 1000ull,
                    strtoull(argv[4], NULL, 10) * 1000000ull, argc > 5 ? argv[5] : "kernel");
    if (argc >= 4 && strcmp(argv[1], "ascend") == 0)
        return ascend(atof(argv[2]), strtoull(argv[3], NULL, 10) * 1000ull);
    return 1;
}
'''


@pytest.fixture(scope="session")
def workload(tmp_path_factory):
    hami_core = pytest.importorskip("hami_core")
    try:
        hami_core.library_path()
        sim_dir = hami_core.sim_library_dir()
    except Exception as e:  # noqa: BLE001
        pytest.skip(f"hami-core is not built: {e}")
    out = str(tmp_path_factory.mktemp("compute_workload"))
    src = os.path.join(out, "compute_workload.c")
    with open(src, "w") as f:
        f.write(SOURCE)
    include = os.path.normpath(os.path.join(os.path.dirname(__file__), "..", "csrc", "include"))
    exe = os.path.join(out, "compute_workload")
    subprocess.run([os.environ.get("CC", "cc"), "-O1", "-Wall", "-D_GNU_SOURCE", "-I", include, src,
                    "-o", exe, os.path.join(sim_dir, "libcuda.so.1"), "-ldl"],
                   check=True, capture_output=True, text=True)
    return exe


def windows(stdout: str):
    return [json.loads(line) for line in stdout.splitlines() if line.startswith("{")]


def overall(stdout: str) -> float:
    """Mean utilisation over the measured windows."""
    w = windows(stdout)
    assert w, stdout
    return sum(x["util"] for x in w) / len(w)


def sim_cmd(vendor="cuda"):
    return H.hami_cmd() + ["sim", "--vendor", vendor, "--"]


def run_cmd(region, compute=None, policy=None):
    args = H.hami_cmd() + ["run", "--region", region]
    if compute is not None:
        args += ["--compute", str(compute)]
    if policy:
        args += ["--policy", policy]
    return args + ["--"]


def go(cmd, env=None, timeout=60):
    r = H.run_group(cmd, env=env or H.clean_env(), timeout=timeout)
    assert r.returncode == 0, (cmd, r.stdout, r.stderr)
    return r


def cpu_of(cmd, env=None):
    """Run cmd as a child and return (stdout, child user+sys CPU seconds, wall seconds)."""
    t0 = time.monotonic()
    before = os.times()
    r = go(cmd, env=env)
    after = os.times()
    cpu = (after.children_user - before.children_user) + (after.children_system - before.children_system)
    return r.stdout, cpu, time.monotonic() - t0


@pytest.mark.parametrize("kind,kernel_us", [("kernel", 50), ("kernel", 1000), ("kernel", 20000),
                                            ("graph", 1000), ("coop", 1000)])
def test_cap_30_holds(workload, tmp_path, kind, kernel_us):
    argv = [workload, "cuda", "2.5", str(kernel_us), "500", kind]
    ctl = overall(go(sim_cmd() + argv).stdout)
    assert ctl > 30 + 2 * TOL, f"control only reached {ctl:.1f} %"
    out = go(sim_cmd() + run_cmd(str(tmp_path / "r"), compute=30) + argv).stdout
    got = overall(out)
    assert abs(got - 30) <= TOL, f"{kind} {kernel_us} us: {got:.1f} % at a 30 % cap (control {ctl:.1f})"


def test_cap_30_four_processes(workload, tmp_path):
    """Four processes share one bucket: together they hold 30 %."""
    region = str(tmp_path / "r")
    script = tmp_path / "four.sh"
    script.write_text("#!/bin/sh\n" + "\n".join(
        [" ".join(run_cmd(region, compute=30) + [workload, "cuda", "2.5", "1000", "500", "kernel"])
         + f" > {tmp_path}/out{i} &" for i in range(4)]) + "\nwait\n")
    script.chmod(0o755)
    go(sim_cmd() + ["sh", str(script)])
    # each process measures the whole device (ground truth), so each sees the container's total
    utils = [overall((tmp_path / f"out{i}").read_text()) for i in range(4)]
    mean = sum(utils) / 4
    assert abs(mean - 30) <= TOL, utils


def test_policy_disable_throttles_nothing(workload, tmp_path):
    argv = [workload, "cuda", "1.5", "1000", "500", "kernel"]
    got = overall(go(sim_cmd() + run_cmd(str(tmp_path / "r"), compute=30, policy="disable") + argv).stdout)
    assert got > 30 + 2 * TOL, got


def test_throttled_process_sleeps(workload, tmp_path):
    """A process held at 10 % waits most of the time, and waits sleeping: its CPU time is far
    below its wall time."""
    argv = [workload, "cuda", "2.0", "1000", "500", "kernel"]
    _, cpu_ctl, wall_ctl = cpu_of(sim_cmd() + argv)
    out, cpu, wall = cpu_of(sim_cmd() + run_cmd(str(tmp_path / "r"), compute=10) + argv)
    assert abs(overall(out) - 10) <= TOL
    # the workload itself is 2 s of wall; the CLI's Python start-up adds CPU in both runs
    assert cpu < 0.5 * wall, (cpu, wall, cpu_ctl, wall_ctl)


def _live(workload, tmp_path, first, second, seconds="3.0", settle=0.3):
    """Start capped at `first` (None: no cap), run `hami-core set --compute second` after ~1 s
    of measurement.  Returns (windows before the set, windows starting 300 ms after it ended):
    the workload stamps each window with CLOCK_MONOTONIC (= time.monotonic() on Linux)."""
    region = str(tmp_path / "r")
    window = 0.2
    cmd = sim_cmd() + run_cmd(region, compute=first) + [workload, "cuda", seconds, "1000",
                                                          str(int(window * 1000)), "kernel"]
    proc = subprocess.Popen(cmd, env=H.clean_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, start_new_session=True)
    try:
        deadline = time.monotonic() + 15
        while not os.path.exists(region) and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(1.0)
        t_start = time.monotonic()
        s = subprocess.run(H.hami_cmd() + ["set", "--region", region, "--compute", str(second)],
                           env=H.clean_env(), capture_output=True, text=True, timeout=30)
        t_end = time.monotonic()
        assert s.returncode == 0, s.stderr
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    w = [x for x in windows(out) if "m" in x]
    before = [x["util"] for x in w if x["m"] <= t_start]
    after = [x["util"] for x in w if x["m"] - window >= t_end + settle]
    assert before and after, (w, t_start, t_end)
    return before, after


def test_live_change_20_to_60(workload, tmp_path):
    before, after = _live(workload, tmp_path, 20, 60)
    assert abs(sum(before) / len(before) - 20) <= TOL, before
    assert abs(sum(after) / len(after) - 60) <= TOL, after


def test_live_cap_reaches_uncapped_process(workload, tmp_path):
    """A process that started with no cap is throttled once `set --compute 30` lands, and goes
    back to full speed (the fast path) when the cap is set back to 0."""
    # An uncapped process has queued work ahead of the device (the simulator's queue, as a
    # real driver's): what is already queued runs at full speed, so its reaction shows once
    # that backlog drained -- the cap applies to every launch made after the `set`.
    before, after = _live(workload, tmp_path, None, 30, seconds="3.5", settle=1.0)
    assert sum(before) / len(before) > 30 + 2 * TOL, before
    assert abs(sum(after) / len(after) - 30) <= TOL, after


def test_live_cap_removed(workload, tmp_path):
    before, after = _live(workload, tmp_path, 30, 0)
    assert abs(sum(before) / len(before) - 30) <= TOL, before
    assert sum(after) / len(after) > 30 + 2 * TOL, after


def test_ascend_cap_30(workload, tmp_path):
    hami_core = pytest.importorskip("hami_core")
    if not os.path.exists(os.path.join(hami_core.sim_library_dir(), "libascendcl.so")):
        pytest.fail("no Ascend simulator in this build")
    argv = [workload, "ascend", "2.5", "1000"]
    ctl = overall(go(sim_cmd("ascend") + argv).stdout)
    assert ctl > 30 + 2 * TOL, ctl
    got = overall(go(sim_cmd("ascend") + run_cmd(str(tmp_path / "r"), compute=30) + argv).stdout)
    assert abs(got - 30) <= TOL, f"Ascend: {got:.1f} % at a 30 % cap (control {ctl:.1f})"
