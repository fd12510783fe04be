"""What a send run reports: its own counts (RunStats) and the digest's state after it (SendReport)."""

from __future__ import annotations

from dataclasses import dataclass, field

from digest.errors import DigestError


@dataclass
class RunStats:
    sent: int = 0
    failed: int = 0
    bounced: int = 0
    retried: int = 0
    released: int = 0
    ambiguous: int = 0
    failures: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class SendReport:
    cadence: str
    period: str
    subject: str = ""
    transport: str = ""
    sent: int = 0  # by this run
    failed: int = 0  # by this run: permanent (5xx) failures
    bounced: int = 0  # subscribers this run marked bounced
    retried: int = 0  # temporary failures retried within the run
    ambiguous: int = 0  # messages whose end of data went unanswered (not retried in the run)
    pending: int = 0  # still owed after this run (a rerun sends them)
    skipped: int = 0  # subscribers who left before their turn (total for the digest)
    already_sent: int = 0  # sent by earlier runs
    processes: int = 1  # processes that shared this run (DIGEST_SEND_PROCESSES)
    complete: bool = False
    elapsed: float = 0.0
    failures: list[tuple[str, str]] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.sent / self.elapsed if self.elapsed > 0 else 0.0

    def take(self, stats: RunStats) -> None:
        self.sent, self.failed, self.bounced = stats.sent, stats.failed, stats.bounced
        self.retried, self.failures, self.ambiguous = stats.retried, stats.failures, stats.ambiguous


class SendAborted(DigestError):
    """The server keeps failing (down, refusing the login...): stop, leave the rest pending.
    `report` holds the digest's state when the run stopped, once send_period has made it."""

    report: SendReport | None = None


class SendMisconfigured(SendAborted):
    """The server showed a setting is wrong (untrusted certificate, login refused): nothing will
    work until it is fixed, so the run stops at the first sign (exit status 2)."""

    exit_code = 2
