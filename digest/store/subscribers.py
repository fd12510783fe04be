"""Subscribers in the store. Emails are stored normalized (digest/subscribers.py); `email_key` is
the lowercase form that finds duplicates case-insensitively."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

from sqlalchemy import Connection, Row, delete, func, insert, select, update

from digest.store import events
from digest.store.schema import subscribers

STATUSES = ("pending", "active", "unsubscribed", "bounced", "complained")


def get_by_id(connection: Connection, subscriber_id: int) -> Row | None:
    return connection.execute(select(subscribers).where(subscribers.c.id == subscriber_id)).first()


def get_by_email(connection: Connection, email: str) -> Row | None:
    """Case-insensitive: `Ann@Example.org` and `ann@example.org` are one subscriber."""
    return connection.execute(select(subscribers).where(subscribers.c.email_key == email.lower())).first()


def insert_subscriber(
    connection: Connection,
    email: str,
    name: str | None,
    cadence: str,
    source: str,
    now: datetime,
    status: str = "active",
    **consent,
) -> int:
    """`consent`: the consent columns known at insert (consent_ip, consent_user_agent, ...)."""
    result = connection.execute(
        insert(subscribers).values(
            email=email,
            email_key=email.lower(),
            name=name,
            cadence=cadence,
            status=status,
            source=source,
            bounce_count=0,
            created_at=now,
            updated_at=now,
            consent_at=now,
            **consent,
        )
    )
    return result.inserted_primary_key[0]


def set_fields(connection: Connection, subscriber_id: int, now: datetime, **values) -> None:
    connection.execute(
        update(subscribers).where(subscribers.c.id == subscriber_id).values(**values, updated_at=now)
    )


def set_status(connection: Connection, subscriber_id: int, status: str, now: datetime) -> None:
    if status not in STATUSES:
        raise ValueError(f"unknown status {status!r}")
    set_fields(connection, subscriber_id, now, status=status)


def iter_subscribers(
    connection: Connection, cadence: str | None = None, status: str | None = None
) -> Iterator[Row]:
    """Streams rows in id order; never builds the whole list."""
    query = select(subscribers).order_by(subscribers.c.id)
    if cadence:
        query = query.where(subscribers.c.cadence == cadence)
    if status:
        query = query.where(subscribers.c.status == status)
    yield from connection.execution_options(yield_per=1000).execute(query)


def count_by_status(connection: Connection, cadence: str | None = None) -> dict[str, int]:
    query = select(subscribers.c.status, func.count()).group_by(subscribers.c.status)
    if cadence:
        query = query.where(subscribers.c.cadence == cadence)
    return {status: count for status, count in connection.execute(query)}


def active_ids_after(connection: Connection, cadence: str, after_id: int, limit: int) -> list[Row]:
    """One page of active subscribers of a cadence, by id: streaming without holding a cursor."""
    query = (
        select(subscribers.c.id, subscribers.c.email)
        .where(
            subscribers.c.cadence == cadence,
            subscribers.c.status == "active",
            subscribers.c.id > after_id,
        )
        .order_by(subscribers.c.id)
        .limit(limit)
    )
    return list(connection.execute(query))


def record_bounce(connection: Connection, subscriber_id: int, limit: int, now: datetime) -> bool:
    """Count a permanent failure; True when it made the subscriber `bounced`."""
    connection.execute(
        update(subscribers)
        .where(subscribers.c.id == subscriber_id)
        .values(bounce_count=subscribers.c.bounce_count + 1, updated_at=now)
    )
    result = connection.execute(
        update(subscribers)
        .where(
            subscribers.c.id == subscriber_id,
            subscribers.c.status == "active",
            subscribers.c.bounce_count >= limit,
        )
        .values(status="bounced", updated_at=now)
    )
    if result.rowcount == 1:
        events.record(connection, subscriber_id, "bounced", now, source="send")
    return result.rowcount == 1


def expired_pending(connection: Connection, sent_before: datetime) -> list[Row]:
    """Sign-ups still waiting whose last confirmation link has expired."""
    query = select(subscribers.c.id, subscribers.c.confirmed_at).where(
        subscribers.c.status == "pending",
        func.coalesce(subscribers.c.confirm_sent_at, subscribers.c.consent_at) < sent_before,
    )
    return list(connection.execute(query))


def delete_subscriber(connection: Connection, subscriber_id: int) -> None:
    connection.execute(delete(subscribers).where(subscribers.c.id == subscriber_id))


def count_by_status_and_cadence(connection: Connection) -> dict[tuple[str, str], int]:
    query = select(subscribers.c.status, subscribers.c.cadence, func.count()).group_by(
        subscribers.c.status, subscribers.c.cadence
    )
    return {(status, cadence): count for status, cadence, count in connection.execute(query)}
