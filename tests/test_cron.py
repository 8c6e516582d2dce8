"""`tracker cron`: real crontab lines (absolute paths, CRON_TZ, cron weekday numbers), and the
daemon's trigger firing at the same instants as the printed line across the DST weekends
(PITFALLS §2.1.6–7). A small cron evaluator below reads the printed line as cron does."""

from __future__ import annotations

import datetime as dt
import os
import stat
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import yaml
from click.testing import CliRunner
from packbuilder import numeric, scenarios, write_pack

from tracker import service
from tracker.cli import main
from tracker.errors import InputError
from tracker.ops import cron, schedule

UTC = dt.UTC
RANGES = ((0, 59), (0, 23), (1, 31), (1, 12), (0, 7))


def make_project(root: Path, digest: bool = True, **config: object) -> Path:
    path = write_pack(root, scenarios({"A": 0.5, "B": 0.5}, {"g": 1.0}), [
        numeric("gauge", "g", [{"name": "low", "below": 50}, {"name": "high", "at_least": 50}],
                {"low": {"A": 0.8, "B": 0.2}, "high": {"A": 0.2, "B": 0.8}})])
    doc = yaml.safe_load(path.read_text())
    doc.update({"timezone": "Europe/London"}, **config)
    if digest:
        doc["digest"] = {"from": "t@example.org", "to": ["a@example.org"],
                         "smtp": {"host": "127.0.0.1", "port": 2525, "security": "none"}}
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


@pytest.fixture
def fake_tracker(tmp_path: Path) -> Path:
    exe = tmp_path / "bin" / "tracker"
    exe.parent.mkdir()
    exe.write_text("#!/bin/sh\n")
    exe.chmod(exe.stat().st_mode | stat.S_IXUSR)
    return exe


# ---------------------------------------------------------------- a cron evaluator for the test

def expand(field: str, lo: int, hi: int) -> set[int]:
    out: set[int] = set()
    for item in field.split(","):
        base, _, step = item.partition("/")
        first, last = (lo, hi) if base == "*" else (int(base.partition("-")[0]),
                                                    int(base.partition("-")[2] or base))
        out |= set(range(first, last + 1, int(step or 1)))
    return out


def cron_next(line: str, zone: ZoneInfo, after: dt.datetime) -> dt.datetime:
    """The first real minute at or after `after` whose wall-clock time in `zone` matches the
    line, with cron's rule that a restricted day and weekday match when either does."""
    fields = line.split()[:5]
    minute, hour, dom, month, dow = (expand(f, lo, hi) for f, (lo, hi) in zip(fields, RANGES, strict=True))
    dow = {d % 7 for d in dow}
    either = not fields[2].startswith("*") and not fields[4].startswith("*")
    t = after.astimezone(UTC)
    if t.second or t.microsecond:
        t = t.replace(second=0, microsecond=0) + dt.timedelta(minutes=1)
    for _ in range(100_000):
        local = t.astimezone(zone)
        d_ok, w_ok = local.day in dom, local.isoweekday() % 7 in dow
        day_ok = (d_ok or w_ok) if either else (d_ok and w_ok)
        if day_ok and local.month in month and local.hour in hour:
            if local.minute in minute:
                return t
            t += dt.timedelta(minutes=1)
        elif day_ok and local.month in month or local.hour >= 22:
            t += dt.timedelta(minutes=60 - local.minute)          # to the next hour
        else:                                                       # towards the next day, never past
            t += dt.timedelta(hours=22 - local.hour, minutes=60 - local.minute)  # its midnight
    raise AssertionError("no fire time within reach")


def fire_times_agree(schedule_text: str, zone: ZoneInfo, start: dt.datetime,
                     count: int = 4) -> list[dt.datetime]:
    spec = cron.parse(schedule_text)
    line = f"{spec.crontab()} /usr/bin/true"
    trigger = schedule.CronTrigger(**spec.trigger_fields(), timezone=zone)
    daemon = trigger.get_next_fire_time(None, start)
    printed = cron_next(line, zone, start)
    seen = []
    for _ in range(count):
        assert daemon == printed, (schedule_text, zone.key, start, daemon, printed)
        seen.append(daemon)
        daemon = trigger.get_next_fire_time(daemon, daemon)
        printed = cron_next(line, zone, printed + dt.timedelta(minutes=1))
    return seen


SCHEDULES = ["30 4 * * *", "0 7 * * mon", "15 6,18 * * mon-fri", "45 23 * * sat-sun", "0 9 1 * *",
             "0 */6 * * sun", "30 12 * * */2", "5 4-5 * * fri-mon", "0 8 * jan-mar,oct-dec sun"]
DST_WEEKENDS = [
    ("Europe/London", dt.datetime(2026, 3, 27, 0, 0)), ("Europe/London", dt.datetime(2026, 10, 23, 0, 0)),
    ("US/Eastern", dt.datetime(2026, 3, 6, 0, 0)), ("US/Eastern", dt.datetime(2026, 10, 30, 0, 0)),
]


@pytest.mark.parametrize("text", SCHEDULES)
@pytest.mark.parametrize(("zone_name", "friday"), DST_WEEKENDS)
def test_the_daemon_and_the_printed_cron_line_fire_at_the_same_instants(text, zone_name, friday):
    zone = ZoneInfo(zone_name)
    for hours in range(0, 4 * 24, 5):                      # Friday to Tuesday, every 5 hours
        fire_times_agree(text, zone, (friday + dt.timedelta(hours=hours, minutes=7)).replace(tzinfo=zone))


def test_from_inside_the_repeated_hour_both_give_the_same_next_run():
    london = ZoneInfo("Europe/London")
    first = dt.datetime(2026, 10, 25, 1, 30, fold=0, tzinfo=london)   # 00:30 UTC
    second = dt.datetime(2026, 10, 25, 1, 30, fold=1, tzinfo=london)  # 01:30 UTC
    for start in (first, second):
        assert fire_times_agree("30 4 * * *", london, start, count=2) == [
            dt.datetime(2026, 10, 25, 4, 30, tzinfo=UTC), dt.datetime(2026, 10, 26, 4, 30, tzinfo=UTC)]


def test_the_nightly_run_around_the_london_dst_weekends_at_known_instants():
    london = ZoneInfo("Europe/London")
    spring = fire_times_agree("30 4 * * *", london, dt.datetime(2026, 3, 28, 12, 0, tzinfo=london), count=2)
    assert spring == [dt.datetime(2026, 3, 29, 3, 30, tzinfo=UTC),
                      dt.datetime(2026, 3, 30, 3, 30, tzinfo=UTC)]
    autumn = fire_times_agree("0 7 * * sun", london, dt.datetime(2026, 10, 24, 12, 0, tzinfo=london), count=2)
    assert autumn == [dt.datetime(2026, 10, 25, 7, 0, tzinfo=UTC), dt.datetime(2026, 11, 1, 7, 0, tzinfo=UTC)]


# ---------------------------------------------------------------- reading the config's syntax

@pytest.mark.parametrize(("text", "crontab", "weekdays"), [
    ("30 4 * * *", "30 4 * * *", "*"),
    ("0 7 * * mon", "0 7 * * 1", "mon"),
    ("0 7 * * sun", "0 7 * * 0", "sun"),
    ("0 7 * * mon-fri", "0 7 * * 1-5", "mon,tue,wed,thu,fri"),
    ("0 7 * * sat-sun", "0 7 * * 0,6", "sun,sat"),            # wraps past Saturday
    ("0 7 * * fri-mon", "0 7 * * 0-1,5-6", "sun,mon,fri,sat"),
    ("0 7 * * */2", "0 7 * * 0,2,4,6", "sun,tue,thu,sat"),     # cron steps from Sunday
    ("*/15 0-23/6 1-31 * *", "0,15,30,45 0,6,12,18 * * *", "*"),
    ("0 6 * jan,jul *", "0 6 * 1,7 *", "*"),
    ("5/20 4 * * *", "5,25,45 4 * * *", "*"),
])
def test_schedules_are_read_into_explicit_sets(text, crontab, weekdays):
    spec = cron.parse(text)
    assert spec.crontab() == crontab
    assert spec.trigger_fields()["day_of_week"] == weekdays


@pytest.mark.parametrize(("text", "message"), [
    ("0 7 * * 1", "s: day_of_week field '1': use weekday names (mon … sun); APScheduler 3 reads 0 as "
                  "Monday, cron as Sunday"),
    ("0 7 1 * mon", "s: '0 7 1 * mon' restricts both the day and the weekday; cron runs a job when either "
                    "matches and APScheduler when both do, so restrict only one of them"),
    ("61 4 * * *", "s: minute field '61': expected values from 0 to 59"),
    ("0 5-4 * * *", "s: hour field '5-4': the range 5-4 runs backwards"),
    ("0 4 * * * *", "s: expected five cron fields (minute hour day month weekday), got '0 4 * * * *'"),
    ("0 4 last * *", "s: day field 'last': 'last' is not a number"),
])
def test_what_cron_and_apscheduler_would_read_differently_is_refused(text, message):
    with pytest.raises(InputError) as err:
        cron.parse(text, "s")
    assert str(err.value) == message
    assert err.value.exit_code == 2


# ---------------------------------------------------------------- the printed lines

def test_cron_lines_use_absolute_paths_cron_tz_and_append_to_the_log(tmp_path, fake_tracker, monkeypatch):
    path = make_project(tmp_path, timezone="US/Eastern", schedule={"nightly": "30 5 * * *",
                                                                    "digest": "0 7 * * sun"})
    monkeypatch.chdir(tmp_path)
    ctx = service.load("config.yaml")
    text = cron.cron_lines(ctx, Path("config.yaml"), str(fake_tracker))
    lines = [x for x in text.splitlines() if not x.startswith("#")]
    assert lines == [
        "CRON_TZ=US/Eastern",
        f"30 5 * * * {fake_tracker} run --config {path} >> {tmp_path}/tracker.log 2>&1",
        f"0 7 * * 0 {fake_tracker} digest --send --config {path} >> {tmp_path}/tracker.log 2>&1",
    ]
    assert all(Path(p).is_absolute() for p in (str(fake_tracker), str(path)))


def test_no_digest_section_prints_no_digest_line(tmp_path, fake_tracker):
    ctx = service.load(str(make_project(tmp_path, digest=False)))
    text = cron.cron_lines(ctx, tmp_path / "config.yaml", str(fake_tracker))
    assert "digest --send" not in text
    assert "# No weekly digest: config.yaml has no `digest:` section." in text


def test_paths_are_quoted_for_the_shell_and_percent_escaped_for_cron(tmp_path, fake_tracker):
    odd = tmp_path / "my 100% dir"
    odd.mkdir()
    ctx = service.load(str(make_project(odd)))
    text = cron.cron_lines(ctx, odd / "config.yaml", str(fake_tracker))
    where = f"{tmp_path}/my 100\\% dir"
    assert f"--config '{where}/config.yaml' >> '{where}/tracker.log' 2>&1" in text


def test_the_executable_is_found_from_argv0_or_path(tmp_path, fake_tracker, monkeypatch):
    monkeypatch.setattr("sys.argv", [str(fake_tracker), "cron"])
    assert cron.find_executable() == fake_tracker
    monkeypatch.setattr("sys.argv", ["-c"])
    monkeypatch.setenv("PATH", str(fake_tracker.parent) + os.pathsep + os.environ.get("PATH", ""))
    assert cron.find_executable() == fake_tracker
    monkeypatch.setenv("PATH", str(tmp_path / "nowhere"))
    with pytest.raises(Exception, match="cannot find the `tracker` program on PATH"):
        cron.find_executable()


def test_tracker_cron_prints_the_lines(tmp_path, fake_tracker):
    path = make_project(tmp_path)
    result = CliRunner().invoke(main, ["cron", "--config", str(path), "--executable", str(fake_tracker)])
    assert result.exit_code == 0, result.output
    assert f"30 4 * * * {fake_tracker} run --config {path} >> {tmp_path}/tracker.log 2>&1\n" in result.output
    assert "CRON_TZ=Europe/London\n" in result.output
    bad = CliRunner().invoke(main, ["cron", "--config", str(path), "--executable", str(tmp_path / "nope")])
    assert bad.exit_code == 2
    assert f"Error: --executable {tmp_path}/nope: no such program" in bad.output
