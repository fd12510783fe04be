"""The review window around a scheduled send: open it, stop the send when it must wait, release it.

- With DIGEST_REVIEW_HOURS=N, N hours before a send its edition opens for review: the reviewers
  (DIGEST_REVIEWERS) get a review copy, once, with a link to the edition in the preview. A
  scheduler that starts inside the window mails it at once.
- At the send time, a held edition, or an unapproved one when DIGEST_REQUIRE_APPROVAL is on, is not
  sent: the edition remembers the send it missed (`scheduled_for`) and the reviewers are told.
- Once it is released (approved; or, without required approval, no longer held) the next tick sends
  it, once, if the missed send time is no older than DIGEST_CATCHUP_HOURS; otherwise it is skipped
  and logged, like any run missed for longer than that.

Every function takes "now"; the scheduler ticks these every minute and at each cron time.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import update

from digest.cron import next_fire
from digest.editions import waits_for_approval
from digest.errors import DigestError
from digest.periods import Period, last_complete, parse_period
from digest.review import show
from digest.schedule import state
from digest.schedule.policy import grace_of
from digest.schedule.review_mail import send_review_copy, send_waiting_notice
from digest.store import editions as store
from digest.store.schema import editions

log = logging.getLogger("digest.scheduler")
# runs.send: (ctx, cadence, period, fire_time, why) -> Outcome
Send = Callable[..., state.Outcome]


def review_tick(ctx, cadence: str, now: datetime, send: Send) -> list[state.Outcome]:
    """Open the coming send's review window, then send what was released (through `send`, the
    scheduler's one way to send a period)."""
    open_window(ctx, cadence, now)
    return release_waiting(ctx, cadence, now, send)


def open_window(ctx, cadence: str, now: datetime) -> bool:
    """Mail the review copy of the next send's edition when its window is open; True if mailed."""
    hours = ctx.settings.review_hours
    fire = next_fire(ctx.trigger(cadence), now)
    if hours <= 0 or fire is None or (fire - now).total_seconds() > hours * 3600:
        return False
    period = last_complete(cadence, fire, ctx.settings.timezone)
    if not _claim(ctx.engine, period, "review_mailed_at", now):
        return False
    try:
        sent_to = send_review_copy(ctx.settings, ctx.engine, period, fire, now)
    except DigestError as exc:
        _unclaim(ctx.engine, period, "review_mailed_at")
        log.warning("%s %s: no review copy: %s", cadence, period.key, exc)
        return False
    log.info(
        "%s %s: review window open; review copy to %s", cadence, period.key, ", ".join(sent_to) or "nobody"
    )
    return True


def stop_if_waiting(
    ctx, cadence: str, period: Period, fire_time: datetime, now: datetime
) -> state.Outcome | None:
    """At the send time: an outcome when the edition must wait (held, or not approved), else None."""
    view = show(ctx.settings, ctx.engine, period)
    edition = view.edition
    if not view.entries:
        return None  # nothing to review: the send reports the empty period
    held = edition.state == "held"
    if not held and not waits_for_approval(edition, ctx.settings.require_approval):
        return None
    with ctx.engine.begin() as connection:
        edition_id = store.ensure_edition(connection, cadence, period.key, now)
        store.set_fields(connection, edition_id, now, scheduled_for=fire_time)
    why = "it is held" if held else "it is not approved (DIGEST_REQUIRE_APPROVAL)"
    log.warning("%s %s: not sent: %s; it goes once released", cadence, period.key, why)
    if _claim(ctx.engine, period, "waiting_mailed_at", now):
        try:
            send_waiting_notice(ctx.settings, period, fire_time, why, now)
        except DigestError as exc:
            log.warning("%s %s: reviewers not told: %s", cadence, period.key, exc)
    return state.Outcome("waiting", f"{period.key}: not sent: {why}", fire_time, now)


def release_waiting(ctx, cadence: str, now: datetime, send: Send) -> list[state.Outcome]:
    """Send each edition that missed its send while waiting and has been released since."""
    with ctx.engine.connect() as connection:
        rows = store.editions_waiting(connection, cadence)
    outcomes = []
    for row in rows:
        period = parse_period(cadence, row.period, ctx.settings.timezone)
        edition = show(ctx.settings, ctx.engine, period).edition
        if edition.state == "held" or waits_for_approval(edition, ctx.settings.require_approval):
            continue
        if now - row.scheduled_for > grace_of(ctx.settings.catchup_hours):
            _forget(ctx.engine, row.id)
            log.warning(
                "%s %s: released after DIGEST_CATCHUP_HOURS=%g: skipped",
                cadence,
                row.period,
                ctx.settings.catchup_hours,
            )
            continue
        outcome = send(ctx, cadence, period, row.scheduled_for, "released after review")
        if outcome.kind != "error":
            _forget(ctx.engine, row.id)
        state.record(ctx.engine, cadence, outcome, None, ctx.fence)
        outcomes.append(outcome)
    return outcomes


def _claim(engine, period: Period, column: str, now: datetime) -> bool:
    """Set a once-only timestamp of the edition; False when it was set already."""
    with engine.begin() as connection:
        edition_id = store.ensure_edition(connection, period.cadence, period.key, now)
        done = connection.execute(
            update(editions)
            .where(editions.c.id == edition_id, editions.c[column].is_(None))
            .values({column: now})
        )
    return done.rowcount == 1


def _unclaim(engine, period: Period, column: str) -> None:
    with engine.begin() as connection:
        connection.execute(
            update(editions)
            .where(editions.c.cadence == period.cadence, editions.c.period == period.key)
            .values({column: None})
        )


def _forget(engine, edition_id: int) -> None:
    with engine.begin() as connection:
        connection.execute(update(editions).where(editions.c.id == edition_id).values(scheduled_for=None))
