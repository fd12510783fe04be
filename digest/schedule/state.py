"""What the scheduler remembers per cadence: how far it has dealt with, and its last outcome.

APScheduler's own job store keeps the jobs and their next run time, but it moves that time forward
before a run starts; `handled_until` only moves once a run is dealt with, so a run cut off by a
crash is still owed at the next start.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, Engine, Row, insert, select, update
from sqlalchemy.exc import IntegrityError

from digest.store.schema import scheduler_jobs


@dataclass(frozen=True)
class Outcome:
    """One run's result, as `digest scheduler list` shows it."""

    kind: str  # sent, partial, empty, skipped, error, nothing
    detail: str
    fire_time: datetime | None
    run_at: datetime
    duration: float = 0.0


def get(engine: Engine, cadence: str) -> Row | None:
    with engine.connect() as connection:
        return connection.execute(select(scheduler_jobs).where(scheduler_jobs.c.cadence == cadence)).first()


def ensure(engine: Engine, cadence: str, now: datetime) -> tuple[Row, bool]:
    """The cadence's row, created on first sight with handled_until = now; (row, created)."""
    row = get(engine, cadence)
    if row is not None:
        return row, False
    try:
        with engine.begin() as connection:
            connection.execute(
                insert(scheduler_jobs).values(cadence=cadence, created_at=now, handled_until=now)
            )
    except IntegrityError:
        return get(engine, cadence), False
    return get(engine, cadence), True


def record(
    engine: Engine,
    cadence: str,
    outcome: Outcome,
    handled_until: datetime | None,
    fence: Callable[[Connection], None] | None = None,
) -> None:
    """Save the last outcome; move handled_until forward only when given (never backward).
    `fence` runs first in the same transaction (a scheduler's leadership check)."""
    values = dict(
        last_fire_time=outcome.fire_time,
        last_run_at=outcome.run_at,
        last_outcome=outcome.kind,
        last_detail=outcome.detail,
        last_duration=outcome.duration,
    )
    with engine.begin() as connection:
        if fence is not None:
            fence(connection)
        connection.execute(update(scheduler_jobs).where(scheduler_jobs.c.cadence == cadence).values(**values))
        if handled_until is not None:
            connection.execute(
                update(scheduler_jobs)
                .where(scheduler_jobs.c.cadence == cadence, scheduler_jobs.c.handled_until < handled_until)
                .values(handled_until=handled_until)
            )
