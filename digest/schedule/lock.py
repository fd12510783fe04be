"""Scheduler leadership: a `scheduler_lock` lease row with an owner, a heartbeat and an epoch.

A row in the store works the same on SQLite and PostgreSQL and across hosts sharing one
PostgreSQL. The leader refreshes `heartbeat_at` every `Timing.heartbeat`; another scheduler takes
the row over when the heartbeat is older than `Timing.stale_after`, or at once when the owner was a
process on this host that no longer exists (killed with SIGKILL, say). Taking over is a conditional
UPDATE on the (owner, heartbeat) that was read, so two newcomers cannot both win, and it adds one
to `epoch`. (owner, epoch) is the fencing token; owner ids are unique per process, so a clean
release, which deletes the row and restarts the epoch, mixes no two leaders up. Every action of a
leader (a run's start, each claim of recipients, recording an outcome) checks its token in the same
transaction (`fence`), so a leader that was paused past its lease and resumes cannot act once
another has taken over: on PostgreSQL the check row-locks the lease until that transaction commits,
and a takeover waits for it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, Engine, Row, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from digest.errors import DigestError
from digest.owners import new_owner_id, owner_is_gone
from digest.store.schema import scheduler_lock

LOCK_NAME = "scheduler"


class SchedulerRunning(DigestError):
    """Another live scheduler holds the database."""


class LeadershipLost(DigestError):
    """Another scheduler has taken over; this one must not act any more."""


@dataclass(frozen=True)
class Timing:
    """The lease's clock, from DIGEST_FAILOVER_SECONDS: a leader that dies right after a heartbeat is
    seen stale after 5/6 of it, and a standby polling every 1/12 of it notices in time."""

    heartbeat: timedelta
    stale_after: timedelta
    poll: timedelta

    @classmethod
    def of(cls, failover_seconds: float) -> Timing:
        failover = timedelta(seconds=failover_seconds)
        return cls(heartbeat=failover / 6, stale_after=failover * 5 / 6, poll=failover / 12)


DEFAULT_TIMING = Timing.of(30)


@dataclass(frozen=True)
class Holder:
    owner: str
    started_at: datetime
    heartbeat_at: datetime
    epoch: int = 1

    def describe(self, now: datetime) -> str:
        host, _, rest = self.owner.partition(":")
        pid = rest.partition(":")[0]
        age = max(0, round((now - self.heartbeat_at).total_seconds()))
        return f"pid {pid} on {host}, last heartbeat {age} s ago"

    def is_stale(self, now: datetime, stale_after: timedelta = DEFAULT_TIMING.stale_after) -> bool:
        if now - self.heartbeat_at > stale_after:
            return True
        return owner_is_gone(self.owner, self.heartbeat_at, now)


@dataclass(frozen=True)
class Leadership:
    """The fencing token of one leader: its owner id and the epoch it took the lease at."""

    owner: str
    epoch: int
    took_over_from: Holder | None = None


@dataclass(frozen=True)
class Fence:
    """`fence` for one leadership as a picklable callable: a send's helper processes check it too."""

    lead: Leadership

    def __call__(self, connection: Connection) -> None:
        fence(connection, self.lead)


def new_owner() -> str:
    return new_owner_id()


def holder(engine: Engine) -> Holder | None:
    with engine.connect() as connection:
        row = connection.execute(select(scheduler_lock).where(scheduler_lock.c.name == LOCK_NAME)).first()
    return _holder(row)


def _holder(row: Row | None) -> Holder | None:
    return None if row is None else Holder(row.owner, row.started_at, row.heartbeat_at, row.epoch)


def acquire(
    engine: Engine, owner: str, now: datetime, stale_after: timedelta = DEFAULT_TIMING.stale_after
) -> Leadership:
    """Take the lease for `owner` (from nobody, or from a stale holder).

    Raises SchedulerRunning when a live scheduler holds it."""
    current = holder(engine)
    if current is None:
        try:
            with engine.begin() as connection:
                connection.execute(
                    insert(scheduler_lock).values(
                        name=LOCK_NAME, owner=owner, started_at=now, heartbeat_at=now, epoch=1
                    )
                )
            return Leadership(owner, 1)
        except IntegrityError:
            current = holder(engine)  # someone inserted first: judge them like any holder
            if current is None:
                raise SchedulerRunning("another scheduler is starting on this database") from None
    if not current.is_stale(now, stale_after):
        raise SchedulerRunning(
            f"another scheduler is already running on this database ({current.describe(now)}); stop it first"
        )
    return _take_over(engine, current, owner, now)


def _take_over(engine: Engine, stale: Holder, owner: str, now: datetime) -> Leadership:
    epoch = stale.epoch + 1
    with engine.begin() as connection:
        taken = connection.execute(
            update(scheduler_lock)
            .where(
                scheduler_lock.c.name == LOCK_NAME,
                scheduler_lock.c.owner == stale.owner,
                scheduler_lock.c.heartbeat_at == stale.heartbeat_at,
                scheduler_lock.c.epoch == stale.epoch,
            )
            .values(owner=owner, started_at=now, heartbeat_at=now, epoch=epoch)
        ).rowcount
    if taken != 1:
        raise SchedulerRunning("another scheduler took over this database at the same moment")
    return Leadership(owner, epoch, took_over_from=stale)


def _mine(lead: Leadership):
    return (
        scheduler_lock.c.name == LOCK_NAME,
        scheduler_lock.c.owner == lead.owner,
        scheduler_lock.c.epoch == lead.epoch,
    )


def heartbeat(engine: Engine, lead: Leadership, now: datetime) -> bool:
    """Refresh the heartbeat; False when the lease is no longer ours (taken over after a stall)."""
    with engine.begin() as connection:
        result = connection.execute(update(scheduler_lock).where(*_mine(lead)).values(heartbeat_at=now))
    return result.rowcount == 1


def fence(connection: Connection, lead: Leadership) -> None:
    """Inside an action's transaction: raise LeadershipLost unless `lead` still holds the lease.

    The no-op UPDATE (not a SELECT) holds the lease row until the caller commits, so a takeover
    cannot slip in between this check and the action it guards."""
    still = connection.execute(
        update(scheduler_lock).where(*_mine(lead)).values(epoch=scheduler_lock.c.epoch)
    ).rowcount
    if still != 1:
        raise LeadershipLost(f"another scheduler has taken over (this one led epoch {lead.epoch})")


def release(engine: Engine, lead: Leadership) -> None:
    with engine.begin() as connection:
        connection.execute(delete(scheduler_lock).where(*_mine(lead)))
