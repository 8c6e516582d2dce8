"""`tracker retract`: take one observation back, as a new vintage without it.

`tracker observe` could not be undone (issue 17, item 4). A retraction is itself a vintage
(origin `retract`, with the analyst's note), so nothing is deleted: `--as-of` a date before it,
and every backtest, still see the point as it was known then.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd

from tracker.errors import InputError
from tracker.pack.seedrows import read_rows
from tracker.pack.types import Indicator, Pack
from tracker.service import parse_day
from tracker.store.db import Base, Store, utcnow
from tracker.suggest import closest


def retract(pack: Pack, store: Store, indicator: str, date: str, note: str,
            today: dt.date | None = None) -> str:
    """Write the vintage without the point dated `date`; return the confirmation line."""
    if indicator not in pack.indicators:
        raise InputError(f"unknown indicator {indicator!r}{closest(indicator, pack.indicators)}")
    day = parse_day(date, today, "DATE")
    if not note.strip():
        raise InputError("--note: say in a sentence why the observation is taken back")
    ind = pack.indicators[indicator]
    snapshot, _ = store.latest_with_head(indicator)
    stamp = pd.Timestamp(day)
    found = snapshot[snapshot["date"] == stamp]
    if found.empty:
        raise InputError(f"{indicator} has no observation dated {day}{_nearest(snapshot, stamp)}")
    was = _shown(ind, found.iloc[0])
    if not drop_point(store, indicator, day, "retract", note.strip()):
        return f"Already retracted: {indicator} has no observation on {day}; nothing changed."
    return (f"Retracted {indicator} = {was} on {day} as a new vintage; --as-of an earlier date still "
            f"sees it.{_may_return(pack, ind, day)}")


def drop_point(store: Store, indicator: str, day: dt.date, origin: str, note: str | None = None,
               now: dt.datetime | None = None) -> bool:
    """Write the newest vintage again without the point dated `day`, checked against a vintage
    written meanwhile: `retract` takes back an analyst's observation, `tracker reject` a source's."""
    stamp = pd.Timestamp(day)

    def without(rows: pd.DataFrame) -> pd.DataFrame:
        return rows[rows["date"] != stamp].reset_index(drop=True)

    snapshot, head = store.latest_with_head(indicator)
    return store.write_vintage(indicator, without(snapshot), fetched_at=now or utcnow(), origin=origin,
                               base=Base(head, without), note=note)


def _shown(ind: Indicator, row: pd.Series) -> str:
    return str(row["level"]) if ind.kind == "ordinal" else f"{float(row['value']):g}"


def _nearest(snapshot: pd.DataFrame, stamp: pd.Timestamp) -> str:
    """'; the nearest are 2025-09-02 and 2025-12-25', or that it has none at all."""
    if snapshot.empty:
        return "; it has no observations stored at all"
    dates = snapshot["date"]
    before, after = dates[dates < stamp], dates[dates > stamp]
    near = [str(d.date()) for d in (before.max() if len(before) else None, after.min() if len(after) else None)
            if d is not None]
    return f"; the nearest {'are' if len(near) > 1 else 'is'} {' and '.join(near)}"


def _may_return(pack: Pack, ind: Indicator, day: dt.date) -> str:
    """Where the point could come back from: its source, or the seed file that holds it."""
    if ind.source.kind != "manual":
        return (f" The next `tracker ingest` brings it back if the source ({ind.source.kind}) still "
                "reports it.")
    path = pack.seed_path(ind)
    if path is not None and _seed_has(ind, path, day):
        return (f" It is still in {pack.shown(path)}: remove it there too, or the next edit of that "
                "file brings it back.")
    return ""


def _seed_has(ind: Indicator, path: Path, day: dt.date) -> bool:
    seed, _ = read_rows(path, path.name, ind.kind, None, dt.date.max)
    return bool((seed.dates == np.datetime64(day, "D")).any())
