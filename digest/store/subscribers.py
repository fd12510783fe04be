"""Subscribers in the store. Emails are stored normalized (see digest/subscribers.py when present)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

from sqlalchemy import Connection, Row, insert, select, update

from digest.store.schema import subscribers

STATUSES = ("active", "unsubscribed", "bounced")


def get_by_id(connection: Connection, subscriber_id: int) -> Row | None:
    return connection.execute(select(subscribers).where(subscribers.c.id == subscriber_id)).first()


def get_by_email(connection: Connection, email: str) -> Row | None:
    return connection.execute(select(subscribers).where(subscribers.c.email == email)).first()


def insert_subscriber(
    connection: Connection, email: str, name: str | None, cadence: str, source: str, now: datetime
) -> int:
    result = connection.execute(
        insert(subscribers).values(
            email=email,
            name=name,
            cadence=cadence,
            status="active",
            source=source,
            bounce_count=0,
            created_at=now,
            updated_at=now,
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
