"""Real-hardware checks of hami-core on an NVIDIA GPU (DESIGN 6, bench/gpu).

Runs, each in a child process so the library is loaded exactly as a container entrypoint would
load it (LD_PRELOAD + environment):

  memcap   PyTorch under a 4 GiB memory cap: torch.cuda.mem_get_info() must report the cap and
           allocating past it must raise torch.cuda.OutOfMemoryError near 4 GiB.
  train    a small training loop without and with the library (no caps): steps/s ratio.
  compute  a matmul loop uncapped and at compute caps of 25 % and 50 %: achieved share of the
           uncapped throughput, and NVML's utilisation sampled while it runs.

Usage: python3 bench/gpu/gpu_checks.py --lib build/lib/libhami.so --out results.json
Everything is measured in this run; nothing is assumed.  Total time: about 3 minutes.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time

GiB = 1 << 30


# ----------------------------------------------------------------------------- children
def child_memcap() -> dict:
    import torch

    free_b, total_b = torch.cuda.mem_get_info()
    chunks = []
    allocated = 0
    error = None
    step = 256 << 20
    try:
        while allocated < 64 * GiB:
            chunks.append(torch.empty(step, dtype=torch.uint8, device="cuda"))
            allocated += step
    except torch.cuda.OutOfMemoryError as exc:  # the error a framework can catch and handle
        error = "torch.cuda.OutOfMemoryError"
        message = str(exc).splitlines()[0][:200]
    except Exception as exc:  # anything else is a failure of the check
        error = type(exc).__module__ + "." + type(exc).__name__
        message = str(exc).splitlines()[0][:200]
    else:
        message = ""
    return {
        "mem_get_info_total_bytes": total_b,
        "mem_get_info_free_bytes": free_b,
        "allocated_before_error_bytes": allocated,
        "error": error,
        "message": message,
    }


def child_train(seconds: float) -> dict:
    import torch

    torch.manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Linear(4096, 4096), torch.nn.ReLU(), torch.nn.Linear(4096, 4096)
    ).cuda()
    opt = torch.optim.SGD(model.parameters(), lr=1e-3)
    x = torch.randn(512, 4096, device="cuda")

    def step():
        opt.zero_grad(set_to_none=True)
        loss = model(x).square().mean()
        loss.backward()
        opt.step()

    for _ in range(20):
        step()
    torch.cuda.synchronize()
    rates = []
    for _ in range(5):
        n = 0
        t0 = time.perf_counter()
        while time.perf_counter() - t0 < seconds / 5:
            step()
            n += 1
        torch.cuda.synchronize()
        rates.append(n / (time.perf_counter() - t0))
    return {"steps_per_s_median": statistics.median(rates), "steps_per_s": rates}


def child_compute(seconds: float) -> dict:
    import torch

    a = torch.randn(4096, 4096, device="cuda", dtype=torch.bfloat16)
    b = torch.randn(4096, 4096, device="cuda", dtype=torch.bfloat16)
    for _ in range(10):
        a @ b
    torch.cuda.synchronize()
    n = 0
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        for _ in range(8):
            a @ b
        n += 8
        torch.cuda.synchronize()
    elapsed = time.perf_counter() - t0
    return {"matmuls_per_s": n / elapsed, "seconds": elapsed}


# ----------------------------------------------------------------------------- parent
def run_child(mode: str, env_extra: dict | None, lib: str | None, seconds: float) -> dict:
    env = dict(os.environ)
    for key in list(env):
        if key.startswith(("HAMI_", "CUDA_DEVICE_")):
            del env[key]
    env.pop("LD_PRELOAD", None)
    if lib:
        env["LD_PRELOAD"] = lib
        env["HAMI_REGION"] = tempfile.mktemp(prefix="hami-gpu-", suffix=".region")
    env.update(env_extra or {})
    cmd = [sys.executable, __file__, "--child", mode, "--seconds", str(seconds)]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    if proc.returncode != 0:
        return {"error": f"child exited {proc.returncode}", "stderr": proc.stderr[-2000:]}
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    result["stderr_tail"] = proc.stderr[-500:]
    return result


class NvmlSampler(threading.Thread):
    """Samples NVML GPU utilisation every 100 ms while a child runs."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.samples: list[int] = []
        self.stop = threading.Event()

    def run(self) -> None:
        try:
            import pynvml

            pynvml.nvmlInit()
            handle = pynvml.nvmlDeviceGetHandleByIndex(0)
            while not self.stop.is_set():
                self.samples.append(pynvml.nvmlDeviceGetUtilizationRates(handle).gpu)
                time.sleep(0.1)
        except Exception as exc:  # NVML missing: report, do not fail the run
            self.samples = []
            self.error = str(exc)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--lib", help="path of libhami.so")
    ap.add_argument("--out", default="gpu_checks.json")
    ap.add_argument("--child")
    ap.add_argument("--seconds", type=float, default=5.0)
    args = ap.parse_args()

    if args.child:
        fn = {"memcap": lambda: child_memcap(), "train": lambda: child_train(args.seconds),
              "compute": lambda: child_compute(args.seconds)}[args.child]
        print(json.dumps(fn()))
        return 0

    import torch

    report: dict = {
        "gpu": torch.cuda.get_device_name(0),
        "torch": torch.__version__,
        "card_total_bytes": torch.cuda.mem_get_info()[1],
        "started": time.strftime("%Y-%m-%dT%H:%M:%S"),
    }
    lib = os.path.abspath(args.lib)

    mem = run_child("memcap", {"HAMI_MEMORY_LIMIT": "4g"}, lib, 0)
    mem["cap_bytes"] = 4 * GiB
    mem["pass"] = (
        mem.get("error") == "torch.cuda.OutOfMemoryError"
        and mem.get("mem_get_info_total_bytes") == 4 * GiB
        and mem.get("allocated_before_error_bytes", 0) <= 4 * GiB
    )
    report["memcap"] = mem
    print("memcap", json.dumps(mem), flush=True)

    base = run_child("train", None, None, 10)
    hooked = run_child("train", None, lib, 10)
    report["train"] = {"without": base, "with": hooked}
    if "steps_per_s_median" in base and "steps_per_s_median" in hooked:
        report["train"]["ratio_with_over_without"] = (
            hooked["steps_per_s_median"] / base["steps_per_s_median"])
    print("train", json.dumps(report["train"]), flush=True)

    compute: dict = {}
    for cap in (0, 25, 50):
        sampler = NvmlSampler()
        sampler.start()
        env = {"HAMI_COMPUTE_LIMIT": str(cap)} if cap else None
        res = run_child("compute", env, lib if cap else None, 15)
        sampler.stop.set()
        sampler.join()
        res["nvml_util_median"] = statistics.median(sampler.samples) if sampler.samples else None
        compute[str(cap)] = res
    uncapped = compute["0"].get("matmuls_per_s")
    for cap in ("25", "50"):
        if uncapped and "matmuls_per_s" in compute[cap]:
            compute[cap]["share_of_uncapped_pct"] = 100.0 * compute[cap]["matmuls_per_s"] / uncapped
    report["compute"] = compute
    print("compute", json.dumps(compute), flush=True)

    with open(args.out, "w") as fh:
        json.dump(report, fh, indent=2)
    print("wrote", args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
