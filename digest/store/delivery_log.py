"""The delivery log of one digest, as a send run sees it (digest.send.log.DeliveryLog).

One database connection for the whole run (no reconnect per commit) and a transaction per step;
inside a step, every call below works in that transaction. The queries are in deliveries.py.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime

from sqlalchemy import Connection, Engine

from digest.models import Claimed, OtherClaim
from digest.store import deliveries as rows
from digest.store import subscribers as subscriber_store
from digest.store.sent_marks import SentMarks
from digest.store.write_turns import write_turn


class StoredDeliveryLog:
    """`scope`: a queued batch's rows only (send/queue.py). `fence`: called in each claim's
    transaction before anything is claimed; it raises to stop the run (a scheduler that lost its
    leadership, schedule/lock.py)."""

    def __init__(
        self,
        engine: Engine,
        digest_id: int,
        scope: rows.Scope | None = None,
        fence: Callable[[Connection], None] | None = None,
    ) -> None:
        self.engine, self.digest_id, self.scope, self.fence = engine, digest_id, scope, fence
        self._db: Connection | None = None
        self._marks: SentMarks | None = None

    @contextmanager
    def transaction(self) -> Iterator[StoredDeliveryLog]:
        if self._db is None:
            self._db = self.engine.connect()
        with write_turn(self.engine), self._db.begin():
            yield self

    def commit_sent(self, sent: Sequence[tuple[int, str]], now: datetime) -> None:
        """Outside transaction(): mark rows sent in a transaction of their own (the hot path)."""
        if self._db is None:
            self._db = self.engine.connect()
        if self._marks is None:
            self._marks = SentMarks(self._db)
        with write_turn(self.engine):
            self._marks.record(sent, now)

    def close(self) -> None:
        self._marks = None
        if self._db is not None:
            self._db.close()
            self._db = None

    @property
    def _connection(self) -> Connection:
        assert self._db is not None and self._db.in_transaction(), "call inside transaction()"
        return self._db

    def skip_departed(self, now: datetime) -> int:
        return rows.skip_departed(self._connection, self.digest_id, now)

    def claim(self, owner: str, limit: int, now: datetime) -> list[Claimed]:
        if self.fence is not None:
            self.fence(self._connection)
        return rows.claim(self._connection, self.digest_id, owner, limit, now, self.scope)

    def claims_of_others(self, owner: str) -> list[OtherClaim]:
        return rows.claims_of_others(self._connection, self.digest_id, owner, self.scope)

    def release_claims_of(self, owners: Sequence[str | None]) -> int:
        return rows.release_claims_of(self._connection, self.digest_id, owners, self.scope)

    def mark_sent(self, sent: Sequence[tuple[int, str]], now: datetime) -> None:
        rows.mark_sent_many(self._connection, sent, now)

    def mark_failed(self, row: Claimed, reason: str) -> bool:
        return rows.mark_failed(self._connection, row, reason)

    def note_attempt(self, row_id: int, reason: str) -> None:
        rows.note_attempt(self._connection, row_id, reason)

    def mark_ambiguous(self, row: Claimed, reason: str) -> bool:
        return rows.mark_ambiguous(self._connection, row, reason)

    def release(self, ids: Iterable[int], owner: str) -> int:
        return rows.release(self._connection, ids, owner)

    def reopen_failed(self, ids: Iterable[int]) -> int:
        return rows.reopen_failed(self._connection, ids)

    def record_bounce(self, subscriber_id: int, limit: int, now: datetime) -> bool:
        return subscriber_store.record_bounce(self._connection, subscriber_id, limit, now)
