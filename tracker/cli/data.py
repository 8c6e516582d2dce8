"""`tracker observe`, `retract`, `confirm`, `reject` and `export`: observations in and taken back by
hand, an analyst's word on one of them, and out as CSV."""

from __future__ import annotations

import click

from tracker.cli.common import boundary, config_option, pack_option
from tracker.text import escape_controls


@click.command(context_settings={"ignore_unknown_options": True})  # VALUE may be negative: -2.5
@click.argument("indicator")
@click.argument("value")
@click.option("--date", "date_", required=True, metavar="DATE", help="The date the observation describes.")
@click.option("--url", required=True, help="Where it was reported.")
@click.option("--note", required=True, help="What happened, in a sentence.")
@click.option("--published", metavar="DATE", help="When it became public (default: today).")
@click.option("--override", is_flag=True,
              help="Record a value for an indicator fetched from its source (the next ingest may supersede it).")
@pack_option
@config_option
@boundary
def observe(indicator: str, value: str, date_: str, url: str, note: str, published: str | None,
            override: bool, pack_dir: str | None, config_path: str | None) -> int:
    """Record an analyst observation (a level or a value) as a new vintage."""
    from tracker import service
    from tracker.ops import observe as obs

    ctx = service.load(config_path, pack_dir)
    with ctx.store() as store:
        message = obs.record(ctx.pack, store, indicator, value, date_, url, note, published, override=override)
    click.echo(escape_controls(message))   # it repeats the URL given
    return 0


@click.command()
@click.argument("indicator")
@click.argument("date_", metavar="DATE")
@click.option("--note", required=True, help="Why it is taken back, in a sentence.")
@pack_option
@config_option
@boundary
def retract(indicator: str, date_: str, note: str, pack_dir: str | None, config_path: str | None) -> int:
    """Take back the observation dated DATE: a new vintage without it; earlier vintages keep it."""
    from tracker import service
    from tracker.ops import retract as retract_mod

    ctx = service.load(config_path, pack_dir)
    with ctx.store() as store:
        message = retract_mod.retract(ctx.pack, store, indicator, date_, note)
    click.echo(escape_controls(message))
    return 0


@click.command()
@click.argument("ids", nargs=-1)
@pack_option
@config_option
@click.option("--as-of", metavar="DATE",
              help="Export what was known on DATE (YYYY-MM-DD): the vintages fetched and rows published by then.")
@boundary
def export(ids: tuple[str, ...], pack_dir: str | None, config_path: str | None, as_of: str | None) -> int:
    """The observations known on a date (default today) as CSV, safe to open in a spreadsheet."""
    from tracker import service
    from tracker.views import export as export_mod

    ctx = service.load(config_path, pack_dir)
    with ctx.store() as store:
        export_mod.check_ids(list(ids), ctx.pack, store)
        frame = store.as_of(service.parse_day(as_of), list(ids) or None)
    click.echo(export_mod.to_csv(frame), nl=False)
    return 0


@click.command()
@click.argument("indicator")
@click.argument("date")
@pack_option
@config_option
@boundary
def confirm(indicator: str, date: str, pack_dir: str | None, config_path: str | None) -> int:
    """Confirm an observation held back as unconfirmed (it counts from now), or write back one rejected."""
    from tracker import service
    from tracker.ops import review

    ctx = service.load(config_path, pack_dir)
    with ctx.store() as store:
        message = review.confirm(ctx.pack, store, indicator, date)
    click.echo(escape_controls(message))
    return 0


@click.command()
@click.argument("indicator")
@click.argument("date")
@click.option("--note", help="Why it is wrong, in a sentence.")
@pack_option
@config_option
@boundary
def reject(indicator: str, date: str, note: str | None, pack_dir: str | None, config_path: str | None) -> int:
    """Reject an observation as a data fault: a new vintage without it (`tracker confirm` undoes it)."""
    from tracker import service
    from tracker.ops import review

    ctx = service.load(config_path, pack_dir)
    with ctx.store() as store:
        message = review.reject(ctx.pack, store, indicator, date, note)
    click.echo(escape_controls(message))
    return 0


COMMANDS = [observe, retract, confirm, reject, export]
