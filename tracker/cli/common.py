"""What every command shares: the one error boundary and the common options.

Exit codes: 0 ok; 1 failure; 2 bad input or configuration; 3 ran, but some sources failed.
Heavy modules (pandas, requests, matplotlib) are imported inside the commands that need them.
"""

from __future__ import annotations

import os
import sys
import traceback
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Any

import click

from tracker.errors import ProblemsError, TrackerError
from tracker.text import escape_controls


def boundary(fn: Callable[..., int | None]) -> Callable[..., None]:
    """The one error boundary: user errors as `Error: …`, bugs as a message plus a log file."""

    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> None:
        try:
            code = fn(*args, **kwargs) or 0
        except ProblemsError as exc:
            for problem in exc.problems:  # a problem may quote the file: shown with controls escaped
                click.echo(escape_controls(str(problem)), err=True)
            click.echo(f"{len(exc.problems)} problem(s) found.", err=True)
            code = exc.exit_code
        except TrackerError as exc:
            click.echo(f"Error: {escape_controls(str(exc))}", err=True)
            code = exc.exit_code
        except KeyboardInterrupt:
            click.echo("Interrupted.", err=True)
            code = 130
        except Exception as exc:  # noqa: BLE001 — the last resort: never a raw traceback
            click.echo(_crash_report(exc), err=True)
            code = 1
        sys.exit(code)

    return wrapper


def _crash_report(exc: Exception) -> str:
    """Where the traceback went: tracker-crash.log in the working folder or, when that cannot be
    written (a read-only folder, a full disk), stderr itself: the report must not crash too."""
    trace = traceback.format_exc()
    log = Path("tracker-crash.log")
    try:
        # Owner-only, like the store and the log: a traceback can show paths and data.
        fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(trace)
    except OSError as err:
        return (f"An unexpected error has occurred ({type(exc).__name__}). {log} could not be written "
                f"({err.strerror}), so the details follow; please include them in a bug report.\n{trace}")
    return (f"An unexpected error has occurred ({type(exc).__name__}). "
            f"The details are in {log}; please include it in a bug report.")


config_option = click.option("--config", "config_path", metavar="FILE",
                             help="config.yaml to use (default: $TRACKER_CONFIG or ./config.yaml).")
json_option = click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
as_of_option = click.option("--as-of", metavar="DATE", help="Score with what was known on DATE (YYYY-MM-DD).")
pack_option = click.option("--pack", "pack_dir", metavar="DIR",
                           help="Pack folder to use instead of config.yaml's `pack:` (seed paths start from "
                                "the folder that holds it).")


def emit_text(text: str, view: str) -> None:
    """A terminal view: coloured on a terminal (views/colour.py, which imports rich only then),
    the plain lines anywhere else, a pipe or cron."""
    from tracker.views import colour

    if colour.wanted(sys.stdout):
        colour.show(text, view, sys.stdout)
    else:
        click.echo(text)


def emit_json(doc: dict[str, Any]) -> None:
    """Every --json output: strict JSON, a non-finite number as null listed under `non_finite`
    (views/jsonout.py; README, the JSON contract)."""
    from tracker.views.jsonout import strict_json

    click.echo(strict_json(doc))
