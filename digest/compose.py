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
from digest.mail import personal_bodies, sample_message
from digest.models import RenderedDigest, StoredDigest
from digest.periods import Period, last_complete, period_of
from digest.render import render_digest
from digest.store.contents import Contents, digest_contents
from digest.store.digests import get_digest, save_digest
from digest.store.items import published_times


def period_contents(settings: Settings, engine: Engine, period: Period) -> Contents:
    """What the digest of `period` holds (store/contents.py has the rule for late items)."""
    with engine.connect() as connection:
        return digest_contents(connection, period, settings.timezone)


def render_period(
    settings: Settings, engine: Engine, cadence: str, period: Period, now: datetime
) -> RenderedDigest:
    """Render the digest of `period`; an empty period is an error, never an empty mail."""
    if period.cadence != cadence:
        raise ValueError(f"period {period.key} is {period.cadence}, not {cadence}")
    contents = period_contents(settings, engine, period)
    if not contents.items:
        raise no_items_error(settings, engine, period, now)
    return render_digest(settings, period, contents.items, now)


def no_items_error(settings: Settings, engine: Engine, period: Period, now: datetime) -> EmptyPeriodError:
    """'no items in weekly 2026-W48', with the period that does have items and how to get it."""
    cadence = period.cadence
    latest = latest_period_with_items(settings, engine, cadence)
    if latest is None:
        hint = "the store holds no items yet (run `digest ingest` first)"
    elif latest.end > now:
        hint = (
            f"the latest {cadence} period with items is {latest.key}, still in progress "
            f"(--period {latest.key} --unfinished)"
        )
    else:
        hint = f"the latest {cadence} period with items is {latest.key} (--period {latest.key})"
    return EmptyPeriodError(f"no items in {cadence} {period.key}; {hint}")


def in_progress_note(settings: Settings, period: Period, now: datetime) -> str | None:
    """Said when `build` shows a period that has not ended: it is not what `send` sends by default."""
    if period.end <= now:
        return None
    done = last_complete(period.cadence, now, settings.timezone)
    return (
        f"note: {period.cadence} {period.key} is still in progress; `digest send` sends the last "
        f"complete period, {done.key}, unless given --unfinished"
    )


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
    sample = sample_message(settings, rendered, now)
    # The sample links (unsubscribe, preferences) act on no one, in the files as in the .eml.
    text, page = personal_bodies(rendered, sample.message.unsubscribe_url)
    contents = {".html": page.encode(), ".txt": text.encode(), ".eml": sample.data}
    paths = []
    for suffix, data in contents.items():
        path = stem.with_suffix(suffix)
        partial = path.with_name(path.name + ".part")
        partial.write_bytes(data)
        partial.replace(path)
        paths.append(path)
    return paths
