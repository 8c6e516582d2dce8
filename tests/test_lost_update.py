"""No write hides another (issue 16, item 1): `tracker observe` while `tracker ingest` or
`tracker run` is fetching.

Ingest reads every indicator's latest snapshot when it starts and writes minutes later. Before
the fix it wrote with its start time, so an observation recorded meanwhile (a later
`fetched_at`) stayed the latest vintage and the ingest's new data was invisible until the next
ingest; or, within the same second, the ingest's vintage won and the observation was lost. Now
every write names the vintage it was computed from, and a write that finds a newer one is merged
again onto it under the write lock (Store.write_vintage, `base`).

All real processes against loopback CSV sources and one SQLite file.
TRACKER_LOST_UPDATE_SECONDS sets the soak window (default 8; the README table uses 60).
"""

from __future__ import annotations

import datetime as dt
import os
import threading
import time
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
from reliability_helpers import ROWS, Sources, connect, csv_indicators, start, tracker, write_project

from tracker.store.db import Store


def _observe(cfg: Path, iid: str, value: float, day: dt.date) -> Any:
    return tracker("observe", iid, f"{value}", "--override", "--date", day.isoformat(),   # a csv source's indicator
                   "--url", "https://example.org/report",
                   "--note", f"analyst reading {value}", "--config", str(cfg), cwd=cfg.parent)


def _hidden(db: Path) -> list[tuple[str, int]]:
    """Vintages written after another but ordered before it: invisible as the latest."""
    with closing(connect(db)) as conn:
        rows = conn.execute("SELECT indicator, id FROM vintages ORDER BY indicator, fetched_at, id").fetchall()
    hidden = []
    for (ind, vid), (nxt_ind, nxt) in zip(rows, rows[1:], strict=False):
        if ind == nxt_ind and nxt < vid:
            hidden.append((ind, vid))
    return hidden


def _rows_by_vintage(db: Path, iid: str) -> list[tuple[int, set[tuple[str, float]]]]:
    with closing(connect(db)) as conn:
        ids = [r[0] for r in conn.execute("SELECT id FROM vintages WHERE indicator = ? ORDER BY id", (iid,))]
        return [(vid, set(conn.execute("SELECT date, value FROM observations WHERE vintage_id = ?", (vid,))))
                for vid in ids]


def test_an_observation_made_while_ingest_fetches_hides_nothing(tmp_path: Path) -> None:
    with Sources(latency=0.01) as src:
        cfg = write_project(tmp_path, csv_indicators(src.url, 2))
        assert tracker("ingest", "--config", str(cfg), cwd=tmp_path).returncode == 0
        src.generation, src.latency = 1, 3.0            # the next fetch is new data, and slow
        seen = src.requests
        ingest = start("ingest", "--config", str(cfg), cwd=tmp_path)
        while src.requests == seen:                     # the ingest has read the store and is fetching
            time.sleep(0.02)
        observed = _observe(cfg, "src-00", 321.5, dt.date(2019, 6, 1))
        out, err = ingest.communicate(timeout=120)
    assert observed.returncode == 0, observed.stderr
    assert ingest.returncode == 0, out + err
    with Store(tmp_path / "tracker.db") as store:
        latest = store.latest("src-00")
    values = dict(zip(latest["date"].dt.strftime("%Y-%m-%d"), latest["value"], strict=True))
    assert values["2019-06-01"] == 321.5                       # the observation
    assert values["2020-01-01"] == 100 + 0 + 1                 # and generation 1 of the source
    assert len(values) == ROWS + 1
    assert _hidden(tmp_path / "tracker.db") == []


@pytest.mark.slow
def test_observe_ingest_and_run_at_once_every_write_stays_visible(tmp_path: Path) -> None:
    seconds = float(os.environ.get("TRACKER_LOST_UPDATE_SECONDS", "8"))
    ids = ["src-00", "src-01", "src-02"]
    with Sources(latency=0.3, changing=True) as src:
        cfg = write_project(tmp_path, csv_indicators(src.url, len(ids)))
        assert tracker("ingest", "--config", str(cfg), cwd=tmp_path).returncode == 0
        end = time.monotonic() + seconds
        codes: dict[str, list[int]] = {"ingest": [], "run": [], "observe": []}
        observed: list[tuple[str, str, float]] = []
        lock = threading.Lock()

        def loop(kind: str, *args: str) -> None:
            while time.monotonic() < end:
                code = tracker(*args, "--config", str(cfg), cwd=tmp_path).returncode
                with lock:
                    codes[kind].append(code)

        def observer() -> None:
            k = 0
            while time.monotonic() < end:
                iid, day, value = ids[k % len(ids)], dt.date(2010, 1, 1) + dt.timedelta(days=k), 1000.0 + k
                code = _observe(cfg, iid, value, day).returncode
                with lock:
                    codes["observe"].append(code)
                    if code == 0:
                        observed.append((iid, day.isoformat(), value))
                k += 1

        threads = [threading.Thread(target=loop, args=("ingest", "ingest")),
                   threading.Thread(target=loop, args=("run", "run")), threading.Thread(target=observer)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(seconds + 300)

    db = tmp_path / "tracker.db"
    with Store(db) as store:
        latest = {iid: set(zip(store.latest(iid)["date"].dt.strftime("%Y-%m-%d"), store.latest(iid)["value"],
                               strict=True)) for iid in ids}
    missing = [o for o in observed if (o[1], o[2]) not in latest[o[0]]]
    stale = 0   # a vintage written after an observation's, without it: computed from an older read
    for iid in ids:
        history = _rows_by_vintage(db, iid)
        for _, day, value in (o for o in observed if o[0] == iid):
            first = next(i for i, (_, rows) in enumerate(history) if (day, value) in rows)
            stale += sum((day, value) not in rows for _, rows in history[first:])
    with closing(connect(db)) as conn:
        vintages = conn.execute("SELECT origin, COUNT(*) FROM vintages GROUP BY origin").fetchall()
    print(f"\nlost-update: {seconds:g} s of concurrent `tracker observe` ({len(codes['observe'])}), "
          f"`tracker ingest` ({len(codes['ingest'])}) and `tracker run` ({len(codes['run'])}) on 3 indicators; "
          f"vintages {dict(vintages)}; observations missing from the latest snapshot: {len(missing)}; "
          f"writes computed from a stale read: {stale}; vintages hidden behind an older one: {len(_hidden(db))}")
    assert set(codes["observe"]) == {0} and set(codes["ingest"]) == {0}, codes
    assert set(codes["run"]) <= {0, 1}, codes            # 1: another run held the lock (never two runs)
    assert observed and codes["ingest"] and codes["run"]
    assert missing == [] and stale == 0 and _hidden(db) == []
