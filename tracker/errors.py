"""One error type for everything the user can fix, with the exit code it deserves."""

from __future__ import annotations

from dataclasses import dataclass


class TrackerError(Exception):
    """A failure the user can act on: printed as `Error: …`, never as a traceback."""

    exit_code = 1

    def __init__(self, message: str, exit_code: int | None = None) -> None:
        super().__init__(message)
        if exit_code is not None:
            self.exit_code = exit_code


class InputError(TrackerError):
    """Bad input or configuration (exit 2)."""

    exit_code = 2


@dataclass(frozen=True, order=True)
class Problem:
    """One finding in a file, reported as `path:line:col: field: message`."""

    path: str
    line: int
    col: int
    field: str
    message: str

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}:{self.col}" if self.line else self.path
        return f"{where}: {self.field}: {self.message}" if self.field else f"{where}: {self.message}"


class ProblemsError(InputError):
    """Every problem found in one pass, so the user can fix them all at once."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = sorted(problems)
        super().__init__("\n".join(str(p) for p in self.problems))

