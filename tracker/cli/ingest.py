"""`tracker ingest`: the command line around tracker.sources.ingest."""

from __future__ import annotations

import logging

import click

from tracker.cli.common import boundary, config_option, emit_json, json_option
from tracker.signals import Terminated, sigterm_raises
from tracker.text import escape_fields


@click.command()
@click.argument("ids", nargs=-1)
@config_option
@json_option
@boundary
def ingest(ids: tuple[str, ...], config_path: str | None, as_json: bool) -> int:
    """Fetch sources into the store (all, or the indicator IDS given); exit 3 if any failed."""
    from tracker import service
    from tracker.sources import ingest as ingest_mod

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    ctx = service.load(config_path)
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


def summary_table(results: list[dict]) -> str:
    words = {"new": "new vintage", "unchanged": "unchanged", "failed": "FAILED", "skipped": "manual"}
    lines = [f"{'source':<28} {'rows':>6} {'result':<12} {'time':>7}  error"]
    for r in results:
        rows = "" if r["rows"] is None else str(r["rows"])
        lines.append(f"{r['indicator']:<28} {rows:>6} {words[r['status']]:<12} {r['seconds']:>6.1f}s  "
                     f"{r['error'] or ''}")
    failed = sum(r["status"] == "failed" for r in results)
    lines.append(f"{len(results)} sources: {failed} failed" if failed else f"{len(results)} sources: all ok")
    return "\n".join(lines)


COMMANDS = [ingest]
