"""`tracker sources`: one row per fetched source, from what the store recorded of every ingest.

For each indicator whose source is fetched (not `manual`): its kind, when it last answered, when
it last brought new data, its last revision (the newest vintage that changed a value an earlier
vintage held), its streak of failures or empty answers, and how an unchanged answer is known
again: `304` when the server gave validators (ETag, Last-Modified) that are sent back, `hash`
when only the body's hash is (GDELT, SIPRI), `-` before the first good fetch or for a file or a
database, whose unchanged rows simply write nothing.
"""

from __future__ import annotations

from typing import Any

from tracker.service import Context
from tracker.sources import fetcher
from tracker.store import sourcelog
from tracker.store.db import Store

WIDTH = 80
ID_WIDTH = 22
"""Wider ids take a line of their own, so that every line fits 80 columns."""
LEGEND = "cond: 304 = conditional requests answered; hash = same body known by its hash"


def sources(ctx: Context, store: Store) -> dict[str, Any]:
    live = sorted(iid for iid, ind in ctx.pack.indicators.items() if ind.source.kind != "manual")
    logs = sourcelog.source_logs(store, live)
    rows = [_row(ctx, store, logs[iid]) for iid in live]
    return {"sources": rows, "empty_after": ctx.config.empty_after}


def _row(ctx: Context, store: Store, log: sourcelog.SourceLog) -> dict[str, Any]:
    kind = ctx.pack.indicators[log.indicator].source.kind
    row = {"indicator": log.indicator, "kind": kind, **log.as_dict()}
    row["failing"] = log.last_status == "failed"
    row["last_revision"] = sourcelog.last_revision(store, log.indicator)
    row["conditional"] = {"supports": fetcher(kind).CONDITIONAL or None, "remembered": row.pop("validators"),
                          "shown": _cond(log.validators)}
    return row


def _cond(remembered: list[str]) -> str:
    if "etag" in remembered or "last-modified" in remembered:
        return "304"
    return "hash" if "body-hash" in remembered else "-"


def render(doc: dict[str, Any]) -> str:
    rows = doc["sources"]
    if not rows:
        return "No fetched sources in this pack (every indicator is recorded by analysts)."
    head = f"{'source':<{ID_WIDTH}} {'kind':<9} {'fetched':<10} {'new data':<10} {'revised':<10} {'streak':<8} cond"
    lines = [head]
    for r in rows:
        cells = (f"{r['kind']:<9} {_day(r['last_fetched']):<10} {_day(r['last_new']):<10} "
                 f"{_day((r['last_revision'] or {}).get('fetched_at')):<10} {_streak(r):<8} "
                 f"{r['conditional']['shown']}")
        if len(r["indicator"]) > ID_WIDTH:
            lines += [r["indicator"], f"{'':<{ID_WIDTH}} {cells}"]
        else:
            lines.append(f"{r['indicator']:<{ID_WIDTH}} {cells}")
    failing = sum(r["failing"] for r in rows)
    empty = sum(r["last_status"] == "empty" for r in rows)
    lines += ["", f"{len(rows)} sources: {failing} failing, {empty} answered with no data "
                  f"(failing after {doc['empty_after']} nights)", LEGEND]
    return "\n".join(line[:WIDTH] for line in lines)


def _day(instant: str | None) -> str:
    return instant[:10] if instant else "-"


def _streak(r: dict[str, Any]) -> str:
    if r["last_answer"] == "empty" and r["empty_nights"]:
        return f"{r['empty_nights']} empty"
    return f"{r['failures']} fail" if r["failures"] else ""
