"""The scorer's read (issue 20): each vintage's columns packed when it is written, read one
indicator at a time, equal to the rows of the observations table; stores written before the
packed columns existed get them when opened."""

from __future__ import annotations

import datetime as dt
import sqlite3
from pathlib import Path

import numpy as np
import pandas as pd
from packbuilder import frame, utc

from tracker.pack.series import Series
from tracker.store.db import Store
from tracker.store.schema import MIGRATIONS

ROWS = [{"date": "2022-12-01", "value": 1.0, "published": "2022-12-05", "source_url": "https://a.example/1",
         "note": "first"},
        {"date": "2023-01-01", "value": None, "level": None, "published": "2023-01-20", "note": "=cmd|x"},
        {"date": "2023-05-01", "value": 9.0, "published": "2023-01-05", "source_url": "https://a.example/1"}]
LATER = [{"date": "2022-12-01", "value": 1.5, "published": "2022-12-05", "source_url": "https://b.example"},
         {"date": "2023-02-01", "value": 3.0, "published": "2023-02-25"}]
LEVELS = [{"date": "2023-01-01", "level": "talks", "published": "2023-01-02"},
          {"date": "2023-03-01", "level": "signed", "published": "2023-03-09", "note": "ünïcode ✓"}]
DAYS = [dt.date(2022, 12, 31), dt.date(2023, 1, 20), dt.date(2023, 2, 28), dt.date(2023, 3, 1), dt.date(2024, 1, 1)]


def fill(store: Store) -> None:
    store.write_vintage("x", frame(ROWS), fetched_at=utc("2023-01-10"), origin="seed")
    store.write_vintage("x", frame(LATER), fetched_at=utc("2023-03-01", hour=23), origin="ingest")
    store.write_vintage("lvl", frame(LEVELS), fetched_at=utc("2023-01-03"), origin="seed")
    store.write_vintage("lvl", frame(LEVELS[:1]), fetched_at=utc("2023-03-10"), origin="observe")


def as_rows(series: Series) -> list[tuple]:
    """A Series as the rows vintages_until gives, every column compared."""
    levels = series.levels()
    out = []
    for k in range(len(series)):
        cited = series.cite(k)
        value = None if np.isnan(cited["value"]) else cited["value"]
        out.append((int(series.vintage[k]), str(series.fetched[k]), str(cited["date"]), value, levels[k],
                    str(cited["published"]), cited["source_url"], cited["note"]))
    return out


def reference(store: Store, day: dt.date, iid: str) -> list[tuple]:
    rows = store.vintages_until(day)
    rows = rows[rows["indicator"] == iid]

    def clean(x: object) -> object:
        return None if x is None or (isinstance(x, float) and np.isnan(x)) or x is pd.NA else x
    return [(int(r.vintage), str(r.fetched.date()), str(r.date.date()), clean(r.value), clean(r.level),
             str(r.published.date()), clean(r.source_url), clean(r.note)) for r in rows.itertuples()]


def test_packed_read_equals_the_rows_on_every_day(tmp_path: Path) -> None:
    with Store(tmp_path / "tracker.db") as store:
        fill(store)
        for day in DAYS:
            got = dict(store.series_until(day))
            assert sorted(got) == sorted({"x", "lvl"} & {i for i in ("x", "lvl") if reference(store, day, i)})
            for iid in got:
                assert as_rows(got[iid]) == reference(store, day, iid), (day, iid)
        assert [i for i, _ in store.series_until(DAYS[-1], ["x"])] == ["x"]     # only those asked for
        urls = {r[6] for r in as_rows(dict(store.series_until(DAYS[-1]))["x"])}
        assert {"https://a.example/1", "https://b.example"} <= urls             # codes of two vintages


def test_a_frame_out_of_date_order_is_packed_in_date_order(tmp_path: Path) -> None:
    with Store(tmp_path / "tracker.db") as store:
        store.write_vintage("x", frame(ROWS[::-1]), fetched_at=utc("2023-01-10"), origin="seed")
        (_, series), = store.series_until(DAYS[-1])
        assert as_rows(series) == reference(store, DAYS[-1], "x")
        assert list(series.date.astype(str)) == ["2022-12-01", "2023-01-01", "2023-05-01"]


def test_a_store_from_before_the_packed_columns_gets_them_when_opened(tmp_path: Path) -> None:
    path = tmp_path / "tracker.db"
    with Store(path) as store:
        fill(store)
        want = {day: {i: as_rows(s) for i, s in store.series_until(day)} for day in DAYS}
    old = tmp_path / "old.db"                # the same vintages in a schema-1 store, as older versions wrote
    db = sqlite3.connect(old)
    db.executescript(str(MIGRATIONS[0]))
    db.execute("CREATE TABLE migrations (version INTEGER PRIMARY KEY, applied_at TEXT)")
    with db:
        db.execute("INSERT INTO migrations VALUES (1, '2026-01-01T00:00:00Z')")
        db.execute("ATTACH DATABASE ? AS new", (str(path),))
        db.execute("INSERT INTO vintages SELECT id, indicator, fetched_at, origin, content_hash, rows "
                   "FROM new.vintages")
        db.execute("INSERT INTO observations SELECT * FROM new.observations")
    db.execute("DETACH DATABASE new")
    db.execute("PRAGMA user_version = 1")
    db.close()
    path = old
    assert isinstance(MIGRATIONS[0], str)
    with Store(path) as store:
        assert {day: {i: as_rows(s) for i, s in store.series_until(day)} for day in DAYS} == want
        assert store.db.execute("SELECT COUNT(*) FROM vintage_columns").fetchone()[0] == 4


def test_reading_holds_one_indicator_at_a_time(tmp_path: Path) -> None:
    """The read is a generator over indicators: a scorer that keeps only what it cites never
    holds every series at once (on 2,000 × 10 years, 380 MB)."""
    with Store(tmp_path / "tracker.db") as store:
        fill(store)
        reading = store.series_until(DAYS[-1])
        first = next(reading)
        assert first[0] == "lvl" and len(first[1]) == 2 + 1      # its two vintages, rows of both
        assert next(reading)[0] == "x"


def test_a_head_hashed_the_old_way_is_compared_the_old_way(tmp_path: Path) -> None:
    """Vintages are hashed on their packed columns (`v2:`, no JSON of every row); a head written
    before that keeps its JSON hash, and the same content against it still writes nothing."""
    from tracker.store.snapshot import content_hash

    with Store(tmp_path / "tracker.db") as store:
        store.write_vintage("x", frame(ROWS), fetched_at=utc("2023-01-10"), origin="seed")
        (stored,) = [v["content_hash"] for v in store.vintage_log("x")]
        assert stored.startswith("v2:") and stored == store.content_hash(frame(ROWS))
        with store.transaction() as db:                  # as an older version stored it
            db.execute("UPDATE vintages SET content_hash = ?", (content_hash(frame(ROWS)),))
        assert store.write_vintage("x", frame(ROWS), fetched_at=utc("2023-02-10"), origin="ingest") is False
        assert store.write_vintage("x", frame(LATER), fetched_at=utc("2023-03-10"), origin="ingest") is True
        assert store.write_vintage("x", frame(LATER), fetched_at=utc("2023-04-10"), origin="ingest") is False
        assert [v["content_hash"].startswith("v2:") for v in store.vintage_log("x")] == [False, True]


def test_the_packed_hash_sees_every_column_and_not_the_row_order(tmp_path: Path) -> None:
    with Store(tmp_path / "tracker.db") as store:
        base = store.content_hash(frame(ROWS))
        assert store.content_hash(frame(ROWS[::-1])) == base
        for field, new in (("value", 1.25), ("published", "2022-12-06"), ("source_url", "https://c.example"),
                           ("note", "other"), ("date", "2022-11-30")):
            changed = [dict(ROWS[0], **{field: new}), *ROWS[1:]]
            assert store.content_hash(frame(changed)) != base, field
