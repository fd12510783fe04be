"""Delivering one stored digest: the stages of a send, in order.

1. the log: a pending delivery row per active subscriber of the cadence (idempotent);
2. the messages: the digest MIME-encoded once (digest.mail.Letters);
3. the run: claim rows, send, record (send/runner.py);
4. done: when no row is owed any more, the digest is marked complete.

The caller composes the digest (digest.compose.stored_digest) and hands it here: sending never
renders. A digest already complete sends nothing. What a crash leaves "sending" is sent again by
the next run: a duplicate is rarer and cheaper than a reader who silently misses an issue.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import Engine

from digest.clock import Clock, utc_now
from digest.config import Settings
from digest.mail import Letters
from digest.models import StoredDigest
from digest.send.report import RunStats, SendAborted, SendReport
from digest.send.runner import Pace, Runner
from digest.store import deliveries
from digest.store.delivery_log import StoredDeliveryLog
from digest.store.digests import mark_complete
from digest.transport import Transport, describe_transport, open_transport


def send_period(
    settings: Settings,
    engine: Engine,
    digest: StoredDigest,
    now: datetime,
    transport: Transport | None = None,
    stop_event: threading.Event | None = None,
    progress: Callable[[int, int], None] | None = None,
    clock: Clock = utc_now,
) -> SendReport:
    """Send `digest` to every active subscriber of its cadence who is still owed it.

    Safe to call again (only those still owed get it) and concurrently (rows are claimed in the
    database). Raises SendAborted when the server keeps failing; the rest stays pending."""
    settings.require("from_addr", "secret_key", purpose="digest send")
    started = time.monotonic()
    rendered = digest.rendered
    transport = transport or open_transport(settings)
    report = SendReport(rendered.cadence, rendered.period, rendered.subject, describe_transport(transport))
    if digest.status == "sent":
        _finish(engine, digest.id, report, None, started, clock)
        return report
    deliveries.queue_deliveries(engine, digest.id, rendered.cadence)
    runner = Runner(
        StoredDeliveryLog(engine, digest.id),
        transport,
        letters := Letters(settings, rendered, now, signing_process=(os.cpu_count() or 1) > 1),
        Pace(settings.send_concurrency, settings.send_rate, settings.bounce_limit),
        stop_event=stop_event,
        progress=_progress(engine, digest.id, progress),
        clock=clock,
    )
    try:
        stats = runner.run()
    except SendAborted as exc:
        _finish(engine, digest.id, report, runner.stats, started, clock)
        exc.report = report
        raise
    finally:
        letters.close()
    _finish(engine, digest.id, report, stats, started, clock)
    return report


def _progress(engine: Engine, digest_id: int, progress: Callable[[int, int], None] | None):
    """The runner counts messages done; the caller's bar wants (done, owed at the start)."""
    if progress is None:
        return None
    with engine.connect() as connection:
        counts = deliveries.counts(connection, digest_id)
    owed = counts.get("pending", 0) + counts.get("sending", 0)
    done = [0]

    def tick(n: int) -> None:
        done[0] += n
        progress(done[0], owed)

    return tick


def _finish(
    engine: Engine, digest_id: int, report: SendReport, stats: RunStats | None, started: float, clock: Clock
) -> None:
    if stats is not None:
        report.take(stats)
    with engine.begin() as connection:
        counts = deliveries.counts(connection, digest_id)
        report.pending = counts.get("pending", 0) + counts.get("sending", 0)
        report.skipped = counts.get("skipped", 0)
        report.already_sent = counts.get("sent", 0) - report.sent
        report.complete = report.pending == 0
        if report.complete and stats is not None:
            mark_complete(connection, digest_id, clock())
    report.elapsed = time.monotonic() - started
