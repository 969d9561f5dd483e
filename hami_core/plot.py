"""PNG charts of ``hami-core bench`` results (``--plot FILE``), with matplotlib (the ``plot``
extra: ``pip install 'hami-core[plot]'``).

- :func:`plot_throttle`: per vendor, the accuracy matrix (achieved % against the cap, grouped
  by kernel length and process count, the ideal diagonal drawn) and the reaction curve to a live
  change (utilisation over 50 ms and over the trailing 200 ms, the target band shaded);
- :func:`plot_all`: the same plus a bar chart of the added costs against their targets.

Both take the JSON documents of :mod:`hami_core.bench_throttle` / ``bench all`` and write one
PNG; they raise :class:`PlotUnavailable` (one line) when matplotlib is missing.
"""
from __future__ import annotations

from typing import Any, List, Optional


class PlotUnavailable(RuntimeError):
    """matplotlib is not installed."""


def _pyplot() -> Any:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise PlotUnavailable("--plot needs matplotlib: pip install 'hami-core[plot]' (or pip install matplotlib)") \
            from None
    return plt


def _accuracy_axes(ax: Any, vendor: str, r: dict, settings: dict) -> None:
    caps = settings["caps"]
    groups = [(k, n) for k in settings["kernels_ns"] for n in settings["processes"]]
    width = 0.8 / max(1, len(groups))
    cells = [c for c in r["cells"] if c["workload"] == r["matrix_workload"]]
    for gi, (k, n) in enumerate(groups):
        ys = []
        for cap in caps:
            c = next((c for c in cells if c["kernel_ns"] == k and c["processes"] == n and c["cap_pct"] == cap), None)
            ys.append(c["achieved_pct"] if c else 0.0)
        xs = [i - 0.4 + width * (gi + 0.5) for i in range(len(caps))]
        ax.bar(xs, ys, width, label=f"{k / 1e6:g} ms x{n}")
    for i, cap in enumerate(caps):
        ax.hlines(cap, i - 0.45, i + 0.45, colors="black", linewidth=1.5)
    others = [c for c in r["cells"] if c["workload"] != r["matrix_workload"]]
    styles = [("o", "black"), ("s", "dimgray"), ("^", "darkgoldenrod"), ("D", "navy")]
    for si, wl in enumerate(dict.fromkeys(c["workload"] for c in others)):
        pts = [(caps.index(c["cap_pct"]), c["achieved_pct"]) for c in others
               if c["workload"] == wl and c["cap_pct"] in caps]
        marker, color = styles[si % len(styles)]
        if pts:
            ax.plot([p[0] + 0.1 * (si - 1) for p in pts], [p[1] for p in pts], marker=marker, color=color,
                    markeredgecolor="white", linestyle="none", label=f"{wl} (1 ms x1)")
    ax.set_xticks(range(len(caps)))
    ax.set_xticklabels([f"cap {c} %" for c in caps])
    ax.set_ylim(0, 105)
    ax.set_ylabel("achieved % of device time")
    m = r["matrix"]
    mae = m.get("mean_abs_error_pts")
    title = f"{vendor}: achieved vs cap (black: the cap)"
    if mae is not None:
        title += f"; mean abs error {mae:.2f} pts"
    if not r.get("enforced", True):
        title += " (NOT enforced)"
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=6, ncol=2, loc="upper left")


def _reaction_axes(ax: Any, vendor: str, rc: dict) -> None:
    curve = rc["curve"]
    t = [p[0] for p in curve]
    ax.plot(t, [p[1] for p in curve], label="50 ms", alpha=0.6)
    pts = [(p[0], p[2]) for p in curve if p[2] is not None]
    ax.plot([p[0] for p in pts], [p[1] for p in pts], label="trailing 200 ms", linewidth=2)
    ax.axvline(0, color="grey", linestyle="--", linewidth=1)
    ax.axhspan(rc["to_pct"] - rc["tolerance_pts"], rc["to_pct"] + rc["tolerance_pts"], color="green", alpha=0.15)
    if rc.get("reaction_ms") is not None:
        ax.axvline(rc["reaction_ms"], color="green", linewidth=1)
    shown = f"{rc['reaction_ms']:.0f} ms" if rc.get("reaction_ms") is not None else "not reached"
    ax.set_title(f"{vendor}: live change {rc['from_pct']} % -> {rc['to_pct']} % at t=0: {shown}", fontsize=9)
    ax.set_xlabel("ms since set_limits()")
    ax.set_ylabel("utilisation %")
    ax.set_ylim(0, 105)
    ax.legend(fontsize=7)


def _throttle_figure(res: dict, extra_rows: int = 0) -> Any:
    plt = _pyplot()
    vendors = list(res["vendors"].items())
    rows = max(1, len(vendors)) + extra_rows
    fig, axes = plt.subplots(rows, 2, figsize=(13, 4.2 * rows), squeeze=False)
    for i, (v, r) in enumerate(vendors):
        _accuracy_axes(axes[i][0], v, r, res["settings"])
        _reaction_axes(axes[i][1], v, r["reaction"])
    return plt, fig, axes


def plot_throttle(res: dict, path: str) -> str:
    """Write the throttle results as a PNG at ``path``; returns the path."""
    plt, fig, _ = _throttle_figure(res)
    fig.suptitle(f"hami-core bench throttle ({res['platform']}, {res['cpus']} CPUs)", fontsize=11)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_all(res: dict, path: str) -> str:
    """Write ``bench all`` results (accuracy, reaction, added costs against targets) as a PNG."""
    throttle: Optional[dict] = res.get("throttle")
    if throttle:
        plt, fig, axes = _throttle_figure(throttle, extra_rows=1)
        ax = axes[-1][0]
        axes[-1][1].axis("off")
    else:
        plt = _pyplot()
        fig, ax = plt.subplots(figsize=(8, 4))
    labels: List[str] = []
    ratios: List[float] = []
    for row in res.get("summary", []):
        if row.get("measured") is None or not row.get("target"):
            continue
        labels.append(row["what"])
        ratios.append(float(row["measured"]) / float(row["target"]))
    ax.barh(labels, ratios, color=["tab:green" if r <= 1 else "tab:red" for r in ratios])
    ax.axvline(1.0, color="black", linewidth=1)
    ax.set_xlabel("measured / target (<= 1 is met)")
    ax.set_title("DESIGN 5 targets", fontsize=9)
    ax.tick_params(axis="y", labelsize=7)
    fig.suptitle(f"hami-core bench all ({res.get('device_used', 'simulator')})", fontsize=11)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
