"""Each vintage's observations packed as columns, written beside its rows, for the scorer.

Scoring reads every vintage fetched by a date. Read as rows of Python objects with every text
column, a 2,000-indicator pack of 10-year daily series (7.3 million rows) took 17 s and 4 GB
before any arithmetic (issue 20). A vintage is written once and never changed, so its columns
packed when it is written can never be stale: dates as day numbers, values as float64, and the
text columns (level, source_url, note) as codes into a list of their distinct values (a series
usually repeats one URL). Reading them is a few `frombuffer` calls per vintage.

The observations table stays the record: `as_of`, `export` and ingest read rows, and
tests/test_store.py holds this read equal to `Store.vintages_until`.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import pandas as pd

from tracker.pack.series import TEXTS, Series, encode, join

TABLE = """
    CREATE TABLE vintage_columns (
        vintage_id INTEGER PRIMARY KEY REFERENCES vintages(id),
        date BLOB NOT NULL,                -- int64 days since 1970-01-01, one per row in date order
        published BLOB NOT NULL,           -- int64 days
        value BLOB NOT NULL,               -- float64, NaN where missing
        codes BLOB NOT NULL,               -- int32, 3 × rows: level, source_url, note; -1 where missing
        texts TEXT NOT NULL                -- JSON [[levels], [urls], [notes]]: what the codes name
    )"""


Cells = tuple[bytes, bytes, bytes, bytes, str]
"""A vintage's row in the table: date, published, value, codes, texts."""


def pack(columns: Sequence[Sequence[Any] | None], count: int) -> Cells:
    """A vintage's SQL values (OBS_COLUMNS order: date, value, level, published, source_url,
    note; None for a column missing in every row) as the table's five cells, in date order (the
    order the observations' key keeps), the text codes numbered in that order."""
    date, value, level, published, url, note = columns
    days = _days(date, count)
    order = np.argsort(days, kind="stable")
    if (order != np.arange(count)).any():          # sources give rows in date order: this is rare
        columns = [None if c is None else [c[i] for i in order.tolist()] for c in columns]
        date, value, level, published, url, note = columns
        days = days[order]
    values = np.full(count, np.nan) if value is None else np.array(value, dtype=float)
    codes, texts = zip(*(encode(list(c) if c is not None else None, count) for c in (level, url, note)), strict=True)
    return (days.tobytes(), _days(published, count).tobytes(), values.tobytes(),
            np.stack(codes).astype(np.int32).tobytes(), json.dumps(texts))


def digest(cells: Cells) -> str:
    """The content hash of a vintage: its packed cells, every NaN the same bytes. Prefixed `v2:`,
    so that a head hashed the old way (the rows' JSON, snapshot.content_hash) is told apart."""
    date, published, value, codes, texts = cells
    values = np.frombuffer(value, dtype=np.float64)
    if np.isnan(values).any():
        value = np.where(np.isnan(values), np.nan, values).tobytes()
    h = hashlib.sha256()
    for part in (date, published, value, codes, texts.encode()):
        h.update(len(part).to_bytes(8, "little"))
        h.update(part)
    return "v2:" + h.hexdigest()


def insert(db: sqlite3.Connection, vintage: int, cells: Cells) -> None:
    db.execute("INSERT INTO vintage_columns VALUES (?, ?, ?, ?, ?, ?)", (vintage, *cells))


def backfill(db: sqlite3.Connection) -> None:
    """Pack every vintage written before this table existed (a migration: once per store)."""
    missing = [r[0] for r in db.execute("SELECT id FROM vintages WHERE id NOT IN "
                                        "(SELECT vintage_id FROM vintage_columns) ORDER BY id")]
    for vintage in missing:
        rows = db.execute("SELECT date, value, level, published, source_url, note FROM observations "
                          "WHERE vintage_id = ? ORDER BY date", (vintage,)).fetchall()
        columns = [list(c) for c in zip(*rows, strict=True)] if rows else [[] for _ in range(6)]
        insert(db, vintage, pack(columns, len(rows)))


def read(db: sqlite3.Connection, eod: str, day: str, indicators: list[str] | None = None
         ) -> Iterator[tuple[str, Series]]:
    """(indicator, Series) in indicator order: every vintage fetched by `eod`, and in each the
    rows dated and published on or before `day`. One indicator's rows at a time, so that a
    caller which keeps only what it cites holds one series in memory, whatever the pack's size."""
    sql = """SELECT v.indicator, v.id, substr(v.fetched_at, 1, 10), c.date, c.published, c.value, c.codes, c.texts,
                    v.origin
             FROM vintages v JOIN vintage_columns c ON c.vintage_id = v.id
             WHERE v.fetched_at <= ?"""
    args: list[Any] = [eod]
    if indicators is not None:
        sql += " AND v.indicator IN (SELECT value FROM json_each(?))"
        args.append(json.dumps(indicators))
    limit = np.datetime64(day, "D")
    current, parts, gaps = None, [], []
    for row in db.execute(sql + " ORDER BY v.indicator, v.fetched_at, v.id", args):
        if row[0] != current:
            if parts:
                yield str(current), join(parts, gaps)
            current, parts, gaps = row[0], [], []
        part = _unpack(row[1:], limit)
        if len(part):
            parts.append(part)
        elif not row[3] and parts:       # a vintage with no rows at all ends the one before it
            gaps.append((len(parts), np.datetime64(row[2], "D")))
    if parts:
        yield str(current), join(parts, gaps)


def latest(db: sqlite3.Connection, indicators: list[str]) -> Iterator[tuple[str, int, Series]]:
    """(indicator, vintage id, Series) of each indicator's newest vintage, every row of it (none
    when a reject or retract took its last point: the id is named apart for that)."""
    rows = db.execute("""
        SELECT v.indicator, v.id, substr(v.fetched_at, 1, 10), c.date, c.published, c.value, c.codes, c.texts,
               v.origin
        FROM vintages v JOIN vintage_columns c ON c.vintage_id = v.id
        WHERE v.id IN (SELECT id FROM (SELECT id, ROW_NUMBER() OVER (PARTITION BY indicator
                       ORDER BY fetched_at DESC, id DESC) AS n FROM vintages
                       WHERE indicator IN (SELECT value FROM json_each(?))) WHERE n = 1)""",
                      (json.dumps(indicators),))
    for row in rows:
        yield str(row[0]), int(row[1]), _unpack(row[1:], np.datetime64("9999-12-31", "D"))


def to_frame(series: Series, vintages: bool = False) -> pd.DataFrame:
    """A Series as `Store.latest` gives a vintage: date, value, level, published, source_url,
    note (dates as pandas parses them, text as objects with None where missing); with
    `vintages`, led by each row's vintage and fetch day, as `Store.vintages_until` gives them."""
    frame = pd.DataFrame({"date": series.date.astype("datetime64[us]"), "value": series.value,
                          **{name: series._text(j, slice(None)) for j, name in enumerate(TEXTS)},
                          "published": series.published.astype("datetime64[us]")},
                         columns=["date", "value", "level", "published", "source_url", "note"])
    if vintages:
        frame.insert(0, "fetched", series.fetched.astype("datetime64[us]"))
        frame.insert(0, "vintage", series.vintage)
    return frame


def _unpack(row: tuple[Any, ...], limit: np.datetime64) -> Series:
    vintage, fetched, date, published, value, codes, texts, origin = row
    dates = np.frombuffer(date, dtype=np.int64).view("datetime64[D]")
    seen = np.frombuffer(published, dtype=np.int64).view("datetime64[D]")
    keep = (dates <= limit) & (seen <= limit)
    n = int(keep.sum())
    return Series(np.full(n, vintage, dtype=np.int64), np.full(n, np.datetime64(fetched, "D")),
                  dates[keep], seen[keep], np.frombuffer(value, dtype=np.float64)[keep],
                  np.frombuffer(codes, dtype=np.int32).reshape(3, -1)[:, keep], json.loads(texts),
                  {int(vintage): origin})


def _days(column: Sequence[Any] | None, count: int) -> np.ndarray:
    if column is None:
        raise ValueError("a vintage's dates cannot be missing")
    return np.array(column, dtype="datetime64[D]").view(np.int64) if count else np.array([], dtype=np.int64)
