"""`tracker validate` and `tracker test`: the pack checked like code, then its own tests."""

from __future__ import annotations

from pathlib import Path

import click

from tracker.cli.common import boundary, config_option, emit_json, json_option
from tracker.text import escape_controls


@click.command()
@click.argument("pack", required=False)
@config_option
@json_option
@boundary
def validate(pack: str | None, config_path: str | None, as_json: bool) -> int:
    """Check the pack like a compiler: every problem with file:line, then the lints."""
    from tracker.pack import lint
    from tracker.pack.load import load_pack

    folder = Path(pack) if pack else _config_pack(config_path)
    loaded = load_pack(folder)
    warnings = lint.lint_pack(loaded)
    if as_json:
        emit_json({"pack": loaded.name, "indicators": len(loaded.indicators),
                   "warnings": [str(w) for w in warnings]})
    else:
        click.echo(escape_controls(lint.summary(loaded, warnings), keep="\n"))
    return 0


def _config_pack(config_path: str | None) -> Path:
    from tracker.config import find_config
    from tracker.pack.config_schema import load_config

    return load_config(find_config(config_path)).pack_dir


@click.command("test")
@click.argument("pack", required=False)
@config_option
@boundary
def test_cmd(pack: str | None, config_path: str | None) -> int:
    """Run the tests written inside each indicator file."""
    from tracker.pack.load import load_pack
    from tracker.score.packtests import run_tests

    loaded = load_pack(Path(pack) if pack else _config_pack(config_path))
    count, failures = run_tests(loaded)
    for failure in failures:
        click.echo(f"FAILED {escape_controls(str(failure))}")
    if failures:
        click.echo(f"{len(failures)} of {count} tests failed.")
        return 1
    click.echo(f"SUCCESS: {count} tests passed.")
    return 0


COMMANDS = [validate, test_cmd]
