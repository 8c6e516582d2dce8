"""`tracker run`, `schedule`, `cron` and `status`: the commands for running unattended (DESIGN §8)."""

from __future__ import annotations

from pathlib import Path

import click

from tracker.cli.common import boundary, config_option, emit_json, emit_text, json_option, pack_option
from tracker.signals import Terminated, sigterm_raises
from tracker.text import escape_fields


@click.command()
@pack_option
@config_option
@boundary
def run(pack_dir: str | None, config_path: str | None) -> int:
    """The nightly job: ingest, score, store, alert on a changed state; exit 3 if a source or the alert
    failed."""
    from tracker import service
    from tracker.ops import nightly

    ctx = service.load(config_path, pack_dir)
    try:
        with sigterm_raises():
            return nightly.run_nightly(ctx)
    except Terminated:
        click.echo("Terminated.", err=True)
        return 143


@click.command()
@pack_option
@config_option
@boundary
def schedule(pack_dir: str | None, config_path: str | None) -> int:
    """Foreground daemon: the nightly run and the weekly digest on config.yaml's schedule."""
    from tracker import service
    from tracker.ops import schedule as sched

    return sched.serve(service.load(config_path, pack_dir))


@click.command()
@pack_option
@config_option
@click.option("--executable", metavar="PATH", help="The tracker program to run (default: this one).")
@boundary
def cron(pack_dir: str | None, config_path: str | None, executable: str | None) -> int:
    """Print crontab lines for the same jobs as `tracker schedule` (use one or the other)."""
    from tracker import service
    from tracker.config import find_config
    from tracker.ops import cron as cron_mod

    ctx = service.load(config_path, pack_dir)
    click.echo(cron_mod.cron_lines(ctx, Path(find_config(config_path)), executable, pack_dir), nl=False)
    return 0


@click.command()
@pack_option
@config_option
@json_option
@boundary
def status(pack_dir: str | None, config_path: str | None, as_json: bool) -> int:
    """Last runs, failing sources, stale indicators, next runs; exit 1 if the nightly run is overdue."""
    from tracker import service
    from tracker.ops import status as status_mod
    from tracker.store.db import Store, utcnow

    ctx = service.load(config_path, pack_dir)
    with Store(ctx.config.store_path) as store:
        doc, code = status_mod.status(ctx, store, utcnow())
    # Run errors and source errors hold what servers said: shown with control characters escaped.
    emit_json(doc) if as_json else emit_text(status_mod.render(escape_fields(doc)), "status")
    return code


COMMANDS = [run, schedule, cron, status]
