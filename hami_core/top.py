"""``hami-core top``: a live view of every device of a region (or of every region in a directory).

Three layers, so that each can be tested on its own:

- :func:`collect` reads the regions into a :class:`Snapshot` (data only; compute use comes from
  one :class:`~hami_core.UsageSampler` per region: the region's cumulative ``measured_busy_ns``,
  ``throttled_ns`` and per-process busy counters, differenced over the last refresh interval);
- :func:`render_screen` turns a snapshot into lines of text for a given terminal size (a pure
  function: same snapshot and size, same lines);
- :func:`run_top` drives it: on a terminal, a full-screen view (alternate screen, raw keys
  through termios, restored in ``finally``) that quits on ``q`` or Ctrl-C; otherwise plain
  periodic text, one block per refresh.

Layout: 80 columns is the minimum it is designed for (narrower terminals get lines cut);
from 120 columns it shows full UUIDs, card sizes, launch rates and share bars; it never uses
more than 200 columns.
"""
from __future__ import annotations

import glob
import os
import select
import shutil
import signal
import sys
import time
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, TextIO

from . import (
    DeviceUsage,
    ProcessUsage,
    RecentUse,
    RegionError,
    RegionNotFoundError,
    UsageSampler,
    _device_usage,
    _native,
    _processes,
    _read,
    region_path,
)

__all__ = ["RegionView", "Snapshot", "region_paths", "collect", "render_screen", "run_top",
           "MIN_WIDTH", "MAX_WIDTH", "WIDE"]

MIN_WIDTH = 80
MAX_WIDTH = 200
WIDE = 120          # from this width on: full UUIDs, card sizes, launch rates, share bars

# ANSI sequences of the interactive view
ALT_SCREEN_ON = "\x1b[?1049h"
ALT_SCREEN_OFF = "\x1b[?1049l"
CURSOR_HIDE = "\x1b[?25l"
CURSOR_SHOW = "\x1b[?25h"
HOME = "\x1b[H"
CLEAR_EOL = "\x1b[K"
CLEAR_EOS = "\x1b[J"


@dataclass
class RegionView:
    """One region at one moment.  ``error`` is set (and the lists empty) when it cannot be read."""

    path: str
    devices: List[DeviceUsage] = field(default_factory=list)
    processes: List[ProcessUsage] = field(default_factory=list)
    recent: Dict[str, RecentUse] = field(default_factory=dict)
    error: Optional[str] = None


@dataclass
class Snapshot:
    """Everything one frame shows.  ``clock`` is wall-clock seconds (for the header);
    ``interval`` the refresh interval; ``source`` the region path or directory watched."""

    clock: float
    interval: float
    source: str
    regions: List[RegionView]


# --------------------------------------------------------------------------------------------
# Data


def region_paths(region: Optional[str], directory: Optional[str]) -> List[str]:
    """The regions to show: every ``*.region`` file under ``directory`` (recursively, sorted),
    else the one region ``region`` / ``$HAMI_REGION`` / the default path."""
    if directory:
        found = glob.glob(os.path.join(os.path.abspath(directory), "**", "*.region"), recursive=True)
        return sorted(p for p in found if os.path.isfile(p))
    return [region_path(region)]


def collect(paths: Sequence[str], samplers: Dict[str, UsageSampler], interval: float,
            source: str, clock: Optional[float] = None) -> Snapshot:
    """Read every region of ``paths`` (dead processes' bytes are reclaimed, as ``status`` does);
    ``samplers`` (path -> sampler, created on first sight) turn counters into recent use."""
    views: List[RegionView] = []
    for path in paths:
        try:
            with _native.Region(path, False) as r:
                devs, index_of = _read(r, reclaim=True)
                procs = _processes(r, index_of)
        except RegionNotFoundError:
            views.append(RegionView(path=path, error="no region yet: no process has used a device under "
                                                     "the library with it (start one with `hami-core run -- CMD`)"))
            continue
        except RegionError as e:
            views.append(RegionView(path=path, error=str(e)))
            continue
        usages = [_device_usage(i, d) for i, d in enumerate(devs)]
        sampler = samplers.get(path)
        if sampler is None:
            sampler = samplers[path] = UsageSampler(path, prime=False)
        recent = sampler.update(usages, procs)
        views.append(RegionView(path=path, devices=usages, processes=procs, recent=recent))
    return Snapshot(clock=time.time() if clock is None else clock, interval=interval, source=source, regions=views)


# --------------------------------------------------------------------------------------------
# Rendering (pure)


def fmt_bytes(n: int) -> str:
    """1.50 GiB style, as `hami-core status` prints sizes."""
    n = int(n)
    for unit, shift in (("TiB", 40), ("GiB", 30), ("MiB", 20), ("KiB", 10)):
        if n >= 1 << shift:
            v = n / (1 << shift)
            return f"{v:.2f} {unit}" if v < 100 else f"{v:.0f} {unit}"
    return f"{n} B"


def _bar(fraction: float, width: int, marker: Optional[float] = None) -> str:
    """``[||||||     ]`` of ``width`` inner cells; ``marker`` (0..1) draws ``:`` where the cap is."""
    width = max(width, 1)
    fraction = min(max(fraction, 0.0), 1.0)
    filled = int(round(fraction * width))
    cells = ["|"] * filled + [" "] * (width - filled)
    if marker is not None and 0.0 < marker < 1.0:
        pos = min(int(round(marker * width)), width - 1)
        if cells[pos] == " ":
            cells[pos] = ":"
    return "[" + "".join(cells) + "]"


def _short_uuid(uuid: str) -> str:
    """``GPU-9b70..225d``: the head and the tail (devices of one machine often differ only at
    the end), 14 characters."""
    return uuid if len(uuid) <= 14 else uuid[:8] + ".." + uuid[-4:]


def _pct(v: Optional[float]) -> str:
    return "  -  " if v is None else f"{v:5.1f}"


def _device_lines(d: DeviceUsage, rec: Optional[RecentUse], w: int) -> List[str]:
    wide = w >= WIDE
    uuid = d.uuid if wide else _short_uuid(d.uuid)
    uw = max(len(uuid), 14)
    prefix = f"{d.index:>2} {d.vendor:<6} {uuid:<{uw}}  "
    pad = " " * len(prefix)
    # memory
    cap = d.memory_limit_bytes or d.card_total_bytes
    if d.memory_limit_bytes and d.card_total_bytes:
        cap = min(d.memory_limit_bytes, d.card_total_bytes)
    if d.memory_limit_invalid:
        mem_txt = f"{fmt_bytes(d.used_bytes):>9} / INVALID   refuses"
        frac = 1.0
    else:
        cap_txt = fmt_bytes(cap) if cap else "?"
        frac = d.used_bytes / cap if cap else 0.0
        mem_txt = f"{fmt_bytes(d.used_bytes):>9} / {cap_txt:<9} {frac * 100:>3.0f}%"
        if not d.memory_limit_bytes:
            mem_txt = f"{fmt_bytes(d.used_bytes):>9} / {cap_txt:<9} card"
    tail_mem = ""
    if wide:
        tail_mem = f"  card {fmt_bytes(d.card_total_bytes)}  policy {d.policy}" if d.card_total_bytes else \
            f"  policy {d.policy}"
    fixed = len(prefix) + len("MEM ") + 2 + 1 + len(mem_txt) + len(tail_mem)
    bw = max(w - 1 - fixed, 8)
    bw = min(bw, 60)
    lines = [f"{prefix}MEM {_bar(frac, bw)} {mem_txt}{tail_mem}"]
    # compute
    if d.compute_limit_invalid:
        cap_c = "INVALID: refuses launches"
        marker = None
    elif d.compute_limit_pct and d.policy != "disable":
        cap_c = f"cap {d.compute_limit_pct:>3}%"
        marker = d.compute_limit_pct / 100.0
    else:
        cap_c = "no cap"
        marker = None
    use = rec.busy_pct if rec else None
    thr = rec.throttled_pct if rec else None
    txt = f"{_pct(use)}% {cap_c}"
    if not d.compute_limit_invalid:
        txt += f" thr {('-' if thr is None else f'{thr:.0f}%'):>4}"
    if wide:
        rate = f"{rec.launches_per_s:.0f}/s" if rec else "-"
        txt = (f"{_pct(use)}% used, {cap_c}, throttled {('-' if thr is None else f'{thr:.0f}%')} "
               f"of the time, {rate} launches")
    lines.append(f"{pad}SM  {_bar((use or 0.0) / 100.0, bw, marker)} {txt}")
    return [ln[:w] for ln in lines]


def _process_lines(v: RegionView, w: int) -> List[str]:
    wide = w >= WIDE
    name_w = 32 if wide else 20
    head = f"{'PID':>8}  {'NAME':<{name_w}}  {'DEV':>3}  {'MEMORY':>10}  {'SHARE':>6}"
    if wide:
        head += "  " + "SHARE OF THE DEVICE (last interval)"
    out = [head]
    if not v.processes:
        out.append(f"{'':>8}  no processes attached")
        return out
    by_index = {d.index: d for d in v.devices}
    for p in sorted(v.processes, key=lambda p: (not p.alive, p.pid)):
        name = (p.name or "?") if p.alive else "(dead)"
        devs = sorted(set(p.used_bytes) | set(p.busy_ns)) or [None]
        for dev in devs:
            share: Optional[float] = None
            if dev is not None and dev in by_index:
                rec = v.recent.get(by_index[dev].uuid)
                if rec is not None:
                    share = rec.process_busy_pct.get(p.pid, 0.0)
            mem = fmt_bytes(p.used_bytes.get(dev, 0)) if dev is not None else fmt_bytes(0)
            share_txt = "-" if share is None else f"{share:.1f}%"
            line = f"{p.pid:>8}  {name[:name_w]:<{name_w}}  {('-' if dev is None else dev):>3}  {mem:>10}  {share_txt:>6}"
            if wide:
                line += "  " + _bar((share or 0.0) / 100.0, max(min(w - len(line) - 3, 50), 8))
            out.append(line[:w])
    return out


def render_screen(snapshot: Snapshot, width: int, height: int, interactive: bool = True) -> List[str]:
    """The lines of one frame for a terminal of ``width`` x ``height`` (no escape codes, no
    line longer than ``min(width, 200)``; at most ``height`` lines, the last one saying how many
    were cut; ``height`` 0 = no limit).  ``interactive=False`` leaves out the key hint.  Pure:
    depends only on its arguments."""
    w = max(min(int(width), MAX_WIDTH), 20)
    ndev = sum(len(v.devices) for v in snapshot.regions)
    stamp = time.strftime("%H:%M:%S", time.localtime(snapshot.clock))
    title = (f"hami-core top  {stamp}  every {snapshot.interval:g}s  "
             f"{len(snapshot.regions)} region{'s' if len(snapshot.regions) != 1 else ''}, "
             f"{ndev} device{'s' if ndev != 1 else ''}")
    hint = "q: quit" if interactive else ""
    lines = [title + " " * max(w - len(title) - len(hint), 2) + hint if hint and len(title) + len(hint) + 2 <= w
             else title]
    if not snapshot.regions:
        lines.append(f"no *.region files under {snapshot.source} yet (waiting)")
    for v in snapshot.regions:
        head = f"-- {v.path} "
        lines.append((head + "-" * max(w - len(head), 0))[:w])
        if v.error:
            lines.append(f"   {v.error}"[:w])
            continue
        if not v.devices:
            lines.append("   no devices yet (no process has used a device under the library)")
        for d in v.devices:
            lines.extend(_device_lines(d, v.recent.get(d.uuid), w))
        lines.append("")
        lines.extend(_process_lines(v, w))
    lines.append("")
    lines.append(("MEM: in use / cap (container-wide).  SM: measured device time over the last interval; "
                  "':' marks the cap; thr: time launches waited for the cap.")[:w] if w >= WIDE else
                 "SM: device time used over the last interval (: = cap); thr: time held back"[:w])
    lines = [ln.rstrip()[:w] for ln in lines]
    if height > 0 and len(lines) > height:
        cut = len(lines) - (height - 1)
        lines = lines[:height - 1] + [f"... {cut} more line{'s' if cut != 1 else ''} (enlarge the window)"[:w]]
    return lines


# --------------------------------------------------------------------------------------------
# Driving it


def _err(msg: str) -> None:
    sys.stderr.write(f"hami-core: {msg}\n")
    sys.stderr.flush()


def _plain(paths_fn, source: str, interval: float, count: int, out: TextIO) -> int:
    samplers: Dict[str, UsageSampler] = {}
    width = int(os.environ.get("COLUMNS", "0") or 0) or 100
    collect(paths_fn(), samplers, interval, source)  # baseline: every block shows measured use
    n = 0
    while True:
        time.sleep(interval)
        snap = collect(paths_fn(), samplers, interval, source)
        lines = render_screen(snap, width, 0, interactive=False)
        out.write("\n".join(lines) + "\n\n")
        out.flush()
        n += 1
        if count and n >= count:
            return 0


def _interactive(paths_fn, source: str, interval: float, count: int) -> int:
    import termios
    import tty

    out = sys.stdout
    fd_in = sys.stdin.fileno() if sys.stdin is not None and sys.stdin.isatty() else None
    saved = termios.tcgetattr(fd_in) if fd_in is not None else None
    samplers: Dict[str, UsageSampler] = {}
    old_term = signal.getsignal(signal.SIGTERM)

    def on_term(_s, _f):  # noqa: ANN001 - restore the terminal on `kill` too
        raise SystemExit(143)

    signal.signal(signal.SIGTERM, on_term)
    try:
        if fd_in is not None:
            tty.setcbreak(fd_in)       # keys without Enter, no echo; Ctrl-C still raises SIGINT
        out.write(ALT_SCREEN_ON + CURSOR_HIDE)
        out.flush()
        n = 0
        while True:
            size = shutil.get_terminal_size((80, 24))
            snap = collect(paths_fn(), samplers, interval, source)
            lines = render_screen(snap, size.columns, size.lines)
            out.write(HOME + (CLEAR_EOL + "\r\n").join(lines) + CLEAR_EOL + CLEAR_EOS)
            out.flush()
            n += 1
            if count and n >= count:
                return 0
            deadline = time.monotonic() + interval
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                if fd_in is None:
                    time.sleep(min(left, 0.25))
                    continue
                ready, _, _ = select.select([fd_in], [], [], min(left, 0.25))
                if ready:
                    ch = os.read(fd_in, 32)
                    if not ch or b"q" in ch.lower() or b"\x03" in ch:
                        return 0
                    if b" " in ch or b"r" in ch.lower():
                        break   # refresh now
                if shutil.get_terminal_size((80, 24)) != size:
                    break       # resized: redraw at once
    except KeyboardInterrupt:
        return 0
    finally:
        out.write(CURSOR_SHOW + ALT_SCREEN_OFF)
        out.flush()
        if saved is not None and fd_in is not None:
            termios.tcsetattr(fd_in, termios.TCSADRAIN, saved)
        signal.signal(signal.SIGTERM, old_term)


def run_top(region: Optional[str], interval: float, count: int, directory: Optional[str]) -> int:
    """``hami-core top``: show ``region`` (or every ``*.region`` under ``directory``) every
    ``interval`` seconds, ``count`` times (0 = until ``q`` / Ctrl-C).  Full screen on a terminal,
    plain text blocks otherwise.  Returns the exit code; errors are one line on stderr."""
    if interval <= 0:
        _err(f"--interval {interval}: expected a positive number of seconds")
        return 2
    if count < 0:
        _err(f"--count {count}: expected 0 (forever) or more")
        return 2
    interval = max(interval, 0.05)
    if directory:
        if not os.path.isdir(directory):
            _err(f"--dir {directory}: no such directory")
            return 1
        source = os.path.abspath(directory)
    else:
        source = region_path(region)
        try:
            _native.Region(source, False).close()
        except RegionNotFoundError:
            _err(f"no region at {source}: no process has used a device under the library with it yet "
                 "(start one with `hami-core run -- CMD`) or pass --region PATH")
            return 1
        except RegionError as e:
            _err(f"{e} (check --region / HAMI_REGION)")
            return 1

    def paths() -> List[str]:
        return region_paths(region, directory)

    try:
        if sys.stdout.isatty():
            return _interactive(paths, source, interval, count)
        return _plain(paths, source, interval, count, sys.stdout)
    except KeyboardInterrupt:
        return 0
    except BrokenPipeError:
        return 1
