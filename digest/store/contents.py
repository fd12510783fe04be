"""Which items a digest holds, so that no item is silently skipped.

The rule: a stored digest (stored when its send starts) holds the items it was stored with. A digest
not stored yet holds every item published before the end of its period that no stored digest of its
cadence holds and no other edition of it froze (an approved edition's list, excluded items included:
leaving an item out is the organizer's choice), back to the start of that cadence's first stored digest
or approved edition. So an item that arrives after
its period's digest went out (a feed read on Tuesday, dated last Sunday) goes into the cadence's next
digest, and so do the items of a period whose digest was never sent; before a cadence's first digest,
a digest holds its own period's items only (an imported archive is not mailed out).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, and_, exists, insert, select

from digest.models import Item
from digest.periods import Period, parse_period
from digest.store.items import row_to_item
from digest.store.schema import digest_items, digests, edition_items, editions, items


@dataclass(frozen=True)
class Contents:
    items: list[Item]  # newest first
    carried: int  # how many were published before the period (late, or from a period never sent)
    stored: bool  # the digest is stored: these are the items it went out with


def record_items(connection: Connection, digest_id: int, item_ids: Sequence[str]) -> None:
    rows = [{"digest_id": digest_id, "item_id": item_id, "position": n} for n, item_id in enumerate(item_ids)]
    if rows:
        connection.execute(insert(digest_items), rows)


def held_items(connection: Connection, digest_id: int) -> list[Item]:
    """A stored digest's items in the order it showed them (items deleted since are left out)."""
    query = (
        select(items)
        .join(digest_items, digest_items.c.item_id == items.c.id)
        .where(digest_items.c.digest_id == digest_id)
        .order_by(digest_items.c.position)
    )
    return [row_to_item(row) for row in connection.execute(query)]


def digest_contents(connection: Connection, period: Period, tz: ZoneInfo) -> Contents:
    """The items of the digest of `period`: the stored ones, else by the rule above."""
    stored = connection.execute(
        select(digests.c.id).where(digests.c.cadence == period.cadence, digests.c.period == period.key)
    ).first()
    if stored is not None:
        return Contents(held_items(connection, stored.id), 0, True)
    floor = _first_digest_start(connection, period.cadence, tz)
    since = min(floor, period.start) if floor is not None else period.start
    held = exists().where(
        and_(
            digest_items.c.item_id == items.c.id,
            digest_items.c.digest_id == digests.c.id,
            digests.c.cadence == period.cadence,
        )
    )
    # An item in another edition's frozen list belongs to that edition, even excluded from it.
    frozen_elsewhere = exists().where(
        and_(
            edition_items.c.item_id == items.c.id,
            edition_items.c.member == 1,
            edition_items.c.edition_id == editions.c.id,
            editions.c.cadence == period.cadence,
            editions.c.frozen == 1,
            editions.c.period != period.key,
        )
    )
    query = (
        select(items)
        .where(items.c.published >= since, items.c.published < period.end, ~held, ~frozen_elsewhere)
        .order_by(items.c.published.desc(), items.c.id)
    )
    found = [row_to_item(row) for row in connection.execute(query)]
    carried = sum(1 for item in found if item.published is not None and item.published < period.start)
    return Contents(found, carried, False)


def _first_digest_start(connection: Connection, cadence: str, tz: ZoneInfo) -> datetime | None:
    """The start of the cadence's first digest that went out or froze its list (approved)."""
    stored = select(digests.c.period).where(digests.c.cadence == cadence)
    frozen = select(editions.c.period).where(editions.c.cadence == cadence, editions.c.frozen == 1)
    starts = []
    for key in connection.execute(stored.union(frozen)).scalars():
        try:
            starts.append(parse_period(cadence, key, tz).start)
        except ValueError:
            continue
    return min(starts, default=None)
