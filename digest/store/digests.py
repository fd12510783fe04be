"""Digests in the store: the rendered body kept for the archive and as the unit of a send."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, Row, insert, select, update

from digest.models import RenderedDigest
from digest.store.schema import digests

# status: "sending" once deliveries were queued, "sent" when none is owed any more.


def get_digest(connection: Connection, cadence: str, period: str) -> Row | None:
    query = select(digests).where(digests.c.cadence == cadence, digests.c.period == period)
    return connection.execute(query).first()


def get_digest_by_id(connection: Connection, digest_id: int) -> Row | None:
    return connection.execute(select(digests).where(digests.c.id == digest_id)).first()


def save_digest(connection: Connection, rendered: RenderedDigest, now: datetime) -> int:
    """Store a digest once; a second save of the same period keeps the first (what was sent stays)."""
    existing = get_digest(connection, rendered.cadence, rendered.period)
    if existing is not None:
        return existing.id
    result = connection.execute(
        insert(digests).values(
            cadence=rendered.cadence,
            period=rendered.period,
            subject=rendered.subject,
            item_count=rendered.item_count,
            html=rendered.html,
            text=rendered.text,
            status="sending",
            created_at=now,
        )
    )
    return result.inserted_primary_key[0]


def mark_complete(connection: Connection, digest_id: int, now: datetime) -> None:
    connection.execute(
        update(digests).where(digests.c.id == digest_id).values(status="sent", completed_at=now)
    )


def list_digests(connection: Connection, cadence: str | None = None) -> list[Row]:
    """Newest first; the archive shows these."""
    query = select(
        digests.c.id,
        digests.c.cadence,
        digests.c.period,
        digests.c.subject,
        digests.c.item_count,
        digests.c.status,
        digests.c.created_at,
        digests.c.completed_at,
    ).order_by(digests.c.created_at.desc(), digests.c.id.desc())
    if cadence:
        query = query.where(digests.c.cadence == cadence)
    return list(connection.execute(query))
