"""Turns for SQLite writers of one send, taken in the kernel instead of by SQLite's busy handler.

Several processes share one send (DIGEST_SEND_PROCESSES) and each commits hundreds of times a
second. When a write transaction finds the file locked, SQLite's busy handler sleeps 1, 2, 5, 10 ms
before it looks again, and the whole process (every connection it drives) stalls meanwhile. An
exclusive `flock` on a lock file next to the database is taken first instead: a waiting writer
wakes the moment the other one is done. The lock is only a queue: SQLite's own locking still
guards the data, so a process that does not take it (another command) is merely slower to get its
turn. The kernel drops the lock when its process dies, SIGKILL included.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext

from sqlalchemy import Engine

_FILES: dict[str, int] = {}  # lock file path -> descriptor, one per process


@contextmanager
def _turn(fd: int) -> Iterator[None]:
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)


def write_turn(engine: Engine):
    """A context that holds this process's turn to write to `engine`'s SQLite file."""
    database = engine.url.database if engine.dialect.name == "sqlite" else None
    if not database or database == ":memory:":
        return nullcontext()
    path = f"{database}-turns"
    fd = _FILES.get(path)
    if fd is None:
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        except OSError:
            return nullcontext()  # a read-only folder: SQLite's own waiting still works
        _FILES[path] = fd
    return _turn(fd)
