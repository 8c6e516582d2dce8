"""`tracker ingest`: fetch every source concurrently into new vintages.

Fetching runs in a bounded thread pool with a per-host limit; writing stays on the calling
thread (one SQLite connection, one writer). A failing source is recorded with its reason and
keeps its previous vintage; the others go on.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import sys
import threading
import time
import traceback
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import numpy as np
import pandas as pd

from tracker.errors import InputError, TrackerError
from tracker.pack_schema import Indicator
from tracker.service import Context
from tracker.sources import FetchContext, NotModified, SourceError, fetcher
from tracker.store import OBS_COLUMNS, Store, utcnow
from tracker.suggest import closest

log = logging.getLogger("tracker.ingest")


@dataclass
class IngestReport:
    results: list[dict[str, Any]] = field(default_factory=list)

    @property
    def failed(self) -> list[str]:
        return [r["indicator"] for r in self.results if r["status"] == "failed"]

    @property
    def exit_code(self) -> int:
        return 3 if self.failed else 0


def select(ctx: Context, ids: list[str] | None) -> list[Indicator]:
    inds = ctx.pack.indicators
    unknown = [i for i in ids or [] if i not in inds]
    if unknown:
        raise InputError("; ".join(f"unknown indicator {i!r}{closest(i, inds)}" for i in unknown))
    return [inds[i] for i in ids] if ids else list(inds.values())


def make_http(ctx: Context) -> Any:
    from tracker.http import HttpClient

    h = ctx.config.http
    return HttpClient(timeout=(h.connect_timeout, h.timeout), retries=h.retries, deadline=h.deadline,
                      max_bytes=h.max_bytes, min_interval=h.min_interval, pool_size=max(10, h.workers))


def ingest(ctx: Context, store: Store, ids: list[str] | None = None, progress: bool = False,
           now: dt.datetime | None = None) -> IngestReport:
    """Fetch the chosen indicators (all by default) and store what changed."""
    chosen = select(ctx, ids)
    now = now or utcnow()
    report = IngestReport()
    run_id = store.begin_run("ingest", now)
    live = [i for i in chosen if i.source.kind != "manual"]
    report.results += [{"indicator": i.id, "status": "skipped", "rows": None, "seconds": 0.0,
                        "error": "recorded by analysts with `tracker observe`"}
                       for i in chosen if i.source.kind == "manual"]
    keys = {name: os.environ[env] for name, env in ctx.config.keys.items() if os.environ.get(env)}
    limits: dict[str, threading.Semaphore] = {}
    since = last_dates(store)
    http = make_http(ctx)
    try:
        with ThreadPoolExecutor(max_workers=ctx.config.http.workers) as pool:
            futures = {pool.submit(_fetch, ctx, i, http, keys, store.validators(i.id), limits,
                                   since.get(i.id)): i for i in live}
            for n, fut in enumerate(as_completed(futures), start=1):
                ind = futures[fut]
                result = _store(store, ind, fut.result(), now)
                report.results.append(result)
                _progress(progress, n, len(live), result)
    finally:
        http.close()
    report.results.sort(key=lambda r: r["indicator"])
    store.record_sources(run_id, report.results)
    status = "partial" if report.failed else "ok"
    new = [r["indicator"] for r in report.results if r["status"] == "new"]
    store.finish_run(run_id, status, {"failed": report.failed, "new": new})
    return report


def last_dates(store: Store) -> dict[str, dt.date]:
    """The latest observation date per indicator, in one query (sources may fetch only what
    is newer)."""
    rows = store.db.execute("""
        SELECT v.indicator, MAX(o.date) FROM vintages v JOIN observations o ON o.vintage_id = v.id
        WHERE v.id IN (SELECT MAX(id) FROM vintages GROUP BY indicator) GROUP BY v.indicator""")
    return {iid: dt.date.fromisoformat(day) for iid, day in rows.fetchall()}


def _host(ind: Indicator) -> str:
    url = getattr(ind.source, "url", "") or ""
    return (urlsplit(url).hostname or ind.source.kind).lower()


def _fetch(ctx: Context, ind: Indicator, http: Any, keys: dict[str, str],
           validators: dict[str, dict[str, str]], limits: dict[str, threading.Semaphore],
           since: dt.date | None) -> dict[str, Any]:
    """Runs on a worker thread: fetch only, never touch the store."""
    host = _host(ind)
    sem = limits.setdefault(host, threading.Semaphore(ctx.config.http.per_host))
    started = time.monotonic()
    with sem:  # the deadline starts once the per-host slot is ours
        fctx = FetchContext(http=http.with_deadline(ctx.config.http.deadline),
                            base_dirs=[ctx.config.base_dir, ctx.pack.root.parent], keys=keys,
                            env=os.environ, validators=dict(validators), indicator=ind.id, since=since)
        try:
            frame = fetcher(ind.source.kind).fetch(ind.source, fctx)
            outcome: dict[str, Any] = {"frame": frame}
        except NotModified:
            outcome = {"not_modified": True}
        except SourceError as exc:
            outcome = {"error": str(exc)}
        except TrackerError as exc:
            outcome = {"error": str(exc)}
        except Exception as exc:  # noqa: BLE001 — a connector bug must not stop the other sources
            trace = "".join(traceback.format_exception(exc))
            log.error("source %s crashed:\n%s", ind.id, masked(trace, keys))
            outcome = {"error": f"{ind.source.kind} connector failed unexpectedly: {type(exc).__name__}: {exc}"}
    if "error" in outcome:
        outcome["error"] = masked(outcome["error"], keys)
    outcome["validators"] = fctx.validators
    outcome["seconds"] = round(time.monotonic() - started, 3)
    return outcome


def masked(text: str, keys: dict[str, str]) -> str:
    """A source's error with every API key masked: a server may say a bad key back in its answer
    (an HTML error page, a JSON error with status 200), and the message is printed, logged and
    stored. The HTTP client masks what it raises itself; this catches what parsers quote."""
    for key in sorted(keys.values(), key=len, reverse=True):
        if len(key) >= 4:  # masking "1" everywhere would garble the message and hide nothing
            text = text.replace(key, "***")
    return text


def _store(store: Store, ind: Indicator, outcome: dict[str, Any], now: dt.datetime) -> dict[str, Any]:
    base = {"indicator": ind.id, "seconds": outcome["seconds"], "rows": None, "error": None}
    if "error" in outcome:
        return {**base, "status": "failed", "error": outcome["error"]}
    if outcome.get("not_modified"):
        return {**base, "status": "unchanged"}
    try:
        frame = merge(store.latest(ind.id), outcome["frame"], now.date(), ind)
    except (ValueError, KeyError, TypeError) as exc:
        return {**base, "status": "failed", "error": f"{ind.source.kind}: unusable data: {exc}"}
    changed = store.write_vintage(ind.id, frame, fetched_at=now, origin="ingest")
    if outcome["validators"]:
        store.save_validators(ind.id, outcome["validators"])
    return {**base, "status": "new" if changed else "unchanged", "rows": len(frame)}


def merge(previous: pd.DataFrame, fetched: pd.DataFrame, today: dt.date, ind: Indicator) -> pd.DataFrame:
    """The new snapshot: previous rows overlaid by fetched ones (fetched wins on a date).

    A row we already had keeps its `published` date; a new or revised row is dated as
    published today unless the source says when — so a backtest never sees it earlier.
    """
    col = "level" if ind.kind == "ordinal" else "value"
    new = fetched.reindex(columns=OBS_COLUMNS).copy()
    new["date"] = pd.to_datetime(new["date"]).dt.normalize()
    if col == "value":
        new["value"] = pd.to_numeric(new["value"], errors="raise").astype(float)
        if not np.isfinite(new["value"].to_numpy()).all():
            raise ValueError("values must be finite numbers")
    outside = new["date"][(new["date"].dt.year < 1900) | (new["date"].dt.year > 2200)]
    if len(outside):
        raise ValueError(f"date {outside.iloc[0].date()} is out of range (1900–2200)")
    if new["date"].duplicated().any():
        raise ValueError(f"duplicate date {new.loc[new['date'].duplicated(), 'date'].iloc[0].date()}")
    prev = previous[["date", col, "published"]].rename(columns={col: "old", "published": "old_published"})
    joined = new[["date", col]].merge(prev, on="date", how="left")   # keeps the order of `new`
    if col == "value":
        old_v, new_v = joined["old"].to_numpy(float), joined["value"].to_numpy(float)
        unchanged = ~np.isnan(old_v) & np.isclose(old_v, new_v, rtol=1e-12, atol=0.0)
    else:
        unchanged = (joined["old"] == joined["level"]).fillna(False).to_numpy(bool)
    published = pd.to_datetime(new["published"]).to_numpy(dtype="datetime64[ns]")
    published = np.where(np.isnat(published), np.datetime64(today, "ns"), published)
    published = np.where(unchanged, joined["old_published"].to_numpy(dtype="datetime64[ns]"), published)
    published = pd.Series(published, index=new.index)
    new["published"] = published.where(published >= new["date"], new["date"])
    keep = previous[~previous["date"].isin(new["date"])]
    out = pd.concat([keep, new], ignore_index=True) if len(keep) else new
    return out.sort_values("date", ignore_index=True)


def _progress(enabled: bool, n: int, total: int, r: dict[str, Any]) -> None:
    """A live line on a terminal; plain log lines under cron."""
    text = f"[{n}/{total}] {r['indicator']}: {r['status']}" + (f" — {r['error']}" if r["error"] else "")
    if enabled and sys.stderr.isatty():
        sys.stderr.write("\r\033[K" + text[:120] + ("\n" if n == total else ""))
        sys.stderr.flush()
    else:
        log.info(text)
