"""`tracker validate` and `tracker test`: the pack checked like code, then its own tests."""

from __future__ import annotations

from pathlib import Path

import click

from tracker.cli.common import boundary, config_option, emit_json, json_option, pack_option
from tracker.errors import InputError
from tracker.text import escape_controls


@click.command()
@click.argument("pack", required=False)
@pack_option
@config_option
@json_option
@boundary
def validate(pack: str | None, pack_dir: str | None, config_path: str | None, as_json: bool) -> int:
    """Check the pack like a compiler: every problem with file:line (every seed row too), then the lints."""
    from tracker.pack import lint
    from tracker.pack.load import load_pack

    loaded = load_pack(_folder(pack, pack_dir, config_path))
    warnings = lint.lint_pack(loaded)
    if as_json:
        emit_json({"pack": loaded.name, "indicators": len(loaded.indicators),
                   "notes": [str(n) for n in loaded.notes], "warnings": [str(w) for w in warnings]})
    else:
        click.echo(escape_controls(lint.summary(loaded, warnings), keep="\n"))
    return 0


def _folder(pack: str | None, pack_dir: str | None, config_path: str | None) -> Path:
    """PACK or --pack (the same option every command takes), else config.yaml's `pack:`."""
    if pack and pack_dir and Path(pack).resolve() != Path(pack_dir).resolve():
        raise InputError(f"two packs given: {pack} and --pack {pack_dir}; name one")
    chosen = pack or pack_dir
    return Path(chosen) if chosen else _config_pack(config_path)


def _config_pack(config_path: str | None) -> Path:
    from tracker.config import find_config
    from tracker.pack.config_schema import load_config

    return load_config(find_config(config_path)).pack_dir


@click.command("test")
@click.argument("pack", required=False)
@pack_option
@config_option
@boundary
def test_cmd(pack: str | None, pack_dir: str | None, config_path: str | None) -> int:
    """Run the tests written inside each indicator file."""
    from tracker.pack.load import load_pack
    from tracker.score.packtests import run_tests

    loaded = load_pack(_folder(pack, pack_dir, config_path))
    count, failures = run_tests(loaded)
    for failure in failures:
        click.echo(f"FAILED {escape_controls(str(failure))}")
    if failures:
        click.echo(f"{len(failures)} of {count} tests failed.")
        return 1
    click.echo(f"SUCCESS: {count} tests passed.")
    return 0


@click.command()
@pack_option
@config_option
@json_option
@boundary
def indicators(pack_dir: str | None, config_path: str | None, as_json: bool) -> int:
    """List the pack's indicators: group, kind, states or levels, source, seed and the last observation."""
    import datetime as dt

    from tracker import service
    from tracker.store.lastobs import last_observations
    from tracker.views import indicators as view

    ctx = service.load(config_path, pack_dir)
    with ctx.store() as store:
        doc = view.document(ctx.pack, last_observations(store, dt.date.today()))
    emit_json(doc) if as_json else click.echo(escape_controls(view.render(doc), keep="\n"))
    return 0


COMMANDS = [validate, test_cmd, indicators]
