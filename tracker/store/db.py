"""The store: observations by vintage, runs, scores and digest sends, in one SQLite file.

Every write is one `BEGIN IMMEDIATE` transaction (PITFALLS §2.2: the busy timeout does not
cover a deferred read→write upgrade), so a crash leaves the previous state intact and readers
in other processes never see half a vintage. Dates are ISO text (PITFALLS §2.5.2).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import hashlib
import itertools
import json
import math
import os
import sqlite3
from collections.abc import Iterator
from json.encoder import encode_basestring_ascii  # type: ignore[attr-defined]
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from tracker.errors import TrackerError

OBS_COLUMNS = ["date", "value", "level", "published", "source_url", "note"]

MIGRATIONS: list[str] = [
    """
    CREATE TABLE vintages (
        id INTEGER PRIMARY KEY,
        indicator TEXT NOT NULL,
        fetched_at TEXT NOT NULL,          -- UTC instant, YYYY-MM-DDTHH:MM:SSZ
        origin TEXT NOT NULL,              -- seed | ingest | observe
        content_hash TEXT NOT NULL,
        rows INTEGER NOT NULL
    );
    CREATE INDEX vintages_by_indicator ON vintages(indicator, fetched_at);
    CREATE TABLE observations (
        vintage_id INTEGER NOT NULL REFERENCES vintages(id),
        date TEXT NOT NULL,
        value REAL,
        level TEXT,
        published TEXT NOT NULL,
        source_url TEXT,
        note TEXT,
        PRIMARY KEY (vintage_id, date)
    ) WITHOUT ROWID;
    CREATE TABLE validators (
        indicator TEXT NOT NULL, url TEXT NOT NULL, etag TEXT, last_modified TEXT,
        PRIMARY KEY (indicator, url)
    );
    CREATE TABLE runs (
        id INTEGER PRIMARY KEY, kind TEXT NOT NULL, started TEXT NOT NULL,
        finished TEXT, status TEXT NOT NULL, detail TEXT
    );
    CREATE TABLE source_results (
        run_id INTEGER NOT NULL REFERENCES runs(id), indicator TEXT NOT NULL,
        status TEXT NOT NULL, rows INTEGER, seconds REAL, error TEXT
    );
    CREATE TABLE scores (
        run_id INTEGER NOT NULL REFERENCES runs(id), date TEXT NOT NULL,
        scenario TEXT NOT NULL, probability REAL NOT NULL,
        PRIMARY KEY (run_id, date, scenario)
    );
    CREATE TABLE sends (
        week TEXT PRIMARY KEY, status TEXT NOT NULL, started_at TEXT NOT NULL,
        sent_at TEXT, message_id TEXT, detail TEXT
    );
    """,
]


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


def iso_instant(when: dt.datetime) -> str:
    return when.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def end_of_day(day: dt.date) -> str:
    """The last instant of a calendar date, for comparing fetch instants with an as-of date."""
    return f"{day.isoformat()}T23:59:59Z"


def content_hash(frame: pd.DataFrame) -> str:
    """Hash of a snapshot's content, so that ingesting unchanged data adds nothing.

    The text hashed is the JSON of the rows with every cell as `frame.astype(object)` boxes it
    (missing cells as null, timestamps through json's default=str); stored hashes depend on it,
    so it must never change. See _prepare for how it is computed quickly."""
    return _prepare(frame).digest


class Store:
    """One SQLite file. Cheap to open; open one per process and close it when done."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        _create_private(self.path)
        try:
            self.db = sqlite3.connect(self.path, timeout=30, isolation_level=None,
                                      check_same_thread=False)
            self.db.execute("PRAGMA busy_timeout=30000")
            if self.db.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=NORMAL")
            self.db.execute("PRAGMA foreign_keys=ON")
            self._migrate()
        except sqlite3.DatabaseError as exc:
            raise TrackerError(f"{self.path}: not a usable tracker store ({exc})", 2) from None

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """BEGIN IMMEDIATE … COMMIT, rolled back on any error (the one write path)."""
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield self.db
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    @contextlib.contextmanager
    def snapshot(self) -> Iterator[sqlite3.Connection]:
        """A read transaction: several queries see one consistent state of the file."""
        self.db.execute("BEGIN")
        try:
            yield self.db
        finally:
            self.db.execute("COMMIT")

    def _migrate(self) -> None:
        with self.transaction() as db:
            db.execute("CREATE TABLE IF NOT EXISTS migrations (version INTEGER PRIMARY KEY, applied_at TEXT)")
            done = {row[0] for row in db.execute("SELECT version FROM migrations")}
            for version, script in enumerate(MIGRATIONS, start=1):
                if version in done:
                    continue
                for statement in filter(str.strip, script.split(";")):
                    db.execute(statement)
                db.execute("INSERT INTO migrations VALUES (?, ?)", (version, iso_instant(utcnow())))

    # ------------------------------------------------------------------ vintages

    def has_vintages(self, indicator: str | None = None) -> bool:
        sql, args = "SELECT 1 FROM vintages", ()
        if indicator:
            sql, args = sql + " WHERE indicator = ?", (indicator,)
        return self.db.execute(sql + " LIMIT 1", args).fetchone() is not None

    def write_vintage(self, indicator: str, frame: pd.DataFrame, *, fetched_at: dt.datetime,
                      origin: str) -> bool:
        """Store a full snapshot of an indicator's series as a new vintage, in one transaction.

        Returns False (and writes nothing) when the content equals the latest vintage's.
        """
        snap = _prepare(frame)
        with self.transaction() as db:
            latest = db.execute(
                "SELECT content_hash FROM vintages WHERE indicator = ? ORDER BY fetched_at DESC, id DESC LIMIT 1",
                (indicator,)).fetchone()
            if latest and latest[0] == snap.digest:
                return False
            cur = db.execute(
                "INSERT INTO vintages (indicator, fetched_at, origin, content_hash, rows) VALUES (?, ?, ?, ?, ?)",
                (indicator, iso_instant(fetched_at), origin, snap.digest, snap.count))
            _insert_observations(db, cur.lastrowid or 0, snap)
        return True

    def latest(self, indicator: str) -> pd.DataFrame:
        """The newest snapshot of one indicator, whatever its dates (for merging new fetches)."""
        row = self.db.execute(
            "SELECT id FROM vintages WHERE indicator = ? ORDER BY fetched_at DESC, id DESC LIMIT 1",
            (indicator,)).fetchone()
        if row is None:
            return _frame([])
        cur = self.db.execute(
            "SELECT date, value, level, published, source_url, note FROM observations WHERE vintage_id = ? "
            "ORDER BY date", (row[0],))
        return _frame(cur.fetchall())

    def latest_many(self, indicators: list[str]) -> dict[str, pd.DataFrame]:
        """The newest snapshot of each indicator in one read (an ingest merges into all of them)."""
        with self.snapshot() as db:
            cur = db.execute("""
                SELECT v.indicator, o.date, o.value, o.level, o.published, o.source_url, o.note
                FROM observations o JOIN vintages v ON v.id = o.vintage_id
                WHERE v.id IN (SELECT id FROM (SELECT id, ROW_NUMBER() OVER (PARTITION BY indicator
                               ORDER BY fetched_at DESC, id DESC) AS n FROM vintages) WHERE n = 1)
                ORDER BY v.indicator, o.date""")
            rows = cur.fetchall()
        frame = pd.DataFrame(rows, columns=["indicator", *OBS_COLUMNS])
        ids = frame.pop("indicator").to_numpy()
        frame = _typed(frame)                      # once for all rows, then cheap slices
        out = {}
        if len(ids):
            starts = np.flatnonzero(np.r_[True, ids[1:] != ids[:-1]])
            ends = np.r_[starts[1:], len(ids)]
            out = {str(ids[a]): frame.iloc[a:b].reset_index(drop=True)
                   for a, b in zip(starts, ends, strict=True)}
        empty = frame.iloc[0:0]
        return {i: out.get(i, empty) for i in indicators}

    def as_of(self, day: dt.date, indicators: list[str] | None = None) -> pd.DataFrame:
        """What was known at the end of `day`: per indicator the latest vintage fetched by then,
        and in it only observations dated and published on or before `day`."""
        # One vintage per indicator (the latest fetched by then, ties to the higher id), so
        # ordering by (indicator, fetched_at, id, date) is ordering by (indicator, date) — and
        # follows the vintages index and the observations key, where a window function over
        # the vintages made SQLite sort every row in a temporary B-tree (a third of the time).
        sql = """
            SELECT v.indicator, o.date, o.value, o.level, o.published, o.source_url, o.note
            FROM vintages v JOIN observations o ON o.vintage_id = v.id
            WHERE v.fetched_at <= :eod
              AND v.id = (SELECT w.id FROM vintages w WHERE w.indicator = v.indicator AND w.fetched_at <= :eod
                          ORDER BY w.fetched_at DESC, w.id DESC LIMIT 1)
              AND o.published <= :day AND o.date <= :day
            ORDER BY v.indicator, v.fetched_at, v.id, o.date"""
        rows = self.db.execute(sql, {"eod": end_of_day(day), "day": day.isoformat()}).fetchall()
        frame = pd.DataFrame(rows, columns=["indicator", *OBS_COLUMNS])
        if indicators is not None:
            frame = frame[frame["indicator"].isin(indicators)]
        return _typed(frame)

    def vintages_until(self, day: dt.date) -> pd.DataFrame:
        """Every vintage fetched by the end of `day` with its observations published by then:
        the scorer replays the weekly grid from these without another query per date."""
        sql = """
            SELECT v.indicator, v.id AS vintage, substr(v.fetched_at, 1, 10) AS fetched,
                   o.date, o.value, o.level, o.published, o.source_url, o.note
            FROM vintages v JOIN observations o ON o.vintage_id = v.id
            WHERE v.fetched_at <= :eod AND o.published <= :day AND o.date <= :day
            ORDER BY v.indicator, v.fetched_at, v.id, o.date"""
        with self.snapshot() as db:
            rows = db.execute(sql, {"eod": end_of_day(day), "day": day.isoformat()}).fetchall()
        frame = pd.DataFrame(rows, columns=["indicator", "vintage", "fetched", *OBS_COLUMNS])
        frame["fetched"] = pd.to_datetime(frame["fetched"], format="%Y-%m-%d")
        return _typed(frame)

    def vintage_log(self, indicator: str | None = None) -> list[dict[str, Any]]:
        sql = "SELECT id, indicator, fetched_at, origin, rows, content_hash FROM vintages"
        args: tuple[Any, ...] = ()
        if indicator:
            sql, args = sql + " WHERE indicator = ?", (indicator,)
        cur = self.db.execute(sql + " ORDER BY fetched_at, id", args)
        return [dict(zip([c[0] for c in cur.description], r, strict=True)) for r in cur.fetchall()]

    # ------------------------------------------------------------------ HTTP validators

    def validators(self, indicator: str) -> dict[str, dict[str, str]]:
        rows = self.db.execute("SELECT url, etag, last_modified FROM validators WHERE indicator = ?",
                               (indicator,)).fetchall()
        return {url: {k: v for k, v in (("etag", e), ("last_modified", m)) if v} for url, e, m in rows}

    def save_validators(self, indicator: str, validators: dict[str, dict[str, str]]) -> None:
        with self.transaction() as db:
            db.execute("DELETE FROM validators WHERE indicator = ?", (indicator,))
            db.executemany("INSERT INTO validators VALUES (?, ?, ?, ?)",
                           [(indicator, url, v.get("etag"), v.get("last_modified"))
                            for url, v in validators.items()])

    # ------------------------------------------------------------------ runs and scores

    def begin_run(self, kind: str, now: dt.datetime | None = None) -> int:
        with self.transaction() as db:
            cur = db.execute("INSERT INTO runs (kind, started, status) VALUES (?, ?, 'running')",
                             (kind, iso_instant(now or utcnow())))
            return int(cur.lastrowid or 0)

    def finish_run(self, run_id: int, status: str, detail: dict[str, Any] | None = None,
                   now: dt.datetime | None = None) -> None:
        with self.transaction() as db:
            db.execute("UPDATE runs SET finished = ?, status = ?, detail = ? WHERE id = ?",
                       (iso_instant(now or utcnow()), status, json.dumps(detail or {}, default=str), run_id))

    def record_run(self, kind: str, status: str, detail: dict[str, Any], now: dt.datetime | None = None) -> int:
        run_id = self.begin_run(kind, now)
        self.finish_run(run_id, status, detail, now)
        return run_id

    def record_sources(self, run_id: int, results: list[dict[str, Any]]) -> None:
        with self.transaction() as db:
            db.executemany(
                "INSERT INTO source_results VALUES (?, ?, ?, ?, ?, ?)",
                [(run_id, r["indicator"], r["status"], r.get("rows"), r.get("seconds"), r.get("error"))
                 for r in results])

    def runs(self, kind: str | None = None, limit: int = 20) -> list[dict[str, Any]]:
        sql, args = "SELECT id, kind, started, finished, status, detail FROM runs", []
        if kind:
            sql += " WHERE kind = ?"
            args.append(kind)
        cur = self.db.execute(sql + " ORDER BY id DESC LIMIT ?", (*args, limit))
        out = []
        for row in cur.fetchall():
            item = dict(zip(["id", "kind", "started", "finished", "status", "detail"], row, strict=True))
            item["detail"] = json.loads(item["detail"]) if item["detail"] else {}
            out.append(item)
        return out

    def last_success(self, kind: str) -> dt.datetime | None:
        row = self.db.execute(
            "SELECT MAX(finished) FROM runs WHERE kind = ? AND status IN ('ok', 'partial')", (kind,)).fetchone()
        return dt.datetime.strptime(row[0], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC) if row[0] else None

    def failing_sources(self) -> list[dict[str, Any]]:
        """Sources whose latest ingest attempt failed, with the reason."""
        cur = self.db.execute("""
            SELECT s.indicator, s.error, r.started FROM source_results s JOIN runs r ON r.id = s.run_id
            WHERE s.rowid IN (SELECT MAX(rowid) FROM source_results GROUP BY indicator)
              AND s.status = 'failed' ORDER BY s.indicator""")
        return [{"indicator": i, "error": e, "at": a} for i, e, a in cur.fetchall()]

    def save_scores(self, run_id: int, probabilities: pd.DataFrame) -> None:
        """probabilities: date index × scenario columns."""
        rows = [(run_id, d.date().isoformat(), s, float(p))
                for d, row in probabilities.iterrows() for s, p in row.items()]
        with self.transaction() as db:
            db.executemany("INSERT OR REPLACE INTO scores VALUES (?, ?, ?, ?)", rows)

    def score_history(self) -> pd.DataFrame:
        """The stored probabilities of nightly runs (latest run per date wins): what was said."""
        cur = self.db.execute("""
            SELECT s.date, s.scenario, s.probability FROM scores s
            JOIN (SELECT date, MAX(run_id) AS run_id FROM scores s2 JOIN runs r ON r.id = s2.run_id
                  WHERE r.kind IN ('run', 'score') GROUP BY date) last
              ON last.date = s.date AND last.run_id = s.run_id
            ORDER BY s.date""")
        frame = pd.DataFrame(cur.fetchall(), columns=["date", "scenario", "probability"])
        if frame.empty:
            return pd.DataFrame()
        wide = frame.pivot(index="date", columns="scenario", values="probability")
        wide.index = pd.to_datetime(wide.index, format="%Y-%m-%d")
        return wide

    # ------------------------------------------------------------------ digest sends

    def send_state(self, week: str) -> dict[str, Any] | None:
        row = self.db.execute("SELECT week, status, started_at, sent_at, message_id, detail FROM sends "
                              "WHERE week = ?", (week,)).fetchone()
        return dict(zip(["week", "status", "started_at", "sent_at", "message_id", "detail"], row, strict=True)) \
            if row else None

    def send_started(self, week: str, message_id: str, force: bool = False) -> bool:
        """Claim a week before sending. False when the week was already claimed (unless force)."""
        with self.transaction() as db:
            row = db.execute("SELECT status FROM sends WHERE week = ?", (week,)).fetchone()
            if row:
                if not force and row[0] != "failed":  # a failed send never reached the server
                    return False
                db.execute("DELETE FROM sends WHERE week = ?", (week,))
            db.execute("INSERT INTO sends (week, status, started_at, message_id) VALUES (?, 'started', ?, ?)",
                       (week, iso_instant(utcnow()), message_id))
        return True

    def send_finished(self, week: str, status: str, detail: str = "") -> None:
        with self.transaction() as db:
            db.execute("UPDATE sends SET status = ?, sent_at = ?, detail = ? WHERE week = ?",
                       (status, iso_instant(utcnow()), detail, week))

    def sends(self, limit: int = 10) -> list[dict[str, Any]]:
        cur = self.db.execute("SELECT week, status, started_at, sent_at, message_id FROM sends "
                              "ORDER BY week DESC LIMIT ?", (limit,))
        return [dict(zip(["week", "status", "started_at", "sent_at", "message_id"], r, strict=True))
                for r in cur.fetchall()]


def _create_private(path: Path) -> None:
    """Create the store file owner-only before SQLite does (its -wal/-shm copy these bits)."""
    if path.exists():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))


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
    json: list[str] | str | None


_NULL_COLUMN = _Column(None, "null")


def _prepare(frame: pd.DataFrame) -> Snapshot:
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
    parts = [c.json for c in cols]
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
    return _Column(days, _day_json(numbers) if midnight else None)


def _float_column(values: np.ndarray, name: str) -> _Column | None:
    """Floats, NaN as None; None (the general path) for numbers in a text column."""
    missing = np.isnan(values)
    if missing.all():
        return _NULL_COLUMN
    if name != "value":
        return None
    cells = _none_where(values.tolist(), missing)
    if np.isfinite(values).all():
        return _Column(cells, list(map(float.__repr__, cells)))
    return _Column(cells, [_JSON_SPECIAL.get(v) or float.__repr__(v) for v in cells])


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


def _frame(rows: list[tuple[Any, ...]]) -> pd.DataFrame:
    return _typed(pd.DataFrame(rows, columns=OBS_COLUMNS))


def _typed(frame: pd.DataFrame) -> pd.DataFrame:
    frame["date"] = _parse_days(frame["date"])
    frame["published"] = _parse_days(frame["published"])
    frame["value"] = frame["value"].astype(float)
    return frame


def _parse_days(col: pd.Series) -> pd.Series | np.ndarray:
    """pd.to_datetime(col, format="%Y-%m-%d"). That costs ~0.3 ms whatever the length, most of
    reading a short series (Store.latest, twice per source and ingest); numpy parses a short
    column of canonical dates in a few µs. Anything not canonical goes to pandas."""
    if 0 < len(col) <= 2000:
        text = col.to_numpy()
        if text.dtype == object and set(map(type, text)) == {str}:
            try:
                days = text.astype("datetime64[D]")
            except ValueError:
                days = None
            if days is not None and (np.datetime_as_string(days, unit="D") == text.astype(str)).all():
                return days.astype(_PARSED_UNIT)
    return pd.to_datetime(col, format="%Y-%m-%d")


_PARSED_UNIT = pd.to_datetime(pd.Series(["2000-01-01"]), format="%Y-%m-%d").dtype
"""The datetime64 unit pandas gives parsed dates (microseconds in pandas 3)."""
