"""Composing a digest, the one orchestrator of a build: period -> items -> rendered digest.

The stages in order, like Pelican's `run`: read the period's items from the store, render them once
(digest/render/, pure), and keep the result in the store when it is to be sent. Callers hand what
this returns to the next stage (digest.send, the build files, the preview); no stage below reaches
back up here.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError

from digest.config import Settings
from digest.errors import EmptyPeriodError
from digest.mail import sample_message
from digest.models import Item, RenderedDigest, StoredDigest
from digest.periods import Period, period_of
from digest.render import render_digest
from digest.store.digests import get_digest, save_digest
from digest.store.items import items_between, published_times


def period_items(engine: Engine, period: Period) -> list[Item]:
    """The period's items, newest first."""
    with engine.connect() as connection:
        return list(items_between(connection, period.start, period.end))


def render_period(
    settings: Settings, engine: Engine, cadence: str, period: Period, now: datetime
) -> RenderedDigest:
    """Render the digest of `period`; an empty period is an error, never an empty mail."""
    if period.cadence != cadence:
        raise ValueError(f"period {period.key} is {period.cadence}, not {cadence}")
    items = period_items(engine, period)
    if not items:
        raise EmptyPeriodError(f"no items in {cadence} {period.key}")
    return render_digest(settings, period, items, now)


def stored_digest(
    settings: Settings, engine: Engine, cadence: str, period: Period, now: datetime
) -> StoredDigest:
    """The digest a send delivers: the stored one, else rendered now and stored. Two runs racing to
    store the same period both end up with the first one saved."""
    stored = _load(engine, cadence, period)
    if stored is not None:
        return stored
    rendered = render_period(settings, engine, cadence, period, now)
    try:
        with engine.begin() as connection:
            save_digest(connection, rendered, now)
    except IntegrityError:
        pass  # another run stored it first: use theirs
    stored = _load(engine, cadence, period)
    assert stored is not None
    return stored


def current_digest(
    settings: Settings, engine: Engine, cadence: str, period: Period, now: datetime
) -> tuple[StoredDigest | None, RenderedDigest]:
    """(the stored digest or None, the digest as it would go) without storing anything: for a dry
    run and test copies."""
    stored = _load(engine, cadence, period)
    if stored is not None:
        return stored, stored.rendered
    return None, render_period(settings, engine, cadence, period, now)


def _load(engine: Engine, cadence: str, period: Period) -> StoredDigest | None:
    with engine.connect() as connection:
        row = get_digest(connection, cadence, period.key)
    if row is None:
        return None
    rendered = RenderedDigest(row.cadence, row.period, row.subject, "", row.html, row.text, row.item_count)
    return StoredDigest(row.id, row.status, rendered)


def latest_period_with_items(settings: Settings, engine: Engine, cadence: str) -> Period | None:
    """The newest period of `cadence` that holds an item, or None when the store is empty."""
    with engine.connect() as connection:
        times = published_times(connection)
    return period_of(max(times), cadence, settings.timezone) if times else None


def choose_period(settings: Settings, engine: Engine, cadence: str, period: Period | None) -> Period:
    """`period`, or the latest one that has items."""
    if period is not None:
        return period
    period = latest_period_with_items(settings, engine, cadence)
    if period is None:
        raise EmptyPeriodError("no items in the store yet (run `digest ingest` first)")
    return period


def build_files(
    settings: Settings, engine: Engine, cadence: str, period: Period | None, out_dir: Path, now: datetime
) -> list[Path]:
    """Render one digest (default: the latest period with items) and write DIR/<cadence>-<period>
    .html, .txt and .eml; return the paths."""
    period = choose_period(settings, engine, cadence, period)
    rendered = render_period(settings, engine, cadence, period, now)
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = out_dir / f"{cadence}-{period.key}"
    contents = {
        ".html": rendered.html.encode(),
        ".txt": rendered.text.encode(),
        ".eml": sample_message(settings, rendered, now).data,
    }
    paths = []
    for suffix, data in contents.items():
        path = stem.with_suffix(suffix)
        partial = path.with_name(path.name + ".part")
        partial.write_bytes(data)
        partial.replace(path)
        paths.append(path)
    return paths
