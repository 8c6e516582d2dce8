"""Runs whose process is gone: a `running` row left by a process killed outright (SIGKILL, the
OOM killer, a restart) would say "running" for ever. Each row holds its process id (Store.begin_run);
`tracker status` closes the rows whose process no longer exists, naming it."""

from __future__ import annotations

import contextlib
import datetime as dt
import os

from tracker.errors import TrackerError
from tracker.store.db import Store


def process_gone(pid: int) -> bool:
    """True when no process has this id on this machine (signal 0 checks without sending)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # it exists, under another user
        return False
    return False


def close_dead_runs(store: Store, now: dt.datetime) -> list[int]:
    """Close every `running` row whose process is gone; the ids closed. A store that cannot be
    written (read-only) keeps its rows, and status still reports."""
    closed = []
    for run in store.runs(limit=50):
        pid = run["detail"].get("pid")
        if run["status"] != "running" or not isinstance(pid, int) or pid == os.getpid() or not process_gone(pid):
            continue
        with contextlib.suppress(TrackerError):
            store.finish_run(run["id"], "failed", {"error": f"process {pid} is gone: it was killed or crashed "
                                                            "before the run finished (closed by `tracker status`)"},
                             now=now)
            closed.append(run["id"])
    return closed
