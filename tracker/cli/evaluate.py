"""`tracker evaluate`: the backtest held to account against the pack's known outcomes."""

from __future__ import annotations

from pathlib import Path

import click

from tracker.cli.common import boundary, config_option, emit_json, json_option, pack_option
from tracker.errors import InputError


@click.command()
@click.option("--from", "start", metavar="DATE", help="First date scored (default: the first known period's start).")
@click.option("--to", "end", metavar="DATE", help="Last date scored (default: the last known period's end, or today).")
@click.option("--max-lead", metavar="DURATION",
              help="How long before a period a call may begin and still be a hit (default: scoring.max_lead).")
@click.option("--out", "out_dir", metavar="DIR",
              help="Also write evaluate-reliability.png and evaluate-calls.png into DIR.")
@pack_option
@config_option
@json_option
@boundary
def evaluate(start: str | None, end: str | None, max_lead: str | None, out_dir: str | None,
             pack_dir: str | None, config_path: str | None, as_json: bool) -> int:
    """Score the point-in-time backtest against outcomes.csv: Brier, log score, reliability, calls, diagnosticity."""
    import datetime as dt

    from tracker import service
    from tracker.durations import parse_days
    from tracker.score.evaluate import default_span
    from tracker.views import evaluation

    ctx = service.load(config_path, pack_dir)
    if max_lead is not None:
        try:
            parse_days(max_lead, allow_zero=True)
        except ValueError as exc:
            raise InputError(f"--max-lead: {exc}") from None
    first, last = default_span(service.known_outcomes(ctx), dt.date.today())
    first = service.parse_day(start, flag="--from") if start else first
    last = service.parse_day(end, flag="--to") if end else last
    if first > last:
        raise InputError("--from must be on or before --to")
    with ctx.store() as store:
        result, doc = service.evaluate(ctx, store, first, last, max_lead)
    if out_dir:
        from tracker.views import evalchart

        for path in evalchart.write(Path(out_dir), result, doc, ctx.pack.outcomes or []):
            click.echo(f"Wrote {path}", err=as_json)
    emit_json(doc) if as_json else click.echo(evaluation.render(doc))
    return 0


COMMANDS = [evaluate]
