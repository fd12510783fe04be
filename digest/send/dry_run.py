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


def dry_run(engine: Engine, stored: StoredDigest | None, rendered: RenderedDigest) -> DryRun:
    """`stored` is the digest in the store, or None when it was composed for this dry run only."""
    digest_id = stored.id if stored is not None else None
    complete = stored is not None and stored.status == "sent"

    def recipients() -> Iterator:
        if complete:
            return
        with engine.connect() as connection:
            yield from deliveries.owed(connection, rendered.cadence, digest_id)

    return DryRun(rendered.subject, stored is not None, recipients())
