"""The declarative series transforms named in indicator YAML.

Each is a small pure function of a date-indexed Series, trailing only: the value at date d
depends on observations dated on or before d, never later (SCORING.md §6.2). That is what
lets the scorer compute a feature once per vintage and still never look ahead.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pandas as pd

Lookup = Callable[[str], pd.Series]


def resample(s: pd.Series, freq: str, how: str = "last") -> pd.Series:
    """Per period, labelled at the period end (pandas' default for ME/QE/YE and W-…), so the
    value is dated when the period closes; empty periods are dropped rather than invented."""
    labels = _period_end(s.index, freq)
    if labels is None or how == "median":
        return getattr(s.resample(freq), how)().dropna()
    ends, out = _reduce_arrays(s.to_numpy(dtype=float), labels, how)
    return pd.Series(out, index=pd.DatetimeIndex(ends.astype("datetime64[s]"))).rename(s.name)


_WEEKDAYS = {"MON": 0, "TUE": 1, "WED": 2, "THU": 3, "FRI": 4, "SAT": 5, "SUN": 6}


def _period_end(index: pd.DatetimeIndex, freq: str) -> np.ndarray | None:
    """Period-end labels computed with numpy for the common calendar frequencies.

    pandas builds weekly bins element by element (about 10 ms a series); the grid scorer
    resamples thousands of series, so the common cases are done in a vectorised line."""
    return _period_end_days(index.to_numpy().astype("datetime64[D]"), freq)


def _period_end_days(days: np.ndarray, freq: str) -> np.ndarray | None:
    if freq == "D":
        return days
    if freq.startswith("W-") and freq[2:] in _WEEKDAYS:
        weekday = (days.astype(np.int64) + 3) % 7  # 1970-01-01 was a Thursday
        return days + ((_WEEKDAYS[freq[2:]] - weekday) % 7).astype("timedelta64[D]")
    months = days.astype("datetime64[M]")
    if freq == "ME":
        return (months + 1).astype("datetime64[D]") - 1
    if freq == "QE":
        m = months.astype(np.int64)
        return (months + (2 - m % 3) + 1).astype("datetime64[D]") - 1
    if freq == "YE":
        return (days.astype("datetime64[Y]") + 1).astype("datetime64[D]") - 1
    return None


def _reduce_arrays(values: np.ndarray, labels: np.ndarray, how: str) -> tuple[np.ndarray, np.ndarray]:
    """(period labels, reduced values) over runs of equal labels, NaN values left out."""
    keep = ~np.isnan(values)
    values, labels = values[keep], labels[keep]
    if len(values) == 0:
        return labels, values
    starts = np.flatnonzero(np.concatenate(([True], labels[1:] != labels[:-1])))
    ends = np.append(starts[1:], len(values))
    if how == "last":
        out = values[ends - 1]
    elif how == "sum":
        out = np.add.reduceat(values, starts)
    elif how == "mean":
        out = np.add.reduceat(values, starts) / (ends - starts)
    elif how == "max":
        out = np.maximum.reduceat(values, starts)
    else:
        out = np.minimum.reduceat(values, starts)
    return labels[starts], out


def rolling(s: pd.Series, window: int, how: str = "mean") -> pd.Series:
    return getattr(s.rolling(window, min_periods=window), how)().dropna()


def change(s: pd.Series, periods: int = 1) -> pd.Series:
    return s.diff(periods).dropna()


def pct_change(s: pd.Series, periods: int = 1) -> pd.Series:
    prev = s.shift(periods)
    return (100.0 * (s - prev) / prev.abs()).replace([np.inf, -np.inf], np.nan).dropna()


def yoy(s: pd.Series, how: str = "pct", tolerance: str = "20d") -> pd.Series:
    """Against the observation nearest one year earlier (within `tolerance`), whatever the cadence."""
    from tracker.durations import parse_days

    tol = pd.Timedelta(days=parse_days(tolerance))
    index = s.index
    if (len(s) and s.dtype == np.float64 and isinstance(index, pd.DatetimeIndex) and index.tz is None
            and not index.hasnans and index.is_monotonic_increasing and index.is_unique):
        past = index.to_numpy()
        year_ago = (index - pd.DateOffset(years=1)).to_numpy()
        if (year_ago[1:] > year_ago[:-1]).all():
            # merge_asof(direction="nearest", tolerance) as two binary searches: the same match
            # (a tie goes to the earlier date, as in pandas) at a fraction of the cost. With no
            # two dates a year back alike, pandas keeps the rows in order, so its result is
            # the index masked as below (a leap day and the 28th take the pandas path).
            last = len(past) - 1
            before = np.searchsorted(past, year_ago, side="right") - 1
            after = np.searchsorted(past, year_ago, side="left")
            gap_before = year_ago - past[np.clip(before, 0, last)]
            gap_after = past[np.clip(after, 0, last)] - year_ago
            use_before = (before >= 0) & ((after > last) | (gap_before <= gap_after))
            match = np.where(use_before, before, after)
            gap = np.where(use_before, gap_before, gap_after)
            found = ((before >= 0) | (after <= last)) & (gap <= tol.to_timedelta64())
            x = s.to_numpy()
            y = np.where(found, x[np.clip(match, 0, last)], np.nan)
            with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
                out = x - y if how == "diff" else 100.0 * (x - y) / np.abs(y)
            keep = np.isfinite(out)
            return pd.Series(out[keep], index=index[keep], name=s.name)
    here = pd.DataFrame({"t": s.index - pd.DateOffset(years=1), "x": s.to_numpy()}, index=s.index)
    past = pd.DataFrame({"t": s.index, "y": s.to_numpy()})
    merged = pd.merge_asof(here.sort_values("t"), past, on="t", direction="nearest", tolerance=tol)
    merged.index = here.sort_values("t").index
    merged = merged.sort_index()
    out = merged["x"] - merged["y"] if how == "diff" else 100.0 * (merged["x"] - merged["y"]) / merged["y"].abs()
    return out.replace([np.inf, -np.inf], np.nan).dropna().rename(s.name)


def zscore(s: pd.Series, window: int = 40, min_periods: int = 8) -> pd.Series:
    """Robust and trailing: against the median and MAD of the previous `window` values only."""
    past = s.shift(1).rolling(window, min_periods=min_periods)
    med = past.median()
    mad = (s.shift(1) - med).abs().rolling(window, min_periods=min_periods).median()
    z = (s - med) / (1.4826 * mad)
    return z.replace([np.inf, -np.inf], np.nan).dropna()


def share_of(s: pd.Series, indicator: str, lookup: Lookup) -> pd.Series:
    """Percentage of another indicator's value on the same date (or its latest before)."""
    other = lookup(indicator).dropna()
    if other.empty or s.empty:
        return s.iloc[0:0]
    aligned = other.reindex(other.index.union(s.index)).ffill().reindex(s.index)
    return (100.0 * s / aligned).replace([np.inf, -np.inf], np.nan).dropna()


FUNCTIONS: dict[str, Callable[..., pd.Series]] = {
    "resample": resample, "rolling": rolling, "change": change, "pct_change": pct_change,
    "yoy": yoy, "zscore": zscore, "share_of": share_of,
}


def apply(s: pd.Series, steps: list[Mapping[str, Any]], lookup: Lookup | None = None) -> pd.Series:
    """Run the steps in order on a date-indexed float Series sorted by date.

    Only finite values come out: a step that overflows (1e308 − (−1e308)) or divides by zero
    leaves no point on that date, as a missing value does, so it never gives a state, and never
    a RuntimeWarning on stderr (numpy's are silenced here: the result is checked instead)."""
    with np.errstate(all="ignore"):
        s, steps = _apply_leading_on_arrays(s, steps)
        for step in steps:
            name, params = next(iter(step.items()))
            kwargs = dict(params or {})
            if name == "share_of":
                if lookup is None:
                    raise ValueError("share_of needs the other indicator's series")
                kwargs["lookup"] = lookup
            s = FUNCTIONS[name](s, **kwargs)
    s = s.astype(float)
    keep = np.isfinite(s.to_numpy())
    return s if keep.all() else s[keep]


def apply_arrays(days: np.ndarray, values: np.ndarray, steps: list[Mapping[str, Any]],
                 lookup: Lookup | None = None) -> tuple[np.ndarray, np.ndarray]:
    """apply() for a series given as whole days (datetime64[D], sorted) and float values; returns
    (days, values) as apply() on `pd.Series(values, DatetimeIndex(days as datetime64[s]))`
    would, converted back (finite values only). The scorer's path: no pandas object unless a
    step needs one."""
    with np.errstate(all="ignore"):
        days, values, masks = _leading_on_arrays(days, values, steps)
    done = len(masks)
    if done < len(steps):
        series = apply(pd.Series(values, index=pd.DatetimeIndex(days.astype("datetime64[s]"))), list(steps[done:]),
                       lookup)
        return series.index.to_numpy().astype("datetime64[D]"), series.to_numpy(dtype=float)
    values = values.astype(float)
    keep = np.isfinite(values)
    return (days, values) if keep.all() else (days[keep], values[keep])


def _leading_on_arrays(days: np.ndarray, values: np.ndarray, steps: list[Mapping[str, Any]]
                       ) -> tuple[np.ndarray, np.ndarray, list[np.ndarray | None]]:
    """Run the leading steps that have an exact array form; return the arrays after them and
    one mask per step run (None where a step made new labels), so len(masks) steps are done."""
    masks: list[np.ndarray | None] = []
    for step in steps:
        name, params = next(iter(step.items()))
        fast = _ARRAY_STEPS.get(name)
        result = fast(days, values, **dict(params or {})) if fast is not None else None
        if result is None:
            break
        days, values, mask = result
        masks.append(mask)
    return days, values, masks


def _apply_leading_on_arrays(s: pd.Series, steps: list[Mapping[str, Any]]) -> tuple[pd.Series, list[Mapping[str, Any]]]:
    """Run the leading steps that have an exact array form (resample to a calendar period,
    change, pct_change) on numpy arrays; return the series after them and the steps left.

    Scoring a large pack runs the chain once per indicator and vintage; a pandas object per
    step (index construction, alignment, dropna) was most of that time. The series returned is
    the one the pandas steps give: same values and the same index (dates, unit, name, freq) —
    a step that drops points selects from the index with the mask dropna would use."""
    index = s.index
    if not (steps and s.dtype.kind == "f" and isinstance(index, pd.DatetimeIndex) and index.tz is None
            and not index.hasnans and next(iter(steps[0])) in _ARRAY_STEPS):
        return s, steps
    stamps = index.to_numpy()
    days = stamps.astype("datetime64[D]")
    if (days != stamps).any():
        return s, steps
    days, values, masks = _leading_on_arrays(days, s.to_numpy(), steps)
    kept: pd.Index | None = index   # None once a resample has made new period labels
    for mask in masks:
        kept = None if mask is None or kept is None else kept[mask]
    done = len(masks)
    if not done:
        return s, steps
    out_index = kept if kept is not None else pd.DatetimeIndex(days.astype("datetime64[s]"))
    return pd.Series(values, index=out_index, name=s.name), list(steps[done:])


ArrayStep = tuple[np.ndarray, np.ndarray, np.ndarray | None]
"""(dates, values, mask of the input points kept — None when the dates are new labels)"""


def _resample_arrays(days: np.ndarray, values: np.ndarray, freq: str, how: str = "last") -> ArrayStep | None:
    labels = _period_end_days(days, freq)
    if labels is None or how == "median":
        return None
    ends, out = _reduce_arrays(values.astype(float, copy=False), labels, how)
    return ends, out, None


def _change_arrays(days: np.ndarray, values: np.ndarray, periods: int = 1) -> ArrayStep:
    """s.diff(periods).dropna()"""
    with np.errstate(over="ignore", invalid="ignore"):
        out = np.concatenate((np.full(min(periods, len(values)), np.nan), values[periods:] - values[:-periods]))
    keep = ~np.isnan(out)
    return days[keep], out[keep], keep


def _pct_change_arrays(days: np.ndarray, values: np.ndarray, periods: int = 1) -> ArrayStep:
    """pct_change above: 100·(x − x₋ₚ)/|x₋ₚ|, infinities and NaN dropped."""
    prev = values[:-periods]
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        out = np.concatenate((np.full(min(periods, len(values)), np.nan),
                              100.0 * (values[periods:] - prev) / np.abs(prev)))
    keep = np.isfinite(out)
    return days[keep], out[keep], keep


_ARRAY_STEPS: dict[str, Callable[..., ArrayStep | None]] = {
    "resample": _resample_arrays, "change": _change_arrays, "pct_change": _pct_change_arrays,
}


def depends_on(steps: list[Mapping[str, Any]]) -> list[str]:
    """Other indicators a transform chain reads (share_of), for ordering and as-of checks."""
    return [(p or {}).get("indicator") for step in steps for n, p in step.items() if n == "share_of"]


PER_YEAR = {"daily": 365, "weekly": 52, "monthly": 12, "quarterly": 4, "annual": 1,
            "D": 365, "ME": 12, "QE": 4, "YE": 1}


def _per_year(freq: str | None) -> int | None:
    if freq is None:
        return None
    return 52 if freq.startswith("W") else PER_YEAR.get(freq)


def history_needed(days: np.ndarray, steps: list[Mapping[str, Any]], frequency: str) -> tuple[int, int]:
    """(readings known, readings the steps need before their first value) for an indicator
    whose rows give no feature yet, so that a view can say "needs 3 more" rather than "no data"
    (issue 17). Counted in the series' own readings, or in periods after a leading `resample`;
    a year-on-year step needs a year of readings at the series' frequency (one when irregular).
    A lower bound: a yoy match can still miss its tolerance, or share_of lack the other series."""
    known = len(np.unique(days))
    per_year = _per_year(frequency)
    need = 1
    for k, step in enumerate(steps):
        name, params = next(iter(step.items()))
        p = dict(params or {})
        if name == "resample" and k == 0:
            labels = _period_end_days(days, p["freq"])
            known = len(np.unique(labels)) if labels is not None else known
            per_year = _per_year(p["freq"])
        elif name == "rolling":
            need += p["window"] - 1
        elif name in ("change", "pct_change"):
            need += p.get("periods", 1)
        elif name == "yoy":
            need += per_year or 1
        elif name == "zscore":
            need += p.get("min_periods", 8)
    return known, need
