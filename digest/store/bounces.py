"""Bounce and complaint reports in the store, and the delivery look-ups that match them.

A report row is unique by (fingerprint, recipient): inserting the same report again inserts
nothing, and only a report that was inserted has any effect, so processing twice changes nothing.
"""

from __future__ import annotations

from sqlalchemy import Connection, Row, func, insert, select

from digest.store.schema import bounce_reports, deliveries

RAW_LIMIT = 64 * 1024  # characters of a raw report kept: enough to read it, bounded per row


def add_report(connection: Connection, **values) -> int | None:
    """The new row's id, or None when this (fingerprint, recipient) is already stored."""
    exists = connection.execute(
        select(bounce_reports.c.id).where(
            bounce_reports.c.fingerprint == values["fingerprint"],
            bounce_reports.c.recipient == values["recipient"],
        )
    ).first()
    if exists is not None:
        return None
    values["raw"] = values["raw"][:RAW_LIMIT]
    return connection.execute(insert(bounce_reports).values(**values)).inserted_primary_key[0]


def delivery(connection: Connection, delivery_id: int) -> Row | None:
    return connection.execute(select(deliveries).where(deliveries.c.id == delivery_id)).first()


def delivery_by_message_id(connection: Connection, message_id: str) -> Row | None:
    query = select(deliveries).where(deliveries.c.message_id == message_id).order_by(deliveries.c.id.desc())
    return connection.execute(query.limit(1)).first()


def latest_sent_delivery(connection: Connection, subscriber_id: int) -> Row | None:
    query = (
        select(deliveries)
        .where(deliveries.c.subscriber_id == subscriber_id, deliveries.c.state == "sent")
        .order_by(deliveries.c.id.desc())
    )
    return connection.execute(query.limit(1)).first()


def count_reports(connection: Connection, delivery_id: int, kind: str) -> int:
    query = select(func.count()).where(
        bounce_reports.c.delivery_id == delivery_id, bounce_reports.c.kind == kind
    )
    return connection.execute(query).scalar_one()


def temporary_in_a_row(connection: Connection, subscriber_id: int, up_to_delivery: int, limit: int) -> int:
    """How many of the subscriber's sent deliveries, from `up_to_delivery` back, each drew a temporary
    bounce without a break: a delivery that drew none is a delivery that worked and resets the run."""
    recent = list(
        connection.execute(
            select(deliveries.c.id)
            .where(
                deliveries.c.subscriber_id == subscriber_id,
                deliveries.c.id <= up_to_delivery,
                deliveries.c.state.in_(("sent", "failed")),
            )
            .order_by(deliveries.c.id.desc())
            .limit(limit)
        ).scalars()
    )
    bounced = set(
        connection.execute(
            select(bounce_reports.c.delivery_id).where(
                bounce_reports.c.delivery_id.in_(recent), bounce_reports.c.kind == "temporary"
            )
        ).scalars()
    )
    run = 0
    for delivery_id in recent:
        if delivery_id not in bounced:
            break
        run += 1
    return run


def history(connection: Connection, subscriber_id: int) -> list[Row]:
    """The subscriber's reports, newest first, without the raw text."""
    columns = [c for c in bounce_reports.c if c.name != "raw"]
    query = (
        select(*columns)
        .where(bounce_reports.c.subscriber_id == subscriber_id)
        .order_by(bounce_reports.c.id.desc())
    )
    return list(connection.execute(query))


def raw_report(connection: Connection, report_id: int) -> str | None:
    return connection.execute(select(bounce_reports.c.raw).where(bounce_reports.c.id == report_id)).scalar()


def counts_by_kind(connection: Connection) -> dict[str, int]:
    query = select(bounce_reports.c.kind, func.count()).group_by(bounce_reports.c.kind)
    return {kind: number for kind, number in connection.execute(query)}
