"""The store on real SQLite files: WAL, migrations, vintages, as-of, atomic writes, file
permissions, and two writer processes at once (DESIGN §5, PITFALLS §2.2)."""

from __future__ import annotations

import datetime as dt
import multiprocessing
import os
import sqlite3
import stat
from pathlib import Path

import pandas as pd
import pytest
from packbuilder import concurrent_writer, frame, utc

from tracker.store.db import Store
from tracker.store.schema import MIGRATIONS


@pytest.fixture
def store(tmp_path: Path):
    with Store(tmp_path / "tracker.db") as s:
        yield s


def count(path: Path, table: str) -> int:
    db = sqlite3.connect(path)
    try:
        return db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
    finally:
        db.close()


V1 = [{"date": "2022-12-01", "value": 1.0, "published": "2022-12-05"},
      {"date": "2023-01-01", "value": 2.0, "published": "2023-01-20"},
      {"date": "2023-05-01", "value": 9.0, "published": "2023-01-05"}]   # dated ahead of its publication
V2 = [{"date": "2022-12-01", "value": 1.5, "published": "2022-12-05"},
      {"date": "2023-01-01", "value": 2.5, "published": "2023-01-20"},
      {"date": "2023-02-01", "value": 3.0, "published": "2023-02-25"}]


def test_wal_busy_timeout_and_migrations(tmp_path: Path) -> None:
    path = tmp_path / "tracker.db"
    Store(path).close()
    Store(path).close()                      # opening again applies nothing twice
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    versions = [r[0] for r in db.execute("SELECT version FROM migrations ORDER BY version")]
    assert versions == list(range(1, len(MIGRATIONS) + 1))
    tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"vintages", "observations", "runs", "scores", "sends", "migrations"} <= tables
    db.close()
    with Store(path) as s:
        assert s.db.execute("PRAGMA busy_timeout").fetchone()[0] == 30000


def test_unchanged_content_adds_nothing(store: Store, tmp_path: Path) -> None:
    path = tmp_path / "tracker.db"
    assert store.write_vintage("x", frame(V1), fetched_at=utc("2023-01-10"), origin="seed") is True
    before = (count(path, "vintages"), count(path, "observations"))
    # the same content, fetched later and from another origin: nothing is written
    assert store.write_vintage("x", frame(V1), fetched_at=utc("2023-02-10"), origin="ingest") is False
    assert (count(path, "vintages"), count(path, "observations")) == before == (1, 3)
    assert [v["fetched_at"] for v in store.vintage_log("x")] == ["2023-01-10T12:00:00Z"]
    # a change is a new vintage; changing back is another (only the latest is compared)
    assert store.write_vintage("x", frame(V2), fetched_at=utc("2023-03-01"), origin="ingest") is True
    assert store.write_vintage("x", frame(V1), fetched_at=utc("2023-04-01"), origin="ingest") is True
    assert count(path, "vintages") == 3


def test_as_of_latest_vintage_and_only_published_rows(store: Store) -> None:
    store.write_vintage("x", frame(V1), fetched_at=utc("2023-01-10"), origin="seed")
    store.write_vintage("x", frame(V2), fetched_at=utc("2023-03-01", hour=23), origin="ingest")
    store.write_vintage("y", frame([{"date": "2023-01-02", "value": 7.0}]), fetched_at=utc("2023-01-02"),
                        origin="seed")

    def seen(day: str, ind: str = "x") -> list[tuple[str, float]]:
        got = store.as_of(dt.date.fromisoformat(day))
        got = got[got["indicator"] == ind]
        return [(str(d.date()), v) for d, v in zip(got["date"], got["value"], strict=True)]

    assert seen("2023-01-09") == []                                  # nothing fetched yet
    assert seen("2023-01-10") == [("2022-12-01", 1.0)]               # v1; 2023-01-01 not yet published
    assert seen("2023-01-20") == [("2022-12-01", 1.0), ("2023-01-01", 2.0)]
    assert seen("2023-02-28") == [("2022-12-01", 1.0), ("2023-01-01", 2.0)]  # 2023-05-01 not yet its date
    # v2 was fetched at 23:00 on 2023-03-01: known at the end of that day, revisions included
    assert seen("2023-03-01") == [("2022-12-01", 1.5), ("2023-01-01", 2.5), ("2023-02-01", 3.0)]
    assert seen("2023-06-01") == [("2022-12-01", 1.5), ("2023-01-01", 2.5), ("2023-02-01", 3.0)]
    assert seen("2023-01-02", "y") == [("2023-01-02", 7.0)]
    got = store.as_of(dt.date(2023, 6, 1))
    assert list(got.columns) == ["indicator", "date", "value", "level", "published", "source_url", "note"]
    assert (got["published"] <= pd.Timestamp("2023-06-01")).all()


def test_vintages_until_agrees_with_as_of(store: Store) -> None:
    """The scorer's bulk read holds, for each indicator, the as-of rows in its latest vintage."""
    store.write_vintage("x", frame(V1), fetched_at=utc("2023-01-10"), origin="seed")
    store.write_vintage("x", frame(V2), fetched_at=utc("2023-03-01"), origin="ingest")
    for day in pd.date_range("2023-01-01", "2023-06-01", freq="W-FRI").date:
        bulk = store.vintages_until(day)
        if bulk.empty:
            assert store.as_of(day).empty
            continue
        latest = bulk[bulk["vintage"] == bulk["vintage"].max()]
        ref = store.as_of(day)
        assert list(latest["date"]) == list(ref["date"]) and list(latest["value"]) == list(ref["value"])
        assert (bulk["fetched"] <= pd.Timestamp(day)).all()


def test_failed_write_leaves_previous_vintage_intact(store: Store, tmp_path: Path) -> None:
    path = tmp_path / "tracker.db"
    store.write_vintage("x", frame(V1), fetched_at=utc("2023-01-10"), origin="seed")
    before = store.latest("x")
    # five good rows, then a duplicate date: the insert fails after rows were written
    bad = frame([{"date": f"2023-0{m}-01", "value": float(m)} for m in range(1, 6)]
                + [{"date": "2023-05-01", "value": 99.0}])
    with pytest.raises(sqlite3.IntegrityError):
        store.write_vintage("x", bad, fetched_at=utc("2023-06-01"), origin="ingest")
    assert (count(path, "vintages"), count(path, "observations")) == (1, 3)
    pd.testing.assert_frame_equal(store.latest("x"), before)
    # the connection is not left inside a transaction: the next write goes through
    assert store.write_vintage("x", frame(V2), fetched_at=utc("2023-06-02"), origin="ingest") is True
    assert count(path, "vintages") == 2


def test_store_file_is_private(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        path = tmp_path / "sub" / "tracker.db"
        with Store(path) as s:
            s.write_vintage("x", frame(V1), fetched_at=utc("2023-01-10"), origin="seed")
            assert stat.S_IMODE(path.stat().st_mode) == 0o600
            wal = Path(f"{path}-wal")
            assert wal.exists() and stat.S_IMODE(wal.stat().st_mode) == 0o600
    finally:
        os.umask(old)


def test_two_processes_write_at_once(tmp_path: Path) -> None:
    path = tmp_path / "tracker.db"
    Store(path).close()
    ctx = multiprocessing.get_context("spawn")
    start, out = ctx.Event(), ctx.Queue()
    n = 25
    procs = [ctx.Process(target=concurrent_writer, args=(str(path), name, n, start, out))
             for name in ("p", "q")]
    for p in procs:
        p.start()
    start.set()
    results = dict(out.get(timeout=60) for _ in procs)
    for p in procs:
        p.join(30)
    assert results == {"p": "ok", "q": "ok"}
    with Store(path) as s:
        assert len(s.vintage_log("p")) == n and len(s.vintage_log("q")) == n
    assert count(path, "observations") == 4 * n


def test_crash_mid_write_leaves_previous_state(tmp_path: Path) -> None:
    """A process that dies inside the write transaction leaves the store as it was."""
    from packbuilder import crash_mid_write

    path = tmp_path / "tracker.db"
    with Store(path) as s:
        s.write_vintage("x", frame(V1), fetched_at=utc("2023-01-10"), origin="seed")
    proc = multiprocessing.get_context("spawn").Process(target=crash_mid_write, args=(str(path),))
    proc.start()
    proc.join(60)
    assert proc.exitcode == 17
    with Store(path) as s:
        assert [v["origin"] for v in s.vintage_log("x")] == ["seed"]
        assert list(s.latest("x")["value"]) == [1.0, 2.0, 9.0]
    assert count(path, "observations") == 3


def test_failing_sources_as_known_at_the_end_of_a_day(store: Store) -> None:
    """A digest or site of a past week shows the failures known then, not today's."""
    early = store.record_run("ingest", "partial", {}, now=utc("2024-01-10"))
    store.record_sources(early, [{"indicator": "x", "status": "failed", "error": "HTTP 500"},
                                 {"indicator": "y", "status": "new"}])
    later = store.record_run("ingest", "partial", {}, now=utc("2024-02-10"))
    store.record_sources(later, [{"indicator": "x", "status": "new"},
                                 {"indicator": "y", "status": "failed", "error": "timeout"}])
    assert [f["indicator"] for f in store.failing_sources(dt.date(2024, 1, 31))] == ["x"]
    assert [f["indicator"] for f in store.failing_sources(dt.date(2024, 2, 10))] == ["y"]
    assert [f["indicator"] for f in store.failing_sources()] == ["y"]
    assert store.failing_sources(dt.date(2024, 1, 1)) == []
