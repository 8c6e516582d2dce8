"""One writer at a time: a non-blocking `fcntl.flock` on `<store>.lock` (PITFALLS §2.1.4).

cron and `tracker schedule` both enabled, or two daemons, must not run the nightly job twice
at once. The lock is taken without waiting: a second run fails at once, naming the holder.
The file is never deleted — removing a flock file lets a third process lock a fresh inode
while the second still holds the old one.

Re-entrant within one thread, so a job wrapper and the function it calls may both take it;
another thread of the same process is refused like another process (flock locks belong to
the open file, and every acquisition here opens the file anew).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from tracker.errors import TrackerError

_held: dict[Path, tuple[int, int]] = {}
"""lock path → (thread id, depth) for the locks this process holds."""
_guard = threading.Lock()


def lock_path(store_path: Path) -> Path:
    return Path(f"{Path(store_path).resolve()}.lock")


@contextlib.contextmanager
def run_lock(store_path: Path) -> Iterator[Path]:
    """Hold `<store>.lock` for the block, or raise TrackerError (exit 1) if it is taken."""
    path = lock_path(store_path)
    me = threading.get_ident()
    with _guard:
        owner, depth = _held.get(path, (0, 0))
        if depth and owner == me:
            _held[path] = (me, depth + 1)
            nested = True
        else:
            nested = False
    if nested:
        try:
            yield path
        finally:
            with _guard:
                _held[path] = (me, _held[path][1] - 1)
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise TrackerError(f"another tracker run is in progress (lock {path} held by pid "
                               f"{_holder(fd)})", 1) from None
        with _guard:
            _held[path] = (me, 1)
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
            yield path
        finally:
            with _guard:
                _held.pop(path, None)
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def _holder(fd: int, patience: float = 0.5) -> str:
    """The pid the holder wrote. It writes it just after taking the lock, so a loser that reads in
    that instant waits a little for it (under load the instant lasted long enough to be seen);
    `unknown` if it never comes (the holder died between the two)."""
    deadline = time.monotonic() + patience
    while True:
        text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
        if text.isdigit() or time.monotonic() > deadline:
            return text if text.isdigit() else "unknown"
        time.sleep(0.01)
