"""One scheduler per database: a `scheduler_lock` row with an owner and a heartbeat.

A row lock in the store works the same on SQLite and PostgreSQL and across hosts sharing one
PostgreSQL. The owner refreshes `heartbeat_at` every HEARTBEAT; another scheduler takes the row
over only when the heartbeat is older than STALE_AFTER, or at once when the owner was a process on
this host that no longer exists (killed with SIGKILL, say). Taking over is a conditional UPDATE on
the (owner, heartbeat) that was read, so two newcomers cannot both win.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine, Row, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from digest.errors import DigestError
from digest.owners import new_owner_id, owner_is_gone
from digest.store.schema import scheduler_lock

LOCK_NAME = "scheduler"
HEARTBEAT = timedelta(seconds=10)
STALE_AFTER = timedelta(seconds=60)


class SchedulerRunning(DigestError):
    """Another live scheduler holds the database."""


@dataclass(frozen=True)
class Holder:
    owner: str
    started_at: datetime
    heartbeat_at: datetime

    def describe(self, now: datetime) -> str:
        host, _, rest = self.owner.partition(":")
        pid = rest.partition(":")[0]
        age = max(0, round((now - self.heartbeat_at).total_seconds()))
        return f"pid {pid} on {host}, last heartbeat {age} s ago"

    def is_stale(self, now: datetime) -> bool:
        if now - self.heartbeat_at > STALE_AFTER:
            return True
        return owner_is_gone(self.owner, self.heartbeat_at, now)


def new_owner() -> str:
    return new_owner_id()


def holder(engine: Engine) -> Holder | None:
    with engine.connect() as connection:
        row = connection.execute(select(scheduler_lock).where(scheduler_lock.c.name == LOCK_NAME)).first()
    return _holder(row)


def _holder(row: Row | None) -> Holder | None:
    return None if row is None else Holder(row.owner, row.started_at, row.heartbeat_at)


def acquire(engine: Engine, owner: str, now: datetime) -> Holder | None:
    """Take the lock for `owner`; returns the stale holder taken over, if any.

    Raises SchedulerRunning when a live scheduler holds it."""
    current = holder(engine)
    if current is None:
        try:
            with engine.begin() as connection:
                connection.execute(
                    insert(scheduler_lock).values(
                        name=LOCK_NAME, owner=owner, started_at=now, heartbeat_at=now
                    )
                )
            return None
        except IntegrityError:
            current = holder(engine)  # someone inserted first: judge them like any holder
            if current is None:
                raise SchedulerRunning("another scheduler is starting on this database") from None
    if not current.is_stale(now):
        raise SchedulerRunning(
            f"another scheduler is already running on this database ({current.describe(now)}); stop it first"
        )
    _take_over(engine, current, owner, now)
    return current


def _take_over(engine: Engine, stale: Holder, owner: str, now: datetime) -> None:
    with engine.begin() as connection:
        taken = connection.execute(
            update(scheduler_lock)
            .where(
                scheduler_lock.c.name == LOCK_NAME,
                scheduler_lock.c.owner == stale.owner,
                scheduler_lock.c.heartbeat_at == stale.heartbeat_at,
            )
            .values(owner=owner, started_at=now, heartbeat_at=now)
        ).rowcount
    if taken != 1:
        raise SchedulerRunning("another scheduler took over this database at the same moment")


def heartbeat(engine: Engine, owner: str, now: datetime) -> bool:
    """Refresh the heartbeat; False when the lock is no longer ours (taken over after a stall)."""
    with engine.begin() as connection:
        result = connection.execute(
            update(scheduler_lock)
            .where(scheduler_lock.c.name == LOCK_NAME, scheduler_lock.c.owner == owner)
            .values(heartbeat_at=now)
        )
    return result.rowcount == 1


def release(engine: Engine, owner: str) -> None:
    with engine.begin() as connection:
        connection.execute(
            delete(scheduler_lock).where(scheduler_lock.c.name == LOCK_NAME, scheduler_lock.c.owner == owner)
        )
