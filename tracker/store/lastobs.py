"""The newest observation known on a date, one per indicator, for `tracker indicators`.

One row per indicator, read from its latest vintage by the observations' key: `Store.as_of`
would read every row of every series (millions in a large pack) to keep one each.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from typing import Any

from tracker.store.db import Store, end_of_day
from tracker.store.faults import store_fault

_SQL = """
    SELECT v.indicator,
           (SELECT json_array(o.date, o.value, o.level, o.published, o.source_url)
            FROM observations o WHERE o.vintage_id = v.id AND o.date <= :day AND o.published <= :day
            ORDER BY o.date DESC LIMIT 1)
    FROM vintages v
    WHERE v.id = (SELECT w.id FROM vintages w WHERE w.indicator = v.indicator AND w.fetched_at <= :eod
                  ORDER BY w.fetched_at DESC, w.id DESC LIMIT 1)"""


def last_observations(store: Store, day: dt.date) -> dict[str, dict[str, Any] | None]:
    """indicator -> {date, value, level, published, source_url} of its newest row known at the
    end of `day` (None when its latest vintage holds none by then); indicators never stored are
    absent."""
    try:
        rows = store.db.execute(_SQL, {"day": day.isoformat(), "eod": end_of_day(day)}).fetchall()
    except (sqlite3.DatabaseError, OSError) as exc:
        raise store_fault(store.path, exc) from None
    out: dict[str, dict[str, Any] | None] = {}
    for iid, found in rows:
        if found is None:
            out[iid] = None
            continue
        date, value, level, published, url = json.loads(found)
        out[iid] = {"date": date, "value": value, "level": level, "published": published, "source_url": url}
    return out
