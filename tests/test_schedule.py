"""`tracker schedule`: the APScheduler 3 set-up of PITFALLS §2.1, next fire times on the DST
weekends from fixed zone-aware instants, one catch-up run (never a backlog), the listeners
that record errors and misses, and SIGTERM letting the running job finish."""

from __future__ import annotations

import datetime as dt
import signal
import subprocess
import sys
import threading
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import yaml
from apscheduler.events import (
    EVENT_JOB_ERROR,
    EVENT_JOB_EXECUTED,
    EVENT_JOB_MAX_INSTANCES,
    JobExecutionEvent,
    JobSubmissionEvent,
)
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.triggers.cron import CronTrigger
from packbuilder import numeric, scenarios, write_pack
from pytest_httpserver import HTTPServer
from smtpserver import smtp_server
from werkzeug import Request, Response

from tracker import service
from tracker.ops import nightly, schedule
from tracker.ops.runlock import run_lock
from tracker.store.db import Store

LONDON = ZoneInfo("Europe/London")
EASTERN = ZoneInfo("US/Eastern")
CLI = [sys.executable, "-c", "from tracker.cli import main; main()"]


def make_project(root: Path, source: dict | None = None, **config: object) -> Path:
    """One indicator (manual unless `source` is given) and a config with a digest section."""
    path = write_pack(root, scenarios({"A": 0.5, "B": 0.5}, {"g": 1.0}), [
        numeric("gauge", "g", [{"name": "low", "below": 50}, {"name": "high", "at_least": 50}],
                {"low": {"A": 0.8, "B": 0.2}, "high": {"A": 0.2, "B": 0.8}},
                **({"source": source} if source else {}))],
        seeds={"gauge": [{"date": "2026-04-01", "value": 45, "published": "2026-04-02"}]} if source else None)
    doc = yaml.safe_load(path.read_text())
    doc.update({"timezone": "Europe/London",
                "digest": {"from": "t@example.org", "to": ["a@example.org"],
                           "smtp": {"host": "127.0.0.1", "port": 2525, "security": "none"}}}, **config)
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


@pytest.fixture
def ctx(tmp_path: Path):
    return service.load(str(make_project(tmp_path)))


def runs(ctx) -> list[dict]:
    with Store(ctx.config.store_path) as store:
        return list(reversed(store.runs(limit=100)))


def succeed(ctx, finished: dt.datetime) -> None:
    with Store(ctx.config.store_path) as store:
        store.record_run("run", "ok", {}, now=finished)


@pytest.fixture(autouse=True)
def _own_logging():
    """Runs log to their config's file and stderr; leave no handler behind for other tests."""
    yield
    nightly.reset_logging()


# ---------------------------------------------------------------- the set-up

def test_the_scheduler_is_built_as_pitfalls_2_1_says(ctx):
    scheduler = schedule.build_scheduler(ctx)
    assert scheduler.timezone == LONDON
    assert scheduler._job_defaults == {"misfire_grace_time": 6 * 3600, "coalesce": True, "max_instances": 1}
    assert isinstance(scheduler._jobstores["default"], MemoryJobStore)
    assert isinstance(scheduler._executors["default"], ThreadPoolExecutor)
    jobs = {job.id: job for job in scheduler.get_jobs()}
    assert sorted(jobs) == ["digest", "nightly"]
    assert str(jobs["nightly"].trigger) == "cron[month='*', day='*', day_of_week='*', hour='4', minute='30']"
    assert str(jobs["digest"].trigger) == "cron[month='*', day='*', day_of_week='mon', hour='7', minute='0']"
    assert jobs["nightly"].trigger.timezone == LONDON


def test_no_digest_section_means_no_digest_job(tmp_path):
    path = make_project(tmp_path)
    doc = yaml.safe_load(path.read_text())
    del doc["digest"]
    path.write_text(yaml.safe_dump(doc))
    scheduler = schedule.build_scheduler(service.load(str(path)))
    assert [job.id for job in scheduler.get_jobs()] == ["nightly"]


def test_weekday_names_mean_what_cron_means_unlike_from_crontab(tmp_path):
    paris = ZoneInfo("Europe/Paris")
    path = make_project(tmp_path, timezone="Europe/Paris", schedule={"digest": "0 8 * * sun"})
    ctx = service.load(str(path))
    after = dt.datetime(2026, 3, 1, 9, 0, tzinfo=paris)          # a Sunday, after 08:00
    ours = schedule.triggers(ctx.config)["digest"]
    assert ours.get_next_fire_time(None, after) == dt.datetime(2026, 3, 8, 8, 0, tzinfo=paris)
    # The pitfall avoided (§2.1.7): from_crontab reads 0 as Monday.
    theirs = CronTrigger.from_crontab("0 8 * * 0", timezone=paris)
    assert theirs.get_next_fire_time(None, after) == dt.datetime(2026, 3, 2, 8, 0, tzinfo=paris)


@pytest.mark.parametrize(("zone", "after", "expected"), [
    # Europe/London springs forward on Sunday 2026-03-29 (01:00 GMT → 02:00 BST)…
    (LONDON, dt.datetime(2026, 3, 28, 12, 0, tzinfo=LONDON),
     [dt.datetime(2026, 3, 29, 3, 30, tzinfo=dt.UTC), dt.datetime(2026, 3, 30, 3, 30, tzinfo=dt.UTC)]),
    # …and falls back on Sunday 2026-10-25 (02:00 BST → 01:00 GMT), from inside the repeated hour.
    (LONDON, dt.datetime(2026, 10, 25, 1, 30, fold=1, tzinfo=LONDON),
     [dt.datetime(2026, 10, 25, 4, 30, tzinfo=dt.UTC), dt.datetime(2026, 10, 26, 4, 30, tzinfo=dt.UTC)]),
    (LONDON, dt.datetime(2026, 10, 24, 12, 0, tzinfo=LONDON),
     [dt.datetime(2026, 10, 25, 4, 30, tzinfo=dt.UTC), dt.datetime(2026, 10, 26, 4, 30, tzinfo=dt.UTC)]),
    # US/Eastern: 2026-03-08 and 2026-11-01.
    (EASTERN, dt.datetime(2026, 3, 7, 23, 0, tzinfo=EASTERN),
     [dt.datetime(2026, 3, 8, 8, 30, tzinfo=dt.UTC), dt.datetime(2026, 3, 9, 8, 30, tzinfo=dt.UTC)]),
    (EASTERN, dt.datetime(2026, 10, 31, 23, 0, tzinfo=EASTERN),
     [dt.datetime(2026, 11, 1, 9, 30, tzinfo=dt.UTC), dt.datetime(2026, 11, 2, 9, 30, tzinfo=dt.UTC)]),
])
def test_the_nightly_run_keeps_its_wall_clock_time_across_dst(tmp_path, zone, after, expected):
    ctx = service.load(str(make_project(tmp_path, timezone=zone.key)))
    trigger = schedule.triggers(ctx.config)["nightly"]
    first = trigger.get_next_fire_time(None, after)
    second = trigger.get_next_fire_time(first, first)
    assert [first, second] == expected
    assert first.astimezone(zone).strftime("%H:%M") == second.astimezone(zone).strftime("%H:%M") == "04:30"


def test_a_nightly_hour_inside_the_dst_change_is_warned_about(tmp_path):
    ctx = service.load(str(make_project(tmp_path, schedule={"nightly": "30 1 * * *"})))
    assert "runs between 01:00 and 03:59 in Europe/London" in schedule.dst_warning(ctx.config)
    ctx = service.load(str(make_project(tmp_path, timezone="UTC", schedule={"nightly": "30 1 * * *"})))
    assert schedule.dst_warning(ctx.config) is None
    ctx = service.load(str(make_project(tmp_path)))
    assert schedule.dst_warning(ctx.config) is None


# ---------------------------------------------------------------- catch-up

def test_previous_fire_time_looks_back_from_a_fixed_instant(ctx):
    t = schedule.triggers(ctx.config)
    now = dt.datetime(2026, 3, 29, 12, 0, tzinfo=LONDON)          # the spring-forward Sunday
    assert schedule.previous_fire_time(t["nightly"], now) == dt.datetime(2026, 3, 29, 4, 30, tzinfo=LONDON)
    assert schedule.previous_fire_time(t["digest"], now) == dt.datetime(2026, 3, 23, 7, 0, tzinfo=LONDON)
    exactly = dt.datetime(2026, 3, 29, 4, 30, tzinfo=LONDON)
    assert schedule.previous_fire_time(t["nightly"], exactly) == exactly


@pytest.mark.parametrize(("last_success", "now", "needed"), [
    (None, dt.datetime(2026, 6, 2, 10, 0), True),                              # never ran
    (dt.datetime(2026, 6, 2, 4, 31), dt.datetime(2026, 6, 2, 10, 0), False),   # ran this morning
    (dt.datetime(2026, 6, 1, 4, 31), dt.datetime(2026, 6, 2, 10, 0), True),    # missed this morning
    (dt.datetime(2026, 6, 1, 4, 31), dt.datetime(2026, 6, 2, 4, 0), False),    # tonight's is not due yet
    (dt.datetime(2026, 5, 29, 4, 31), dt.datetime(2026, 6, 2, 10, 0), True),   # several nights missed
])
def test_catch_up_is_needed_only_when_the_last_period_had_no_good_run(ctx, last_success, now, needed):
    if last_success:
        succeed(ctx, last_success.replace(tzinfo=LONDON))
    with Store(ctx.config.store_path) as store:
        trigger = schedule.triggers(ctx.config)["nightly"]
        assert schedule.catch_up_needed(store, now.replace(tzinfo=LONDON), trigger) is needed


def test_missed_nights_give_one_catch_up_run_at_start_not_a_backlog(ctx):
    now = dt.datetime(2026, 6, 5, 10, 0, tzinfo=LONDON)
    succeed(ctx, dt.datetime(2026, 6, 1, 4, 31, tzinfo=LONDON))         # four nights missed
    scheduler = schedule.build_scheduler(ctx, clock=lambda: now)
    assert schedule.plan_catch_up(scheduler, ctx, now, lambda: now) is True
    assert schedule.plan_catch_up(scheduler, ctx, now, lambda: now) is True  # replaces, never adds
    jobs = {job.id: job for job in scheduler.get_jobs()}
    assert sorted(jobs) == ["catch-up", "digest", "nightly"]
    # The regular job starts from the next fire time: the missed nights are not replayed.
    upcoming = jobs["nightly"].trigger.get_next_fire_time(None, now)
    assert upcoming == dt.datetime(2026, 6, 6, 4, 30, tzinfo=LONDON)
    catch_up = jobs["catch-up"]
    catch_up.func(*catch_up.args)                                        # the one catch-up run
    assert [r["status"] for r in runs(ctx) if r["kind"] == "run"] == ["ok", "ok"]
    again = schedule.build_scheduler(ctx, clock=lambda: now)
    assert schedule.plan_catch_up(again, ctx, now, lambda: now) is False
    assert "catch-up" not in [job.id for job in again.get_jobs()]


def test_a_missed_fire_in_the_running_daemon_is_recorded_and_caught_up_once(tmp_path):
    # A 1 s grace and a next run time three days back: the machine slept through three nights.
    ctx = service.load(str(make_project(tmp_path, schedule={"misfire_grace": "0.00001d"})))
    scheduler = schedule.build_scheduler(ctx)
    done = threading.Event()
    scheduler.add_listener(lambda e: e.job_id == "catch-up" and done.set(), EVENT_JOB_EXECUTED)
    thread = threading.Thread(target=scheduler.start, daemon=True)
    thread.start()
    try:
        three_days_ago = dt.datetime.now(LONDON) - dt.timedelta(days=3)
        scheduler.modify_job("nightly", next_run_time=three_days_ago)
        assert done.wait(60), "no catch-up run"
        rows = [(r["kind"], r["status"], r["detail"].get("job")) for r in runs(ctx)]
        assert rows.count(("scheduler", "missed", "nightly")) == 1   # coalesced: one miss, not three
        assert [r for r in rows if r[0] == "run"] == [("run", "ok", None)]
        assert scheduler.get_job("catch-up") is None                  # a one-off
        assert scheduler.get_job("nightly").next_run_time > dt.datetime.now(LONDON)
    finally:
        scheduler.shutdown(wait=True)
        thread.join(30)


# ---------------------------------------------------------------- listeners and job bodies

def test_job_errors_and_skips_are_recorded_as_scheduler_runs(tmp_path, httpserver):
    httpserver.expect_request("/ping/fail").respond_with_data("OK")
    ctx = service.load(str(make_project(tmp_path, ping_url=httpserver.url_for("/ping"))))
    at = dt.datetime(2026, 6, 2, 4, 30, tzinfo=LONDON)
    clock = lambda: at  # noqa: E731
    schedule.on_event(ctx, clock, None, JobExecutionEvent(EVENT_JOB_ERROR, "nightly", "default", at,
                                                          exception=RuntimeError("disk full")))
    schedule.on_event(ctx, clock, None,
                      JobSubmissionEvent(EVENT_JOB_MAX_INSTANCES, "nightly", "default", [at]))
    rows = [(r["kind"], r["status"], r["detail"]) for r in runs(ctx)]
    assert rows == [
        ("scheduler", "error", {"job": "nightly", "error": "nightly run raised RuntimeError: disk full",
                                "scheduled": ["2026-06-02T04:30:00+01:00"]}),
        ("scheduler", "skipped", {"job": "nightly", "error": "nightly run skipped: the previous one is still "
                                  "running", "scheduled": ["2026-06-02T04:30:00+01:00"]}),
    ]
    assert [req.path for req, _ in httpserver.log] == ["/ping/fail", "/ping/fail"]


@pytest.fixture
def smtp_port():
    with smtp_server() as (inbox, port):
        yield port, inbox


def digest_ctx(tmp_path: Path, port: int):
    path = make_project(tmp_path)
    doc = yaml.safe_load(path.read_text())
    doc["digest"]["smtp"]["port"] = port
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return service.load(str(path))


MONDAY_7AM = dt.datetime(2026, 6, 1, 7, 0, tzinfo=LONDON)


def test_the_digest_job_sends_the_week_once(tmp_path, smtp_port):
    port, inbox = smtp_port
    ctx = digest_ctx(tmp_path, port)
    schedule.digest_job(ctx, lambda: MONDAY_7AM)
    schedule.digest_job(ctx, lambda: MONDAY_7AM)                # a second fire the same week
    assert len(inbox.messages) == 1
    with Store(ctx.config.store_path) as store:
        assert store.send_state("2026-06-01")["status"] == "sent"
    assert [(r["kind"], r["status"]) for r in runs(ctx)] == [("scheduler", "error")]
    assert "already sent" in runs(ctx)[0]["detail"]["error"]


def test_the_digest_job_waits_for_no_one_when_a_run_holds_the_lock(tmp_path, smtp_port):
    port, inbox = smtp_port
    ctx = digest_ctx(tmp_path, port)
    held = threading.Event()
    release = threading.Event()

    def hold() -> None:
        with run_lock(ctx.config.store_path):
            held.set()
            release.wait(10)

    t = threading.Thread(target=hold)
    t.start()
    held.wait(10)
    try:
        schedule.digest_job(ctx, lambda: MONDAY_7AM)
    finally:
        release.set()
        t.join()
    assert inbox.messages == []
    [row] = runs(ctx)
    assert row["status"] == "error" and "another tracker run is in progress" in row["detail"]["error"]


def test_a_digest_failure_is_recorded(tmp_path):
    ctx = digest_ctx(tmp_path, 9)                                # nothing listens on port 9
    schedule.digest_job(ctx, lambda: MONDAY_7AM)
    [row] = runs(ctx)
    assert row["status"] == "error" and row["detail"]["error"].startswith("weekly digest failed: ")
    with Store(ctx.config.store_path) as store:
        assert store.send_state("2026-06-01")["status"] == "failed"


# ---------------------------------------------------------------- the daemon and SIGTERM

def test_sigterm_lets_the_running_job_finish_then_the_daemon_exits_0(tmp_path):
    arrived = threading.Event()

    def slow(request: Request) -> Response:
        arrived.set()
        threading.Event().wait(2)                       # a slow source: answers after 2 s
        return Response("date,value\n2026-04-01,45\n2026-05-01,60\n", content_type="text/csv")

    server = HTTPServer(threaded=True)
    server.expect_request("/gauge.csv").respond_with_handler(slow)
    server.start()
    try:
        path = make_project(tmp_path, {"kind": "csv", "url": server.url_for("/gauge.csv")},
                            http={"retries": 0, "timeout": 10, "deadline": 20})
        proc = subprocess.Popen([*CLI, "schedule", "--config", str(path)], stderr=subprocess.PIPE, text=True)
        assert arrived.wait(60), "the catch-up run never fetched its source"   # no good run yet
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    finally:
        server.stop()
    assert proc.returncode == 0, err
    assert "SIGTERM: stopping after the running job finishes" in err
    assert "scheduler stopped" in err
    ctx = service.load(str(path))
    run = [r for r in runs(ctx) if r["kind"] == "run"]
    assert [r["status"] for r in run] == ["ok"]                  # the write was not cut
    assert run[0]["detail"]["states"] == {"gauge": "high"}
