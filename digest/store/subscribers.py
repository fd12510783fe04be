"""Subscribers in the store. Emails are stored normalized (digest/subscribers.py); `email_key` is
the lowercase form that finds duplicates case-insensitively."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, Row, and_, delete, func, insert, or_, select, update

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
    **extra,
) -> int:
    """`extra`: optional columns known at insert (`locale`, `timezone`, the consent columns
    consent_ip, consent_user_agent, ...)."""
    result = connection.execute(
        insert(subscribers).values(
            **extra,
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


@dataclass(frozen=True)
class ZoneGroup:
    """The subscribers of one time zone; `organizers` also takes those with no zone of their own."""

    timezone: str
    organizers: bool


def active_after(cadence: str, after_id: int, zone: ZoneGroup | None = None):
    """The condition for active subscribers of a cadence (of one zone) past `after_id`."""
    condition = and_(
        subscribers.c.cadence == cadence,
        subscribers.c.status == "active",
        subscribers.c.id > after_id,
    )
    return condition if zone is None else and_(condition, _in_zone(zone))


def page_end(connection: Connection, condition, limit: int) -> int | None:
    """The id that ends a page of `limit` subscribers meeting `condition`, by id (the last one
    when fewer are left); None when none is. Pages by id stream a list of any size."""
    ids = select(subscribers.c.id).where(condition).order_by(subscribers.c.id)
    end = connection.execute(ids.offset(limit - 1).limit(1)).scalar()
    if end is None:
        end = connection.execute(select(func.max(subscribers.c.id)).where(condition)).scalar()
    return end


def _in_zone(zone: ZoneGroup):
    if zone.organizers:
        return or_(subscribers.c.timezone.is_(None), subscribers.c.timezone == zone.timezone)
    return subscribers.c.timezone == zone.timezone


def active_locales(connection: Connection, cadence: str) -> set[str | None]:
    """The languages a cadence's readers have chosen (None: the default one)."""
    query = (
        select(subscribers.c.locale)
        .where(subscribers.c.cadence == cadence, subscribers.c.status == "active")
        .distinct()
    )
    return set(connection.execute(query).scalars())


def active_counts_by_zone(connection: Connection) -> list[tuple[str, str | None, int]]:
    """(cadence, time zone or None, active subscribers): the send groups of local-time delivery."""
    query = (
        select(subscribers.c.cadence, subscribers.c.timezone, func.count())
        .where(subscribers.c.status == "active")
        .group_by(subscribers.c.cadence, subscribers.c.timezone)
    )
    return [(cadence, zone, count) for cadence, zone, count in connection.execute(query)]


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
