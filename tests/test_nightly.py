"""`tracker run` against real things: a CSV source over loopback HTTP, a real SMTP server
(aiosmtpd), real SQLite files, real processes racing for the lock and a real SIGTERM
(DESIGN §8, PITFALLS §2.1.4, §2.1.9). Time is a parameter: runs happen at fixed instants."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import sqlite3
import stat
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import yaml
from packbuilder import numeric, scenarios, write_pack
from pytest_httpserver import HTTPServer
from smtpserver import free_port, smtp_server
from werkzeug import Request, Response

from tracker import service
from tracker.errors import TrackerError
from tracker.ops import nightly
from tracker.ops.runlock import lock_path, run_lock
from tracker.store.db import Store

NIGHT1 = dt.datetime(2026, 6, 1, 3, 30, tzinfo=dt.UTC)   # 04:30 in London
NIGHT2 = NIGHT1 + dt.timedelta(days=1)
NIGHT3 = NIGHT2 + dt.timedelta(days=1)
SEED = [{"date": "2026-04-01", "value": 45, "published": "2026-04-02",
         "source_url": "https://stats.example.org/gauge/apr"}]
LOW = ("date,value,source_url,note\n2026-04-01,45,https://stats.example.org/gauge/apr,\n"
       "2026-05-01,40,https://stats.example.org/gauge/may,May reading\n")
HIGH = LOW + "2026-06-01,60,https://stats.example.org/gauge/jun,June reading\n"
CLI = [sys.executable, "-c", "from tracker.cli import main; main()"]


def make_project(root: Path, url: str, **config: object) -> Path:
    """A two-scenario pack with one CSV indicator `gauge` (low < 50 ≤ high) at `url`, seeded
    with April's reading as a real pack is."""
    path = write_pack(root, scenarios({"A": 0.5, "B": 0.5}, {"g": 1.0}), [
        numeric("gauge", "g", [{"name": "low", "below": 50}, {"name": "high", "at_least": 50}],
                {"low": {"A": 0.8, "B": 0.2}, "high": {"A": 0.2, "B": 0.8}},
                source={"kind": "csv", "url": url}, unit="points")], seeds={"gauge": SEED})
    doc = yaml.safe_load(path.read_text())
    doc.update({"timezone": "Europe/London", "http": {"retries": 0, "timeout": 10, "deadline": 20}}, **config)
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def serve_csv(server: HTTPServer, body: str) -> None:
    server.clear()
    server.expect_request("/gauge.csv").respond_with_data(body, content_type="text/csv")
    server.expect_request("/ping/abc").respond_with_data("OK")
    server.expect_request("/ping/abc/fail").respond_with_data("OK")


def query(db: Path, sql: str) -> list[tuple]:
    con = sqlite3.connect(db)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def runs(db: Path) -> list[dict]:
    with Store(db) as store:
        return list(reversed(store.runs(limit=100)))


def pinged(server: HTTPServer) -> list[str]:
    return [req.path for req, _ in server.log if req.path.startswith("/ping")]


@pytest.fixture
def site(tmp_path: Path, httpserver: HTTPServer):
    serve_csv(httpserver, LOW)
    path = make_project(tmp_path, httpserver.url_for("/gauge.csv"), ping_url=httpserver.url_for("/ping/abc"))
    return path, httpserver


@pytest.fixture
def smtp():
    with smtp_server() as (inbox, port):
        yield port, inbox


def digest_config(port: int) -> dict:
    return {"digest": {"from": "tracker@example.org", "to": ["analysts@example.org"],
                       "smtp": {"host": "127.0.0.1", "port": port, "security": "none", "timeout": 5}}}


@pytest.fixture(autouse=True)
def _own_logging():
    """Runs log to their config's file and stderr; leave no handler behind for other tests."""
    yield
    nightly.reset_logging()


# ---------------------------------------------------------------- a run and its record

def test_a_run_ingests_scores_stores_and_pings(site):
    path, server = site
    ctx = service.load(str(path))
    assert nightly.run_nightly(ctx, now=NIGHT1) == 0
    db = ctx.config.store_path
    run = [r for r in runs(db) if r["kind"] == "run"][-1]
    assert run["status"] == "ok" and run["started"] == "2026-06-01T03:30:00Z"
    d = run["detail"]
    assert d["as_of"] == "2026-06-01"
    assert d["states"] == {"gauge": "low"}
    assert d["evidence"]["gauge"]["source_url"] == "https://stats.example.org/gauge/may"
    assert d["failed_sources"] == [] and d["sources"]["new"] == 1
    assert d["leading"] == "A" and set(d["probabilities"]) == {"A", "B"}
    assert d["changes"] == [] and d["alerts"] == []
    stored = query(db, f"SELECT COUNT(*) FROM scores WHERE run_id = {run['id']}")
    assert stored == [(nightly.SCORE_WEEKS * 2,)]
    assert query(db, "SELECT MAX(date) FROM scores") == [("2026-06-01",)]
    assert pinged(server) == ["/ping/abc"]
    log = ctx.config.path(ctx.config.log)
    assert stat.S_IMODE(log.stat().st_mode) == 0o600
    assert f"nightly run {run['id']} ok: 1 new, 0 unchanged, 0 failed" in log.read_text()


def test_a_failed_source_makes_a_partial_run_with_exit_3(site):
    path, server = site
    server.clear()
    server.expect_request("/gauge.csv").respond_with_data("gone", status=404)
    server.expect_request("/ping/abc").respond_with_data("OK")
    ctx = service.load(str(path))
    assert nightly.run_nightly(ctx, now=NIGHT1) == 3
    run = [r for r in runs(ctx.config.store_path) if r["kind"] == "run"][-1]
    assert run["status"] == "partial"
    assert run["detail"]["failed_sources"] == ["gauge"]
    assert run["detail"]["states"] == {"gauge": "low"}      # the seed still stands
    # The job ran: the monitor hears success; the failing source shows in `tracker status`.
    assert pinged(server) == ["/ping/abc"]


def test_a_crash_is_recorded_as_failed_and_pings_fail(site, monkeypatch):
    path, server = site
    ctx = service.load(str(path))

    def broken(*args, **kwargs):
        raise RuntimeError("the scorer broke")

    monkeypatch.setattr(service, "score", broken)
    assert nightly.run_nightly(ctx, now=NIGHT1) == 1
    run = [r for r in runs(ctx.config.store_path) if r["kind"] == "run"][-1]
    assert run["status"] == "failed"
    assert run["detail"]["error"] == "RuntimeError: the scorer broke"
    assert pinged(server) == ["/ping/abc/fail"]
    # Nothing of the failed run was half-stored: no scores, and the vintage it fetched is whole.
    assert query(ctx.config.store_path, "SELECT COUNT(*) FROM scores") == [(0,)]


def test_an_unusable_store_is_an_error_and_a_failure_ping(site):
    path, server = site
    (path.parent / "tracker.db").write_bytes(b"this is not a database\n" * 100)
    with pytest.raises(TrackerError) as err:
        nightly.run_nightly(service.load(str(path)), now=NIGHT1)
    assert "tracker.db: not a usable tracker store (file is not a database); restore it from a backup" in str(err.value)
    assert err.value.exit_code == 2
    assert pinged(server) == ["/ping/abc/fail"]


def test_a_monitor_that_is_down_never_fails_the_run(tmp_path, httpserver):
    serve_csv(httpserver, LOW)
    path = make_project(tmp_path, httpserver.url_for("/gauge.csv"), ping_url=f"http://127.0.0.1:{free_port()}/p")
    assert nightly.run_nightly(service.load(str(path)), now=NIGHT1) == 0
    assert "ping to 127.0.0.1" in (tmp_path / "tracker.log").read_text()


def test_under_cron_stderr_appended_to_the_log_does_not_double_its_lines(site):
    path, _ = site
    log = path.parent / "tracker.log"
    with log.open("a") as sink:                          # what `>> tracker.log 2>&1` does
        proc = subprocess.run([*CLI, "run", "--config", str(path)], stdout=sink, stderr=sink, timeout=120)
    assert proc.returncode == 0
    text = log.read_text()
    assert text.count("nightly run 1 started") == 1
    assert text.count("nightly run 1 ok:") == 1


def test_a_run_left_running_by_a_killed_process_is_closed_as_failed(site):
    path, _ = site
    ctx = service.load(str(path))
    with Store(ctx.config.store_path) as store:
        dead = store.begin_run("run", NIGHT1 - dt.timedelta(days=1))
    nightly.run_nightly(ctx, now=NIGHT1)
    first = runs(ctx.config.store_path)[0]
    assert first["id"] == dead and first["status"] == "failed"
    assert first["detail"]["error"] == "the process ended before the run finished (killed or crashed)"


# ---------------------------------------------------------------- alerts

def test_a_changed_state_is_alerted_by_email_with_its_evidence(tmp_path, httpserver, smtp):
    port, sink = smtp
    serve_csv(httpserver, LOW)
    path = make_project(tmp_path, httpserver.url_for("/gauge.csv"), **digest_config(port))
    ctx = service.load(str(path))
    assert nightly.run_nightly(ctx, now=NIGHT1) == 0
    assert sink.messages == []                       # the first run is the baseline
    serve_csv(httpserver, HIGH)
    assert nightly.run_nightly(ctx, now=NIGHT2) == 0
    assert len(sink.messages) == 1
    assert sink.messages[0][1] == ["analysts@example.org"]
    msg = sink.parsed(0)
    assert msg["Subject"] == "tracker alert: Test pack: gauge low → high"
    body = msg.get_content()
    assert "gauge (Indicator gauge): low → high" in body
    assert "observation of 2026-06-01: 60.0 points (published 2026-06-02)" in body
    assert "source: https://stats.example.org/gauge/jun" in body
    assert "note: June reading" in body
    run = [r for r in runs(ctx.config.store_path) if r["kind"] == "run"][-1]
    assert run["detail"]["changes"][0] | {"observation": None} == {
        "kind": "state", "indicator": "gauge", "name": "Indicator gauge", "from": "low", "to": "high",
        "observation": None}
    assert run["detail"]["alerts"] == ["tracker alert: Test pack: gauge low → high"]
    # Unchanged the next night: nothing more is sent.
    assert nightly.run_nightly(ctx, now=NIGHT3) == 0
    assert len(sink.messages) == 1


def test_a_failed_alert_is_recorded_not_fatal_and_sent_by_the_next_run(tmp_path, httpserver, smtp):
    port, sink = smtp
    serve_csv(httpserver, LOW)
    path = make_project(tmp_path, httpserver.url_for("/gauge.csv"), **digest_config(free_port()))
    ctx = service.load(str(path))
    nightly.run_nightly(ctx, now=NIGHT1)
    serve_csv(httpserver, HIGH)
    assert nightly.run_nightly(ctx, now=NIGHT2) == 3    # no SMTP server there: reported, not fatal
    run = [r for r in runs(ctx.config.store_path) if r["kind"] == "run"][-1]
    assert run["status"] == "partial" and run["detail"]["alerts"] == []
    assert run["detail"]["alert_error"].startswith("cannot connect to SMTP server 127.0.0.1:")
    ctx = service.load(str(make_project(tmp_path, httpserver.url_for("/gauge.csv"), **digest_config(port))))
    assert nightly.run_nightly(ctx, now=NIGHT3) == 0
    assert len(sink.messages) == 1                      # the change is alerted once the mail works
    assert "gauge low → high" in [r for r in runs(ctx.config.store_path) if r["kind"] == "run"][-1][
        "detail"]["alerts"][0]


def test_tracker_run_exits_3_when_the_alert_fails_and_tracker_status_says_so(tmp_path, httpserver):
    """A change nobody was told of is a failure to report, as a failed source is: exit 3, and
    `tracker status` names it (text and --json) until a run sends the alert."""
    serve_csv(httpserver, LOW)
    dead = free_port()
    path = make_project(tmp_path, httpserver.url_for("/gauge.csv"), **digest_config(dead))

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*CLI, *args, "--config", str(path)], capture_output=True, text=True, timeout=120)

    assert cli("run").returncode == 0                   # the baseline: nothing to alert
    serve_csv(httpserver, HIGH)
    run = cli("run")
    assert run.returncode == 3, run.stderr
    assert f"alert not sent (cannot connect to SMTP server 127.0.0.1:{dead}" in run.stderr
    last = [r for r in runs(path.parent / "tracker.db") if r["kind"] == "run"][-1]
    doc = json.loads(cli("status", "--json").stdout)
    assert doc["alert_error"] == {"run": last["id"], "finished": last["finished"],
                                  "error": last["detail"]["alert_error"]}
    assert doc["last_run"]["status"] == "partial"
    text = cli("status").stdout
    said = " ".join(text.split())                       # wrapped to the terminal: lines joined
    assert (f"ALERT NOT SENT: run #{last['id']} ({last['finished']}) could not send its alert e-mail: "
            f"{last['detail']['alert_error']}; the next run tries again") in said
    assert any(line.startswith("ALERT NOT SENT: run #") for line in text.splitlines())


def test_compare_names_state_and_trend_changes_but_not_new_indicators():
    before = {"states": {"a": "low", "b": None}, "trend": None}
    after = {"states": {"a": "high", "b": None, "new": "x"}, "evidence": {"a": {"date": "2026-01-01"}},
             "trend": {"scenario": "B", "change": 0.07, "window_weeks": 13, "since": "2026-03-01"}}
    assert nightly.compare(before, after) == [
        {"kind": "state", "indicator": "a", "name": "a", "from": "low", "to": "high",
         "observation": {"date": "2026-01-01"}},
        {"kind": "trend", "from": None, "to": "B", "call": after["trend"]}]
    same_call = {**after, "states": before["states"], "trend": {**after["trend"], "change": 0.09}}
    assert nightly.compare({**before, "trend": after["trend"]}, same_call) == []


def test_the_baseline_skips_a_run_whose_alert_failed():
    runs_newest_first = [
        {"status": "running", "detail": {}},
        {"status": "ok", "detail": {"states": {"a": "high"}, "alert_error": "SMTP down"}},
        {"status": "failed", "detail": {"error": "x"}},
        {"status": "partial", "detail": {"states": {"a": "low"}}},
    ]
    assert nightly.baseline(runs_newest_first) == {"states": {"a": "low"}}
    assert nightly.baseline(runs_newest_first[:2]) == {"states": {"a": "high"}, "alert_error": "SMTP down"}
    assert nightly.baseline([]) is None


# ---------------------------------------------------------------- the lock

RACER = """
import sys
from pathlib import Path
from tracker.errors import TrackerError
from tracker.ops.runlock import run_lock
sys.stdin.readline()                      # the start signal: both try at once
try:
    with run_lock(Path(sys.argv[1])):
        print("got it", flush=True)
        sys.stdin.readline()              # hold it until told
except TrackerError as exc:
    print(exc, flush=True)
    sys.exit(exc.exit_code)
"""


def test_two_processes_race_for_the_lock_and_exactly_one_gets_it(tmp_path):
    db = tmp_path / "tracker.db"
    procs = [subprocess.Popen([sys.executable, "-c", RACER, str(db)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True) for _ in range(2)]
    for p in procs:
        p.stdin.write("go\n")
        p.stdin.flush()
    lines = [p.stdout.readline().strip() for p in procs]
    assert sorted(x == "got it" for x in lines) == [False, True]
    winner = procs[lines.index("got it")]
    loser = procs[1 - lines.index("got it")]
    assert loser.wait(30) == 1
    assert lines[procs.index(loser)] == (f"another tracker run is in progress "
                                         f"(lock {tmp_path}/tracker.db.lock held by pid {winner.pid})")
    winner.stdin.write("done\n")
    winner.stdin.close()
    assert winner.wait(30) == 0
    for p in procs:
        p.stdout.close()
        if p.stdin and not p.stdin.closed:
            p.stdin.close()
    # Released: the next one gets it.
    with run_lock(db) as held:
        assert held == lock_path(db)


def test_the_lock_file_is_owner_only_and_names_the_holder(tmp_path):
    db = tmp_path / "tracker.db"
    with run_lock(db) as path:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert path.read_text() == f"{os.getpid()}\n"
        with run_lock(db):                              # the same thread may nest
            pass
        errors: list[str] = []

        def other_thread() -> None:
            try:
                with run_lock(db):
                    errors.append("acquired")
            except TrackerError as exc:
                errors.append(str(exc))

        t = threading.Thread(target=other_thread)
        t.start()
        t.join()
        assert errors == [f"another tracker run is in progress (lock {path} held by pid {os.getpid()})"]
    assert path.exists() and path.read_text() == ""


def test_tracker_run_exits_1_with_the_lock_message_while_another_run_holds_it(site):
    path, server = site
    db = path.parent / "tracker.db"
    with run_lock(db) as held:
        proc = subprocess.run([*CLI, "run", "--config", str(path)], capture_output=True, text=True,
                              timeout=120)
    assert proc.returncode == 1
    message = f"another tracker run is in progress (lock {held} held by pid {os.getpid()})"
    assert f"Error: {message}" in proc.stderr
    rows = [(r["kind"], r["status"], r["detail"]) for r in runs(db)]
    assert rows == [("run", "skipped", {"error": message})]
    assert pinged(server) == []


# ---------------------------------------------------------------- SIGTERM during a run

def test_sigterm_during_a_run_leaves_a_whole_store_and_records_the_stop(tmp_path):
    arrived, release = threading.Event(), threading.Event()

    def slow(request: Request) -> Response:
        arrived.set()
        release.wait(2)                                   # a slow source: answers after 2 s
        return Response(HIGH, content_type="text/csv")

    server = HTTPServer(threaded=True)
    server.expect_request("/gauge.csv").respond_with_handler(slow)
    server.start()
    try:
        path = make_project(tmp_path, server.url_for("/gauge.csv"))
        db = tmp_path / "tracker.db"
        with Store(db):                                   # a store with history to protect
            pass
        proc = subprocess.Popen([*CLI, "run", "--config", str(path)], stderr=subprocess.PIPE, text=True)
        assert arrived.wait(60), "the run never fetched its source"
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    finally:
        release.set()
        server.stop()
    assert proc.returncode == 143, err
    assert "Terminated." in err
    assert query(db, "PRAGMA integrity_check") == [("ok",)]
    assert query(db, """SELECT v.id FROM vintages v LEFT JOIN observations o ON o.vintage_id = v.id
                        GROUP BY v.id HAVING COUNT(o.date) != MAX(v.rows)""") == []
    run = [r for r in runs(db) if r["kind"] == "run"][-1]
    assert run["status"] == "failed" and run["detail"]["error"] == "terminated by SIGTERM"
    assert not Path(f"{db}.lock").read_text()          # released
