"""What moves through a send run: a claimed row on its way (Job) and what became of it (Outcome)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from digest.mail import Outgoing, Recipient
from digest.models import Claimed
from digest.smtp_replies import DeliveryError


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


def outcome_of(job: Job, error: Exception) -> Outcome:
    """What an error while making or sending `job` means for it. A DeliveryError says; anything
    else is a bug, which must not lose the row: it counts as a failed try."""
    if isinstance(error, DeliveryError):
        return Outcome(job, error.kind, error.reason)
    return Outcome(job, "temporary", f"{error.__class__.__name__}: {error}")
