"""`tracker score`, `explain`, `history` and `backtest`: reading the call, now and over time."""

from __future__ import annotations

import click

from tracker.cli.common import as_of_option, boundary, config_option, emit_json, json_option
from tracker.errors import TrackerError


@click.command()
@config_option
@as_of_option
@click.option("--window", metavar="DURATION", help="Trend window, e.g. 13w (default from config).")
@json_option
@boundary
def score(config_path: str | None, as_of: str | None, window: str | None, as_json: bool) -> int:
    """The manual check: scenario probabilities, trend call, top movers, what to watch."""
    from tracker import service
    from tracker.views import report

    ctx = service.load(config_path)
    if window:
        from tracker.durations import parse_days

        try:
            parse_days(window)
        except ValueError as exc:
            raise TrackerError(f"--window: {exc}", 2) from None
    with ctx.store() as store:
        result = service.score(ctx, store, service.parse_day(as_of), window=window)
    doc = report.to_json(result)
    emit_json(doc) if as_json else click.echo(report.render_score(doc))
    return 0


@click.command()
@click.argument("scenario", required=False)
@config_option
@as_of_option
@json_option
@boundary
def explain(scenario: str | None, config_path: str | None, as_of: str | None, as_json: bool) -> int:
    """Every indicator's contribution in bits, with the observation behind it."""
    from tracker import service
    from tracker.views import report

    ctx = service.load(config_path)
    if scenario and scenario not in ctx.pack.scenario_ids:
        raise TrackerError(f"unknown scenario {scenario!r}; expected one of {', '.join(ctx.pack.scenario_ids)}", 2)
    with ctx.store() as store:
        result = service.score(ctx, store, service.parse_day(as_of))
    if as_json:
        t = len(result.grid) - 1
        emit_json({"as_of": str(result.as_of.date()), "prior_bits": dict(zip(
            result.model.scenarios, map(float, result.prior_bits()), strict=True)),
            "indicators": report.explain_rows(result, t)})
    else:
        click.echo(report.render_explain(result, scenario))
    return 0


@click.command()
@config_option
@click.option("--csv", "as_csv", is_flag=True, help="Print CSV rows.")
@json_option
@boundary
def history(config_path: str | None, as_csv: bool, as_json: bool) -> int:
    """The stored score history: what each nightly run said."""
    from tracker import service
    from tracker.views import timeline

    ctx = service.load(config_path)
    with ctx.store() as store:
        frame = store.score_history()
        runs = store.runs(limit=10)
    if frame.empty:
        click.echo("No stored scores yet: `tracker run` stores one each night.")
        return 0
    rows = timeline.rows_from_frame(frame)
    if as_json:
        emit_json({"pack": ctx.pack.name, "rows": rows, "runs": runs})
    elif as_csv:
        click.echo(timeline.to_csv(rows, list(frame.columns)), nl=False)
    else:
        click.echo(timeline.chart(rows, list(frame.columns)))
    return 0


@click.command("backtest")
@click.option("--from", "start", required=True, metavar="DATE")
@click.option("--to", "end", metavar="DATE", help="Last date (default: today).")
@config_option
@click.option("--csv", "as_csv", is_flag=True, help="Print CSV rows (date,p_A,…,leading,trend).")
@json_option
@boundary
def backtest_cmd(start: str, end: str | None, config_path: str | None, as_csv: bool, as_json: bool) -> int:
    """Replay the weekly grid with only what was known on each date."""
    from tracker import service
    from tracker.views import timeline

    ctx = service.load(config_path)
    first, last = service.parse_day(start), service.parse_day(end)
    if first > last:
        raise TrackerError("--from must be on or before --to", 2)
    with ctx.store() as store:
        rows = service.replay(ctx, store, first, last)
    scen = ctx.pack.scenario_ids
    if as_json:
        emit_json({"pack": ctx.pack.name, "pseudo_real_time": True, "rows": rows})
    elif as_csv:
        click.echo(timeline.to_csv(rows, scen), nl=False)
    else:
        click.echo(timeline.chart(rows, scen))
    return 0


COMMANDS = [score, explain, history, backtest_cmd]
