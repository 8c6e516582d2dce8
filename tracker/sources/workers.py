"""The fetch workers: a pool of daemon threads that can be walked away from.

ThreadPoolExecutor joins every worker when the interpreter exits and, on leaving its `with`,
runs every queued task first: Ctrl-C during an ingest of 200 sources went on fetching for 43 s
(issue 16, item 5). Here an interrupt cancels what is queued, gives what is in flight a short
grace, and leaves the rest behind: a worker never writes to the store (ingest's calling thread
is the one writer), so abandoning one loses nothing but its answer.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

GRACE = 0.5
"""Seconds an interrupted ingest waits for requests already in flight."""


class Workers:
    def __init__(self, count: int) -> None:
        self._tasks: queue.SimpleQueue[tuple[Future[Any], Callable[..., Any], tuple[Any, ...]] | None] = \
            queue.SimpleQueue()
        self._queued: list[Future[Any]] = []
        self._threads = [threading.Thread(target=self._work, daemon=True, name=f"fetch-{n}")
                         for n in range(max(1, count))]
        for thread in self._threads:
            thread.start()

    def submit(self, fn: Callable[..., Any], *args: Any) -> Future[Any]:
        future: Future[Any] = Future()
        self._queued.append(future)
        self._tasks.put((future, fn, args))
        return future

    def close(self) -> None:
        """No more work: each worker ends after the tasks already queued."""
        for _ in self._threads:
            self._tasks.put(None)

    def abandon(self, grace: float = GRACE) -> int:
        """Cancel every task not started; wait at most `grace` for the running ones. Returns how
        many were still running when the grace ran out."""
        for future in self._queued:
            future.cancel()
        self.close()
        deadline = time.monotonic() + grace
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        return sum(thread.is_alive() for thread in self._threads)

    def _work(self) -> None:
        while (task := self._tasks.get()) is not None:
            future, fn, args = task
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(fn(*args))
            except BaseException as exc:  # noqa: BLE001 — handed to the caller through the future
                future.set_exception(exc)
