"""What can be wrong with a store file, said in one line that names the file and what to do.

SQLite reports a damaged page, a read-only file or folder, a full disk or a foreign schema as
`sqlite3.DatabaseError`, often long after the file was opened (a damaged page is found when a
query reaches it). Left alone they end in "unexpected error" and a crash log (issue 16, item 3),
so every store operation turns them into a TrackerError here: exit 2 for what the user must
fix before anything can run, exit 1 for a disk that cannot take the write now.
"""

from __future__ import annotations

import functools
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from tracker.errors import TrackerError

_DAMAGED = ("SQLITE_CORRUPT", "SQLITE_NOTADB")
_READ_ONLY = ("SQLITE_READONLY", "SQLITE_CANTOPEN", "SQLITE_PERM", "SQLITE_AUTH")
_NO_SPACE = ("SQLITE_FULL", "SQLITE_IOERR")

F = TypeVar("F", bound=Callable[..., Any])


def store_fault(path: Path, exc: BaseException) -> TrackerError:
    """The one-line error for a failed store operation."""
    name = getattr(exc, "sqlite_errorname", "") or ""
    reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    if isinstance(exc, PermissionError) or name.startswith(_READ_ONLY):
        return TrackerError(f"{path}: cannot write the store ({reason}); make the file and its folder "
                            "writable by this user (SQLite also writes -wal and -shm files beside it)", 2)
    if isinstance(exc, OSError):
        return TrackerError(f"{path}: cannot open the store ({reason}); check the path in config.yaml `store:`", 2)
    if name.startswith(_DAMAGED):
        what = "not a usable tracker store" if name.startswith("SQLITE_NOTADB") else "the store is damaged"
        return TrackerError(f"{path}: {what} ({reason}); restore it from a backup, or move it "
                            "aside and the next command starts a new one from the seeds", 2)
    if name.startswith(_NO_SPACE):
        return TrackerError(f"{path}: cannot write the store ({reason}); free space on its disk and run the "
                            "command again (what this command was writing was rolled back)", 1)
    if name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")):
        return TrackerError(f"{path}: the store stayed locked by another process ({reason}); "
                            "run the command again when it has finished", 1)
    return TrackerError(f"{path}: the store failed ({reason})", 1)


def named(fn: F) -> F:
    """A Store method whose SQLite and file-system failures come out as store_fault."""

    @functools.wraps(fn)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(self, *args, **kwargs)
        except (sqlite3.IntegrityError, sqlite3.ProgrammingError, sqlite3.InterfaceError):
            raise  # what was written is wrong, not the file
        except (sqlite3.DatabaseError, OSError) as exc:
            raise store_fault(self.path, exc) from None

    return wrapper  # type: ignore[return-value]


def every_method_named(cls: type) -> type:
    """Apply `named` to every public method: the store's whole surface, none forgotten."""
    for attr, value in list(vars(cls).items()):
        if callable(value) and not attr.startswith("_") and attr not in ("transaction", "snapshot"):
            setattr(cls, attr, named(value))
    return cls
