"""`digest scheduler run`: the stages of a scheduler process, in order.

1. lead: take the database's scheduler lease. On SQLite a second scheduler refuses to start; on
   PostgreSQL it stands by, polling the lease, and takes over when the leader is dead (lock.py);
2. finish unfinished deliveries (APScheduler has already moved a crashed run's next run time);
3. catch up: each cadence runs what the policy says is due (digest/schedule/policy.py);
4. hand the future to APScheduler: one cron job per cadence in a persistent job store, and a
   quarter-hourly clean-up of sign-ups never confirmed within DIGEST_CONFIRM_HOURS;
5. on stop: no new work, in-flight SMTP transactions finish (bounded wait), the lock is released.

A leader that finds the lease taken (it stalled past DIGEST_FAILOVER_SECONDS) stops at once; its
actions were fenced meanwhile, and its supervisor restarts it as a standby.
"""

from __future__ import annotations

import logging
import os
import threading
from datetime import datetime

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError

from digest.clock import utc_now
from digest.config import Settings
from digest.errors import DigestError
from digest.periods import CADENCES
from digest.schedule import lock, state
from digest.schedule.policy import misfire_grace_seconds
from digest.schedule.runs import Context, finish_unfinished, tick

log = logging.getLogger("digest.scheduler")
JOBSTORE_TABLE = "apscheduler_jobs"
PURGE_JOB = "digest-purge-unconfirmed"
PURGE_MINUTES = 15

# APScheduler's persisted jobs name their function by reference (`digest.schedule.service:fire`),
# so the function finds the running process's context here. One scheduler per process.
_context: Context | None = None


REVIEW_EVERY_SECONDS = 60  # how soon an approval or a review window is acted on


def job_id(cadence: str) -> str:
    return f"digest-{cadence}"


def review_job_id(cadence: str) -> str:
    return f"digest-{cadence}-review"


def fire(cadence: str) -> None:
    """What APScheduler calls at a cron time."""
    ctx = _context
    if ctx is None or ctx.stop_event.is_set():
        return
    try:
        tick(ctx, cadence, ctx.clock())
    except lock.LeadershipLost as exc:
        _lost(ctx, exc)


def _lost(ctx: Context, exc: lock.LeadershipLost) -> None:
    log.error("%s: not acting; stopping", exc)
    ctx.lost = True
    ctx.stop_event.set()


def purge() -> None:
    """What APScheduler calls every PURGE_MINUTES: delete expired unconfirmed sign-ups."""
    ctx = _context
    if ctx is None or ctx.stop_event.is_set():
        return
    from digest.signup import purge_unconfirmed

    try:
        deleted = purge_unconfirmed(ctx.engine, ctx.clock(), ctx.settings.confirm_hours)
    except Exception as exc:  # the database may be briefly away: the next run tries again
        log.warning("clean-up of unconfirmed sign-ups failed: %s", exc)
        return
    if deleted:
        log.info("deleted %d sign-ups not confirmed within %g hours", deleted, ctx.settings.confirm_hours)


def run_scheduler(
    settings: Settings,
    engine: Engine,
    stop_event: threading.Event,
    second: str = "0",
    review_every: float = REVIEW_EVERY_SECONDS,
) -> None:
    """Run until `stop_event` is set. Raises SchedulerRunning when another scheduler holds a SQLite
    database, DigestError when the lease was lost or in-flight sends did not finish in time."""
    global _context
    timing = lock.Timing.of(settings.failover_seconds)
    lead = _lead(engine, timing, stop_event)
    if lead is None:
        log.info("stopped while standing by")
        return
    ctx = _context = Context(settings, engine, stop_event, second, review_every, lead=lead)
    beat = _Heartbeat(ctx, timing)
    beat.start()
    scheduler = None
    try:
        log.info(
            "scheduler leading (pid %d, epoch %d, zone %s)", os.getpid(), lead.epoch, settings.timezone.key
        )
        scheduler = _start_leading(ctx)
        while not stop_event.wait(1.0):
            pass
        log.info("stopping: no new runs; waiting for sends in flight")
        _shutdown(scheduler, settings)
    finally:
        beat.stop()
        lock.release(engine, lead)
        _context = None
    if ctx.lost:
        raise DigestError("lost the scheduler lease to another scheduler (this one stalled); stopped")
    log.info("scheduler stopped")


def _lead(engine: Engine, timing: lock.Timing, stop_event: threading.Event) -> lock.Leadership | None:
    """The lease, at once or after standing by (PostgreSQL only); None when stopped meanwhile."""
    owner, standing_by = lock.new_owner(), False
    while True:
        try:
            lead = lock.acquire(engine, owner, utc_now(), timing.stale_after)
        except lock.SchedulerRunning as exc:
            if engine.dialect.name != "postgresql":
                raise
            if not standing_by:
                log.info("standing by: %s", str(exc).removesuffix("; stop it first"))
                standing_by = True
        except OperationalError as exc:  # the database may be briefly away: keep trying
            log.warning("cannot reach the database: %s", exc.orig or exc)
        else:
            if lead.took_over_from is not None:
                log.warning(
                    "took over from a scheduler that is gone (%s)", lead.took_over_from.describe(utc_now())
                )
            return lead
        if stop_event.wait(timing.poll.total_seconds()):
            return None


def _start_leading(ctx: Context) -> BackgroundScheduler | None:
    try:
        return _start(ctx)
    except lock.LeadershipLost as exc:
        _lost(ctx, exc)
        return None


def _start(ctx: Context) -> BackgroundScheduler | None:
    startup = utc_now()
    finish_unfinished(ctx)
    for cadence in CADENCES:
        _, created = state.ensure(ctx.engine, cadence, startup)
        if created:
            log.info("%s: first start of this schedule: nothing is sent for the past", cadence)
    for cadence in CADENCES:
        if not ctx.stop_event.is_set():
            tick(ctx, cadence, utc_now(), on_start=True)
    if ctx.stop_event.is_set():
        return None
    purge()
    scheduler = _make_scheduler(ctx)
    for cadence in CADENCES:
        _add_job(scheduler, ctx, cadence, startup)
        _add_review_job(scheduler, cadence, ctx.review_every)
    scheduler.add_job(
        purge,
        trigger="interval",
        minutes=PURGE_MINUTES,
        id=PURGE_JOB,
        name="delete unconfirmed sign-ups",
        replace_existing=True,
        coalesce=True,
        max_instances=1,
    )
    scheduler.start()
    for cadence in CADENCES:
        job = scheduler.get_job(job_id(cadence))
        log.info(
            "%s: cron %r in %s, next run %s",
            cadence,
            ctx.settings.cron_for(cadence),
            ctx.settings.timezone.key,
            job.next_run_time.isoformat() if job.next_run_time else "never",
        )
    return scheduler


def _make_scheduler(ctx: Context) -> BackgroundScheduler:
    return BackgroundScheduler(
        jobstores={"default": SQLAlchemyJobStore(engine=ctx.engine, tablename=JOBSTORE_TABLE)},
        executors={"default": ThreadPoolExecutor(max_workers=2 * len(CADENCES) + 1)},  # cron, review, purge
        timezone=ctx.settings.timezone,
    )


def _add_job(scheduler: BackgroundScheduler, ctx: Context, cadence: str, startup: datetime) -> None:
    """Future fire times belong to APScheduler; the first one counts from `startup`, so a fire time
    that passed during the catch-up above still runs (the policy then decides whether it is due)."""
    trigger = ctx.trigger(cadence)
    scheduler.add_job(
        fire,
        trigger=trigger,
        args=[cadence],
        id=job_id(cadence),
        name=f"{cadence} digest",
        replace_existing=True,
        misfire_grace_time=misfire_grace_seconds(ctx.settings.catchup_hours),
        coalesce=True,
        max_instances=1,
        next_run_time=trigger.get_next_fire_time(None, startup),
    )


def _add_review_job(scheduler: BackgroundScheduler, cadence: str, every: float) -> None:
    """Between cron times: open review windows, send editions released since their send time.
    The same tick as a cron fire (it sends only what the policy and the editions say is due)."""
    scheduler.add_job(
        fire,
        trigger="interval",
        seconds=every,
        args=[cadence],
        id=review_job_id(cadence),
        name=f"{cadence} review",
        replace_existing=True,
        misfire_grace_time=max(1, round(every)),
        coalesce=True,
        max_instances=1,
    )


def stop_wait_seconds(settings: Settings) -> float:
    """How long a stop waits for SMTP transactions in flight: one transaction's timeouts, and some."""
    return 2 * settings.smtp_timeout + 5


def _shutdown(scheduler: BackgroundScheduler | None, settings: Settings) -> None:
    if scheduler is None:
        return
    done = threading.Thread(target=scheduler.shutdown, kwargs={"wait": True}, daemon=True)
    done.start()
    done.join(stop_wait_seconds(settings))
    if done.is_alive():
        raise DigestError(
            f"sends in flight did not finish within {stop_wait_seconds(settings):.0f} s; "
            "stopped anyway (the next start finishes them)"
        )


class _Heartbeat:
    """Keeps the lease fresh from its own thread, so a long catch-up does not look like a dead process."""

    def __init__(self, ctx: Context, timing: lock.Timing):
        self.ctx, self.timing = ctx, timing
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._run, name="digest-heartbeat", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.done.set()
        self.thread.join(5)

    def _run(self) -> None:
        while not self.done.wait(self.timing.heartbeat.total_seconds()):
            try:
                mine = lock.heartbeat(self.ctx.engine, self.ctx.lead, utc_now())
            except Exception as exc:  # the database may be briefly away: keep trying
                log.warning("heartbeat failed: %s", exc)
                continue
            if not mine:
                _lost(self.ctx, lock.LeadershipLost("another scheduler took over this database"))
                return
