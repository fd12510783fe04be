"""Items in the store: idempotent upsert and period queries."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Connection, Row, func, insert, select, update

from digest.models import EARLIEST_YEAR, LATEST_YEAR, Item
from digest.store.schema import items

_CHUNK = 500


@dataclass
class UpsertCounts:
    new: int = 0
    updated: int = 0
    unchanged: int = 0


_EARLIEST = datetime(EARLIEST_YEAR, 1, 1, tzinfo=UTC)
_AFTER_LATEST = datetime(LATEST_YEAR + 1, 1, 1, tzinfo=UTC)


def upsert_items(connection: Connection, batch: Sequence[Item], now: datetime) -> UpsertCounts:
    """Insert new items, update changed ones, leave the rest; within the caller's transaction.

    An item with no date keeps the date it got when first seen, so re-ingesting an undated file
    does not move its items into a newer period.
    """
    counts = UpsertCounts()
    unique = list({item.id: item for item in batch}.values())
    for start in range(0, len(unique), _CHUNK):
        chunk = unique[start : start + _CHUNK]
        known = _known_hashes(connection, [item.id for item in chunk])
        fresh = [item for item in chunk if item.id not in known]
        if fresh:
            rows = [_new_row(item, now, start + n) for n, item in enumerate(chunk) if item.id not in known]
            connection.execute(insert(items), rows)
        counts.new += len(fresh)
        for item in chunk:
            if item.id in known:
                if known[item.id] == item.content_hash():
                    counts.unchanged += 1
                else:
                    connection.execute(update(items).where(items.c.id == item.id), _changed_row(item, now))
                    counts.updated += 1
    return counts


def _known_hashes(connection: Connection, ids: list[str]) -> dict[str, str]:
    rows = connection.execute(select(items.c.id, items.c.content_hash).where(items.c.id.in_(ids)))
    return {row.id: row.content_hash for row in rows}


def _fields(item: Item) -> dict:
    return {
        "guid": item.guid,
        "title": item.title,
        "summary": item.summary,
        "summary_html": item.summary_html,
        "url": item.url,
        "category": item.category,
        "author": item.author,
        "image": item.image,
        "source": item.source,
        "content_hash": item.content_hash(),
    }


def _new_row(item: Item, now: datetime, position: int) -> dict:
    # Undated items are dated at ingest, a microsecond apart in file order, so newest-first
    # listings keep the order the organizer wrote them in.
    dated = item.published or now - timedelta(microseconds=position)
    return {
        **_fields(item),
        "id": item.id,
        "published": dated,
        "dated_by_ingest": int(item.published is None),
        "first_seen": now,
        "updated_at": now,
    }


def _changed_row(item: Item, now: datetime) -> dict:
    row = {**_fields(item), "updated_at": now}
    if item.published is not None:
        row.update(published=item.published, dated_by_ingest=0)
    return row


def row_to_item(row: Row) -> Item:
    return Item(
        id=row.id,
        guid=row.guid,
        title=row.title,
        summary=row.summary,
        summary_html=row.summary_html,
        url=row.url,
        published=row.published,
        category=row.category,
        author=row.author,
        image=row.image,
        source=row.source,
    )


def items_between(
    connection: Connection, since: datetime | None = None, until: datetime | None = None
) -> Iterable[Item]:
    """Items with since <= published < until, newest first."""
    query = select(items).order_by(items.c.published.desc(), items.c.id)
    if since is not None:
        query = query.where(items.c.published >= since)
    if until is not None:
        query = query.where(items.c.published < until)
    for row in connection.execute(query):
        yield row_to_item(row)


def items_with_ids(connection: Connection, ids: Iterable[str]) -> list[Item]:
    """The stored items among `ids`, newest first."""
    query = select(items).where(items.c.id.in_(list(ids))).order_by(items.c.published.desc(), items.c.id)
    return [row_to_item(row) for row in connection.execute(query)]


def count_items(connection: Connection) -> int:
    return connection.execute(select(func.count()).select_from(items)).scalar_one()


def published_times(connection: Connection) -> list[datetime]:
    """Every item's date, for listing which periods have content.

    Only dates ingest accepts (1970-2200): a row from before that check, dated 9999-12-31, would make
    the period arithmetic overflow in every listing.
    """
    query = select(items.c.published).where(items.c.published >= _EARLIEST, items.c.published < _AFTER_LATEST)
    return list(connection.execute(query).scalars())
