"""Concurrency: the nightly writer and many readers at once never see "database is locked" nor
a half-written state (DESIGN §5, PITFALLS §2.2), and two `tracker run` at once never both run
(PITFALLS §2.1.4).

All real processes: `tracker ingest` in a loop against loopback sources whose content changes
on every request (so every run writes 40 new vintages), 8 reader loops of
`tracker score --json`, and a store-level checker that, in single read transactions, compares
the rows every vintage declares with the observations stored under it.

TRACKER_CONCURRENCY_SECONDS sets the length of the window (default 30).
"""

from __future__ import annotations

import json
import os
import threading
import time
from typing import Any

import pytest
from reliability_helpers import (
    LOCKED,
    Sources,
    checker,
    csv_indicators,
    half_written,
    integrity,
    start,
    tracker,
    vintage_count,
    write_project,
)

READERS = 8
SOURCES = 20
WRITER_SOURCES = 40


@pytest.mark.slow
def test_writer_and_eight_readers_never_lock_nor_see_half_a_vintage(tmp_path):
    seconds = float(os.environ.get("TRACKER_CONCURRENCY_SECONDS", "30"))
    with Sources(latency=0.01, changing=True) as src:
        cfg = write_project(tmp_path, csv_indicators(src.url, WRITER_SOURCES),
                            http={"retries": 0, "timeout": 10, "deadline": 30, "per_host": 4})
        db = tmp_path / "tracker.db"
        first = tracker("ingest", "--config", str(cfg), cwd=tmp_path)
        assert first.returncode == 0, first.stdout + first.stderr
        base = vintage_count(db)

        end = time.monotonic() + seconds
        writes: list[dict[str, Any]] = []
        reads: list[dict[str, Any]] = []
        lock = threading.Lock()

        def writer() -> None:
            while time.monotonic() < end:
                out = tracker("ingest", "--config", str(cfg), cwd=tmp_path)
                with lock:
                    writes.append({"code": out.returncode, "out": out.stdout + out.stderr})

        def reader() -> None:
            while time.monotonic() < end:
                # Readers yield the CPU to the writer (as a nightly job would be favoured), so that
                # on a small machine the writer still commits many vintages during the window.
                out = tracker("score", "--json", "--config", str(cfg), cwd=tmp_path, nice=5)
                with lock:
                    reads.append(_judge(out.returncode, out.stdout, out.stderr))

        check = checker(db, seconds)
        threads = [threading.Thread(target=writer)]
        threads += [threading.Thread(target=reader) for _ in range(READERS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(seconds + 300)
        store_checks = json.loads(check.communicate(timeout=120)[0])
        vintages = vintage_count(db) - base

    locked = sum(LOCKED in w["out"] for w in writes) + sum(LOCKED in r["out"] for r in reads) \
        + store_checks["locked"]
    bad_reads = [r for r in reads if r["problem"]]
    inconsistent = len(bad_reads) + store_checks["inconsistent"]
    print(f"\nconcurrency: {vintages} writes, {len(reads)} reads, {locked} locked, "
          f"{inconsistent} inconsistent")
    print(f"concurrency detail: {len(writes)} `tracker ingest` runs wrote {vintages} vintages while "
          f"{READERS} reader loops ran {len(reads)} `tracker score --json` and a checker made "
          f"{store_checks['checks']} one-transaction store checks, over {seconds:g} s")
    assert [w["out"] for w in writes if w["code"] != 0] == []
    assert bad_reads == []
    assert store_checks["inconsistent"] == 0, store_checks["details"]
    assert locked == 0
    assert len(writes) >= 1 and vintages >= WRITER_SOURCES and len(reads) >= READERS
    assert store_checks["checks"] > 0
    assert integrity(db) == "ok" and half_written(db) == []


def _judge(code: int, stdout: str, stderr: str) -> dict[str, Any]:
    """One reader's result: exit 0, JSON, probabilities that sum to 1 (to the 4 decimals shown)."""
    out = {"code": code, "out": stdout + stderr, "problem": ""}
    if code != 0:
        out["problem"] = f"exit {code}: {stderr.strip()[-500:]}"
        return out
    try:
        doc = json.loads(stdout)
        total = sum(s["probability"] for s in doc["scenarios"])
    except (ValueError, KeyError, TypeError) as exc:
        out["problem"] = f"unreadable output ({exc}): {stdout[:200]!r}"
        return out
    if abs(total - 1.0) > 5e-4 or not all(0 <= s["probability"] <= 1 for s in doc["scenarios"]):
        out["problem"] = f"probabilities {[s['probability'] for s in doc['scenarios']]} sum to {total}"
    elif doc["coverage"] <= 0:
        out["problem"] = f"no evidence seen (coverage {doc['coverage']})"
    return out


@pytest.mark.slow
def test_two_runs_at_once_exactly_one_runs_and_the_other_stops_at_once(tmp_path):
    # 20 sources × 0.3 s / 2 per host: the run holds the lock for 3 s or more.
    with Sources(latency=0.3) as src:
        cfg = write_project(tmp_path, csv_indicators(src.url, SOURCES))
        began = time.monotonic()
        procs = [start("run", "--config", str(cfg), cwd=tmp_path) for _ in range(2)]
        ended: dict[int, float] = {}
        while len(ended) < 2:
            for i, p in enumerate(procs):
                if i not in ended and p.poll() is not None:
                    ended[i] = time.monotonic() - began
            time.sleep(0.02)
            assert time.monotonic() - began < 300
        outs = [p.communicate() for p in procs]

    codes = [p.returncode for p in procs]
    winner = codes.index(0) if codes.count(0) == 1 else None
    assert winner is not None, (codes, outs)
    loser = 1 - winner
    assert codes[loser] == 1
    assert "Error: another tracker run is in progress" in outs[loser][1], outs[loser]
    # "at once": the loser was done while the winner still had seconds of fetching ahead of it
    assert ended[loser] < ended[winner] - 1.0, ended
    with_lock = tracker("status", "--json", "--config", str(cfg), cwd=tmp_path)
    runs = json.loads(with_lock.stdout)["runs"]
    assert sorted(r["status"] for r in runs if r["kind"] == "run") == ["ok", "skipped"], runs
    print(f"\nrun-lock: 2 `tracker run` started at once: 1 ran ({ended[winner]:.1f} s, exit 0), 1 refused "
          f"after {ended[loser]:.1f} s (exit 1, \"another tracker run is in progress\")")
