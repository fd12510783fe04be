"""Live reload for the preview: one fingerprint of everything a digest is made from.

The open page polls /version every second or so and reloads itself when the fingerprint changes.
Polling a fingerprint needs no file watcher, no thread and no WebSocket, survives a server restart,
and sees changes made by other processes (`digest ingest` in another terminal writes to the store).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import Path

from sqlalchemy import Connection, func, select

from digest.store.schema import digests, editions, items


def store_state(connection: Connection) -> tuple:
    """Counts and newest change times: an ingest, an update or a send moves at least one of them."""
    item_row = connection.execute(
        select(func.count(), func.max(items.c.updated_at), func.max(items.c.first_seen))
    ).one()
    digest_row = connection.execute(
        select(func.count(), func.max(digests.c.completed_at), func.max(digests.c.created_at))
    ).one()
    sent = connection.execute(select(func.count()).where(digests.c.status == "sent")).scalar_one()
    # Every edition action moves its row's updated_at, even one that leaves the state as it was.
    edition_row = connection.execute(select(func.count(), func.max(editions.c.updated_at))).one()
    return (*_plain(item_row), *_plain(digest_row), sent, *_plain(edition_row))


def _plain(row: Iterable) -> tuple:
    return tuple(value.isoformat() if hasattr(value, "isoformat") else value for value in row)


def files_state(paths: Iterable[Path | None]) -> tuple:
    """(path, mtime, size) of every file under the given files and folders; missing ones count too."""
    found: list[tuple] = []
    for root in paths:
        if root is None:
            continue
        candidates = sorted(root.rglob("*")) if root.is_dir() else [root]
        for path in candidates:
            try:
                stat = path.stat()
            except OSError:
                found.append((str(path), None))
                continue
            if path.is_file():
                found.append((str(path), stat.st_mtime_ns, stat.st_size))
    return tuple(found)


def fingerprint(*states: object) -> str:
    return hashlib.sha256(repr(states).encode()).hexdigest()[:16]
