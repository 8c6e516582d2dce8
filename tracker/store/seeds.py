"""Seeds: the real historical observations shipped with a pack, loaded into the store so that
`tracker score` answers offline on a fresh install. A seed row becomes visible to as-of
queries only from its `published` date (or date + the indicator's publication lag).

Seeds are content-addressed (issue 17, item 3): the SHA-256 of each seed file is kept with the
indicator (`seed_files`), and a file whose bytes changed is read again on the next command.
When its rows changed too, they become a new vintage, said in one line; before, an edited seed
was ignored for good once the store held data for that indicator.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import math
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from tracker.durations import parse_days
from tracker.errors import ProblemsError
from tracker.pack.seedrows import read_rows
from tracker.pack.types import Indicator, Pack
from tracker.store.db import Base, Store, iso_instant, same_content, utcnow
from tracker.store.faults import store_fault
from tracker.store.snapshot import OBS_COLUMNS

log = logging.getLogger(__name__)
Notify = Callable[[str], None]


def read_seed(path: Path, ind: Indicator, shown: str, today: dt.date | None = None) -> pd.DataFrame:
    """Read and check one seed CSV; every bad row is reported with its line (pack/seedrows.py)."""
    levels = list(ind.levels) if ind.kind == "ordinal" else None
    seed, problems = read_rows(path, shown, ind.kind, levels, today or dt.date.today())
    if problems:
        raise ProblemsError(problems)
    # whole days, as date + timedelta counts them (a lag of 18M is 547.5 days: 547)
    lag = np.timedelta64(dt.timedelta(days=parse_days(ind.publication_lag, allow_zero=True)).days, "D")
    published = np.where(np.isnat(seed.published), seed.dates + lag, seed.published)
    frame = pd.DataFrame({"date": seed.dates.astype("datetime64[s]"), "value": seed.values, "level": seed.levels,
                          "published": published.astype("datetime64[s]"), "source_url": seed.urls,
                          "note": seed.notes}, columns=list(OBS_COLUMNS))
    if frame.empty:       # text columns stay text: the same content hash as a file read before
        frame = frame.astype({"level": object, "source_url": object, "note": object})
    return frame.sort_values("date", ignore_index=True)


class _Loaded(NamedTuple):
    file_sha256: str
    content_hash: str


def load_seeds(store: Store, pack: Pack, notify: Notify | None = None) -> list[str]:
    """Seed every indicator that has no vintage yet, and load again every seed file whose bytes
    changed since it was loaded; return the ids written. A reload is said through `notify`
    (default: the log), one line per file."""
    known = _known(store)
    written = []
    for ind in pack.indicators.values():
        path = pack.seed_path(ind)
        if path is None:
            continue
        sha = _file_sha256(path)
        loaded = known.get(ind.id)
        if loaded is not None and loaded.file_sha256 == sha:
            continue
        if _load(store, pack, ind, path, sha, loaded, notify or log.warning):
            written.append(ind.id)
    return written


def _load(store: Store, pack: Pack, ind: Indicator, path: Path, sha: str, loaded: _Loaded | None,
          notify: Notify) -> bool:
    shown = pack.shown(path)
    frame = read_seed(path, ind, shown)
    digest = store.content_hash(frame)
    vintages = store.vintage_log(ind.id)
    if not vintages:
        # The vintage is dated at the earliest `published` date: before that nothing of it is
        # visible, and after it the `published` column hides each row until its own date.
        if not frame.empty:
            store.write_vintage(ind.id, frame, fetched_at=_first_published(frame), origin="seed")
        _remember(store, ind, sha, digest)
        return not frame.empty
    before = loaded.content_hash if loaded else _first_seed_hash(vintages)
    if same_content(before, digest, frame):         # the bytes changed, the rows did not
        _remember(store, ind, sha, digest)
        return False
    old = _rows_with_hash(store, vintages, before)
    wrote = _reload(store, ind, frame, old, vintages, f"reloaded from {shown}")
    _remember(store, ind, sha, digest)
    if wrote:
        said = (f"{shown} changed: {ind.id} reloaded as a new vintage" if before else
                f"{shown} loaded as a new vintage of {ind.id}, which already held data")
        notify(f"{said} ({_changes(old, frame)})")
    return wrote


def _reload(store: Store, ind: Indicator, frame: pd.DataFrame, old: pd.DataFrame,
            vintages: list[dict[str, Any]], note: str) -> bool:
    """The new seed as vintages. Dated like the first seed load, so that a backtest replays
    the corrected figures: once at the earliest published date, and again at each instant an
    earlier seed vintage was dated, so that none of those stays the latest anywhere. Only
    before the first vintage that ingest or an analyst wrote: those hold what was known then.
    When there is such a vintage, one more now: the current rows with the old seed's rows
    replaced by the new seed's (rows written since, by ingest or observe, are kept). True when
    anything was written."""
    others = [_instant(v["fetched_at"]) for v in vintages if v["origin"] != "seed"]
    until = min(others) if others else None
    seeded = sorted({_instant(v["fetched_at"]) for v in vintages if v["origin"] == "seed"
                     and (until is None or _instant(v["fetched_at"]) < until)})
    starts = seeded + ([_first_published(frame)] if not frame.empty else [])
    wrote = False
    if starts:
        first = min(starts)
        for when in [first, *(s for s in seeded if s > first)]:
            if until is None or when < until:
                wrote |= store.write_vintage(ind.id, frame, fetched_at=when, origin="seed", note=note)
    if until is not None:
        def swap(snapshot: pd.DataFrame) -> pd.DataFrame:
            return _swapped(snapshot, old, frame)

        snapshot, head = store.latest_with_head(ind.id)
        wrote |= store.write_vintage(ind.id, swap(snapshot), fetched_at=utcnow(), origin="seed",
                                     base=Base(head, swap), note=note)
    return wrote


def _swapped(snapshot: pd.DataFrame, old: pd.DataFrame, new: pd.DataFrame) -> pd.DataFrame:
    """`snapshot` without the rows the old seed put there, plus the new seed's rows on the
    dates that no other row holds."""
    theirs = set(_keys(old))
    kept = snapshot[[k not in theirs for k in _keys(snapshot)]]
    free = new[~new["date"].isin(kept["date"])]
    parts = [p for p in (kept, free) if not p.empty]
    if not parts:
        return new.iloc[0:0]
    return pd.concat(parts, ignore_index=True).sort_values("date", ignore_index=True)


def _keys(frame: pd.DataFrame) -> list[tuple[Any, ...]]:
    """Each row as a comparable tuple (NaN and None both as None)."""
    def clean(x: Any) -> Any:
        return None if x is None or x is pd.NaT or (isinstance(x, float) and math.isnan(x)) else x

    cols = [frame[c].tolist() if c in frame.columns else [None] * len(frame) for c in OBS_COLUMNS]
    return [tuple(clean(x) for x in row) for row in zip(*cols, strict=True)]


def _changes(old: pd.DataFrame, new: pd.DataFrame) -> str:
    """'5 rows: 1 changed, 1 added, 0 removed', by date."""
    before = dict(zip(old["date"].tolist(), _keys(old), strict=True))
    after = dict(zip(new["date"].tolist(), _keys(new), strict=True))
    changed = sum(1 for d, k in after.items() if d in before and before[d] != k)
    added = sum(1 for d in after if d not in before)
    removed = sum(1 for d in before if d not in after)
    return f"{len(new)} row{'' if len(new) == 1 else 's'}: {changed} changed, {added} added, {removed} removed"


def _first_published(frame: pd.DataFrame) -> dt.datetime:
    return frame["published"].min().to_pydatetime().replace(tzinfo=dt.UTC)


def _instant(text: str) -> dt.datetime:
    return dt.datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC)


def _file_sha256(path: Path) -> str:
    """'' when the file cannot be read: read_seed then says why, with the file's name."""
    try:
        with path.open("rb") as fh:
            return hashlib.file_digest(fh, "sha256").hexdigest()
    except OSError:
        return ""


def _known(store: Store) -> dict[str, _Loaded]:
    try:
        rows = store.db.execute("SELECT indicator, file_sha256, content_hash FROM seed_files").fetchall()
    except (sqlite3.DatabaseError, OSError) as exc:
        raise store_fault(store.path, exc) from None
    return {iid: _Loaded(sha, content) for iid, sha, content in rows}


def _first_seed_hash(vintages: list[dict[str, Any]]) -> str | None:
    """A store seeded before seed files were remembered (schema 5) held one seed vintage per
    indicator, the first: its rows are what the seed file held then."""
    return next((v["content_hash"] for v in vintages if v["origin"] == "seed"), None)


def _rows_with_hash(store: Store, vintages: list[dict[str, Any]], content_hash: str | None) -> pd.DataFrame:
    found = next((v["id"] for v in vintages if v["content_hash"] == content_hash), None)
    return store.vintage_rows(found) if found is not None else pd.DataFrame(columns=list(OBS_COLUMNS))


def _remember(store: Store, ind: Indicator, sha: str, content_hash: str) -> None:
    try:
        with store.transaction() as db:
            db.execute("INSERT OR REPLACE INTO seed_files (indicator, path, file_sha256, content_hash, loaded_at) "
                       "VALUES (?, ?, ?, ?, ?)", (ind.id, ind.seed or "", sha, content_hash, iso_instant(utcnow())))
    except (sqlite3.DatabaseError, OSError) as exc:
        raise store_fault(store.path, exc) from None
