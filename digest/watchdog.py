"""Deadlines for blocking network calls that have no overall timeout of their own.

smtplib's timeout bounds each read, not a reply: a server that trickles `250-` continuation lines
answers every read in time and never finishes. One watchdog thread per process watches the armed
deadlines and, when one passes, shuts the socket down; the blocked read then fails at once and the
caller sees `DeadlineExceeded` (an OSError, so the usual "connection lost" handling applies).
"""

from __future__ import annotations

import itertools
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress

TICK = 0.05  # how late past its deadline a socket is shut, at most


class DeadlineExceeded(TimeoutError):
    pass


class Watchdog:
    def __init__(self) -> None:
        self._armed: dict[int, tuple[float, Callable[[], socket.socket | None]]] = {}
        self._lock = threading.Lock()
        self._ids = itertools.count()
        self._thread: threading.Thread | None = None

    @contextmanager
    def deadline(self, seconds: float, sock: Callable[[], socket.socket | None], what: str) -> Iterator[None]:
        """Run the block with `sock()` shut down after `seconds`; DeadlineExceeded if that happened."""
        key = next(self._ids)
        fired = threading.Event()
        with self._lock:
            self._armed[key] = (time.monotonic() + seconds, lambda: (fired.set(), sock())[1])
            self._start()
        try:
            yield
        except OSError as exc:
            if fired.is_set():
                raise DeadlineExceeded(f"no complete reply to {what} within {seconds:g} s") from exc
            raise
        finally:
            with self._lock:
                self._armed.pop(key, None)

    def _start(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._watch, name="digest-watchdog", daemon=True)
            self._thread.start()

    def _watch(self) -> None:
        while True:
            time.sleep(TICK)
            now = time.monotonic()
            with self._lock:
                due = [key for key, (at, _) in self._armed.items() if at <= now]
                expired = [self._armed.pop(key)[1] for key in due]
            for get_socket in expired:
                shut(get_socket())


def shut(sock: socket.socket | None) -> None:
    """Shut a socket down both ways: a thread blocked reading it wakes up with an error."""
    if sock is None:
        return
    with suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)


WATCHDOG = Watchdog()
