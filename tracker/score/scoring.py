"""Evidence, posterior and contributions on the weekly grid (DESIGN §6, SCORING.md §6).

For each date the posterior is recomputed from each indicator's *current* state — a
snapshot, not a week-by-week recursion that would count one persistent state 52 times a
year. Everything is arrays of shape (indicators, dates, scenarios).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable

import numpy as np
import pandas as pd

from tracker import cycles
from tracker.config import Scoring
from tracker.durations import parse_days
from tracker.pack.series import Series, from_frame, no_rows
from tracker.pack.types import Indicator, Pack
from tracker.score import dataflags, features, holdback, transforms
from tracker.score.result import LN2, Model, Result
from tracker.score.trend import walk


def build_model(pack: Pack) -> Model:
    ids = list(pack.indicators)
    scen = pack.scenario_ids
    groups = pack.scenario_set.groups
    totals: dict[str, float] = {}
    for ind in pack.indicators.values():
        totals[ind.group] = totals.get(ind.group, 0.0) + ind.weight
    weight, half, stale, cap, loglik, rates = [], [], [], [], [], []
    for ind in pack.indicators.values():
        g = min(1.0, groups[ind.group].weight / totals[ind.group])
        weight.append(ind.weight * g)
        stale.append(parse_days(ind.stale_after))
        loglik.append(np.log(np.array([[ind.likelihood[k][s] for s in scen] for k in ind.state_names])))
        if ind.kind == "ordinal":
            pace = np.array([parse_days(ind.pace[s]) for s in scen])
            rates.append(LN2 / pace)
            half.append(math.inf)
            cap.append(parse_days(ind.stall_cap) if ind.stall_cap else 3 * pace.max())
        else:
            rates.append(None)
            half.append(parse_days(ind.half_life))
            cap.append(0.0)
    prior = np.array([pack.priors[s] for s in scen])
    ordinal = np.array([ind.kind == "ordinal" for ind in pack.indicators.values()], dtype=bool)
    return Model(ids, scen, np.log(prior), np.array(weight), np.array(half), np.array(stale),
                 loglik, rates, np.array(cap), ordinal)


def evidence_of(model: Model, block: features.Block, grid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(I, T, S) evidence in nats and (I, T) freshness, for all indicators in whole-array steps:
    per indicator, thousands of small arrays cost more in Python than in arithmetic."""
    state = block.state
    known = state >= 0
    table = np.zeros((len(model.ids), max((len(t) for t in model.loglik), default=1), len(model.scenarios)))
    for i, t in enumerate(model.loglik):
        table[i, :len(t)] = t
    ll = table[np.arange(len(model.ids))[:, None], np.where(known, state, 0)]
    ll[~known] = 0.0
    age = _days(grid, block.ref, known)
    for i in np.flatnonzero(model.ordinal):  # an unmet stage costs more the longer it stalls
        stalled = known[i] & (state[i] < len(model.loglik[i]) - 1)
        d = np.minimum(_days(grid, block.since[i], known[i]), model.stall_cap[i])
        ll[i, stalled] -= np.outer(d[stalled], model.stall_rate[i])
    decay = np.power(2.0, -age / model.half_life[:, None])  # 1 for ordinal: half_life is inf
    fresh = known & (age <= model.stale_after[:, None])  # a fact stays true; an unwatched signpost is stale
    ll *= (model.weight[:, None] * decay)[:, :, None]
    return ll, fresh


def _days(grid: np.ndarray, since: np.ndarray, known: np.ndarray) -> np.ndarray:
    """Whole days from `since` to each grid date, 0 where nothing is known."""
    return np.where(known, (grid - since).astype("timedelta64[D]").astype(np.int64), 0).astype(float)


def score(pack: Pack, history: pd.DataFrame | Reader, as_of: pd.Timestamp, cfg: Scoring,
          weeks: int | None = None, checks: holdback.Checks | None = None) -> Result:
    """Score the pack on the weekly grid ending at as_of, from what was fetched by then: a
    reader of `store.series_until(as_of, ids)`, or the frame `store.vintages_until(as_of)`.
    `checks`: the analysts' reviews, failed fetches and source health known by then, for
    holding back data faults and for the flags (service.py reads them from the store)."""
    with cycles.paused():
        return _score(pack, history, as_of, cfg, weeks, checks or holdback.Checks())


Reader = Callable[[list[str]], Iterable[tuple[str, Series]]]
"""Given indicator ids, their (id, Series) as `Store.series_until` reads them, any order."""


def _score(pack: Pack, history: pd.DataFrame | Reader, as_of: pd.Timestamp, cfg: Scoring,
           weeks: int | None, checks: holdback.Checks) -> Result:
    model = build_model(pack)
    window = max(1, round(parse_days(cfg.window) / 7))
    span = weeks if weeks is not None else max(window * 2, round(parse_days(cfg.history) / 7))
    grid = features.grid_dates(as_of, span)
    read = _frame_reader(history) if isinstance(history, pd.DataFrame) else history
    needed = sorted({d for ind in pack.indicators.values() for d in transforms.depends_on(ind.transforms)})
    lookup = Others(dict(read(needed)) if needed else {})
    place = {iid: i for i, iid in enumerate(pack.indicators)}
    block = features.Block.blank(len(pack.indicators), len(grid))
    computed, short = {}, {}
    watch = dataflags.Watch(pack, checks, grid, lookup)
    for iid, series in read(list(pack.indicators)):
        i = place[iid]
        release = watch.read(iid, series)      # None unless a point is held back as a data fault
        feat = features.compute(pack.indicators[iid], series, grid, lookup, block.feature(i, series), release)
        if feat.row[-1] < 0 and len(series):
            short.update(_short_history(pack.indicators[iid], series, grid[-1], iid))
        computed[iid] = feat if release is not None else features.cited_only(feat)
    watch.settle(block, model, computed, place)
    none = no_rows()
    feats = {iid: computed[iid] if iid in computed else block.feature(i, none) for iid, i in place.items()}
    evidence, fresh_arr = evidence_of(model, block, grid)
    total = evidence.sum(axis=0)
    post = softmax(total + model.log_prior)
    evidence_only = softmax(total)
    coverage = (model.weight[:, None] * fresh_arr).sum(axis=0) / max(model.weight.sum(), 1e-12)
    result = Result(pack, model, grid, feats, evidence, post, evidence_only, coverage, fresh_arr, window, block, cfg)
    result.trend, result.trend_ended = walk(result, cfg)
    result.flags = watch.flags()
    result.short_history = short
    return result


def _short_history(ind: Indicator, series: Series, day: np.datetime64, iid: str) -> dict[str, tuple[int, int]]:
    """{iid: (readings known, readings needed)} for a numeric indicator whose readings give no
    state on `day`; empty when none is visible yet (that is plain "no data")."""
    days = features.known_days(series, day)
    if ind.kind != "numeric" or not len(days):
        return {}
    return {iid: transforms.history_needed(days, ind.transforms, ind.frequency)}


def _frame_reader(history: pd.DataFrame) -> Reader:
    """A history given as one frame (`Store.vintages_until`; tests build them in memory)."""
    by_ind = split_by_indicator(history)
    return lambda ids: ((i, from_frame(by_ind[i])) for i in ids if i in by_ind)


class Others:
    """Other indicators' series for `share_of`, with when each row became visible."""

    def __init__(self, by_ind: dict[str, Series]) -> None:
        self.by_ind = by_ind
        self._newest: dict[str, Series] = {}

    def _latest(self, other: str) -> Series:
        """The other's newest vintage in date order, worked out once: every vintage of every
        indicator that reads it asks again."""
        if other not in self._newest:
            self._newest[other] = self._read_latest(other)
        return self._newest[other]

    def _read_latest(self, other: str) -> Series:
        rows = self.by_ind.get(other)
        vintages = 0 if rows is None else len(np.unique(rows.vintage))
        if rows is None or not len(rows) or any(after == vintages for after, _ in rows.gaps):
            return no_rows()                # nothing, or its newest vintage holds no rows
        last = np.flatnonzero(rows.vintage == rows.vintage[-1])
        return rows.take(last[np.argsort(rows.date[last], kind="stable")])

    def __call__(self, other: str) -> pd.Series:
        last = self._latest(other)
        return pd.Series(last.value, index=pd.DatetimeIndex(last.date.astype("datetime64[us]")))

    def visibility(self, other: str) -> tuple[np.ndarray, np.ndarray]:
        last = self._latest(other)
        seen = np.maximum(last.published, last.date)
        return last.date, np.maximum.accumulate(seen) if len(seen) else seen


def split_by_indicator(history: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """Slices per indicator; rows stay in the store's order (fetch time, vintage, date)."""
    if history.empty:
        return {}
    ids = history["indicator"].to_numpy()
    starts = _runs(ids, history["vintage"].to_numpy() if "vintage" in history else None)
    ends = np.r_[starts[1:], len(ids)]
    return {str(ids[a]): history.iloc[a:b] for a, b in zip(starts, ends, strict=True)}


def _runs(ids: np.ndarray, vintages: np.ndarray | None) -> np.ndarray:
    """Where each run of equal ids starts. Comparing millions of Python strings costs a tenth
    of scoring 2,000 indicators; a vintage belongs to one indicator, so only the rows where
    the integer vintage changes need their ids compared."""
    if vintages is None:
        return np.flatnonzero(np.r_[True, ids[1:] != ids[:-1]])
    cand = np.flatnonzero(vintages[1:] != vintages[:-1]) + 1
    return np.r_[0, cand[ids[cand] != ids[cand - 1]]]


def softmax(logits: np.ndarray) -> np.ndarray:
    """Normalise log-weights along the last axis in log space (log-sum-exp)."""
    m = logits.max(axis=-1, keepdims=True)
    w = np.exp(logits - m)
    return w / w.sum(axis=-1, keepdims=True)


def posterior_with(result: Result, t: int, i: int, loglik_row: np.ndarray, weight: float) -> np.ndarray:
    """The posterior at grid index t if indicator i's evidence were `weight · loglik_row`. The
    sum over indicators is taken once per date: what-if asks this for every indicator and state,
    and summing anew each time made it grow with the square of the pack (issue 20)."""
    total = result.evidence_total(t) - result.evidence[i, t, :] + weight * loglik_row
    return softmax(total + result.model.log_prior)
