"""The trend call: a scenario is *trending* only when several things agree (SCORING §6.9).

Enter when, at this evaluation and the previous one, the scenario's probability rose by at
least `min_shift` over the window, the move does not rest on one indicator, most of it is new
evidence rather than old evidence fading, and coverage is at least `min_coverage`. Stay while
the rise is at least `exit_shift` (hysteresis). Otherwise: no clear trend.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from tracker.config import Scoring
from tracker.score.result import Result

BREADTH_BITS = 0.25


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


def _checks(result: Result, t: int, cfg: Scoring) -> tuple[int, float, bool]:
    """(scenario with the largest rise, its Δp, whether every entry condition holds)."""
    w = t - result.window
    if w < 0:
        return -1, 0.0, False
    dp = result.post[t] - result.post[w]
    s = int(np.argmax(dp))
    delta, new = moves(result, t)
    d = delta[:, s]
    pushing = np.clip(d, 0, None)
    breadth = int((d >= BREADTH_BITS).sum())
    concentration = pushing.max() / pushing.sum() if pushing.sum() > 0 else 1.0
    moved = d.sum()
    new_share = d[new].sum() / moved if moved > 0 else 0.0
    ok = (dp[s] >= cfg.min_shift and (breadth >= 2 or concentration <= cfg.max_concentration)
          and new_share >= cfg.min_new_share and result.coverage[t] >= cfg.min_coverage)
    return s, float(dp[s]), bool(ok)


def trend_calls(result: Result, cfg: Scoring) -> list[dict[str, Any] | None]:
    """The call at every grid date, walked forward so hysteresis has its memory."""
    calls: list[dict[str, Any] | None] = []
    current: dict[str, Any] | None = None
    prev: tuple[int, float, bool] = (-1, 0.0, False)
    for t in range(len(result.grid)):
        here = _checks(result, t, cfg)
        if current is not None:
            s = result.model.scenarios.index(current["scenario"])
            dp = float(result.post[t, s] - result.post[t - result.window, s])
            if dp >= cfg.exit_shift and result.coverage[t] >= cfg.min_coverage:
                current = {**current, "change": round(dp, 4)}
            else:
                current = None
        if current is None and here[2] and prev[2] and here[0] == prev[0]:
            current = {"scenario": result.model.scenarios[here[0]], "change": round(here[1], 4),
                       "window_weeks": result.window,
                       "since": str(pd.Timestamp(result.grid[t]).date())}
        calls.append(current)
        prev = here
    return calls
