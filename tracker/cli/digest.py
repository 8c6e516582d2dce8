"""`tracker digest`: the weekly digest, previewed, written to files or sent (exactly once)."""

from __future__ import annotations

import contextlib
from pathlib import Path

import click

from tracker.cli.common import boundary, config_option, pack_option
from tracker.errors import InputError


@click.command()
@click.option("--send", "do_send", is_flag=True, help="E-mail it to digest.to (once per week; see --force).")
@click.option("--out", "out_dir", metavar="DIR",
              help="Write digest-<week>.eml, .html and .png into DIR; nothing is sent or recorded.")
@click.option("--week", "week", metavar="DATE",
              help="A day of the week to report (YYYY-MM-DD, default today); scored as of that day.")
@click.option("--force", is_flag=True, help="Send even if this week's digest was already sent or started.")
@pack_option
@config_option
@boundary
def digest(do_send: bool, out_dir: str | None, week: str | None, force: bool, pack_dir: str | None,
           config_path: str | None) -> int:
    """The weekly digest: the call and how it changed, chart, movers, signposts, watch list.

    Without --send or --out, prints the plain-text version."""
    from tracker import service
    from tracker.ops.runlock import run_lock
    from tracker.views import digest as dg

    if do_send and out_dir:
        raise InputError("choose one of --send and --out")
    if force and not do_send:
        raise InputError("--force only applies to --send")
    ctx = service.load(config_path, pack_dir)
    day = service.parse_day(week)
    # Sending is a job like the nightly run: one at a time, never beside another writer.
    lock = run_lock(ctx.config.store_path) if do_send else contextlib.nullcontext()
    with lock, ctx.store() as store:
        made = dg.build(ctx, store, day)
        if do_send:
            click.echo(dg.send(ctx, store, made, force=force))
            return 0
    if out_dir:
        for path in dg.write_preview(ctx, made, Path(out_dir)):
            click.echo(f"Wrote {path}")
        return 0
    click.echo(dg.render(made, "chart.png")[0], nl=False)
    return 0


COMMANDS = [digest]
