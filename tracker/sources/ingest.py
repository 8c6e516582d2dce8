"""`tracker ingest`: fetch every source concurrently into new vintages.

Fetching runs in a bounded thread pool with a per-host limit; writing stays on the calling
thread (one SQLite connection, one writer). A failing source is recorded with its reason and
keeps its previous vintage; the others go on.

Each source ends in one status, recorded per run in `source_results` with what it answered
(tracker.store.sourcelog): `new` (a vintage written), `unchanged` (a 304, the body parsed last
time, or rows equal to the stored ones: nothing written), `empty` (it answered, with nothing in
it: no series, no rows, an empty body; nothing written, exit 0), `failed` (exit 3), `skipped`
(manual). An empty answer on `empty_after` nights in a row (config.yaml, default 7) is a failure:
a query that matches nothing for a week is broken, not quiet.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import hashlib
import itertools
import json
import logging
import os
import shutil
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, wait
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import urlsplit

import numpy as np
import pandas as pd

from tracker import __version__, signals
from tracker.config import Config
from tracker.errors import InputError, TrackerError
from tracker.pack.types import Indicator, Pack
from tracker.sources import FetchContext, NotModified, SourceError, fetcher
from tracker.sources.workers import Workers
from tracker.store import sourcelog
from tracker.store.db import OBS_COLUMNS, Base, Store, utcnow
from tracker.suggest import closest


class Project(Protocol):
    """What ingest reads of service.Context. A protocol, not an import: the service sits above
    the sources (it also scores), and sources never score."""

    config: Config
    pack: Pack


log = logging.getLogger("tracker.ingest")


@dataclass
class IngestReport:
    results: list[dict[str, Any]] = field(default_factory=list)

    @property
    def failed(self) -> list[str]:
        return [r["indicator"] for r in self.results if r["status"] == "failed"]

    @property
    def empty(self) -> list[str]:
        return [r["indicator"] for r in self.results if r["status"] == "empty"]

    @property
    def exit_code(self) -> int:
        return 3 if self.failed else 0


def select(ctx: Project, ids: list[str] | None) -> list[Indicator]:
    inds = ctx.pack.indicators
    unknown = [i for i in ids or [] if i not in inds]
    if unknown:
        raise InputError("; ".join(f"unknown indicator {i!r}{closest(i, inds)}" for i in unknown))
    return [inds[i] for i in ids] if ids else list(inds.values())


def make_http(ctx: Project, hosts: int = 10) -> Any:
    """The run's one HTTP client: a connection kept per worker on each of `hosts` hosts."""
    from tracker.sources.http import HttpClient

    h = ctx.config.http
    return HttpClient(timeout=(h.connect_timeout, h.timeout), retries=h.retries, deadline=h.deadline,
                      max_bytes=h.max_bytes, min_interval=h.min_interval, pool_size=max(10, h.workers),
                      pool_hosts=hosts)


def ingest(ctx: Project, store: Store, ids: list[str] | None = None, progress: bool = False,
           now: dt.datetime | None = None) -> IngestReport:
    """Fetch the chosen indicators (all by default) and store what changed. The run's row is
    closed whatever happens: `interrupted` on Ctrl-C or SIGTERM, `failed` on an error."""
    chosen = select(ctx, ids)
    now = now or utcnow()
    report = IngestReport()
    run_id = store.begin_run("ingest", now)
    try:
        _fetch_and_store(ctx, store, chosen, report, now, progress)
    except BaseException as exc:
        _close(store, run_id, report, "failed" if isinstance(exc, Exception) else "interrupted", exc)
        raise
    _close(store, run_id, report, "partial" if report.failed else "ok")
    return report


def _fetch_and_store(ctx: Project, store: Store, chosen: list[Indicator], report: IngestReport,
                     now: dt.datetime, progress: bool) -> None:
    live = [i for i in chosen if i.source.kind != "manual"]
    report.results += [{"indicator": i.id, "status": "skipped", "rows": None, "seconds": 0.0,
                        "error": "recorded by analysts with `tracker observe`", "answer": None}
                       for i in chosen if i.source.kind == "manual"]
    keys = {name: os.environ[env] for name, env in ctx.config.keys.items() if os.environ.get(env)}
    limits: dict[str, threading.Semaphore] = {}
    previous, heads = store.latest_many([i.id for i in live])
    http = make_http(ctx, hosts=len({_host(i) for i in live}))
    pool = Workers(ctx.config.http.workers)
    local = [i for i in live if i.source.kind in LOCAL_KINDS]
    count = itertools.count(1)

    def done(ind: Indicator, outcome: dict[str, Any]) -> None:
        result = _store(store, ind, outcome, now, Base(heads[ind.id], _rebase(outcome, ind, now)),
                        empty_after=ctx.config.empty_after)
        report.results.append(result)
        _progress(progress, next(count), len(live), result)

    try:
        futures = {pool.submit(_fetch, ctx, i, http, keys, store.validators(i.id), limits,
                               previous[i.id], now.date()): i
                   for i in _host_turns(live) if i.source.kind not in LOCAL_KINDS}
        pool.close()
        for ind in local:
            signals.check()
            done(ind, _fetch(ctx, ind, http, keys, store.validators(ind.id), limits, previous[ind.id], now.date()))
        for fut in _completed(futures):
            done(futures[fut], fut.result())
    except BaseException:
        pool.abandon()  # queued sources cancelled, in-flight ones left after a short grace
        raise
    finally:
        http.close()


LOCAL_KINDS = frozenset({"file", "sql"})
"""Sources read on the calling thread, while the network ones wait on their servers in the pool:
reading a file is Python work, and threads only share one interpreter lock (2,000 files read
by the pool spent a third of the ingest's CPU time handing that lock round, issue 20)."""


def _completed(futures: Iterable[Future[Any]], poll: float = 0.2) -> Iterator[Future[Any]]:
    """`as_completed`, with a look every `poll` seconds for an interrupt whose exception was lost
    (signals.check): the wait for a slow source must not hide a Ctrl-C."""
    pending = set(futures)
    while pending:
        done, pending = wait(pending, timeout=poll, return_when=FIRST_COMPLETED)
        signals.check()
        yield from done


def _close(store: Store, run_id: int, report: IngestReport, status: str, exc: BaseException | None = None) -> None:
    """Record the sources that finished and end the run's row; on an interrupt, a second Ctrl-C
    does not cut this short, and a store that cannot be written leaves the row to `tracker status`."""
    report.results.sort(key=lambda r: r["indicator"])
    detail: dict[str, Any] = {"failed": report.failed, "empty": report.empty,
                              "new": [r["indicator"] for r in report.results if r["status"] == "new"]}
    if exc is None:
        store.record_sources(run_id, report.results)
        store.finish_run(run_id, status, detail)
        return
    detail["error"] = str(exc) if isinstance(exc, TrackerError) else status
    with signals.held(), contextlib.suppress(TrackerError):
        store.abort_open_transaction()
        store.record_sources(run_id, report.results)
        store.finish_run(run_id, status, detail)


def _host(ind: Indicator) -> str:
    url = getattr(ind.source, "url", "") or ""
    try:
        host = urlsplit(url).hostname
    except ValueError:  # a malformed address fails its own source when fetched, never the run
        host = None
    return (host or ind.source.kind).lower()


def _host_turns(live: list[Indicator]) -> list[Indicator]:
    """The sources with their hosts taking turns (a, b, c, a, b, c, …), otherwise in pack order.

    Workers take sources in the order submitted and wait for their host's slot: a pack listing
    ten sources of one host together would have most workers waiting on that host's `per_host`
    slots while the other hosts sit idle."""
    queues: dict[str, list[Indicator]] = {}
    for ind in live:
        queues.setdefault(_host(ind), []).append(ind)
    return [ind for turn in itertools.zip_longest(*queues.values()) for ind in turn if ind is not None]


def _fetch(ctx: Project, ind: Indicator, http: Any, keys: dict[str, str],
           validators: dict[str, dict[str, str]], limits: dict[str, threading.Semaphore],
           previous: pd.DataFrame, today: dt.date) -> dict[str, Any]:
    """Runs on a worker thread: fetch and merge with the previous snapshot, never touch the
    store (the calling thread is the one writer)."""
    since = previous["date"].max().date() if len(previous) else None
    host = _host(ind)
    sem = limits.setdefault(host, threading.Semaphore(ctx.config.http.per_host))
    started = time.monotonic()
    spec = fingerprint(ind.source)
    with sem:  # the deadline starts once the per-host slot is ours
        fctx = FetchContext(http=http.with_deadline(ctx.config.http.deadline),
                            base_dirs=[ctx.config.base_dir, ctx.pack.root.parent],
                            data_dirs=ctx.config.data_paths, keys=keys, env=os.environ,
                            validators=_usable(validators, spec), indicator=ind.id, since=since)
        outcome = _guarded(ind, keys, lambda: {"frame": fetcher(ind.source.kind).fetch(ind.source, fctx)})
    if "frame" in outcome and outcome["frame"].empty:  # answered, with nothing in it
        outcome = {"empty": True}
    if "frame" in outcome:  # merging needs no slot: the host's next source may go meanwhile
        fetched = outcome["frame"]
        outcome = _guarded(ind, keys, lambda: {"frame": merge(previous, fetched, today, ind), "fetched": fetched})
    if "error" in outcome:
        outcome["error"] = masked(outcome["error"], keys)
    outcome["validators"] = {key: {**found, "spec": spec} for key, found in fctx.validators.items()}
    outcome["stored_validators"] = validators
    outcome["seconds"] = round(time.monotonic() - started, 3)
    return outcome


def fingerprint(spec: Any) -> str:
    """The source spec and the tracker version that remembered validators were saved under.

    A server answers 304 (and an unchanged body hashes the same) whatever the pack did since: a new
    `scale`, another column or `start`, or a fixed parser would go unseen until the data changed.
    Validators saved under another fingerprint are not sent, so the answer is parsed again."""
    text = json.dumps(dataclasses.asdict(spec), sort_keys=True, default=str) + __version__
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _usable(stored: dict[str, dict[str, str]], spec: str) -> dict[str, dict[str, str]]:
    return {key: {k: v for k, v in found.items() if k != "spec"}
            for key, found in stored.items() if found.get("spec") == spec}


def _guarded(ind: Indicator, keys: dict[str, str], step: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """A step of one source's fetch, its failure turned into that source's outcome."""
    try:
        return step()
    except (ValueError, KeyError, TypeError) as exc:
        return {"error": f"{ind.source.kind}: unusable data: {exc}"}
    except NotModified as exc:
        return {"not_modified": True, "how": exc.how}
    except SourceError as exc:
        return {"error": str(exc)}
    except TrackerError as exc:
        return {"error": str(exc)}
    except Exception as exc:  # noqa: BLE001 — a connector bug must not stop the other sources
        trace = "".join(traceback.format_exception(exc))
        log.error("source %s crashed:\n%s", ind.id, masked(trace, keys))
        return {"error": f"{ind.source.kind} connector failed unexpectedly: {type(exc).__name__}: {exc}"}


def masked(text: str, keys: dict[str, str]) -> str:
    """A source's error with every API key masked: a server may say a bad key back in its answer
    (an HTML error page, a JSON error with status 200), and the message is printed, logged and
    stored. The HTTP client masks what it raises itself; this catches what parsers quote."""
    for key in sorted(keys.values(), key=len, reverse=True):
        if len(key) >= 4:  # masking "1" everywhere would garble the message and hide nothing
            text = text.replace(key, "***")
    return text


def _rebase(outcome: dict[str, Any], ind: Indicator, now: dt.datetime) -> Callable[[pd.DataFrame], pd.DataFrame]:
    """The merge again, onto a vintage written by someone else while this source was fetched."""
    return lambda latest: merge(latest, outcome["fetched"], now.date(), ind)


def _store(store: Store, ind: Indicator, outcome: dict[str, Any], now: dt.datetime,
           read: Base, empty_after: int = 7) -> dict[str, Any]:
    """Write one source's outcome, checked against the vintage it was merged onto (`read`)."""
    row = {"indicator": ind.id, "seconds": outcome["seconds"], "rows": None, "error": None}
    if "error" in outcome:
        return {**row, "status": "failed", "error": outcome["error"], "answer": "error"}
    if outcome.get("not_modified"):
        return {**row, "status": "unchanged", "answer": outcome.get("how", "not_modified")}
    if outcome.get("empty"):
        return _empty(store, ind, row, now, empty_after)
    frame = outcome["frame"]
    try:
        changed = store.write_vintage(ind.id, frame, fetched_at=now, origin="ingest", base=read,
                                      connector=ind.source.kind)
    except (ValueError, KeyError, TypeError) as exc:  # the merge again, onto another's vintage
        return {**row, "status": "failed", "error": f"{ind.source.kind}: unusable data: {exc}", "answer": "error"}
    if outcome["validators"] != outcome.get("stored_validators", {}):  # unchanged ones: no write
        store.save_validators(ind.id, outcome["validators"])
    return {**row, "status": "new" if changed else "unchanged", "rows": len(frame), "answer": "data"}


def _empty(store: Store, ind: Indicator, row: dict[str, Any], now: dt.datetime, empty_after: int) -> dict[str, Any]:
    """`empty`, or `failed` once the answers have been empty on `empty_after` nights in a row."""
    days = sorted({now.date(), *sourcelog.empty_days(store, ind.id)})
    row = {**row, "rows": 0, "answer": "empty"}
    if len(days) < empty_after:
        return {**row, "status": "empty"}
    return {**row, "status": "failed",
            "error": f"{ind.source.kind}: the answer held no data on {len(days)} nights in a row (since {days[0]}); "
                     f"check the source's query, or raise empty_after ({empty_after}) in config.yaml"}


def merge(previous: pd.DataFrame, fetched: pd.DataFrame, today: dt.date, ind: Indicator) -> pd.DataFrame:
    """The new snapshot: previous rows overlaid by fetched ones (fetched wins on a date).

    A row we already had keeps its `published` date; a new or revised row is dated as
    published today unless the source says when — so a backtest never sees it earlier.
    Plain arrays throughout and one DataFrame built at the end: this runs once per source on
    the one GIL that every fetch shares, and each pandas step (reindex, concat, sort) cost
    ~0.2–0.5 ms whatever the length, which bounded how fast a large ingest could go.
    """
    col = "level" if ind.kind == "ordinal" else "value"
    if not fetched.columns.is_unique:
        dup = fetched.columns[fetched.columns.duplicated()][0]
        raise ValueError(f"column {dup!r} appears twice")
    dates = _days(fetched, "date")
    values = _cells(fetched, col, float if col == "value" else object)
    _check_fetched(dates, values, col)
    old_dates = _days(previous, "date")                                    # sorted (Store.latest)
    at = np.clip(np.searchsorted(old_dates, dates), 0, max(len(old_dates) - 1, 0))
    sent_again = old_dates[at] == dates if len(old_dates) else np.zeros(len(dates), bool)
    unchanged = sent_again.copy()
    if len(old_dates):
        old_values = _cells(previous, col, float if col == "value" else object)[at]
        # np.isclose(old, new, rtol=1e-12, atol=0) spelt out (a tenth of its cost); `new` is finite
        unchanged &= (np.abs(old_values.astype(float) - values) <= 1e-12 * np.abs(values) if col == "value"
                      else old_values == values)
    published = _days(fetched, "published")
    published = np.where(np.isnat(published), np.datetime64(today, "D"), published)
    if unchanged.any():
        published = np.where(unchanged, _days(previous, "published")[at], published)
    rows = {"date": dates.astype("datetime64[s]"),
            "value": values if col == "value" else np.full(len(dates), np.nan),
            "level": values if col == "level" else _cells(fetched, "level", object),
            "published": np.maximum(published, dates).astype("datetime64[s]"),
            "source_url": _cells(fetched, "source_url", object), "note": _cells(fetched, "note", object)}
    kept = np.ones(len(old_dates), bool)
    kept[at[sent_again]] = False
    if kept.any():  # previous rows the source no longer sends stay as they were
        rows = {name: np.concatenate([_cells(previous, name)[kept], rows[name]]) for name in OBS_COLUMNS}
    order = np.argsort(rows["date"], kind="stable")
    # A column with nothing in it is left out: the store reads a missing column as all missing
    # (Store.write_vintage), and each column costs the DataFrame ~50 µs to build.
    return pd.DataFrame({name: cells[order] for name, cells in rows.items()
                         if name in ("date", col, "published") or not pd.isna(cells).all()}, copy=False)


def _check_fetched(dates: np.ndarray, values: np.ndarray, col: str) -> None:
    """Refuse what must never be stored: non-finite values, absurd dates, a date twice."""
    if col == "value" and not np.isfinite(values).all():
        raise ValueError("values must be finite numbers")
    years = dates.astype("datetime64[Y]").astype(np.int64) + 1970
    if ((years < 1900) | (years > 2200)).any():
        raise ValueError(f"date {dates[(years < 1900) | (years > 2200)][0]} is out of range (1900–2200)")
    ordered = np.sort(dates)
    if (ordered[1:] == ordered[:-1]).any():
        raise ValueError(f"duplicate date {ordered[1:][ordered[1:] == ordered[:-1]][0]}")


def _cells(frame: pd.DataFrame, name: str, dtype: Any = None) -> np.ndarray:
    """`frame.reindex(columns=OBS_COLUMNS)[name].to_numpy(dtype)` without the reindex: a column
    the frame lacks is all NaN."""
    if name in frame.columns:
        return frame[name].to_numpy(dtype=dtype)
    return np.full(len(frame), np.nan, dtype=dtype or float)


def _days(frame: pd.DataFrame, name: str) -> np.ndarray:
    """`pd.to_datetime(column)` as datetime64[D] (NaT where missing); a naive datetime64 column,
    which is what sources and the store give, is converted by numpy alone."""
    if name not in frame.columns:
        return np.full(len(frame), np.datetime64("NaT"), dtype="datetime64[D]")
    column = frame[name]
    if isinstance(column.dtype, np.dtype) and column.dtype.kind == "M":  # naive, not tz-aware
        return column.values.astype("datetime64[D]")  # .values: half the cost of .to_numpy() here
    return pd.to_datetime(column).to_numpy().astype("datetime64[D]")


def _progress(enabled: bool, n: int, total: int, r: dict[str, Any]) -> None:
    """A live line on a terminal; plain log lines under cron: one per source up to
    MANY_SOURCES, beyond that the failures and a count at each tenth (2,000 sources made 2,000
    lines that buried the few that mattered)."""
    text = f"[{n}/{total}] {r['indicator']}: {r['status']}" + (f" — {r['error']}" if r["error"] else "")
    if enabled and sys.stderr.isatty():
        sys.stderr.write("\r\033[K" + text[:shutil.get_terminal_size().columns - 1] + ("\n" if n == total else ""))
        sys.stderr.flush()
    elif total <= MANY_SOURCES or r["status"] == "failed":
        log.info(text)
    elif n * 10 // total != (n - 1) * 10 // total:
        log.info(f"[{n}/{total}] fetched")


MANY_SOURCES = 50
"""Above this, ingest logs a count at each tenth and only the failures by name, and its table
lists the failures, the empty answers and the first changes, then counts."""
