"""The store: observations by vintage, runs, scores and digest sends, in one SQLite file.

Every write is one `BEGIN IMMEDIATE` transaction (PITFALLS §2.2: the busy timeout does not
cover a deferred read→write upgrade), so a crash leaves the previous state intact and readers
in other processes never see half a vintage. Dates are ISO text (PITFALLS §2.5.2).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from tracker.store import columns, schema
from tracker.store.columns import Series
from tracker.store.faults import every_method_named, store_fault
from tracker.store.snapshot import OBS_COLUMNS, _insert_observations, _prepare


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


def iso_instant(when: dt.datetime) -> str:
    return when.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def end_of_day(day: dt.date) -> str:
    """The last instant of a calendar date, for comparing fetch instants with an as-of date."""
    return f"{day.isoformat()}T23:59:59Z"


def same_content(stored: str | None, digest: str, frame: pd.DataFrame) -> bool:
    """Whether a stored content hash is `frame`'s, whose packed hash is `digest`: a hash stored
    before the packed-column hash (no `v2:` prefix) is compared its own way (snapshot.content_hash)."""
    if stored is None or stored == digest:
        return stored == digest
    return not stored.startswith("v2:") and stored == _prepare(frame).digest


class Base(NamedTuple):
    """What a checked write was computed from: the vintage read (None: there was none), and how
    to compute the snapshot again from a newer one."""

    vintage: int | None
    rebase: Callable[[pd.DataFrame], pd.DataFrame]


@every_method_named
class Store:
    """One SQLite file. Cheap to open; open one per process and close it when done."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        db = None
        try:
            _create_private(self.path)
            self.db = db = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
            self.db.execute("PRAGMA busy_timeout=30000")
            schema.check(self.db, self.path)   # before anything is written: a foreign or newer store stays as it was
            if self.db.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=NORMAL")
            self.db.execute("PRAGMA foreign_keys=ON")
            schema.migrate(self.db, self.transaction)
        except BaseException as exc:
            if db is not None:
                db.close()
            if isinstance(exc, (sqlite3.DatabaseError, OSError)):
                raise store_fault(self.path, exc) from None
            raise

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

    def abort_open_transaction(self) -> None:
        """Roll back a transaction that an interrupt left open: one raised between BEGIN IMMEDIATE
        and the `try` of transaction() (a signal lands anywhere); SQLite would refuse the next BEGIN."""
        if self.db.in_transaction:
            self.db.execute("ROLLBACK")

    @contextlib.contextmanager
    def snapshot(self) -> Iterator[sqlite3.Connection]:
        """A read transaction: several queries see one consistent state of the file."""
        self.db.execute("BEGIN")
        try:
            yield self.db
        except BaseException:
            with contextlib.suppress(sqlite3.Error):   # nothing to keep; never hide what ended the read
                self.db.execute("ROLLBACK")
            raise
        try:
            self.db.execute("COMMIT")
        except (sqlite3.DatabaseError, OSError) as exc:
            raise store_fault(self.path, exc) from None

    # ------------------------------------------------------------------ vintages

    def has_vintages(self, indicator: str | None = None) -> bool:
        sql, args = "SELECT 1 FROM vintages", ()
        if indicator:
            sql, args = sql + " WHERE indicator = ?", (indicator,)
        return self.db.execute(sql + " LIMIT 1", args).fetchone() is not None

    def content_hash(self, frame: pd.DataFrame) -> str:
        """The hash `write_vintage` would store for this snapshot (columns.digest)."""
        snap = _prepare(frame, hashed=False)
        return columns.digest(columns.pack(snap.columns, snap.count))

    def write_vintage(self, indicator: str, frame: pd.DataFrame, *, fetched_at: dt.datetime,
                      origin: str, base: Base | None = None, connector: str | None = None,
                      note: str | None = None) -> bool:
        """Store a full snapshot of an indicator's series as a new vintage, in one transaction.

        Returns False (and writes nothing) when the content equals the latest vintage's. With a
        `base` the write is checked: if another process wrote a vintage since `base.vintage` was
        read, the snapshot is computed again from that newer one under the write lock, and the
        new vintage is never dated before it. Without this, an ingest that read at its start and
        wrote with its start time was hidden behind an observe made meanwhile (issue 16).
        """
        used = frame
        snap = _prepare(frame, hashed=False)
        with self.transaction() as db:
            head = db.execute("SELECT id, fetched_at, content_hash FROM vintages WHERE indicator = ? "
                              "ORDER BY fetched_at DESC, id DESC LIMIT 1", (indicator,)).fetchone()
            stamp = iso_instant(fetched_at)
            if base is not None:
                if (head[0] if head else None) != base.vintage:
                    used = base.rebase(self._observations(head[0]) if head else _frame([]))
                    snap = _prepare(used, hashed=False)
                stamp = max(stamp, head[1]) if head else stamp
            cells = columns.pack(snap.columns, snap.count)
            digest = columns.digest(cells)
            if head and same_content(head[2], digest, used):
                return False
            cur = db.execute(
                "INSERT INTO vintages (indicator, fetched_at, origin, content_hash, rows, connector, note) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)", (indicator, stamp, origin, digest, snap.count, connector, note))
            _insert_observations(db, cur.lastrowid or 0, snap)
            columns.insert(db, cur.lastrowid or 0, cells)
        return True

    def latest(self, indicator: str) -> pd.DataFrame:
        """The newest snapshot of one indicator, whatever its dates (for merging new fetches)."""
        return self.latest_with_head(indicator)[0]

    def latest_with_head(self, indicator: str) -> tuple[pd.DataFrame, int | None]:
        """The newest snapshot and the id of its vintage, read together: a checked write names
        the vintage it was computed from (Base)."""
        with self.snapshot() as db:
            row = db.execute("SELECT id FROM vintages WHERE indicator = ? ORDER BY fetched_at DESC, id DESC LIMIT 1",
                             (indicator,)).fetchone()
            return (self._observations(row[0]), row[0]) if row else (_frame([]), None)

    def vintage_rows(self, vintage: int) -> pd.DataFrame:
        """One vintage's observations, by its id (from `vintage_log`)."""
        return self._observations(vintage)

    def _observations(self, vintage: int) -> pd.DataFrame:
        cur = self.db.execute(
            "SELECT date, value, level, published, source_url, note FROM observations WHERE vintage_id = ? "
            "ORDER BY date", (vintage,))
        return _frame(cur.fetchall())

    def latest_many(self, indicators: list[str]) -> tuple[dict[str, pd.DataFrame], dict[str, int | None]]:
        """The newest snapshot of each indicator, and the id of its vintage, in one read (an
        ingest merges into all of them, and names them when it writes). Read from the packed
        columns: as rows, 2,000 ten-year daily series took 17 s before any source was fetched."""
        out, heads = {}, {}
        with self.snapshot() as db:
            for iid, head, series in columns.latest(db, indicators):
                out[iid], heads[iid] = columns.to_frame(series), head
        empty = _frame([])
        return {i: out.get(i, empty) for i in indicators}, {i: heads.get(i) for i in indicators}

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

    def series_until(self, day: dt.date, indicators: list[str] | None = None) -> Iterator[tuple[str, Series]]:
        """What `vintages_until` reads, from each vintage's packed columns, one indicator at a
        time (store/columns.py). Read inside `snapshot()` when several calls must agree."""
        try:
            yield from columns.read(self.db, end_of_day(day), day.isoformat(), indicators)
        except (sqlite3.DatabaseError, OSError) as exc:   # raised while iterating, past `named`
            raise store_fault(self.path, exc) from None

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
        sql = "SELECT id, indicator, fetched_at, origin, rows, content_hash, connector, note FROM vintages"
        args: tuple[Any, ...] = ()
        if indicator:
            sql, args = sql + " WHERE indicator = ?", (indicator,)
        cur = self.db.execute(sql + " ORDER BY fetched_at, id", args)
        return [dict(zip([c[0] for c in cur.description], r, strict=True)) for r in cur.fetchall()]

    # ------------------------------------------------------------------ HTTP validators

    def validators(self, indicator: str) -> dict[str, dict[str, str]]:
        """Request key -> {etag, last_modified, sha256 (of the body parsed), spec (the source
        spec's fingerprint when they were saved)}, each only when known."""
        rows = self.db.execute("SELECT url, etag, last_modified, body_sha256, spec FROM validators "
                               "WHERE indicator = ?", (indicator,)).fetchall()
        names = ("etag", "last_modified", "sha256", "spec")
        return {url: {k: v for k, v in zip(names, found, strict=True) if v} for url, *found in rows}

    def save_validators(self, indicator: str, validators: dict[str, dict[str, str]]) -> None:
        with self.transaction() as db:
            db.execute("DELETE FROM validators WHERE indicator = ?", (indicator,))
            db.executemany("INSERT INTO validators (indicator, url, etag, last_modified, body_sha256, spec) "
                           "VALUES (?, ?, ?, ?, ?, ?)",
                           [(indicator, url, v.get("etag"), v.get("last_modified"), v.get("sha256"), v.get("spec"))
                            for url, v in validators.items()])

    # ------------------------------------------------------------------ runs and scores

    def begin_run(self, kind: str, now: dt.datetime | None = None) -> int:
        """A `running` row with this process's id, so that `tracker status` can tell one whose
        process is gone (killed with SIGKILL, the machine restarted) and close it."""
        with self.transaction() as db:
            cur = db.execute("INSERT INTO runs (kind, started, status, detail) VALUES (?, ?, 'running', ?)",
                             (kind, iso_instant(now or utcnow()), json.dumps({"pid": os.getpid()})))
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
                "INSERT INTO source_results (run_id, indicator, status, rows, seconds, error, answer) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                [(run_id, r["indicator"], r["status"], r.get("rows"), r.get("seconds"), r.get("error"),
                  r.get("answer")) for r in results])

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

    def failing_sources(self, day: dt.date | None = None) -> list[dict[str, Any]]:
        """Sources whose latest ingest attempt (by the end of `day`, default any) failed, with
        the reason: a digest or site of a past week shows the failures known then."""
        cur = self.db.execute("""
            SELECT s.indicator, s.error, r.started FROM source_results s JOIN runs r ON r.id = s.run_id
            WHERE s.rowid IN (SELECT MAX(x.rowid) FROM source_results x JOIN runs y ON y.id = x.run_id
                              WHERE y.started <= ? GROUP BY x.indicator)
              AND s.status = 'failed' ORDER BY s.indicator""", (end_of_day(day) if day else "9999",))
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
