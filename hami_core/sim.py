"""Simulated devices: a fresh simulator session (state file + environment) for a command.

``hami-core sim`` is a thin wrapper over :func:`session`; the benchmarks and the demo use it too.
The environment it builds (DESIGN 3.5, csrc/include/hami/sim.h):

==================  ==========================================================================
``HAMI_SIM_STATE``  the fresh state file (in a private temporary directory)
``HAMI_SIM_*``      devices, memory per device (bytes), SMs, block duration (ns), vendors
``LD_LIBRARY_PATH`` the simulated libraries' directory first (CUDA: libcuda.so.1,
                    libnvidia-ml.so.1; Ascend: libascendcl.so, libruntime.so,
                    libhami_sim_opapi.so)
``HAMI_REGION``     a fresh region file in the same directory, unless ``HAMI_REGION`` is
                    already set: each simulated machine starts with an empty region
==================  ==========================================================================

The temporary directory (state and region) is removed when the session ends.
"""
from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from typing import Dict, Iterator, List, Mapping, Optional, Union

from . import _native, parse_size, sim_library_dir

__all__ = ["SimSession", "session", "parse_vendors", "VENDOR_BITS"]

VENDOR_BITS = {"cuda": 1, "ascend": 2}


def parse_vendors(text: str) -> int:
    """``cuda``, ``ascend`` or ``cuda,ascend`` -> the engine's vendor bit mask."""
    mask = 0
    for part in str(text).split(","):
        part = part.strip().lower()
        if part not in VENDOR_BITS:
            raise ValueError(f"'{text}': expected cuda, ascend or cuda,ascend")
        mask |= VENDOR_BITS[part]
    return mask


@dataclass
class SimSession:
    """A live simulator session: ``env`` is the full environment for its commands."""

    directory: str
    state: str
    region: str
    devices: int
    memory_bytes: int
    sms: int
    block_ns: int
    vendors: int
    env: Dict[str, str] = field(default_factory=dict)

    def ground_truth(self) -> List[dict]:
        """Per-device ground truth from the engine (used bytes, busy ns)."""
        return list(_native.sim_devices(self.state))

    def process_truth(self) -> List[dict]:
        return list(_native.sim_processes(self.state))


def sim_env(
    state: str,
    region: Optional[str],
    devices: int,
    memory_bytes: int,
    sms: int,
    block_ns: int,
    vendors: int,
    base: Optional[Mapping[str, str]] = None,
) -> Dict[str, str]:
    env = dict(os.environ if base is None else base)
    libdir = sim_library_dir()
    env["HAMI_SIM_STATE"] = state
    env["HAMI_SIM_DEVICES"] = str(devices)
    env["HAMI_SIM_MEMORY"] = str(memory_bytes)
    env["HAMI_SIM_SMS"] = str(sms)
    env["HAMI_SIM_BLOCK_NS"] = str(block_ns)
    env["HAMI_SIM_VENDORS"] = ",".join(k for k, v in VENDOR_BITS.items() if vendors & v)
    old = [p for p in env.get("LD_LIBRARY_PATH", "").split(":") if p and p != libdir]
    env["LD_LIBRARY_PATH"] = ":".join([libdir] + old)
    if region is not None:
        env["HAMI_REGION"] = region
    return env


@contextlib.contextmanager
def session(
    devices: int = 2,
    memory: Union[int, str] = "16Gi",
    sms: int = 108,
    block_ns: int = 10_000,
    vendors: Union[int, str] = "cuda",
    base_env: Optional[Mapping[str, str]] = None,
    fresh_region: Optional[bool] = None,
) -> Iterator[SimSession]:
    """Create fresh simulated devices for the duration of the ``with`` block.

    ``fresh_region`` (default: when ``HAMI_REGION`` is not set in the base environment) puts a
    new region file in the session directory."""
    if not 1 <= int(devices) <= _native.SIM_MAX_DEVICES:
        raise ValueError(f"--devices {devices}: expected 1..{_native.SIM_MAX_DEVICES}")
    if int(sms) < 1:
        raise ValueError(f"--sms {sms}: expected a positive number of SMs")
    mem = parse_size(memory)
    if mem == 0:
        raise ValueError(f"--memory '{memory}': a simulated device needs some memory")
    mask = vendors if isinstance(vendors, int) else parse_vendors(vendors)
    if mask & VENDOR_BITS["ascend"] and not os.path.exists(os.path.join(sim_library_dir(), "libascendcl.so")):
        raise ValueError("ascend: this hami-core was built without the simulated Ascend libraries "
                         "(libascendcl.so, libruntime.so); reinstall from a complete checkout or use --vendor cuda")
    base = dict(os.environ if base_env is None else base_env)
    if fresh_region is None:
        fresh_region = not base.get("HAMI_REGION")
    directory = tempfile.mkdtemp(prefix="hami-sim-")
    try:
        state = os.path.join(directory, "sim.state")
        region = os.path.join(directory, "hami.region") if fresh_region else base.get("HAMI_REGION", "")
        _native.sim_create(state, int(devices), mem, int(sms), int(block_ns), mask)
        env = sim_env(state, region if fresh_region else None, int(devices), mem, int(sms), int(block_ns), mask, base)
        yield SimSession(directory=directory, state=state, region=region, devices=int(devices),
                         memory_bytes=mem, sms=int(sms), block_ns=int(block_ns), vendors=mask, env=env)
    finally:
        shutil.rmtree(directory, ignore_errors=True)
