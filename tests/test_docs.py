"""Every command has help text and a line in the README's command table (sqlite-utils' rule):
a command nobody can discover might as well not exist."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from tracker.cli import main

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()


@pytest.mark.parametrize("name", sorted(main.commands))
def test_every_command_has_help_and_is_in_the_readme(name: str) -> None:
    command = main.commands[name]
    assert command.help and len(command.help.strip()) > 20
    result = CliRunner().invoke(main, [name, "--help"])
    assert result.exit_code == 0 and "Usage:" in result.output
    assert f"| `tracker {name}" in README or f"/ `tracker {name}" in README


def test_the_readme_opens_with_the_two_commands_ci_runs() -> None:
    blocks = README.split("```sh\n")[1:3]
    first, second = (b.split("\n```")[0].strip() for b in blocks)
    assert first.endswith("tracker score")
    ci = (Path(__file__).resolve().parents[1] / ".ci" / "run").read_text()
    assert second in ci
