"""What a send run needs of the delivery log, and nothing more (as listmonk's manager needs a store).

The log of one digest: rows are claimed by a run (its owner id), then marked sent, failed or given
back. Every call happens inside `transaction()`, so one group commit can record many outcomes.
digest.store.delivery_log.StoredDeliveryLog implements it on SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Protocol

from digest.models import Claimed, OtherClaim


class DeliveryLog(Protocol):
    def transaction(self) -> AbstractContextManager[DeliveryLog]: ...

    def close(self) -> None: ...

    def skip_departed(self, now: datetime) -> int:
        """Pending rows of subscribers who left since queueing become skipped."""

    def claim(self, owner: str, limit: int, now: datetime) -> list[Claimed]:
        """Up to `limit` pending rows, now owned by `owner`; never a row another run holds."""

    def claims_of_others(self, owner: str) -> list[OtherClaim]: ...

    def release_claims_of(self, owners: Sequence[str | None]) -> int:
        """Rows of dead or stale runs go back to pending."""

    def mark_sent(self, sent: Sequence[tuple[int, str]], now: datetime) -> None:
        """(row id, Message-ID) pairs the server accepted."""

    def commit_sent(self, sent: Sequence[tuple[int, str]], now: datetime) -> None:
        """Outside `transaction()`: the same, committed at once (a group commit of successes)."""

    def mark_failed(self, row: Claimed, reason: str) -> bool:
        """A permanent failure, never retried; True when the row was still this run's."""

    def note_attempt(self, row_id: int, reason: str) -> None: ...

    def mark_ambiguous(self, row: Claimed, reason: str) -> bool:
        """The server may have the message (no reply to its end of data): never retried in this
        run; True when the row is now final (failed) after its last allowed try."""

    def release(self, ids: Iterable[int], owner: str) -> int:
        """This run's unfinished rows go back to pending for the next run."""

    def reopen_failed(self, ids: Iterable[int]) -> int:
        """Failures that were the server's fault after all: owed again."""

    def record_bounce(self, subscriber_id: int, limit: int, now: datetime) -> bool:
        """Count a permanent failure; True when it made the subscriber bounced."""
