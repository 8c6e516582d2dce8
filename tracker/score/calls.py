"""Trend calls held to account against known periods, the way leading indicators are judged:
how many turning points were called, how early, and how many calls were false (SCORING §6.11).

A *call* is one episode of the trend call: the weeks it was on, counted once however often it
paused and resumed within the cooldown (trend.py gives each week's call its episode's
`started`). A call for S is a *hit* when it begins during an S period or at most `max_lead`
before one begins; otherwise it is a *false call*. A period no call hit is *missed*. The lead
of a period is from the start of the first call that hit it to the period's start: positive
when the call came first, negative (a lag) when the period had already begun.
"""

from __future__ import annotations

import datetime as dt
import statistics
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from tracker.pack.types import Outcome

FAR = dt.date.max


@dataclass
class Call:
    scenario: str
    start: dt.date
    end: dt.date
    """The last week the call was on (a pause within the cooldown belongs to it)."""


@dataclass
class Period:
    scenario: str
    start: dt.date
    end: dt.date
    """Inclusive; FAR while still going on."""


def episodes(grid: np.ndarray, trend: list[dict[str, Any] | None]) -> list[Call]:
    """The calls in a series of weekly trend calls, in the order they began. A call is keyed
    by its scenario and `started` (its episode; a series from before episodes existed has only
    `since`, and then every run of weeks is a call of its own)."""
    found: dict[tuple[str, str], Call] = {}
    for day, call in zip(grid, trend, strict=True):
        if not call:
            continue
        date = pd.Timestamp(day).date()
        key = (call["scenario"], call.get("started") or call["since"])
        if key in found:
            found[key].end = date
        else:
            found[key] = Call(call["scenario"], dt.date.fromisoformat(key[1]), date)
    return sorted(found.values(), key=lambda c: c.start)


def periods(outcomes: list[Outcome]) -> list[Period]:
    return [Period(o.scenario, dt.date.fromisoformat(o.start), dt.date.fromisoformat(o.end) if o.end else FAR)
            for o in outcomes]


def judge(calls: list[Call], known: list[Period], first: dt.date, last: dt.date,
          max_lead: dt.timedelta) -> dict[str, Any]:
    """Calls beginning from `first` to `last` against the periods beginning in that span."""
    calls = [c for c in calls if first <= c.start <= last]
    in_scope = [p for p in known if first <= p.start <= last]
    items, hit_by = [], {}
    for c in calls:
        period = next((p for p in known if p.scenario == c.scenario
                       and p.start - max_lead <= c.start <= p.end), None)
        items.append(_item(c, period))
        if period is not None and id(period) not in hit_by:
            hit_by[id(period)] = c
    hit = [(p, _weeks(p.start - hit_by[id(p)].start)) for p in in_scope if id(p) in hit_by]
    missed = [p for p in in_scope if id(p) not in hit_by]
    summary = _summary(items, len(in_scope), missed, [lead for _, lead in hit])
    summary["max_lead_weeks"] = _weeks(max_lead)
    summary["by_scenario"] = {s: _summary([i for i in items if i["scenario"] == s],
                                          sum(p.scenario == s for p in in_scope),
                                          [p for p in missed if p.scenario == s],
                                          [lead for p, lead in hit if p.scenario == s])
                              for s in sorted({p.scenario for p in in_scope} | {c.scenario for c in calls})}
    summary["items"] = items
    summary["missed_periods"] = [_period(p) for p in missed]
    return summary


def _summary(items: list[dict[str, Any]], n_periods: int, missed: list[Period], leads: list[float]) -> dict:
    hits = sum(i["hit"] for i in items)
    return {"calls": len(items), "hits": hits, "false_calls": len(items) - hits, "periods": n_periods,
            "periods_hit": n_periods - len(missed), "missed": len(missed),
            "calls_per_period": round(len(items) / n_periods, 4) if n_periods else None,
            "median_lead_weeks": statistics.median(leads) if leads else None}


def _item(c: Call, period: Period | None) -> dict[str, Any]:
    return {"scenario": c.scenario, "start": c.start.isoformat(), "end": c.end.isoformat(),
            "hit": period is not None, "period": _period(period) if period else None,
            "lead_weeks": _weeks(period.start - c.start) if period else None}


def _period(p: Period) -> dict[str, Any]:
    return {"scenario": p.scenario, "start": p.start.isoformat(),
            "end": None if p.end == FAR else p.end.isoformat()}


def _weeks(delta: dt.timedelta) -> float:
    return round(delta.days / 7, 1)
