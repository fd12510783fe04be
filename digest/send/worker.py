"""`digest worker`: take queued batches (delivery/queue.py) from pgqueuer and send them.

pgqueuer hands each batch to one worker and records a heartbeat for it while it runs; a batch
whose worker stops beating (killed, host gone) for DIGEST_FAILOVER_SECONDS is handed to another
worker. That worker does not start the batch over: the delivery log says what is sent already,
and the rows the dead worker had claimed (its messages in flight, at most its connections) go
back to pending and are sent again: the same promise as a crashed `digest send`.

A worker runs one batch at a time on DIGEST_SEND_CONCURRENCY connections; run one worker per
core. DIGEST_SEND_RATE is the whole fleet's (delivery/fleet.py).
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine

from digest.config import Settings
from digest.mail import Letters
from digest.models import RenderedDigest
from digest.review import mark_sent
from digest.send.fleet import FleetLimiter
from digest.send.queue import ENTRYPOINT, conninfo, install, require_postgresql
from digest.send.report import SendAborted
from digest.send.runner import Pace, Runner
from digest.store import deliveries as log
from digest.store.delivery_log import StoredDeliveryLog
from digest.store.digests import get_digest_by_id, mark_complete
from digest.transport import open_transport

log_ = logging.getLogger("digest.worker")
RETRY_AFTER_ABORT = timedelta(seconds=30)  # the SMTP server keeps failing: let the batch wait


def run_worker(settings: Settings, engine: Engine, stop_event: threading.Event) -> None:
    """Take batches until `stop_event` is set; a batch cut off by the stop goes back to the queue."""
    settings.require("from_addr", "secret_key", purpose="digest worker")
    require_postgresql(engine, "digest worker")
    install(engine)
    asyncio.run(_serve(settings, engine, stop_event))


async def _serve(settings: Settings, engine: Engine, stop_event: threading.Event) -> None:
    import psycopg
    from pgqueuer import Queries, QueueManager

    limiter = FleetLimiter(engine, settings.send_rate)
    one_at_a_time = asyncio.Semaphore(1)
    async with await psycopg.AsyncConnection.connect(conninfo(engine), autocommit=True) as connection:
        manager = QueueManager(Queries.from_psycopg_connection(connection))

        @manager.entrypoint(ENTRYPOINT)
        async def send_batch(job) -> None:
            async with one_at_a_time:
                batch = json.loads(job.payload)
                await asyncio.to_thread(run_batch, settings, engine, batch, stop_event, limiter)

        loop = asyncio.get_running_loop()
        threading.Thread(target=_stop_when_set, args=(stop_event, loop, manager), daemon=True).start()
        log_.info("worker ready (up to %d connections)", settings.send_concurrency)
        await manager.run(
            batch_size=1,
            max_concurrent_tasks=2,
            heartbeat_timeout=timedelta(seconds=settings.failover_seconds),
            dequeue_timeout=timedelta(seconds=2),
            log_aggregation_interval=timedelta(0),
        )
    log_.info("worker stopped")


def _stop_when_set(stop_event: threading.Event, loop: asyncio.AbstractEventLoop, manager) -> None:
    stop_event.wait()
    loop.call_soon_threadsafe(manager.shutdown.set)


def run_batch(
    settings: Settings, engine: Engine, batch: dict, stop_event: threading.Event, limiter: FleetLimiter
) -> None:
    """Send what the log still owes in one batch. Raises pgqueuer's RetryRequested when rows are
    left (a stop, a failing server), so the batch goes back to the queue instead of being dropped."""
    from pgqueuer.errors import RetryRequested

    digest_id, scope = batch["digest_id"], (batch["first"], batch["last"])
    now = datetime.now(UTC)
    with engine.begin() as connection:
        row = get_digest_by_id(connection, digest_id)
        if row is None:
            return  # the digest is gone: nothing to send
        # pgqueuer hands a batch to one live worker at a time: a claim in it from before now belongs
        # to the worker it was taken from (dead, or silent past the heartbeat timeout).
        resumed = log.release_claimed_before(connection, digest_id, scope, now)
    if resumed:
        log_.warning(
            "digest %d rows %d-%d: %d rows in flight at a dead worker are owed again",
            digest_id,
            *scope,
            resumed,
        )
    runner = Runner(
        StoredDeliveryLog(engine, digest_id, scope=scope),
        open_transport(settings),
        Letters(settings, _rendered(row), now),
        Pace(settings.send_concurrency, settings.send_rate, settings.bounce_limit),
        stop_event=stop_event,
        limiter=limiter,
    )
    try:
        stats = runner.run()
    except SendAborted as exc:
        log_.error("digest %d rows %d-%d: %s; retried in %s", digest_id, *scope, exc, RETRY_AFTER_ABORT)
        raise RetryRequested(delay=RETRY_AFTER_ABORT, reason=str(exc)) from None
    log_.info("digest %d rows %d-%d: sent %d, failed %d", digest_id, *scope, stats.sent, stats.failed)
    with engine.begin() as connection:
        owed = log.counts(connection, digest_id)
        if not owed.get("pending") and not owed.get("sending"):
            mark_complete(connection, digest_id, datetime.now(UTC))
            row = get_digest_by_id(connection, digest_id)
            mark_sent(connection, row.cadence, row.period, datetime.now(UTC))
    if stop_event.is_set():
        raise RetryRequested(reason="worker stopping")  # another worker (or this one, later) goes on


def _rendered(row) -> RenderedDigest:
    return RenderedDigest(row.cadence, row.period, row.subject, "", row.html, row.text, row.item_count)
