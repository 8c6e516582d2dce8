"""`tracker evaluate --out DIR`: the reliability diagram and the trend calls on the probability chart.

Built as views/chart.py builds the digest's chart: matplotlib's object API on the Agg canvas,
never pyplot, so nothing global is left open. Both read the evaluate document (and, for the
chart, the probabilities it was computed from): they draw, they never score.
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from tracker.pack.types import Outcome
from tracker.score.result import Result
from tracker.views.chart import COLOURS


def _figure(width: float, height: float, dpi: int) -> tuple[Any, Any]:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=dpi)
    FigureCanvasAgg(fig)
    return fig, fig.add_subplot()


def _png(fig: Any, dpi: int) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, metadata={"Software": None})
    return buf.getvalue()


def reliability_png(doc: dict[str, Any], dpi: int = 150) -> bytes:
    """Observed frequency against mean forecast per bin, each point's area by its count;
    the diagonal is perfect calibration."""
    fig, ax = _figure(4.2, 4.2, dpi)
    bins = [b for b in doc["reliability"] if b["count"]]
    x = np.array([b["mean_forecast"] for b in bins], dtype=float)
    y = np.array([b["observed"] for b in bins], dtype=float)
    n = np.array([b["count"] for b in bins], dtype=float)
    ax.plot([0, 1], [0, 1], color="#999999", lw=0.8, ls="--", label="perfectly calibrated")
    if len(bins):
        ax.plot(x, y, color=COLOURS[0], lw=1.2)
        ax.scatter(x, y, s=20 + 280 * n / n.max(), color=COLOURS[0], alpha=0.8, zorder=3,
                   label="forecast bins (area: count)")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_xlabel("forecast probability (bin mean)", fontsize=8)
    ax.set_ylabel("observed frequency", fontsize=8)
    ax.set_title(f"Reliability, {doc['from']} to {doc['to']}", fontsize=9)
    ax.tick_params(labelsize=7.5)
    ax.legend(fontsize=7, loc="upper left", frameon=False)
    fig.tight_layout()
    return _png(fig, dpi)


def calls_png(dates: Sequence[dt.date], post: np.ndarray, doc: dict[str, Any],
              periods: Sequence[dict[str, Any]], dpi: int = 150) -> bytes:
    """Each scenario's probability over the evaluated span, the known periods shaded in the
    colour of their scenario; above it, a strip with one row per scenario and a bar per trend
    call from its start to its end (a false call faint and crossed)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(10.0, 3.8), dpi=dpi)
    FigureCanvasAgg(fig)
    strip, ax = fig.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [1, 5], "hspace": 0.05})
    scen = doc["scenarios"]
    colour = {s: COLOURS[k % len(COLOURS)] for k, s in enumerate(scen)}
    x = np.array(dates, dtype="datetime64[D]").astype(dt.date)
    for p in periods:
        ax.axvspan(dt.date.fromisoformat(p["start"]), dt.date.fromisoformat(p["end"]),
                   color=colour[p["scenario"]], alpha=0.10, lw=0)
    for k, s in enumerate(scen):
        ax.plot(x, post[:, k], color=colour[s], lw=1.0, label=f"p({s})")
    for c in doc["calls"]["items"]:
        start, end = dt.date.fromisoformat(c["start"]), dt.date.fromisoformat(c["end"]) + dt.timedelta(days=7)
        row = scen.index(c["scenario"])
        strip.plot([start, end], [row, row], color=colour[c["scenario"]], lw=6, solid_capstyle="butt",
                   alpha=1.0 if c["hit"] else 0.35)
        if not c["hit"]:
            strip.plot([start], [row], marker="x", color="#111111", ms=5, ls="none")
    strip.set_ylim(-0.7, len(scen) - 0.3)
    strip.set_yticks(range(len(scen)), [f"calls {s}" for s in scen], fontsize=7)
    strip.tick_params(axis="x", bottom=False)
    strip.set_title("Trend calls (× false call), probabilities and known periods (shaded)", fontsize=9)
    ax.set_ylim(0, 1)
    ax.set_yticks([0, 0.25, 0.5, 0.75, 1.0])
    ax.set_ylabel("probability", fontsize=8)
    ax.tick_params(labelsize=7.5)
    ax.legend(fontsize=7, loc="lower left", frameon=True, ncol=len(scen))
    if len(x) > 1:
        ax.set_xlim(x[0], x[-1])
    fig.subplots_adjust(left=0.07, right=0.98, top=0.92, bottom=0.08)
    return _png(fig, dpi)


def write(out_dir: Path, result: Result, doc: dict[str, Any], outcomes: Sequence[Outcome]) -> list[Path]:
    """evaluate-reliability.png and evaluate-calls.png in out_dir; returns their paths."""
    days = result.grid.astype("datetime64[D]")
    span = (days >= np.datetime64(doc["from"], "D")) & (days <= np.datetime64(doc["to"], "D"))
    dates = days[span].astype(dt.date)
    periods = [{"scenario": o.scenario, "start": max(o.start, doc["from"]), "end": min(o.end or doc["to"], doc["to"])}
               for o in outcomes if o.start <= doc["to"] and (o.end or doc["to"]) >= doc["from"]]
    out_dir.mkdir(parents=True, exist_ok=True)
    files = {out_dir / "evaluate-reliability.png": reliability_png(doc),
             out_dir / "evaluate-calls.png": calls_png(list(dates), result.post[span], doc, periods)}
    for path, data in files.items():
        path.write_bytes(data)
    return list(files)
