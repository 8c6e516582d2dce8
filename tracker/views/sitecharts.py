"""The static site's charts as SVG: the probabilities over two years, each indicator's series
against its state bands, and each indicator's bits over time.

SVG because these are line charts of at most a few hundred points: smaller than a PNG that is
sharp at 2× (about half the bytes here), sharp at any zoom, and text stays text
(`svg.fonttype: none`), which is also what makes them small. The site is not mail, so the
digest's reasons for PNG (PITFALLS §2.6.4) do not apply.

Speed, without workers: one matplotlib Figure on the Agg canvas is made once and cleared for
every chart (no pyplot, no global state), and no chart is drawn twice. Every chart is
deterministic (no date, a fixed id salt), so an unchanged site rewrites the same bytes.
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Sequence
from typing import Any

import numpy as np

from tracker.views.chart import COLOURS, label_heights

GREY = "#6b7280"
BAND_GREY = "#9ca3af"
SVG_RC = {"svg.fonttype": "none", "svg.hashsalt": "tracker-site", "font.family": "sans-serif",
          "font.sans-serif": ["DejaVu Sans", "Arial", "Helvetica"]}
DENSE = 400
"""Above this many observations a series is drawn as a line alone: markers would merge anyway."""


class Canvas:
    """The figures of a site, one per layout, each made once and reused for every chart of that
    layout: its axes keep their tick objects and only the plotted artists are replaced, which
    costs a fraction of a new figure or a cleared one (most of a chart's time was axes and
    tick set-up)."""

    def __init__(self) -> None:
        self._layouts: dict[str, tuple[Any, list[Any]]] = {}

    def axes(self, layout: str, size: tuple[float, float], rects: list[tuple[float, float, float, float]],
             share_x: bool = False) -> list[Any]:
        """The axes of `layout` (made on first use), emptied of the previous chart's artists."""
        if layout not in self._layouts:
            from matplotlib.backends.backend_agg import FigureCanvasAgg
            from matplotlib.figure import Figure

            fig = Figure(figsize=size, dpi=100)
            FigureCanvasAgg(fig)
            axes: list[Any] = []
            for rect in rects:
                axes.append(fig.add_axes(rect, sharex=axes[0] if share_x and axes else None))
            self._layouts[layout] = (fig, axes)
        fig, axes = self._layouts[layout]
        for ax in axes:
            for artist in [*ax.lines, *ax.collections, *ax.patches, *ax.texts]:
                artist.remove()
            ax.set_title("", loc="left")
            ax.set_ylabel("")
            ax.relim()
        self.current = fig
        return axes

    def svg(self) -> bytes:
        import matplotlib

        buf = io.BytesIO()
        with matplotlib.rc_context(SVG_RC):
            self.current.savefig(buf, format="svg", metadata={"Date": None, "Creator": None})
        return buf.getvalue()


def _style(ax: Any, ylabel: str = "", y_ticks: bool = True) -> None:
    from matplotlib.ticker import MaxNLocator

    if y_ticks:  # few ticks: each is three artists to lay out and write, most of a chart's time
        ax.yaxis.set_major_locator(MaxNLocator(nbins=4))
    ax.tick_params(labelsize=8)
    ax.grid(axis="y", color="#e5e7eb", lw=0.6)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    if ylabel:
        ax.set_ylabel(ylabel, fontsize=8.5)


def _dates_axis(ax: Any, lo: dt.date, hi: dt.date) -> None:
    from matplotlib.dates import AutoDateLocator, ConciseDateFormatter

    if hi <= lo:
        hi = lo + dt.timedelta(days=1)
    ax.set_xlim(lo, hi)
    # minticks 3: with the default 5, four years fit no interval and matplotlib warns.
    locator = AutoDateLocator(minticks=3, maxticks=7)
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(ConciseDateFormatter(locator))


def _no_dates(ax: Any) -> None:
    """No dates to show: no ticks (the reused axes would otherwise keep the last chart's)."""
    from matplotlib.ticker import NullLocator

    ax.set_xlim(0, 1)
    ax.xaxis.set_major_locator(NullLocator())


def _days(values: Sequence[Any] | np.ndarray) -> np.ndarray:
    return np.asarray(values, dtype="datetime64[D]").astype(dt.date)


# ---------------------------------------------------------------- the index

def probabilities(canvas: Canvas, dates: np.ndarray, post: np.ndarray, scenarios: Sequence[str],
                  calls: Sequence[dict[str, Any]], marks: Sequence[dict[str, Any]]) -> bytes:
    """p(scenario) by week; each trend call shaded in its scenario's colour from its start to
    its end and labelled; each analyst observation a numbered tick under the top edge (the
    numbers are those of the list under the chart)."""
    (ax,) = canvas.axes("probabilities", (7.6, 3.2), [(0.075, 0.12, 0.84, 0.80)])
    x = _days(dates)
    colour = {s: COLOURS[k % len(COLOURS)] for k, s in enumerate(scenarios)}
    for c in calls:
        a, b = dt.date.fromisoformat(c["start"]), dt.date.fromisoformat(c["end"])
        ax.axvspan(a, b, color=colour[c["scenario"]], alpha=0.13, lw=0, zorder=0)
        ax.text(a, 0.985, f" trend to {c['scenario']}", va="top", ha="left", fontsize=7.5,
                color=colour[c["scenario"]], transform=ax.get_xaxis_transform())
    for m in marks:
        day = dt.date.fromisoformat(m["day"])
        ax.axvline(day, color=GREY, lw=0.6, ls=":", zorder=1)
        ax.text(day, 1.005, str(m["n"]), va="bottom", ha="center", fontsize=7, color=GREY,
                transform=ax.get_xaxis_transform())
    if len(x):
        ends = label_heights(post[-1])
        for k, sid in enumerate(scenarios):
            ax.plot(x, post[:, k], color=colour[sid], lw=1.8, zorder=2)
            ax.annotate(f"{sid} {post[-1, k]:.2f}", (x[-1], ends[k]), xytext=(5, 0), textcoords="offset points",
                        va="center", fontsize=8, color=colour[sid], annotation_clip=False)
        _dates_axis(ax, x[0], x[-1])
    ax.set_ylim(0, 1)
    ax.set_yticks([0, 0.25, 0.5, 0.75, 1.0])
    _style(ax, "probability", y_ticks=False)
    return canvas.svg()


# ---------------------------------------------------------------- an indicator

def bands(ind: Any, lo: float, hi: float) -> list[tuple[float, float, str]]:
    """The feature's axis from lo to hi cut where the state changes: (from, to, state), in the
    pack's first-match order, so the bands show exactly what `first_match` would decide."""
    from tracker.score.features import first_match

    cuts = sorted({b for s in ind.states for b in s.bounds() if lo < b < hi})
    edges = [lo, *cuts, hi]
    mids = np.array([(a + b) / 2 for a, b in zip(edges[:-1], edges[1:], strict=True)])
    which = first_match(ind, mids)
    out: list[tuple[float, float, str]] = []
    for (a, b), k in zip(zip(edges[:-1], edges[1:], strict=True), which, strict=True):
        name = ind.states[k].name if k >= 0 else ""
        if out and out[-1][2] == name:
            out[-1] = (out[-1][0], b, name)
        else:
            out.append((a, b, name))
    return out


def _feature_range(ind: Any, values: np.ndarray) -> tuple[float, float]:
    """The y range: the data and every threshold, padded, so each band is seen at least in part."""
    pts = [b for s in ind.states for b in s.bounds()] + [float(v) for v in values if np.isfinite(v)]
    if not pts:
        return -1.0, 1.0
    lo, hi = min(pts), max(pts)
    pad = (hi - lo) * 0.15 or max(abs(hi), 1.0) * 0.5
    return lo - pad, hi + pad


def _draw_bands(ax: Any, spans: list[tuple[float, float, str]], favours: dict[str, str | None],
                colour: dict[str, str]) -> None:
    for a, b, name in spans:
        fav = favours.get(name)
        tint = colour.get(fav, BAND_GREY) if fav else BAND_GREY
        ax.axhspan(a, b, color=tint, alpha=0.12, lw=0, zorder=0)
        ax.axhline(a, color=tint, lw=0.5, alpha=0.6, zorder=0)
        label = f"{name}" + (f" (favours {fav})" if fav else "") if name else "no state"
        ax.text(1.005, (a + b) / 2, label, va="center", ha="left", fontsize=7.5, color="#374151",
                transform=ax.get_yaxis_transform(), clip_on=False)


def series(canvas: Canvas, ind: Any, raw: dict[str, Any], feature: dict[str, Any], favours: dict[str, str | None],
           colour: dict[str, str]) -> bytes:
    """Numeric: the raw series above (every observation a dot; a value an earlier vintage held
    for the same date a hollow grey circle joined to it), the transformed feature below, on the
    state bands it is read against. Without transforms the series is the feature: one panel,
    the observations on the bands. Ordinal: one panel, the level reached on its bands."""
    if ind.kind == "ordinal":
        return _ordinal(canvas, ind, raw, favours, colour)
    x, y = _days(raw["dates"]), np.asarray(raw["values"], dtype=float)
    if not ind.transforms:
        (ax,) = canvas.axes("series1", (7.6, 3.4), [(0.09, 0.12, 0.66, 0.78)])
        _observations(ax, raw, x, y, bands_of=(ind, favours, colour), unit=ind.unit)
        _style(ax, _axis_label(ind.unit))
        _span(ax, x)
        return canvas.svg()
    top, bottom = canvas.axes("series", (7.6, 4.6), [(0.09, 0.58, 0.66, 0.36), (0.09, 0.09, 0.66, 0.40)],
                              share_x=True)
    _observations(top, raw, x, y, unit=ind.unit)
    _style(top, _axis_label(ind.unit))
    top.tick_params(labelbottom=False)
    fx, fy = _days(feature["dates"]), np.asarray(feature["values"], dtype=float)
    lo, hi = _feature_range(ind, fy)
    _draw_bands(bottom, bands(ind, lo, hi), favours, colour)
    if len(fx):
        bottom.plot(fx, fy, color="#111827", lw=1.2, zorder=3, marker=None if len(fx) > DENSE else "o", ms=3)
    else:
        bottom.text(0.5, 0.5, "no transformed value yet", ha="center", va="center", color=GREY, fontsize=9,
                    transform=bottom.transAxes)
    bottom.set_ylim(lo, hi)
    bottom.set_title("transformed feature on the state bands", fontsize=8.5, loc="left")
    _style(bottom, "feature")
    _span(bottom, [*x, *fx])
    return canvas.svg()


def _observations(ax: Any, raw: dict[str, Any], x: np.ndarray, y: np.ndarray,
                  bands_of: tuple[Any, dict[str, str | None], dict[str, str]] | None = None, unit: str = "") -> None:
    """The stored series: each observation a dot (a line alone when dense), each value an
    earlier vintage held a hollow grey circle joined to the latest; on the state bands when the
    series is itself the feature."""
    if bands_of is not None:
        ind, favours, colour = bands_of
        lo, hi = _feature_range(ind, y)
        _draw_bands(ax, bands(ind, lo, hi), favours, colour)
        ax.set_ylim(lo, hi)
    for r in raw["revisions"]:
        d = dt.date.fromisoformat(r["date"])
        olds = [v["value"] for v in r["earlier"] if v["value"] is not None]
        if olds:
            ax.scatter([d] * len(olds), olds, s=14, facecolors="none", edgecolors=GREY, lw=0.8, zorder=2)
            if r["latest"] is not None:
                ax.vlines(d, min([*olds, r["latest"]]), max([*olds, r["latest"]]), color=GREY, lw=0.6, zorder=1)
    dense = len(x) > DENSE
    if len(x):
        ax.plot(x, y, color="#1f2937", lw=1.0 if dense else 1.2, zorder=3, marker=None if dense else "o", ms=3.2)
    else:
        ax.text(0.5, 0.5, "no observations yet", ha="center", va="center", color=GREY, fontsize=9,
                transform=ax.transAxes)
    title = "observations" + (" on the state bands" if bands_of is not None else "")
    title += f", {unit}" if unit and _axis_label(unit) != unit else ""
    ax.set_title(title + (" (hollow: revised values)" if raw["revisions"] else ""), fontsize=8.5, loc="left")


def _axis_label(unit: str) -> str:
    """The unit beside the axis when short; a long one goes in the title instead."""
    return unit if unit and len(unit) <= 18 else "value"


def _span(ax: Any, dates: Any) -> None:
    if len(dates):
        _dates_axis(ax, min(dates) - dt.timedelta(days=20), max(dates) + dt.timedelta(days=20))
    else:
        _no_dates(ax)


def _ordinal(canvas: Canvas, ind: Any, raw: dict[str, Any], favours: dict[str, str | None],
             colour: dict[str, str]) -> bytes:
    (ax,) = canvas.axes("ordinal", (7.6, 3.4), [(0.05, 0.12, 0.66, 0.80)])
    levels = list(ind.levels)
    spans = [(k - 0.5, k + 0.5, name) for k, name in enumerate(levels)]
    _draw_bands(ax, spans, favours, colour)
    x = _days(raw["dates"])
    order = {name: k for k, name in enumerate(levels)}
    y = np.array([order.get(v, np.nan) for v in raw["levels"]], dtype=float)
    for r in raw["revisions"]:
        d = dt.date.fromisoformat(r["date"])
        olds = [order[v["level"]] for v in r["earlier"] if v["level"] in order]
        if olds:
            ax.scatter([d] * len(olds), olds, s=14, facecolors="none", edgecolors=GREY, lw=0.8, zorder=2)
    if len(x):
        ax.plot(x, y, color="#111827", lw=1.2, drawstyle="steps-post", marker="o", ms=3.5, zorder=3)
        _dates_axis(ax, min(x) - dt.timedelta(days=60), max(x) + dt.timedelta(days=60))
    else:
        ax.text(0.5, 0.5, "no observations yet", ha="center", va="center", color=GREY, fontsize=9,
                transform=ax.transAxes)
        _no_dates(ax)
    ax.set_ylim(-0.5, len(levels) - 0.5)
    ax.set_yticks([])
    _style(ax, y_ticks=False)
    ax.set_title(f"{ind.name}: level reached", fontsize=8.5, loc="left")
    return canvas.svg()


def bits(canvas: Canvas, dates: np.ndarray, values: np.ndarray, scenarios: Sequence[str]) -> bytes:
    """Centred bits toward each scenario by week (as `tracker explain` prints them)."""
    (ax,) = canvas.axes("bits", (7.6, 2.4), [(0.09, 0.14, 0.80, 0.78)])
    x = _days(dates)
    ax.axhline(0, color=GREY, lw=0.6)
    span = float(np.nanmax(np.abs(values))) if values.size and np.isfinite(values).any() else 0.0
    span = max(span * 1.15, 0.1)
    # End labels pushed apart as on the probability chart, in axis units (0…1 of the range).
    ends = [y * 2 * span - span for y in label_heights((values[-1] + span) / (2 * span))] if len(x) else []
    for k, sid in enumerate(scenarios):
        c = COLOURS[k % len(COLOURS)]
        ax.plot(x, values[:, k], color=c, lw=1.5)
        if len(x):
            ax.annotate(f"{sid} {values[-1, k]:+.2f}", (x[-1], ends[k]), xytext=(5, 0),
                        textcoords="offset points", va="center", fontsize=7.5, color=c, annotation_clip=False)
    ax.set_ylim(-span, span)
    if len(x):
        _dates_axis(ax, x[0], x[-1])
    _style(ax, "bits (centred)")
    return canvas.svg()
