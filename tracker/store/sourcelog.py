"""What each source answered, run after run: the record behind `tracker sources`, `tracker status`,
the digest's data health, and the rule that an empty answer night after night is a failure.

Ingest writes one `source_results` row per source and run, with its `status` (new, unchanged,
empty, failed, skipped) and its `answer` (what the server said: `data`, `not_modified` for a 304,
`same_body` for a body identical to the last one parsed, `empty`, `error`). Everything here is
read from those rows, the vintages and the remembered validators; nothing is stored twice.

Streaks count back from the newest attempt: `failures` are consecutive failed attempts (a source
failing because it answered empty too long counts), `empty_nights` the distinct UTC days of the
consecutive empty answers, so that running `tracker ingest` twice in a night does not count two.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from typing import Any

from tracker.store.db import Store


@dataclass
class SourceLog:
    """One source's record; instants are ISO UTC text as the store keeps them, None when never."""

    indicator: str
    last_attempt: str | None = None
    """When the last run that tried this source started."""
    last_status: str | None = None
    last_answer: str | None = None
    last_error: str | None = None
    last_fetched: str | None = None
    """The last run in which the source answered (new, unchanged or empty)."""
    last_new: str | None = None
    """When the newest vintage written by ingest was fetched: the last new data."""
    failures: int = 0
    empty_nights: int = 0
    empty_since: str | None = None
    """When the current run of empty answers began."""
    validators: list[str] = field(default_factory=list)
    """What the last good fetch left to ask conditionally with: etag, last-modified, body-hash."""

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


_MARKS = """
    SELECT s.indicator, MAX(s.run_id) AS last_run,
           MAX(CASE WHEN s.status != 'failed' THEN s.run_id END) AS ok_run,
           MAX(CASE WHEN s.answer IS NOT 'empty' THEN s.run_id END) AS full_run
    FROM source_results s WHERE s.status != 'skipped' AND s.indicator IN (SELECT value FROM json_each(?))
    GROUP BY s.indicator"""

_LOGS = f"""
    SELECT m.indicator, r.started, s.status, s.answer, s.error,
           (SELECT started FROM runs WHERE id = m.ok_run),
           (SELECT COUNT(*) FROM source_results x
            WHERE x.indicator = m.indicator AND x.run_id > COALESCE(m.ok_run, 0) AND x.status != 'skipped'),
           (SELECT COUNT(DISTINCT substr(y.started, 1, 10)) FROM source_results x JOIN runs y ON y.id = x.run_id
            WHERE x.indicator = m.indicator AND x.run_id > COALESCE(m.full_run, 0) AND x.status != 'skipped'),
           (SELECT MIN(y.started) FROM source_results x JOIN runs y ON y.id = x.run_id
            WHERE x.indicator = m.indicator AND x.run_id > COALESCE(m.full_run, 0) AND x.status != 'skipped')
    FROM ({_MARKS}) m
    JOIN source_results s ON s.indicator = m.indicator AND s.run_id = m.last_run
    JOIN runs r ON r.id = m.last_run"""  # noqa: S608 — our own constant


def source_logs(store: Store, indicators: list[str]) -> dict[str, SourceLog]:
    """Every named source's record (an empty one for a source never tried), read in one snapshot."""
    out = {i: SourceLog(i) for i in indicators}
    with store.snapshot() as db:
        for iid, started, status, answer, error, ok, failures, nights, since in db.execute(
                _LOGS, (json.dumps(indicators),)):
            if iid in out:
                out[iid] = SourceLog(iid, last_attempt=started, last_status=status, last_answer=answer,
                                     last_error=error, last_fetched=ok, failures=failures, empty_nights=nights,
                                     empty_since=since if nights else None)
        for iid, last in db.execute("SELECT indicator, MAX(fetched_at) FROM vintages WHERE origin = 'ingest' "
                                    "GROUP BY indicator"):
            if iid in out:
                out[iid].last_new = last
        for iid, etag, modified, body in db.execute(
                "SELECT indicator, MAX(etag IS NOT NULL), MAX(last_modified IS NOT NULL), "
                "MAX(body_sha256 IS NOT NULL) FROM validators GROUP BY indicator"):
            if iid in out:
                out[iid].validators = [n for n, has in (("etag", etag), ("last-modified", modified),
                                                        ("body-hash", body)) if has]
    return out


def empty_days(store: Store, indicator: str) -> list[dt.date]:
    """The UTC days of the consecutive empty answers up to the newest attempt, newest first
    ([] when the newest answer was not empty). Read newest first, so it stops at the streak's end."""
    cur = store.db.execute("""
        SELECT r.started, s.answer FROM source_results s JOIN runs r ON r.id = s.run_id
        WHERE s.indicator = ? AND s.status != 'skipped' ORDER BY s.run_id DESC""", (indicator,))
    days: list[dt.date] = []
    for started, answer in cur:
        if answer != "empty":
            break
        day = dt.date.fromisoformat(started[:10])
        if day not in days:
            days.append(day)
    cur.close()
    return days


def empty_sources(store: Store, indicators: list[str] | None = None) -> list[dict[str, Any]]:
    """Sources whose newest answer was empty but that are not failing yet (status `empty`):
    `{indicator, nights, since}`, for `tracker status` and the digest's data health."""
    logs = source_logs(store, indicators if indicators is not None else _tried(store))
    return [{"indicator": log.indicator, "nights": log.empty_nights, "since": log.empty_since}
            for log in logs.values() if log.last_status == "empty"]


def _tried(store: Store) -> list[str]:
    return [row[0] for row in store.db.execute("SELECT DISTINCT indicator FROM source_results ORDER BY indicator")]


def last_revision(store: Store, indicator: str) -> dict[str, Any] | None:
    """The newest vintage that changed a value (or a level) an earlier vintage already held for
    the same date: `{vintage, fetched_at, points}` with the number of points it changed; None when
    no vintage ever did. Added dates and dropped dates are not revisions. Pairs of consecutive
    vintages are compared newest first, so a recent revision is found after few comparisons."""
    ids = store.db.execute("SELECT id, fetched_at FROM vintages WHERE indicator = ? "
                           "ORDER BY fetched_at DESC, id DESC", (indicator,)).fetchall()
    for (vid, fetched), (prev, _) in zip(ids, ids[1:], strict=False):
        points = store.db.execute(_CHANGED, (prev, vid)).fetchone()[0]
        if points:
            return {"vintage": vid, "fetched_at": fetched, "points": points}
    return None


_CHANGED = """
    SELECT COUNT(*) FROM observations n JOIN observations o ON o.vintage_id = ? AND o.date = n.date
    WHERE n.vintage_id = ?
      AND ((n.value IS NOT o.value AND (n.value IS NULL OR o.value IS NULL
                                        OR abs(n.value - o.value) > 1e-12 * abs(n.value)))
           OR n.level IS NOT o.level)"""


def failed_nights(store: Store, eod: str) -> list[tuple[str, str]]:
    """(UTC day, indicator) of every failed fetch in a run started by the instant `eod`: holding
    back a data fault asks whether a source of the same kind failed the night a point came in."""
    return [(day, iid) for day, iid in store.db.execute("""
        SELECT DISTINCT substr(r.started, 1, 10), s.indicator FROM source_results s JOIN runs r ON r.id = s.run_id
        WHERE s.status = 'failed' AND r.started <= ? ORDER BY 1, 2""", (eod,))]


def in_trouble(store: Store, eod: str) -> list[str]:
    """Sources whose newest attempt in the runs of the two days up to the newest run started by
    the instant `eod` failed or came back empty: the few whose record (source_logs) the flags show.
    Looking at the last runs only keeps a score's cost flat as the history of runs grows."""
    rows = store.db.execute("""
        SELECT s.indicator, s.status FROM source_results s JOIN runs r ON r.id = s.run_id
        WHERE s.run_id IN (SELECT id FROM runs WHERE started <= :eod AND started >= (
                  SELECT strftime('%Y-%m-%dT%H:%M:%SZ', MAX(started), '-2 days') FROM runs
                  WHERE started <= :eod AND kind IN ('ingest', 'run')))
          AND s.status != 'skipped'
        ORDER BY s.run_id""", {"eod": eod}).fetchall()
    last = dict(rows)
    return sorted(iid for iid, status in last.items() if status in ("failed", "empty"))
