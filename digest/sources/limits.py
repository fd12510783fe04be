"""A time limit on pure-Python work that has no deadline of its own (feedparser's lenient parser)."""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager


class TookTooLong(ValueError):
    """The work ran past its limit; the source is refused, the command goes on."""


class _Expired(BaseException):
    """Raised by the timer. A BaseException, so the `except Exception` blocks of the library being
    timed cannot swallow it; turned into TookTooLong on the way out."""


@contextmanager
def time_limit(seconds: float, what: str) -> Iterator[None]:
    """Raise TookTooLong in this thread once `seconds` pass (main thread only: signals go there).

    The timer fires again every second until the work stops, in case one expiry lands somewhere
    that swallows it. An interval timer someone else set (pytest-timeout's, say) is put back
    afterwards, less the time spent here.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    armed = True

    def expire(_signum, _frame):
        if armed:
            raise _Expired

    started = time.monotonic()
    previous_handler = signal.signal(signal.SIGALRM, expire)
    previous_delay, previous_interval = signal.setitimer(signal.ITIMER_REAL, seconds, 1.0)
    try:
        try:
            yield
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            armed = False
    except _Expired:
        raise TookTooLong(f"{what} took longer than {seconds:g} s; refused") from None
    finally:
        signal.signal(signal.SIGALRM, previous_handler)
        if previous_delay:
            left = max(previous_delay - (time.monotonic() - started), 0.001)
            signal.setitimer(signal.ITIMER_REAL, left, previous_interval)
