"""Queued sends (PostgreSQL): a digest becomes pgqueuer jobs, one per batch of recipients.

The delivery log stays the one record of who got what; the queue only says which batches of a
digest's log rows still want a worker. A job is `{"digest_id", "first", "last"}` (an id range of
that digest's delivery rows) with the dedupe key `digest-ID-FIRST`: queueing the same digest
again while its jobs wait or run adds nothing. Why pgqueuer (and not a broker): see the README,
"Running at scale".
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass

from sqlalchemy import Engine, inspect, text
from sqlalchemy.engine import make_url

from digest.errors import DigestError
from digest.models import StoredDigest
from digest.store import deliveries as log

ENTRYPOINT = "digest_send_batch"
BATCH_SIZE = 1000  # rows per job: a few seconds of one worker's sending, so a takeover redoes little
_INSTALL_LOCK = 7_311_017  # pg_advisory_xact_lock key: two first queuers install the schema once


@dataclass(frozen=True)
class Queued:
    digest_id: int
    owed: int
    jobs: int  # new jobs
    already: int  # jobs that were waiting or running already


def require_postgresql(engine: Engine, what: str) -> None:
    if engine.dialect.name != "postgresql":
        raise DigestError(f"{what} needs PostgreSQL (DIGEST_DATABASE_URL is {engine.dialect.name})")


def conninfo(engine: Engine) -> str:
    """The store's URL as libpq understands it (pgqueuer opens its own async connection)."""
    url = make_url(engine.url).set(drivername="postgresql")
    return url.render_as_string(hide_password=False)


def install(engine: Engine) -> None:
    """pgqueuer's tables, created once per database (its own DDL, under an advisory lock)."""
    from pgqueuer.adapters.persistence.qb import QueryBuilderEnvironment

    with engine.begin() as connection:
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _INSTALL_LOCK})
        if not inspect(connection).has_table("pgqueuer"):
            connection.exec_driver_sql(QueryBuilderEnvironment().build_install_query())


def queue_digest(engine: Engine, digest: StoredDigest) -> str:
    """`send --queue` and the scheduler's DIGEST_SCHEDULER_QUEUE: queue a stored digest's owed
    recipients for `digest worker` processes; one line saying what was queued."""
    require_postgresql(engine, "digest send --queue")
    if digest.status == "sent":
        return "already sent to everyone: nothing queued"
    queued = queue_rows(engine, digest.id, digest.rendered.cadence)
    if not queued.owed:
        return "nothing owed: nothing queued"
    return f"{describe(queued)}; `digest worker` processes send it (until one runs, it waits in the queue)"


def queue_rows(engine: Engine, digest_id: int, cadence: str) -> Queued:
    """Log rows for every active subscriber still owed the digest, then one job per batch."""
    install(engine)
    log.queue_deliveries(engine, digest_id, cadence)
    with engine.connect() as connection:
        scopes = list(log.batches(connection, digest_id, BATCH_SIZE))
        owed = sum(log.counts(connection, digest_id).get(s, 0) for s in ("pending", "sending"))
    new = asyncio.run(_enqueue(conninfo(engine), digest_id, scopes)) if scopes else 0
    return Queued(digest_id, owed, new, len(scopes) - new)


async def _enqueue(dsn: str, digest_id: int, scopes: list[log.Scope]) -> int:
    import psycopg
    from pgqueuer import Queries
    from pgqueuer.errors import DuplicateJobError

    new = 0
    async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as connection:
        queries = Queries.from_psycopg_connection(connection)
        for first, last in scopes:
            payload = json.dumps({"digest_id": digest_id, "first": first, "last": last}).encode()
            try:
                await queries.enqueue(ENTRYPOINT, payload, dedupe_key=f"digest-{digest_id}-{first}")
                new += 1
            except DuplicateJobError:
                pass  # that batch is already waiting or being sent
    return new


def waiting_jobs(engine: Engine) -> dict[int, tuple[int, int]]:
    """Per digest id: (jobs queued, jobs picked by a worker), from pgqueuer's table."""
    if engine.dialect.name != "postgresql":
        return {}
    with engine.connect() as connection:
        if not inspect(connection).has_table("pgqueuer"):
            return {}
        rows = connection.execute(
            text(
                "SELECT (convert_from(payload, 'UTF8')::json->>'digest_id')::int AS digest_id, "
                "count(*) FILTER (WHERE status = 'queued') AS queued, "
                "count(*) FILTER (WHERE status = 'picked') AS picked "
                "FROM pgqueuer WHERE entrypoint = :entrypoint GROUP BY 1"
            ),
            {"entrypoint": ENTRYPOINT},
        )
        return {row.digest_id: (row.queued, row.picked) for row in rows}


def describe(queued: Queued) -> str:
    if not queued.owed:
        return "nothing owed: every subscriber has it"
    jobs = f"{queued.jobs} new job{'s' if queued.jobs != 1 else ''}"
    if queued.already:
        jobs += f" ({queued.already} already queued)"
    return f"queued for {queued.owed} recipients as {jobs}"
