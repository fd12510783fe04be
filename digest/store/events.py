"""The list's history: sign-ups, confirmations, unsubscribes, bounces, complaints, one row each.

The organizer's view counts them per week; `subscribers show` lists one subscriber's. Deleting an
unconfirmed sign-up keeps its events, anonymised (no subscriber, no IP, no user agent).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, Row, insert, select, update

from digest.store.schema import subscriber_events, subscribers

KINDS = (
    "signup",  # asked through the form (pending when double opt-in is on)
    "confirmed",  # clicked the confirmation link
    "added",  # by the organizer: `subscribers add` or an import
    "resubscribed",
    "cadence",
    "unsubscribed",
    "bounced",
    "complained",
    "expired",  # an unconfirmed sign-up deleted after DIGEST_CONFIRM_HOURS
)


def record(
    connection: Connection,
    subscriber_id: int | None,
    kind: str,
    now: datetime,
    *,
    source: str | None = None,
    ip: str | None = None,
    user_agent: str | None = None,
    detail: str | None = None,
) -> None:
    if kind not in KINDS:
        raise ValueError(f"unknown event {kind!r}")
    connection.execute(
        insert(subscriber_events).values(
            subscriber_id=subscriber_id,
            kind=kind,
            at=now,
            source=source,
            ip=ip,
            user_agent=user_agent,
            detail=detail,
        )
    )


def for_subscriber(connection: Connection, subscriber_id: int) -> list[Row]:
    query = (
        select(subscriber_events)
        .where(subscriber_events.c.subscriber_id == subscriber_id)
        .order_by(subscriber_events.c.at, subscriber_events.c.id)
    )
    return list(connection.execute(query))


def latest(connection: Connection, limit: int = 20) -> list[Row]:
    """The newest events, each with its subscriber's address (None once deleted)."""
    joined = subscriber_events.outerjoin(subscribers, subscribers.c.id == subscriber_events.c.subscriber_id)
    query = (
        select(subscriber_events, subscribers.c.email)
        .select_from(joined)
        .order_by(subscriber_events.c.at.desc(), subscriber_events.c.id.desc())
    )
    return list(connection.execute(query.limit(limit)))


def since(connection: Connection, start: datetime) -> list[Row]:
    """(kind, at) of every event from `start` on, for per-week counts."""
    query = select(subscriber_events.c.kind, subscriber_events.c.at).where(subscriber_events.c.at >= start)
    return list(connection.execute(query))


def anonymise(connection: Connection, subscriber_id: int) -> None:
    connection.execute(
        update(subscriber_events)
        .where(subscriber_events.c.subscriber_id == subscriber_id)
        .values(subscriber_id=None, ip=None, user_agent=None)
    )
