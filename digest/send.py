"""Delivering one digest: the stages of a send, in order.

1. the digest: the stored one for (cadence, period), else render it and store it (the stored copy
   is the unit of a send: every run and every recipient gets those same bytes);
2. the log: a pending delivery row per active subscriber of the cadence (idempotent);
3. the message: MIME-encoded once (digest.mail);
4. the run: claim rows, send, record (digest.delivery.runner);
5. done: when no row is owed any more, the digest is marked complete.

A period already complete sends nothing. What a crash leaves "sending" is sent again by the next
run: a duplicate is rarer and cheaper than a reader who silently misses an issue.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parseaddr

from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError

from digest.config import Settings
from digest.delivery.runner import Job, Runner, SendAborted
from digest.errors import DigestError
from digest.mail import build_message, make_message_id, message_id_factory, prepare_message
from digest.models import RenderedDigest
from digest.periods import Period
from digest.store import deliveries as log
from digest.store.digests import get_digest, mark_complete, save_digest
from digest.tokens import sample_unsubscribe_url, unsubscribe_url
from digest.transport import DeliveryError, Payload, Transport, describe_transport, open_transport

__all__ = ["SendAborted", "SendReport", "dry_run", "send_period", "send_test_copy"]


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
    pending: int = 0  # still owed after this run (a rerun sends them)
    skipped: int = 0  # subscribers who left before their turn (total for the digest)
    already_sent: int = 0  # sent by earlier runs
    complete: bool = False
    elapsed: float = 0.0
    failures: list[tuple[str, str]] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.sent / self.elapsed if self.elapsed > 0 else 0.0


def rendered_from_row(row) -> RenderedDigest:
    return RenderedDigest(row.cadence, row.period, row.subject, "", row.html, row.text, row.item_count)


def load_digest(
    settings: Settings, engine: Engine, cadence: str, period: Period, now: datetime, save: bool = True
) -> tuple[object | None, RenderedDigest]:
    """(stored row or None, digest). Renders when nothing is stored; two runs racing to store the
    same period both end up with the first one saved."""
    with engine.connect() as connection:
        row = get_digest(connection, cadence, period.key)
    if row is not None:
        return row, rendered_from_row(row)
    try:
        from digest.pipeline import render_period
    except ImportError:
        raise DigestError(
            f"no stored {cadence} digest for {period.key}, and rendering is not available"
        ) from None
    rendered = render_period(settings, engine, cadence, period, now)
    if not save:
        return None, rendered
    try:
        with engine.begin() as connection:
            save_digest(connection, rendered, now)
    except IntegrityError:
        pass  # another run stored it first: use theirs
    with engine.connect() as connection:
        row = get_digest(connection, cadence, period.key)
    return row, rendered_from_row(row)


def _envelope_sender(settings: Settings) -> str:
    return parseaddr(settings.from_addr or "")[1]


def send_period(
    settings: Settings,
    engine: Engine,
    cadence: str,
    period: Period,
    now: datetime,
    transport: Transport | None = None,
    stop_event: threading.Event | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> SendReport:
    """Send the period's digest to every active subscriber of the cadence who is still owed it.

    Safe to call again (only those still owed get it) and concurrently (rows are claimed in the
    database). Raises SendAborted when the server keeps failing; the rest stays pending."""
    settings.require("from_addr", "secret_key", purpose="digest send")
    started = time.monotonic()
    row, rendered = load_digest(settings, engine, cadence, period, now)
    transport = transport or open_transport(settings)
    report = SendReport(cadence, period.key, rendered.subject, describe_transport(transport))
    if row.status != "sent":
        log.queue_deliveries(engine, row.id, cadence)
        with engine.connect() as connection:
            owed = sum(log.counts(connection, row.id).get(s, 0) for s in ("pending", "sending"))
        runner = _runner(settings, engine, row.id, rendered, now, transport, stop_event, progress, owed)
        try:
            stats = runner.run()
        except SendAborted as exc:
            _finish(engine, row.id, report, runner.stats, started, now)
            exc.report = report
            raise
        _finish(engine, row.id, report, stats, started, now)
    else:
        _finish(engine, row.id, report, None, started, now)
    return report


def _runner(settings, engine, digest_id, rendered, now, transport, stop_event, progress, owed) -> Runner:
    # Everything per digest (the encoded message, the sender's domain, the keys) is done once here;
    # per recipient only the personal parts are made.
    prepared = prepare_message(settings, rendered, now)
    base_url, secret = settings.base_url, settings.secret_key
    message_id = message_id_factory(settings, rendered.cadence, rendered.period)

    def make_job(claimed: log.Claimed) -> Job:
        return Job(claimed, message_id(claimed.subscriber_id, claimed.email))

    def build(job: Job) -> Payload:
        url = unsubscribe_url(base_url, secret, job.row.subscriber_id)
        return prepared.personalize(job.row.email, job.row.name, job.row.subscriber_id, url, job.message_id)

    done = [0]

    def tick(n: int) -> None:
        done[0] += n
        if progress:
            progress(done[0], owed)

    return Runner(
        engine,
        transport,
        digest_id,
        build=build,
        make_job=make_job,
        sender=_envelope_sender(settings),
        concurrency=settings.send_concurrency,
        rate=settings.send_rate,
        bounce_limit=settings.bounce_limit,
        stop_event=stop_event,
        progress=tick,
    )


def _finish(engine: Engine, digest_id: int, report: SendReport, stats, started: float, now: datetime) -> None:
    if stats is not None:
        report.sent, report.failed, report.bounced = stats.sent, stats.failed, stats.bounced
        report.retried, report.failures = stats.retried, stats.failures
    with engine.begin() as connection:
        counts = log.counts(connection, digest_id)
        report.pending = counts.get("pending", 0) + counts.get("sending", 0)
        report.skipped = counts.get("skipped", 0)
        report.already_sent = counts.get("sent", 0) - report.sent
        report.complete = report.pending == 0
        if report.complete and stats is not None:
            mark_complete(connection, digest_id, _wall_clock())
    report.elapsed = time.monotonic() - started


def _wall_clock() -> datetime:
    return datetime.now(UTC)


@dataclass
class DryRun:
    subject: str
    stored: bool
    recipients: Iterator
    items: int = 0  # what the digest holds
    carried: int = 0  # of those, published before its period (late items, or a period never sent)


def dry_run(settings: Settings, engine: Engine, cadence: str, period: Period, now: datetime) -> DryRun:
    """Who would get what; renders without storing when the digest is not stored yet."""
    row, rendered = load_digest(settings, engine, cadence, period, now, save=False)
    digest_id = row.id if row is not None else None
    complete = row is not None and row.status == "sent"

    def recipients() -> Iterator:
        if complete:
            return
        with engine.connect() as connection:
            yield from log.owed(connection, cadence, digest_id)

    from digest.pipeline import period_contents

    carried = 0 if row is not None else period_contents(settings, engine, period).carried
    return DryRun(rendered.subject, row is not None, recipients(), rendered.item_count, carried)


def send_test_copy(
    settings: Settings,
    engine: Engine,
    cadence: str,
    period: Period,
    now: datetime,
    to: str,
    transport: Transport | None = None,
) -> str:
    """One copy to `to`, outside the list and the log; returns its Message-ID."""
    from digest.subscribers import normalize_email

    settings.require("from_addr", "secret_key", purpose="digest send --to")
    try:
        email = normalize_email(to)
    except ValueError as exc:
        raise DigestError(str(exc)) from None
    _, rendered = load_digest(settings, engine, cadence, period, now, save=False)
    mid = make_message_id(settings, cadence, period.key, None)
    url = sample_unsubscribe_url(settings.base_url)  # a test copy acts on no subscriber
    message = build_message(settings, rendered, now, email, None, url, mid)
    connection = (transport or open_transport(settings)).connect()
    try:
        connection.send(_envelope_sender(settings), email, message.as_bytes(), mid)
    except DeliveryError as exc:
        raise DigestError(f"test copy to {email} failed: {exc.reason}") from None
    finally:
        connection.close()
    return mid
