"""The `tracker` group: every command module registered in one place, so none imports this one."""

from __future__ import annotations

import click

from tracker import __version__
from tracker.cli import data, digest, evaluate, ingest, ops, pack, score, site, sources


@click.group()
@click.version_option(__version__, prog_name="tracker")
def main() -> None:
    """Which of several futures is the world drifting toward, and why."""


for _module in (pack, score, evaluate, data, ingest, ops, digest, site, sources):
    for _command in _module.COMMANDS:
        main.add_command(_command)
