"""Delivering one stored digest: the stages of a send, in order.

1. the log: a pending delivery row per active subscriber of the cadence (idempotent), or of one
   time zone's group with local-time delivery;
2. the messages: the digest MIME-encoded once per language its readers speak
   (digest.send.languages.LettersByLanguage), each reader getting their own language's;
3. the run: claim rows, send, record (send/runner.py);
4. done: when no row is owed any more, the digest is marked complete.

The caller composes the digest (digest.compose.stored_digest) and hands it here: sending never
renders (the caller hands every language's rendering too). A digest already complete sends
nothing, except to a time-zone group queued after it: that reopens it. What a crash leaves
"sending" is sent again by
the next run: a duplicate is rarer and cheaper than a reader who silently misses an issue.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Mapping
from datetime import datetime

from sqlalchemy import Engine

from digest.clock import Clock, utc_now
from digest.config import Settings
from digest.models import RenderedDigest, StoredDigest
from digest.review import mark_sent
from digest.send.languages import LettersByLanguage
from digest.send.processes import Share, default_processes, run_shared, shares
from digest.send.report import RunStats, SendAborted, SendReport
from digest.send.runner import Pace, Runner
from digest.store import deliveries
from digest.store.delivery_log import StoredDeliveryLog
from digest.store.digests import mark_complete, reopen
from digest.store.subscribers import ZoneGroup
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
    renderings: Mapping[str, RenderedDigest] | None = None,
    zone: ZoneGroup | None = None,
    fence: Callable | None = None,
) -> SendReport:
    """Send `digest` to every active subscriber of its cadence (of `zone` only, when given) who is
    still owed it, each in their language: `renderings` by locale (default: only the digest's own).

    Safe to call again (only those still owed get it) and concurrently (rows are claimed in the
    database). Raises SendAborted when the server keeps failing; the rest stays pending. Splits
    into DIGEST_SEND_PROCESSES processes (processes.py) unless a transport is handed in. `fence`
    runs in each claim's transaction and raises to stop (a scheduler's leadership; picklable)."""
    settings.require("from_addr", "secret_key", purpose="digest send")
    started = time.monotonic()
    rendered = digest.rendered
    own_transport = transport is None  # one handed in (tests) cannot cross processes
    transport = transport or open_transport(settings)
    report = SendReport(rendered.cadence, rendered.period, rendered.subject, describe_transport(transport))
    if digest.status == "sent" and zone is None:
        _finish(engine, digest.id, report, None, started, clock)
        return report
    deliveries.queue_deliveries(engine, digest.id, rendered.cadence, zone=zone)
    if digest.status == "sent" and not _reopened(engine, digest.id):
        _finish(engine, digest.id, report, None, started, clock)
        return report
    languages = {**(renderings or {}), settings.locale: rendered}
    processes = settings.send_processes or default_processes(settings.database_url)
    sizes = shares(settings.send_concurrency, processes if own_transport else 1, _owed(engine, digest.id))
    stop_event = stop_event or threading.Event()
    runner = Runner(
        StoredDeliveryLog(engine, digest.id, fence=fence),
        transport,
        letters := LettersByLanguage(
            settings, languages, settings.locale, now, signing_process=(os.cpu_count() or 1) > 1
        ),
        _pace(settings, sizes, 0),
        stop_event=stop_event,
        progress=_progress(engine, digest.id, progress, sizes),
        clock=clock,
    )
    report.processes = len(sizes)
    helpers = [Share(settings, digest, now, n, sizes, fence, languages) for n in range(1, len(sizes))]
    try:
        stats = run_shared(runner.run, send_share, helpers, stop_event)
    except SendAborted as exc:
        _finish(engine, digest.id, report, getattr(exc, "stats", runner.stats), started, clock)
        exc.report = report
        raise
    finally:
        letters.close()
    _finish(engine, digest.id, report, stats, started, clock)
    return report


def _reopened(engine: Engine, digest_id: int) -> bool:
    """A complete digest with rows owed again (a zone's group queued after it) is sending again.
    Counted from the log: an insert's row count is not reliable for every driver's executemany."""
    with engine.begin() as connection:
        owed = deliveries.counts(connection, digest_id).get("pending", 0) > 0
        if owed:
            reopen(connection, digest_id)
    return owed


def send_share(share: Share, stop_event: threading.Event) -> RunStats:
    """A helper process's part of a send (processes.py): its own engine, transport and letters."""
    from digest.store import open_engine

    settings = share.settings
    engine = open_engine(settings.database_url, upgrade=False)
    try:
        runner = Runner(
            StoredDeliveryLog(engine, share.digest.id, fence=share.fence),
            open_transport(settings),
            LettersByLanguage(settings, share.languages, settings.locale, share.now),
            _pace(settings, share.sizes, share.index),
            stop_event=stop_event,
        )
        return runner.run()
    finally:
        engine.dispose()


def _pace(settings: Settings, sizes: list[int], index: int) -> Pace:
    """Process `index`'s connections, and its part of DIGEST_SEND_RATE (the send's rate is the sum)."""
    rate = settings.send_rate * sizes[index] / sum(sizes)
    return Pace(sizes[index], rate, settings.bounce_limit)


def _owed(engine: Engine, digest_id: int) -> int:
    with engine.connect() as connection:
        counts = deliveries.counts(connection, digest_id)
    return counts.get("pending", 0) + counts.get("sending", 0)


def _progress(engine: Engine, digest_id: int, progress: Callable[[int, int], None] | None, sizes: list[int]):
    """The runner counts messages done; the caller's bar wants (done, owed at the start). Helper
    processes do not report: the bar counts this process's share."""
    if progress is None:
        return None
    owed = _owed(engine, digest_id) * sizes[0] // sum(sizes)
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
            mark_sent(connection, report.cadence, report.period, clock())
    report.elapsed = time.monotonic() - started
