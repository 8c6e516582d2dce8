"""The `tracker` program itself: signals handled from its first instant, then the command line.

Ctrl-C and SIGTERM must end any command promptly with 130 and 143 and a word on stderr, never a
traceback nor a death by signal (issue 16, item 5). The commands' own boundary (common.py)
handles them while a command runs; this covers the rest: importing the commands, parsing the
arguments, and click itself (which would say "Aborted!" and exit 1).
"""

from __future__ import annotations

import os
import signal
import sys
from typing import NoReturn

from tracker import signals
from tracker.signals import Terminated


def run(argv: list[str] | None = None) -> NoReturn:
    signals.install()
    try:
        code = _command_line(argv)
    except KeyboardInterrupt:
        code = _said("Interrupted.", 130)
    except Terminated:
        code = _said("Terminated.", 143)
    except SystemExit as exc:
        code = exc.code
    _exit(code)


def _command_line(argv: list[str] | None) -> object:
    import click

    from tracker.cli.app import main

    try:
        return main.main(args=argv, prog_name="tracker", standalone_mode=False)
    except click.exceptions.Abort:  # click's word for a KeyboardInterrupt while it parsed
        raise KeyboardInterrupt from None
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code


def _said(word: str, code: int) -> int:
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, signal.SIG_IGN)
    print(word, file=sys.stderr)
    return code


def _exit(code: object) -> NoReturn:
    """sys.exit, except after a signal: CPython then sometimes ends the process by SIGINT even
    though the KeyboardInterrupt was handled (it remembers one that passed through code it ran
    from C, during an import), so the exit code would be lost. Seen as -2 instead of 130 in about
    one interrupt in ten during start-up; leaving through os._exit keeps the code."""
    if not signals.received():
        sys.exit(code)
    if not isinstance(code, int):
        if code is not None:
            print(code, file=sys.stderr)
        code = 0 if code is None else 1
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
