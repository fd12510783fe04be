"""One scheduled run of a cadence: plan it, send it through the delivery log, remember the outcome.

Every run composes the period's digest (digest.compose) and hands it to `digest.send.send_period`,
which only sends to recipients still owed it; that record, not this module, is what makes a
repeated or overlapping run safe.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import Connection, Engine

from digest.clock import Clock, utc_now
from digest.config import Settings
from digest.cron import make_trigger
from digest.errors import DigestError, EmptyPeriodError
from digest.periods import CADENCES, Period, last_complete, parse_period
from digest.schedule import lock, state
from digest.schedule.policy import grace_of, plan
from digest.schedule.review import review_tick, stop_if_waiting
from digest.store.digests import list_digests

log = logging.getLogger("digest.scheduler")


@dataclass
class Context:
    """What every run needs; one per scheduler process."""

    settings: Settings
    engine: Engine
    stop_event: threading.Event
    second: str = "0"
    review_every: float = 60.0  # seconds between review ticks (open windows, send released editions)
    lead: lock.Leadership | None = None  # None: no leadership to check (a lone run, a test)
    lost: bool = False  # another scheduler took over: this one stops
    locks: dict[str, threading.Lock] = field(default_factory=lambda: {c: threading.Lock() for c in CADENCES})
    clock: Clock = utc_now

    def trigger(self, cadence: str):
        return make_trigger(self.settings.cron_for(cadence), self.settings.timezone, self.second)

    def fence(self, connection: Connection) -> None:
        """Raises lock.LeadershipLost inside `connection`'s transaction once another leads."""
        if self.lead is not None:
            lock.fence(connection, self.lead)

    def check_leadership(self) -> None:
        with self.engine.begin() as connection:
            self.fence(connection)


def tick(ctx: Context, cadence: str, now: datetime, on_start: bool = False) -> state.Outcome | None:
    """Run whatever the policy says is due for `cadence` at `now` (nothing, or one fire time).
    `on_start`: called by a starting scheduler, so a due run is one missed while it was down.
    Raises lock.LeadershipLost when another scheduler has taken over: nothing is done then."""
    with ctx.locks[cadence]:
        ctx.check_leadership()
        released = review_tick(ctx, cadence, now, send)
        row, _ = state.ensure(ctx.engine, cadence, now)
        decision = plan(ctx.trigger(cadence), row.handled_until, now, grace_of(ctx.settings.catchup_hours))
        if decision.skipped_since is not None:
            _log_skipped(ctx, cadence, decision.skipped_since, decision.run)
        if decision.run is None:
            if decision.skipped_since is not None:
                outcome = state.Outcome("skipped", _skipped_detail(ctx, decision.skipped_since), None, now)
                state.record(ctx.engine, cadence, outcome, decision.handled_until, ctx.fence)
                return outcome
            return released[-1] if released else None
        if decision.coalesced:
            log.info(
                "%s: %d missed runs coalesce into the one of %s",
                cadence,
                decision.coalesced + 1,
                _local(ctx, decision.run),
            )
        finish_unfinished(ctx, cadence)
        outcome = run_fire_time(ctx, cadence, decision.run, now if on_start else None, now)
        final = outcome.kind != "error"  # an error before anything was stored is tried again
        state.record(ctx.engine, cadence, outcome, decision.handled_until if final else None, ctx.fence)
        return outcome


def run_fire_time(
    ctx: Context,
    cadence: str,
    fire_time: datetime,
    caught_up_at: datetime | None = None,
    now: datetime | None = None,
) -> state.Outcome:
    """Send the last complete period as of the scheduled fire time (not the wall clock), so a late
    catch-up still sends the period that run was meant for. A held or unapproved edition waits."""
    period = last_complete(cadence, fire_time, ctx.settings.timezone)
    waiting = stop_if_waiting(ctx, cadence, period, fire_time, now or ctx.clock())
    if waiting is not None:
        return waiting
    why = f"run of {_local(ctx, fire_time)}"
    if caught_up_at is not None:
        why = f"missed {why}, caught up {_duration(caught_up_at - fire_time)} late"
    return send(ctx, cadence, period, fire_time, why)


def _duration(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    return f"{minutes // 60} h {minutes % 60:02d} min" if minutes >= 60 else f"{delta.total_seconds():.0f} s"


def finish_unfinished(ctx: Context, cadence: str | None = None) -> list[state.Outcome]:
    """Digests left 'sending' (a crash, a stop, a failing server): send what is still owed."""
    with ctx.engine.connect() as connection:
        rows = [r for r in list_digests(connection, cadence) if r.status == "sending"]
    outcomes = []
    for row in sorted(rows, key=lambda r: (r.created_at, r.id)):
        if ctx.stop_event.is_set():
            break
        period = parse_period(row.cadence, row.period, ctx.settings.timezone)
        outcomes.append(send(ctx, row.cadence, period, None, "unfinished delivery"))
    return outcomes


def send(ctx: Context, cadence: str, period: Period, fire_time: datetime | None, why: str) -> state.Outcome:
    """One send through the delivery log, with one log line for its outcome."""
    from digest.compose import stored_digest
    from digest.send import SendAborted, send_period

    started_at, started = ctx.clock(), time.monotonic()
    label = f"{cadence} {period.key} ({why})"
    if ctx.settings.scheduler_queue:
        return _queue(ctx, cadence, period, fire_time, label)
    try:
        ctx.settings.require("from_addr", "secret_key", purpose="digest send")
        digest = stored_digest(ctx.settings, ctx.engine, cadence, period, started_at)
        report = send_period(
            ctx.settings,
            ctx.engine,
            digest,
            started_at,
            stop_event=ctx.stop_event,
            clock=ctx.clock,
            fence=lock.Fence(ctx.lead) if ctx.lead else None,
        )
    except lock.LeadershipLost:
        raise
    except EmptyPeriodError as exc:
        log.info("%s: %s: skipped", label, exc)
        return state.Outcome("empty", f"{period.key}: {exc}", fire_time, started_at, _since(started))
    except SendAborted as exc:
        report = exc.report
        counts = _counts(report) if report else ""
        log.error("%s: aborted: %s%s", label, exc, f"; {counts}" if counts else "")
        return state.Outcome(
            "partial", f"{period.key}: aborted: {exc}", fire_time, started_at, _since(started)
        )
    except DigestError as exc:
        log.error("%s: failed: %s", label, exc)
        return state.Outcome("error", f"{period.key}: {exc}", fire_time, started_at, _since(started))
    except Exception as exc:  # a run must not take the scheduler down; the cause goes to the log
        log.exception("%s: failed: %s: %s", label, exc.__class__.__name__, exc)
        detail = f"{period.key}: {exc.__class__.__name__}: {exc}"
        return state.Outcome("error", detail, fire_time, started_at, _since(started))
    duration = _since(started)
    kind = "sent" if report.complete else ("stopped" if ctx.stop_event.is_set() else "partial")
    log.info("%s: %s in %.1f s%s", label, _counts(report), duration, _status(report, kind))
    return state.Outcome(kind, f"{period.key}: {_counts(report)}", fire_time, started_at, duration)


def _queue(
    ctx: Context, cadence: str, period: Period, fire_time: datetime | None, label: str
) -> state.Outcome:
    """DIGEST_SCHEDULER_QUEUE: the run becomes queued batches for `digest worker` processes."""
    from digest.compose import stored_digest
    from digest.send.queue import queue_digest, require_postgresql

    started_at, started = ctx.clock(), time.monotonic()
    try:
        require_postgresql(ctx.engine, "DIGEST_SCHEDULER_QUEUE")
        ctx.settings.require("from_addr", "secret_key", purpose="digest send")
        line = queue_digest(ctx.engine, stored_digest(ctx.settings, ctx.engine, cadence, period, started_at))
    except EmptyPeriodError as exc:
        log.info("%s: %s: skipped", label, exc)
        return state.Outcome("empty", f"{period.key}: {exc}", fire_time, started_at, _since(started))
    except DigestError as exc:
        log.error("%s: not queued: %s", label, exc)
        return state.Outcome("error", f"{period.key}: {exc}", fire_time, started_at, _since(started))
    log.info("%s: %s", label, line)
    return state.Outcome("queued", f"{period.key}: {line}", fire_time, started_at, _since(started))


def _counts(report) -> str:
    return (
        f"sent {report.sent}, failed {report.failed}, pending {report.pending}, "
        f"already sent {report.already_sent}"
    )


def _status(report, kind: str) -> str:
    if kind == "stopped":
        return f"; stopped with {report.pending} still owed (the next start finishes them)"
    if kind == "partial":
        return f"; {report.pending} still owed (retried at the next run or start)"
    return ""


def _since(started: float) -> float:
    return round(time.monotonic() - started, 3)


def _local(ctx: Context, when: datetime) -> str:
    return when.astimezone(ctx.settings.timezone).strftime("%Y-%m-%d %H:%M:%S %Z")


def _skipped_detail(ctx: Context, since: datetime) -> str:
    hours = ctx.settings.catchup_hours
    return f"missed runs since {_local(ctx, since)} are older than DIGEST_CATCHUP_HOURS={hours:g}"


def _log_skipped(ctx: Context, cadence: str, since: datetime, run: datetime | None) -> None:
    then = f"; running the one of {_local(ctx, run)} instead" if run else ""
    log.warning("%s: %s: skipped%s", cadence, _skipped_detail(ctx, since), then)
