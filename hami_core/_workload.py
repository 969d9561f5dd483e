"""Small CUDA workloads for the demo, the tests and the benchmarks (``python -m hami_core._workload``).

Each command prints JSON lines on stdout (flushed) and drives the CUDA driver through
:mod:`hami_core.cuda`, i.e. whatever ``libcuda.so.1`` the process finds -- the simulator under
``hami-core sim``, through the interception library under ``hami-core run``.

    info                                   devices, names, UUIDs, (free, total) per device
    hold SIZE [--device D] [--seconds S]   allocate SIZE, print {"ready": ...}, sleep (until killed)
    fill [--device D] [--chunk SIZE] [--max SIZE]
                                           allocate chunks until the driver refuses; report
    spin [--device D] [--total-ns N] [--kernel-ns N] [--start-at MONO_NS]
                                           launch spin kernels back to back, synchronise, time
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from typing import List

from .cuda import CUDA_ERROR_OUT_OF_MEMORY, CudaError, Driver


def _out(obj: dict) -> None:
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def _size(text: str) -> int:
    from . import parse_size

    return parse_size(text)


def cmd_info(args: argparse.Namespace) -> int:
    drv = Driver()
    devices = []
    for i in range(drv.device_count()):
        ctx = drv.primary_context(i)
        free, total = drv.mem_get_info()
        devices.append({"ordinal": i, "name": drv.device_name(i), "uuid": drv.device_uuid(i),
                        "free": free, "total": total, "total_mem": drv.device_total_mem(i)})
        ctx.release()
    _out({"pid": os.getpid(), "devices": devices})
    return 0


def cmd_hold(args: argparse.Namespace) -> int:
    drv = Driver()
    drv.primary_context(args.device)
    nbytes = _size(args.size)
    try:
        ptr = drv.mem_alloc(nbytes)
    except CudaError as e:
        _out({"ready": False, "error": e.name, "code": e.code})
        return 3
    free, total = drv.mem_get_info()
    _out({"ready": True, "pid": os.getpid(), "ptr": ptr, "bytes": nbytes, "free": free, "total": total})
    deadline = time.monotonic() + args.seconds if args.seconds else None
    while deadline is None or time.monotonic() < deadline:
        time.sleep(0.05 if deadline else 3600)
    drv.mem_free(ptr)
    return 0


def cmd_fill(args: argparse.Namespace) -> int:
    drv = Driver()
    drv.primary_context(args.device)
    chunk = _size(args.chunk)
    limit = _size(args.max) if args.max else None
    free0, total0 = drv.mem_get_info()
    ptrs: List[int] = []
    error = None
    code = 0
    while limit is None or (len(ptrs) + 1) * chunk <= limit:
        rc, ptr = drv.try_mem_alloc(chunk)
        if rc != 0:
            error, code = drv.error_name(rc), rc
            break
        ptrs.append(ptr)
    free1, total1 = drv.mem_get_info()
    for p in ptrs:
        drv.mem_free(p)
    _out({"pid": os.getpid(), "allocated": len(ptrs) * chunk, "chunks": len(ptrs), "chunk": chunk,
          "error": error, "code": code, "oom": code == CUDA_ERROR_OUT_OF_MEMORY,
          "free_before": free0, "total": total0, "free_full": free1, "total_full": total1})
    return 0


def cmd_spin(args: argparse.Namespace) -> int:
    drv = Driver()
    drv.primary_context(args.device)
    func = drv.spin_module().function("hami_sim_spin")
    stream = drv.stream()
    n = max(1, args.total_ns // args.kernel_ns)
    if args.start_at:
        delay = (args.start_at - time.monotonic_ns()) / 1e9
        if delay > 0:
            time.sleep(delay)
    start = time.monotonic_ns()
    for _ in range(n):
        drv.spin(func, args.kernel_ns, stream=stream)
    stream.synchronize()
    end = time.monotonic_ns()
    _out({"pid": os.getpid(), "kernels": n, "kernel_ns": args.kernel_ns, "start_ns": start, "end_ns": end,
          "wall_s": (end - start) / 1e9})
    return 0


def main(argv: List[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m hami_core._workload")
    sub = p.add_subparsers(dest="cmd", required=True)
    sub.add_parser("info")
    h = sub.add_parser("hold")
    h.add_argument("size")
    h.add_argument("--device", type=int, default=0)
    h.add_argument("--seconds", type=float, default=0.0)
    f = sub.add_parser("fill")
    f.add_argument("--device", type=int, default=0)
    f.add_argument("--chunk", default="256Mi")
    f.add_argument("--max", default=None)
    s = sub.add_parser("spin")
    s.add_argument("--device", type=int, default=0)
    s.add_argument("--total-ns", type=int, default=1_000_000_000)
    s.add_argument("--kernel-ns", type=int, default=10_000_000)
    s.add_argument("--start-at", type=int, default=0, help="CLOCK_MONOTONIC ns to start at")
    args = p.parse_args(argv)
    try:
        return {"info": cmd_info, "hold": cmd_hold, "fill": cmd_fill, "spin": cmd_spin}[args.cmd](args)
    except CudaError as e:
        _out({"error": e.name, "code": e.code, "message": str(e)})
        return 3


if __name__ == "__main__":
    sys.exit(main())
