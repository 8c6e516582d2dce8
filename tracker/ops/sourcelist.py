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
from tracker.views.terminal import fit, shorten, width

ID_WIDTH = 22
"""Wider ids take a line of their own, so that every line fits 80 columns."""
LEGEND = "cond: 304 = conditional requests answered; hash = same body known by its hash"


def sources(ctx: Context, store: Store) -> dict[str, Any]:
    live = sorted(ctx.pack.live_ids)
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
    """One row per source in the terminal's width (80 when unknown): an id wider than its column
    takes a line of its own, and below 80 columns every row does; ids too long for a whole line
    are shortened at a boundary between their parts, never cut inside one."""
    rows = doc["sources"]
    columns = width()
    if not rows:
        return "\n".join(fit("No fetched sources in this pack (every indicator is recorded by analysts).",
                             columns=columns))
    cells_head = f"{'kind':<9} {'fetched':<10} {'new data':<10} {'revised':<10} {'streak':<8} cond"
    if columns < 2 + len(cells_head):
        return _narrow(doc, columns)
    lead = ID_WIDTH + 1 if columns >= ID_WIDTH + 1 + len(cells_head) else 2
    lines = [f"{'source':<{ID_WIDTH}} {cells_head}" if lead > 2 else f"source\n  {cells_head}"]
    for r in rows:
        cells = (f"{r['kind']:<9} {_day(r['last_fetched']):<10} {_day(r['last_new']):<10} "
                 f"{_day((r['last_revision'] or {}).get('fetched_at')):<10} {_streak(r):<8} "
                 f"{r['conditional']['shown']}").rstrip()
        name = shorten(r["indicator"], columns)
        if len(name) > ID_WIDTH or lead == 2:
            lines += [name, f"{'':<{lead}}{cells}"]
        else:
            lines.append(f"{name:<{ID_WIDTH}} {cells}")
    return "\n".join(lines + _summary(doc, columns))


def _narrow(doc: dict[str, Any], columns: int) -> str:
    """Narrower than the table: each source as its id, then its cells named and wrapped."""
    lines = []
    for r in doc["sources"]:
        cells = (f"kind {r['kind']}, fetched {_day(r['last_fetched'])}, new data {_day(r['last_new'])}, "
                 f"revised {_day((r['last_revision'] or {}).get('fetched_at'))}, "
                 f"streak {_streak(r) or '-'}, cond {r['conditional']['shown']}")
        lines += [shorten(r["indicator"], columns), *fit(cells, "  ", columns=columns)]
    return "\n".join(lines + _summary(doc, columns))


def _summary(doc: dict[str, Any], columns: int) -> list[str]:
    rows = doc["sources"]
    failing = sum(r["failing"] for r in rows)
    empty = sum(r["last_status"] == "empty" for r in rows)
    return ["", *fit(f"{len(rows)} sources: {failing} failing, {empty} answered with no data "
                     f"(failing after {doc['empty_after']} nights)", columns=columns), *fit(LEGEND, columns=columns)]


def _day(instant: str | None) -> str:
    return instant[:10] if instant else "-"


def _streak(r: dict[str, Any]) -> str:
    if r["last_answer"] == "empty" and r["empty_nights"]:
        return f"{r['empty_nights']} empty"
    return f"{r['failures']} fail" if r["failures"] else ""
