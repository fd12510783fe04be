"""The delivery log: one row per (digest, subscriber), the record that makes a send safe to repeat.

States: pending -> sending (claimed by one run) -> sent | failed (5xx, never retried) | skipped
(the subscriber left before their turn). A claim is an UPDATE guarded by `state = 'pending'`, so
two runs can never both own a row: on SQLite every transaction is BEGIN IMMEDIATE (one writer at a
time), on PostgreSQL the candidate rows are locked with FOR UPDATE SKIP LOCKED and the guard is
re-checked after any wait.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime

from sqlalchemy import (
    Connection,
    Engine,
    Row,
    and_,
    bindparam,
    exists,
    func,
    insert,
    literal,
    select,
    true,
    update,
)

from digest.models import Claimed, OtherClaim
from digest.store import subscribers as subscriber_store
from digest.store.schema import deliveries, subscribers
from digest.store.subscribers import ZoneGroup

DONE = ("sent", "failed", "skipped")


def _insert_ignoring_duplicates(connection: Connection):
    # Imported here: the PostgreSQL dialect package (with its asyncpg module) is a tenth of a
    # second of every `digest send` start-up on SQLite.
    from sqlalchemy.dialects import postgresql, sqlite

    dialect = connection.dialect.name
    if dialect == "postgresql":
        return postgresql.insert(deliveries).on_conflict_do_nothing()
    if dialect == "sqlite":
        return sqlite.insert(deliveries).on_conflict_do_nothing()
    return insert(deliveries).prefix_with("IGNORE")  # MySQL-like: best effort


def queue_deliveries(
    engine: Engine, digest_id: int, cadence: str, page: int = 5000, zone: ZoneGroup | None = None
) -> int:
    """A pending row for every active subscriber of the cadence who has none yet for this digest
    (only those of one time zone when `zone` is given: one group of local-time delivery).

    Subscribers are taken a page at a time by id, each page one INSERT ... SELECT in its own short
    transaction: a list of any size streams through inside the database, and concurrent runs never
    wait long on each other."""
    queued, after = 0, 0
    while True:
        with engine.begin() as connection:
            condition = subscriber_store.active_after(cadence, after, zone)
            end = subscriber_store.page_end(connection, condition, page)
            if end is None:
                return queued
            rows = select(
                literal(digest_id), subscribers.c.id, subscribers.c.email, literal("pending"), literal(0)
            ).where(condition, subscribers.c.id <= end)
            columns = ["digest_id", "subscriber_id", "email", "state", "attempts"]
            result = connection.execute(_insert_ignoring_duplicates(connection).from_select(columns, rows))
            queued += max(result.rowcount, 0)
            after = end


def skip_departed(connection: Connection, digest_id: int, now: datetime) -> int:
    """Pending rows whose subscriber unsubscribed or bounced since queueing are skipped, not sent."""
    departed = exists().where(
        and_(subscribers.c.id == deliveries.c.subscriber_id, subscribers.c.status != "active")
    )
    result = connection.execute(
        update(deliveries)
        .where(deliveries.c.digest_id == digest_id, deliveries.c.state == "pending", departed)
        .values(state="skipped", last_error="subscriber no longer active")
    )
    return result.rowcount


Scope = tuple[int, int]  # a queued batch: delivery ids first..last (inclusive) of one digest


def _in(scope: Scope | None):
    return true() if scope is None else deliveries.c.id.between(*scope)


def claim(
    connection: Connection, digest_id: int, run_id: str, limit: int, now: datetime, scope: Scope | None = None
) -> list[Claimed]:
    """Take up to `limit` pending rows for this run; rows another run holds are never returned."""
    candidates = (
        select(deliveries.c.id)
        .where(deliveries.c.digest_id == digest_id, deliveries.c.state == "pending", _in(scope))
        .order_by(deliveries.c.id)
        .limit(limit)
    )
    if connection.dialect.name == "postgresql":
        candidates = candidates.with_for_update(skip_locked=True)
    ids = connection.execute(candidates).scalars().all()  # all(): one fetch, not one per row
    if not ids:
        return []
    connection.execute(_TAKE, {"ids": ids, "run": run_id, "now": now})
    return [Claimed(*row) for row in connection.execute(_CLAIMED, {"ids": ids, "run": run_id}).all()]


# Built once, with the ids as one expanding parameter: building these statements around a literal
# IN list on every claim cost more than running them.
_TAKE = (
    update(deliveries)
    .where(deliveries.c.id.in_(bindparam("ids", expanding=True)), deliveries.c.state == "pending")
    .values(state="sending", claimed_by=bindparam("run"), claimed_at=bindparam("now"))
)
_CLAIMED = (
    select(
        deliveries.c.id,
        deliveries.c.subscriber_id,
        deliveries.c.email,
        subscribers.c.name,
        deliveries.c.attempts,
        subscribers.c.locale,
    )
    .join(subscribers, subscribers.c.id == deliveries.c.subscriber_id)
    .where(
        deliveries.c.id.in_(bindparam("ids", expanding=True)),
        deliveries.c.claimed_by == bindparam("run"),
        deliveries.c.state == "sending",
    )
    .order_by(deliveries.c.id)
)


# Built once: a send records thousands of these, one executemany per group commit.
# No claimed_by guard: the message went out, so the log must say so even if a stale-claim
# recovery gave the row to another run meanwhile.
MARK_SENT = (
    update(deliveries)
    .where(deliveries.c.id == bindparam("row_id"))
    .values(
        state="sent",
        sent_at=bindparam("at"),
        message_id=bindparam("mid"),
        attempts=deliveries.c.attempts + 1,
        last_error=None,
        claimed_by=None,
    )
)


def mark_sent(connection: Connection, delivery_id: int, message_id: str, now: datetime) -> None:
    mark_sent_many(connection, [(delivery_id, message_id)], now)


def mark_sent_many(connection: Connection, sent: Sequence[tuple[int, str]], now: datetime) -> None:
    """Record (delivery id, Message-ID) pairs as sent, in one executemany."""
    if sent:
        connection.execute(MARK_SENT, [{"row_id": rid, "mid": mid, "at": now} for rid, mid in sent])


def mark_failed(connection: Connection, row: Claimed, reason: str) -> bool:
    """A permanent failure: recorded and never retried. The bounce is counted separately
    (runner: only once the server has shown it is not rejecting everyone)."""
    result = connection.execute(
        update(deliveries)
        .where(deliveries.c.id == row.id, deliveries.c.state == "sending")
        .values(state="failed", last_error=reason[:500], attempts=deliveries.c.attempts + 1, claimed_by=None)
    )
    return result.rowcount == 1


AMBIGUOUS_LIMIT = 2  # copies an unanswered end of data may have caused, across all runs


def mark_ambiguous(connection: Connection, row: Claimed, reason: str) -> bool:
    """The end of data went out and no reply came: the server may have the message. Not retried in
    this run; a later run tries once more (same Message-ID, so a receiver can drop the duplicate),
    then the row is `failed`. True when this made it final."""
    connection.execute(
        update(deliveries)
        .where(deliveries.c.id == row.id)
        .values(
            ambiguous=deliveries.c.ambiguous + 1,
            attempts=deliveries.c.attempts + 1,
            last_error=f"ambiguous: {reason}"[:500],
        )
    )
    result = connection.execute(
        update(deliveries)
        .where(deliveries.c.id == row.id, deliveries.c.ambiguous >= AMBIGUOUS_LIMIT)
        .values(state="failed", claimed_by=None)
    )
    return result.rowcount == 1


def reopen_failed(connection: Connection, ids: Iterable[int]) -> int:
    """Failures that were the server's fault after all (it rejected everyone): owed again."""
    ids = list(ids)
    if not ids:
        return 0
    result = connection.execute(
        update(deliveries)
        .where(deliveries.c.id.in_(ids), deliveries.c.state == "failed")
        .values(state="pending", claimed_by=None, claimed_at=None)
    )
    return result.rowcount


def note_attempt(connection: Connection, delivery_id: int, reason: str) -> None:
    """A temporary failure: the row stays claimed for a retry within this run."""
    connection.execute(
        update(deliveries)
        .where(deliveries.c.id == delivery_id)
        .values(attempts=deliveries.c.attempts + 1, last_error=reason[:500])
    )


def release(connection: Connection, ids: Iterable[int], run_id: str) -> int:
    """Give claimed rows back (pending) so the next run sends them."""
    ids = list(ids)
    if not ids:
        return 0
    result = connection.execute(
        update(deliveries)
        .where(deliveries.c.id.in_(ids), deliveries.c.claimed_by == run_id, deliveries.c.state == "sending")
        .values(state="pending", claimed_by=None, claimed_at=None)
    )
    return result.rowcount


def claims_of_others(
    connection: Connection, digest_id: int, run_id: str, scope: Scope | None = None
) -> list[OtherClaim]:
    """Every other run holding rows of this digest (within `scope`), with its oldest claim."""
    query = (
        select(
            deliveries.c.claimed_by,
            func.min(deliveries.c.claimed_at).label("since"),
        )
        .where(
            deliveries.c.digest_id == digest_id,
            deliveries.c.state == "sending",
            deliveries.c.claimed_by != run_id,
            _in(scope),
        )
        .group_by(deliveries.c.claimed_by)
    )
    return [OtherClaim(*row) for row in connection.execute(query)]


def release_claims_of(
    connection: Connection, digest_id: int, claimers: Sequence[str | None], scope: Scope | None = None
) -> int:
    """Stale or dead runs' rows go back to pending: they were claimed and never confirmed."""
    if not claimers:
        return 0
    condition = deliveries.c.claimed_by.in_([c for c in claimers if c is not None])
    if None in claimers:
        condition = condition | deliveries.c.claimed_by.is_(None)
    result = connection.execute(
        update(deliveries)
        .where(deliveries.c.digest_id == digest_id, deliveries.c.state == "sending", condition, _in(scope))
        .values(state="pending", claimed_by=None, claimed_at=None)
    )
    return result.rowcount


def release_claimed_before(connection: Connection, digest_id: int, scope: Scope, before: datetime) -> int:
    """A queued batch taken over from a worker whose heartbeat stopped: that worker's claims in the
    batch (all made before `before`) go back to pending; what it recorded as sent stays sent."""
    result = connection.execute(
        update(deliveries)
        .where(
            deliveries.c.digest_id == digest_id,
            deliveries.c.state == "sending",
            deliveries.c.claimed_at < before,
            _in(scope),
        )
        .values(state="pending", claimed_by=None, claimed_at=None)
    )
    return result.rowcount


def batches(connection: Connection, digest_id: int, size: int) -> Iterator[Scope]:
    """The digest's owed rows (pending or sending) as id ranges of at most `size` rows each."""
    query = (
        select(deliveries.c.id)
        .where(deliveries.c.digest_id == digest_id, deliveries.c.state.in_(("pending", "sending")))
        .order_by(deliveries.c.id)
    )
    ids = connection.execution_options(yield_per=10_000).execute(query).scalars()
    chunk: list[int] = []
    for row_id in ids:
        chunk.append(row_id)
        if len(chunk) == size:
            yield chunk[0], chunk[-1]
            chunk = []
    if chunk:
        yield chunk[0], chunk[-1]


def counts(connection: Connection, digest_id: int) -> dict[str, int]:
    query = (
        select(deliveries.c.state, func.count())
        .where(deliveries.c.digest_id == digest_id)
        .group_by(deliveries.c.state)
    )
    return {state: number for state, number in connection.execute(query)}


def owed(connection: Connection, cadence: str, digest_id: int | None) -> Iterable[Row]:
    """Active subscribers who have not had this digest (what a dry run lists), streamed by id."""
    query = select(subscribers.c.id, subscribers.c.email, subscribers.c.name).where(
        subscribers.c.cadence == cadence, subscribers.c.status == "active"
    )
    if digest_id is not None:
        done = exists().where(
            and_(
                deliveries.c.digest_id == digest_id,
                deliveries.c.subscriber_id == subscribers.c.id,
                deliveries.c.state.in_(("sent", "failed")),
            )
        )
        query = query.where(~done)
    yield from connection.execution_options(yield_per=1000).execute(query.order_by(subscribers.c.id))
