"""`tracker status`: the watchdog. Exit 1 when the last good nightly run is older than
`stale_after` or there is none — a hung or skipped job surfaces here even when nothing else
reports it (PITFALLS §2.1.1, §2.1.3)."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from tracker.durations import parse_days
from tracker.errors import TrackerError
from tracker.ops import nightly, schedule
from tracker.ops.liveness import close_dead_runs
from tracker.service import Context
from tracker.store import sourcelog
from tracker.store.db import Store, iso_instant
from tracker.views.terminal import fit

RECENT = 10


def status(ctx: Context, store: Store, now: dt.datetime) -> tuple[dict[str, Any], int]:
    cfg = ctx.config
    closed = close_dead_runs(store, now)
    last = store.last_success(nightly.KIND)
    limit_hours = parse_days(cfg.stale_after) * 24
    age_hours = (now - last).total_seconds() / 3600 if last else None
    problems = []
    if last is None or age_hours is None:
        problems.append("no successful nightly run yet (`tracker run`, `tracker schedule` or `tracker cron`)")
    elif age_hours > limit_hours:
        problems.append(f"the last successful nightly run finished {age_hours:.1f} h ago, more than "
                        f"stale_after ({cfg.stale_after} = {limit_hours:g} h)")
    latest = store.runs(kind=nightly.KIND, limit=1)
    problems += _fetched_nothing(latest[0] if latest else None)
    doc: dict[str, Any] = {
        "now": iso_instant(now),
        "timezone": cfg.timezone,
        "pack": ctx.pack.name,
        "store": str(cfg.store_path),
        "healthy": not problems,
        "problems": problems,
        "last_success": iso_instant(last) if last else None,
        "last_success_age_hours": round(age_hours, 2) if age_hours is not None else None,
        "stale_after_hours": limit_hours,
        "last_run": _run_row(latest[0]) if latest else None,
        "runs": [_run_row(r) for r in store.runs(limit=RECENT)],
        "failing_sources": store.failing_sources(),
        "empty_sources": sourcelog.empty_sources(store, ctx.pack.live_ids),
        "empty_after": cfg.empty_after,
        "next_runs": schedule.next_runs(cfg, now),
        "sends": store.sends(limit=3),
        "alert_error": _alert_error(store),
        "closed_dead_runs": closed,
    }
    doc.update(_staleness(ctx, store, now))
    return doc, 0 if not problems else 1


def _fetched_nothing(run: dict[str, Any] | None) -> list[str]:
    """A run that finished while every live source failed is not a good night: the call it made
    rests on old data only (issue 16: status said OK after such a run)."""
    counts = (run or {}).get("detail", {}).get("sources") or {}
    failed = counts.get("failed", 0)
    if not failed or counts.get("new", 0) or counts.get("unchanged", 0) or counts.get("empty", 0):
        return []
    return [f"every live source failed in the last nightly run ({failed} of {failed}); "
            "see failing_sources, then `tracker ingest` to retry"]


def _staleness(ctx: Context, store: Store, now: dt.datetime) -> dict[str, Any]:
    """Stale and empty indicators as of today, as `tracker score --json` reports them."""
    from tracker import service
    from tracker.views import report

    day = now.astimezone(ZoneInfo(ctx.config.timezone)).date()
    try:
        doc = report.to_json(service.score(ctx, store, day))
    except TrackerError as exc:
        return {"stale": None, "no_data": None, "score_error": str(exc)}
    return {"stale": doc["stale"], "no_data": doc["no_data"],
            "not_enough_history": doc.get("not_enough_history") or {}}


def _alert_error(store: Store) -> dict[str, Any] | None:
    """The last good nightly run's alert, when it could not be sent: a change nobody was told of.
    Only that run counts: the next run alerts the same change again, or it is gone."""
    good = next((r for r in store.runs(kind=nightly.KIND, limit=50) if r["status"] in ("ok", "partial")), None)
    if good is None or not good["detail"].get("alert_error"):
        return None
    return {"run": good["id"], "finished": good["finished"], "error": good["detail"]["alert_error"]}


def _run_row(run: dict[str, Any]) -> dict[str, Any]:
    detail = run["detail"]
    row = {k: run[k] for k in ("id", "kind", "started", "finished", "status")}
    for key in ("job", "error", "failed_sources", "alerts", "alert_error", "leading"):
        if detail.get(key):
            row[key] = detail[key]
    if "trend" in detail:
        row["trend"] = (detail["trend"] or {}).get("scenario")
    return row


def render(doc: dict[str, Any]) -> str:
    """The status as lines that fit the terminal (80 columns when unknown): long messages wrap
    at spaces and long lists end in "and N more" (views/terminal.py; issue 17)."""
    lines = [*fit(f"tracker status — {doc['pack']} — {doc['now']}"), ""]
    if doc["healthy"]:
        lines += fit(f"OK: last successful nightly run {doc['last_success']} "
                     f"({doc['last_success_age_hours']:.1f} h ago; limit {doc['stale_after_hours']:g} h)")
    else:
        lines += [line for p in doc["problems"] for line in fit(f"FAILING: {p}")]
    names = schedule.JOBS
    lines += fit("Next: " + "; ".join(f"{names[k]} {v or 'never'}" for k, v in doc["next_runs"].items())
                 + f" ({doc['timezone']})")
    if doc.get("alert_error"):
        alert = doc["alert_error"]
        lines += ["", *fit(f"ALERT NOT SENT: run #{alert['run']} ({alert['finished']}) could not send its alert "
                           f"e-mail: {alert['error']}; the next run tries again")]
    if doc["failing_sources"]:
        lines += ["", "Failing sources (latest attempt):"]
        lines += [x for s in doc["failing_sources"]
                  for x in fit(f"{s['indicator']}: {s['error']} (run of {s['at']})", "  ")]
    if doc.get("empty_sources"):
        lines += ["", *fit("Answered with no data (latest attempt; failing after "
                           f"{doc['empty_after']} nights in a row):")]
        lines += [x for s in doc["empty_sources"]
                  for x in fit(f"{s['indicator']}: {s['nights']} night(s) in a row, since {s['since']}", "  ")]
    if doc.get("score_error"):
        lines += ["", *fit(f"Could not score: {doc['score_error']}")]
    lines += _indicator_lists(doc)
    if doc["runs"]:
        lines += ["", "Recent runs:"]
        for r in doc["runs"]:
            what = ": ".join(x for x in (r.get("job"), r.get("error") or r.get("alert_error")) if x)
            lines += fit(f"#{r['id']:<5} {r['kind']:<10} {r['status']:<8} {r['started']} → "
                         f"{r['finished'] or '…'}  {what}".rstrip(), "  ", hang="      ")
    return "\n".join(lines)


LIST_SHOWN = 12
"""Ids shown of the stale and no-data lists; --json carries all of them."""


def _indicator_lists(doc: dict[str, Any]) -> list[str]:
    """Stale, without data, and with too little history for their transforms, as `tracker
    score` lists them."""
    lines: list[str] = []
    short = doc.get("not_enough_history") or {}
    none = [i for i in doc.get("no_data") or [] if i not in short]
    where = "tracker status --json lists them all"
    for label, items in (("Stale indicators", doc.get("stale") or []), ("No data yet", none),
                         ("Not enough history", [f"{i} ({x['message'].removeprefix('not enough history: ')})"
                                                 for i, x in short.items()])):
        if items:
            more = len(items) - LIST_SHOWN
            text = f"{label}: {', '.join(items[:LIST_SHOWN])}" + (f" and {more:,} more ({where})" if more > 0 else "")
            lines += ["", *fit(text)]
    return lines
