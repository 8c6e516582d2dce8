"""`tracker observe` and `tracker export`: observations in by hand, and out as CSV."""

from __future__ import annotations

import click

from tracker.cli.common import as_of_option, boundary, config_option
from tracker.text import escape_controls


@click.command(context_settings={"ignore_unknown_options": True})  # VALUE may be negative: -2.5
@click.argument("indicator")
@click.argument("value")
@click.option("--date", "date_", required=True, metavar="DATE", help="The date the observation describes.")
@click.option("--url", required=True, help="Where it was reported.")
@click.option("--note", required=True, help="What happened, in a sentence.")
@click.option("--published", metavar="DATE", help="When it became public (default: today).")
@config_option
@boundary
def observe(indicator: str, value: str, date_: str, url: str, note: str, published: str | None,
            config_path: str | None) -> int:
    """Record an analyst observation (a level or a value) as a new vintage."""
    from tracker import service
    from tracker.ops import observe as obs

    ctx = service.load(config_path)
    with ctx.store() as store:
        message = obs.record(ctx.pack, store, indicator, value, date_, url, note, published)
    click.echo(escape_controls(message))   # it repeats the URL given
    return 0


@click.command()
@click.argument("ids", nargs=-1)
@config_option
@as_of_option
@boundary
def export(ids: tuple[str, ...], config_path: str | None, as_of: str | None) -> int:
    """The observations known on a date (default today) as CSV, safe to open in a spreadsheet."""
    from tracker import service
    from tracker.views import export as export_mod

    ctx = service.load(config_path)
    with ctx.store() as store:
        export_mod.check_ids(list(ids), ctx.pack, store)
        frame = store.as_of(service.parse_day(as_of), list(ids) or None)
    click.echo(export_mod.to_csv(frame), nl=False)
    return 0


COMMANDS = [observe, export]
