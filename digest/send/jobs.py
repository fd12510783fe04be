"""What moves through a send run: a claimed row on its way (Job) and what became of it (Outcome)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from digest.mail import Outgoing, Recipient
from digest.models import Claimed


@dataclass
class Job:
    row: Claimed
    message_id: str
    tries: int = 0
    made: Callable[[], Outgoing] | None = None  # its message, started ahead (Letters.start)

    @property
    def recipient(self) -> Recipient:
        row = self.row
        return Recipient(row.email, row.name, row.subscriber_id, row.locale, row.id)


@dataclass
class Outcome:
    job: Job
    # "sent"; "temporary", "permanent", "content", "ambiguous", "fatal", "config" (see
    # digest.transport.DeliveryError); "unsent": not tried (stopping), goes back to the queue.
    kind: str
    reason: str = ""
