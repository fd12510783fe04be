"""`digest send --dry-run`: who would get the digest, without sending or storing anything."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from sqlalchemy import Engine

from digest.models import RenderedDigest, StoredDigest
from digest.store import deliveries


@dataclass
class DryRun:
    subject: str
    stored: bool
    recipients: Iterator
    items: int = 0  # what the digest holds
    carried: int = 0  # of those, published before its period (late items, or a period never sent)


def dry_run(
    engine: Engine, stored: StoredDigest | None, rendered: RenderedDigest, carried: int = 0
) -> DryRun:
    """`stored` is the digest in the store, or None when it was composed for this dry run only;
    `carried`: how many of its items are late (compose.period_contents)."""
    digest_id = stored.id if stored is not None else None
    complete = stored is not None and stored.status == "sent"

    def recipients() -> Iterator:
        if complete:
            return
        with engine.connect() as connection:
            yield from deliveries.owed(connection, rendered.cadence, digest_id)

    return DryRun(rendered.subject, stored is not None, recipients(), rendered.item_count, carried)
