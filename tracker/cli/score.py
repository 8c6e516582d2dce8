"""`tracker score`, `explain`, `history` and `backtest`: reading the call, now and over time."""

from __future__ import annotations

import click

from tracker.cli.common import as_of_option, boundary, config_option, emit_json, emit_text, json_option, pack_option
from tracker.errors import TrackerError


@click.command()
@pack_option
@config_option
@as_of_option
@click.option("--window", metavar="DURATION", help="Trend window, e.g. 13w (default from config).")
@json_option
@boundary
def score(pack_dir: str | None, config_path: str | None, as_of: str | None, window: str | None, as_json: bool) -> int:
    """The manual check: scenario probabilities, trend call, top movers, what to watch."""
    from tracker import service
    from tracker.views import report

    ctx = service.load(config_path, pack_dir)
    if window:
        from tracker.durations import parse_days

        try:
            parse_days(window)
        except ValueError as exc:
            raise TrackerError(f"--window: {exc}", 2) from None
    with ctx.store() as store:
        result = service.score(ctx, store, service.parse_day(as_of), window=window)
    doc = report.to_json(result)
    emit_json(doc) if as_json else emit_text(report.render_score(doc, ctx.pack), "score")
    return 0


@click.command()
@click.argument("scenario", required=False)
@pack_option
@config_option
@as_of_option
@json_option
@boundary
def explain(scenario: str | None, pack_dir: str | None, config_path: str | None, as_of: str | None,
            as_json: bool) -> int:
    """Every indicator's contribution in bits, with the observation behind it."""
    from tracker import service
    from tracker.views import explain as explain_view

    ctx = service.load(config_path, pack_dir)
    if scenario and scenario not in ctx.pack.scenario_ids:
        raise TrackerError(f"unknown scenario {scenario!r}; expected one of {', '.join(ctx.pack.scenario_ids)}", 2)
    with ctx.store() as store:
        result = service.score(ctx, store, service.parse_day(as_of))
    if as_json:
        emit_json(explain_view.document(result, scenario))
    else:
        emit_text(explain_view.render(result, scenario), "explain")
    return 0


width_option = click.option("--width", type=click.IntRange(min=20), metavar="COLUMNS",
                            help="Columns of the chart (default: the terminal's, or 80).")


@click.command()
@pack_option
@config_option
@click.option("--csv", "as_csv", is_flag=True, help="Print CSV rows.")
@json_option
@width_option
@boundary
def history(pack_dir: str | None, config_path: str | None, as_csv: bool, as_json: bool, width: int | None) -> int:
    """The stored score history: what each nightly run said."""
    from tracker import service
    from tracker.views import timeline

    ctx = service.load(config_path, pack_dir)
    with ctx.store() as store:
        frame = store.score_history()
        runs = store.runs(limit=10)
    rows = timeline.rows_from_frame(frame)
    scen = list(frame.columns) if not frame.empty else ctx.pack.scenario_ids
    if as_json:   # valid JSON on an empty store too: no rows yet (issue 17)
        emit_json({"pack": ctx.pack.name, "rows": rows, "runs": runs})
    elif as_csv:
        click.echo(timeline.to_csv(rows, scen), nl=False)
    elif not rows:
        click.echo("No stored scores yet: `tracker run` stores one each night.")
    else:
        emit_text(timeline.chart(rows, scen, width), "timeline")
    return 0


@click.command("backtest")
@click.option("--from", "start", required=True, metavar="DATE",
              help="First date to replay (YYYY-MM-DD); weekly from there, each seeing only what was known then.")
@click.option("--to", "end", metavar="DATE", help="Last date (default: today).")
@pack_option
@config_option
@click.option("--csv", "as_csv", is_flag=True, help="Print CSV rows (date,p_A,…,leading,trend).")
@json_option
@width_option
@boundary
def backtest_cmd(start: str, end: str | None, pack_dir: str | None, config_path: str | None, as_csv: bool,
                 as_json: bool, width: int | None) -> int:
    """Replay the weekly grid with only what was known on each date."""
    from tracker import service
    from tracker.views import timeline

    ctx = service.load(config_path, pack_dir)
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
        emit_text(timeline.chart(rows, scen, width), "timeline")
    return 0


COMMANDS = [score, explain, history, backtest_cmd]
