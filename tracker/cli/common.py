"""What every command shares: the one error boundary and the common options.

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
