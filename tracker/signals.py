"""Ctrl-C and SIGTERM as exceptions on the main thread, and remembered.

The program turns SIGINT into KeyboardInterrupt and SIGTERM into Terminated, so that every
command ends through its clean-up (a run's row closed, a transaction rolled back) with 130 or
143. A handler's exception can be lost, though: C code that checks for signals while it works
(a parser, a driver) may clear it, and the command then ran to its end as if nothing had been
sent (issue 16, item 5, seen under load). So the signal is also remembered, and long loops call
`check()` at their safe points to raise it again.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from typing import Any

_received: list[int] = []


class Terminated(BaseException):
    """SIGTERM raised on the main thread, as SIGINT raises KeyboardInterrupt.

    A BaseException, so that no `except Exception` on the way (a failed alert, say) swallows it.
    """


def install() -> None:
    """For the whole program (cli/entry.py): both signals raise, and are remembered."""
    signal.signal(signal.SIGINT, _raise)
    signal.signal(signal.SIGTERM, _raise)


def received() -> bool:
    """Whether the program was sent SIGINT or SIGTERM (since install)."""
    return bool(_received)


def check() -> None:
    """Raise again a signal whose exception was lost on the way (see the module's docstring)."""
    if _received:
        raise _exception(_received[-1])


def sigterm_raises() -> contextlib.AbstractContextManager[None]:
    """SIGTERM raises Terminated for the block (main thread only), for commands run in-process;
    a second one does not cut the clean-up short."""
    def handler(signum: int, frame: object) -> None:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        raise Terminated("terminated by SIGTERM")

    return _swapped({signal.SIGTERM: handler})


def held() -> contextlib.AbstractContextManager[None]:
    """Both signals ignored for the block (main thread only): the clean-up after an interrupt."""
    return _swapped({signal.SIGINT: signal.SIG_IGN, signal.SIGTERM: signal.SIG_IGN})


@contextlib.contextmanager
def _swapped(handlers: dict[int, Any]) -> Iterator[None]:
    """These handlers for the block, the previous ones after it; signals are the main thread's
    alone, so elsewhere the block runs as it is."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {sig: signal.signal(sig, handler) for sig, handler in handlers.items()}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _raise(signum: int, frame: object) -> None:
    _received.append(signum)
    raise _exception(signum)


def _exception(signum: int) -> BaseException:
    return KeyboardInterrupt() if signum == signal.SIGINT else Terminated("terminated by SIGTERM")
