"""Ingest: read each file or URL whole, then store it in one transaction.

A folder is read file by file: one bad file is reported and the others are stored.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import Engine

from digest.errors import SourceError
from digest.sources import read_unit, units_of
from digest.sources.fetch import FetchPolicy
from digest.store.items import UpsertCounts, upsert_items


@dataclass
class SourceResult:
    source: str
    counts: UpsertCounts | None = None  # summed over the units stored; None when none was
    errors: list[SourceError] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)  # "UNIT: what was forgiven", one line each

    @property
    def error(self) -> SourceError | None:
        return self.errors[-1] if self.errors else None

    def add(self, counts: UpsertCounts) -> None:
        total = self.counts or UpsertCounts()
        self.counts = UpsertCounts(
            total.new + counts.new, total.updated + counts.updated, total.unchanged + counts.unchanged
        )


def store_unit(engine: Engine, unit: str, tz: ZoneInfo, now: datetime, policy: FetchPolicy | None = None):
    """Parse first, store second: a unit that fails to parse leaves nothing behind."""
    found = read_unit(unit, tz, policy)
    with engine.begin() as connection:
        return upsert_items(connection, found.items, now), found.warnings


def ingest_source(
    engine: Engine, source: str, tz: ZoneInfo, now: datetime, policy: FetchPolicy | None = None
) -> SourceResult:
    """Every unit of one source (a folder's files) is tried; one bad file does not stop the others."""
    result = SourceResult(source)
    try:
        units = units_of(source)
    except SourceError as exc:
        result.errors.append(exc)
        return result
    for unit in units:
        try:
            counts, warnings = store_unit(engine, unit, tz, now, policy)
        except SourceError as exc:
            result.errors.append(exc)
            continue
        result.add(counts)
        result.warnings += [f"{unit}: {warning}" for warning in warnings]
    return result


def ingest_all(
    engine: Engine, sources: Iterable[str], tz: ZoneInfo, now: datetime, policy: FetchPolicy | None = None
) -> list[SourceResult]:
    """Every source is tried; one bad source does not stop the good ones."""
    return [ingest_source(engine, source, tz, now, policy) for source in sources]
