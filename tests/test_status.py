"""`tracker status`, the watchdog, at fixed instants: exit 1 when the last good nightly run is
older than stale_after (default 1.5d = 36 h) or there is none (PITFALLS §2.1.3)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from packbuilder import numeric, scenarios, write_pack

from tracker import service
from tracker.cli import main
from tracker.ops.status import render, status
from tracker.store.db import Store, utcnow

FINISHED = dt.datetime(2026, 6, 1, 3, 31, tzinfo=dt.UTC)


def make_project(root: Path, **config: object) -> Path:
    """`fresh` has a recent observation, `old` one from 2024 (stale after 400 days), `empty` none."""
    states = [{"name": "low", "below": 50}, {"name": "high", "at_least": 50}]
    lik = {"low": {"A": 0.8, "B": 0.2}, "high": {"A": 0.2, "B": 0.8}}
    path = write_pack(root, scenarios({"A": 0.5, "B": 0.5}, {"g": 1.0}),
                      [numeric(i, "g", states, lik) for i in ("empty", "fresh", "old")],
                      seeds={"fresh": [{"date": "2026-05-01", "value": 40}],
                             "old": [{"date": "2024-01-01", "value": 60}]})
    doc = yaml.safe_load(path.read_text())
    doc.update({"timezone": "Europe/London"}, **config)
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


@pytest.fixture
def ctx(tmp_path: Path):
    ctx = service.load(str(make_project(tmp_path)))
    with ctx.store():                                   # seeded
        pass
    return ctx


def check(ctx, now: dt.datetime) -> tuple[dict, int]:
    with Store(ctx.config.store_path) as store:
        return status(ctx, store, now)


def record(ctx, kind: str, state: str, finished: dt.datetime, detail: dict | None = None) -> None:
    with Store(ctx.config.store_path) as store:
        store.record_run(kind, state, detail or {}, now=finished)


def test_no_nightly_run_yet_fails(ctx):
    doc, code = check(ctx, FINISHED)
    assert code == 1
    assert doc["healthy"] is False
    assert doc["problems"] == [
        "no successful nightly run yet (`tracker run`, `tracker schedule` or `tracker cron`)"]
    assert doc["last_success"] is None and doc["last_run"] is None


@pytest.mark.parametrize(("hours_later", "code"), [(1, 0), (35.9, 0), (36, 0), (36.1, 1), (72, 1)])
def test_the_last_good_run_must_be_younger_than_stale_after(ctx, hours_later, code):
    record(ctx, "run", "ok", FINISHED)
    doc, got = check(ctx, FINISHED + dt.timedelta(hours=hours_later))
    assert got == code
    assert doc["last_success"] == "2026-06-01T03:31:00Z"
    assert doc["last_success_age_hours"] == hours_later
    assert doc["stale_after_hours"] == 36
    if code:
        assert doc["problems"] == [f"the last successful nightly run finished {hours_later:.1f} h ago, more "
                                   "than stale_after (1.5d = 36 h)"]


def test_failed_and_skipped_runs_do_not_count_but_partial_does(ctx):
    record(ctx, "run", "partial", FINISHED)
    record(ctx, "run", "failed", FINISHED + dt.timedelta(days=1), {"error": "RuntimeError: boom"})
    record(ctx, "run", "skipped", FINISHED + dt.timedelta(days=2),
           {"error": "another tracker run is in progress"})
    doc, code = check(ctx, FINISHED + dt.timedelta(days=2, hours=1))
    assert code == 1
    assert doc["last_success"] == "2026-06-01T03:31:00Z"
    assert doc["last_run"]["status"] == "skipped"
    assert [(r["status"], r.get("error")) for r in doc["runs"]] == [
        ("skipped", "another tracker run is in progress"), ("failed", "RuntimeError: boom"),
        ("partial", None)]


def test_a_custom_stale_after(tmp_path):
    ctx = service.load(str(make_project(tmp_path, stale_after="3d")))
    record(ctx, "run", "ok", FINISHED)
    assert check(ctx, FINISHED + dt.timedelta(hours=71))[1] == 0
    assert check(ctx, FINISHED + dt.timedelta(hours=73))[1] == 1


def test_failing_sources_stale_indicators_and_next_runs(ctx):
    record(ctx, "run", "ok", FINISHED, {"leading": "A", "trend": None})
    with Store(ctx.config.store_path) as store:
        run_id = store.begin_run("ingest", FINISHED)
        store.record_sources(run_id, [
            {"indicator": "fresh", "status": "failed", "error": "csv http://x/y.csv: HTTP 503"},
            {"indicator": "old", "status": "unchanged"}])
    now = dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.UTC)       # Monday 13:00 in London
    doc, code = check(ctx, now)
    assert code == 0
    assert doc["failing_sources"] == [{"indicator": "fresh", "error": "csv http://x/y.csv: HTTP 503",
                                       "at": "2026-06-01T03:31:00Z"}]
    assert doc["stale"] == ["old"] and doc["no_data"] == ["empty"]
    assert doc["next_runs"] == {"nightly": "2026-06-02T04:30:00+01:00"}      # no digest section
    assert doc["last_run"] | {"id": 0} == {"id": 0, "kind": "run", "started": "2026-06-01T03:31:00Z",
                                           "finished": "2026-06-01T03:31:00Z", "status": "ok",
                                           "leading": "A", "trend": None}
    text = render(doc)
    assert "OK: last successful nightly run 2026-06-01T03:31:00Z (8.5 h ago; limit 36 h)" in text
    assert "  fresh: csv http://x/y.csv: HTTP 503 (run of 2026-06-01T03:31:00Z)" in text
    assert "Stale indicators: old" in text and "No data yet: empty" in text
    assert "Next: nightly run 2026-06-02T04:30:00+01:00 (Europe/London)" in text


def test_next_runs_across_the_spring_forward_weekend(tmp_path):
    digest = {"from": "t@example.org", "to": ["a@example.org"],
              "smtp": {"host": "127.0.0.1", "security": "none"}}
    ctx = service.load(str(make_project(tmp_path, digest=digest)))
    doc, _ = check(ctx, dt.datetime(2026, 3, 28, 12, 0, tzinfo=dt.UTC))
    assert doc["next_runs"] == {"nightly": "2026-03-29T04:30:00+01:00", "digest": "2026-03-30T07:00:00+01:00"}


def test_tracker_status_cli_json_and_exit_codes(ctx):
    config = str(ctx.config.base_dir / "config.yaml")
    result = CliRunner().invoke(main, ["status", "--config", config, "--json"])
    assert result.exit_code == 1
    doc = json.loads(result.stdout)
    assert doc["healthy"] is False and doc["no_data"] == ["empty"]
    record(ctx, "run", "ok", utcnow())
    result = CliRunner().invoke(main, ["status", "--config", config])
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("tracker status — Test pack — ")
    assert "OK: last successful nightly run" in result.stdout


def test_an_alert_that_could_not_be_sent_is_reported_until_a_run_sends_it(ctx):
    failed = {"states": {"fresh": "high"}, "alerts": [], "alert_error": "cannot connect to SMTP server x:25"}
    record(ctx, "run", "partial", FINISHED, failed)
    record(ctx, "run", "failed", FINISHED + dt.timedelta(hours=1), {"error": "RuntimeError: boom"})
    doc, code = check(ctx, FINISHED + dt.timedelta(hours=2))
    assert code == 0                                     # the watchdog is about the run being done
    assert doc["alert_error"] | {"run": 0} == {"run": 0, "finished": "2026-06-01T03:31:00Z",
                                               "error": "cannot connect to SMTP server x:25"}
    said = " ".join(render(doc).split())                # wrapped to the terminal: lines joined
    assert (f"ALERT NOT SENT: run #{doc['alert_error']['run']} (2026-06-01T03:31:00Z) could not send its "
            "alert e-mail: cannot connect to SMTP server x:25; the next run tries again") in said
    record(ctx, "run", "ok", FINISHED + dt.timedelta(days=1), {"states": {"fresh": "high"}, "alerts": ["sent"]})
    doc, _ = check(ctx, FINISHED + dt.timedelta(days=1, hours=1))
    assert doc["alert_error"] is None and "ALERT NOT SENT" not in render(doc)
