"""Features and states of each indicator on the weekly grid, as they were known on each date.

Transforms run once per vintage on the whole snapshot. That is exact without look-ahead
because every transform is trailing (its value at date d reads rows dated ≤ d) and a
transformed point becomes visible only once every row up to its date has been published
(the running maximum of `published`). So a grid date t sees what `as_of(t)` would show.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from tracker.pack.series import Series
from tracker.pack.types import Indicator
from tracker.score import transforms

DAY = np.timedelta64(1, "D")


@dataclass
class Feature:
    """One indicator over the grid; -1 / NaN / NaT where nothing was known yet."""

    value: np.ndarray       # feature value (numeric) or level index (ordinal)
    ref: np.ndarray         # datetime64[D]: the date the value describes
    state: np.ndarray       # int: index into the indicator's states or levels
    row: np.ndarray         # int: index into `obs`, the observation to cite
    since: np.ndarray       # datetime64[D]: ordinal — when the current level was reached
    obs: Series             # the observations cited (by position: `row`); Series.cite(k) reads one


@dataclass
class Block:
    """Every indicator's feature arrays as rows of one (indicators, dates) array per field.
    Allocated once for a whole pack: thousands of small arrays kept until the report each
    took fresh pages from the system (five faults per indicator), and the reports' stacked
    copies of `row` and `state` are these arrays themselves."""

    value: np.ndarray
    ref: np.ndarray
    state: np.ndarray
    row: np.ndarray
    since: np.ndarray

    @classmethod
    def blank(cls, indicators: int, dates: int) -> Block:
        shape = (indicators, dates)
        nat = np.full(shape, np.datetime64("NaT"), dtype="datetime64[D]")
        return cls(np.full(shape, np.nan), nat, np.full(shape, -1, dtype=np.int64),
                   np.full(shape, -1, dtype=np.int64), nat.copy())

    def feature(self, i: int, obs: Series) -> Feature:
        """Indicator i's feature: views into the block's rows, filled in place by `compute`."""
        return Feature(self.value[i], self.ref[i], self.state[i], self.row[i], self.since[i], obs)


def grid_dates(as_of: pd.Timestamp, weeks: int) -> np.ndarray:
    """Weekly evaluation dates ending at as_of (t, t−7d, …), oldest first."""
    end = np.datetime64(as_of.date(), "D")
    return end - np.arange(weeks, -1, -1) * 7 * DAY


def first_match(ind: Indicator, x: np.ndarray) -> np.ndarray:
    """Index of the first state each value satisfies (ordered states, first wins), or -1."""
    out = np.full(x.shape, -1, dtype=np.int64)
    open_ = ~np.isnan(x)
    for k, st in enumerate(ind.states):
        m = open_.copy()
        if st.below is not None:
            m &= x < st.below
        if st.at_most is not None:
            m &= x <= st.at_most
        if st.above is not None:
            m &= x > st.above
        if st.at_least is not None:
            m &= x >= st.at_least
        out[m] = k
        open_ &= ~m
    return out


def with_hysteresis(ind: Indicator, x: np.ndarray, raw: np.ndarray) -> np.ndarray:
    """Keep the previous state unless x has moved more than `hysteresis` past its boundary."""
    h = ind.hysteresis
    if not h:
        return raw
    with np.errstate(over="ignore"):     # x near the float limit: ±inf still compares right
        lo, hi = first_match(ind, x - h), first_match(ind, x + h)
    out = raw.copy()
    for t in range(1, len(x)):
        prev = out[t - 1]
        if prev >= 0 and raw[t] >= 0 and raw[t] != prev and (lo[t] == prev or hi[t] == prev):
            out[t] = prev
    return out


def compute(ind: Indicator, series: Series, grid: np.ndarray,
            lookup: transforms.Lookup | None = None, out: Feature | None = None,
            release: np.ndarray | None = None) -> Feature:
    """series: this indicator's vintages, rows sorted by fetch time, vintage, then date (as
    store.series_until gives them). `out`: a blank feature (from `Block.feature`) to fill in place.
    `release`: per row, the day a row held back as a data fault may be seen from (NaT for the
    rest; score/holdback.py): a held row is treated as published that day, so the grid dates
    before it are scored without it, exactly as rows published out of order are."""
    out = out if out is not None else Block.blank(1, len(grid)).feature(0, series)
    value, ref, since, row = out.value, out.ref, out.since, out.row
    if not len(series):
        return out
    published = series.published
    if release is not None:
        published = np.where(np.isnat(release), published, np.maximum(published, release))
    cols = {"date": series.date, "published": published, "value": series.value}
    levels = series.levels() if ind.kind == "ordinal" else None
    starts, ends = series.bounds()
    fetched = series.fetched[starts]
    for j, (a, b) in enumerate(zip(starts, ends, strict=True)):
        stop = fetched[j + 1] if j + 1 < len(starts) else np.datetime64("9999-12-31", "D")
        stop = min([stop, *(day for after, day in series.gaps if after == j + 1)])   # emptied by a reject
        sel = (grid >= fetched[j]) & (grid < stop)
        if not sel.any():
            continue
        part = {k: v[a:b] for k, v in cols.items()}
        # A row is visible from its publication date, and never before the date it describes.
        seen = np.maximum(part["published"], part["date"])
        if (seen[1:] >= seen[:-1]).all():
            subsets = [(np.flatnonzero(sel), None)]          # what is visible is always a prefix
        else:
            subsets = _visible_sets(seen, grid, sel)         # out-of-order publication
        for at, keep in subsets:
            sub = part if keep is None else {k: v[keep] for k, v in part.items()}
            if levels is not None:
                level = levels[a:b] if keep is None else levels[a:b][keep]
                vis, vals, refs, pos, runs = _ordinal_points(ind, sub, level)
            else:
                vis, vals, refs, pos, runs = _numeric_points(ind, sub, lookup)
            if len(vis) == 0:
                continue
            k = np.searchsorted(vis, grid[at], side="right") - 1
            ok = k >= 0
            idx = at[ok]
            value[idx], ref[idx], since[idx] = vals[k[ok]], refs[k[ok]], runs[k[ok]]
            row[idx] = (pos[k[ok]] if keep is None else keep[pos[k[ok]]]) + a
    if ind.kind == "ordinal":
        out.state[:] = np.nan_to_num(value, nan=-1)
    else:
        out.state[:] = with_hysteresis(ind, value, first_match(ind, value))
    return out


def known_days(series: Series, day: np.datetime64) -> np.ndarray:
    """The dates of the readings visible on `day` in the newest vintage fetched by then (the
    rows a transform chain had to work with), values present only."""
    fetched = np.flatnonzero(series.fetched <= day)
    if not len(fetched):
        return series.date[:0]
    rows = np.flatnonzero(series.vintage == series.vintage[fetched[-1]])
    seen = np.maximum(series.published[rows], series.date[rows])
    keep = rows[(seen <= day) & ~np.isnan(series.value[rows])]
    return series.date[keep]


def cited_only(feature: Feature) -> Feature:
    """Keep of the feature's series only the rows its grid dates cite, renumbered: the reports
    read nothing else, and a 10-year daily series need not stay in memory for them."""
    used = np.unique(feature.row[feature.row >= 0])
    feature.row[:] = np.where(feature.row >= 0, np.searchsorted(used, feature.row), -1)
    feature.obs = feature.obs.take(used)
    return feature


def _visible_sets(seen: np.ndarray, grid: np.ndarray, sel: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """When rows are published out of date order, the rows visible at t are not a prefix, and
    a trailing transform of the whole vintage would show at t a point that depends on a row
    not yet published (or hide one that was). Group the selected grid dates by the set of
    rows visible on them: (grid indices, row indices), each scored on its own rows only."""
    at_all = np.flatnonzero(sel)
    count = np.searchsorted(np.sort(seen), grid[at_all], side="right")
    out = []
    for c in np.unique(count[count > 0]):
        at = at_all[count == c]
        out.append((at, np.flatnonzero(seen <= grid[at[0]])))
    return out


Points = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]


def _numeric_points(ind: Indicator, part: dict[str, np.ndarray], lookup: transforms.Lookup | None) -> Points:
    dates, values = part["date"], part["value"]
    vis_raw = np.maximum.accumulate(np.maximum(part["published"], dates))
    keep = ~np.isnan(values)
    # transforms.apply on arrays: a pandas Series per indicator and step was most of the time.
    labels, feat = transforms.apply_arrays(dates[keep], values[keep], ind.transforms, lookup)
    if len(feat) == 0:
        empty = np.array([], dtype="datetime64[D]")
        return empty, np.array([]), empty, np.array([], dtype=np.int64), empty
    pos = np.clip(np.searchsorted(dates, labels, side="right") - 1, 0, len(dates) - 1)
    # A point that describes a period (resample) is visible once the period has ended and
    # every row up to it is published; a partial period would otherwise be scored as of
    # mid-period but replaced by the full period in a later replay of the same date.
    vis = np.maximum(vis_raw[pos], labels)
    for other in transforms.depends_on(ind.transforms):
        vis = np.maximum(vis, _visible_in(lookup, other, labels))
    return vis, feat, dates[pos], pos, dates[pos]


def _visible_in(lookup: transforms.Lookup | None, other: str, labels: np.ndarray) -> np.ndarray:
    """When the other indicator's rows up to each label were all published (share_of):
    without this, a past grid date would see the other series as revised later."""
    visibility = getattr(lookup, "visibility", None)
    if visibility is None:
        return labels
    dates, vis = visibility(other)
    if len(dates) == 0:
        return labels
    pos = np.searchsorted(dates, labels, side="right") - 1
    return np.where(pos >= 0, vis[np.clip(pos, 0, None)], labels)


def _ordinal_points(ind: Indicator, part: dict[str, np.ndarray], level: np.ndarray) -> Points:
    dates = part["date"]
    vis = np.maximum.accumulate(np.maximum(part["published"], dates))
    order = {name: i for i, name in enumerate(ind.levels)}
    levels = pd.Series(level, dtype=object).map(order).to_numpy(dtype=float)
    changed = np.r_[True, levels[1:] != levels[:-1]]
    run_start = dates[np.maximum.accumulate(np.where(changed, np.arange(len(dates)), 0))]
    return vis, levels, dates, np.arange(len(dates)), run_start
