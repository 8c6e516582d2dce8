"""Revisions: when a vintage changes values an earlier vintage already held for the same dates
(issue 15, item 4).

Two consecutive vintages of one indicator are compared on the dates both hold: how many points
changed, the first and last of them, and the largest change relative to the series' scale. The
scale is robust, 1.4826 × the median absolute deviation of the earlier vintage's values (the
standard deviation for normal data, unmoved by a few outliers). When that is 0 (more than half
the values equal), it is 1.2533 × the mean absolute deviation from the median; when that is 0 as
well (a constant series), no ratio is given, only the change itself.

A revision can change the past: the indicator's state at the latest revised date is computed
from the old and from the new vintage, each with full knowledge of its own rows, and a
difference is named ("China–Russia goods trade, annual total: 2025 revised from falling to
stable"). Everything is per vintage: one comparison of two sorted date arrays.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from tracker.pack.series import Series
from tracker.pack.types import Indicator
from tracker.score import features, transforms

WINDOW_DAYS = 7
"""A revision is flagged while the vintage that made it was fetched within this many days."""
MAD_SCALE = 1.4826
"""1.4826·MAD and 1.2533·mean absolute deviation estimate a normal series' standard deviation;
the jump rule (holdback.py) uses the same scale."""
MEAN_AD_SCALE = 1.2533


@dataclass
class Revision:
    vintage: int
    fetched: np.datetime64         # the day the revising vintage was fetched
    points: int
    first: np.datetime64
    last: np.datetime64
    largest: float                 # the largest |change|
    scale: float | None            # the series' robust scale; None for a constant series
    past_state: tuple[str, str] | None = None   # (old, new) state at `last`, when they differ

    @property
    def relative(self) -> float | None:
        return self.largest / self.scale if self.scale else None


TOLERANCE = 1e-12
"""Relative difference below which two stored values are the same figure (a float's round trip
through text): a revision, a kept point and a confirmed value are all judged by it."""


def same_value(a: float, b: float | None) -> bool:
    return b is not None and bool(abs(a - b) <= TOLERANCE * abs(b))


def changed(series: Series, old: slice, new: slice, ordinal: bool) -> tuple[np.ndarray, np.ndarray]:
    """(positions in `new`, matching positions in `old`) of the dates both vintages hold whose
    value (or level) differs. Consecutive vintages usually share their dates one for one, and
    then no search is needed."""
    d_old, d_new = series.date[old], series.date[new]
    if len(d_old) <= len(d_new) and np.array_equal(d_old, d_new[:len(d_old)]):
        at_new = np.arange(len(d_old))
        at_old = at_new
    else:
        pos = np.clip(np.searchsorted(d_new, d_old), 0, max(len(d_new) - 1, 0))
        hit = (d_new[pos] == d_old) if len(d_new) else np.zeros(len(d_old), bool)
        at_old, at_new = np.flatnonzero(hit), pos[hit]
    if ordinal:
        a, b = series.levels(old.start + at_old), series.levels(new.start + at_new)
        diff = a != b
    else:
        a, b = series.value[old][at_old], series.value[new][at_new]
        with np.errstate(invalid="ignore"):
            diff = (np.isnan(a) != np.isnan(b)) | (np.abs(a - b) > TOLERANCE * np.abs(b))
    return at_new[diff], at_old[diff]


def compare(ind: Indicator, series: Series, old: slice, new: slice,
            lookup: transforms.Lookup | None = None) -> Revision | None:
    """The revision the vintage at rows `new` made to the one at rows `old`, or None."""
    ordinal = ind.kind == "ordinal"
    at_new, at_old = changed(series, old, new, ordinal)
    if not len(at_new):
        return None
    dates = series.date[new][at_new]
    if ordinal:
        largest, scale = 0.0, None
    else:
        delta = np.abs(series.value[new][at_new] - series.value[old][at_old])
        largest = float(np.nanmax(delta)) if np.isfinite(delta).any() else 0.0
        scale = robust_scale(series.value[old])
    last = dates.max()
    rev = Revision(int(series.vintage[new.start]), series.fetched[new.start], len(at_new), dates.min(), last,
                   largest, scale)
    before, after = state_at(ind, series, old, last, lookup), state_at(ind, series, new, last, lookup)
    if before is not None and after is not None and before != after:
        rev.past_state = (before, after)
    return rev


def robust_scale(values: np.ndarray) -> float | None:
    """1.4826 × MAD; else 1.2533 × the mean absolute deviation from the median; else None."""
    x = values[np.isfinite(values)]
    if not len(x):
        return None
    med = np.median(x)
    mad = float(np.median(np.abs(x - med)))
    if mad > 0:
        return MAD_SCALE * mad
    mean_ad = float(np.mean(np.abs(x - med)))
    return MEAN_AD_SCALE * mean_ad if mean_ad > 0 else None


def states_over(ind: Indicator, series: Series, rows: slice | np.ndarray,
                lookup: transforms.Lookup | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(dates, state index) of an indicator computed from the given rows of one vintage with
    full knowledge: every row counts, whenever it was published."""
    dates = series.date[rows]
    if ind.kind == "ordinal":
        order = {name: k for k, name in enumerate(ind.levels)}
        levels = [order.get(x, -1) if x is not None else -1 for x in series.levels(np.arange(len(series))[rows])]
        state = np.array(levels, dtype=np.int64)
        return dates[state >= 0], state[state >= 0]
    values = series.value[rows]
    keep = np.isfinite(values)
    labels, feat = transforms.apply_arrays(dates[keep], values[keep], ind.transforms, lookup)
    return labels, features.with_hysteresis(ind, feat, features.first_match(ind, feat))


def state_at(ind: Indicator, series: Series, rows: slice, day: np.datetime64,
             lookup: transforms.Lookup | None = None) -> str | None:
    """The state of the first point of the feature dated on or after `day` (a resampled
    feature is dated at its period's end), else the last one; None when there is none."""
    labels, state = states_over(ind, series, rows, lookup)
    if not len(labels):
        return None
    k = min(int(np.searchsorted(labels, day)), len(labels) - 1)
    return ind.state_names[int(state[k])] if state[k] >= 0 else None


def recent(ind: Indicator, series: Series, as_of: np.datetime64,
           lookup: transforms.Lookup | None = None) -> Revision | None:
    """The newest revision made by a vintage fetched in the WINDOW_DAYS up to `as_of`."""
    if len(series) == 0 or series.fetched[-1] <= as_of - np.timedelta64(WINDOW_DAYS, "D"):
        return None
    starts, ends = series.bounds()
    for j in range(len(starts) - 1, 0, -1):
        if series.fetched[starts[j]] <= as_of - np.timedelta64(WINDOW_DAYS, "D"):
            break
        rev = compare(ind, series, slice(starts[j - 1], ends[j - 1]), slice(starts[j], ends[j]), lookup)
        if rev is not None:
            return rev
    return None


def period(ind: Indicator, day: np.datetime64) -> str:
    """A date as the indicator's frequency names its periods: 2025, 2025-Q4, 2025-11, or the day."""
    text = str(np.datetime64(day, "D"))
    freq = ind.frequency
    if freq in ("annual", "YE"):
        return text[:4]
    if freq in ("quarterly", "QE"):
        return f"{text[:4]}-Q{(int(text[5:7]) - 1) // 3 + 1}"
    if freq in ("monthly", "ME"):
        return text[:7]
    return text


def detail(ind: Indicator, rev: Revision) -> dict[str, Any]:
    """The flag: {indicator, kind, date, detail} and, when a past state changed, `past_state`."""
    span = str(rev.first) if rev.first == rev.last else f"{rev.first} … {rev.last}"
    size = (f"largest change {rev.relative:.1f}× the series' usual spread" if rev.relative is not None
            else f"largest change {rev.largest:g}" if ind.kind != "ordinal" else "levels changed")
    text = f"{rev.points} point{'s' if rev.points != 1 else ''} revised on {rev.fetched} ({span}), {size}"
    if not rev.past_state:
        return {"indicator": ind.id, "kind": "revised", "date": str(rev.last), "detail": text}
    line = past_state_line(ind, rev)
    return {"indicator": ind.id, "kind": "revised", "date": str(rev.last), "detail": f"{text}; {line}",
            "past_state": {"period": period(ind, rev.last), "from": rev.past_state[0], "to": rev.past_state[1],
                           "line": line}}


def past_state_line(ind: Indicator, rev: Revision) -> str:
    old, new = rev.past_state or ("", "")
    return f"{ind.name}: {period(ind, rev.last)} revised from {old} to {new}"
