"""`tracker confirm` and `tracker reject`: an analyst's word on one observation (issue 15, item 5).

A confirm makes a point held back as unconfirmed count from the moment it is recorded. A reject
writes a new vintage without the point (origin `reject`), so it stops counting from then, and
keeps the rejected row; a confirm after it writes the row back as a new vintage (origin
`confirm`): a rejection is reversible. Both are kept with their instant in `point_reviews`, so a
backtest of an earlier date still sees what was known then. A reject is recorded before its
vintage is written, a restoring confirm after: a crash in between leaves the point where it was
with the review that a second run needs (the rejected row, or the point back in the store), so
the command can be given again.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

import pandas as pd

from tracker.errors import InputError
from tracker.ops.retract import drop_point
from tracker.pack.types import Indicator, Pack
from tracker.store import reviews
from tracker.store.db import Base, Store, utcnow
from tracker.suggest import closest


def confirm(pack: Pack, store: Store, indicator: str, date: str, now: dt.datetime | None = None) -> str:
    ind, day = _checked(pack, indicator, date)
    now = now or utcnow()
    snapshot, head = store.latest_with_head(indicator)
    row = _row(snapshot, day)
    if row is not None:
        reviews.record(store, indicator, day.isoformat(), "confirm", row, at=now)
        return (f"Confirmed {indicator} = {_what(ind, row)} on {day}: it counts from now, "
                "whether or not it was held back as unconfirmed.")
    last = reviews.latest(store, indicator, day.isoformat())
    if last is None or last.action != "reject":
        raise InputError(_no_point(indicator, day))
    restored = last.row

    def with_row(snap: pd.DataFrame) -> pd.DataFrame:
        return _with(snap, restored)

    store.write_vintage(indicator, with_row(snapshot), fetched_at=now, origin="confirm", base=Base(head, with_row))
    reviews.record(store, indicator, day.isoformat(), "confirm", restored, at=now)
    return (f"Restored {indicator} = {_what(ind, restored)} on {day}, rejected on {last.at[:10]}: "
            "written back as a new vintage; it counts from now.")


def reject(pack: Pack, store: Store, indicator: str, date: str, note: str | None = None,
           now: dt.datetime | None = None) -> str:
    ind, day = _checked(pack, indicator, date)
    now = now or utcnow()
    snapshot, _ = store.latest_with_head(indicator)
    row = _row(snapshot, day)
    if row is None:
        raise InputError(_no_point(indicator, day))
    reviews.record(store, indicator, day.isoformat(), "reject", row, note=(note or "").strip() or None, at=now)
    drop_point(store, indicator, day, "reject", now=now)
    return (f"Rejected {indicator} = {_what(ind, row)} on {day}: a new vintage without it; "
            f"`tracker confirm {indicator} {day}` writes it back.")


def _checked(pack: Pack, indicator: str, date: str) -> tuple[Indicator, dt.date]:
    if indicator not in pack.indicators:
        raise InputError(f"unknown indicator {indicator!r}{closest(indicator, pack.indicators)}")
    try:
        day = dt.date.fromisoformat(date)
    except (TypeError, ValueError):
        raise InputError(f"DATE: expected a date as YYYY-MM-DD, got {date!r}") from None
    return pack.indicators[indicator], day


def _no_point(indicator: str, day: dt.date) -> str:
    return (f"{indicator} has no stored observation dated {day} (and none rejected); "
            f"`tracker export {indicator}` lists the stored ones")


def _row(snapshot: pd.DataFrame, day: dt.date) -> dict[str, Any] | None:
    """The observation dated `day` in a snapshot, as plain JSON-able values, or None."""
    hit = snapshot[snapshot["date"] == pd.Timestamp(day)]
    if hit.empty:
        return None
    r = hit.iloc[0]
    value = r["value"]
    return {"date": day.isoformat(), "value": None if pd.isna(value) else float(value),
            "level": None if pd.isna(r["level"]) else str(r["level"]),
            "published": pd.Timestamp(r["published"]).date().isoformat(),
            "source_url": None if pd.isna(r["source_url"]) else str(r["source_url"]),
            "note": None if pd.isna(r["note"]) else str(r["note"])}


def _with(snapshot: pd.DataFrame, row: dict[str, Any]) -> pd.DataFrame:
    stamp = pd.Timestamp(row["date"])
    back = {**row, "date": stamp, "published": pd.Timestamp(row["published"]),
            "value": math.nan if row["value"] is None else row["value"]}
    kept = snapshot[snapshot["date"] != stamp]
    return pd.concat([kept, pd.DataFrame([back])], ignore_index=True).sort_values("date", ignore_index=True)


def _what(ind: Indicator, row: dict[str, Any]) -> str:
    if ind.kind == "ordinal":
        return str(row.get("level"))
    value = row.get("value")
    return "no value" if value is None else f"{value:g}{' ' + ind.unit if ind.unit else ''}"
