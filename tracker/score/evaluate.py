"""`tracker evaluate`: the point-in-time backtest scored against the pack's known outcomes.

One document (the JSON contract in README.md, "tracker evaluate --json") from one Result: the
probability scores and their skill (verify.py), the reliability table, the trend calls judged
as calls (calls.py) and each indicator's realised diagnosticity (diagnosticity.py). Only the
grid dates from `first` to `last` that fall in a known period are scored; the weeks of
history before `first` give the trend call and the movers their memory, as in a backtest.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

import numpy as np

from tracker.errors import InputError
from tracker.pack.types import Outcome
from tracker.score import calls, diagnosticity, verify
from tracker.score.result import Result


def truth_of(grid: np.ndarray, outcomes: list[Outcome], scenarios: list[str]) -> np.ndarray:
    """The index of the scenario that held on each grid date, -1 where no period covers it."""
    out = np.full(len(grid), -1, dtype=np.int64)
    days = grid.astype("datetime64[D]")
    for o in outcomes:
        end = np.datetime64(o.end, "D") if o.end else np.datetime64("9999-12-31", "D")
        out[(days >= np.datetime64(o.start, "D")) & (days <= end)] = scenarios.index(o.scenario)
    return out


def evaluate(result: Result, outcomes: list[Outcome], first: dt.date, last: dt.date,
             max_lead: dt.timedelta) -> dict[str, Any]:
    scen = result.model.scenarios
    days = result.grid.astype("datetime64[D]")
    span = np.flatnonzero((days >= np.datetime64(first, "D")) & (days <= np.datetime64(last, "D")))
    truth = truth_of(result.grid, outcomes, scen)
    scored = span[truth[span] >= 0]
    if not len(scored):
        raise InputError(f"no known outcome covers {first} to {last}; outcomes.csv has periods from "
                         f"{min(o.start for o in outcomes)} to {max(o.end or 'now' for o in outcomes)}")
    post, held = result.post[scored], truth[scored]
    indicators = diagnosticity.realised(result, scored, held)
    judged = calls.judge(calls.episodes(result.grid, result.trend), calls.periods(outcomes),
                         first, last, max_lead)
    doc = {
        "pack": result.pack.name, "from": first.isoformat(), "to": last.isoformat(), "pseudo_real_time": True,
        "scenarios": scen, "dates": len(span), "dates_scored": len(scored),
        "outcomes": {"periods": len(outcomes), "sources": sorted({o.source_url for o in outcomes})},
        "scores": verify.scores(post, held, np.exp(result.model.log_prior)),
        "base_rates": dict(zip(scen, verify.base_rates(held, len(scen)).tolist(), strict=True)),
        "reliability": verify.reliability(post, held),
        "calls": judged,
        "indicators": indicators,
        "never_changed": [r["indicator"] for r in indicators if r["state_changes"] == 0],
    }
    return rounded(doc)


def rounded(value: Any) -> Any:
    """Every float to 4 places (the precision of every other --json), NaN as None."""
    if isinstance(value, float):
        return None if not math.isfinite(value) else round(value, 4)
    if isinstance(value, dict):
        return {k: rounded(v) for k, v in value.items()}
    if isinstance(value, list):
        return [rounded(v) for v in value]
    return value


def default_span(outcomes: list[Outcome], today: dt.date) -> tuple[dt.date, dt.date]:
    """--from and --to when not given: from the first known period to the end of the last
    (today while it is still going on)."""
    first = dt.date.fromisoformat(min(o.start for o in outcomes))
    ends = [dt.date.fromisoformat(o.end) if o.end else today for o in outcomes]
    return first, min(max(ends), today)
