"""`tracker ingest`: the command line around tracker.sources.ingest."""

from __future__ import annotations

import logging
from collections import Counter

import click

from tracker.cli.common import boundary, config_option, emit_json, json_option, pack_option
from tracker.signals import Terminated, sigterm_raises
from tracker.text import escape_fields


@click.command()
@click.argument("ids", nargs=-1)
@pack_option
@config_option
@json_option
@boundary
def ingest(ids: tuple[str, ...], pack_dir: str | None, config_path: str | None, as_json: bool) -> int:
    """Fetch sources into the store (all, or the indicator IDS given); exit 3 if any failed."""
    from tracker import service
    from tracker.sources import ingest as ingest_mod

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    ctx = service.load(config_path, pack_dir)
    try:
        with sigterm_raises(), ctx.store() as store:
            report = ingest_mod.ingest(ctx, store, list(ids) or None, progress=not as_json)
    except Terminated:
        click.echo("Terminated.", err=True)
        return 143
    if as_json:
        emit_json({"results": report.results, "failed": report.failed})
    else:
        click.echo(summary_table(escape_fields(report.results)))   # errors quote what servers said
    return report.exit_code


CHANGES_SHOWN = 20


def summary_table(results: list[dict]) -> str:
    """One row per source; with more than MANY_SOURCES, the failures and empty answers all, the
    new vintages up to CHANGES_SHOWN, and the rest as counts."""
    from tracker.sources.ingest import MANY_SOURCES

    words = {"new": "new vintage", "unchanged": "unchanged", "empty": "empty", "failed": "FAILED",
             "skipped": "manual"}
    shown, more = results, 0
    if len(results) > MANY_SOURCES:
        bad = [r for r in results if r["status"] in ("failed", "empty")]
        new = [r for r in results if r["status"] == "new"]
        shown, more = bad + new[:CHANGES_SHOWN], max(0, len(new) - CHANGES_SHOWN)
    lines = [f"{'source':<28} {'rows':>6} {'result':<12} {'time':>7}  error"]
    for r in shown:
        rows = "" if r["rows"] is None else str(r["rows"])
        lines.append(f"{r['indicator']:<28} {rows:>6} {words[r['status']]:<12} {r['seconds']:>6.1f}s  "
                     f"{r['error'] or ''}")
    if more:
        lines.append(f"and {more:,} more new vintages (tracker ingest --json lists every source)")
    counts = Counter(words[r["status"]] for r in results)
    failed, empty = counts["FAILED"], counts["empty"]
    lines.append((f"{len(results):,} sources: {failed:,} failed" if failed else f"{len(results):,} sources: all ok")
                 + (f"; {empty:,} answered with no data" if empty else "")
                 + ("" if len(results) <= MANY_SOURCES else
                    f" ({counts['new vintage']:,} new, {counts['unchanged']:,} unchanged)"))
    return "\n".join(lines)


COMMANDS = [ingest]
