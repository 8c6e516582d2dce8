"""`tracker schedule`: the foreground daemon (APScheduler 3.x), set up as PITFALLS §2.1 says.

- Jobs live in memory and are rebuilt from config.yaml at every start (§2.1.5); our `runs`
  table is the history, and it drives the one catch-up run at start.
- A misfire grace of hours, not APScheduler's 1 s default (§2.1.1); `coalesce=True` so a
  sleeping laptop wakes to one run, not a backlog (§2.1.2); one instance per job (§2.1.3).
- Triggers built from field values with weekday names, never `from_crontab` (§2.1.7).
- Errors, misses and skips are recorded in `runs` and pinged, not only logged (§2.1.8).
- SIGTERM/SIGINT stop the scheduler after the running job has finished (§2.1.9).
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import signal
import threading
from collections.abc import Callable
from typing import Any
from zoneinfo import ZoneInfo

from apscheduler.events import (
    EVENT_JOB_ERROR,
    EVENT_JOB_MAX_INSTANCES,
    EVENT_JOB_MISSED,
    EVENT_SCHEDULER_STARTED,
    JobEvent,
)
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.date import DateTrigger

from tracker.config import Config
from tracker.durations import parse_days
from tracker.errors import TrackerError
from tracker.ops import cron, nightly
from tracker.ops.runlock import run_lock
from tracker.service import Context
from tracker.store.db import Store

log = logging.getLogger("tracker.schedule")
Clock = Callable[[], dt.datetime]
JOBS = {"nightly": "nightly run", "digest": "weekly digest"}
EVENTS = {EVENT_JOB_ERROR: "error", EVENT_JOB_MISSED: "missed", EVENT_JOB_MAX_INSTANCES: "skipped"}


def triggers(config: Config) -> dict[str, CronTrigger]:
    """The nightly and digest triggers, in the configured time zone (no digest without `digest:`)."""
    zone = ZoneInfo(config.timezone)
    texts = {"nightly": config.schedule.nightly, "digest": config.schedule.digest}
    if config.digest is None:
        del texts["digest"]
    return {name: CronTrigger(**cron.parse(text, f"schedule.{name}").trigger_fields(), timezone=zone)
            for name, text in texts.items()}


def make_clock(config: Config, clock: Clock | None = None) -> Clock:
    zone = ZoneInfo(config.timezone)
    return clock or (lambda: dt.datetime.now(zone))


def build_scheduler(ctx: Context, clock: Clock | None = None) -> BlockingScheduler:
    cfg = ctx.config
    clock = make_clock(cfg, clock)
    grace = round(parse_days(cfg.schedule.misfire_grace) * 86400)
    scheduler = BlockingScheduler(
        timezone=ZoneInfo(cfg.timezone),
        jobstores={"default": MemoryJobStore()},
        # One worker: the nightly run and the digest never overlap inside the daemon (a fire
        # during the other job waits its turn, within the grace time, instead of failing the lock).
        executors={"default": ThreadPoolExecutor(max_workers=1)},
        job_defaults={"misfire_grace_time": grace, "coalesce": True, "max_instances": 1},
    )
    bodies = {"nightly": nightly_job, "digest": digest_job}
    for name, trigger in triggers(cfg).items():
        scheduler.add_job(bodies[name], trigger, args=[ctx, clock], id=name, name=JOBS[name],
                          replace_existing=True)
    scheduler.add_listener(functools.partial(on_event, ctx, clock, scheduler),
                           EVENT_JOB_ERROR | EVENT_JOB_MISSED | EVENT_JOB_MAX_INSTANCES)
    return scheduler


def nightly_job(ctx: Context, clock: Clock) -> None:
    try:
        nightly.run_nightly(ctx, now=clock())
    except TrackerError as exc:  # the lock is taken (recorded as skipped) or the store is unusable
        log.error("nightly run not started: %s", exc)


def digest_job(ctx: Context, clock: Clock) -> None:
    """The same two steps as `tracker digest --send`, under the run lock."""
    from tracker.views import digest

    nightly.configure_logging(ctx.config)
    try:
        with run_lock(ctx.config.store_path), ctx.store() as store:
            day = clock().astimezone(ZoneInfo(ctx.config.timezone)).date()
            log.info("%s", digest.send(ctx, store, digest.build(ctx, store, day), force=False))
    except TrackerError as exc:
        _failed(ctx, clock, "digest", "error", f"weekly digest failed: {exc}")


def on_event(ctx: Context, clock: Clock, scheduler: BlockingScheduler | None, event: JobEvent) -> None:
    """Errors, misses and skipped fires become `scheduler` runs and a failure ping; a missed
    nightly run (the machine slept past the grace time) is caught up once, at once."""
    status = EVENTS[event.code]
    if status == "error":
        exc = getattr(event, "exception", None)
        message = f"{JOBS.get(event.job_id, event.job_id)} raised {type(exc).__name__}: {exc}"
    elif status == "missed":
        message = (f"{JOBS.get(event.job_id, event.job_id)} missed its run time by more than "
                   "schedule.misfire_grace (was the machine asleep or the daemon stopped?)")
    else:
        message = f"{JOBS.get(event.job_id, event.job_id)} skipped: the previous one is still running"
    times = getattr(event, "scheduled_run_times", None) or [getattr(event, "scheduled_run_time", None)]
    _failed(ctx, clock, event.job_id, status, message, [t.isoformat() for t in times if t])
    if status == "missed" and event.job_id == "nightly" and scheduler is not None:
        try:
            plan_catch_up(scheduler, ctx, clock(), clock)
        except Exception:  # noqa: BLE001 — a listener must not raise; the log has it
            log.exception("could not plan a catch-up run")


def _failed(ctx: Context, clock: Clock, job: str, status: str, message: str,
            scheduled: list[str] | None = None) -> None:
    nightly.configure_logging(ctx.config)
    log.error("%s", message)
    detail: dict[str, Any] = {"job": job, "error": message}
    if scheduled:
        detail["scheduled"] = scheduled
    try:
        with Store(ctx.config.store_path) as store:
            store.record_run("scheduler", status, detail, now=clock())
    except Exception:  # noqa: BLE001 — a listener must not raise; the log has it
        log.exception("could not record the %s of %s in the store", status, job)
    nightly._ping(ctx.config.ping_url, ok=False)


def previous_fire_time(trigger: CronTrigger, now: dt.datetime) -> dt.datetime | None:
    """The trigger's last fire time at or before `now` (APScheduler 3 only looks forward)."""
    for days in (1, 8, 32, 367, 3000):
        start = (now.astimezone(dt.UTC) - dt.timedelta(days=days)).astimezone(trigger.timezone)
        fire = trigger.get_next_fire_time(None, start)
        if fire is not None and fire <= now:
            break
    else:
        return None
    while (after := trigger.get_next_fire_time(fire, now)) is not None and after <= now:
        fire = after
    return fire


def catch_up_needed(store: Store, now: dt.datetime, trigger: CronTrigger) -> bool:
    """True when no nightly run has succeeded since the trigger's last fire time (or ever)."""
    last = store.last_success(nightly.KIND)
    if last is None:
        return True
    fire = previous_fire_time(trigger, now)
    return fire is not None and last < fire


def plan_catch_up(scheduler: BlockingScheduler, ctx: Context, now: dt.datetime,
                  clock: Clock | None = None) -> bool:
    """Add one catch-up run now if the last period had no good run; missed fires are not replayed."""
    with Store(ctx.config.store_path) as store:
        needed = catch_up_needed(store, now, triggers(ctx.config)["nightly"])
    if needed:
        log.info("the last successful nightly run is older than its period: catching up now")
        scheduler.add_job(nightly_job, DateTrigger(run_date=now, timezone=ZoneInfo(ctx.config.timezone)),
                          args=[ctx, make_clock(ctx.config, clock)], id="catch-up", name="catch-up run",
                          replace_existing=True, misfire_grace_time=None)
    return needed


def next_runs(config: Config, now: dt.datetime) -> dict[str, str | None]:
    out = {}
    for name, trigger in triggers(config).items():
        fire = trigger.get_next_fire_time(None, now)
        out[name] = fire.isoformat() if fire else None
    return out


def dst_warning(config: Config) -> str | None:
    """A nightly run in 01:00–03:59 local time is moved or doubled on DST change nights."""
    zone = ZoneInfo(config.timezone)
    year = dt.datetime.now(zone).year
    offsets = {dt.datetime(year, m, 1, tzinfo=zone).utcoffset() for m in (1, 7)}
    hours = cron.parse(config.schedule.nightly, "schedule.nightly").hour
    if len(offsets) > 1 and len(hours) < 24 and hours & {1, 2, 3}:
        return (f"schedule.nightly runs between 01:00 and 03:59 in {config.timezone}, where clocks change "
                "for daylight saving: on those nights the run is moved or runs twice; 04:30 avoids it")
    return None


def serve(ctx: Context, clock: Clock | None = None) -> int:
    """Run the daemon in the foreground until SIGTERM or SIGINT; 0 after a clean stop."""
    nightly.configure_logging(ctx.config)
    clock = make_clock(ctx.config, clock)
    scheduler = build_scheduler(ctx, clock)
    if warning := dst_warning(ctx.config):
        log.warning("%s", warning)
    plan_catch_up(scheduler, ctx, clock(), clock)
    started = threading.Event()
    scheduler.add_listener(lambda event: started.set(), EVENT_SCHEDULER_STARTED)
    stopping: list[threading.Thread] = []

    def shutdown() -> None:
        started.wait()  # a signal before start() stops the scheduler as soon as it has started
        if scheduler.running:
            scheduler.shutdown(wait=True)

    def stop(signum: int, frame: object) -> None:
        # shutdown() runs on its own thread: the handler interrupts the main thread wherever it
        # is, possibly holding the scheduler's locks or the lock of the Event it waits on, and
        # shutdown(wait=True) waits for the running job, which may need those locks.
        if stopping:
            return
        log.info("%s: stopping after the running job finishes", signal.Signals(signum).name)
        stopping.append(threading.Thread(target=shutdown, name="tracker-shutdown"))
        stopping[0].start()

    previous = {s: signal.signal(s, stop) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        for name, when in next_runs(ctx.config, clock()).items():
            log.info("next %s: %s", JOBS[name], when)
        scheduler.start()
    finally:
        started.set()
        for s, handler in previous.items():
            signal.signal(s, handler)
    for thread in stopping:
        thread.join()
    log.info("scheduler stopped")
    return 0
