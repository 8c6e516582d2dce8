"""An analyst's word on single observations: `tracker confirm` and `tracker reject`, each kept
with the instant it was said (schema 4, `point_reviews`).

Scoring reads them as of a date (a confirmation counts from the day it was recorded, never
before), and a confirm after a reject reads the rejected row back to write it again. The row is
kept whole (JSON) because the vintage written by the reject no longer holds it.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from dataclasses import dataclass
from typing import Any

from tracker.store.db import Store, iso_instant, utcnow

ACTIONS = ("confirm", "reject")


@dataclass(frozen=True)
class Review:
    indicator: str
    date: str           # YYYY-MM-DD, the observation's date
    action: str         # confirm | reject
    at: str             # UTC instant it was recorded
    value: float | None
    level: str | None
    row: dict[str, Any]
    note: str | None = None


def record(store: Store, indicator: str, date: str, action: str, row: dict[str, Any],
           note: str | None = None, at: dt.datetime | None = None) -> Review:
    """Keep one confirm or reject; `row` is the observation as stored (date, value, level,
    published, source_url, note), with dates as ISO text."""
    if action not in ACTIONS:
        raise ValueError(f"unknown review action {action!r}")
    value = row.get("value")
    value = None if value is None or (isinstance(value, float) and math.isnan(value)) else float(value)
    review = Review(indicator, date, action, iso_instant(at or utcnow()), value, row.get("level"), row, note)
    with store.transaction() as db:
        db.execute("INSERT INTO point_reviews (indicator, date, action, at, value, level, row, note) "
                   "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                   (indicator, date, action, review.at, value, review.level, json.dumps(row), note))
    return review


def until(store: Store, eod: str, indicators: list[str] | None = None) -> dict[str, list[Review]]:
    """Every review recorded by the instant `eod`, per indicator, oldest first."""
    sql = "SELECT indicator, date, action, at, value, level, row, note FROM point_reviews WHERE at <= ?"
    args: list[Any] = [eod]
    if indicators is not None:
        sql += " AND indicator IN (SELECT value FROM json_each(?))"
        args.append(json.dumps(indicators))
    out: dict[str, list[Review]] = {}
    for iid, date, action, at, value, level, row, note in store.db.execute(sql + " ORDER BY at, id", args):
        out.setdefault(iid, []).append(Review(iid, date, action, at, value, level, json.loads(row), note))
    return out


def latest(store: Store, indicator: str, date: str) -> Review | None:
    """The newest review of one observation, or None."""
    found = until(store, "9999-12-31T23:59:59Z", [indicator]).get(indicator, [])
    mine = [r for r in found if r.date == date]
    return mine[-1] if mine else None
