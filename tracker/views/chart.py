"""The digest's chart: scenario probabilities over the last year as a small PNG.

PNG through a CID, not SVG or a data: URI, because Gmail and Outlook do not show those
(PITFALLS §2.6.4). The figure is built on matplotlib's object API with the Agg canvas, never
pyplot: no global figure state, nothing left open, safe in the scheduler's worker thread.
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Sequence

import numpy as np

# Colour-blind-safe (Okabe–Ito), in scenario order.
COLOURS = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442", "#000000"]
SHADE = "#E8E8E8"


def probability_chart(dates: Sequence[dt.date], post: np.ndarray, scenarios: Sequence[str],
                      shade_from: dt.date | None = None,
                      marker: dt.date | None = None, dpi: int = 150) -> bytes:
    """PNG of p(scenario) over `dates` (post: dates × scenarios), the trend window shaded from
    `shade_from` to the last date, and a dotted line at `marker` (the previous digest). Lines
    end in short `A 0.63` labels: long scenario names would crowd the plot, and the digest's
    table beside it shows each scenario's name in the same colour."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.dates import AutoDateLocator, ConciseDateFormatter
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6.0, 2.6), dpi=dpi)
    FigureCanvasAgg(fig)
    ax = fig.add_axes((0.095, 0.13, 0.80, 0.82))
    x = np.array(dates, dtype="datetime64[D]").astype(dt.date)
    if shade_from is not None and len(x):
        ax.axvspan(shade_from, x[-1], color=SHADE, lw=0, zorder=0)
        ax.text(shade_from, 0.985, " trend window", va="top", ha="left", fontsize=7, color="#555555",
                transform=ax.get_xaxis_transform())
    if marker is not None:
        ax.axvline(marker, color="#888888", lw=0.8, ls=":", zorder=1)
    ends = label_heights(post[-1]) if len(x) else []
    for k, sid in enumerate(scenarios):
        colour = COLOURS[k % len(COLOURS)]
        ax.plot(x, post[:, k], color=colour, lw=1.8, zorder=2)
        if len(x):
            ax.annotate(f"{sid} {post[-1, k]:.2f}", (x[-1], ends[k]), xytext=(5, 0),
                        textcoords="offset points", va="center", fontsize=7.5, color=colour,
                        annotation_clip=False)
    ax.set_ylim(0, 1)
    ax.set_yticks([0, 0.25, 0.5, 0.75, 1.0])
    ax.set_ylabel("probability", fontsize=8)
    ax.tick_params(labelsize=7.5)
    ax.grid(axis="y", color="#DDDDDD", lw=0.6)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    if len(x) > 1:
        ax.set_xlim(x[0], x[-1])
        locator = AutoDateLocator(maxticks=7)
        ax.xaxis.set_major_locator(locator)
        ax.xaxis.set_major_formatter(ConciseDateFormatter(locator))
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, metadata={"Software": None})
    return buf.getvalue()


def label_heights(last: np.ndarray, gap: float = 0.07) -> list[float]:
    """Heights for the end-of-line labels: at each line's end, pushed apart by at least `gap`
    so that close lines stay readable, and kept inside 0…1."""
    order = np.argsort(last)
    placed = np.empty(len(last))
    floor = -np.inf
    for k in order:
        placed[k] = max(float(last[k]), floor + gap)
        floor = placed[k]
    over = max(0.0, placed.max() - 1.0) if len(last) else 0.0
    return [float(y - over) for y in placed]
