"""`tracker run`, the nightly job: ingest, score, store, alert on a changed state or trend call.

Every outcome lands in `runs` — ok, partial (some sources failed or the alert e-mail could not
be sent, exit 3), failed (exit 1) — with a detail holding the states, the trend call, the
probabilities and what was alerted.
Each write is one store transaction, so a crash or a SIGTERM at any point leaves the previous
state intact (PITFALLS §2.1.9, §2.2). The run holds `<store>.lock` throughout (runlock.py).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import os
import sqlite3
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from tracker.config import Config
from tracker.errors import TrackerError
from tracker.ops.runlock import run_lock
from tracker.service import Context
from tracker.signals import Terminated
from tracker.store.db import Store, utcnow

log = logging.getLogger("tracker.nightly")
KIND = "run"
SCORE_WEEKS = 53
"""Weekly rows of probabilities stored per run: the last year, enough for `tracker history`."""
PING_TIMEOUT = 10.0


def run_nightly(ctx: Context, now: dt.datetime | None = None, ping: bool = True) -> int:
    """One nightly run; returns 0 (ok), 3 (some sources failed, or the alert could not be sent)
    or 1 (failed).

    Raises TrackerError before a run exists: the lock is held elsewhere (recorded as a
    `skipped` run) or the store cannot be opened.
    """
    configure_logging(ctx.config)
    now = (now or utcnow()).astimezone(dt.UTC)
    stack = contextlib.ExitStack()
    try:
        stack.enter_context(run_lock(ctx.config.store_path))
    except TrackerError as exc:
        log.error("%s", exc)
        with contextlib.suppress(TrackerError, sqlite3.Error), Store(ctx.config.store_path) as store:
            store.record_run(KIND, "skipped", {"error": str(exc)}, now=now)
        raise
    with stack:
        try:
            store = Store(ctx.config.store_path)
        except TrackerError as exc:
            log.error("%s", exc)
            _ping(ctx.config.ping_url if ping else None, ok=False)
            raise
        with store:
            code = _locked(ctx, store, now, ping)
    if code != 1:
        _ping(ctx.config.ping_url if ping else None, ok=True)
    return code


def _locked(ctx: Context, store: Store, now: dt.datetime, ping: bool) -> int:
    """The run itself, under the lock: recorded from its start to its end, whatever happens."""
    started = time.monotonic()
    _abandon_dead_runs(store, now)
    run_id = store.begin_run(KIND, now)
    log.info("nightly run %d started", run_id)
    detail: dict[str, Any] = {}
    try:
        code = _run(ctx, store, run_id, now, detail)
    except Exception as exc:  # noqa: BLE001 — recorded and reported, never a half-finished run
        store.abort_open_transaction()
        detail["error"] = str(exc) if isinstance(exc, TrackerError) else f"{type(exc).__name__}: {exc}"
        log.error("nightly run %d failed: %s", run_id, detail["error"],
                  exc_info=not isinstance(exc, TrackerError))
        store.finish_run(run_id, "failed", detail, now=_later(now, started))
        _ping(ctx.config.ping_url if ping else None, ok=False)
        return 1
    except BaseException as exc:
        store.abort_open_transaction()
        detail["error"] = str(exc) if isinstance(exc, Terminated) else "interrupted"
        log.error("nightly run %d stopped: %s", run_id, detail["error"])
        try:
            store.finish_run(run_id, "failed", detail, now=_later(now, started))
        finally:
            _ping(ctx.config.ping_url if ping else None, ok=False)
        raise
    status = "partial" if code == 3 else "ok"
    store.finish_run(run_id, status, detail, now=_later(now, started))
    log.info("nightly run %d %s: %s", run_id, status, summary(detail))
    return code


def _run(ctx: Context, store: Store, run_id: int, now: dt.datetime, detail: dict[str, Any]) -> int:
    from tracker import service
    from tracker.sources import ingest
    from tracker.store.seeds import load_seeds
    from tracker.views import report

    load_seeds(store, ctx.pack)
    fetched = ingest.ingest(ctx, store, now=now)
    detail["failed_sources"] = fetched.failed
    detail["sources"] = {s: sum(r["status"] == s for r in fetched.results)
                         for s in ("new", "unchanged", "empty", "failed", "skipped")}
    day = now.astimezone(ZoneInfo(ctx.config.timezone)).date()
    result = service.score(ctx, store, day)
    store.save_scores(run_id, result.frame().tail(SCORE_WEEKS))
    doc = report.to_json(result)
    rows = report.indicator_rows(result, len(result.grid) - 1)
    detail.update({
        "as_of": doc["as_of"],
        "states": {r["indicator"]: r["state"] for r in rows},
        "evidence": {r["indicator"]: r["observation"] for r in rows},
        "trend": doc["trend"],
        "leading": doc["leading"],
        "probabilities": {s["id"]: s["probability"] for s in doc["scenarios"]},
        "stale": doc["stale"],
        "no_data": doc["no_data"],
        "flags": doc["flags"],
    })
    if doc.get("trend_check"):  # why a material move is not called (issue 14); absent otherwise
        detail["trend_check"] = doc["trend_check"]["message"]
    before = baseline(store.runs(kind=KIND, limit=50))
    detail["changes"] = compare(before, detail, ctx) if before else []
    detail["alerts"] = []
    if detail["changes"] and ctx.config.digest is not None:
        from tracker.views import mail  # smtplib and email only when there is something to send

        subject, text = alert_message(ctx, before or {}, detail)
        try:
            mail.send_alert(ctx.config, subject, text)
            detail["alerts"].append(subject)
            log.info("alert sent: %s", subject)
        except Exception as exc:  # noqa: BLE001 — a failed alert is recorded and retried, not fatal
            detail["alert_error"] = f"{type(exc).__name__}: {exc}" if not isinstance(exc, TrackerError) \
                else str(exc)
            log.error("alert not sent (%s); it is retried on the next run", detail["alert_error"])
    if ctx.config.site is not None:
        _write_site(ctx, store, day, result, detail, ctx.config.path(ctx.config.site.out))
    # A change nobody was told of is as much a failure to report as a source that failed; so is
    # a site left stale.
    return 3 if detail.get("alert_error") or detail.get("site_error") else fetched.exit_code


def _write_site(ctx: Context, store: Store, day: dt.date, result: Any, detail: dict[str, Any], out: Path) -> None:
    """Rewrite the static site from this run's scores (issue 19), swapped in whole. A failed write
    is recorded and logged and makes the run partial (exit 3), as a failed source does; the
    scores are already stored, and the previous site stays as it was."""
    from tracker.views import site

    try:
        made = site.write_site(ctx, store, day, out, result)
    except Exception as exc:  # noqa: BLE001 — reported like a failed source, never a failed run
        detail["site_error"] = str(exc) if isinstance(exc, TrackerError) else f"{type(exc).__name__}: {exc}"
        log.error("site not written to %s (%s); the previous site is left as it was", out, detail["site_error"])
        return
    detail["site"] = made
    log.info("site written to %s: %d pages, %d charts", out, made["pages"], made["charts"])


def baseline(runs: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The detail to compare with: the newest good run whose alert (if any) went out.

    A run whose alert failed is skipped, so its changes are alerted again by the next run.
    """
    good = [r["detail"] for r in runs if r["status"] in ("ok", "partial") and "states" in r["detail"]]
    return next((d for d in good if not d.get("alert_error")), good[0] if good else None)


def compare(before: dict[str, Any], after: dict[str, Any],
            ctx: Context | None = None) -> list[dict[str, Any]]:
    """Indicators whose state changed (an indicator new to the pack is not a change) and the
    trend call if it changed (its scenario, or none)."""
    old = before.get("states", {})
    inds = ctx.pack.indicators if ctx else {}
    out: list[dict[str, Any]] = [
        {"kind": "state", "indicator": iid, "name": inds[iid].name if iid in inds else iid,
         "from": old[iid], "to": state, "observation": after.get("evidence", {}).get(iid)}
        for iid, state in after["states"].items() if iid in old and old[iid] != state]
    was = (before.get("trend") or {}).get("scenario")
    now = (after.get("trend") or {}).get("scenario")
    if "trend" in before and was != now:
        out.append({"kind": "trend", "from": was, "to": now, "call": after.get("trend")})
    return out + flag_changes(before, after, inds)


def flag_changes(before: dict[str, Any], after: dict[str, Any], inds: Any) -> list[dict[str, Any]]:
    """Flags worth an alert that the baseline run did not have (issue 15): a point held back as a
    likely data fault, and a revision that changed a past state."""
    seen = {(f["indicator"], f["kind"], f["date"], f["detail"]) for f in before.get("flags") or []}
    out: list[dict[str, Any]] = []
    for f in after.get("flags") or []:
        if (f["indicator"], f["kind"], f["date"], f["detail"]) in seen:
            continue
        name = inds[f["indicator"]].name if f["indicator"] in inds else f["indicator"]
        if f["kind"] == "unconfirmed":
            out.append({"kind": "held", "indicator": f["indicator"], "name": name, "date": f["date"],
                        "detail": f["detail"]})
        elif f["kind"] == "revised" and f.get("past_state"):
            out.append({"kind": "revision", "indicator": f["indicator"], "name": name, "date": f["date"],
                        "line": f["past_state"]["line"], "detail": f["detail"]})
    return out


def alert_message(ctx: Context, before: dict[str, Any], after: dict[str, Any]) -> tuple[str, str]:
    changes = after["changes"]
    first = changes[0]
    if first["kind"] == "state":
        what = f"{first['indicator']} {first['from'] or 'no data'} → {first['to'] or 'no data'}"
    elif first["kind"] == "held":
        what = f"held back: {first['indicator']} {first['date']}"
    elif first["kind"] == "revision":
        what = first["line"]
    else:
        what = f"trend call {first['from'] or 'none'} → {first['to'] or 'none'}"
    more = f" and {len(changes) - 1} more" if len(changes) > 1 else ""
    subject = f"tracker alert: {ctx.pack.name}: {what}{more}"
    lines = [f"{ctx.pack.name} — nightly run as of {after['as_of']}", "",
             f"What changed since the run as of {before.get('as_of', '?')}:", ""]
    for c in changes:
        lines += _change_lines(c) + [""]
    probs = ", ".join(f"{k} {v:.2f}" for k, v in after["probabilities"].items())
    lines.append(f"Now: {probs}; {after['leading']} leads.")
    if after.get("trend_check"):
        lines.append(f"No trend called: {after['trend_check']}.")
    return subject, "\n".join(lines) + "\n"


def _change_lines(c: dict[str, Any]) -> list[str]:
    if c["kind"] == "held":
        return [f"  held back: {c['indicator']} ({c['name']}) {c['date']}: not counted yet", f"    {c['detail']}"]
    if c["kind"] == "revision":
        return [f"  {c['line']} (a revision)", f"    {c['detail']}"]
    if c["kind"] == "trend":
        call = c["call"]
        tail = (f" ({call['change']:+.2f} over {call['window_weeks']} weeks, since {call['since']})"
                if call else "")
        return [f"  Trend call: {c['from'] or 'no clear trend'} → {c['to'] or 'no clear trend'}{tail}"]
    out = [f"  {c['indicator']} ({c['name']}): {c['from'] or 'no data'} → {c['to'] or 'no data'}"]
    obs = c["observation"]
    if obs:
        reading = obs["level"] if "level" in obs else f"{obs.get('value')} {obs.get('unit') or ''}".rstrip()
        out.append(f"    observation of {obs['date']}: {reading} (published {obs['published']})")
        out.append(f"    source: {obs.get('source_url') or 'none recorded'}")
        if obs.get("note"):
            out.append(f"    note: {obs['note']}")
    return out


def summary(detail: dict[str, Any]) -> str:
    src = detail.get("sources", {})
    failed = detail.get("failed_sources") or []
    probs = ", ".join(f"{k} {v:.2f}" for k, v in detail.get("probabilities", {}).items())
    trend = (detail.get("trend") or {}).get("scenario") or "none"
    text = (f"{src.get('new', 0)} new, {src.get('unchanged', 0)} unchanged, {len(failed)} failed"
            f"{' (' + ', '.join(failed) + ')' if failed else ''}; {probs}; trend {trend}; "
            f"{len(detail.get('changes', []))} change(s), {len(detail.get('alerts', []))} alert(s) sent")
    text += f"; site not written: {detail['site_error']}" if detail.get("site_error") else ""
    return text + (f"; alert failed: {detail['alert_error']}" if detail.get("alert_error") else "")


def _abandon_dead_runs(store: Store, now: dt.datetime) -> None:
    """Runs still `running` died with their process: we hold the lock, so none is alive."""
    for run in store.runs(kind=KIND, limit=50):
        if run["status"] == "running":
            store.finish_run(run["id"], "failed",
                             {"error": "the process ended before the run finished (killed or crashed)"},
                             now=now)


def _later(now: dt.datetime, started: float) -> dt.datetime:
    return now + dt.timedelta(seconds=round(time.monotonic() - started))


def _ping(url: str | None, ok: bool) -> None:
    """Tell a cron monitor how it went; a monitor that is down never fails the run."""
    if not url:
        return
    import requests

    target = url if ok else url.rstrip("/") + "/fail"
    host = urlsplit(url).netloc
    try:
        resp = requests.get(target, timeout=PING_TIMEOUT)
        if resp.status_code >= 400:
            log.warning("ping to %s answered HTTP %d", host, resp.status_code)
    except requests.RequestException as exc:
        # The path of a ping URL is its secret: name the host only.
        log.warning("ping to %s failed: %s", host, type(exc).__name__)


# ---------------------------------------------------------------- logging

class _Stderr(logging.StreamHandler):
    """Writes to whatever sys.stderr is at the time (pytest and click swap it)."""

    def __init__(self) -> None:
        logging.Handler.__init__(self)

    @property
    def stream(self) -> Any:
        return sys.stderr


_configured: dict[str, Any] = {"path": None, "handlers": [], "levels": {}}
LOGGERS = ("tracker", "apscheduler")


def configure_logging(config: Config) -> Path:
    """Plain lines to the config's log file (created owner-only) and to stderr — unless stderr
    already is that file, as under the `>> tracker.log 2>&1` of `tracker cron`."""
    path = Path(os.path.abspath(config.path(config.log)))
    if _configured["path"] == path:
        return path
    reset_logging()
    _configured["levels"] = {name: logging.getLogger(name).level for name in LOGGERS}
    path.parent.mkdir(parents=True, exist_ok=True)
    os.close(os.open(path, os.O_CREAT | os.O_APPEND | os.O_WRONLY, 0o600))
    handlers: list[logging.Handler] = [logging.FileHandler(path, encoding="utf-8")]
    if not _same_file(path):
        handlers.append(_Stderr())
    formatter = logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    for handler in handlers:
        handler.setFormatter(formatter)
        for name in LOGGERS:
            logging.getLogger(name).addHandler(handler)
    for name in LOGGERS:
        logging.getLogger(name).setLevel(logging.INFO)
    _configured.update(path=path, handlers=handlers)
    return path


def reset_logging() -> None:
    """Undo configure_logging (for a process that runs several configs, such as a test run)."""
    for handler in _configured["handlers"]:
        for name in LOGGERS:
            logging.getLogger(name).removeHandler(handler)
        handler.close()
    for name, level in _configured["levels"].items():
        logging.getLogger(name).setLevel(level)
    _configured.update(path=None, handlers=[], levels={})


def _same_file(path: Path) -> bool:
    try:
        a, b = os.fstat(sys.stderr.fileno()), os.stat(path)
    except (OSError, ValueError, AttributeError):  # no real stderr (captured, closed)
        return False
    return (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino)
