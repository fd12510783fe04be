"""Editions in the store: one row per (cadence, period), one row per item the organizer marked.

An edition nobody touched has no row and reads as a fresh `open` one. State changes that race a
send (hold against the start of a send) are conditional updates, so exactly one of them wins.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import Connection, Row, func, insert, select, update

from digest.editions import Edition
from digest.models import RenderedDigest
from digest.store.schema import edition_items, editions


def _row(connection: Connection, cadence: str, period: str) -> Row | None:
    query = select(editions).where(editions.c.cadence == cadence, editions.c.period == period)
    return connection.execute(query).first()


def load_edition(connection: Connection, cadence: str, period: str) -> Edition:
    row = _row(connection, cadence, period)
    if row is None:
        return Edition(cadence, period)
    marks = list(connection.execute(select(edition_items).where(edition_items.c.edition_id == row.id)))
    pinned = sorted((m for m in marks if m.pin_rank is not None), key=lambda m: m.pin_rank)
    return Edition(
        cadence=cadence,
        period=period,
        state=row.state,
        intro=row.intro or "",
        subject=row.subject,
        excluded=frozenset(m.item_id for m in marks if m.excluded),
        pinned=tuple(m.item_id for m in pinned),
        frozen=frozenset(m.item_id for m in marks if m.member) if row.frozen else None,
    )


def edition_row(connection: Connection, cadence: str, period: str) -> Row | None:
    return _row(connection, cadence, period)


def ensure_edition(connection: Connection, cadence: str, period: str, now: datetime) -> int:
    """The edition's row id, created `open` on first use (within the caller's transaction)."""
    row = _row(connection, cadence, period)
    if row is not None:
        return row.id
    result = connection.execute(
        insert(editions).values(cadence=cadence, period=period, state="open", intro="", updated_at=now)
    )
    return result.inserted_primary_key[0]


def set_fields(connection: Connection, edition_id: int, now: datetime, **values: object) -> None:
    connection.execute(update(editions).where(editions.c.id == edition_id).values(updated_at=now, **values))


def move_state(
    connection: Connection, edition_id: int, to: str, allowed_from: Iterable[str], now: datetime
) -> bool:
    """Change the state only from one of `allowed_from`; False when another process got there first."""
    result = connection.execute(
        update(editions)
        .where(editions.c.id == edition_id, editions.c.state.in_(list(allowed_from)))
        .values(state=to, updated_at=now)
    )
    return result.rowcount == 1


def _mark(connection: Connection, edition_id: int, item_id: str) -> Row | None:
    query = select(edition_items).where(
        edition_items.c.edition_id == edition_id, edition_items.c.item_id == item_id
    )
    return connection.execute(query).first()


def set_mark(connection: Connection, edition_id: int, item_id: str, **values: object) -> None:
    """Set an item's marks (excluded, pin_rank, member), creating its row when needed."""
    if _mark(connection, edition_id, item_id) is None:
        row = {"excluded": 0, "pin_rank": None, "member": 0, **values}
        connection.execute(insert(edition_items).values(edition_id=edition_id, item_id=item_id, **row))
        return
    connection.execute(
        update(edition_items)
        .where(edition_items.c.edition_id == edition_id, edition_items.c.item_id == item_id)
        .values(**values)
    )


def next_pin_rank(connection: Connection, edition_id: int) -> int:
    query = select(func.max(edition_items.c.pin_rank)).where(edition_items.c.edition_id == edition_id)
    return (connection.execute(query).scalar() or 0) + 1


def freeze(connection: Connection, edition_id: int, item_ids: Iterable[str], now: datetime) -> None:
    """Record the item list as it is now; later items stay out of this edition."""
    for item_id in item_ids:
        set_mark(connection, edition_id, item_id, member=1)
    set_fields(connection, edition_id, now, frozen=1, frozen_at=now)


def frozen_editions(connection: Connection, cadence: str) -> dict[str, set[str]]:
    """period -> its frozen item ids, for every frozen edition of `cadence`."""
    query = (
        select(editions.c.period, edition_items.c.item_id, edition_items.c.member)
        .select_from(editions.outerjoin(edition_items, edition_items.c.edition_id == editions.c.id))
        .where(editions.c.cadence == cadence, editions.c.frozen == 1)
    )
    found: dict[str, set[str]] = {}
    for period, item_id, member in connection.execute(query):
        ids = found.setdefault(period, set())
        if item_id is not None and member:
            ids.add(item_id)
    return found


def editions_waiting(connection: Connection, cadence: str) -> list[Row]:
    """Editions whose scheduled send was stopped (held, or waiting for approval)."""
    query = select(editions).where(
        editions.c.cadence == cadence,
        editions.c.scheduled_for.is_not(None),
        editions.c.state.in_(["open", "approved", "held"]),
    )
    return list(connection.execute(query.order_by(editions.c.scheduled_for)))


def review_states(connection: Connection) -> dict[tuple[str, str], str]:
    """(cadence, period) -> "held" or "approved", for the editions an organizer decided on."""
    query = select(editions.c.cadence, editions.c.period, editions.c.state).where(
        editions.c.state.in_(["held", "approved"])
    )
    return {(row.cadence, row.period): row.state for row in connection.execute(query)}


def keep_approved_copy(connection: Connection, edition_id: int, rendered: RenderedDigest) -> None:
    connection.execute(
        update(editions)
        .where(editions.c.id == edition_id)
        .values(
            approved_subject=rendered.subject,
            approved_preheader=rendered.preheader,
            approved_html=rendered.html,
            approved_text=rendered.text,
            approved_item_count=rendered.item_count,
        )
    )


def approved_copy(connection: Connection, cadence: str, period: str) -> RenderedDigest | None:
    """The digest as it was approved, while the edition is still approved."""
    row = _row(connection, cadence, period)
    if row is None or row.state != "approved" or row.approved_html is None:
        return None
    return RenderedDigest(
        cadence,
        period,
        row.approved_subject,
        row.approved_preheader or "",
        row.approved_html,
        row.approved_text,
        row.approved_item_count,
    )
