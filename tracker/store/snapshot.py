"""A vintage ready to write: each column's SQL values and the content hash, computed together.

The hash decides whether a fetch is new, and stored hashes depend on its exact text, so the
fast path (_prepare) is held to the plain definition (_prepare_slow) by tests/test_store_snapshot.py.
"""

from __future__ import annotations

import functools
import hashlib
import itertools
import json
import math
import sqlite3
from collections.abc import Callable
from json.encoder import encode_basestring_ascii  # type: ignore[attr-defined]
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

OBS_COLUMNS = ["date", "value", "level", "published", "source_url", "note"]


def content_hash(frame: pd.DataFrame) -> str:
    """Hash of a snapshot's content, so that ingesting unchanged data adds nothing.

    The text hashed is the JSON of the rows with every cell as `frame.astype(object)` boxes it
    (missing cells as null, timestamps through json's default=str); stored hashes depend on it,
    so it must never change. See _prepare for how it is computed quickly."""
    return _prepare(frame).digest


class Snapshot(NamedTuple):
    """A vintage ready to write: the SQL values of each OBS_COLUMNS column, and the content hash.

    A column whose every cell is missing is None rather than a list of Nones, so that
    write_vintage can write it as a NULL literal: binding None costs sqlite3 an adapter lookup
    per cell (~0.7 µs, more than the rest of a row's insert)."""

    columns: list[list[Any] | None]
    count: int
    digest: str

    def rows(self) -> list[tuple[Any, ...]]:
        """The snapshot as SQL rows: ISO dates, floats, text, None for missing."""
        return list(zip(*(itertools.repeat(None, self.count) if c is None else c for c in self.columns),
                        strict=False))


def _insert_observations(db: sqlite3.Connection, vintage_id: int, snap: Snapshot) -> None:
    """Insert the snapshot's rows with multi-row INSERTs of _CHUNKS rows, its all-missing
    columns as NULL literals (see Snapshot)."""
    bound = [c for c in snap.columns if c is not None]
    width = len(bound) + 1
    flat: list[Any] = [vintage_id] * (snap.count * width)   # row-major parameters
    for i, col in enumerate(bound, start=1):
        flat[i::width] = col
    row = "(?, {})".format(", ".join("NULL" if c is None else "?" for c in snap.columns))
    start = 0
    for size in _CHUNKS:
        while snap.count - start >= size:
            db.execute(_insert_sql(row, size), flat[start * width:(start + size) * width])
            start += size


_CHUNKS = (128, 64, 32, 16, 8, 4, 2, 1)
"""Rows per INSERT: one multi-row VALUES is one sqlite3 step for the whole chunk, where
executemany steps (releasing and taking the GIL) once per row, and takes ~40% less time a row.
Powers of two, so that every row count uses a few statements of a fixed set, which sqlite3's
statement cache keeps prepared; 128 rows × 7 columns stay under SQLite's old 999-parameter limit."""


@functools.lru_cache(maxsize=1024)
def _insert_sql(row: str, size: int) -> str:
    return "INSERT INTO observations VALUES " + ", ".join([row] * size)  # noqa: S608 — placeholders and NULLs


DATE_COLUMNS = ("date", "published")
_TEXT_TYPES = {str, type(None)}


class _Column(NamedTuple):
    """One column of a snapshot: its SQL values (None: every cell NULL), and the JSON text of
    its cells for the hash: a list, one text shared by every cell, or None when only the general
    encoder is known to give the canonical text."""

    sql: list[Any] | None
    json: list[str] | str | Callable[[], list[str]] | None
    """Computed when called: only the legacy hash needs it."""


_NULL_COLUMN = _Column(None, "null")


def _prepare(frame: pd.DataFrame, hashed: bool = True) -> Snapshot:
    """The snapshot's SQL values and content hash, sharing the per-column work.

    Equivalent to the plain definitions kept in _prepare_slow: SQL rows built row by row with
    `pd.Timestamp(d).date().isoformat()`, `float(v)` and `str(t)`, and the hash over
    `frame.reindex(columns=OBS_COLUMNS).astype(object).where(frame.notna(), None)` as JSON. Those
    cost ~20 µs a row (boxing each date as a Timestamp, formatting it through json's default
    hook). Here each usual column (naive dates at midnight, floats, text) is converted with numpy
    and gets the JSON text of its cells directly (days from a cache, float.__repr__ as json uses
    it, each distinct string encoded once), and the rows' JSON is joined from those texts: the same
    bytes as json.dumps over boxed cells, at ~1.5 µs a row in all instead of ~2.5 µs. A frame with
    any unusual column (object dates, time zones, times of day, ints as values) is hashed by
    json.dumps as before. tests/test_store_snapshot.py holds both paths to _prepare_slow."""
    if not frame.columns.is_unique:
        return _prepare_slow(frame)
    n = len(frame)
    cols = [_column(frame, name, n) for name in OBS_COLUMNS]
    if not hashed:      # the store hashes the packed columns (columns.digest); this is the legacy hash
        return Snapshot([c.sql for c in cols], n, "")
    parts = [c.json() if callable(c.json) else c.json for c in cols]
    text = _generic_json(frame, n) if any(p is None for p in parts) else _json_rows(parts, n)
    return Snapshot([c.sql for c in cols], n, hashlib.sha256(text.encode()).hexdigest())


def _column(frame: pd.DataFrame, name: str, n: int) -> _Column:
    if name not in frame.columns:
        # as reindex gives it: a float column of NaN (which _day turns into "NaT" dates)
        return _date_column(_absent(n)) if name in DATE_COLUMNS else _NULL_COLUMN
    col = frame[name]
    if name in DATE_COLUMNS:
        return _date_column(col)
    values = col.to_numpy()
    fast = None
    if values.dtype.kind == "f" and values.dtype.itemsize <= 8:
        fast = _float_column(values, name)
    elif values.dtype == object and name != "value":
        fast = _text_column(values.tolist())
    return fast or _general_column(col, name, n)


def _absent(n: int) -> pd.Series:
    return pd.Series(np.full(n, np.nan))


def _date_column(col: pd.Series) -> _Column:
    got = _day_strings(col.to_numpy())
    if got is None:
        return _Column([_day(v) for v in col.tolist()], None)
    days, numbers, midnight = got
    return _Column(days, (lambda: _day_json(numbers)) if midnight else None)


def _float_column(values: np.ndarray, name: str) -> _Column | None:
    """Floats, NaN as None; None (the general path) for numbers in a text column."""
    missing = np.isnan(values)
    if missing.all():
        return _NULL_COLUMN
    if name != "value":
        return None
    cells = _none_where(values.tolist(), missing)
    if np.isfinite(values).all():
        return _Column(cells, lambda: list(map(float.__repr__, cells)))
    return _Column(cells, lambda: [_JSON_SPECIAL.get(v) or float.__repr__(v) for v in cells])


_JSON_SPECIAL: dict[float | None, str] = {None: "null", math.inf: "Infinity", -math.inf: "-Infinity"}
"""How json.dumps writes the cells float.__repr__ does not."""


def _text_column(cells: list[Any]) -> _Column | None:
    """Plain str cells, None or NaN where missing (pandas' str dtype has NaN), each distinct
    string JSON-encoded once (a column often repeats one URL); None (the general path) for
    anything else."""
    kinds = set(map(type, cells))
    if float in kinds:
        cells = [None if type(v) is float and v != v else v for v in cells]
        kinds = set(map(type, cells))
    if not kinds <= _TEXT_TYPES:
        return None
    text = {v: "null" if v is None else encode_basestring_ascii(v) for v in set(cells)}
    if text.keys() <= {None}:
        return _NULL_COLUMN
    return _Column(cells, text.popitem()[1] if len(text) == 1 else list(map(text.__getitem__, cells)))


def _general_column(col: pd.Series, name: str, n: int) -> _Column:
    cells = _cells(col, n)
    if name == "value":
        sql = cells if col.to_numpy().dtype.kind == "f" else [None if pd.isna(v) else float(v) for v in col.tolist()]
    else:
        sql = cells if set(map(type, cells)) <= _TEXT_TYPES else [None if v is None else str(v) for v in cells]
    return _Column(sql if any(v is not None for v in sql) else None, None)


def _cells(col: pd.Series, n: int) -> list[Any]:
    """A non-date column's cells as frame.astype(object) boxes them, None where missing."""
    values = col.to_numpy()
    missing = np.isnan(values) if values.dtype.kind == "f" else col.isna().to_numpy()
    return [None] * n if missing.all() else _none_where(col.tolist(), missing)


def _json_rows(parts: list[list[str] | str], n: int) -> str:
    """The rows as json.dumps(rows, separators=(",", ":")) writes them, from each cell's text."""
    if not n:
        return "[]"
    cols = [itertools.repeat(p, n) if isinstance(p, str) else p for p in parts]
    return "[[" + "],[".join(map(",".join, zip(*cols, strict=False))) + "]]"


def _generic_json(frame: pd.DataFrame, n: int) -> str:
    """The canonical JSON of the rows through json.dumps, for frames with an unusual column."""
    cells: list[list[Any]] = []
    for name in OBS_COLUMNS:
        col = frame[name] if name in frame.columns else _absent(n)
        if name not in DATE_COLUMNS:
            cells.append(_cells(col, n))
            continue
        got = _day_strings(col.to_numpy())
        midnight = got is not None and got[2]
        cells.append([d + " 00:00:00" for d in got[0]] if got and midnight else _json_generic(col))
    # check_circular only guards against a list containing itself; these are lists of scalars.
    return json.dumps(list(zip(*cells, strict=True)), default=str, separators=(",", ":"), check_circular=False)


def _json_generic(col: pd.Series) -> list[Any]:
    return col.astype(object).where(col.notna(), None).tolist()


def _none_where(cells: list[Any], missing: np.ndarray) -> list[Any]:
    for i in np.flatnonzero(missing).tolist():
        cells[i] = None
    return cells


_DAY_TEXT: dict[int, str] = {}
"""Day number (since 1970-01-01) -> "YYYY-MM-DD": formatting each date anew was the slowest part
of writing a vintage, and the same few thousand days recur in every series."""
_DAY_JSON: dict[int, str] = {}
"""Day number -> the JSON text of that day's midnight Timestamp, '"YYYY-MM-DD 00:00:00"'."""
_FIRST_DAY, _LAST_DAY = np.datetime64("1000-01-01", "D"), np.datetime64("9999-12-31", "D")


def _day_strings(values: np.ndarray) -> tuple[list[str], list[int], bool] | None:
    """(YYYY-MM-DD of each naive datetime64 value, its day number, whether every value falls at
    midnight); None for values of another kind, out of range or with NaT: the general path."""
    if values.dtype.kind != "M" or np.isnat(values).any():
        return None
    days = values.astype("datetime64[D]")
    if len(days) and not (_FIRST_DAY <= days.min() and days.max() <= _LAST_DAY):
        return None
    numbers = days.view(np.int64).tolist()
    try:
        text = list(map(_DAY_TEXT.__getitem__, numbers))
    except KeyError:
        _remember_days(days)
        text = list(map(_DAY_TEXT.__getitem__, numbers))
    return text, numbers, bool((days == values).all())


def _remember_days(days: np.ndarray) -> None:
    if len(_DAY_TEXT) > 500_000:
        _DAY_TEXT.clear()
        _DAY_JSON.clear()
    new = np.unique(days)
    for number, text in zip(new.view(np.int64).tolist(), np.datetime_as_string(new, unit="D").tolist(), strict=True):
        _DAY_TEXT[number] = text
        _DAY_JSON[number] = f'"{text} 00:00:00"'


def _day_json(numbers: list[int]) -> list[str]:
    """str(Timestamp) of each day at midnight as JSON: the cached text of each day number."""
    return list(map(_DAY_JSON.__getitem__, numbers))


def _prepare_slow(frame: pd.DataFrame) -> Snapshot:
    f = frame.reindex(columns=OBS_COLUMNS)
    rows = []
    for date, value, level, published, url, note in f.itertuples(index=False, name=None):
        rows.append((_day(date), None if pd.isna(value) else float(value),
                     None if pd.isna(level) else str(level), _day(published),
                     None if pd.isna(url) else str(url), None if pd.isna(note) else str(note)))
    canonical = f.astype(object).where(frame.notna(), None)
    text = json.dumps(canonical.values.tolist(), default=str, separators=(",", ":"))
    columns: list[list[Any] | None] = [list(c) for c in zip(*rows, strict=True)] if rows else [[] for _ in OBS_COLUMNS]
    return Snapshot(columns, len(rows), hashlib.sha256(text.encode()).hexdigest())


def _day(value: Any) -> str:
    return pd.Timestamp(value).date().isoformat()


