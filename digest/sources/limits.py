"""A time limit on pure-Python work that has no deadline of its own (feedparser's lenient parser)."""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager


class TookTooLong(ValueError):
    """The work ran past its limit; the source is refused, the command goes on."""


@contextmanager
def time_limit(seconds: float, what: str) -> Iterator[None]:
    """Raise TookTooLong in this thread once `seconds` pass (main thread only: signals go there).

    An interval timer someone else set (pytest-timeout's, say) is put back afterwards, less the time
    spent here.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def expire(_signum, _frame):
        raise TookTooLong(f"{what} took longer than {seconds:g} s; refused")

    started = time.monotonic()
    previous_handler = signal.signal(signal.SIGALRM, expire)
    previous_delay, previous_interval = signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous_handler)
        if previous_delay:
            left = max(previous_delay - (time.monotonic() - started), 0.001)
            signal.setitimer(signal.ITIMER_REAL, left, previous_interval)
