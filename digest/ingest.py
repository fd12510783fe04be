"""Ingest: read each source whole, then store it in one transaction."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import Engine

from digest.errors import SourceError
from digest.sources import read_source
from digest.store.items import UpsertCounts, upsert_items


@dataclass
class SourceResult:
    source: str
    counts: UpsertCounts | None = None
    error: SourceError | None = None


def ingest_source(engine: Engine, source: str, tz: ZoneInfo, now: datetime) -> UpsertCounts:
    """Parse first, store second: a source that fails to parse leaves nothing behind."""
    found = read_source(source, tz)
    with engine.begin() as connection:
        return upsert_items(connection, found, now)


def ingest_all(engine: Engine, sources: Iterable[str], tz: ZoneInfo, now: datetime) -> list[SourceResult]:
    """Every source is tried; one bad source does not stop the good ones."""
    results = []
    for source in sources:
        try:
            results.append(SourceResult(source, counts=ingest_source(engine, source, tz, now)))
        except SourceError as exc:
            results.append(SourceResult(source, error=exc))
    return results
