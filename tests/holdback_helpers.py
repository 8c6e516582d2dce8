"""A monthly series and its vintages in a real store, for the revision and hold-back tests
(issue 15, items 4 and 5): a random walk whose every step is about 1, written as `ingest`
vintages on fixed days, so that a jump of 10 is a ten-sigma jump."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from packbuilder import frame, numeric, scenarios, utc, write_pack

from tracker import service
from tracker.store.db import Store

STATES = [{"name": "contraction", "below": 92}, {"name": "stable", "below": 108}, {"name": "growth"}]
LIKELIHOOD = {"contraction": {"A": 0.6, "B": 0.2}, "stable": {"A": 0.4, "B": 0.4}, "growth": {"A": 0.2, "B": 0.6}}


def walk(n: int = 48, seed: int = 2, end: float = 100.0) -> np.ndarray:
    """n monthly values, steps drawn N(0, 1), shifted to end at `end`; kept inside the stable band."""
    values = np.cumsum(np.random.default_rng(seed).normal(0, 1, n))
    values += end - values[-1]
    assert ((values > 93) & (values < 107)).all(), "the walk must stay in the stable band"
    return values


def months(n: int, start: str = "2022-01-31") -> list[str]:
    return [str(d.date()) for d in pd.date_range(start, periods=n, freq="ME")]


def rows(values: list[float] | np.ndarray, start: str = "2022-01-31", published: dict[str, str] | None = None,
         lag: int = 20) -> list[dict[str, Any]]:
    """Observation rows for `values`, one a month from `start`, each published `lag` days after
    its month (or on the day `published` gives for its date)."""
    out = []
    for day, v in zip(months(len(values), start), values, strict=True):
        pub = (published or {}).get(day) or str((pd.Timestamp(day) + pd.Timedelta(days=lag)).date())
        out.append({"date": day, "value": float(v), "published": pub,
                    "source_url": f"https://stats.example.org/trade/{day}"})
    return out


def project(root: Path, extra: list[dict[str, Any]] | None = None, kind: str = "csv",
            frequency: str = "monthly", **fields: Any) -> service.Context:
    """A two-scenario pack whose indicator `trade` (group t) reads a `kind` source; `extra`
    indicators join it."""
    source = {"kind": kind, "url": "https://stats.example.org/trade.csv"} if kind != "manual" else {"kind": "manual"}
    fields = {"half_life": "3650d", "stale_after": "3650d", **fields}
    docs = [numeric("trade", "t", STATES, LIKELIHOOD, source=source, frequency=frequency, unit="index", **fields),
            *(extra or [])]
    groups = {d["group"]: 1.0 for d in docs}
    return service.load(str(write_pack(root, scenarios({"A": 0.5, "B": 0.5}, groups), docs)))


def write(store: Store, indicator: str, data: list[dict[str, Any]], day: str, origin: str = "ingest",
          connector: str | None = "csv") -> bool:
    """One vintage fetched at noon (UTC) on `day`."""
    return store.write_vintage(indicator, frame(data), fetched_at=utc(day), origin=origin, connector=connector)


def score(ctx: service.Context, store: Store, day: str) -> Any:
    return service.score(ctx, store, dt.date.fromisoformat(day))


def flags(result: Any, kind: str | None = None) -> list[dict[str, Any]]:
    return [f for f in result.flags if kind is None or f["kind"] == kind]


def state(result: Any, indicator: str = "trade") -> str | None:
    i = result.model.ids.index(indicator)
    s = int(result.states[i, -1])
    return result.pack.indicators[indicator].state_names[s] if s >= 0 else None


def cited_date(result: Any, indicator: str = "trade") -> str | None:
    f = result.feats[indicator]
    return None if f.row[-1] < 0 else str(f.obs.cite(int(f.row[-1]))["date"])
