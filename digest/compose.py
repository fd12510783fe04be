"""Composing a digest, the one orchestrator of a build: period (+ edition) -> items -> rendered digest.

The stages in order, like Pelican's `run`: read the period's edition and its items from the store
(digest/review.py: the organizer's exclusions, pins, intro and subject applied), render them once
(digest/render/, pure), and keep the result in the store when it is to be sent. Callers hand what
this returns to the next stage (digest.send, the build files, the preview); no stage below reaches
back up here.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError

from digest import review
from digest.config import Settings
from digest.editions import check_sendable, chosen
from digest.errors import DigestError, EmptyPeriodError
from digest.letters import sample_message
from digest.mail import personal_bodies
from digest.models import RenderedDigest, StoredDigest
from digest.periods import Period, last_complete, period_of
from digest.render import render_digest, render_languages
from digest.review import EditionChanged, EditionView, show, start_sending
from digest.store.contents import Contents, digest_contents
from digest.store.digests import get_digest, save_digest
from digest.store.editions import approved_copy
from digest.store.items import published_times
from digest.store.subscribers import active_locales


def period_contents(settings: Settings, engine: Engine, period: Period) -> Contents:
    """What the digest of `period` holds (store/contents.py has the rule for late items)."""
    with engine.connect() as connection:
        return digest_contents(connection, period, settings.timezone)


def render_period(
    settings: Settings, engine: Engine, cadence: str, period: Period, now: datetime
) -> RenderedDigest:
    """Render the digest of `period` as its edition says; an empty one is an error, never a mail."""
    if period.cadence != cadence:
        raise ValueError(f"period {period.key} is {period.cadence}, not {cadence}")
    return _as_it_goes(settings, engine, _edition(settings, engine, period, now), period, now)


def _edition(settings: Settings, engine: Engine, period: Period, now: datetime) -> EditionView:
    """The period's edition; one with no items at all is an error naming the period that has some."""
    view = show(settings, engine, period)
    if not view.entries:
        raise no_items_error(settings, engine, period, now)
    return view


def _as_it_goes(
    settings: Settings, engine: Engine, view: EditionView, period: Period, now: datetime
) -> RenderedDigest:
    """An approved edition goes exactly as it was approved (rendered then); any other as it is now."""
    if view.edition.state == "approved":
        with engine.connect() as connection:
            approved = approved_copy(connection, period.cadence, period.key)
        if approved is not None:
            return approved
    return render_edition(settings, view, period, now)


def act(
    settings: Settings, engine: Engine, period: Period, action: str, value: str, now: datetime
) -> EditionView:
    """An organizer's action on the edition of `period` (digest/review.py), approving it as it
    renders now."""
    return review.act(
        settings, engine, period, action, value, now, lambda view: render_edition(settings, view, period, now)
    )


def render_edition(settings: Settings, view: EditionView, period: Period, now: datetime) -> RenderedDigest:
    """The edition's chosen items, in its order, with its intro and subject."""
    items = chosen(view.entries)
    if not items:
        left_out = " (every item is excluded from its edition)" if view.entries else ""
        raise EmptyPeriodError(f"no items in {period.cadence} {period.key}{left_out}")
    return render_digest(settings, period, items, now, view.edition)


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
    """The digest a send delivers: the stored one, else its edition rendered now and stored, and
    the edition then `sending` (its list frozen). A held edition raises EditionHeld; one edited
    while it rendered is rendered again. Two runs racing to store the same period both end up with
    the first one saved."""
    for _ in range(3):
        stored = _load(engine, cadence, period)
        if stored is not None:
            return stored
        view = _edition(settings, engine, period, now)
        check_sendable(view.edition)
        rendered = _as_it_goes(settings, engine, view, period, now)
        if not rendered.item_ids:  # an approved copy: it holds the edition's chosen items
            rendered = replace(rendered, item_ids=tuple(item.id for item in chosen(view.entries)))
        try:
            with engine.begin() as connection:
                if get_digest(connection, cadence, period.key) is None:
                    start_sending(connection, settings, view, period, now)
                    save_digest(connection, rendered, now)
        except EditionChanged:
            continue  # edited while it rendered: render the edition as it is now
        except IntegrityError:
            pass  # another run stored it first: use theirs
        stored = _load(engine, cadence, period)
        if stored is not None:
            return stored
    raise DigestError(f"{cadence} {period.key} keeps changing while it renders; try again")


def renderings(
    settings: Settings, engine: Engine, digest: StoredDigest, period: Period, now: datetime
) -> dict[str, RenderedDigest]:
    """The digest in every other language its cadence's readers speak, rendered once per language
    (never per reader) from its edition's items (frozen once sending), intro and subject; the
    stored digest is DIGEST_LOCALE's."""
    with engine.connect() as connection:
        wanted = active_locales(connection, digest.rendered.cadence)
    others = sorted(lang for lang in wanted if lang and lang != settings.locale)
    if not others:
        return {}
    view = show(settings, engine, period)
    items = chosen(view.entries)
    if not items:
        return {}
    return render_languages(settings, period, items, now, others, view.edition)


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
