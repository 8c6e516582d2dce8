"""The default pack's three machine outputs, pinned byte for byte.

They were saved before `tracker/` was cut into packages (issue 13), so a move that changes a
number, a key or a line ending fails here. They change only with the default pack itself: after
an intended change to indicators/ or seeds/, regenerate them with

    python tests/test_default_pack_golden.py

and say in the commit which figures moved and why.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from packbuilder import copy_default_project

from tracker.cli import main

GOLDEN = Path(__file__).parent / "golden"
COMMANDS = {
    "score.json": ["score", "--json", "--as-of", "2026-11-23"],
    "explain.json": ["explain", "--json", "--as-of", "2026-11-23"],
    "backtest.csv": ["backtest", "--from", "2021-01-01", "--to", "2026-11-23", "--csv"],
}


def _project(folder: Path) -> Path:
    """The default pack, its seeds and config in a folder of their own, so the store is new."""
    copy_default_project(folder)
    return folder / "config.yaml"


def _output(config: Path, args: list[str]) -> str:
    result = CliRunner().invoke(main, [*args, "--config", str(config)])
    assert result.exit_code == 0, result.output
    return result.stdout


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_default_pack_output_is_unchanged(tmp_path: Path, name: str) -> None:
    config = _project(tmp_path)
    assert _output(config, COMMANDS[name]) == (GOLDEN / name).read_text(encoding="utf-8")


if __name__ == "__main__":
    import tempfile

    with tempfile.TemporaryDirectory() as scratch:
        cfg = _project(Path(scratch))
        for file, command in COMMANDS.items():
            (GOLDEN / file).write_text(_output(cfg, command), encoding="utf-8")
            print(f"wrote {GOLDEN / file}", file=sys.stderr)
