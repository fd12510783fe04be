"""`digest scheduler list`: each job's cron, zone, next run and last outcome, from the store.

The next run is the job store's while a scheduler is running; otherwise it is what the current
settings give from now (what a scheduler started now would wait for).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Column, Engine, Float, MetaData, String, Table, inspect, select

from digest.config import Settings
from digest.cron import make_trigger, next_fire
from digest.periods import CADENCES
from digest.schedule import lock, state
from digest.schedule.service import JOBSTORE_TABLE, job_id

_jobs_t = Table(JOBSTORE_TABLE, MetaData(), Column("id", String(191)), Column("next_run_time", Float(25)))


@dataclass(frozen=True)
class JobView:
    cadence: str
    cron: str
    timezone: str
    next_run: datetime | None  # aware, in the schedule's zone
    last_outcome: str | None
    last_detail: str | None
    last_run_at: datetime | None
    last_duration: float | None

    def as_dict(self) -> dict:
        return {
            "id": job_id(self.cadence),
            "cadence": self.cadence,
            "cron": self.cron,
            "timezone": self.timezone,
            "next_run": self.next_run.isoformat() if self.next_run else None,
            "next_run_utc": self.next_run.astimezone(UTC).isoformat() if self.next_run else None,
            "last_outcome": self.last_outcome,
            "last_detail": self.last_detail,
            "last_run_at": self.last_run_at.isoformat() if self.last_run_at else None,
            "last_duration": self.last_duration,
        }


@dataclass(frozen=True)
class Listing:
    running: lock.Holder | None  # the live scheduler, if any
    jobs: list[JobView]


def list_jobs(settings: Settings, engine: Engine, now: datetime) -> Listing:
    current = lock.holder(engine)
    running = current if current is not None and not current.is_stale(now) else None
    stored = _stored_next_runs(engine) if running else {}
    return Listing(running, [_view(settings, engine, cadence, now, stored) for cadence in CADENCES])


def _view(settings: Settings, engine: Engine, cadence: str, now: datetime, stored: dict) -> JobView:
    tz = settings.timezone
    next_run = stored.get(job_id(cadence)) or next_fire(make_trigger(settings.cron_for(cadence), tz), now)
    row = state.get(engine, cadence)
    return JobView(
        cadence,
        settings.cron_for(cadence),
        tz.key,
        next_run.astimezone(tz) if next_run else None,
        row.last_outcome if row else None,
        row.last_detail if row else None,
        row.last_run_at if row else None,
        row.last_duration if row else None,
    )


def _stored_next_runs(engine: Engine) -> dict[str, datetime]:
    with engine.connect() as connection:
        if not inspect(connection).has_table(JOBSTORE_TABLE):
            return {}
        rows = connection.execute(select(_jobs_t.c.id, _jobs_t.c.next_run_time)).all()
    return {r.id: datetime.fromtimestamp(r.next_run_time, UTC) for r in rows if r.next_run_time is not None}
