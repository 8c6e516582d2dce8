"""The backtest replay: rows of probabilities by date from one scoring pass whose every grid date
sees only what was fetched and published by then (features.py), so it is point-in-time and
deterministic. The caller scores (service.replay); views/timeline.py prints the rows."""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import pandas as pd

from tracker.config import Scoring
from tracker.durations import parse_days
from tracker.score.result import Result


def weeks(cfg: Scoring, first: dt.date, last: dt.date) -> int:
    """Grid weeks to score so that `first` already has the evidence memory behind it."""
    return (last - first).days // 7 + round(parse_days(cfg.history) / 7)


def rows(result: Result, first: dt.date) -> list[dict[str, Any]]:
    scen = result.model.scenarios
    out = []
    for t, day in enumerate(result.grid):
        if day < np.datetime64(first, "D"):
            continue
        p = result.post[t]
        trend = result.trend[t]
        out.append({"date": str(pd.Timestamp(day).date()),
                    "probabilities": {s: round(float(x), 4) for s, x in zip(scen, p, strict=True)},
                    "leading": scen[int(np.argmax(p))],
                    "trend": trend["scenario"] if trend else None,
                    "coverage": round(float(result.coverage[t]), 4),
                    "ended": result.trend_ended[t] if result.trend_ended else None})
    return out
