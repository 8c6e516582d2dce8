"""Command line only: parse, call one function, print, return an exit code.

Exit codes: 0 ok; 1 failure; 2 bad input or configuration; 3 ran, but some sources failed.
Heavy modules (pandas, requests, matplotlib) are imported inside the commands that need them.
"""

from __future__ import annotations

import json
import os
import sys
import traceback
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Any

import click

from tracker import __version__
from tracker.errors import ProblemsError, TrackerError


def boundary(fn: Callable[..., int | None]) -> Callable[..., None]:
    """The one error boundary: user errors as `Error: …`, bugs as a message plus a log file."""

    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> None:
        try:
            code = fn(*args, **kwargs) or 0
        except ProblemsError as exc:
            for problem in exc.problems:
                click.echo(str(problem), err=True)
            click.echo(f"{len(exc.problems)} problem(s) found.", err=True)
            code = exc.exit_code
        except TrackerError as exc:
            click.echo(f"Error: {exc}", err=True)
            code = exc.exit_code
        except KeyboardInterrupt:
            click.echo("Interrupted.", err=True)
            code = 130
        except Exception as exc:  # noqa: BLE001 — the last resort: never a raw traceback
            log = Path("tracker-crash.log")
            # Owner-only, like the store and the log: a traceback can show paths and data.
            fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as fh:
                fh.write(traceback.format_exc())
            click.echo(f"An unexpected error has occurred ({type(exc).__name__}). "
                       f"The details are in {log}; please include it in a bug report.", err=True)
            code = 1
        sys.exit(code)

    return wrapper


config_option = click.option("--config", "config_path", metavar="FILE",
                             help="config.yaml to use (default: $TRACKER_CONFIG or ./config.yaml).")
json_option = click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
as_of_option = click.option("--as-of", metavar="DATE", help="Score with what was known on DATE (YYYY-MM-DD).")


def emit_json(doc: Any) -> None:
    click.echo(json.dumps(doc, indent=2, ensure_ascii=False, default=str))


@click.group()
@click.version_option(__version__, prog_name="tracker")
def main() -> None:
    """Which of several futures is the world drifting toward, and why."""


@main.command()
@click.argument("pack", required=False)
@config_option
@json_option
@boundary
def validate(pack: str | None, config_path: str | None, as_json: bool) -> int:
    """Check the pack like a compiler: every problem with file:line, then the lints."""
    from tracker import lint
    from tracker.pack import load_pack

    folder = Path(pack) if pack else _config_pack(config_path)
    loaded = load_pack(folder)
    warnings = lint.lint_pack(loaded)
    if as_json:
        emit_json({"pack": loaded.name, "indicators": len(loaded.indicators),
                   "warnings": [str(w) for w in warnings]})
    else:
        click.echo(lint.summary(loaded, warnings))
    return 0


def _config_pack(config_path: str | None) -> Path:
    from tracker.config import load_config
    from tracker.config_types import find_config

    return load_config(find_config(config_path)).pack_dir


@main.command("test")
@click.argument("pack", required=False)
@config_option
@boundary
def test_cmd(pack: str | None, config_path: str | None) -> int:
    """Run the tests written inside each indicator file."""
    from tracker.pack import load_pack
    from tracker.packtests import run_tests

    loaded = load_pack(Path(pack) if pack else _config_pack(config_path))
    count, failures = run_tests(loaded)
    for failure in failures:
        click.echo(f"FAILED {failure}")
    if failures:
        click.echo(f"{len(failures)} of {count} tests failed.")
        return 1
    click.echo(f"SUCCESS: {count} tests passed.")
    return 0


@main.command()
@config_option
@as_of_option
@click.option("--window", metavar="DURATION", help="Trend window, e.g. 13w (default from config).")
@json_option
@boundary
def score(config_path: str | None, as_of: str | None, window: str | None, as_json: bool) -> int:
    """The manual check: scenario probabilities, trend call, top movers, what to watch."""
    from tracker import report, service

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


@main.command()
@click.argument("scenario", required=False)
@config_option
@as_of_option
@json_option
@boundary
def explain(scenario: str | None, config_path: str | None, as_of: str | None, as_json: bool) -> int:
    """Every indicator's contribution in bits, with the observation behind it."""
    from tracker import report, service

    ctx = service.load(config_path)
    if scenario and scenario not in ctx.pack.scenario_ids:
        raise TrackerError(f"unknown scenario {scenario!r}; expected one of {', '.join(ctx.pack.scenario_ids)}", 2)
    with ctx.store() as store:
        result = service.score(ctx, store, service.parse_day(as_of))
    if as_json:
        t = len(result.grid) - 1
        emit_json({"as_of": str(result.as_of.date()), "prior_bits": dict(zip(
            result.model.scenarios, map(float, result.prior_bits()), strict=True)),
            "indicators": report.indicator_rows(result, t)})
    else:
        click.echo(report.render_explain(result, scenario))
    return 0


@main.command(context_settings={"ignore_unknown_options": True})  # VALUE may be negative: -2.5
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
    from tracker import observe as obs
    from tracker import service

    ctx = service.load(config_path)
    with ctx.store() as store:
        message = obs.record(ctx.pack, store, indicator, value, date_, url, note, published)
    click.echo(message)
    return 0


@main.command()
@config_option
@click.option("--csv", "as_csv", is_flag=True, help="Print CSV rows.")
@json_option
@boundary
def history(config_path: str | None, as_csv: bool, as_json: bool) -> int:
    """The stored score history: what each nightly run said."""
    from tracker import backtest, service

    ctx = service.load(config_path)
    with ctx.store() as store:
        frame = store.score_history()
        runs = store.runs(limit=10)
    if frame.empty:
        click.echo("No stored scores yet: `tracker run` stores one each night.")
        return 0
    rows = backtest.rows_from_frame(frame)
    if as_json:
        emit_json({"pack": ctx.pack.name, "rows": rows, "runs": runs})
    elif as_csv:
        click.echo(backtest.to_csv(rows, list(frame.columns)), nl=False)
    else:
        click.echo(backtest.chart(rows, list(frame.columns)))
    return 0


@main.command("backtest")
@click.option("--from", "start", required=True, metavar="DATE")
@click.option("--to", "end", metavar="DATE", help="Last date (default: today).")
@config_option
@click.option("--csv", "as_csv", is_flag=True, help="Print CSV rows (date,p_A,…,leading,trend).")
@json_option
@boundary
def backtest_cmd(start: str, end: str | None, config_path: str | None, as_csv: bool, as_json: bool) -> int:
    """Replay the weekly grid with only what was known on each date."""
    from tracker import backtest, service

    ctx = service.load(config_path)
    first, last = service.parse_day(start), service.parse_day(end)
    if first > last:
        raise TrackerError("--from must be on or before --to", 2)
    with ctx.store() as store:
        rows = backtest.replay(ctx, store, first, last)
    scen = ctx.pack.scenario_ids
    if as_json:
        emit_json({"pack": ctx.pack.name, "pseudo_real_time": True, "rows": rows})
    elif as_csv:
        click.echo(backtest.to_csv(rows, scen), nl=False)
    else:
        click.echo(backtest.chart(rows, scen))
    return 0


@main.command()
@click.argument("ids", nargs=-1)
@config_option
@as_of_option
@boundary
def export(ids: tuple[str, ...], config_path: str | None, as_of: str | None) -> int:
    """The observations known on a date (default today) as CSV, safe to open in a spreadsheet."""
    from tracker import export as export_mod
    from tracker import service

    ctx = service.load(config_path)
    with ctx.store() as store:
        frame = store.as_of(service.parse_day(as_of), list(ids) or None)
    click.echo(export_mod.to_csv(frame), nl=False)
    return 0


def _register() -> None:
    """Commands that live in their own modules (each imports its heavy parts lazily)."""
    from tracker import cli_digest, cli_ingest, cli_ops

    for module in (cli_ingest, cli_ops, cli_digest):
        for command in module.COMMANDS:
            main.add_command(command)


if __name__ == "__main__":
    # `python -m tracker.cli` runs this file as `__main__`, a second copy of the module: the
    # command modules import `tracker.cli`, so registering here would import them half-built
    # (a circular import). Run the real module's group, which registers them once.
    from tracker.cli import main as _main

    _main()
else:
    _register()
