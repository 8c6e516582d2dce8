"""Store faults are clear errors, never "unexpected error" (issue 16, items 3 and 4).

Each case is a real `tracker` process on a real store file put in a bad state: a page damaged
after the file was opened fine, a read-only file or folder, a read-only working folder, a disk
that cannot take the write, a foreign or unexpected schema, a store from a newer version. Each
must give one line naming the file, what is wrong and what to do, exit 2 (1 for the disk), leave
no crash log, and write nothing into a store that failed its check.

Permissions: the tests run as root on the CI machine, and root writes read-only files anyway,
so the commands run with the capabilities that bypass file permissions dropped (setpriv).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import resource
import signal
import sqlite3
import subprocess
from contextlib import closing
from pathlib import Path

import pytest
from reliability_helpers import (
    CLI,
    Sources,
    cli_env,
    csv_indicators,
    half_written,
    integrity,
    vintage_count,
    write_project,
)

from tracker.store.schema import MIGRATIONS

DAYS = 4000
NEWER = len(MIGRATIONS) + 1
UNPRIVILEGED = ["setpriv", "--bounding-set=-dac_override,-dac_read_search,-fowner", "--"] if os.geteuid() == 0 else []


def tracker(*args: str, cwd: Path, limit_file_bytes: int | None = None) -> subprocess.CompletedProcess[str]:
    """A tracker process that file permissions apply to; `limit_file_bytes` caps the size of any
    file it writes (RLIMIT_FSIZE), which is how a full disk looks to SQLite: a write that fails."""
    def limited() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)   # a failed write, not a killed process
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit_file_bytes, limit_file_bytes))

    return subprocess.run([*UNPRIVILEGED, *CLI, *args], cwd=cwd, env=cli_env(), capture_output=True, text=True,
                          timeout=120, check=False, preexec_fn=limited if limit_file_bytes else None)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A pack of two CSV sources with long seeds, and its store made by a first `tracker score`."""
    # 4,000 weeks, all in the past: a seed holds no date after today (issue 17)
    days = [dt.date(1900, 1, 1) + dt.timedelta(days=d) for d in range(0, DAYS * 7, 7)]
    seeds = {f"src-{n:02d}": [{"date": day.isoformat(), "value": float(k)} for k, day in enumerate(days)]
             for n in range(2)}
    cfg = write_project(tmp_path, csv_indicators("http://127.0.0.1:9", 2), seeds)
    first = tracker("score", "--config", str(cfg), cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    return cfg


def _digest(db: Path) -> str:
    return hashlib.sha256(db.read_bytes()).hexdigest()


def _one_line_error(run: subprocess.CompletedProcess[str], code: int, *words: str) -> str:
    """The one `Error:` line (progress and log lines of ingest and run may come before it)."""
    lines = [line for line in run.stderr.splitlines() if line.startswith("Error: ")]
    assert run.returncode == code, run.stdout + run.stderr
    assert len(lines) == 1 and run.stderr.rstrip().endswith(lines[0]), run.stderr
    assert all(w in lines[0] for w in words), lines[0]
    assert "unexpected error" not in run.stderr.lower() and "Traceback" not in run.stderr
    return lines[0]


def _no_crash_log(folder: Path) -> None:
    assert not (folder / "tracker-crash.log").exists()


def test_a_page_damaged_after_opening_is_named(project: Path) -> None:
    db = project.parent / "tracker.db"
    with closing(sqlite3.connect(db)) as conn:
        size, pages = (conn.execute(f"PRAGMA {p}").fetchone()[0] for p in ("page_size", "page_count"))
        roots = {r[0] for r in conn.execute("SELECT rootpage FROM sqlite_master")}
    assert pages > 20
    with db.open("r+b") as fh:                      # observation pages only: the file still opens
        for page in range(pages // 2, pages - 1):
            if page + 1 not in roots:
                fh.seek(page * size)
                fh.write(b"\xff" * size)
    run = tracker("score", "--config", str(project), cwd=project.parent)
    _one_line_error(run, 2, str(db), "the store is damaged (database disk image is malformed)",
                    "restore it from a backup")
    _no_crash_log(project.parent)


def test_a_read_only_store_reads_but_refuses_writes(project: Path) -> None:
    db = project.parent / "tracker.db"
    db.chmod(0o444)
    before = _digest(db)
    assert tracker("score", "--config", str(project), cwd=project.parent).returncode == 0
    run = tracker("observe", "src-00", "5", "--date", "2020-01-01", "--url", "https://example.org", "--note", "x",
                  "--override",   # src-00 is fetched from its source (issue 17)
                  "--config", str(project), cwd=project.parent)
    _one_line_error(run, 2, str(db), "cannot write the store (attempt to write a readonly database)",
                    "make the file and its folder writable")
    assert _digest(db) == before
    _no_crash_log(project.parent)


def test_a_read_only_folder_is_named(tmp_path: Path) -> None:
    cfg = write_project(tmp_path, csv_indicators("http://127.0.0.1:9", 1))
    (tmp_path / "data").mkdir()
    cfg.write_text(cfg.read_text().replace("store: tracker.db", "store: data/tracker.db"))
    (tmp_path / "data").chmod(0o555)
    try:
        run = tracker("score", "--config", str(cfg), cwd=tmp_path)
    finally:
        (tmp_path / "data").chmod(0o755)
    _one_line_error(run, 2, str(tmp_path / "data" / "tracker.db"), "cannot write the store",
                    "make the file and its folder writable")
    assert list((tmp_path / "data").iterdir()) == []


def test_a_read_only_working_folder_does_not_break_the_crash_report(project: Path, tmp_path: Path) -> None:
    """A bug is planted (the only mock here: a real bug cannot be made to order); the crash log
    cannot be written in a read-only working folder, so the report goes to stderr whole."""
    work = tmp_path / "readonly-cwd"
    work.mkdir()
    work.chmod(0o555)
    planted = ("import sys; from tracker import service; "
               "service.load = lambda *a, **k: (_ for _ in ()).throw(RuntimeError('planted bug')); "
               "from tracker.cli import main; main()")
    run = subprocess.run([*UNPRIVILEGED, CLI[0], "-c", planted, "score", "--config", str(project)], cwd=work,
                         env=cli_env(), capture_output=True, text=True, timeout=120, check=False)
    assert run.returncode == 1
    assert run.stderr.startswith("An unexpected error has occurred (RuntimeError). tracker-crash.log could not "
                                 "be written (Permission denied), so the details follow;")
    assert "Traceback (most recent call last)" in run.stderr and "RuntimeError: planted bug" in run.stderr
    assert list(work.iterdir()) == []


def test_a_full_disk_rolls_back_and_exits_1(tmp_path: Path) -> None:
    with Sources(latency=0.0) as src:
        cfg = write_project(tmp_path, csv_indicators(src.url, 30))
        db = tmp_path / "tracker.db"
        assert tracker("score", "--config", str(cfg), cwd=tmp_path).returncode == 0   # an empty store
        with closing(sqlite3.connect(db)) as conn:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        run = tracker("ingest", "--config", str(cfg), cwd=tmp_path, limit_file_bytes=db.stat().st_size + 4096)
    _one_line_error(run, 1, str(db), "cannot write the store", "free space on its disk")
    assert integrity(db) == "ok" and half_written(db) == []   # the vintage being written was rolled back
    assert vintage_count(db) < 30
    _no_crash_log(tmp_path)


@pytest.mark.parametrize(("spoil", "words"), [
    ("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)", "not a tracker store (it holds other tables: notes)"),
    ("ALTER TABLE vintages DROP COLUMN content_hash", "not the schema a tracker store has (table vintages has no "
                                                      "column content_hash)"),
    ("DROP TABLE sends", "not the schema a tracker store has (no table sends)"),
    (f"PRAGMA user_version = {NEWER}", f"written by a newer version of tracker (store schema {NEWER}; "
                                       f"this version knows up to {len(MIGRATIONS)})"),
    (f"INSERT INTO migrations VALUES ({NEWER}, 'later')", "written by a newer version of tracker"),
])
def test_a_store_with_an_unexpected_schema_is_refused_untouched(project: Path, spoil: str, words: str) -> None:
    db = project.parent / "tracker.db"
    if spoil.startswith("CREATE TABLE notes"):
        db.unlink()
    with closing(sqlite3.connect(db, isolation_level=None)) as conn:
        conn.execute("PRAGMA journal_mode=DELETE")
        conn.execute(spoil)
    before = _digest(db)
    for command in (["score"], ["ingest"], ["run"], ["observe", "src-00", "5", "--date", "2020-01-01", "--url",
                                                     "https://example.org", "--note", "x"]):
        run = tracker(*command, "--config", str(project), cwd=project.parent)
        _one_line_error(run, 2, str(db), words)
        assert _digest(db) == before, command
        assert not Path(f"{db}-wal").exists()
    _no_crash_log(project.parent)
