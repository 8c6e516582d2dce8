"""The store's schema: its migrations, and the check that a file is a store this version can use.

The check runs before anything is written (issue 16, items 3 and 4): a file that is another
program's database, a store written by a newer tracker, or one whose tables lack what the
migrations made, is refused with one line and left exactly as it was.
"""

from __future__ import annotations

import contextlib
import functools
import sqlite3
from collections.abc import Callable
from pathlib import Path

from tracker.errors import TrackerError
from tracker.store import columns

Migration = str | Callable[[sqlite3.Connection], None]
"""A script of statements, or a step in Python (one that computes what SQL cannot)."""


def _packed_columns(db: sqlite3.Connection) -> None:
    """Schema 2: each vintage's columns packed for the scorer (store/columns.py), existing
    vintages included, in the migration's transaction."""
    db.execute(columns.TABLE)
    columns.backfill(db)


MIGRATIONS: list[Migration] = [
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
    _packed_columns,
    # Schema 3 (issue 15): which connector wrote a vintage; the body hash and the source spec
    # behind a request's validators; what a source answered each run (data, not_modified,
    # same_body, empty, error), read per indicator by store/sourcelog.py.
    """
    ALTER TABLE vintages ADD COLUMN connector TEXT;
    ALTER TABLE validators ADD COLUMN body_sha256 TEXT;
    ALTER TABLE validators ADD COLUMN spec TEXT;
    ALTER TABLE source_results ADD COLUMN answer TEXT;
    CREATE INDEX source_results_by_indicator ON source_results(indicator, run_id);
    """,
    # Schema 4 (issue 15, item 5): an analyst's word on one observation, `tracker confirm` or
    # `tracker reject`, with when it was said; `row` keeps the observation (JSON) so that a
    # confirm after a reject can write it back. Read by store/reviews.py. The two indexes keep
    # what every score reads of the runs (sourcelog.in_trouble, failed_nights) flat as they grow.
    """
    CREATE TABLE point_reviews (
        id INTEGER PRIMARY KEY,
        indicator TEXT NOT NULL,
        date TEXT NOT NULL,
        action TEXT NOT NULL,              -- confirm | reject
        at TEXT NOT NULL,                  -- UTC instant, YYYY-MM-DDTHH:MM:SSZ
        value REAL,
        level TEXT,
        row TEXT NOT NULL,
        note TEXT
    );
    CREATE INDEX point_reviews_by_indicator ON point_reviews(indicator, date, at);
    CREATE INDEX source_results_by_run ON source_results(run_id);
    CREATE INDEX source_results_by_status ON source_results(status, run_id);
    """,
    # Schema 5 (issue 17, items 3 and 4): the seed file each indicator was last loaded from,
    # by the SHA-256 of its bytes and the content hash of its rows (store/seeds.py: an edited
    # seed becomes a new vintage); and why a vintage was written by hand (`tracker retract`'s note).
    """
    CREATE TABLE seed_files (
        indicator TEXT PRIMARY KEY,
        path TEXT NOT NULL,                -- as the pack names it
        file_sha256 TEXT NOT NULL,
        content_hash TEXT NOT NULL,        -- vintages.content_hash of the seed's rows alone
        loaded_at TEXT NOT NULL
    );
    ALTER TABLE vintages ADD COLUMN note TEXT;
    """,
]


def check(db: sqlite3.Connection, path: Path) -> None:
    """Refuse a file this version must not open for writing; a new, empty file passes."""
    tables = _tables(db)
    if not tables:
        return
    if "migrations" not in tables:
        raise TrackerError(f"{path}: not a tracker store (it holds other tables: {', '.join(sorted(tables)[:5])}); "
                           "point `store:` in config.yaml at a new file", 2)
    applied = max([row[0] for row in db.execute("SELECT version FROM migrations")], default=0)
    version = max(applied, db.execute("PRAGMA user_version").fetchone()[0])
    if version > len(MIGRATIONS):
        raise TrackerError(f"{path}: written by a newer version of tracker (store schema {version}; this version "
                           f"knows up to {len(MIGRATIONS)}); upgrade tracker to use it", 2)
    missing = _missing(db, applied)
    if missing:
        raise TrackerError(f"{path}: not the schema a tracker store has ({missing}); restore it from a backup, "
                           "or move it aside and the next command starts a new one from the seeds", 2)


def migrate(db: sqlite3.Connection, transaction: Callable[[], contextlib.AbstractContextManager[sqlite3.Connection]]
            ) -> None:
    """Apply the migrations not yet applied, each recorded; no write at all when none is due (so a
    read-only store can still be read)."""
    if _applied(db) == set(range(1, len(MIGRATIONS) + 1)):
        return
    with transaction() as tx:
        tx.execute("CREATE TABLE IF NOT EXISTS migrations (version INTEGER PRIMARY KEY, applied_at TEXT)")
        done = _applied(tx)
        for version, script in enumerate(MIGRATIONS, start=1):
            if version not in done:
                _apply(tx, script)
                tx.execute("INSERT INTO migrations VALUES (?, strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))", (version,))
        tx.execute(f"PRAGMA user_version = {len(MIGRATIONS)}")


def _apply(db: sqlite3.Connection, script: Migration) -> None:
    if callable(script):
        script(db)
        return
    for statement in filter(str.strip, script.split(";")):
        db.execute(statement)


def _tables(db: sqlite3.Connection) -> set[str]:
    return {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}


def _applied(db: sqlite3.Connection) -> set[int]:
    if "migrations" not in _tables(db):
        return set()
    return {row[0] for row in db.execute("SELECT version FROM migrations")}


def _missing(db: sqlite3.Connection, applied: int) -> str:
    """The first table or column that the applied migrations made and the file lacks ('' if none)."""
    for table, names in _expected(applied).items():
        found = {row[1] for row in db.execute(f"PRAGMA table_info({table})")}  # noqa: S608 — our own names
        if not found:
            return f"no table {table}"
        lacking = [c for c in names if c not in found]
        if lacking:
            return f"table {table} has no column {lacking[0]}"
    return ""


@functools.cache
def _expected(applied: int) -> dict[str, list[str]]:
    """Tables and columns as the first `applied` migrations make them, read off a scratch database."""
    with contextlib.closing(sqlite3.connect(":memory:")) as scratch:
        for script in MIGRATIONS[:applied]:
            _apply(scratch, script)
        return {t: [row[1] for row in scratch.execute(f"PRAGMA table_info({t})")]  # noqa: S608
                for t in sorted(_tables(scratch))}


