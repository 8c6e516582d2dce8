"""The command line: parse, call one function, print, return an exit code; one module per command group.
May import anything below it; nothing imports it (the `tracker` program and `python -m tracker.cli` enter here).
"""

from __future__ import annotations

from typing import Any


def __getattr__(name: str) -> Any:
    """`main`, the click group, imported on first use: the program enters through entry.run,
    which installs its signal handlers before importing the commands."""
    if name == "main":
        from tracker.cli.app import main

        return main
    raise AttributeError(name)
