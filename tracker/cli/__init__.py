"""The command line: parse, call one function, print, return an exit code; one module per command group.
May import anything below it; nothing imports it (the `tracker` program and `python -m tracker.cli` enter here).
"""

from tracker.cli.app import main

__all__ = ["main"]
