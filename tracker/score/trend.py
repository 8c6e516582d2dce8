"""The trend call: a scenario is *trending* only when several things agree (SCORING §6.9), and a
call lasts for the whole episode, not only while the rise goes on (issue 14).

Enter when, at this evaluation and the previous one, the scenario's probability rose by at
least `min_shift` over the window, the move does not rest on one indicator, most of it is new
evidence rather than old evidence fading, and coverage is at least `min_coverage`.

End only when the move is *reversed*: the probability falls back from its peak since the call
began by at least `exit_shift`, or another scenario starts trending. A rise that merely stops
leaves the call on: the old rule ended it once the 13-week change fell below `exit_shift` and
then called the same scenario again a quarter later (15 calls for 8 recessions on a fifty-year
backtest). A new call for a scenario within `cooldown` of the end of its last one continues
that episode: it keeps the episode's `started` date, and `tracker evaluate` counts it once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from tracker.config import Scoring
from tracker.durations import parse_days
from tracker.score.result import Result

BREADTH_BITS = 0.25
PERSISTENCE = 2
"""Evaluations in a row at which every other entry condition must hold."""


def moves(result: Result, t: int) -> tuple[np.ndarray, np.ndarray]:
    """(I, S) change in contribution bits over the window ending at t, and (I,) whether the
    indicator's change came from new evidence (another observation or level) or from fading."""
    w = t - result.window
    if w < 0:
        shape = result.evidence.shape
        return np.zeros((shape[0], shape[2])), np.zeros(shape[0], dtype=bool)
    delta = result.contributions(t) - result.contributions(w)
    rows, states = result.rows, result.states
    new = (rows[:, t] != rows[:, w]) | (states[:, t] != states[:, w]) | result.ordinal
    return delta, new


@dataclass
class Check:
    """The entry conditions at one evaluation for the scenario with the largest rise."""

    scenario: int
    change: float
    breadth: int
    concentration: float
    new_share: float
    coverage: float
    ok: bool
    """Every condition but persistence holds."""


def assess(dp: np.ndarray, delta: np.ndarray, new: np.ndarray, coverage: float, cfg: Scoring) -> Check:
    """The conditions for the largest rise in `dp` (S,), from the window's change in each
    indicator's bits `delta` (I, S) and whether each change was new evidence `new` (I,)."""
    s = int(np.argmax(dp))
    d = delta[:, s]
    pushing = np.clip(d, 0, None)
    breadth = int((d >= BREADTH_BITS).sum())
    concentration = float(pushing.max() / pushing.sum()) if pushing.sum() > 0 else 1.0
    moved = d.sum()
    new_share = float(d[new].sum() / moved) if moved > 0 else 0.0
    ok = (dp[s] >= cfg.min_shift and (breadth >= 2 or concentration <= cfg.max_concentration)
          and new_share >= cfg.min_new_share and coverage >= cfg.min_coverage)
    return Check(s, float(dp[s]), breadth, concentration, new_share, float(coverage), bool(ok))


def check_at(result: Result, t: int) -> Check | None:
    """The entry conditions at grid index t; None before a whole window of history."""
    w = t - result.window
    if w < 0:
        return None
    delta, new = moves(result, t)
    return assess(result.post[t] - result.post[w], delta, new, float(result.coverage[t]), result.cfg)


def qualifies(here: Check | None, prev: Check | None) -> bool:
    return bool(here and prev and here.ok and prev.ok and here.scenario == prev.scenario)


def _day(result: Result, t: int) -> str:
    return str(pd.Timestamp(result.grid[t]).date())


def walk(result: Result, cfg: Scoring) -> tuple[list[dict[str, Any] | None], list[dict[str, Any] | None]]:
    """(the call at every grid date, the call that ended at each date with why), walked forward
    so that the exit rule and the cooldown have their memory."""
    scen = result.model.scenarios
    cooldown = np.timedelta64(round(parse_days(cfg.cooldown, allow_zero=True)), "D")
    calls: list[dict[str, Any] | None] = []
    ends: list[dict[str, Any] | None] = []
    run: _Running | None = None
    last_end: dict[str, tuple[np.datetime64, str]] = {}   # scenario -> (last week of its call, started)
    prev: Check | None = None
    for t in range(len(result.grid)):
        here = check_at(result, t)
        enter = qualifies(here, prev)
        ended = None
        if run is not None:
            ended = run.step(result, t, enter, here, cfg)
            if ended is not None:
                last_end[ended["scenario"]] = (result.grid[t - 1], ended["started"])
                run = None
        if run is None and enter and here is not None:
            before = last_end.get(scen[here.scenario])
            resumed = before is not None and result.grid[t] - before[0] <= cooldown
            run = _Running(here.scenario, t, t, before[1] if resumed else _day(result, t))
        calls.append(run.call(result, t) if run else None)
        ends.append(ended)
        prev = here
    return calls, ends


@dataclass
class _Running:
    """A call in progress: its scenario, the grid index it (re)began at, the index of its peak
    since then, and the start of its episode."""

    scenario: int
    since: int
    peak: int
    started: str

    def call(self, result: Result, t: int) -> dict[str, Any]:
        """The call as `tracker score --json` shows it (README, the JSON contract)."""
        s = self.scenario
        return {"scenario": result.model.scenarios[s],
                "change": round(float(result.post[t, s] - result.post[t - result.window, s]), 4),
                "window_weeks": result.window, "since": _day(result, self.since), "started": self.started,
                "peak": {"date": _day(result, self.peak), "probability": round(float(result.post[self.peak, s]), 4)}}

    def step(self, result: Result, t: int, enter: bool, here: Check | None, cfg: Scoring) -> dict[str, Any] | None:
        """Carry the call to t; return why it ended there, or None while it goes on."""
        p, top = float(result.post[t, self.scenario]), float(result.post[self.peak, self.scenario])
        scen = result.model.scenarios
        why: dict[str, Any] | None = None
        rising = enter and here is not None and here.scenario == self.scenario
        if enter and here is not None and here.scenario != self.scenario:
            why = {"reason": "superseded", "by": scen[here.scenario]}
        elif p <= top - cfg.exit_shift and not rising:  # a rise that still qualifies is no reversal
            why = {"reason": "reversed", "probability": round(p, 4)}
        if why is not None:
            ended = self.call(result, t - 1)
            return {"scenario": ended["scenario"], "started": self.started, "since": ended["since"],
                    "peak": ended["peak"], **why}
        if p > top:
            self.peak = t
        return None


def trend_check(result: Result, t: int) -> dict[str, Any] | None:
    """Why the largest rise is not called, when it is material (at least `min_shift`) and no
    trend is called at t: each condition with its value, threshold and whether it was met.
    None otherwise, so that every other output keeps its bytes (issue 14)."""
    here = check_at(result, t)
    if here is None or (result.trend and result.trend[t] is not None) or here.change < result.cfg.min_shift:
        return None
    cfg = result.cfg
    prev = check_at(result, t - 1) if t > 0 else None
    held = 0 if not here.ok else (2 if qualifies(here, prev) else 1)
    return {"scenario": result.model.scenarios[here.scenario], "change": round(here.change, 4),
            "window_weeks": result.window, "conditions": [
                _condition("materiality", here.change, cfg.min_shift, True),
                {**_condition("breadth", here.concentration, cfg.max_concentration,
                              here.breadth >= 2 or here.concentration <= cfg.max_concentration),
                 "indicators": here.breadth, "min_indicators": 2, "min_bits": BREADTH_BITS},
                _condition("new_evidence", here.new_share, cfg.min_new_share, here.new_share >= cfg.min_new_share),
                _condition("coverage", here.coverage, cfg.min_coverage, here.coverage >= cfg.min_coverage),
                _condition("persistence", held, PERSISTENCE, held >= PERSISTENCE)]}


def _condition(name: str, value: float, threshold: float, met: bool) -> dict[str, Any]:
    return {"name": name, "value": value if isinstance(value, int) else round(float(value), 4),
            "threshold": threshold, "met": bool(met)}
